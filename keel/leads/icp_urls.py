"""The icp pages (icp_views.py)."""

from django.urls import URLPattern, URLResolver

app_name = "icp"
urlpatterns: list[URLPattern | URLResolver] = []
