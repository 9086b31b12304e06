"""On time, late, missed: the tactics' SLA per tactic, per person and by month; goals' progress.

The state of a piece of work depends on when it was due, when it counted as done
(measure.measured_at, computed at read time) and now; it is the same rule as
rules.sla, written as a CASE over the annotated moment so the database counts the
states grouped by tactic, person or month: one query per table, whatever the number of
occurrences, and no rows come back to Python but the counts.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    ExpressionWrapper,
    F,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import TruncMonth
from django.utils import timezone

from keel.accounts.models import User
from keel.planning.goal_queries import goal_query_value
from keel.planning.measure import MEASURED_AT, occurrences_measured
from keel.planning.models import Goal, Occurrence, Tactic
from keel.planning.rules import LATE_GRACE, Sla
from keel.scorecard import rules as scorecard_rules
from keel.scorecard.rules import Pace
from keel.scorecard.selectors import month_bounds, trend

STATE = "sla_state"


@dataclass(frozen=True)
class SlaCounts:
    open: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    missed: int = 0

    @property
    def total(self) -> int:
        return self.open + self.on_time + self.late + self.overdue + self.missed

    @property
    def on_time_rate(self) -> Decimal | None:
        """The share done on time of the work that was due (open work is not judged yet)."""
        due = self.total - self.open
        return None if due == 0 else Decimal(self.on_time) / Decimal(due)


def sla_state(*, now: datetime) -> Case:
    """rules.sla as an expression over `due_at` and the annotated `measured_at`.

    Each test reads the moment once (a comparison with NULL is not true), so the
    database works out when a piece counted as done at most three times per row.
    """
    grace_end = ExpressionWrapper(F("due_at") + Value(LATE_GRACE), output_field=DateTimeField())
    return Case(
        When(**{f"{MEASURED_AT}__lte": F("due_at")}, then=Value(Sla.ON_TIME.value)),
        When(**{f"{MEASURED_AT}__lte": grace_end}, then=Value(Sla.LATE.value)),
        When(**{f"{MEASURED_AT}__isnull": False}, then=Value(Sla.MISSED.value)),
        When(due_at__gte=now, then=Value(Sla.OPEN.value)),
        When(due_at__gte=now - LATE_GRACE, then=Value(Sla.OVERDUE.value)),
        default=Value(Sla.MISSED.value),
        output_field=CharField(),
    )


def occurrences_judged(*, occurrences: QuerySet[Occurrence], now: datetime) -> QuerySet[Occurrence]:
    """`occurrences` annotated with `measured_at` and their `sla_state` as of `now`."""
    return occurrences_measured(occurrences=occurrences).annotate(**{STATE: sla_state(now=now)})


def sla_counts(
    *, occurrences: QuerySet[Occurrence], now: datetime, by: Iterable[str] = ()
) -> dict[tuple[Any, ...], SlaCounts]:
    """The SLA states of `occurrences` as of `now`, counted per value of the fields `by`.

    One query grouped by `by` and the state: the state's expression is written once.
    """
    keys = tuple(by)
    judged = occurrences_judged(occurrences=occurrences, now=now).order_by()
    rows = judged.values(*keys, STATE).annotate(n=Count("pk")).order_by()
    tallies: dict[tuple[Any, ...], dict[str, int]] = {}
    for row in rows:
        group = tallies.setdefault(tuple(row[k] for k in keys), {})
        group[row[STATE]] = row["n"]
    if not keys and not tallies:
        tallies[()] = {}
    return {key: SlaCounts(**tally) for key, tally in sorted(tallies.items(), key=_order)}


def _order(item: tuple[tuple[Any, ...], Any]) -> tuple[Any, ...]:
    return tuple((value is None, value) for value in item[0])


def _due_between(start: datetime, end: datetime, person: User | None) -> QuerySet[Occurrence]:
    rows = Occurrence.objects.filter(due_at__gte=start, due_at__lt=end)
    return rows if person is None else rows.filter(person=person)


@dataclass(frozen=True)
class SlaRow:
    tactic: Tactic
    person: User | None
    counts: SlaCounts


def sla_by_tactic(
    *, start: datetime, end: datetime, now: datetime, person: User | None = None
) -> list[SlaRow]:
    """Per tactic, the states of the work due from `start` to `end` (of `person` if given)."""
    counts = sla_counts(occurrences=_due_between(start, end, person), now=now, by=["tactic"])
    tactics = Tactic.objects.in_bulk([key[0] for key in counts])
    return [SlaRow(tactics[key[0]], person, c) for key, c in counts.items()]


def sla_by_person(
    *, start: datetime, end: datetime, now: datetime, tactic: Tactic | None = None
) -> list[SlaRow]:
    """Per person and tactic, the states of the work due from `start` to `end`."""
    rows = _due_between(start, end, None)
    if tactic is not None:
        rows = rows.filter(tactic=tactic)
    counts = sla_counts(occurrences=rows, now=now, by=["person", "tactic"])
    people = User.objects.in_bulk([key[0] for key in counts])
    tactics = Tactic.objects.in_bulk([key[1] for key in counts])
    return [SlaRow(tactics[key[1]], people[key[0]], c) for key, c in counts.items()]


def sla_trend(
    *,
    through: date,
    now: datetime,
    months: int = 12,
    person: User | None = None,
    tactic: Tactic | None = None,
) -> dict[date, SlaCounts]:
    """The states of the work due in each of the `months` months ending with `through`."""
    last = scorecard_rules.month_start(through)
    first = last
    for _ in range(months - 1):
        first = scorecard_rules.previous_month(first)
    rows = _due_between(month_bounds(first)[0], month_bounds(last)[1], person)
    if tactic is not None:
        rows = rows.filter(tactic=tactic)
    rows = rows.annotate(month=TruncMonth("due_at", tzinfo=timezone.get_default_timezone()))
    counts = sla_counts(occurrences=rows, now=now, by=["month"])
    found = {_as_date(key[0]): c for key, c in counts.items()}
    result: dict[date, SlaCounts] = {}
    month = first
    while month <= last:
        result[month] = found.get(month, SlaCounts())
        month = scorecard_rules.next_month(month)
    return result


def _as_date(value: date | datetime) -> date:
    # TruncMonth gives a datetime (PostgreSQL, SQLite) for a DateTimeField.
    return value.date() if isinstance(value, datetime) else value


@dataclass(frozen=True)
class GoalProgress:
    """A goal's figure so far (its metric's months summed) against a linear pace mark."""

    goal: Goal
    actual: Decimal | None
    expected: Decimal  # the target spread evenly over the goal's days, up to today
    pace: Pace
    months: dict[date, Decimal | None] = field(default_factory=dict)

    @property
    def share(self) -> Decimal | None:
        return None if self.actual is None else self.actual / self.goal.target


def goal_progress(*, goal: Goal, today: date) -> GoalProgress:
    """Sum the goal's metric, month by month, from its start to today (or its end); or
    count its query (goal_queries.py) over the same days.

    Whole calendar months are summed, the first and last included, so a goal starting
    mid-month counts that month's figure in full. Neither metric nor query: NO_GOAL; no
    figures: NO_DATA.
    """
    span = max((goal.ends_on - goal.starts_on).days, 1)
    elapsed = (min(max(today, goal.starts_on), goal.ends_on) - goal.starts_on).days
    expected = goal.target * Decimal(elapsed) / Decimal(span)
    if goal.query:
        last_day = min(max(today, goal.starts_on), goal.ends_on)
        counted = goal_query_value(query=goal.query, first=goal.starts_on, last=last_day)
        pace = scorecard_rules.pace(actual=counted, target=expected, lower_is_better=False)
        return GoalProgress(goal=goal, actual=counted, expected=expected, pace=pace)
    if goal.metric is None:
        return GoalProgress(goal=goal, actual=None, expected=expected, pace=Pace.NO_GOAL)
    first = scorecard_rules.month_start(goal.starts_on)
    last = scorecard_rules.month_start(min(max(today, goal.starts_on), goal.ends_on))
    count = (last.year - first.year) * 12 + last.month - first.month + 1
    key = goal.metric.key
    figures = trend(through=last, months=count, keys=[key])
    months = {month: found.get(key) for month, found in figures.items()}
    known = [v for v in months.values() if v is not None]
    actual = sum(known, Decimal(0)) if known else None
    pace = scorecard_rules.pace(actual=actual, target=expected, lower_is_better=False)
    return GoalProgress(goal=goal, actual=actual, expected=expected, pace=pace, months=months)
