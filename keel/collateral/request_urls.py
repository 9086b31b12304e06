"""URLs of the collateral library (filled in as its pages are built)."""

from django.urls import URLPattern, URLResolver

app_name = "collateral_requests"
urlpatterns: list[URLPattern | URLResolver] = []
