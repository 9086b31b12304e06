"""The API's view of activities and tasks."""

from datetime import datetime
from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import StringConstraints

from keel.activities.models import ActivityType, Outcome
from keel.api.pagination import ListParams
from keel.api.schemas import NO_NUL, Id, LongText, Moment, UserRef
from keel.crm.models import Channel

TaskTitle = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)]

ActivityOrdering = Literal["at", "-at"]
TaskOrdering = Literal["due", "-due", "title", "-title", "owner", "-owner", "done", "-done"]


class ActivityOut(Schema):
    id: int
    type: str
    outcome: str
    channel: str
    at: datetime
    duration_minutes: int | None
    by: UserRef
    deal_id: int | None
    contact_id: int | None
    company_id: int | None
    notes: str
    created_at: datetime


class ActivityFilters(ListParams):
    deal: Id | None = None
    contact: Id | None = None
    company: Id | None = None
    by: Id | None = Field(None, description="Who logged it (user id).")
    type: ActivityType | None = None
    since: Moment | None = None
    until: Moment | None = None
    ordering: ActivityOrdering = "-at"


class ActivityPage(Schema):
    count: int = Field(description="Matching rows, counted up to 10,000.")
    next_offset: int | None
    items: list[ActivityOut]


class ActivityIn(Schema):
    """A touch logged on a deal, a contact or a company (at least one of them)."""

    type: ActivityType
    outcome: Outcome | None = None
    deal_id: Id | None = None
    contact_id: Id | None = None
    company_id: Id | None = None
    at: Moment | None = Field(None, description="Default: now.")
    channel: Channel | None = None
    duration_minutes: int | None = Field(None, ge=0, le=100_000)
    notes: LongText = ""


class TaskOut(Schema):
    id: int
    title: str
    owner: UserRef
    due_at: datetime | None
    done_at: datetime | None
    source: str
    deal_id: int | None
    company_id: int | None
    created_at: datetime


class TaskFilters(ListParams):
    scope: Literal["mine", "team"] = Field(
        "mine", description="Your tasks, or every task you may read."
    )
    when: Literal["open", "overdue", "today", "upcoming", "done"] = "open"
    ordering: TaskOrdering = "due"


class TaskPage(Schema):
    count: int = Field(description="Matching rows, counted up to 10,000.")
    next_offset: int | None
    items: list[TaskOut]


class TaskIn(Schema):
    title: TaskTitle
    due_at: Moment | None = None
    owner_id: Id | None = Field(None, description="Default: you; a manager may give tasks.")
    deal_id: Id | None = None
    company_id: Id | None = None


class TaskPatch(Schema):
    """Complete or reopen a task (`done`), or move its due date (`due_at`)."""

    done: bool | None = None
    due_at: Moment | None = None
