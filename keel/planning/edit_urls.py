"""Writing the Big Picture and the plans on the web (edit_views.py)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
