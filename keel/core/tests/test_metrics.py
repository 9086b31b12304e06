"""/metrics: request latency by view and the job queue, for Prometheus, behind a token."""

from typing import Any

import pytest
from django.test import Client
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from keel.hooks.tasks import delivery_send

pytestmark = pytest.mark.django_db
TOKEN = "scrape-token-" + "z" * 30


def _value(text: str, name: str) -> float:
    """The value of the sample called exactly `name` (with its labels) in a scrape."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in the scrape")


@pytest.fixture
def scraper(settings: Any) -> Client:
    settings.KEEL_METRICS_TOKEN = TOKEN
    return Client(headers={"Authorization": f"Bearer {TOKEN}"})


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Bearer ", TOKEN])
def test_metrics_are_hidden_without_the_token(settings: Any, header: str | None) -> None:
    settings.KEEL_METRICS_TOKEN = TOKEN
    headers = {"Authorization": header} if header else {}
    assert Client(headers=headers).get("/metrics").status_code == 404


def test_metrics_are_hidden_in_production_when_no_token_is_set(settings: Any) -> None:
    settings.KEEL_METRICS_TOKEN = ""
    settings.DEBUG = False
    assert Client().get("/metrics").status_code == 404


def test_request_latency_is_counted_by_view(scraper: Client) -> None:
    name = 'django_http_requests_latency_seconds_by_view_method_count{method="GET",view="healthz"}'
    first = scraper.get("/metrics").content.decode()
    before = _value(first, name) if name in first else 0.0
    for _ in range(3):
        Client().get("/healthz")
    assert _value(scraper.get("/metrics").content.decode(), name) == before + 3


def test_the_queue_depth_and_failures_come_from_the_database(scraper: Client) -> None:
    for delivery_id in (1, 2, 3):
        delivery_send.enqueue(delivery_id=delivery_id)
    DBTaskResult.objects.filter(pk__in=DBTaskResult.objects.order_by("pk")[:1]).update(
        status=TaskResultStatus.FAILED
    )
    scrape = scraper.get("/metrics")
    assert scrape.status_code == 200
    assert scrape["Content-Type"].startswith("text/plain")
    text = scrape.content.decode()
    assert _value(text, "keel_jobs_readable") == 1
    assert _value(text, 'keel_jobs{state="ready"}') == 2
    assert _value(text, 'keel_jobs{state="failed"}') == 1
    assert _value(text, "keel_jobs_failed") == 1
    assert _value(text, "keel_jobs_oldest_ready_seconds") >= 0
