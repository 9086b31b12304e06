"""Health for whatever runs Keel: /healthz (the process answers) and /readyz (it can do
its work: the database answers and the job queue can be read). No sign-in, no session,
nothing about the business in the answer; a load balancer or an orchestrator polls them.
"""

import logging

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django_tasks_db.models import DBTaskResult

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving requests; touches nothing else."""
    return JsonResponse({"status": "ok"})


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _queue() -> str:
    waiting = DBTaskResult.objects.ready().count()
    return f"ok, {waiting} job{'s' if waiting != 1 else ''} waiting"


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the job queue answer; 503 naming what does not."""
    checks: dict[str, str] = {}
    ready = True
    for name, check in (("database", _database), ("queue", _queue)):
        try:
            checks[name] = check()
        except DatabaseError as error:
            logger.warning("readyz: the %s does not answer: %s", name, error)
            checks[name] = "unreachable"
            ready = False
    status = 200 if ready else 503
    return JsonResponse({"status": "ok" if ready else "unavailable", **checks}, status=status)
