"""URLs of the collateral library (filled in as its pages are built)."""

from django.urls import URLPattern, URLResolver

app_name = "share"
urlpatterns: list[URLPattern | URLResolver] = []
