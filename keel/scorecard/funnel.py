"""Reads of funnel analytics: stage to stage, channel by salesperson, sales velocity and
key-person dependence. The arithmetic is in funnel_rules.py; here the database counts.

A period is whole calendar months in Keel's time zone (selectors.month_bounds): from the
first month's first instant to the instant after the last month, the end excluded.
Money is the deals' `amount` in the business's currency (KEEL_CURRENCY); deals in another
currency, or without an amount, are left out of money figures, as on the scorecard.
A figure with nothing to divide is None (missing), never zero.

Every function takes `owner_ids` (user ids, a list or a queryset of them) to compute a
team's or a person's figures: deals by their owner, new leads by the contact's owner.
Who may see which figures is the caller's decision.
"""

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.db.models import (
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.aggregates import Avg
from django.db.models.functions import Coalesce, Lead
from django.utils import timezone

from keel.crm.models import Channel, Contact
from keel.pipeline.models import (
    Deal,
    DealStatus,
    ProcessKind,
    SalesProcess,
    Stage,
    StageChange,
    StageKind,
)
from keel.scorecard import funnel_rules as rules
from keel.scorecard.funnel_rules import Bottleneck, Period, StageFlow
from keel.scorecard.selectors import month_bounds

OwnerIds = Iterable[int] | None

CENT = Decimal("0.01")
DAY_MICROSECONDS = Decimal(86_400_000_000)
_MICROSECOND = timedelta(microseconds=1)

# The median stay reads two columns (the stage, the length) per ended stint of the cohort,
# since SQLite has no median: at most this many rows, the earliest first. A year's cohort
# of a busy business stays below; beyond it the medians are those of the earliest stints,
# and StageFunnel.median_capped says so.
MEDIAN_ROWS = 200_000

NO_CHANNEL = "(none)"
NO_SOURCE = "(none)"
NO_OWNER = "(no owner)"
# The largest referral sources listed one by one; the rest share one line (the index and
# the warning count every source).
SOURCE_ROWS = 10
CHANNEL_LABELS = dict(Channel.choices)

M = TypeVar("M", bound=Model)


def _owned(queryset: QuerySet[M], owner_ids: OwnerIds, field: str = "owner_id") -> QuerySet[M]:
    if owner_ids is None:
        return queryset
    ids = owner_ids if isinstance(owner_ids, QuerySet) else list(owner_ids)
    return queryset.filter(**{f"{field}__in": ids})


def _span(period: Period) -> tuple[datetime, datetime]:
    start, _ = month_bounds(period.first)
    _, end = month_bounds(period.last)
    return start, end


def _cohort(*, period: Period, process: SalesProcess | None, owner_ids: OwnerIds) -> QuerySet[Deal]:
    """The deals created in the period (of `process`, if given; of `owner_ids`, if given)."""
    start, end = _span(period)
    deals = Deal.objects.filter(created_at__gte=start, created_at__lt=end)
    if process is not None:
        deals = deals.filter(process=process)
    return _owned(deals, owner_ids)


def _person_name(first: str, last: str, username: str) -> str:
    return f"{first} {last}".strip() or username


PERSON_FIELDS = ("owner_id", "owner__first_name", "owner__last_name", "owner__username")


def _person(row: dict[str, Any]) -> tuple[int | None, str]:
    if row["owner_id"] is None:
        return None, NO_OWNER
    name = _person_name(row["owner__first_name"], row["owner__last_name"], row["owner__username"])
    return row["owner_id"], name


def funnel_default_process() -> SalesProcess | None:
    """The active new-business process (the oldest, if several), or the first active one."""
    first_new_business = Case(When(kind=ProcessKind.NEW_BUSINESS, then=Value(0)), default=Value(1))
    return SalesProcess.objects.filter(is_active=True).order_by(first_new_business, "id").first()


# --- stage to stage -----------------------------------------------------------------------


@dataclass(frozen=True)
class StageRow:
    """One open stage's line; percentages to 0.1, days to 0.1, the dwell ratio to 0.01."""

    name: str
    expected_days: int | None
    reached: int
    went_on: int
    still_open: int
    dropped: int
    conversion: Decimal | None  # went on ÷ (went on + dropped) × 100
    median_days: Decimal | None
    stints: int
    dwell_ratio: Decimal | None  # median days ÷ expected days
    is_bottleneck: bool


@dataclass(frozen=True)
class StageFunnel:
    period: Period
    process: SalesProcess | None
    deals: int  # the cohort
    stages: list[StageRow]
    bottleneck: Bottleneck | None
    median_capped: bool  # more than MEDIAN_ROWS stints: the medians are of the earliest


@dataclass(frozen=True)
class _Ladder:
    """A process's open stages across its versions: matched by name, in the newest order."""

    names: list[str]
    expected_days: list[int | None]
    ordinal: dict[int, int]  # stage id → index in `names`; a won stage → len(names)

    def case(self, field: str) -> Case:
        """`field` (a stage id column) as its ordinal: NULL for a lost stage."""
        whens = [When(**{field: pk}, then=Value(index)) for pk, index in self.ordinal.items()]
        return Case(*whens, default=Value(None), output_field=IntegerField())


def _ladder(process: SalesProcess) -> _Ladder:
    rows = list(
        Stage.objects.filter(version__process=process)
        .order_by("-version__number", "position")
        .values_list("pk", "name", "position", "kind", "expected_days", "version__number")
    )
    place: dict[str, tuple[int, int]] = {}
    expected: dict[str, int | None] = {}
    for _, name, position, kind, days, number in rows:
        if kind == StageKind.OPEN and name not in place:
            place[name] = (position, -number)  # the newest version that has it decides
            expected[name] = days
    names = sorted(place, key=place.__getitem__)
    index = {name: i for i, name in enumerate(names)}
    ordinal = {}
    for pk, name, _, kind, _, _ in rows:
        if kind == StageKind.OPEN:
            ordinal[pk] = index[name]
        elif kind == StageKind.WON:
            ordinal[pk] = len(names)
    return _Ladder(names=names, expected_days=[expected[n] for n in names], ordinal=ordinal)


def _medians(*, cohort: QuerySet[Deal], ladder: _Ladder) -> tuple[dict[int, list[Decimal]], bool]:
    """The days of each ended stint in each open stage (by ordinal), and whether capped."""
    left_at = Window(
        Lead("at"), partition_by=[F("deal_id")], order_by=[F("at").asc(), F("id").asc()]
    )
    stay = ExpressionWrapper(F("left_at") - F("at"), output_field=DurationField())
    stints = (
        StageChange.objects.filter(deal__in=cohort.values("pk"))
        .annotate(left_at=left_at)
        .annotate(stay=stay)
        .filter(left_at__isnull=False)
        .order_by("at", "id")
        .values_list("to_stage_id", "stay")[: MEDIAN_ROWS + 1]
    )
    rows = list(stints)
    days: dict[int, list[Decimal]] = {}
    for stage_id, duration in rows[:MEDIAN_ROWS]:
        index = ladder.ordinal.get(stage_id)
        if index is not None and index < len(ladder.names):
            days.setdefault(index, []).append(Decimal(duration // _MICROSECOND))
    return (
        {i: [d / DAY_MICROSECONDS for d in values] for i, values in days.items()},
        len(rows) > MEDIAN_ROWS,
    )


def stage_funnel(
    *, period: Period, process: SalesProcess | None = None, owner_ids: OwnerIds = None
) -> StageFunnel:
    """Stage-to-stage conversion and median time in stage for the deals created in `period`.

    `process` defaults to funnel_default_process(). Its open stages are matched across
    its versions by name and ordered as the newest version orders them.

    For each open stage, of the cohort (the deals of the process created in the period):

    reached      deals that entered the stage or went past it: a deal's furthest stage is
                 the furthest its stage history (pipeline.StageChange) ever entered, a won
                 deal's is past the last; a skipped stage counts as passed, since a
                 forward move checks the exit criteria of the stages it skips
    went on      deals that reached the next stage (won, after the last open stage)
    still open   open deals whose furthest stage is this one: not decided yet
    dropped      reached, less went on, less still open: lost at this stage
    conversion   went on ÷ (went on + dropped) × 100: of the deals decided at the stage,
                 the share that went on (a young cohort's open deals do not count as lost)
    median days  the median of the stints in the stage that ended: from the move into it
                 to the deal's next move (on, back or out). A deal still in the stage is
                 not counted, nor is its stint; a deal that came back counts each stint.

    The bottleneck is chosen by funnel_rules.bottleneck. Queries: 3 (the stages, the
    cohort by furthest stage, the stints), whatever the number of deals.
    """
    process = process or funnel_default_process()
    if process is None:
        return StageFunnel(period, None, 0, [], None, median_capped=False)
    ladder = _ladder(process)
    cohort = _cohort(period=period, process=process, owner_ids=owner_ids)
    top = len(ladder.names)
    if not top:
        return StageFunnel(period, process, cohort.count(), [], None, median_capped=False)

    history = (
        StageChange.objects.filter(deal=OuterRef("pk"))
        .order_by()
        .values("deal")
        .annotate(top=Max(ladder.case("to_stage_id")))
        .values("top")
    )
    furthest = Case(
        When(status=DealStatus.WON, then=Value(top)),
        default=Coalesce(Subquery(history), ladder.case("stage_id")),
        output_field=IntegerField(),
    )
    groups = (
        cohort.annotate(furthest=furthest)
        .order_by()
        .values("furthest", "status")
        .annotate(deals=Count("pk"))
    )
    by_furthest: dict[tuple[int, bool], int] = {}
    cohort_size = 0
    for group in groups:
        cohort_size += group["deals"]
        if group["furthest"] is not None:
            key = (group["furthest"], group["status"] == DealStatus.OPEN)
            by_furthest[key] = by_furthest.get(key, 0) + group["deals"]
    counts = rules.stage_counts(furthest=by_furthest, stages=top)
    durations, capped = _medians(cohort=cohort, ladder=ladder)

    flows = [
        StageFlow(
            name=name,
            expected_days=ladder.expected_days[i],
            reached=counts[i].reached,
            went_on=counts[i].went_on,
            still_open=counts[i].still_open,
            median_days=rules.median(durations.get(i, [])),
            stints=len(durations.get(i, [])),
        )
        for i, name in enumerate(ladder.names)
    ]
    found = rules.bottleneck(flows)
    rows = [
        StageRow(
            name=flow.name,
            expected_days=flow.expected_days,
            reached=flow.reached,
            went_on=flow.went_on,
            still_open=flow.still_open,
            dropped=flow.dropped,
            conversion=rules.percent(flow.conversion),
            median_days=rules.rounded(flow.median_days, rules.TENTH),
            stints=flow.stints,
            dwell_ratio=rules.rounded(flow.dwell_ratio, rules.HUNDREDTH),
            is_bottleneck=found is not None and found.stage == flow.name,
        )
        for flow in flows
    ]
    return StageFunnel(period, process, cohort_size, rows, found, median_capped=capped)


# --- channel by salesperson ---------------------------------------------------------------


@dataclass(frozen=True)
class ChannelCell:
    channel: str  # Deal.channel; "" when none was recorded
    label: str
    deals: int
    share: Decimal | None  # of the row's deals created in the period × 100, to 0.1
    won: int
    lost: int
    conversion: Decimal | None  # won ÷ (won + lost) × 100, to 0.1; None if none closed


@dataclass(frozen=True)
class ChannelRow:
    person_id: int | None  # None on the totals row
    name: str
    deals: int
    won: int
    lost: int
    conversion: Decimal | None
    cells: list[ChannelCell]  # one per ChannelMix.channels, in that order


@dataclass(frozen=True)
class ChannelMix:
    period: Period
    channels: list[tuple[str, str]]  # (value, label) of each channel with a deal
    people: list[ChannelRow]  # by name
    totals: ChannelRow
    hidden: int = 0  # people's rows left out by channel_mix_for_viewer


def _channel_row(
    person_id: int | None, name: str, counts: dict[str, tuple[int, int, int]], channels: list[str]
) -> ChannelRow:
    total = sum(c[0] for c in counts.values())
    won = sum(c[1] for c in counts.values())
    lost = sum(c[2] for c in counts.values())
    cells = []
    for channel in channels:
        deals, channel_won, channel_lost = counts.get(channel, (0, 0, 0))
        cells.append(
            ChannelCell(
                channel=channel,
                label=str(CHANNEL_LABELS.get(channel, channel or NO_CHANNEL)),
                deals=deals,
                share=rules.percent(rules.fraction(deals, total)),
                won=channel_won,
                lost=channel_lost,
                conversion=rules.percent(rules.fraction(channel_won, channel_won + channel_lost)),
            )
        )
    return ChannelRow(
        person_id=person_id,
        name=name,
        deals=total,
        won=won,
        lost=lost,
        conversion=rules.percent(rules.fraction(won, won + lost)),
        cells=cells,
    )


def channel_mix(
    *, period: Period, process: SalesProcess | None = None, owner_ids: OwnerIds = None
) -> ChannelMix:
    """Each deal owner's channel mix and conversion by channel, and the totals by channel.

    Of the deals created in `period` (of `process`, if given, else of every process):
    a person's share in a channel is their deals in it ÷ all their deals × 100; their
    conversion in it is won ÷ (won + lost) of those deals, closed by now (open deals are
    not counted). The totals row is the same over everyone's deals. A deal with no channel
    recorded is in the column "(none)". One query.
    """
    groups = (
        _cohort(period=period, process=process, owner_ids=owner_ids)
        .order_by()
        .values(*PERSON_FIELDS, "channel")
        .annotate(
            deals=Count("pk"),
            won=Count("pk", filter=Q(status=DealStatus.WON)),
            lost=Count("pk", filter=Q(status=DealStatus.LOST)),
        )
    )
    names: dict[int | None, str] = {}
    by_person: dict[int | None, dict[str, tuple[int, int, int]]] = {}
    overall: dict[str, tuple[int, int, int]] = {}
    for group in groups:
        person, name = _person(group)
        names[person] = name
        figures = (group["deals"], group["won"], group["lost"])
        by_person.setdefault(person, {})[group["channel"]] = figures
        before = overall.get(group["channel"], (0, 0, 0))
        overall[group["channel"]] = (
            before[0] + figures[0],
            before[1] + figures[1],
            before[2] + figures[2],
        )
    known = [value for value, _ in Channel.choices if value in overall]
    unknown = sorted(value for value in overall if value not in CHANNEL_LABELS and value)
    channels = known + unknown + ([""] if "" in overall else [])
    people = sorted(
        (_channel_row(p, names[p], counts, channels) for p, counts in by_person.items()),
        key=lambda row: (row.name.casefold(), row.person_id or 0),
    )
    return ChannelMix(
        period=period,
        channels=[(c, str(CHANNEL_LABELS.get(c, c or NO_CHANNEL))) for c in channels],
        people=people,
        totals=_channel_row(None, "All", overall, channels),
    )


def channel_mix_for_viewer(mix: ChannelMix, *, visible: Collection[int]) -> ChannelMix:
    """`mix` with only the rows of the people in `visible`; the totals stay the company's."""
    people = [row for row in mix.people if row.person_id in visible]
    return replace(mix, people=people, hidden=len(mix.people) - len(people))


# --- sales velocity ---------------------------------------------------------------------


@dataclass(frozen=True)
class VelocityMonth:
    """One month of the trend; every figure None for a month that has not begun."""

    month: date
    open_deals: int | None
    won: int | None
    lost: int | None
    win_rate: Decimal | None  # percent, to 0.1
    average_deal_size: Decimal | None  # to the cent
    cycle_days: Decimal | None  # to 0.1
    velocity: Decimal | None  # money a day, to the cent


def velocity_trend(
    *,
    last_month: date,
    months: int = 12,
    process: SalesProcess | None = None,
    owner_ids: OwnerIds = None,
) -> list[VelocityMonth]:
    """Sales velocity, win rate and average cycle for each of the `months` months ending
    with `last_month`, oldest first. For each month (of `process`' deals, if given):

    open deals         deals open at the month's end (or now, for the month under way):
                       created before it and not closed before it
    win rate           won ÷ (won + lost) × 100 of the deals closed in the month
    average deal size  the mean amount of the deals won in the month, in KEEL_CURRENCY
    cycle days         the mean days from creation to close of the deals won in the month
    velocity           open deals × win rate × average deal size ÷ cycle days
                       (funnel_rules.sales_velocity): the money a day the pipeline turns
                       into bookings at the month's pace; None if any factor is missing

    One query, whatever the number of months or deals.
    """
    month_list = rules.months_ending(last_month, months)
    now = timezone.now()
    spans = [(month, *month_bounds(month)) for month in month_list]
    begun = [(month, start, end) for month, start, end in spans if start <= now]
    row: dict[str, Any] = {}
    if begun:
        first_start = begun[0][1]
        last_cut = min(begun[-1][2], now)
        deals = Deal.objects.filter(created_at__lt=last_cut).filter(
            Q(closed_at__isnull=True) | Q(closed_at__gte=first_start)
        )
        if process is not None:
            deals = deals.filter(process=process)
        deals = _owned(deals, owner_ids)
        cycle = ExpressionWrapper(F("closed_at") - F("created_at"), output_field=DurationField())
        aggregates: dict[str, Any] = {}
        for index, (_, start, end) in enumerate(begun):
            cut = min(end, now)
            closed = Q(closed_at__gte=start, closed_at__lt=end)
            won = closed & Q(status=DealStatus.WON)
            booked = won & Q(amount__isnull=False, currency=settings.KEEL_CURRENCY)
            open_at_cut = Q(created_at__lt=cut) & (
                Q(closed_at__isnull=True) | Q(closed_at__gte=cut)
            )
            aggregates |= {
                f"open_{index}": Count("pk", filter=open_at_cut),
                f"won_{index}": Count("pk", filter=won),
                f"lost_{index}": Count("pk", filter=closed & Q(status=DealStatus.LOST)),
                f"booked_{index}": Count("pk", filter=booked),
                f"bookings_{index}": Sum("amount", filter=booked),
                f"cycle_{index}": Avg(cycle, filter=won),
            }
        row = deals.aggregate(**aggregates)

    trend = []
    for index, (month, _, _) in enumerate(begun):
        won_count, lost_count = row[f"won_{index}"], row[f"lost_{index}"]
        booked_count, bookings = row[f"booked_{index}"], row[f"bookings_{index}"]
        win_rate = rules.fraction(won_count, won_count + lost_count)
        size = rules.fraction(Decimal(bookings or 0), booked_count)
        mean = row[f"cycle_{index}"]
        cycle_days = None if mean is None else Decimal(mean // _MICROSECOND) / DAY_MICROSECONDS
        velocity = rules.sales_velocity(
            open_deals=row[f"open_{index}"],
            win_rate=win_rate,
            average_deal_size=size,
            cycle_days=cycle_days,
        )
        trend.append(
            VelocityMonth(
                month=month,
                open_deals=row[f"open_{index}"],
                won=won_count,
                lost=lost_count,
                win_rate=rules.percent(win_rate),
                average_deal_size=rules.rounded(size, CENT),
                cycle_days=rules.rounded(cycle_days, rules.TENTH),
                velocity=rules.rounded(velocity, CENT),
            )
        )
    not_begun = [m for m, _, _ in spans if m not in {b[0] for b in begun}]
    trend += [VelocityMonth(m, None, None, None, None, None, None, None) for m in not_begun]
    return trend


# --- key-person dependence --------------------------------------------------------------


@dataclass(frozen=True)
class HolderShare:
    key: int | str | None  # a person's id (None: no owner) or a referral source ("": none)
    label: str
    value: Decimal  # money to the cent, or a count
    percent: Decimal | None  # of the total, to 0.1
    is_others: bool = False  # the people a viewer may not see, together


@dataclass(frozen=True)
class Dependence:
    """How one total splits between people or sources, and how concentrated it is."""

    title: str
    what: str  # what is shared, in a sentence: "bookings", "the open pipeline"
    by_person: bool
    is_money: bool
    rows: list[HolderShare]  # largest first
    total: Decimal
    hhi: Decimal | None  # sum of squared shares, 0–1, to 0.0001
    hhi_points: int | None  # the same × 10,000, rounded
    threshold: Decimal  # percent
    over: bool  # the top holder has more than the threshold
    warning: str | None  # the warning in words, when over

    @property
    def top(self) -> HolderShare | None:
        return self.rows[0] if self.over else None


def _warning(*, dependence: Dependence, top: HolderShare, named: bool) -> str:
    share, limit = f"{top.percent}%", f"{dependence.threshold}%"
    if not dependence.by_person:
        source = "Deals with no source" if top.key == "" else f"The source {top.label}"
        verb = "bring" if top.key == "" else "brings"
        return f"{source} {verb} {share} of {dependence.what}, more than {limit}."
    who = top.label if named else "One person"
    return f"{who} holds {share} of {dependence.what}, more than {limit}."


def _others(rows: list[HolderShare], *, total: Decimal, noun: tuple[str, str]) -> HolderShare:
    """`rows` summed into one line: "3 other people"."""
    value = sum((r.value for r in rows), Decimal(0))
    return HolderShare(
        key=None,
        label=f"{len(rows)} other {noun[0] if len(rows) == 1 else noun[1]}",
        value=value,
        percent=rules.percent(rules.fraction(value, total)),
        is_others=True,
    )


def dependence_for_viewer(dependence: Dependence, *, visible: Collection[int]) -> Dependence:
    """`dependence` with the rows of people not in `visible` summed into one "others" row,
    and a warning that names nobody the viewer may not see. The index and the shares stay
    the company's."""
    if not dependence.by_person:
        return dependence
    shown = [r for r in dependence.rows if r.key is None or r.key in visible]
    hidden = [r for r in dependence.rows if not (r.key is None or r.key in visible)]
    if not hidden:
        return dependence
    others = _others(hidden, total=dependence.total, noun=("person", "people"))
    warning = dependence.warning
    if dependence.over and dependence.rows[0] in hidden:
        warning = _warning(dependence=dependence, top=dependence.rows[0], named=False)
    return replace(dependence, rows=[*shown, others], warning=warning)


@dataclass(frozen=True)
class KeyPersonDependence:
    period: Period
    pipeline_at: datetime
    bookings: Dependence
    pipeline: Dependence
    leads: Dependence
    sources: Dependence

    def __iter__(self) -> Iterator[Dependence]:
        return iter((self.bookings, self.pipeline, self.leads, self.sources))


def _dependence(
    *,
    title: str,
    what: str,
    values: dict[int | str | None, Decimal],
    labels: dict[int | str | None, str],
    threshold: Decimal,
    by_person: bool,
    is_money: bool,
) -> Dependence:
    # In label order, so that holders with equal values stay alphabetical.
    ordered = dict(sorted(values.items(), key=lambda item: labels[item[0]].casefold()))
    found = rules.concentration(ordered, threshold=threshold)
    hhi = rules.rounded(found.hhi, rules.TEN_THOUSANDTH)
    dependence = Dependence(
        title=title,
        what=what,
        by_person=by_person,
        is_money=is_money,
        rows=[
            HolderShare(
                key=s.key,
                label=labels[s.key],
                value=s.value.quantize(CENT) if is_money else s.value,
                percent=rules.percent(s.share),
            )
            for s in found.shares
        ],
        total=found.total.quantize(CENT) if is_money else found.total,
        hhi=hhi,
        hhi_points=None if hhi is None else int(hhi * 10_000),
        threshold=rules.percent(threshold) or Decimal(0),
        over=found.over,
        warning=None,
    )
    if dependence.top is None:
        return dependence
    return replace(
        dependence, warning=_warning(dependence=dependence, top=dependence.top, named=True)
    )


def _by_person(groups: Iterable[dict[str, Any]]) -> tuple[dict[Any, Decimal], dict[Any, str]]:
    values: dict[Any, Decimal] = {}
    labels: dict[Any, str] = {}
    for group in groups:
        person, name = _person(group)
        values[person] = Decimal(group["value"] or 0)
        labels[person] = name
    return values, labels


def key_person_dependence(
    *,
    period: Period,
    process: SalesProcess | None = None,
    owner_ids: OwnerIds = None,
    threshold: Decimal | None = None,
) -> KeyPersonDependence:
    """The share of bookings, open pipeline and new leads each person holds, and of
    bookings each referral source, each with its Herfindahl–Hirschman index.

    bookings      the amounts of the deals won in the period, by deal owner
    pipeline      the amounts of the deals open at the period's end (now, if it has not
                  ended), by deal owner
    new leads     the contacts who became qualified in the period (Contact.qualified_at),
                  by contact owner ("(no owner)" for none)
    sources       the bookings by Deal.source, "(none)" when blank; the SOURCE_ROWS
                  largest, then the others summed in one row

    Of `process`' deals if given, else of all. `threshold` (a fraction; default the
    setting KEEL_CONCENTRATION_WARNING) marks a total as over when one holder has more
    than it. Four queries.
    """
    if threshold is None:
        threshold = Decimal(str(settings.KEEL_CONCENTRATION_WARNING))
    start, end = _span(period)
    cut = min(end, timezone.now())
    deals = Deal.objects.order_by()
    if process is not None:
        deals = deals.filter(process=process)
    deals = _owned(deals, owner_ids).filter(amount__isnull=False, currency=settings.KEEL_CURRENCY)
    won = deals.filter(status=DealStatus.WON, closed_at__gte=start, closed_at__lt=end)
    open_then = deals.filter(created_at__lt=cut).filter(
        Q(closed_at__isnull=True) | Q(closed_at__gte=cut)
    )
    leads = _owned(Contact.objects.order_by(), owner_ids).filter(
        qualified_at__gte=start, qualified_at__lt=end
    )

    def by_person(
        title: str, what: str, groups: Iterable[dict[str, Any]], money: bool
    ) -> Dependence:
        values, labels = _by_person(groups)
        return _dependence(
            title=title,
            what=what,
            values=values,
            labels=labels,
            threshold=threshold,
            by_person=True,
            is_money=money,
        )

    amounts = {"value": Sum("amount")}
    bookings = by_person(
        "Bookings", "bookings", won.values(*PERSON_FIELDS).annotate(**amounts), True
    )
    pipeline = by_person(
        "Open pipeline",
        "the open pipeline",
        open_then.values(*PERSON_FIELDS).annotate(**amounts),
        True,
    )
    new_leads = by_person(
        "New leads", "new leads", leads.values(*PERSON_FIELDS).annotate(value=Count("pk")), False
    )
    source_values: dict[int | str | None, Decimal] = {}
    for group in won.values("source").annotate(value=Sum("amount")):
        source_values[group["source"]] = Decimal(group["value"] or 0)
    sources = _dependence(
        title="Bookings by referral source",
        what="bookings",
        values=source_values,
        labels={key: str(key) or NO_SOURCE for key in source_values},
        threshold=threshold,
        by_person=False,
        is_money=True,
    )
    if len(sources.rows) > SOURCE_ROWS:
        rest = _others(sources.rows[SOURCE_ROWS:], total=sources.total, noun=("source", "sources"))
        sources = replace(sources, rows=[*sources.rows[:SOURCE_ROWS], rest])
    return KeyPersonDependence(
        period=period,
        pipeline_at=cut,
        bookings=bookings,
        pipeline=pipeline,
        leads=new_leads,
        sources=sources,
    )
