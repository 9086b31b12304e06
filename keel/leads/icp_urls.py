"""The ideal customer profile's pages (icp_views.py), under /leads/icp/."""

from django.urls import URLPattern, URLResolver, path

from keel.leads import icp_views as views

app_name = "icp"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.icp_detail, name="detail"),
    path("edit/", views.icp_edit, name="edit"),
]
