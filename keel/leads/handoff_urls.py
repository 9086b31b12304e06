"""The handoff pages (handoff_views.py)."""

from django.urls import URLPattern, URLResolver

app_name = "handoffs"
urlpatterns: list[URLPattern | URLResolver] = []
