"""The API's view of metrics, their monthly values and goals: what goes in, what comes out."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from ninja import Field, Schema
from pydantic import StringConstraints

from keel.api.pagination import ListParams
from keel.api.schemas import Id, Text300, UserRef
from keel.scorecard.models import CaptureMethod, Goal, MetricStage, MetricValue, Phasing
from keel.scorecard.rules import Pace

MetricKey = Annotated[
    str, StringConstraints(min_length=1, max_length=60, pattern=r"^[-a-zA-Z0-9_]+$")
]
# A calendar month; the year from 1000 so that every month matched is a date.
Month = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$")]
Year = Annotated[int, Field(ge=2000, le=2200)]


def month_date(month: str) -> date:
    """The first day of a month written YYYY-MM (as Month checks)."""
    year, number = month.split("-")
    return date(int(year), int(number), 1)


class MetricOut(Schema):
    key: str
    name: str
    stage: MetricStage
    unit: str
    capture_method: CaptureMethod
    owner: UserRef | None
    description: str
    position: int
    is_active: bool


class MetricFilters(ListParams):
    stage: MetricStage | None = None
    capture_method: CaptureMethod | None = None
    is_active: bool | None = None


class MetricPage(Schema):
    count: int = Field(description="Matching rows, counted up to 10,000.")
    next_offset: int | None
    items: list[MetricOut]


class ValueIn(Schema):
    month: Month = Field(description="The month the figure is for, YYYY-MM; begun already.")
    value: Decimal = Field(description='A number, or a decimal string such as "1250.50".')
    team_id: Id | None = Field(None, description="A team's figure; with no team nor person, "
                               "the company's.")  # fmt: skip
    person_id: Id | None = Field(None, description="A person's figure (not with team_id).")
    note: Text300 = ""


class ValueOut(Schema):
    id: int
    metric: str = Field(description="The metric's key.")
    month: str = Field(description="YYYY-MM")
    value: Decimal
    team_id: int | None
    person_id: int | None
    source: str
    entered_by: UserRef | None
    entered_at: datetime
    note: str
    current: bool = Field(
        description="The month's figure for its scope; false once a later entry supersedes it."
    )

    @staticmethod
    def resolve_metric(obj: MetricValue) -> str:
        return obj.metric.key

    @staticmethod
    def resolve_month(obj: MetricValue) -> str:
        return f"{obj.month:%Y-%m}"

    @staticmethod
    def resolve_current(obj: MetricValue) -> bool:
        # Ranked history rows carry their rank; an entry just stored is its month's figure.
        return getattr(obj, "rank", 1) == 1


class ValueFilters(ListParams):
    month: Month | None = Field(None, description="Only this month, YYYY-MM.")


class ValuePage(Schema):
    count: int = Field(description="Matching rows, counted up to 10,000.")
    next_offset: int | None
    items: list[ValueOut]


class GoalIn(Schema):
    target: Decimal = Field(description="The figure for the whole year, zero or more.")
    phasing: Phasing = Phasing.EVEN
    weights: list[Decimal] | None = Field(
        None,
        max_length=12,
        description="Seasonal phasing: 12 weights, January to December; only their ratios "
        "count. None for an even phasing.",
    )


class GoalOut(Schema):
    metric: str = Field(description="The metric's key.")
    year: int
    target: Decimal
    phasing: Phasing
    weights: list[Decimal]
    updated_at: datetime
    updated_by: UserRef | None

    @staticmethod
    def resolve_metric(obj: Goal) -> str:
        return obj.metric.key

    @staticmethod
    def resolve_weights(obj: Goal) -> list[Decimal]:
        return [Decimal(str(w)) for w in obj.weights or []]


class ScorecardFilters(Schema):
    team_id: Id | None = Field(None, description="A team's scorecard.")
    person_id: Id | None = Field(None, description="A person's scorecard (not with team_id).")


class ScopeOut(Schema):
    label: str
    team_id: int | None
    person_id: int | None


class ScorecardRowOut(Schema):
    key: str
    name: str
    stage: MetricStage
    unit: str
    lower_is_better: bool
    this_month: Decimal | None
    last_month: Decimal | None
    last_year: Decimal | None = Field(description="The same month a year earlier.")
    change: Decimal | None
    change_percent: Decimal | None
    month_target: Decimal | None
    ytd: Decimal | None
    ytd_target: Decimal | None
    projected: Decimal | None = Field(description="The year-end at the current pace.")
    pace: Pace


class ScorecardOut(Schema):
    month: Month
    scope: ScopeOut
    rows: list[ScorecardRowOut] = Field(description="Every active metric, Suspect first.")
