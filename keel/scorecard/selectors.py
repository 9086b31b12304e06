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

from collections.abc import Callable, Iterable
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
from keel.scorecard.models import CaptureMethod, Metric, MetricValue

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
