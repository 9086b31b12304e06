"""The API's view of marketing events."""

from typing import Annotated, Any

from ninja import Field, Schema
from pydantic import StringConstraints

from keel.api.schemas import NO_NUL, Id, Moment, Text100, Text300
from keel.leads.models import EventType
from keel.leads.services import MAX_EVENTS

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
