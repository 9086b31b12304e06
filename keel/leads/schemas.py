"""The API's view of marketing events and campaigns."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import StringConstraints

from keel.api.pagination import ListParams
from keel.api.schemas import NO_NUL, Id, LongText, Moment, Name200, Text100, Text300, UserRef
from keel.crm.models import Channel
from keel.leads.models import Campaign, EventType
from keel.leads.services import MAX_EVENTS
from keel.planning.forms import version_token

Url = Annotated[str, StringConstraints(max_length=2000, pattern=NO_NUL)]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)]


class EventIn(Schema):
    type: EventType
    occurred_at: Moment
    email: Text300 = Field("", description="Matched to a contact with this address.")
    campaign: Text100 = ""
    source: Text100 = ""
    url: Url = ""
    external_id: ExternalId | None = Field(
        None, description="The sender's id: sending the event again makes a duplicate."
    )
    company_id: Id | None = None
    payload: dict[str, Any] = Field(default_factory=dict, description="Kept as sent.")


class EventsIn(Schema):
    """Events are checked one by one: a bad one is reported by its index and skipped."""

    # An event that is not an EventIn stays a plain object here, to be reported by index.
    events: list[EventIn | dict[str, Any]] = Field(
        max_length=MAX_EVENTS, description=f"At most {MAX_EVENTS:,} events."
    )


class EventError(Schema):
    index: int
    message: str


class IngestOut(Schema):
    created: int
    duplicates: int
    errors: list[EventError]


# --- campaigns ------------------------------------------------------------------------------

CampaignOrdering = Literal[
    "starts", "-starts", "name", "-name", "code", "-code", "channel", "-channel", "cost", "-cost"
]
Code = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NO_NUL)]
Money = Annotated[Decimal, Field(max_digits=14, decimal_places=2)]
CAMPAIGN_VERSION_HELP = (
    "The `version` of the campaign this change is based on; a stale one is a 409."
)


class CampaignOut(Schema):
    id: int
    code: str
    name: str
    channel: str
    starts_on: date
    ends_on: date | None
    budget: Decimal
    cost: Decimal
    notes: str
    owner: UserRef | None
    created_at: datetime
    updated_at: datetime
    version: str = Field(description="The campaign's version: send it back with a change (PATCH).")

    @staticmethod
    def resolve_version(obj: Campaign) -> str:
        return version_token(obj)


class CampaignFilters(ListParams):
    channel: Channel | None = None
    ordering: CampaignOrdering = "-starts"


class CampaignPage(Schema):
    count: int = Field(description="Matching rows, counted up to 10,000.")
    next_offset: int | None
    items: list[CampaignOut]


class CampaignIn(Schema):
    code: Code = Field(description="The utm_campaign its events are tagged with.")
    name: Name200
    channel: Channel
    starts_on: date
    ends_on: date | None = Field(None, description="None: still running.")
    budget: Money = Decimal(0)
    cost: Money = Field(Decimal(0), description="Spent so far.")
    notes: LongText = ""
    owner_id: Id | None = None


class CampaignPatch(Schema):
    """Only the fields sent change; `version` is required."""

    version: Moment = Field(description=CAMPAIGN_VERSION_HELP)
    code: Code | None = None
    name: Name200 | None = None
    channel: Channel | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    budget: Money | None = None
    cost: Money | None = None
    notes: LongText | None = None
    owner_id: Id | None = None
