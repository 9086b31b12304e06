from django.urls import path

from keel.accounts import views

app_name = "accounts"
urlpatterns = [
    path("tokens/", views.token_list, name="token_list"),
    path("tokens/<int:pk>/revoke/", views.token_revoke_view, name="token_revoke"),
    path("time-zone/", views.time_zone_edit, name="time_zone"),
]
