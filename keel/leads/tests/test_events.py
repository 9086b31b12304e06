"""Marketing events: POST /api/v1/events/bulk and events_ingest."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from keel.accounts.models import Role, TokenScope
from keel.accounts.services import token_create
from keel.accounts.tests.factories import UserFactory
from keel.api.tests.conftest import Api
from keel.core.exceptions import InvalidInput, NotAllowed
from keel.crm.models import FunnelStage
from keel.crm.services import contact_create
from keel.crm.tests.factories import ContactFactory
from keel.leads.models import EventType, MarketingEvent
from keel.leads.services import MAX_EVENTS, EventData, events_ingest

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketer(db):
    return UserFactory(username="mia", role=Role.MARKETER)


@pytest.fixture
def api(marketer):
    return Api(token_create(user=marketer, name="website", scope=TokenScope.READ_WRITE).secret)


def event(**fields):
    return {"type": "visit", "occurred_at": "2025-03-01T09:30:00Z", **fields}


def test_bulk_stores_events_and_matches_contacts(api, acme):
    dana = ContactFactory(company=acme, email="Dana@Acme.example")
    response = api.post(
        "/events/bulk",
        {
            "events": [
                event(email="dana@acme.example", campaign="spring", source="google", url="/p"),
                event(type="download", external_id="dl-1", payload={"file": "guide.pdf"}),
            ]
        },
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"created": 2, "duplicates": 0, "errors": []}
    visit = MarketingEvent.objects.get(type=EventType.VISIT)
    assert (visit.contact_id, visit.company_id, visit.campaign) == (dana.pk, acme.pk, "spring")
    assert MarketingEvent.objects.get(type=EventType.DOWNLOAD).payload == {"file": "guide.pdf"}


def test_sending_again_is_idempotent_by_external_id(api):
    batch = {"events": [event(external_id="a"), event(external_id="b"), event(external_id="a")]}
    assert api.post("/events/bulk", batch).json() == {"created": 2, "duplicates": 1, "errors": []}
    assert api.post("/events/bulk", batch).json() == {"created": 0, "duplicates": 3, "errors": []}
    assert MarketingEvent.objects.count() == 2


def test_bad_events_are_reported_by_index_and_the_rest_stored(api):
    response = api.post(
        "/events/bulk",
        {
            "events": [
                event(),
                event(type="phone_call"),
                event(occurred_at="yesterday"),
                event(email="not-an-address"),
                event(company_id=999999),
                event(occurred_at="2025-03-01T09:30:00"),
            ]
        },
    )
    body = response.json()
    assert body["created"] == 1
    assert [e["index"] for e in body["errors"]] == [1, 2, 3, 4, 5]
    assert "type" in body["errors"][0]["message"]
    assert "not an e-mail address" in body["errors"][2]["message"]


def test_an_inquiry_from_a_known_contact_moves_the_funnel(api, acme):
    dana = ContactFactory(company=acme, email="dana@acme.example")
    assert dana.inquired_at is None
    api.post(
        "/events/bulk",
        {
            "events": [
                event(
                    type="form_fill", email="dana@acme.example", occurred_at="2025-03-02T08:00:00Z"
                ),
                event(
                    type="inquiry", email="dana@acme.example", occurred_at="2025-03-01T08:00:00Z"
                ),
            ]
        },
    )
    dana.refresh_from_db()
    assert dana.inquired_at.isoformat() == "2025-03-01T08:00:00+00:00"
    assert dana.funnel_stage == FunnelStage.LEAD


def test_an_inquiry_keeps_an_earlier_inquiry(api, acme):
    first = timezone.now().replace(year=2020)
    dana = ContactFactory(company=acme, email="dana@acme.example", inquired_at=first)
    api.post("/events/bulk", {"events": [event(type="inquiry", email="dana@acme.example")]})
    dana.refresh_from_db()
    assert dana.inquired_at == first


def test_more_than_the_maximum_is_422(api):
    response = api.post("/events/bulk", {"events": [event()] * (MAX_EVENTS + 1)})
    assert response.status_code == 422
    assert not MarketingEvent.objects.exists()


def test_a_full_batch_is_accepted(api):
    batch = {"events": [event(external_id=str(i)) for i in range(MAX_EVENTS)]}
    assert api.post("/events/bulk", batch).json()["created"] == MAX_EVENTS


def test_the_service_checks_who_pushes(alice, marketer):
    when = timezone.now()
    with pytest.raises(NotAllowed):
        events_ingest(by=alice, events=[EventData(type="visit", occurred_at=when)])
    with pytest.raises(InvalidInput):
        events_ingest(
            by=marketer, events=[EventData(type="visit", occurred_at=when)] * (MAX_EVENTS + 1)
        )
    assert not MarketingEvent.objects.exists()


def test_events_sent_before_the_person_was_known_become_theirs(api, acme, alice):
    api.post(
        "/events/bulk",
        {
            "events": [
                event(type="download", email="Nora@Acme.example", campaign="guide"),
                event(
                    type="inquiry", email="nora@acme.example", occurred_at="2025-03-02T10:00:00Z"
                ),
                event(type="download", email="someone@else.example"),
            ]
        },
    )
    assert not MarketingEvent.objects.filter(contact__isnull=False).exists()
    nora = contact_create(by=alice, last_name="Nora", email="NORA@acme.example", company=acme)
    mine = MarketingEvent.objects.filter(contact=nora)
    assert mine.count() == 2 and set(mine.values_list("company", flat=True)) == {acme.pk}
    assert MarketingEvent.objects.get(email="someone@else.example").contact is None
    nora.refresh_from_db()
    assert nora.first_campaign == "guide"
    assert nora.inquired_at == datetime(2025, 3, 2, 10, tzinfo=UTC)
    assert nora.funnel_stage == FunnelStage.LEAD
