"""Reads of the scorecard: one month's figure for every metric, company-wide.

A month is a calendar month in Keel's time zone (settings.TIME_ZONE): from its first day
at midnight to the next month's first day at midnight, the end excluded. Each computed
metric counts the records whose time falls in that span:

    Marketing events (leads.MarketingEvent, by occurred_at)
      website_visitors          events of type visit (each visit pushed counts once)
      downloads                 events of type download
      inbound_inquiries         events of type inquiry or form fill (leads.INQUIRY_TYPES)
    Activities (activities.Activity, by at)
      outbound_telemarketing    activities on the cold-calling channel   (research is
      outbound_tradeshows       activities on the tradeshow channel       no touch and
      outbound_networking       activities on the networking channel      is left out
      outbound_social           activities on the social-selling channel  of these four)
      calls                     activities of type call, whatever the outcome
      connects                  calls with outcome connected
      presentations_given       activities of type presentation, less the no-shows
      proposals_submitted       activities of type proposal sent
    Contacts (crm.Contact, by qualified_at)
      qualified_conversations   contacts who met the lead definition in the month
    Deals (pipeline.Deal, by closed_at)
      deals_won                 deals with status won
      close_rate                won ÷ (won + lost) × 100, to 0.1; none if none closed
      new_customers             companies with a deal won in the month and none won
                                before it (a first purchase)
      bookings                  the sum of the amounts of the deals won, in the
                                business's currency (KEEL_CURRENCY); deals in another
                                currency are left out until Keel converts currencies
      average_deal_size         bookings ÷ the won deals counted in bookings (with an
                                amount in the business's currency), to 0.01; none if none
      sales_cycle_days          the mean (not median: SQLite has none) of the days from
                                created_at to closed_at of the deals won, to 0.1; none
                                if none

A count over a month with no records is a true zero; a ratio with nothing to divide is
None. Months that have not begun are None throughout: nothing is known of them yet.
Manual and pushed metrics are their month's latest company-wide MetricValue, or None.

Each source table is read by one conditional-aggregate query, only if a requested metric
needs it: at most five queries, however many records there are.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from django.conf import settings
from django.db.models import (
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.aggregates import Aggregate, Avg
from django.utils import timezone

from keel.activities.models import Activity, ActivityType, Outcome
from keel.core.exceptions import InvalidInput
from keel.crm.models import Channel, Contact
from keel.leads.models import EventType, MarketingEvent
from keel.leads.services import INQUIRY_TYPES
from keel.pipeline.models import Deal, DealStatus
from keel.scorecard import rules
from keel.scorecard.models import CaptureMethod, Goal, Metric, MetricStage, MetricValue

TENTH = Decimal("0.1")
CENT = Decimal("0.01")
DAY_MICROSECONDS = Decimal(86_400_000_000)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The month's first instant and the next month's, in Keel's time zone."""
    zone = timezone.get_default_timezone()
    start = rules.month_start(month)
    end = rules.next_month(start)
    return (
        datetime(start.year, start.month, 1, tzinfo=zone),
        datetime(end.year, end.month, 1, tzinfo=zone),
    )


def _count(condition: Q) -> Aggregate:
    return Count("pk", filter=condition)


def _event_figures(start: datetime, end: datetime) -> dict[str, Decimal | None]:
    row = MarketingEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end).aggregate(
        website_visitors=_count(Q(type=EventType.VISIT)),
        downloads=_count(Q(type=EventType.DOWNLOAD)),
        inbound_inquiries=_count(Q(type__in=INQUIRY_TYPES)),
    )
    return {key: Decimal(value) for key, value in row.items()}


OUTBOUND_CHANNELS = {
    "outbound_telemarketing": Channel.COLD_CALLING,
    "outbound_tradeshows": Channel.TRADESHOW,
    "outbound_networking": Channel.NETWORKING,
    "outbound_social": Channel.SOCIAL_SELLING,
}


def _activity_figures(start: datetime, end: datetime) -> dict[str, Decimal | None]:
    touch = ~Q(type=ActivityType.RESEARCH)
    outbound = {
        key: _count(touch & Q(channel=channel)) for key, channel in OUTBOUND_CHANNELS.items()
    }
    row = Activity.objects.filter(at__gte=start, at__lt=end).aggregate(
        **outbound,
        calls=_count(Q(type=ActivityType.CALL)),
        connects=_count(Q(type=ActivityType.CALL, outcome=Outcome.CONNECTED)),
        presentations_given=_count(Q(type=ActivityType.PRESENTATION) & ~Q(outcome=Outcome.NO_SHOW)),
        proposals_submitted=_count(Q(type=ActivityType.PROPOSAL_SENT)),
    )
    return {key: Decimal(value) for key, value in row.items()}


def _contact_figures(start: datetime, end: datetime) -> dict[str, Decimal | None]:
    count = Contact.objects.filter(qualified_at__gte=start, qualified_at__lt=end).count()
    return {"qualified_conversations": Decimal(count)}


def _deal_figures(start: datetime, end: datetime) -> dict[str, Decimal | None]:
    won = Q(status=DealStatus.WON)
    booked = won & Q(amount__isnull=False, currency=settings.KEEL_CURRENCY)
    earlier_win = Deal.objects.filter(
        company=OuterRef("company"), status=DealStatus.WON, closed_at__lt=start
    )
    row = Deal.objects.filter(closed_at__gte=start, closed_at__lt=end).aggregate(
        won=_count(won),
        lost=_count(Q(status=DealStatus.LOST)),
        new_customers=Count("company", distinct=True, filter=won & ~Q(Exists(earlier_win))),
        booked=_count(booked),
        bookings=Sum("amount", filter=booked),
        cycle=Avg(
            ExpressionWrapper(F("closed_at") - F("created_at"), output_field=DurationField()),
            filter=won,
        ),
    )
    won_count, lost_count, booked_count = row["won"], row["lost"], row["booked"]
    bookings = Decimal(row["bookings"] or 0)
    closed = won_count + lost_count
    cycle = row["cycle"]
    return {
        "deals_won": Decimal(won_count),
        "close_rate": (
            _round(Decimal(100 * won_count) / Decimal(closed), TENTH) if closed else None
        ),
        "new_customers": Decimal(row["new_customers"]),
        "bookings": _round(bookings, CENT),
        "average_deal_size": _round(bookings / booked_count, CENT) if booked_count else None,
        "sales_cycle_days": (
            _round(Decimal(cycle // _MICROSECOND) / DAY_MICROSECONDS, TENTH)
            if cycle is not None
            else None
        ),
    }


def _round(value: Decimal, step: Decimal) -> Decimal:
    return value.quantize(step, rounding=ROUND_HALF_EVEN)


_MICROSECOND = timedelta(microseconds=1)

Figures = dict[str, Decimal | None]

# Each source table: the function reading it and the metrics it yields.
SOURCES: dict[str, tuple[Callable[[datetime, datetime], Figures], frozenset[str]]] = {
    "events": (_event_figures, frozenset({"website_visitors", "downloads", "inbound_inquiries"})),
    "activities": (
        _activity_figures,
        frozenset(
            {
                *OUTBOUND_CHANNELS,
                "calls",
                "connects",
                "presentations_given",
                "proposals_submitted",
            }
        ),
    ),
    "contacts": (_contact_figures, frozenset({"qualified_conversations"})),
    "deals": (
        _deal_figures,
        frozenset(
            {
                "deals_won",
                "close_rate",
                "new_customers",
                "bookings",
                "average_deal_size",
                "sales_cycle_days",
            }
        ),
    ),
}


def current_values(month: date) -> QuerySet[MetricValue]:
    """Each metric's latest company-wide entry for `month`, to annotate metrics with."""
    return MetricValue.objects.filter(
        metric=OuterRef("pk"), month=rules.month_start(month), team=None, person=None
    ).order_by("-entered_at", "-id")


def metric_values(*, month: date, keys: Iterable[str] | None = None) -> dict[str, Decimal | None]:
    """Every metric's figure for the calendar month holding `month`, company-wide.

    `keys` picks metrics (by key; unknown keys are refused); by default, every active
    metric. See the module's docstring for what each computed metric counts.
    """
    metrics = Metric.objects.annotate(
        entered=Subquery(current_values(month).values("value")[:1])
    ).only("key", "capture_method")
    if keys is None:
        metrics = metrics.filter(is_active=True)
    else:
        wanted = set(keys)
        metrics = metrics.filter(key__in=wanted)
    found = list(metrics)
    if keys is not None and len(found) < len(wanted):
        unknown = sorted(wanted - {m.key for m in found})
        raise InvalidInput(f"There is no metric {', '.join(map(repr, unknown))}.")

    start, end = month_bounds(month)
    computed = {m.key for m in found if m.capture_method == CaptureMethod.COMPUTED}
    figures: dict[str, Decimal | None] = {}
    if start <= timezone.now():
        for compute, source_keys in SOURCES.values():
            if computed & source_keys:
                figures.update(compute(start, end))
    return {m.key: figures.get(m.key) if m.key in computed else m.entered for m in found}


@dataclass(frozen=True)
class ScorecardRow:
    """One metric's line: the month, its comparisons, and the year against the goal.

    Every figure may be None: missing, never zero. `change` is this month less last
    month; `change_percent` is that change over last month × 100, to 0.1, only when last
    month is above zero.
    """

    key: str
    name: str
    stage: str
    unit: str
    lower_is_better: bool
    this_month: Decimal | None
    last_month: Decimal | None
    last_year: Decimal | None
    change: Decimal | None
    change_percent: Decimal | None
    month_target: Decimal | None
    ytd: Decimal | None
    ytd_target: Decimal | None
    projected: Decimal | None
    pace: rules.Pace


@dataclass(frozen=True)
class ScorecardStep:
    stage: str
    label: str
    rows: list[ScorecardRow]


@dataclass(frozen=True)
class Scorecard:
    month: date
    steps: list[ScorecardStep]

    def rows(self) -> Iterator[ScorecardRow]:
        for step in self.steps:
            yield from step.rows


def _previous_month(month: date) -> date:
    if month.month == 1:
        return date(month.year - 1, rules.MONTHS, 1)
    return date(month.year, month.month - 1, 1)


def _ytd_rates(*, month: date, keys: set[str]) -> Figures:
    """The computed rate and mean metrics among `keys`, over January through `month`."""
    start, _ = month_bounds(date(month.year, 1, 1))
    _, end = month_bounds(month)
    figures: Figures = {}
    if start <= timezone.now():
        for compute, source_keys in SOURCES.values():
            if keys & source_keys:
                figures.update(compute(start, end))
    return {key: figures.get(key) for key in keys}


def scorecard(*, month: date) -> Scorecard:
    """The company-wide scorecard for the month holding `month`, every active metric.

    Year to date runs from January through `month`. A count or an amount adds up its
    months, and is missing if any of them is. A rate or a mean (percentages, days, the
    average deal size) is not a sum: when Keel computes it, it is computed afresh over
    the whole span (the close rate of every deal closed since January, not the mean of
    ten close rates); when it is entered by hand or pushed, there is no year-to-date
    figure. See rules.accumulates for how targets and projections treat the two kinds,
    and rules.LOWER_IS_BETTER for the metrics whose pace is inverted.

    Bounded whatever the data: one metric_values call (at most 5 queries) per month from
    January through `month`, one for last month in January, one for the same month last
    year (13 calls at most), plus the metrics, their goals and one query per source of
    the computed rates over the year to date.
    """
    month = rules.month_start(month)
    metrics = sorted(
        Metric.objects.filter(is_active=True).only(
            "key", "name", "stage", "unit", "position", "capture_method"
        ),
        key=lambda m: (MetricStage.values.index(m.stage), m.position, m.name),
    )
    keys = [m.key for m in metrics]
    goals = {g.metric_id: g for g in Goal.objects.filter(metric__in=metrics, year=month.year)}
    by_month = {
        date(month.year, number, 1): metric_values(month=date(month.year, number, 1), keys=keys)
        for number in range(1, month.month + 1)
    }
    previous = _previous_month(month)
    if previous not in by_month:
        by_month[previous] = metric_values(month=previous, keys=keys)
    last_year = metric_values(month=date(month.year - 1, month.month, 1), keys=keys)
    rates = {
        m.key
        for m in metrics
        if m.capture_method == CaptureMethod.COMPUTED
        and not rules.accumulates(key=m.key, unit=m.unit)
    }
    ytd_rates = _ytd_rates(month=month, keys=rates) if rates else {}

    steps = []
    for stage in MetricStage:
        rows = [
            _row(
                metric=m,
                month=month,
                by_month=by_month,
                last_year=last_year,
                ytd_rates=ytd_rates,
                goal=goals.get(m.pk),
            )
            for m in metrics
            if m.stage == stage
        ]
        steps.append(ScorecardStep(stage=stage.value, label=str(stage.label), rows=rows))
    return Scorecard(month=month, steps=steps)


def _row(
    *,
    metric: Metric,
    month: date,
    by_month: dict[date, Figures],
    last_year: Figures,
    ytd_rates: Figures,
    goal: Goal | None,
) -> ScorecardRow:
    key = metric.key
    this = by_month[month][key]
    last = by_month[_previous_month(month)][key]
    change = this - last if this is not None and last is not None else None
    change_percent = _round(change * 100 / last, TENTH) if change is not None and last else None
    through = month.month
    accumulates = rules.accumulates(key=key, unit=metric.unit)
    ytd: Decimal | None
    if accumulates:
        months = [by_month[date(month.year, n, 1)][key] for n in range(1, through + 1)]
        known = [v for v in months if v is not None]
        ytd = sum(known, Decimal(0)) if len(known) == len(months) else None
    else:
        ytd = ytd_rates.get(key)

    month_target = ytd_target = projected = None
    if goal is not None:
        terms = {"target": Decimal(goal.target), "phasing": goal.phasing, "weights": goal.weights}
        if accumulates:
            month_target = _round(rules.month_target(**terms, month=through), CENT)
            ytd_target = _round(rules.ytd_target(**terms, through_month=through), CENT)
        else:
            month_target = ytd_target = _round(Decimal(goal.target), CENT)
    if ytd is not None:
        if not accumulates:
            projected = ytd
        elif goal is not None:
            projected = _round(
                rules.projected_year_end(
                    ytd=ytd,
                    through_month=through,
                    target=Decimal(goal.target),
                    phasing=goal.phasing,
                    weights=goal.weights,
                ),
                CENT,
            )
        else:
            projected = _round(rules.projected_year_end(ytd=ytd, through_month=through), CENT)
    lower = key in rules.LOWER_IS_BETTER
    return ScorecardRow(
        key=key,
        name=metric.name,
        stage=metric.stage,
        unit=metric.unit,
        lower_is_better=lower,
        this_month=this,
        last_month=last,
        last_year=last_year[key],
        change=change,
        change_percent=change_percent,
        month_target=month_target,
        ytd=ytd,
        ytd_target=ytd_target,
        projected=projected,
        pace=rules.pace(actual=ytd, target=ytd_target, lower_is_better=lower),
    )
