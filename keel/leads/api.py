"""Marketing events pushed in bulk by the website and marketing tools, and campaigns.

Who may push: read-write tokens (or sessions) of marketers, sales managers and the owner
(keel/leads/access.py). Each event is checked on its own: the answer counts what was
stored and what was already known, and lists the rejected events by index.

Campaigns: everyone reads them; the same people who push events create and edit them
(leads/campaigns.py), an edit carrying the `version` it was based on (409 when stale).
"""

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Status
from pydantic import ValidationError

from keel.api import lookups
from keel.api.auth import actor
from keel.api.pagination import Page, paginate
from keel.api.schemas import LIST_ERRORS, WRITE_ERRORS, Id
from keel.leads.access import ensure_can_manage_campaigns, ensure_can_push_events
from keel.leads.campaigns import CAMPAIGN_SORTS, campaign_create, campaign_update
from keel.leads.models import Campaign
from keel.leads.schemas import (
    CampaignFilters,
    CampaignIn,
    CampaignOut,
    CampaignPage,
    CampaignPatch,
    EventError,
    EventIn,
    EventsIn,
    IngestOut,
)
from keel.leads.services import EventData, events_ingest

events = Router(tags=["events"])
campaigns = Router(tags=["campaigns"])


def _message(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in e['loc']) or 'event'}: {e['msg']}" for e in error.errors()
    )


@events.post("/bulk", response={200: IngestOut, **WRITE_ERRORS})
def events_bulk(request: HttpRequest, payload: EventsIn) -> IngestOut:
    """Store up to 1,000 website visits, downloads, inquiries and form fills.

    Sending an event again with the same `external_id` counts it as a duplicate. An
    inquiry or form fill from a known contact marks the contact as having inquired.
    """
    user = actor(request)
    ensure_can_push_events(user)
    errors: list[tuple[int, str]] = []
    parsed: list[EventData] = []
    positions: list[int] = []
    for index, item in enumerate(payload.events):
        try:
            event = item if isinstance(item, EventIn) else EventIn.model_validate(item)
        except ValidationError as error:
            errors.append((index, _message(error)))
            continue
        positions.append(index)
        parsed.append(EventData(**event.dict()))
    result = events_ingest(by=user, events=parsed)
    errors.extend((positions[i], message) for i, message in result.errors)
    return IngestOut(
        created=result.created,
        duplicates=result.duplicates,
        errors=[EventError(index=i, message=m) for i, m in sorted(errors)],
    )


# --- campaigns ------------------------------------------------------------------------------


def _campaign(pk: int) -> Campaign:
    return get_object_or_404(Campaign.objects.select_related("owner"), pk=pk)


@campaigns.get("", response={200: CampaignPage, **LIST_ERRORS})
def campaign_list(request: HttpRequest, filters: Query[CampaignFilters]) -> Page[Campaign]:
    """The campaigns, newest first by default; every active user reads them."""
    actor(request)
    rows = Campaign.objects.select_related("owner")
    if filters.channel is not None:
        rows = rows.filter(channel=filters.channel)
    return paginate(
        queryset=rows,
        sorts=CAMPAIGN_SORTS,
        ordering=filters.ordering,
        limit=filters.limit,
        offset=filters.offset,
    )


@campaigns.post("", response={201: CampaignOut, **WRITE_ERRORS})
def campaign_post(request: HttpRequest, payload: CampaignIn) -> Status[Campaign]:
    user = actor(request)
    ensure_can_manage_campaigns(user)
    data = payload.dict()
    owner_id = data.pop("owner_id")
    created = campaign_create(by=user, **data, owner=lookups.person(owner_id) if owner_id else None)
    return Status(201, _campaign(created.pk))


@campaigns.patch("/{campaign_id}", response={200: CampaignOut, **WRITE_ERRORS})
def campaign_patch(request: HttpRequest, campaign_id: Id, payload: CampaignPatch) -> Campaign:
    """Change the fields sent; `version` is the one the change is based on."""
    user = actor(request)
    ensure_can_manage_campaigns(user)
    current = _campaign(campaign_id)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    campaign_update(
        campaign=current,
        by=user,
        expected_updated_at=version,
        data=lookups.patch_data(model=Campaign, data=data, user=user),
    )
    return _campaign(campaign_id)
