"""Reads of the scorecard: each month's figure for every metric, for a scope (Scope).

A month is a calendar month in Keel's time zone (settings.TIME_ZONE): from its first day
at midnight to the next month's first day at midnight, the end excluded. Each computed
metric counts the records whose time falls in that span:

    Marketing events (leads.MarketingEvent, by occurred_at)
      website_visitors          events of type visit (each visit pushed counts once)
      downloads                 events of type download
      inbound_inquiries         events of type inquiry or form fill (leads.models.INQUIRY_TYPES)
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
Manual and pushed metrics are their month's latest MetricValue for the scope, or None.

Each source table is read by one conditional-aggregate query grouped by month, only if a
requested metric needs it: however many records and months, one query per source.
"""

from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.conf import settings
from django.db.models import (
    Case,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.aggregates import Aggregate, Avg
from django.db.models.functions import RowNumber
from django.utils import timezone

from keel.accounts.models import Role, Team, User
from keel.accounts.permissions import is_manager
from keel.activities.models import Activity, ActivityType, Outcome
from keel.core.exceptions import InvalidInput
from keel.crm.models import Channel, Contact
from keel.leads.models import INQUIRY_TYPES, EventType, MarketingEvent
from keel.pipeline.models import Deal, DealStatus
from keel.scorecard import rules
from keel.scorecard.models import CaptureMethod, Goal, Metric, MetricStage, MetricValue

TENTH = Decimal("0.1")
CENT = Decimal("0.01")
DAY_MICROSECONDS = Decimal(86_400_000_000)


def month_bounds(month: date, zone: tzinfo | None = None) -> tuple[datetime, datetime]:
    """The month's first instant and the next month's, in Keel's time zone (or `zone`)."""
    zone = zone or timezone.get_default_timezone()
    start = rules.month_start(month)
    end = rules.next_month(start)
    return (
        datetime(start.year, start.month, 1, tzinfo=zone),
        datetime(end.year, end.month, 1, tzinfo=zone),
    )


@dataclass(frozen=True)
class Scope:
    """Whose figures: the whole company (neither set), a team's members, or one person.

    A team's figures are those of the people in it now (accounts.User.team), so a
    person's records move with them when they change teams. Records are attributed by:
    activities to who logged them (`by`), deals to their owner, qualified contacts and
    the marketing events of a known contact to the contact's owner. Records with nobody
    to attribute them to (an anonymous website visit, a deal with no owner) count for
    the company only, so people's figures add up to their team's and teams' to the
    company's when everything has an owner.
    """

    team: Team | None = None
    person: User | None = None

    def __post_init__(self) -> None:
        if self.team is not None and self.person is not None:
            raise InvalidInput("A scorecard is for a team or for a person, not both.")

    @property
    def label(self) -> str:
        if self.person is not None:
            return self.person.get_full_name() or self.person.username
        if self.team is not None:
            return f"Team {self.team.name}"
        return "Company"

    def owners(self) -> QuerySet[User, int] | None:
        """The ids of the people whose records count, or None for everyone's."""
        if self.person is not None:
            return User.objects.filter(pk=self.person.pk).values_list("pk", flat=True)
        if self.team is not None:
            return User.objects.filter(team=self.team).values_list("pk", flat=True)
        return None


COMPANY = Scope()

Span = tuple[datetime, datetime]
Figures = dict[str, Decimal | None]


def _bucket(field: str, spans: list[Span]) -> Case:
    """Which of the contiguous `spans` a row's `field` falls in, by its index.

    Plain comparisons, so the database needs no time-zone function (SQLite's is Python
    called per row) and an index on `field` serves the range.
    """
    whens = [When(**{f"{field}__lt": end}, then=Value(i)) for i, (_, end) in enumerate(spans)]
    return Case(*whens, default=Value(None), output_field=IntegerField())


# A figure's place in a reading: the span's index and, read per person, whose it is.
Slot = tuple[int, int | None]


def _by_span(
    rows: QuerySet[Any],
    field: str,
    spans: list[Span],
    *,
    person: str | None,
    **aggregates: Aggregate,
) -> dict[Slot, dict[str, Any]]:
    """One query: `aggregates` over `rows` for each span, and for each person when `person`
    names the field holding who the row counts for.

    Read for everyone, every span has its slot (span, None), with each aggregate over
    nothing (0 for a count, None otherwise) when no row falls in it. Read per person,
    only the people with rows in a span have a slot in it.
    """
    rows = rows.filter(**{f"{field}__gte": spans[0][0], f"{field}__lt": spans[-1][1]})
    groups = ["span", person] if person else ["span"]
    grouped = rows.annotate(span=_bucket(field, spans)).values(*groups).annotate(**aggregates)
    found = {
        (row.pop("span"), row.pop(person) if person else None): row for row in grouped.order_by()
    }
    if person:
        return found
    empty = {name: 0 if isinstance(a, Count) else None for name, a in aggregates.items()}
    return {(i, None): found.get((i, None), empty) for i in range(len(spans))}


def _count(condition: Q) -> Aggregate:
    return Count("pk", filter=condition)


def _counts(row: dict[str, Any]) -> Figures:
    return {key: Decimal(value) for key, value in row.items()}


def _tallies(field: str, conditions: dict[str, Q | None], keys: set[str]) -> dict[str, Aggregate]:
    """A count of the rows meeting each wanted condition (None: every row).

    Counting the span's own column, never null in the span, rather than the id lets the
    database answer from an index on that column alone.
    """
    return {key: Count(field, filter=conditions[key]) for key in keys & conditions.keys()}


EVENT_TYPES: dict[str, Q | None] = {
    "website_visitors": Q(type=EventType.VISIT),
    "downloads": Q(type=EventType.DOWNLOAD),
    "inbound_inquiries": Q(type__in=INQUIRY_TYPES),
}


def _event_figures(
    spans: list[Span], owners: QuerySet[User, int] | None, per_person: bool, keys: set[str]
) -> dict[Slot, Figures]:
    events = MarketingEvent.objects.all()
    if owners is not None:
        events = events.filter(contact__owner_id__in=owners)
    rows = _by_span(
        events,
        "occurred_at",
        spans,
        person="contact__owner" if per_person else None,
        **_tallies("occurred_at", EVENT_TYPES, keys),
    )
    return {slot: _counts(row) for slot, row in rows.items()}


OUTBOUND_CHANNELS = {
    "outbound_telemarketing": Channel.COLD_CALLING,
    "outbound_tradeshows": Channel.TRADESHOW,
    "outbound_networking": Channel.NETWORKING,
    "outbound_social": Channel.SOCIAL_SELLING,
}
ACTIVITY_KINDS: dict[str, Q | None] = {
    # Research is no touch: it counts for none of the outbound channels.
    **{
        key: ~Q(type=ActivityType.RESEARCH) & Q(channel=channel)
        for key, channel in OUTBOUND_CHANNELS.items()
    },
    "calls": Q(type=ActivityType.CALL),
    "connects": Q(type=ActivityType.CALL, outcome=Outcome.CONNECTED),
    "presentations_given": Q(type=ActivityType.PRESENTATION) & ~Q(outcome=Outcome.NO_SHOW),
    "proposals_submitted": Q(type=ActivityType.PROPOSAL_SENT),
}


def _activity_figures(
    spans: list[Span], owners: QuerySet[User, int] | None, per_person: bool, keys: set[str]
) -> dict[Slot, Figures]:
    activities = Activity.objects.all()
    if owners is not None:
        activities = activities.filter(by_id__in=owners)
    rows = _by_span(
        activities,
        "at",
        spans,
        person="by" if per_person else None,
        **_tallies("at", ACTIVITY_KINDS, keys),
    )
    return {slot: _counts(row) for slot, row in rows.items()}


def _contact_figures(
    spans: list[Span], owners: QuerySet[User, int] | None, per_person: bool, keys: set[str]
) -> dict[Slot, Figures]:
    contacts = Contact.objects.all()
    if owners is not None:
        contacts = contacts.filter(owner_id__in=owners)
    rows = _by_span(
        contacts,
        "qualified_at",
        spans,
        person="owner" if per_person else None,
        **_tallies("qualified_at", {"qualified_conversations": None}, keys),
    )
    return {slot: _counts(row) for slot, row in rows.items()}


# The parts of a deal reading each metric is made of.
DEAL_PARTS = {
    "deals_won": {"won"},
    "close_rate": {"won", "lost"},
    "new_customers": {"new_customers"},
    "bookings": {"bookings"},
    "average_deal_size": {"bookings", "booked"},
    "sales_cycle_days": {"cycle"},
}


def _deal_parts(parts: set[str]) -> dict[str, Aggregate]:
    won = Q(status=DealStatus.WON)
    booked = won & Q(amount__isnull=False, currency=settings.KEEL_CURRENCY)
    # A company's first purchase: a won deal with no won deal of the company before it
    # (the same instant: the lower id first). Whoever owned the earlier win, the company
    # was a customer already, so the check looks at every deal, not only the scope's.
    earlier_win = Deal.objects.filter(
        Q(closed_at__lt=OuterRef("closed_at"))
        | Q(closed_at=OuterRef("closed_at"), pk__lt=OuterRef("pk")),
        company=OuterRef("company"),
        status=DealStatus.WON,
    )
    makers: dict[str, Callable[[], Aggregate]] = {
        "won": lambda: Count("closed_at", filter=won),
        "lost": lambda: Count("closed_at", filter=Q(status=DealStatus.LOST)),
        "new_customers": lambda: Count("closed_at", filter=won & ~Q(Exists(earlier_win))),
        "booked": lambda: Count("closed_at", filter=booked),
        "bookings": lambda: Sum("amount", filter=booked),
        "cycle": lambda: Avg(
            ExpressionWrapper(F("closed_at") - F("created_at"), output_field=DurationField()),
            filter=won,
        ),
    }
    return {name: make() for name, make in makers.items() if name in parts}


def _deal_figures(
    spans: list[Span], owners: QuerySet[User, int] | None, per_person: bool, keys: set[str]
) -> dict[Slot, Figures]:
    deals = Deal.objects.all()
    if owners is not None:
        deals = deals.filter(owner_id__in=owners)
    wanted = keys & DEAL_PARTS.keys()
    parts = set().union(*(DEAL_PARTS[key] for key in wanted))
    rows = _by_span(
        deals,
        "closed_at",
        spans,
        person="owner" if per_person else None,
        **_deal_parts(parts),
    )
    return {slot: _deal_row(row, wanted) for slot, row in rows.items()}


def _deal_row(row: dict[str, Any], keys: set[str]) -> Figures:
    won, lost, booked = row.get("won", 0), row.get("lost", 0), row.get("booked", 0)
    bookings = Decimal(row.get("bookings") or 0)
    cycle = row.get("cycle")
    figures: Figures = {
        "deals_won": Decimal(won),
        "close_rate": _round(Decimal(100 * won) / Decimal(won + lost), TENTH)
        if won + lost
        else None,
        "new_customers": Decimal(row.get("new_customers", 0)),
        "bookings": _round(bookings, CENT),
        "average_deal_size": _round(bookings / booked, CENT) if booked else None,
        "sales_cycle_days": (
            _round(Decimal(cycle // _MICROSECOND) / DAY_MICROSECONDS, TENTH)
            if cycle is not None
            else None
        ),
    }
    return {key: figures[key] for key in keys}


def _plain(value: Decimal) -> Decimal:
    """A stored figure without the storage's trailing zeros: 1250.5000 is 1250.5, 7.0000 is 7."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def _round(value: Decimal, step: Decimal) -> Decimal:
    return value.quantize(step, rounding=ROUND_HALF_EVEN)


_MICROSECOND = timedelta(microseconds=1)

Compute = Callable[[list[Span], QuerySet[User, int] | None, bool, set[str]], dict[Slot, Figures]]

# Each source table: the function reading it and the metrics it yields.
SOURCES: dict[str, tuple[Compute, frozenset[str]]] = {
    "events": (_event_figures, frozenset(EVENT_TYPES)),
    "activities": (_activity_figures, frozenset(ACTIVITY_KINDS)),
    "contacts": (_contact_figures, frozenset({"qualified_conversations"})),
    "deals": (_deal_figures, frozenset(DEAL_PARTS)),
}


def _computed(keys: set[str], spans: list[Span], scope: Scope) -> list[Figures]:
    """The computed metrics among `keys` over each of the contiguous `spans`.

    One query per source table that a wanted metric needs, however many spans. A span
    that has not begun is None throughout.
    """
    figures: list[Figures] = [{} for _ in spans]
    now = timezone.now()
    begun = [span for span in spans if span[0] <= now]
    if begun:
        owners = scope.owners()
        for compute, source_keys in SOURCES.values():
            if keys & source_keys:
                for (index, _), found in compute(begun, owners, False, keys & source_keys).items():
                    figures[index].update(found)
    return [{key: found.get(key) for key in keys} for found in figures]


SELLING_ROLES = (Role.SALESPERSON, Role.SALES_MANAGER, Role.SALES_SPECIALIST)


@dataclass(frozen=True)
class PersonFigures:
    person: User
    figures: Figures


def by_person(
    *, first: date, last: date, keys: Iterable[str], scope: Scope = COMPANY
) -> list[PersonFigures]:
    """Each person's computed figures over the months `first` through `last`, together.

    The people are the scope's active members who sell and anyone whose records count
    in the span, in name order. A person with nothing in the span has 0 for a count or an
    amount and None for a rate or a mean. Entered and pushed metrics are left out: they
    are not kept per person unless someone enters them so. One query per source.
    """
    metrics = [m for m in _active_metrics(keys) if m.capture_method == CaptureMethod.COMPUTED]
    wanted = {m.key for m in metrics}
    span = (month_bounds(first)[0], month_bounds(last)[1])
    found: dict[int, Figures] = {}
    if wanted and span[0] <= timezone.now():
        owners = scope.owners()
        for compute, source_keys in SOURCES.values():
            if wanted & source_keys:
                for (_, person_id), figures in compute(
                    [span], owners, True, wanted & source_keys
                ).items():
                    if person_id is not None:
                        found.setdefault(person_id, {}).update(figures)
    members = User.objects.filter(is_active=True, role__in=SELLING_ROLES)
    if scope.owners() is not None:
        members = members.filter(pk__in=scope.owners())
    people = User.objects.filter(Q(pk__in=found) | Q(pk__in=members.values("pk")))
    nothing = {
        m.key: Decimal(0) if rules.accumulates(key=m.key, unit=m.unit) else None for m in metrics
    }
    return [
        PersonFigures(
            person=person,
            figures={key: found.get(person.pk, {}).get(key, nothing[key]) for key in wanted},
        )
        for person in people.order_by("first_name", "last_name", "username")
    ]


def _months(first: date, count: int) -> list[date]:
    months = [rules.month_start(first)]
    while len(months) < count:
        months.append(rules.next_month(months[-1]))
    return months


def _active_metrics(keys: Iterable[str] | None) -> list[Metric]:
    metrics = Metric.objects.only("key", "unit", "capture_method")
    if keys is None:
        return list(metrics.filter(is_active=True))
    wanted = set(keys)
    found = list(metrics.filter(key__in=wanted))
    if len(found) < len(wanted):
        unknown = sorted(wanted - {m.key for m in found})
        raise InvalidInput(f"There is no metric {', '.join(map(repr, unknown))}.")
    return found


def _entered(metrics: list[Metric], months: list[date], scope: Scope) -> dict[date, Figures]:
    """The latest entry per month of the metrics that are entered or pushed, for `scope`."""
    ids = [m.pk for m in metrics if m.capture_method != CaptureMethod.COMPUTED]
    entries: dict[date, Figures] = {month: {} for month in months}
    if ids:
        values = MetricValue.objects.filter(
            metric_id__in=ids, month__in=months, team=scope.team, person=scope.person
        ).order_by("metric_id", "month", "-entered_at", "-id")
        for metric_key, month, value in values.values_list("metric__key", "month", "value"):
            entries[month].setdefault(metric_key, _plain(value))  # the first is the latest
    return entries


def trend(
    *,
    through: date,
    months: int = 12,
    keys: Iterable[str] | None = None,
    scope: Scope = COMPANY,
) -> dict[date, Figures]:
    """Every metric's figure for each of the `months` calendar months ending with `through`.

    The same figures as `metric_values` month by month, in at most five queries in all:
    each source table is read once for the whole span and grouped by month.
    """
    if months < 1:
        raise InvalidInput("A trend covers at least one month.")
    last = rules.month_start(through)
    first = last
    for _ in range(months - 1):
        first = rules.previous_month(first)
    return _figures(_months(first, months), metrics=_active_metrics(keys), scope=scope)


def _figures(months: list[date], *, metrics: list[Metric], scope: Scope) -> dict[date, Figures]:
    """Every one of `metrics`' figures for each of the contiguous `months`."""
    computed = {m.key for m in metrics if m.capture_method == CaptureMethod.COMPUTED}
    spans = [month_bounds(month) for month in months]
    figures = _computed(computed, spans, scope) if computed else [{} for _ in months]
    entered = _entered(metrics, months, scope)
    return {
        month: {
            m.key: found.get(m.key) if m.key in computed else entered[month].get(m.key)
            for m in metrics
        }
        for month, found in zip(months, figures, strict=True)
    }


def metric_values(
    *, month: date, keys: Iterable[str] | None = None, scope: Scope = COMPANY
) -> Figures:
    """Every metric's figure for the calendar month holding `month`.

    `keys` picks metrics (by key; unknown keys are refused); by default, every active
    metric. See the module's docstring for what each computed metric counts.
    """
    month = rules.month_start(month)
    return _figures([month], metrics=_active_metrics(keys), scope=scope)[month]


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

    @property
    def shortfall(self) -> Decimal | None:
        """How far the year to date is from its target on the wrong side; 0 when met."""
        if self.ytd is None or self.ytd_target is None:
            return None
        gap = self.ytd - self.ytd_target if self.lower_is_better else self.ytd_target - self.ytd
        return max(gap, Decimal(0))


# A row's figures in the order every view of the scorecard shows them, with headings.
ROW_FIGURES = {
    "this_month": "This month",
    "last_month": "Last month",
    "last_year": "Last year",
    "change": "Change",
    "change_percent": "Change %",
    "month_target": "Target",
    "ytd": "YTD",
    "ytd_target": "YTD target",
    "projected": "Projected",
}


@dataclass(frozen=True)
class ScorecardStep:
    stage: str
    label: str
    rows: list[ScorecardRow]


@dataclass(frozen=True)
class Scorecard:
    month: date
    scope: Scope
    steps: list[ScorecardStep]
    goals: dict[str, Goal]

    def rows(self) -> Iterator[ScorecardRow]:
        for step in self.steps:
            yield from step.rows


def scorecard(
    *, month: date, scope: Scope = COMPANY, keys: Collection[str] | None = None
) -> Scorecard:
    """The scorecard of `scope` for the month holding `month`, every active metric (or
    those of `keys` among them: only their source tables are read).

    Year to date runs from January through `month`. A count or an amount adds up its
    months, and is missing if any of them is. A rate or a mean (percentages, days, the
    average deal size) is not a sum: when Keel computes it, it is computed afresh over
    the whole span (the close rate of every deal closed since January, not the mean of
    ten close rates); when it is entered by hand or pushed, there is no year-to-date
    figure. See rules.accumulates for how targets and projections treat the two kinds,
    and rules.LOWER_IS_BETTER for the metrics whose pace is inverted.

    Annual goals are the business's: a team's or a person's scorecard shows its figures
    with no goal, hence no target and no pace.

    Bounded whatever the data: each source table is read three times (this month and
    last, grouped by month; the same month last year; January through `month` as one
    span), plus the metrics, their goals and the entered values.
    """
    month = rules.month_start(month)
    active = Metric.objects.filter(is_active=True)
    if keys is not None:
        active = active.filter(key__in=keys)
    metrics = sorted(
        active.only("key", "name", "stage", "unit", "position", "capture_method"),
        key=lambda m: (MetricStage.values.index(m.stage), m.position, m.name),
    )
    goals: dict[int, Goal] = {}
    if scope == COMPANY:
        goals = {g.metric_id: g for g in Goal.objects.filter(metric__in=metrics, year=month.year)}
    recent = _figures([rules.previous_month(month), month], metrics=metrics, scope=scope)
    last_year_month = date(month.year - 1, month.month, 1)
    last_year = _figures([last_year_month], metrics=metrics, scope=scope)[last_year_month]
    ytd = _year_to_date(month=month, metrics=metrics, scope=scope)

    steps = []
    for stage in MetricStage:
        rows = [
            _row(
                metric=m,
                month=month,
                recent=recent,
                last_year=last_year,
                ytd=ytd.get(m.key),
                goal=goals.get(m.pk),
            )
            for m in metrics
            if m.stage == stage
        ]
        steps.append(ScorecardStep(stage=stage.value, label=str(stage.label), rows=rows))
    return Scorecard(
        month=month,
        scope=scope,
        steps=steps,
        goals={m.key: goals[m.pk] for m in metrics if m.pk in goals},
    )


def _year_to_date(*, month: date, metrics: list[Metric], scope: Scope) -> Figures:
    """January through `month` for each metric.

    A computed metric is read over the whole span at once: a count or an amount is then
    the sum of its months, and a rate or a mean is taken afresh over the span (the close
    rate of every deal closed since January, not the mean of ten close rates). An entered
    count or amount adds up its months and is missing if any month is; an entered rate or
    mean has no year-to-date figure.
    """
    computed = {m.key for m in metrics if m.capture_method == CaptureMethod.COMPUTED}
    january = date(month.year, 1, 1)
    span = (month_bounds(january)[0], month_bounds(month)[1])
    figures = _computed(computed, [span], scope)[0] if computed else {}
    months = _months(january, month.month)
    entered = _entered(metrics, months, scope)
    for metric in metrics:
        if metric.key in computed:
            continue
        values = [entered[m].get(metric.key) for m in months]
        adds_up = rules.accumulates(key=metric.key, unit=metric.unit)
        known = [v for v in values if v is not None]
        figures[metric.key] = (
            sum(known, Decimal(0)) if adds_up and len(known) == len(values) else None
        )
    return figures


def _row(
    *,
    metric: Metric,
    month: date,
    recent: dict[date, Figures],
    last_year: Figures,
    ytd: Decimal | None,
    goal: Goal | None,
) -> ScorecardRow:
    key = metric.key
    this = recent[month][key]
    last = recent[rules.previous_month(month)][key]
    change = this - last if this is not None and last is not None else None
    change_percent = _round(change * 100 / last, TENTH) if change is not None and last else None
    through = month.month
    accumulates = rules.accumulates(key=key, unit=metric.unit)

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


def scope_choices(user: User) -> tuple[list[Team], list[User]]:
    """The teams and the people whose scorecards `user` may open (see access.py)."""
    people = (
        User.objects.filter(is_active=True)
        .select_related("team")
        .order_by("first_name", "last_name", "username")
    )
    teams = Team.objects.order_by("name")
    if not (user.is_superuser or user.role == Role.OWNER):
        mine = Q(members=user)
        if is_manager(user):
            teams = teams.filter(mine | Q(manager=user)).distinct()
            people = people.filter(Q(pk=user.pk) | Q(team__in=Team.objects.filter(members=user)))
        else:
            teams = teams.filter(mine)
            people = people.filter(pk=user.pk)
    return list(teams), list(people)


# The funnel the scorecard draws: one metric per step, from stranger to customer.
FUNNEL = (
    ("website_visitors", MetricStage.SUSPECT),
    ("inbound_inquiries", MetricStage.PROSPECT),
    ("qualified_conversations", MetricStage.LEAD),
    ("new_customers", MetricStage.CUSTOMER),
)


@dataclass(frozen=True)
class FunnelStep:
    label: str
    metric: str
    value: Decimal | None
    # This step's figure as a percentage of the step before; None for the first step and
    # whenever either figure is missing or the step before is zero.
    conversion: Decimal | None


def funnel_steps(card: Scorecard) -> list[FunnelStep]:
    """The month's funnel, Suspect → Customer, from FUNNEL's metrics (active or not)."""
    rows = {row.key: row for row in card.rows()}
    steps: list[FunnelStep] = []
    before: Decimal | None = None
    for key, stage in FUNNEL:
        row = rows.get(key)
        value = row.this_month if row else None
        conversion = _round(value * 100 / before, TENTH) if value is not None and before else None
        steps.append(
            FunnelStep(
                label=str(stage.label),
                metric=row.name if row else key,
                value=value,
                conversion=conversion,
            )
        )
        before = value
    return steps


def moved_most(card: Scorecard, *, limit: int = 5) -> list[ScorecardRow]:
    """The rows whose figure changed most since last month, by the size of the change %."""
    moved = [row for row in card.rows() if row.change_percent is not None and row.change]
    moved.sort(key=lambda row: abs(row.change_percent or Decimal(0)), reverse=True)
    return moved[:limit]


def behind_pace(card: Scorecard) -> list[ScorecardRow]:
    """The rows behind their year-to-date target, in the funnel's order."""
    return [row for row in card.rows() if row.pace == rules.Pace.BEHIND]


def metric_value_history(*, entries: QuerySet[MetricValue]) -> QuerySet[MetricValue]:
    """`entries` with who entered them and their scope; newest month first, then
    company-wide, teams, people.

    Each carries `rank`: 1 for the current entry of its month and scope, 2 and up for the
    ones it superseded, newest first. Filter `entries` (by month) before ranking, never
    after: the window ranks only the rows the query keeps.
    """
    return (
        entries.select_related("metric", "entered_by", "team", "person")
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("month"), F("team_id"), F("person_id")],
                order_by=[F("entered_at").desc(), F("id").desc()],
            )
        )
        .order_by(
            "-month",
            F("team_id").asc(nulls_first=True),
            F("person_id").asc(nulls_first=True),
            "-entered_at",
            "-id",
        )
    )
