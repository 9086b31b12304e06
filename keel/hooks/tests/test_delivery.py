"""delivery_attempt: success, back-off on refusals and dead receivers, giving up, retry now."""

import socket
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from keel.hooks import transport
from keel.hooks.models import DeliveryStatus, WebhookDelivery
from keel.hooks.services import (
    MAX_ATTEMPTS,
    delivery_attempt,
    delivery_retry,
    endpoint_test_send,
    endpoint_update,
    webhooks_emit,
)

from .factories import WebhookEndpointFactory

pytestmark = pytest.mark.django_db


def emit(django_capture_on_commit_callbacks) -> WebhookDelivery:
    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = webhooks_emit(event="deal.won", data={"id": 1})
    return delivery


def queued() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(status="READY").order_by("run_after"))


def time_passes() -> None:
    """What waiting out the back-off does: the scheduled retry and its task become due."""
    past = timezone.now() - timedelta(seconds=1)
    WebhookDelivery.objects.exclude(next_attempt_at=None).update(next_attempt_at=past)
    DBTaskResult.objects.filter(status="READY").update(run_after=past)


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/gone"


def test_a_500_is_retried_after_a_minute_through_the_queue_then_succeeds(
    receiver, run_worker, django_capture_on_commit_callbacks
):
    WebhookEndpointFactory(url=receiver.url, events=["deal.won"])
    receiver.statuses = [500]
    delivery = emit(django_capture_on_commit_callbacks)

    started = timezone.now()
    run_worker()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, 500)
    assert delivery.last_error == "HTTP 500 Internal Server Error: nope"
    assert started + timedelta(minutes=1) <= delivery.next_attempt_at
    assert delivery.next_attempt_at <= timezone.now() + timedelta(minutes=1)
    [retry] = queued()
    assert retry.run_after == delivery.next_attempt_at

    run_worker()  # not due yet: the worker leaves it
    assert len(receiver.requests) == 1

    time_passes()
    run_worker()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 2, 200)
    assert delivery.delivered_at is not None and delivery.last_error == ""
    assert queued() == []
    assert [r.headers["Keel-Delivery"] for r in receiver.requests] == [str(delivery.pk)] * 2
    assert receiver.requests[0].body == receiver.requests[1].body


def test_a_dead_receiver_backs_off_1m_5m_30m_2h_12h_then_is_abandoned(
    django_capture_on_commit_callbacks,
):
    WebhookEndpointFactory(url=closed_port_url(), events=["deal.won"])
    delivery = emit(django_capture_on_commit_callbacks)
    now = timezone.now()
    waits = []
    for _ in range(MAX_ATTEMPTS):
        with django_capture_on_commit_callbacks(execute=True):
            delivery = delivery_attempt(delivery_id=delivery.pk, now=now)
        assert delivery is not None and delivery.last_status_code is None
        assert delivery.last_error.startswith("Could not connect")
        if delivery.next_attempt_at is not None:
            waits.append(delivery.next_attempt_at - now)
            now = delivery.next_attempt_at
    assert [w.total_seconds() / 60 for w in waits] == [1, 5, 30, 120, 720]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.ABANDONED, MAX_ATTEMPTS)
    assert delivery.next_attempt_at is None
    # Each failed attempt but the last queued its retry for exactly when it is due.
    run_afters = sorted(t.run_after for t in DBTaskResult.objects.all())
    assert len(run_afters) == 1 + 5
    assert delivery_attempt(delivery_id=delivery.pk, now=now + timedelta(days=1)) is None


def test_a_retry_that_is_not_due_yet_does_nothing(django_capture_on_commit_callbacks, monkeypatch):
    WebhookEndpointFactory(events=["deal.won"])
    calls = []
    monkeypatch.setattr(
        transport, "post", lambda **kw: calls.append(kw) or transport.PostResult(503, "HTTP 503")
    )
    delivery = emit(django_capture_on_commit_callbacks)
    delivery_attempt(delivery_id=delivery.pk)
    assert delivery_attempt(delivery_id=delivery.pk) is None  # a second task, early
    delivery.refresh_from_db()
    assert (len(calls), delivery.attempts, delivery.status) == (1, 1, "failed")


def test_an_attempt_whose_worker_died_is_made_again_after_the_lease(
    settings, django_capture_on_commit_callbacks, monkeypatch
):
    """The claim is committed before the POST; a worker killed in between must not lose
    the delivery once `keel jobs_recover` runs its job again."""
    WebhookEndpointFactory(events=["deal.won"])
    calls = []
    monkeypatch.setattr(
        transport, "post", lambda **kw: calls.append(kw) or transport.PostResult(200, "")
    )
    delivery = emit(django_capture_on_commit_callbacks)
    claimed_at = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(  # claimed, then the worker died
        attempts=1, last_attempt_at=claimed_at, next_attempt_at=None
    )
    lease = timedelta(seconds=settings.KEEL_JOB_LEASE_SECONDS)

    early = claimed_at + lease - timedelta(seconds=1)  # maybe still running: hands off
    assert delivery_attempt(delivery_id=delivery.pk, now=early) is None
    late = claimed_at + lease + timedelta(seconds=1)
    with django_capture_on_commit_callbacks(execute=True):
        delivery = delivery_attempt(delivery_id=delivery.pk, now=late)
    assert delivery is not None
    assert (delivery.status, delivery.attempts, len(calls)) == ("succeeded", 2, 1)
    assert delivery_attempt(delivery_id=delivery.pk, now=late + lease * 2) is None  # done


def test_retry_now_sends_an_abandoned_delivery_once_more(
    olivia, receiver, run_worker, django_capture_on_commit_callbacks
):
    endpoint = WebhookEndpointFactory(url=receiver.url, events=["deal.won"])
    delivery = emit(django_capture_on_commit_callbacks)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status="abandoned", attempts=MAX_ATTEMPTS, next_attempt_at=None, last_status_code=500
    )
    DBTaskResult.objects.all().delete()
    delivery.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        delivery_retry(delivery=delivery, by=olivia)
    run_worker()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", MAX_ATTEMPTS + 1)
    assert len(receiver.requests) == 1
    assert endpoint.deliveries.count() == 1


def test_deactivating_an_endpoint_abandons_its_pending_deliveries(
    olivia, receiver, run_worker, django_capture_on_commit_callbacks
):
    endpoint = WebhookEndpointFactory(url=receiver.url, events=["deal.won"])
    delivery = emit(django_capture_on_commit_callbacks)
    endpoint_update(endpoint=endpoint, by=olivia, data={"is_active": False})
    run_worker()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("abandoned", 0)
    assert "deactivated" in delivery.last_error
    assert receiver.requests == []


def test_a_test_event_goes_to_one_endpoint_whatever_it_subscribes_to(
    olivia, receiver, run_worker, django_capture_on_commit_callbacks
):
    endpoint = WebhookEndpointFactory(url=receiver.url, events=["deal.lost"])
    WebhookEndpointFactory(events=["deal.lost"])
    with django_capture_on_commit_callbacks(execute=True):
        endpoint_test_send(endpoint=endpoint, by=olivia)
    run_worker()
    [request] = receiver.requests
    assert request.headers["Keel-Event"] == "webhook.test"
    assert WebhookDelivery.objects.get().status == "succeeded"


def test_a_redirect_is_a_failure_not_followed(receiver, django_capture_on_commit_callbacks):
    WebhookEndpointFactory(url=receiver.url, events=["deal.won"])
    receiver.statuses = [302]
    delivery = emit(django_capture_on_commit_callbacks)
    delivery = delivery_attempt(delivery_id=delivery.pk)
    assert (delivery.status, delivery.last_status_code) == ("failed", 302)
    assert len(receiver.requests) == 1


@override_settings(
    TASKS={"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
)
def test_without_a_queue_the_first_attempt_runs_at_commit_and_retries_wait(
    receiver, django_capture_on_commit_callbacks
):
    """The ImmediateBackend (no worker) cannot defer: a failure is recorded with its next
    attempt time, which "retry now" or a later deployment with a worker picks up."""
    WebhookEndpointFactory(url=receiver.url, events=["deal.won"])
    receiver.statuses = [500]
    delivery = emit(django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, len(receiver.requests)) == ("failed", 1, 1)
    assert delivery.next_attempt_at is not None
    assert not DBTaskResult.objects.exists()


def test_a_sweep_sends_deliveries_that_nothing_would_send(
    receiver, run_worker, django_capture_on_commit_callbacks
):
    endpoint = WebhookEndpointFactory(url=receiver.url)
    long_ago = timezone.now() - timedelta(hours=1)
    # Saved but never queued (the process stopped between commit and queueing) ...
    lost = WebhookDelivery.objects.create(
        endpoint=endpoint, event="deal.won", payload={"id": "a"}, next_attempt_at=long_ago
    )
    # ... claimed by a worker that died mid-attempt ...
    orphan = WebhookDelivery.objects.create(
        endpoint=endpoint, event="deal.won", payload={"id": "b"}, next_attempt_at=None,
        attempts=1, last_attempt_at=long_ago,
    )  # fmt: skip
    # ... and one that is merely waiting for its scheduled retry: left alone.
    waiting = WebhookDelivery.objects.create(
        endpoint=endpoint, event="deal.won", payload={"id": "c"},
        next_attempt_at=timezone.now() + timedelta(minutes=5),
    )  # fmt: skip
    assert not queued()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("webhooks_requeue")
    assert len(queued()) == 2
    run_worker()

    lost.refresh_from_db()
    orphan.refresh_from_db()
    waiting.refresh_from_db()
    assert (lost.status, orphan.status, waiting.status) == ("succeeded", "succeeded", "pending")
    assert orphan.attempts == 2 and len(receiver.requests) == 2
