"""Prometheus metrics at /metrics: request latency by view (django-prometheus's
middleware), and the job queue read from the database at each scrape.

The queue's figures come from the database, not from a worker's memory, so they are the
same whichever app process answers and however many workers run on however many hosts.
Under gunicorn every worker writes its request metrics to KEEL_METRICS_DIR
(prometheus_client's multiprocess mode, set up by `keel serve --production`) and a scrape
adds them up.

A scrape needs `Authorization: Bearer <KEEL_METRICS_TOKEN>`; without a token set, /metrics
answers only in development.
"""

import hmac
import os
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector


class JobQueueCollector(Collector):
    """The background jobs by state, and how long the oldest waiting one has waited."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        readable = "Whether the job queue could be read (1) or not (0)."
        try:
            counts = dict(
                DBTaskResult.objects.values_list("status").annotate(n=Count("id")).order_by()
            )
            oldest = DBTaskResult.objects.filter(status=TaskResultStatus.READY).aggregate(
                at=Min("enqueued_at")
            )["at"]
        except DatabaseError:  # the request metrics still go out; this says why these don't
            yield GaugeMetricFamily("keel_jobs_readable", readable, value=0)
            return
        yield GaugeMetricFamily("keel_jobs_readable", readable, value=1)
        jobs = GaugeMetricFamily(
            "keel_jobs", "Background jobs recorded in the queue, by state.", labels=["state"]
        )
        for status in TaskResultStatus:
            jobs.add_metric([status.value.lower()], counts.get(status.value, 0))
        yield jobs
        yield GaugeMetricFamily(
            "keel_jobs_failed",
            "Background jobs that failed (retried ones count once they fail for good).",
            value=counts.get(TaskResultStatus.FAILED.value, 0),
        )
        yield GaugeMetricFamily(
            "keel_jobs_oldest_ready_seconds",
            "How long the oldest job still waiting for a worker has waited (0: none waits).",
            value=(timezone.now() - oldest).total_seconds() if oldest else 0.0,
        )


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def _allowed(request: HttpRequest) -> bool:
    token = settings.KEEL_METRICS_TOKEN
    if not token:
        return settings.DEBUG
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme == "Bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        raise Http404  # says nothing about whether there is anything here
    body = generate_latest(_registry())
    queue = CollectorRegistry(auto_describe=False)
    queue.register(JobQueueCollector())
    body += generate_latest(queue)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
