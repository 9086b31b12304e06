"""When each piece of work counted as done, measured in Keel's records at read time.

Nothing is written: `occurrences_measured` annotates a queryset of occurrences with
`measured_at`, one SQL query whatever their number (a correlated subquery per measure
and window, chosen row by row with CASE on the tactic's measure and shape):

- task_completed: the task's `done_at`;
- activity_logged: the first activity of the tactic's type logged by the person in the
  occurrence's window — for a recurring one its day where the person is (`opens_at` to
  `closes_at`), for a triggered one after the event (`opens_at`) and on its deal, else
  its company, if it has one;
- record_created: the first company, contact or deal the person owns that was created
  in the same window.

Ticking the task off counts only for task_completed: the other two are measured by the
records the work leaves, never self-reported.

A target occurrence is measured by its task; how far its count has come is
`target_progress` (records or activities counted from the plan's start to `due_on`).
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    Min,
    Model,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from keel.accounts.models import User
from keel.activities.models import Activity
from keel.crm.models import Company, Contact
from keel.pipeline.models import Deal
from keel.planning.models import Measure, Occurrence, RecordKind, Shape, Tactic
from keel.planning.scheduler import day_bounds
from keel.scorecard.rules import Pace

MEASURED_AT = "measured_at"
RECORDS: dict[str, type[Model]] = {
    RecordKind.COMPANY: Company,
    RecordKind.CONTACT: Contact,
    RecordKind.DEAL: Deal,
}
NOTHING = Value(None, output_field=DateTimeField())


def _first(rows: QuerySet[Any], *, at: str, by: str) -> Subquery:
    """The earliest `at` of `rows` (already narrowed to one person) as a subquery."""
    return Subquery(
        rows.order_by().values(by).annotate(first=Min(at)).values("first")[:1],
        output_field=DateTimeField(),
    )


def _windowed(rows: QuerySet[Any], *, at: str, by: str, subject: bool) -> Case:
    """The first of `rows` in the occurrence's window: its day, or after its event.

    `subject`: a triggered occurrence about a deal (or a company) counts only rows about it.
    """
    after = rows.filter(**{f"{at}__gte": OuterRef("opens_at")})
    on_the_day = after.filter(**{f"{at}__lt": OuterRef("closes_at")})
    triggered: list[When] = []
    if subject:
        triggered = [
            When(
                deal__isnull=False, then=_first(after.filter(deal=OuterRef("deal")), at=at, by=by)
            ),
            When(
                company__isnull=False,
                then=_first(after.filter(company=OuterRef("company")), at=at, by=by),
            ),
        ]
    return Case(
        When(tactic__shape=Shape.RECURRING, then=_first(on_the_day, at=at, by=by)),
        When(tactic__shape=Shape.TRIGGERED, then=_triggered(triggered, after, at=at, by=by)),
        default=NOTHING,
        output_field=DateTimeField(),
    )


def _triggered(about: list[When], after: QuerySet[Any], *, at: str, by: str) -> Case:
    return Case(*about, default=_first(after, at=at, by=by), output_field=DateTimeField())


def _activity_logged() -> Case:
    rows = Activity.objects.filter(by=OuterRef("person"), type=OuterRef("tactic__activity_type"))
    return _windowed(rows, at="at", by="by", subject=True)


def _record_created(kinds: Collection[str]) -> Case:
    return Case(
        *[
            When(
                tactic__record_kind=kind,
                then=_windowed(
                    model._default_manager.filter(owner=OuterRef("person")),
                    at="created_at",
                    by="owner",
                    subject=False,
                ),
            )
            for kind, model in RECORDS.items()
            if kind in kinds
        ],
        default=NOTHING,
        output_field=DateTimeField(),
    )


def measured_at(*, used: Collection[tuple[str, str]] | None = None) -> Case:
    """The expression of when an occurrence counted as done (None: not done).

    `used`: the (measure, record kind) pairs the tactics use; the expression leaves out
    the others (a smaller query to build and to run). None: every measure.
    """
    if used is None:
        used = [(Measure.ACTIVITY_LOGGED, "")] + [(Measure.RECORD_CREATED, k) for k in RECORDS]
    measures = {measure for measure, _ in used}
    kinds = {kind for measure, kind in used if measure == Measure.RECORD_CREATED}
    branches = []
    if Measure.ACTIVITY_LOGGED in measures:
        branches.append(When(tactic__measure=Measure.ACTIVITY_LOGGED, then=_activity_logged()))
    if kinds:
        branches.append(When(tactic__measure=Measure.RECORD_CREATED, then=_record_created(kinds)))
    # Any other measure (task_completed), and a record kind no tactic uses: the task.
    record = When(tactic__measure=Measure.RECORD_CREATED, then=NOTHING)
    return Case(*branches, record, default=F("task__done_at"), output_field=DateTimeField())


def occurrences_measured(*, occurrences: QuerySet[Occurrence]) -> QuerySet[Occurrence]:
    """`occurrences`, each annotated with `measured_at`: when it counted as done.

    One small read first: the measures the tactics use, so the expression holds those.
    """
    used = set(Tactic.objects.values_list("measure", "record_kind").distinct().order_by())
    return occurrences.annotate(**{MEASURED_AT: measured_at(used=used)})


def done_moments(*, occurrences: QuerySet[Occurrence]) -> dict[int, datetime | None]:
    """Each occurrence's id and when it counted as done, in one query."""
    rows = occurrences_measured(occurrences=occurrences).values_list("pk", MEASURED_AT)
    return dict(rows.order_by())


@dataclass(frozen=True)
class TargetProgress:
    """How far a person has come on a count by a date; the pace is linear by time."""

    tactic: Tactic
    count: int
    target: int
    expected: Decimal  # what a steady pace from the plan's start would have reached by now
    pace: Pace

    @property
    def share(self) -> Decimal:
        return Decimal(self.count) / Decimal(self.target) if self.target else Decimal(0)


def target_count(*, tactic: Tactic, person: User) -> int:
    """The qualifying records or activities `person` made from the plan's start to `due_on`."""
    if tactic.due_on is None:
        raise ValueError(f"{tactic} has no date to count up to.")
    start = day_bounds(tactic.plan.starts_on, person.zone)[0]
    end = day_bounds(tactic.due_on, person.zone)[1]
    if tactic.measure == Measure.ACTIVITY_LOGGED:
        return Activity.objects.filter(
            by=person, type=tactic.activity_type, at__gte=start, at__lt=end
        ).count()
    if tactic.measure == Measure.RECORD_CREATED:
        model = RECORDS[tactic.record_kind]
        return model._default_manager.filter(
            owner=person, created_at__gte=start, created_at__lt=end
        ).count()
    # Measured by its task alone: the whole count once the task is ticked off.
    done = Occurrence.objects.filter(
        tactic=tactic, person=person, task__done_at__isnull=False
    ).exists()
    return (tactic.target_count or 0) if done else 0


def target_progress(*, tactic: Tactic, person: User, now: datetime) -> TargetProgress:
    """`person`'s count on a target tactic as of `now`, against a linear pace."""
    if tactic.shape != Shape.TARGET or tactic.due_on is None or not tactic.target_count:
        raise ValueError(f"{tactic} is not a count by a date.")
    count = target_count(tactic=tactic, person=person)
    first, last = tactic.plan.starts_on, tactic.due_on
    today = min(max(timezone.localtime(now, person.zone).date(), first), last)
    span = max((last - first).days, 1)
    expected = Decimal(tactic.target_count) * Decimal((today - first).days) / Decimal(span)
    pace = Pace.ON_TRACK if count >= expected else Pace.BEHIND
    return TargetProgress(
        tactic=tactic, count=count, target=tactic.target_count, expected=expected, pace=pace
    )


def target_counts(*, tactic: Tactic, people: list[User]) -> dict[int, int]:
    """Each person's count on a target tactic, grouped: one query per time zone among them
    (a count runs from the plan's first day to `due_on` where each person is)."""
    if tactic.due_on is None:
        raise ValueError(f"{tactic} has no date to count up to.")
    if tactic.measure not in (Measure.ACTIVITY_LOGGED, Measure.RECORD_CREATED):
        return {p.pk: target_count(tactic=tactic, person=p) for p in people}
    zones: dict[str, list[int]] = {}
    for person in people:
        zones.setdefault(str(person.zone), []).append(person.pk)
    counts = dict.fromkeys([p.pk for p in people], 0)
    for zone_name, ids in zones.items():
        zone = ZoneInfo(zone_name)
        start = day_bounds(tactic.plan.starts_on, zone)[0]
        end = day_bounds(tactic.due_on, zone)[1]
        rows: QuerySet[Any]
        if tactic.measure == Measure.ACTIVITY_LOGGED:
            rows = Activity.objects.filter(by_id__in=ids, type=tactic.activity_type,
                                           at__gte=start, at__lt=end).values("by_id")  # fmt: skip
            key = "by_id"
        else:
            model = RECORDS[tactic.record_kind]
            rows = model._default_manager.filter(
                owner_id__in=ids, created_at__gte=start, created_at__lt=end
            ).values("owner_id")
            key = "owner_id"
        for row in rows.order_by().annotate(n=Count("pk")):
            counts[row[key]] = row["n"]
    return counts
