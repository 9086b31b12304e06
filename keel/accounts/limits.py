"""Counts of attempts in a fixed window, kept in Django's cache (shared by every process
when the cache is the database or Redis; see CACHES in the settings).

The window starts at the first attempt and is not stretched by later ones. Each write sets
its own expiry, because not every cache backend keeps a key's expiry on `incr`. Two
attempts at the same instant may count as one: these limits slow guessing down, and the
checks behind them (django-otp's throttling, the password) stay exact.
"""

import hashlib
import math
import time
from datetime import timedelta

from django.core.cache import cache


def limit_key(kind: str, value: str) -> str:
    """A cache key for `value` (an address, a mail address) that does not store it in clear."""
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]
    return f"keel-limit:{kind}:{digest}"


def _entry(key: str, now: float) -> tuple[int, float] | None:
    entry = cache.get(key)
    if not isinstance(entry, tuple) or len(entry) != 2 or entry[1] <= now:
        return None
    return int(entry[0]), float(entry[1])


def limit_count(key: str) -> int:
    """The attempts counted under `key` in its current window."""
    entry = _entry(key, time.time())
    return entry[0] if entry is not None else 0


def limit_hit(key: str, *, window: timedelta) -> int:
    """Count one more attempt under `key`; the count including it."""
    now = time.time()
    count, until = _entry(key, now) or (0, now + window.total_seconds())
    count += 1
    cache.set(key, (count, until), timeout=max(1, math.ceil(until - now)))
    return count


def limit_clear(key: str) -> None:
    cache.delete(key)
