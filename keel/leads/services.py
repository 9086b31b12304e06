"""Writes of marketing events: bulk ingestion from the website and marketing tools."""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from keel.accounts.models import User
from keel.core.exceptions import InvalidInput
from keel.crm.models import Company, Contact
from keel.crm.services import contact_update
from keel.leads.access import ensure_can_push_events
from keel.leads.campaigns import attribution_refresh
from keel.leads.definitions import contacts_requalify
from keel.leads.models import INQUIRY_TYPES, EventType, MarketingEvent

MAX_EVENTS = 1000


@dataclass(frozen=True)
class EventData:
    type: str
    occurred_at: datetime
    email: str = ""
    campaign: str = ""
    source: str = ""
    url: str = ""
    external_id: str | None = None
    company_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IngestResult:
    created: int
    duplicates: int
    errors: list[tuple[int, str]]  # (position in the batch, what is wrong)


def _problem(event: EventData) -> str | None:
    """What is wrong with one event, or None."""
    if event.type not in EventType.values:
        return f"{event.type!r} is not an event type; use one of: {', '.join(EventType.values)}."
    if timezone.is_naive(event.occurred_at):
        return "occurred_at needs a time zone (e.g. 2025-03-01T09:30:00Z)."
    if event.email:
        try:
            validate_email(event.email)
        except ValidationError:
            return f"{event.email!r} is not an e-mail address."
    if event.external_id is not None and not event.external_id.strip():
        return "external_id is empty; leave it out or give the sender's id."
    if "\\u0000" in json.dumps(event.payload):
        return "payload holds a NUL character, which cannot be stored."
    return None


@transaction.atomic
def events_ingest(*, by: User, events: Sequence[EventData]) -> IngestResult:
    """Store the valid events of a batch; a known `external_id` is a duplicate, not an error.

    Each event is matched to the contact with its e-mail address (and that contact's
    company). An inquiry or form fill from a known contact who had not inquired yet
    records the inquiry on the contact, so the funnel follows.
    """
    ensure_can_push_events(by)
    if len(events) > MAX_EVENTS:
        raise InvalidInput(
            f"{len(events):,} events in one batch; send at most {MAX_EVENTS:,} at a time."
        )
    errors: list[tuple[int, str]] = []
    valid: list[EventData] = []
    named = {e.company_id for e in events if e.company_id is not None}
    companies = set(Company.objects.filter(pk__in=named).values_list("pk", flat=True))
    for index, event in enumerate(events):
        problem = _problem(event)
        if problem is None and event.company_id is not None and event.company_id not in companies:
            problem = f"There is no company #{event.company_id}."
        if problem is None:
            valid.append(event)
        else:
            errors.append((index, problem))
    ids = [e.external_id for e in valid if e.external_id is not None]
    seen = set(
        MarketingEvent.objects.filter(external_id__in=ids).values_list("external_id", flat=True)
    )
    fresh: list[EventData] = []
    duplicates = 0
    for event in valid:
        if event.external_id is not None:
            if event.external_id in seen:
                duplicates += 1
                continue
            seen.add(event.external_id)
        fresh.append(event)
    emails = {e.email.lower() for e in fresh if e.email}
    contacts: dict[str, Contact] = {}
    if emails:
        # Addresses are unique whatever their case (as crm/services.py checks them).
        matches = Contact.objects.annotate(lower_email=Lower("email"))
        contacts = {c.email.lower(): c for c in matches.filter(lower_email__in=sorted(emails))}
    rows = []
    for event in fresh:
        contact = contacts.get(event.email.lower()) if event.email else None
        rows.append(
            MarketingEvent(
                type=event.type,
                occurred_at=event.occurred_at,
                email=event.email,
                contact=contact,
                company_id=event.company_id or (contact.company_id if contact else None),
                campaign=event.campaign,
                source=event.source,
                url=event.url,
                external_id=event.external_id,
                payload=event.payload,
                received_by=by,
            )
        )
    # ignore_conflicts: a batch racing another with the same external ids stores each once.
    MarketingEvent.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    _inquiries_record(by=by, rows=rows)
    # Engagement is what a lead definition may ask for: the people it touched are judged.
    touched = {row.contact_id for row in rows if row.contact_id is not None}
    # First and last touch before requalifying: the last touch stops at qualification.
    attribution_refresh(
        contact_ids={row.contact_id for row in rows if row.contact_id is not None and row.campaign}
    )
    if touched:
        contacts_requalify(contact_ids=touched)
    return IngestResult(created=len(rows), duplicates=duplicates, errors=errors)


def _inquiries_record(*, by: User, rows: list[MarketingEvent]) -> None:
    first: dict[int, datetime] = {}
    for row in rows:
        if (
            row.type in INQUIRY_TYPES
            and row.contact is not None
            and row.contact.inquired_at is None
        ):
            at = first.get(row.contact.pk)
            first[row.contact.pk] = row.occurred_at if at is None else min(at, row.occurred_at)
    for contact in Contact.objects.filter(pk__in=first, inquired_at__isnull=True):
        contact_update(
            contact=contact,
            by=by,
            expected_updated_at=contact.updated_at,
            data={"inquired_at": first[contact.pk]},
        )
