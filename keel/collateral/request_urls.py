"""The collateral requests: sales asks for a tool, the library's keepers triage."""

from django.urls import path

from keel.collateral import request_views as views

app_name = "collateral_requests"
urlpatterns = [
    path("", views.request_list, name="list"),
    path("new/", views.request_new, name="new"),
    path("<int:pk>/", views.request_detail, name="detail"),
]
