"""A database that cannot be used answers 503 with a message, not a 500 with a traceback.

When PostgreSQL is down or restarting, or the SQLite file is read-only or its disk full,
every request that touches the database fails the same way. The person (or the API
client) is told what happened and that nothing was saved, with `Retry-After` where
waiting helps; the error is still logged with its traceback, as any failed request is.
Nothing half-written is left: each write runs in one transaction, which the database
rolls back (or never commits) when it fails.

Two entry points share the answer: the middleware catches what a view raises (a page, an
API operation: django-ninja hands on what it does not handle itself); `server_error`,
Keel's handler500, catches what is raised elsewhere in the request, such as saving the
session after the view.
"""

import logging
import sys
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views.defaults import server_error as django_server_error

from keel.core import request_id

READ_ONLY = "The database is read-only: nothing was saved. Tell whoever runs Keel."
FULL = "The database's disk is full: nothing was saved. Tell whoever runs Keel."
CANNOT_OPEN = (
    "The database file cannot be opened (its folder read-only, or the file missing): "
    "nothing was saved. Tell whoever runs Keel."
)
BUSY = "The database is busy: nothing was saved. Try again in a moment."
UNAVAILABLE = "The database is unavailable: nothing was saved. Try again in a moment."
RETRY_AFTER_SECONDS = 5

logger = logging.getLogger(__name__)


def database_problem(error: BaseException) -> str | None:
    """What a person should be told about `error`, or None when it is not the database
    being unusable (a bug, a constraint, a bad query: those stay 500s)."""
    if not isinstance(error, OperationalError | InterfaceError):
        return None
    cause = error.__cause__
    # SQLite names its error (Python 3.11+); PostgreSQL gives a SQLSTATE: disk full is
    # 53100 (psycopg's DiskFull), a read-only standby or transaction 25006.
    name = str(getattr(cause, "sqlite_errorname", ""))
    sqlstate = getattr(cause, "sqlstate", None)
    text = str(error).lower()
    if name.startswith("SQLITE_READONLY") or "readonly database" in text or sqlstate == "25006":
        return READ_ONLY
    # A WAL database on a full disk cannot grow its shared-memory file: SHMSIZE.
    if name in ("SQLITE_FULL", "SQLITE_IOERR_SHMSIZE") or sqlstate == "53100":
        return FULL
    if "disk is full" in text or "no space left" in text:
        return FULL
    if name.startswith("SQLITE_CANTOPEN"):  # in WAL mode, also a read-only folder
        return CANNOT_OPEN
    if name.startswith("SQLITE_BUSY") or "database is locked" in text:
        return BUSY
    return UNAVAILABLE


def unavailable_response(request: HttpRequest, message: str) -> HttpResponse:
    """503: JSON for the API, a page that needs neither the database nor a session else."""
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=503)
    else:
        context = {"message": message, "request_id": request_id.current.get()}
        response = HttpResponse(render_to_string("core/unavailable.html", context), status=503)
    if message in (UNAVAILABLE, BUSY):
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseErrorMiddleware:
    """A view's database failure as a 503 (see the module's docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        message = database_problem(exception)
        if message is None:
            return None
        logger.error("%s: %s", request.path, message, exc_info=exception)
        response = unavailable_response(request, message)
        response._has_been_logged = True  # type: ignore[attr-defined]  # Django's log_response
        return response


def server_error(request: HttpRequest) -> HttpResponse:
    """Keel's handler500: a 503 when the database is what failed, Django's 500 page else."""
    error = sys.exc_info()[1]
    message = database_problem(error) if error is not None else None
    if message is not None:
        return unavailable_response(request, message)
    return django_server_error(request)
