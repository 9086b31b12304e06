"""The buyer's share links: no sign-in, one piece each.

Every answer here says "not available" the same way for an unknown, a revoked and an
expired token (sharing.LinkGone); none is cached or indexed, and none sends a Referer on.
"""

from collections.abc import Callable
from functools import wraps

from csp.constants import SELF
from csp.decorators import csp_replace
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from keel.collateral.sharing import LinkGone, share_link_valid, share_view_close, share_view_open

# Shown in place (an <img>, <video> or embedded PDF); anything else is a download. SVG is
# left out on purpose: it can carry script.
INLINE_TYPES = frozenset(
    {
        "application/pdf",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "video/mp4",
        "video/webm",
    }
)
BEACON_BODY_MAX = 16  # bytes: a whole number of seconds

View = Callable[..., HttpResponseBase]


def _private(view: View) -> View:
    """No search engine, no cache, no Referer for the buyer's pages."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        response["X-Robots-Tag"] = "noindex, nofollow"
        response["Referrer-Policy"] = "no-referrer"
        response["Cache-Control"] = "private, no-store"
        return response

    return wrapped


def _gone(request: HttpRequest) -> HttpResponse:
    return render(request, "collateral/share_gone.html", status=404)


@_private
# The PDF's <object>; only this page has one. (django-csp types its decorators for views
# that take the request alone: hence the ignores.)
@csp_replace({"object-src": [SELF]})  # type: ignore[arg-type]
@require_GET
def share_open(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link, view = share_view_open(token=token, now=timezone.now())
    except LinkGone:
        return _gone(request)
    use = link.use
    version = use.version
    kind = ""
    if version is not None:
        content_type = version.content_type
        if content_type in INLINE_TYPES:
            kind = content_type.split("/")[0] if content_type != "application/pdf" else "pdf"
        else:
            kind = "download"
    context = {
        "piece": use.collateral,
        "version": version,
        "show": kind,
        "file_url": reverse("share:file", args=[token]),
        "beacon_url": reverse("share:seen", args=[token, view.beacon]),
    }
    return render(request, "collateral/share_page.html", context)


@_private
@xframe_options_sameorigin  # the share page embeds a PDF from here
@csp_replace({"frame-ancestors": [SELF]})  # type: ignore[arg-type] # CSP's word on the same
@require_GET
def share_file(request: HttpRequest, token: str) -> HttpResponseBase:
    try:
        link = share_link_valid(token=token, now=timezone.now())
    except LinkGone:
        return _gone(request)
    version = link.use.version
    if version is None:
        return _gone(request)
    inline = version.content_type in INLINE_TYPES
    response = FileResponse(
        version.file.open("rb"),
        as_attachment=not inline,
        filename=version.name,
        content_type=version.content_type if inline else "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


# csrf_exempt: the browser's beacon, sent as the buyer leaves the page, carries no CSRF
# token and no session. It can only set a view's seconds once, within bounds (sharing.py).
@_private
@csrf_exempt
@require_POST
def share_seen(request: HttpRequest, token: str, beacon: str) -> HttpResponse:
    body = request.body[: BEACON_BODY_MAX + 1]
    text = body.decode("ascii", "replace").strip()
    if len(body) > BEACON_BODY_MAX or not text.isdigit():
        return HttpResponse(status=400)
    # The same answer whether or not the beacon matched a view: nothing to probe.
    share_view_close(beacon=beacon, seconds=int(text), token=token, now=timezone.now())
    return HttpResponse(status=204)
