"""A person's three questions: what's my job, what counts, how am I doing.

`job(person=…, month=…, now=…)` reads everything the "My job" page and
`keel accountability` show, in a bounded number of queries whatever the size of the
business: each list is one query over the person's own rows.

- What's my job: their role and team, their tactics in plain words with the plan,
  strategy and goals each serves, and the completion-plan steps their deals ask of them.
- What counts: their work in order (late first, then due soonest), the metrics they
  answer for with this year's target, the goals they own with their pace, and the rule
  for trade-offs their manager set.
- How am I doing: the month's tactic SLA against their own three months before and the
  on-time target, their counts against their targets, their own figures this month
  against last month and the same month last year (never ranked against colleagues),
  their pipeline, and the check-ins their manager wrote.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Prefetch, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from keel.accounts.models import User
from keel.activities.models import Task, TaskSource
from keel.pipeline.models import Deal, DealStatus
from keel.planning import rules
from keel.planning.access import check_ins_visible
from keel.planning.measure import MEASURED_AT, TargetProgress, occurrences_measured, target_progress
from keel.planning.models import (
    CheckIn,
    Goal,
    Measure,
    Occurrence,
    Shape,
    Tactic,
    TradeOffRule,
    Trigger,
)
from keel.planning.sla import GoalProgress, SlaCounts, goal_progress, sla_counts
from keel.scorecard import rules as scorecard_rules
from keel.scorecard.models import Goal as MetricGoal
from keel.scorecard.models import Metric
from keel.scorecard.selectors import Scope, ScorecardRow, month_bounds, scorecard

WORK_LIMIT = 20  # the late and due work listed, in order
STEP_LIMIT = 10  # the completion-plan steps listed, soonest first
CHECK_IN_LIMIT = 6
DUE_AHEAD = timedelta(days=7)  # work due within a week counts now
HISTORY_MONTHS = 3  # the months before this one a person compares themselves with
# A person's own results on their page: their conversion into customers and bookings,
# read from their closed deals alone (the whole scorecard of anyone is at
# /scorecard/?person=…; their activity is judged by their tactics above).
OWN_FIGURES = ("deals_won", "close_rate", "bookings", "average_deal_size")

TRIGGER_WORDS = {
    Trigger.DOSSIER_COMPLETED: "a whale's dossier is completed",
    Trigger.DEAL_ENTERED_STAGE: "a deal enters {stage}",
    Trigger.LEAD_QUALIFIED: "a lead is qualified",
    Trigger.INQUIRY_RECEIVED: "an inquiry comes in",
    Trigger.DEAL_WON: "a deal is won",
}
RECORD_WORDS = {"company": "a company", "contact": "a contact", "deal": "a deal"}


def tactic_words(tactic: Tactic) -> str:
    """What a tactic asks, in plain words: "60 minutes each weekday"."""
    if tactic.shape == Shape.RECURRING:
        time = f"{tactic.minutes} minutes " if tactic.minutes else ""
        return f"{time}{rules.schedule_words(tactic.schedule)}"
    if tactic.shape == Shape.TRIGGERED:
        event = TRIGGER_WORDS.get(Trigger(tactic.trigger), tactic.trigger)
        days = tactic.deadline_days or 0
        within = "the same day" if days == 0 else f"{days} day{'s' if days != 1 else ''}"
        return f"within {within} after {event.format(stage=tactic.trigger_stage or 'a stage')}"
    return f"{tactic.target_count} by {tactic.due_on:%d %B %Y}"


def done_words(tactic: Tactic) -> str:
    """What counts as done, in Keel's records."""
    if tactic.measure == Measure.ACTIVITY_LOGGED:
        return f"{tactic.get_activity_type_display().lower()} logged"
    if tactic.measure == Measure.RECORD_CREATED:
        return f"{RECORD_WORDS.get(tactic.record_kind, 'a record')} created"
    return "its task ticked off"


@dataclass(frozen=True)
class JobTactic:
    tactic: Tactic
    words: str
    done: str
    goals: list[Goal]


@dataclass(frozen=True)
class Work:
    """A piece of work due or late now."""

    tactic: str
    due_at: datetime
    state: rules.Sla
    task_id: int | None


@dataclass(frozen=True)
class OwnedMetric:
    metric: Metric
    target: Decimal | None  # this year's
    row: ScorecardRow | None  # the company's figures for it this month and year to date


@dataclass(frozen=True)
class TacticSla:
    tactic: Tactic
    counts: SlaCounts
    before: SlaCounts  # the HISTORY_MONTHS months before, together

    @property
    def on_track(self) -> bool:
        return rules.on_track(on_time_rate=self.counts.on_time_rate)


@dataclass(frozen=True)
class Pipeline:
    open_deals: int
    open_amounts: dict[str, Decimal]
    won_this_year: int
    lost_this_year: int
    won_last_year: int
    lost_last_year: int

    @staticmethod
    def _rate(won: int, lost: int) -> Decimal | None:
        return None if won + lost == 0 else Decimal(won) / Decimal(won + lost)

    @property
    def win_rate(self) -> Decimal | None:
        return self._rate(self.won_this_year, self.lost_this_year)

    @property
    def win_rate_last_year(self) -> Decimal | None:
        return self._rate(self.won_last_year, self.lost_last_year)


@dataclass(frozen=True)
class Job:
    person: User
    month: date
    now: datetime
    tactics: list[JobTactic]
    plan_steps: list[Task]
    plan_steps_open: int
    late: list[Work]
    due: list[Work]
    metrics: list[OwnedMetric]
    goals: list[GoalProgress]
    targets: list[TargetProgress]
    trade_off: TradeOffRule | None
    sla: list[TacticSla]
    trend: dict[date, SlaCounts]
    figures: list[ScorecardRow]  # their own, this month against their history
    pipeline: Pipeline
    check_ins: list[CheckIn]

    @property
    def sla_total(self) -> SlaCounts:
        return sum_counts(row.counts for row in self.sla)

    @property
    def behind(self) -> list[TacticSla]:
        return [row for row in self.sla if not row.on_track]


def sum_counts(counts: Iterable[SlaCounts]) -> SlaCounts:
    total = {state.value: 0 for state in rules.Sla}
    for c in counts:
        for state in rules.Sla:
            total[state.value] += getattr(c, state.value)
    return SlaCounts(**total)


def tactics_of(person: User) -> list[Tactic]:
    """The active tactics asking something of `person`: theirs by name, or by role in a
    plan of the business or of their team."""
    their_plans = Q(plan__team__isnull=True) | Q(plan__team_id=person.team_id)
    mine = Q(person=person) | (Q(role=person.role, person__isnull=True) & their_plans)
    goals = Prefetch("plan__strategy__goals", queryset=Goal.objects.select_related("metric"))
    return list(
        Tactic.objects.filter(mine, is_active=True, plan__is_active=True)
        .select_related("plan__strategy", "plan__team")
        .prefetch_related(goals)
        .order_by("plan__name", "position", "name")
    )


def _work(person: User, now: datetime) -> tuple[list[Work], list[Work]]:
    """Late and soon-due work: the pieces not done of the grace period up to a week ahead."""
    window = Occurrence.objects.filter(
        person=person, due_at__gte=now - rules.LATE_GRACE, due_at__lte=now + DUE_AHEAD
    )
    rows = occurrences_measured(occurrences=window).order_by("due_at", "id")
    late: list[Work] = []
    due: list[Work] = []
    for name, due_at, done, task in rows.values_list("tactic__name", "due_at", MEASURED_AT,
                                                     "task_id"):  # fmt: skip
        state = rules.sla(due=due_at, done=done, now=now)
        if state == rules.Sla.OVERDUE and len(late) < WORK_LIMIT:
            late.append(Work(name, due_at, state, task))
        elif state == rules.Sla.OPEN and len(due) < WORK_LIMIT:
            due.append(Work(name, due_at, state, task))
    return late, due


def _metrics(person: User, month: date) -> list[OwnedMetric]:
    owned = list(Metric.objects.filter(owner=person, is_active=True).order_by("name"))
    if not owned:
        return []
    targets = dict(
        MetricGoal.objects.filter(metric__in=owned, year=month.year).values_list(
            "metric_id", "target"
        )
    )
    rows = {row.key: row for row in scorecard(month=month, scope=Scope()).rows()}
    return [OwnedMetric(m, targets.get(m.pk), rows.get(m.key)) for m in owned]


def _pipeline(person: User, year: int) -> Pipeline:
    zone = person.zone
    start = datetime(year - 1, 1, 1, tzinfo=zone)
    middle, end = start.replace(year=year), start.replace(year=year + 1)
    closed = Deal.objects.filter(owner=person, closed_at__gte=start, closed_at__lt=end).aggregate(
        won=Count("pk", filter=Q(status=DealStatus.WON, closed_at__gte=middle)),
        lost=Count("pk", filter=Q(status=DealStatus.LOST, closed_at__gte=middle)),
        won_before=Count("pk", filter=Q(status=DealStatus.WON, closed_at__lt=middle)),
        lost_before=Count("pk", filter=Q(status=DealStatus.LOST, closed_at__lt=middle)),
    )
    amounts = (
        Deal.objects.filter(owner=person, status=DealStatus.OPEN)
        .order_by()
        .values("currency")
        .annotate(amount=Sum("amount"), deals=Count("pk"))
    )
    return Pipeline(
        open_deals=sum(row["deals"] for row in amounts),
        open_amounts={row["currency"]: row["amount"] or Decimal(0) for row in amounts},
        won_this_year=closed["won"],
        lost_this_year=closed["lost"],
        won_last_year=closed["won_before"],
        lost_last_year=closed["lost_before"],
    )


def _sla(person: User, month: date, now: datetime) -> tuple[list[TacticSla], dict[date, SlaCounts]]:
    """The month's states per tactic, the HISTORY_MONTHS before it, and each month's
    totals: one query, grouped by tactic and month (the person's months, where they are)."""
    months = [month]
    for _ in range(HISTORY_MONTHS):
        months.insert(0, scorecard_rules.previous_month(months[0]))
    zone = person.zone
    work = Occurrence.objects.filter(
        person=person,
        due_at__gte=month_bounds(months[0], zone)[0],
        due_at__lt=month_bounds(month, zone)[1],
    ).annotate(month=TruncMonth("due_at", tzinfo=zone))
    counted = sla_counts(occurrences=work, now=now, by=["tactic", "month"])
    this: dict[int, SlaCounts] = {}
    before: dict[int, list[SlaCounts]] = {}
    by_month: dict[date, list[SlaCounts]] = {m: [] for m in months}
    for (tactic_id, when), counts in counted.items():
        day = when.date() if isinstance(when, datetime) else when
        by_month.setdefault(day, []).append(counts)
        if day == month:
            this[tactic_id] = counts
        else:
            before.setdefault(tactic_id, []).append(counts)
    tactics = Tactic.objects.in_bulk(list(this))
    rows = [
        TacticSla(tactics[pk], counts, sum_counts(before.get(pk, [])))
        for pk, counts in this.items()
    ]
    rows.sort(key=lambda r: (r.on_track, r.tactic.name))
    return rows, {m: sum_counts(by_month[m]) for m in months}


def job(
    *, person: User, month: date, now: datetime | None = None, viewer: User | None = None
) -> Job:
    """Everything `person`'s three questions need for `month`, as of `now`; the check-ins
    are those `viewer` may read (all of them when no viewer is given: the command line)."""
    now = now or timezone.now()
    month = scorecard_rules.month_start(month)
    today = timezone.localtime(now, person.zone).date()
    tactics = tactics_of(person)
    steps = Task.objects.filter(
        owner=person, source=TaskSource.PLAN_STEP, done_at__isnull=True
    ).select_related("deal")
    late, due = _work(person, now)
    goals = Goal.objects.filter(Q(owner=person) | Q(metric__owner=person)).select_related("metric")
    sla, trend = _sla(person, month, now)
    return Job(
        person=person,
        month=month,
        now=now,
        tactics=[
            JobTactic(t, tactic_words(t), done_words(t), list(t.plan.strategy.goals.all()))
            for t in tactics
        ],
        plan_steps=list(steps.order_by("due_at", "id")[:STEP_LIMIT]),
        plan_steps_open=steps.count(),
        late=late,
        due=due,
        metrics=_metrics(person, month),
        goals=[goal_progress(goal=g, today=today) for g in goals],
        targets=[
            target_progress(tactic=t, person=person, now=now)
            for t in tactics
            if t.shape == Shape.TARGET and t.due_on is not None and t.target_count
        ],
        trade_off=TradeOffRule.objects.filter(person=person).select_related("set_by").first(),
        sla=sla,
        trend=trend,
        figures=[
            row
            for row in scorecard(month=month, scope=Scope(person=person), keys=OWN_FIGURES).rows()
            if any((row.this_month, row.last_month, row.last_year, row.ytd))
        ],
        pipeline=_pipeline(person, month.year),
        check_ins=list(
            (CheckIn.objects.all() if viewer is None else check_ins_visible(viewer))
            .filter(person=person)
            .select_related("author")[:CHECK_IN_LIMIT]
        ),
    )
