"""Who is calling: a personal token (Authorization: Bearer …) or the browser's session.

A token acts as its user within its scope: a read-scoped token is refused (403) on any
method that writes. The session serves the interactive docs for a signed-in user; being a
cookie, it needs the CSRF token on every write. A bad or revoked token, or an inactive
user, is 401, even when a session cookie comes along.
"""

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import AuthenticationError
from ninja.security import APIKeyCookie, HttpBearer

from keel.accounts.models import ApiToken, User
from keel.accounts.services import token_authenticate
from keel.core.exceptions import NotAllowed

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User:
        found = token_authenticate(secret=token)
        if found is None:
            # Refuse here rather than fall through to the session: a caller who sent a
            # token meant that token.
            raise AuthenticationError
        if request.method not in SAFE_METHODS and not found.can_write:
            raise NotAllowed(
                f"The token {found.prefix}… may only read; use a read-write token to change "
                "anything."
            )
        request.api_token = found  # type: ignore[attr-defined]
        return found.user


class SessionAuth(APIKeyCookie):
    """Django's session, with the CSRF check of a form post on every unsafe method."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        if not request.user.is_authenticated:
            return None  # no session: 401, not a CSRF complaint
        return super()._get_key(request)  # checks CSRF for unsafe methods

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = request.user
        if isinstance(user, User) and user.is_active:
            return user
        return None


def actor(request: HttpRequest) -> User:
    """The user the request acts as; every operation is behind one of the auths above."""
    user = getattr(request, "auth", None)
    if not isinstance(user, User):
        raise AuthenticationError
    return user


def request_token(request: HttpRequest) -> ApiToken | None:
    """The token the request came with, if it came with one (not a session)."""
    token = getattr(request, "api_token", None)
    return token if isinstance(token, ApiToken) else None
