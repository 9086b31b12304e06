"""deal_move announces itself: which events, to whom, with what payload and signature."""

import hashlib
import hmac
import json
import time

import pytest
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from keel.accounts.models import User
from keel.core.exceptions import InvalidInput
from keel.hooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from keel.hooks.signing import signature_verify
from keel.pipeline.models import Deal, StageChange
from keel.pipeline.services import MoveBlocked, deal_move

from .factories import WebhookEndpointFactory

pytestmark = pytest.mark.django_db


def move(deal: Deal, to: str, by: User, **kwargs: str) -> StageChange:
    return deal_move(deal=deal, to_stage=to, by=by, expected_version=deal.version, **kwargs)


def events_sent(receiver) -> list[str]:
    return [r.headers["Keel-Event"] for r in receiver.requests]


def test_a_won_move_sends_stage_changed_and_won_signed_with_the_secret(
    deal, mary, receiver, run_worker, django_capture_on_commit_callbacks
):
    endpoint = WebhookEndpointFactory(url=receiver.url)
    deal.amount = None
    with django_capture_on_commit_callbacks(execute=True):
        change = move(deal, "Intake", mary, override_reason="Signed at the fair")
    assert DBTaskResult.objects.count() == 2  # queued, not sent: the worker sends
    assert receiver.requests == []

    sent_from = int(time.time())
    run_worker()
    sent_until = int(time.time())

    assert events_sent(receiver) == ["deal.stage_changed", "deal.won"]
    first = receiver.requests[0]
    # The signature, checked the way a receiver would, from the raw body.
    t, v1 = (part.split("=", 1)[1] for part in first.headers["Keel-Signature"].split(","))
    expected = hmac.new(
        endpoint.secret.encode(), f"{t}.".encode() + first.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(v1, expected)
    assert sent_from <= int(t) <= sent_until  # signed as it was sent
    assert signature_verify(
        secret=endpoint.secret, header=first.headers["Keel-Signature"], body=first.body,
        now=int(time.time()),
    )  # fmt: skip
    assert not signature_verify(
        secret="whsec_wrong", header=first.headers["Keel-Signature"], body=first.body,
        now=int(time.time()),
    )  # fmt: skip
    assert first.headers["Content-Type"] == "application/json"

    payload = json.loads(first.body)
    delivery = WebhookDelivery.objects.get(pk=first.headers["Keel-Delivery"])
    assert delivery.event == "deal.stage_changed" and delivery.status == DeliveryStatus.SUCCEEDED
    assert payload["event"] == "deal.stage_changed"
    assert set(payload) == {"id", "event", "created_at", "data"}
    assert payload["data"] == {
        "id": deal.pk,
        "name": "Acme rollout",
        "company": {"id": deal.company_id, "name": "Acme"},
        "owner": {"id": deal.owner_id, "name": "Alice", "email": "alice@example.com"},
        "process": "New business",
        "amount": None,
        "currency": deal.currency,
        "from_stage": "Qualify",
        "to_stage": "Intake",
        "status": "won",
        "lost_reason": None,
        "moved_by": {"id": mary.pk, "name": "Mary", "email": "mary@example.com"},
        "moved_at": change.at.isoformat(),
        "stage_change_id": change.pk,
        "url": f"/deals/{deal.pk}/",
    }
    won = json.loads(receiver.requests[1].body)
    assert won["event"] == "deal.won" and won["data"] == payload["data"]
    assert won["id"] != payload["id"]  # each event has its own id


def test_a_lost_move_sends_lost_with_the_reason_and_an_amount_as_a_string(
    deal, alice, mary, receiver, run_worker, django_capture_on_commit_callbacks
):
    WebhookEndpointFactory(url=receiver.url)
    deal.amount = None
    Deal.objects.filter(pk=deal.pk).update(amount="12000")
    deal.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        move(deal, "Lost", alice, lost_reason="price")
    run_worker()
    assert events_sent(receiver) == ["deal.stage_changed", "deal.lost"]
    data = json.loads(receiver.requests[1].body)["data"]
    assert (data["status"], data["lost_reason"], data["amount"]) == ("lost", "price", "12000.00")


def test_an_open_move_sends_only_stage_changed(
    deal, mary, receiver, run_worker, django_capture_on_commit_callbacks
):
    WebhookEndpointFactory(url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        move(deal, "1st meeting", mary, override_reason="Known account")
    run_worker()
    assert events_sent(receiver) == ["deal.stage_changed"]
    data = json.loads(receiver.requests[0].body)["data"]
    assert (data["from_stage"], data["to_stage"], data["status"]) == (
        "Qualify",
        "1st meeting",
        "open",
    )


def test_each_endpoint_gets_only_the_events_it_subscribes_to(
    deal, alice, django_capture_on_commit_callbacks
):
    everything = WebhookEndpointFactory()
    wins_only = WebhookEndpointFactory(events=["deal.won"])
    losses_only = WebhookEndpointFactory(events=["deal.lost"])
    inactive = WebhookEndpointFactory(is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        move(deal, "Lost", alice, lost_reason="timing")

    def received(endpoint: WebhookEndpoint) -> list[str]:
        return sorted(endpoint.deliveries.values_list("event", flat=True))

    assert received(everything) == ["deal.lost", "deal.stage_changed"]
    assert received(losses_only) == ["deal.lost"]
    assert received(wins_only) == []
    assert received(inactive) == []
    assert DBTaskResult.objects.count() == 3


def test_a_refused_move_emits_nothing(deal, alice, django_capture_on_commit_callbacks):
    WebhookEndpointFactory()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(MoveBlocked):
            move(deal, "1st meeting", alice)
        with pytest.raises(InvalidInput):
            move(deal, "Lost", alice)  # no reason given
    assert callbacks == []
    assert not WebhookDelivery.objects.exists()
    assert not DBTaskResult.objects.exists()


def test_a_rolled_back_move_emits_nothing(deal, alice, django_capture_on_commit_callbacks):
    WebhookEndpointFactory()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        move(deal, "Lost", alice, lost_reason="price")
        assert WebhookDelivery.objects.count() == 2  # written with the move...
        raise RuntimeError("something later in the same request failed")
    assert not WebhookDelivery.objects.exists()  # ...and rolled back with it
    assert callbacks == []
    assert not DBTaskResult.objects.exists()


def test_a_move_looks_for_endpoints_once(deal, alice, django_assert_max_num_queries):
    # Guards deal_move's cost: an installation without webhooks pays one SELECT.
    with django_assert_max_num_queries(40) as queries:
        move(deal, "Lost", alice, lost_reason="price")
    hooks = [q["sql"] for q in queries.captured_queries if "hooks_" in q["sql"]]
    assert len(hooks) == 1  # for stage_changed and lost together
