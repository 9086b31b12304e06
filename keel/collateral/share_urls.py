"""The buyer's share links, at /s/: no sign-in (share_views.py)."""

from django.urls import URLPattern, URLResolver, re_path

from keel.collateral import share_views

app_name = "share"
TOKEN = r"(?P<token>[A-Za-z0-9_-]{1,64})"  # noqa: S105 - a URL pattern, not a secret
urlpatterns: list[URLPattern | URLResolver] = [
    re_path(rf"^{TOKEN}/$", share_views.share_open, name="open"),
    re_path(rf"^{TOKEN}/file/$", share_views.share_file, name="file"),
    re_path(
        rf"^{TOKEN}/seen/(?P<beacon>[A-Za-z0-9_-]{{1,64}})/$", share_views.share_seen, name="seen"
    ),
]
