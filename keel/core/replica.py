"""Reports may read from a PostgreSQL read replica (KEEL_DATABASE_REPLICA_URL).

Only views marked `@reads_from_replica` read there, and only while they run: a replica
lags its primary by a moment, which a month's scorecard does not notice but a form that
was just saved would. Every write goes to the primary, whatever the view.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.db.models import Model
from django.http import HttpRequest
from django.http.response import HttpResponseBase

REPLICA = "replica"
P = ParamSpec("P")
R = TypeVar("R", bound=HttpResponseBase)
_reports: ContextVar[bool] = ContextVar("keel_reads_from_replica", default=False)


@contextmanager
def replica_reads() -> Iterator[None]:
    """Inside this block, reads go to the replica when one is configured."""
    token = _reports.set(True)
    try:
        yield
    finally:
        _reports.reset(token)


def reads_from_replica(view: Callable[P, R]) -> Callable[P, R]:
    """A report view: its GET requests read from the replica; other methods never do."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        request = args[0]
        if isinstance(request, HttpRequest) and request.method in ("GET", "HEAD"):
            with replica_reads():
                return view(*args, **kwargs)
        return view(*args, **kwargs)

    return wrapper


class ReplicaRouter:
    """Reads inside `replica_reads()` go to the replica; everything else to the primary."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        if _reports.get() and REPLICA in settings.DATABASES:
            return REPLICA
        return None

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        return "default"

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        return True  # the same rows, whichever copy they were read from

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db != REPLICA  # the replica follows the primary's schema by replication
