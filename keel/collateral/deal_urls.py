"""Collateral actions on a deal, mounted at deals/<deal_pk>/collateral/ (deal_views.py)."""

from django.urls import URLPattern, URLResolver, path

from keel.collateral import deal_views

app_name = "collateral_deal"
urlpatterns: list[URLPattern | URLResolver] = [
    path("send/", deal_views.send, name="send"),
    path("links/<int:link_pk>/revoke/", deal_views.revoke, name="revoke"),
]
