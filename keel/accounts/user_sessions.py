"""A person's signed-in sessions: noted at sign-in, listed, and ended by that person.

Each sign-in writes a UserSession row keyed by the Django session's key; the
SessionActivityMiddleware notes the last request at most once a minute, follows the key
when Django changes it (a password change keeps the session under a new key) and adopts a
session signed in before this was tracked. Only sessions that would still let their
browser in are listed: Django ends the others by itself (expiry, a changed password).
"""

import ipaddress
import re
import time
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.models import Session
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from keel.accounts.models import User, UserSession
from keel.core.exceptions import NotAllowed

TRACKED_KEY = "keel_session"  # in the session: {"key": its key when noted, "seen": epoch}
SEEN_PRECISION_SECONDS = 60  # last_seen_at is a hint: one write a minute at most
LIST_LIMIT = 100
USER_AGENT_LENGTH = 300


def _store(session_key: str | None = None) -> SessionBase:
    engine = import_module(settings.SESSION_ENGINE)
    store: SessionBase = engine.SessionStore(session_key)
    return store


def _address(request: HttpRequest) -> str | None:
    # The client's, behind a trusted proxy too (keel.core.client_address).
    raw = request.META.get("REMOTE_ADDR", "")
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


def _user_agent(request: HttpRequest) -> str:
    return str(request.META.get("HTTP_USER_AGENT", ""))[:USER_AGENT_LENGTH]


def _mark(request: HttpRequest) -> None:
    request.session[TRACKED_KEY] = {"key": request.session.session_key, "seen": time.time()}


def session_signed_in(*, request: HttpRequest, user: User) -> UserSession | None:
    """Note the session `user` just signed in with (the user_logged_in signal)."""
    session = request.session
    if session.session_key is None:
        session.save()  # a new session gets its key when first saved
    key = session.session_key
    if key is None:
        return None
    row, _ = UserSession.objects.update_or_create(
        session_key=key,
        defaults={
            "user": user,
            "ip": _address(request),
            "user_agent": _user_agent(request),
            "last_seen_at": timezone.now(),
        },
    )
    _mark(request)
    return row


def session_seen(*, request: HttpRequest, user: User) -> None:
    """Keep the row of this signed-in session current: its key, address and last request.

    Cheap on most requests: it writes only when the key changed or a minute has passed.
    """
    session = request.session
    key = session.session_key
    if key is None:
        return
    tracked = session.get(TRACKED_KEY)
    previous = tracked.get("key") if isinstance(tracked, dict) else None
    seen = float(tracked.get("seen", 0)) if isinstance(tracked, dict) else 0.0
    if previous == key and time.time() - seen < SEEN_PRECISION_SECONDS:
        return
    now = timezone.now()
    fields = {"ip": _address(request), "last_seen_at": now}
    if previous and previous != key:
        # Django gave the session a new key (a password change, a second sign-in).
        moved = UserSession.objects.filter(session_key=previous, user=user).update(
            session_key=key, **fields
        )
        if moved:
            _mark(request)
            return
    updated = UserSession.objects.filter(session_key=key, user=user).update(**fields)
    if not updated:  # signed in before sessions were noted, or its row was lost
        UserSession.objects.update_or_create(
            session_key=key,
            defaults={"user": user, "user_agent": _user_agent(request), **fields},
        )
    _mark(request)


def session_signed_out(*, session_key: str | None) -> None:
    """Forget a session that signed out (the user_logged_out signal)."""
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()


def _still_signs_in(user: User, data: dict[str, Any]) -> bool:
    """Whether a session holding `data` would still let its browser in as `user`.

    The same test Django makes on each request: the same user, and a hash of the password
    that is still current (a password change ends every other session).
    """
    if str(data.get(SESSION_KEY)) != str(user.pk) or BACKEND_SESSION_KEY not in data:
        return False
    session_hash = str(data.get(HASH_SESSION_KEY, ""))
    return constant_time_compare(session_hash, user.get_session_auth_hash()) or any(
        constant_time_compare(session_hash, fallback)
        for fallback in user.get_session_auth_fallback_hash()
    )


# The parts of a user agent every browser sends alike, which tell a person nothing.
_UA_NOISE = re.compile(r"Mozilla/5\.0 |AppleWebKit/\S+ ?|\(KHTML, like Gecko\) ?|Gecko/\S+ ?")
_UA_NAMED = re.compile(r"\b(Chrome|Firefox|Edg|OPR|CriOS|FxiOS)/")


def user_agent_short(user_agent: str) -> str:
    """The user agent without its boilerplate: "(X11; Linux x86_64) Chrome/131.0.0.0"."""
    short = _UA_NOISE.sub("", user_agent)
    if _UA_NAMED.search(short):
        short = re.sub(r" ?Safari/\S+", "", short)  # Chrome and the like also say Safari
    return short.strip()


@dataclass(frozen=True)
class SessionLine:
    session: UserSession
    current: bool

    @property
    def browser(self) -> str:
        return user_agent_short(self.session.user_agent)


def sessions_for(*, user: User, current_key: str | None) -> list[SessionLine]:
    """`user`'s sessions that still sign in, the current one first; the dead are cleared."""
    rows = list(UserSession.objects.filter(user=user).order_by("-last_seen_at", "-id")[:LIST_LIMIT])
    live = {
        s.session_key: s
        for s in Session.objects.filter(
            session_key__in=[r.session_key for r in rows], expire_date__gt=timezone.now()
        )
    }
    lines: list[SessionLine] = []
    dead: list[UserSession] = []
    for row in rows:
        stored = live.get(row.session_key)
        if stored is not None and _still_signs_in(user, stored.get_decoded()):
            lines.append(SessionLine(session=row, current=row.session_key == current_key))
        else:
            dead.append(row)
    if dead:
        _end([row.session_key for row in dead])
    lines.sort(key=lambda line: not line.current)  # stable: the rest stay latest first
    return lines


def _end(keys: list[str]) -> None:
    for key in keys:
        _store(key).delete()
    UserSession.objects.filter(session_key__in=keys).delete()


@transaction.atomic
def session_end(*, session: UserSession, by: User) -> None:
    """Sign out one of `by`'s own sessions: its browser is signed out at its next request."""
    if session.user_id != by.pk:
        raise NotAllowed(f"{by} may sign out only their own sessions.")
    _end([session.session_key])


@transaction.atomic
def sessions_end_others(*, user: User, current_key: str | None) -> int:
    """Sign out every session of `user` but the current one; how many were signed out."""
    keys = list(
        UserSession.objects.filter(user=user)
        .exclude(session_key=current_key or "")
        .values_list("session_key", flat=True)
    )
    _end(keys)
    return len(keys)
