"""Campaigns: keeping them (create, edit) and attributing contacts to them.

A campaign is known by its code, the utm_campaign its events are tagged with. Contacts
carry two codes, kept by `attribution_refresh` from their marketing events:

- first touch (`first_campaign`): the campaign of their earliest event with a campaign;
- last touch (`last_campaign`): the campaign of their latest such event at or before they
  qualified (any time while they have not), so what happens after sales took them over
  does not take the credit.

Who may write: marketers, sales managers and the owner (leads/access.py); everyone
signed in reads.
"""

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import DateTimeField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from keel.accounts.models import User
from keel.core.exceptions import InvalidInput, StaleVersion
from keel.core.services import audit_record, model_update, validate
from keel.crm.models import Channel, Contact
from keel.leads.access import ensure_can_manage_campaigns
from keel.leads.models import Campaign, MarketingEvent

CAMPAIGN_FIELDS = [
    "code",
    "name",
    "channel",
    "starts_on",
    "ends_on",
    "budget",
    "cost",
    "notes",
    "owner",
]
CHUNK = 900  # ids per UPDATE, under SQLite's bound-parameter limit
# Stands in for "not qualified" in the last-touch cut-off: every event is before it.
NEVER = datetime(9999, 12, 31, tzinfo=UTC)
# The orders a campaign list offers, on the page and in the API.
CAMPAIGN_SORTS = {
    "starts": ("starts_on", "name"),
    "name": ("name",),
    "code": ("code",),
    "channel": ("channel", "name"),
    "cost": ("cost",),
}


# --- keeping campaigns --------------------------------------------------------------------


def _problems(values: dict[str, Any]) -> list[str]:
    """The rules a person breaks most, in words to act on (the model's check constraints
    would only name themselves)."""
    problems: list[str] = []
    channel = values.get("channel")
    if channel not in Channel.values:
        known = ", ".join(Channel.values)
        problems.append(f"channel: {channel!r} is not a channel; use one of {known}.")
    starts_on, ends_on = values.get("starts_on"), values.get("ends_on")
    if isinstance(starts_on, date) and isinstance(ends_on, date) and ends_on < starts_on:
        problems.append(
            f"ends_on: the campaign cannot end ({ends_on:%Y-%m-%d}) before it starts "
            f"({starts_on:%Y-%m-%d})."
        )
    for name in ("budget", "cost"):
        amount = values.get(name)
        if isinstance(amount, Decimal | int) and amount < 0:
            problems.append(f"{name}: the {name} cannot be negative ({amount}).")
    return problems


def _ensure_sound(values: dict[str, Any]) -> None:
    problems = _problems(values)
    if problems:
        count = len(problems)
        raise InvalidInput(
            f"The campaign was not saved: {count} problem{'s' if count > 1 else ''}.",
            details=problems,
        )


@transaction.atomic
def campaign_create(
    *,
    by: User,
    code: str,
    name: str,
    channel: str,
    starts_on: date,
    ends_on: date | None = None,
    budget: Decimal = Decimal(0),
    cost: Decimal = Decimal(0),
    notes: str = "",
    owner: User | None = None,
) -> Campaign:
    """A new campaign. Its code may already tag events: they count for it from now on."""
    ensure_can_manage_campaigns(by)
    values: dict[str, Any] = {
        "code": code.strip(),
        "name": name.strip(),
        "channel": channel,
        "starts_on": starts_on,
        "ends_on": ends_on,
        "budget": budget,
        "cost": cost,
        "notes": notes.strip(),
        "owner": owner,
    }
    _ensure_sound(values)
    campaign = Campaign(**values)
    validate(campaign)
    campaign.save()
    audit_record(actor=by, action="campaign.create", obj=campaign, summary=str(campaign))
    return campaign


@transaction.atomic
def campaign_update(
    *, campaign: Campaign, by: User, data: dict[str, Any], expected_updated_at: datetime
) -> Campaign:
    """Change a campaign's fields; an edit of a version someone saved since is refused.

    Changing the code moves the campaign to the events, forms and contacts tagged with the
    new code; those with the old one show as that code, with no campaign, in the report.
    """
    ensure_can_manage_campaigns(by)
    unknown = set(data) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise InvalidInput(f"These campaign fields cannot be edited: {', '.join(sorted(unknown))}.")
    current = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if current.updated_at != expected_updated_at:
        when = timezone.localtime(current.updated_at).strftime("%Y-%m-%d %H:%M")
        raise StaleVersion(
            f"{current} was changed at {when}, after you opened it. Nothing was saved."
        )
    cleaned = {
        key: value.strip() if key in ("code", "name", "notes") and isinstance(value, str) else value
        for key, value in data.items()
    }
    _ensure_sound({**{f: getattr(current, f) for f in CAMPAIGN_FIELDS}, **cleaned})
    changes = model_update(instance=current, data=cleaned, fields=CAMPAIGN_FIELDS)
    if changes:
        audit_record(
            actor=by,
            action="campaign.update",
            obj=current,
            summary=str(current),
            changes=changes,
        )
    return current


# --- attribution --------------------------------------------------------------------------


def attribution_refresh(*, contact_ids: Iterable[int]) -> None:
    """Set the first and last campaign touch of each of `contact_ids` from their events.

    Set-based: per chunk of ids, one UPDATE per field, each reading the contact's events
    in a subquery. A contact with no tagged event gets "" (no campaign). `updated_at` is
    left alone: attribution is derived, not an edit, so nobody's open form goes stale.
    """
    ids = sorted(set(contact_ids))
    tagged = MarketingEvent.objects.filter(contact=OuterRef("pk")).exclude(campaign="")
    first = tagged.order_by("occurred_at", "id").values("campaign")[:1]
    cutoff = Coalesce(OuterRef("qualified_at"), Value(NEVER), output_field=DateTimeField())
    last = (
        tagged.filter(occurred_at__lte=cutoff).order_by("-occurred_at", "-id").values("campaign")
    )[:1]
    for start in range(0, len(ids), CHUNK):
        chunk = Contact.objects.filter(pk__in=ids[start : start + CHUNK])
        chunk.update(first_campaign=Coalesce(Subquery(first), Value("")))
        chunk.update(last_campaign=Coalesce(Subquery(last), Value("")))
