"""How often the API may be called: KEEL_API_RATE_LIMIT calls per window, counted apart
for each token, each signed-in session user, and each address calling without either.

Each token has its own budget, so one runaway integration does not starve its user's other
tokens (nor the user's own browser session). The counts live in Django's default cache:
with several processes or servers it must be a shared one (Redis, Memcached, the
database), or each process counts on its own. Keys hold ids and a hash, never a secret.

django-ninja keeps one throttle object per API and the call's count on it between
`allow_request` and `wait`: sound under gunicorn's sync workers (`keel serve
--production`), which serve one request at a time per process.
"""

import hashlib

from django.conf import settings
from django.http import HttpRequest
from ninja.throttling import SimpleRateThrottle

from keel.accounts.models import User
from keel.api.auth import request_token


class _SettingRateThrottle(SimpleRateThrottle):
    """A sliding-window count whose rate is read from the settings on every call."""

    def __init__(self) -> None:
        super().__init__(rate=settings.KEEL_API_RATE_LIMIT)

    def allow_request(self, request: HttpRequest) -> bool:
        # Read per call, not once at import, so a changed setting (or a test's override)
        # takes effect; the format was checked when the settings were loaded.
        self.rate = settings.KEEL_API_RATE_LIMIT
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request)

    def wait(self) -> float | None:
        """Seconds until the oldest call still counted leaves the window.

        django-ninja's own estimate gives none once more calls are counted than the rate
        allows (after the rate was lowered); this one always answers for a refused call.
        """
        if self.num_requests is None or self.duration is None:
            return None
        if len(self.history) < self.num_requests:
            return None
        oldest_counted: float = self.history[self.num_requests - 1]
        return oldest_counted + self.duration - self.now


class CallerRateThrottle(_SettingRateThrottle):
    """One budget per token (by its id), or per user for a session; anonymous calls are
    left to AddressRateThrottle."""

    def get_cache_key(self, request: HttpRequest) -> str | None:
        token = request_token(request)
        if token is not None:
            # The prefix too: a token id alone may be reused after a rolled-back insert.
            return f"keel-api-rate:token:{token.pk}:{token.prefix}"
        user = getattr(request, "auth", None)
        if isinstance(user, User):
            return f"keel-api-rate:session:{user.pk}"
        return None


class AddressRateThrottle(_SettingRateThrottle):
    """One budget per client address for operations that need no sign-in.

    REMOTE_ADDR, as the lead form's limits use it: X-Forwarded-For is whatever the caller
    wrote unless a trusted proxy rewrote it, so it cannot key a limit.
    """

    def get_cache_key(self, request: HttpRequest) -> str | None:
        if getattr(request, "auth", None) is not None:
            return None
        address = request.META.get("REMOTE_ADDR", "")
        return f"keel-api-rate:address:{hashlib.sha256(address.encode()).hexdigest()[:32]}"
