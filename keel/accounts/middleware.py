"""Per-request pieces of signing in: the second step after the password, and the list of a
person's sessions. Both go right after django_otp's OTPMiddleware (itself after Django's
AuthenticationMiddleware) and cost no query on an ordinary request."""

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from keel.accounts import two_factor
from keel.accounts.models import User
from keel.accounts.user_sessions import session_seen

# Reachable while a session still owes its second step: what needs no sign-in (health
# checks, static files, the public lead form, the buyer's share links, the metrics behind
# their own token) and the API, which answers such a session as if it were signed out, so
# that only its own tokens work there.
_OPEN_PREFIXES = ("/healthz", "/readyz", "/metrics", "/f/", "/s/")
_API_PREFIX = "/api/"


def _signed_in(request: HttpRequest) -> bool:
    """Whether the request carries a signed-in session, without reading the session of a
    request that came without one (reading it would add "Vary: Cookie" to public pages)."""
    session = getattr(request, "session", None)
    if session is None:
        return False
    if settings.SESSION_COOKIE_NAME not in request.COOKIES and not session.accessed:
        return False
    return SESSION_KEY in session


class TwoFactorMiddleware:
    """Sends a session that owes its second step to the code page (or to set up an app,
    when the owner requires one), whatever it asked for."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _signed_in(request):
            due = two_factor.session_recheck(request)
            if due is not None and request.user.is_authenticated:
                request.two_factor_due = due  # type: ignore[attr-defined] # base.html reads it
                blocked = self._blocked(request, due)
                if blocked is not None:
                    return blocked
        return self.get_response(request)

    def _blocked(self, request: HttpRequest, due: str) -> HttpResponse | None:
        path = request.path_info
        step = reverse(
            "accounts:two_factor_verify"
            if due == two_factor.VERIFY
            else "accounts:two_factor_enrol"
        )
        static = "/" + settings.STATIC_URL.lstrip("/")
        if path == step or path == reverse("logout") or path.startswith((static, *_OPEN_PREFIXES)):
            return None
        if path.startswith(_API_PREFIX):
            request.user = AnonymousUser()
            return None
        htmx = request.headers.get("HX-Request") == "true"  # HtmxMiddleware comes later
        if request.method == "GET" and not htmx:
            step += "?" + urlencode({"next": request.get_full_path()})
        if htmx:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = step  # the whole page, not a fragment of it
            return response
        return HttpResponseRedirect(step)


class SessionActivityMiddleware:
    """Keeps the row of each signed-in session current (see keel.accounts.user_sessions)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # After the view, so that a key changed by it (a password change) is followed.
        if _signed_in(request):
            user = request.user
            if isinstance(user, User) and user.is_authenticated:
                session_seen(request=request, user=user)
        return response
