"""Writes for outgoing webhooks: endpoints, the deliveries an event creates, and attempts.

A delivery row is written in the same transaction as the change it announces, and its
task is queued only once that transaction commits: a move that is refused or rolled back
announces nothing. Each attempt claims the row in a short transaction and posts outside
any transaction, so a slow receiver never holds a database lock.
"""

import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from keel.accounts.models import User
from keel.core.exceptions import InvalidInput
from keel.core.services import audit_record, model_update, validate
from keel.hooks import transport
from keel.hooks.access import ensure_can_manage_webhooks
from keel.hooks.models import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    new_secret,
)
from keel.hooks.selectors import stage_change_data
from keel.hooks.signing import SIGNATURE_HEADER, signature_header
from keel.pipeline.models import DealStatus, StageChange

logger = logging.getLogger(__name__)

# The wait after each failed attempt; one more failure after the last is final.
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=12),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
ENDPOINT_EDITABLE_FIELDS = ["url", "description", "events", "is_active"]


# --- endpoints --------------------------------------------------------------------------


@transaction.atomic
def endpoint_create(
    *, by: User, url: str, events: list[str], description: str = ""
) -> WebhookEndpoint:
    ensure_can_manage_webhooks(by)
    endpoint = WebhookEndpoint(
        url=url.strip(), description=description.strip(), events=list(events), created_by=by
    )
    validate(endpoint)
    endpoint.save()
    audit_record(actor=by, action="webhook.create", obj=endpoint, summary=endpoint.url)
    return endpoint


@transaction.atomic
def endpoint_update(
    *, endpoint: WebhookEndpoint, by: User, data: dict[str, Any]
) -> WebhookEndpoint:
    """Change an endpoint's URL, description, events or whether it is active."""
    ensure_can_manage_webhooks(by)
    unknown = set(data) - set(ENDPOINT_EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(f"These webhook fields cannot be edited: {', '.join(sorted(unknown))}.")
    changes = model_update(instance=endpoint, data=data, fields=ENDPOINT_EDITABLE_FIELDS)
    if changes:
        audit_record(actor=by, action="webhook.update", obj=endpoint, changes=changes)
    return endpoint


@transaction.atomic
def endpoint_secret_rotate(*, endpoint: WebhookEndpoint, by: User) -> WebhookEndpoint:
    """Give the endpoint a new secret; deliveries from now on are signed with it."""
    ensure_can_manage_webhooks(by)
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret", "updated_at"])
    # The secret itself stays out of the audit log, which more people may read.
    audit_record(actor=by, action="webhook.secret_rotate", obj=endpoint, summary=endpoint.url)
    return endpoint


# --- events -----------------------------------------------------------------------------


def _envelope(*, event: str, data: dict[str, Any]) -> dict[str, Any]:
    """The payload every event shares: its own id, so a receiver can drop repeats."""
    return {
        "id": str(uuid.uuid4()),
        "event": event,
        "created_at": timezone.now().isoformat(),
        "data": data,
    }


def _enqueue_on_commit(delivery: WebhookDelivery, *, at: datetime | None = None) -> None:
    pk = delivery.pk
    transaction.on_commit(lambda: _enqueue(delivery_id=pk, at=at))


def _enqueue(*, delivery_id: int, at: datetime | None) -> None:
    from keel.hooks.tasks import delivery_send  # the task module imports this one

    task = delivery_send
    if at is not None and at > timezone.now():
        if not task.get_backend().supports_defer:
            # e.g. the ImmediateBackend: the retry waits for "retry now" instead.
            logger.warning("Task backend cannot defer; webhook retry %s not queued.", at)
            return
        task = task.using(run_after=at)
    task.enqueue(delivery_id=delivery_id)


@transaction.atomic
def webhooks_emit(*, event: str, data: dict[str, Any]) -> list[WebhookDelivery]:
    """Create one delivery of `event` per active endpoint subscribed to it, each sent by the
    worker once the surrounding transaction commits."""
    return _emit(events=[event], data_of=lambda: data)


@transaction.atomic
def stage_change_emit(*, change: StageChange) -> list[WebhookDelivery]:
    """Announce a deal's move: deal.stage_changed always, and deal.won or deal.lost when
    the move closes the deal."""
    events: list[str] = [WebhookEvent.DEAL_STAGE_CHANGED]
    closing = {DealStatus.WON: WebhookEvent.DEAL_WON, DealStatus.LOST: WebhookEvent.DEAL_LOST}
    if (outcome := closing.get(DealStatus(change.deal.status))) is not None:
        events.append(outcome)
    return _emit(events=events, data_of=lambda: stage_change_data(change=change))


def _emit(*, events: list[str], data_of: Callable[[], dict[str, Any]]) -> list[WebhookDelivery]:
    """The deliveries of `events`; `data_of` is called only if some endpoint listens."""
    unknown = set(events) - set(WebhookEvent.values)
    if unknown:
        raise ValueError(f"Unknown webhook events: {sorted(unknown)}.")
    # One query per move, whatever it announces; the JSON list is matched here because
    # SQLite has no JSON "contains" lookup, and endpoints are few.
    endpoints = list(WebhookEndpoint.objects.filter(is_active=True))
    if not any(event in e.events for e in endpoints for event in events):
        return []
    data = data_of()
    now = timezone.now()
    deliveries = []
    for event in events:
        payload = _envelope(event=event, data=data)  # one event id shared by its endpoints
        deliveries += [
            WebhookDelivery(endpoint=e, event=event, payload=payload, next_attempt_at=now)
            for e in endpoints
            if event in e.events
        ]
    deliveries = WebhookDelivery.objects.bulk_create(deliveries)
    for delivery in deliveries:
        _enqueue_on_commit(delivery)
    return deliveries


@transaction.atomic
def endpoint_test_send(*, endpoint: WebhookEndpoint, by: User) -> WebhookDelivery:
    """Queue a webhook.test event to this endpoint alone, whatever it subscribes to."""
    ensure_can_manage_webhooks(by)
    payload = _envelope(
        event=WebhookEvent.TEST,
        data={"message": "A test event from Keel.", "endpoint": endpoint.pk, "sent_by": str(by)},
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event=WebhookEvent.TEST, payload=payload, next_attempt_at=timezone.now()
    )
    _enqueue_on_commit(delivery)
    return delivery


# --- attempts ---------------------------------------------------------------------------


@transaction.atomic
def _claim(*, delivery_id: int, now: datetime) -> WebhookDelivery | None:
    """The delivery, marked as being attempted, if an attempt is due now; else None.

    Clearing next_attempt_at is the claim: a second task for the same delivery (a retry
    clicked while one was scheduled, two workers) finds nothing due and does nothing. A
    claim older than the job lease is a worker that died mid-attempt (the job is queued
    again by `keel jobs_recover`): that attempt is due again, so the delivery is never lost
    (receivers tell a repeat by its delivery id).
    """
    delivery = (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("endpoint")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None or delivery.status not in {DeliveryStatus.PENDING, DeliveryStatus.FAILED}:
        return None
    if delivery.next_attempt_at is None:
        if not _claim_abandoned(delivery, now):
            return None
    elif delivery.next_attempt_at > now:
        return None
    if not delivery.endpoint.is_active and delivery.event != WebhookEvent.TEST:
        delivery.status = DeliveryStatus.ABANDONED
        delivery.next_attempt_at = None
        delivery.last_error = "Not sent: the endpoint was deactivated."
        delivery.save(update_fields=["status", "next_attempt_at", "last_error"])
        return None
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.next_attempt_at = None
    delivery.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at"])
    return delivery


def _claim_abandoned(delivery: WebhookDelivery, now: datetime) -> bool:
    """Claimed for an attempt that never reported back: its worker died."""
    lease = timedelta(seconds=settings.KEEL_JOB_LEASE_SECONDS)
    return delivery.last_attempt_at is not None and now - delivery.last_attempt_at > lease


def _body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> WebhookDelivery | None:
    """Post a due delivery once and record the outcome: a 2xx answer succeeds; anything
    else (another status, no answer) schedules the next attempt after the back-off, or
    abandons the delivery after MAX_ATTEMPTS. Returns None when nothing was due."""
    now = now or timezone.now()
    delivery = _claim(delivery_id=delivery_id, now=now)
    if delivery is None:
        return None
    endpoint = delivery.endpoint
    body = _body(delivery.payload)
    result = transport.post(
        url=endpoint.url,
        body=body,
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Keel-Webhooks/1",
            "Keel-Event": delivery.event,
            "Keel-Delivery": str(delivery.pk),
            SIGNATURE_HEADER: signature_header(
                secret=endpoint.secret, timestamp=int(now.timestamp()), body=body
            ),
        },
    )
    with transaction.atomic():
        delivery.last_status_code = result.status_code
        delivery.last_error = result.error
        if result.ok:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.delivered_at = timezone.now()
        elif delivery.attempts < MAX_ATTEMPTS:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = now + RETRY_DELAYS[delivery.attempts - 1]
            _enqueue_on_commit(delivery, at=delivery.next_attempt_at)
        else:
            delivery.status = DeliveryStatus.ABANDONED
        delivery.save(
            update_fields=[
                "status",
                "last_status_code",
                "last_error",
                "delivered_at",
                "next_attempt_at",
            ]
        )
    return delivery


@transaction.atomic
def delivery_retry(*, delivery: WebhookDelivery, by: User) -> WebhookDelivery:
    """Try a failed or abandoned delivery again now; a failure then resumes the back-off
    (or, past the last attempt, abandons it again)."""
    ensure_can_manage_webhooks(by)
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    if not delivery.can_retry:
        raise InvalidInput(
            f"This delivery is {delivery.get_status_display().lower()}; "
            "only a failed or abandoned one can be retried."
        )
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "next_attempt_at"])
    _enqueue_on_commit(delivery)
    return delivery


# How long a due or started attempt may go unfinished before a sweep sends it again: far
# longer than an attempt can take (transport's timeout), so a live attempt is never doubled.
STUCK_AFTER = timedelta(minutes=10)


@transaction.atomic
def deliveries_requeue(*, now: datetime | None = None) -> int:
    """Queue again the deliveries nothing will send: due long ago with no task (the process
    stopped between commit and queueing), or claimed by a worker that died mid-attempt.

    Run it now and then (`keel webhooks_requeue`, e.g. from cron); a delivery that is also
    still queued is sent once, since each attempt claims it first.
    """
    now = now or timezone.now()
    waiting = [DeliveryStatus.PENDING, DeliveryStatus.FAILED]
    stale = now - STUCK_AFTER
    orphans = WebhookDelivery.objects.filter(
        status__in=waiting, next_attempt_at=None, last_attempt_at__lte=stale
    )
    orphan_ids = list(orphans.values_list("pk", flat=True))
    WebhookDelivery.objects.filter(pk__in=orphan_ids).update(next_attempt_at=now)  # due again
    overdue = WebhookDelivery.objects.filter(status__in=waiting, next_attempt_at__lte=stale)
    ids = [*orphan_ids, *overdue.values_list("pk", flat=True)]
    for pk in ids:
        transaction.on_commit(lambda pk=pk: _enqueue(delivery_id=pk, at=None))  # type: ignore[misc]
    return len(ids)
