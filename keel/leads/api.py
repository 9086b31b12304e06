"""Marketing events pushed in bulk by the website and marketing tools.

Who may push: read-write tokens (or sessions) of marketers, sales managers and the owner
(keel/leads/access.py). Each event is checked on its own: the answer counts what was
stored and what was already known, and lists the rejected events by index.
"""

from django.http import HttpRequest
from ninja import Router
from pydantic import ValidationError

from keel.api.auth import actor
from keel.api.schemas import WRITE_ERRORS
from keel.leads.access import ensure_can_push_events
from keel.leads.schemas import EventError, EventIn, EventsIn, IngestOut
from keel.leads.services import EventData, events_ingest

events = Router(tags=["events"])


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
