"""The campaign report: what each campaign (or channel) brought, month by month, and what
it cost.

A month is a calendar month in Keel's time zone (scorecard.selectors.month_bounds). A
contact belongs to a campaign by the chosen touch (`first_campaign` or `last_campaign`,
leads/campaigns.py keeps them). The columns:

    suspects        visit and download events tagged with the campaign code, by occurred_at
    prospects       contacts attributed to the campaign, by created_at
    leads           contacts attributed to the campaign, by inquired_at
    qualified       contacts attributed to the campaign, by qualified_at
    customers       companies whose first won deal closed in the month; the deal counts
                    for its own `campaign` when set, else for the campaign (by the chosen
                    touch) of the company's earliest-created contact that has one
    bookings        the amounts of the won deals closed in the month, attributed the same
                    way, in the business's currency (KEEL_CURRENCY); others are left out
    cost            the campaign's cost spread evenly over its days, starts_on to ends_on
                    (or today while it runs): the month's share of those days, in cents,
                    so the months add up to the cost
    cost per lead / per customer   cost ÷ leads, cost ÷ customers, to the cent; None
                    with no leads (customers) or no cost known

Records with no campaign are left out. A code with records but no Campaign row shows as
its code with no cost (None); grouped by channel, such codes are "Untracked".

One aggregate query per source table (events, contacts, deals) for every month and
campaign at once, each month a conditional aggregate, plus one read of the campaigns.
"""

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

from django.conf import settings
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    When,
)
from django.db.models.aggregates import Aggregate
from django.utils import timezone

from keel.core.exceptions import InvalidInput
from keel.crm.models import Channel, Contact
from keel.leads.models import Campaign, EventType, MarketingEvent
from keel.pipeline.models import Deal, DealStatus
from keel.scorecard import rules
from keel.scorecard.selectors import month_bounds

Touch = Literal["first", "last"]
GroupBy = Literal["campaign", "channel"]
TOUCH_FIELDS: dict[str, str] = {"first": "first_campaign", "last": "last_campaign"}
GROUPINGS = ("channel", "campaign")
UNTRACKED = "untracked"
UNTRACKED_LABEL = "Untracked"
MAX_MONTHS = 36
CENT = Decimal("0.01")
SUSPECT_TYPES = (EventType.VISIT, EventType.DOWNLOAD)
COUNTS = ("suspects", "prospects", "leads", "qualified", "customers")


@dataclass
class Figures:
    suspects: int = 0
    prospects: int = 0
    leads: int = 0
    qualified: int = 0
    customers: int = 0
    bookings: Decimal = Decimal(0)
    cost: Decimal | None = None  # None: no campaign, so no cost is known

    @property
    def cost_per_lead(self) -> Decimal | None:
        return _per(self.cost, self.leads)

    @property
    def cost_per_customer(self) -> Decimal | None:
        return _per(self.cost, self.customers)

    def add(self, other: "Figures") -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.bookings += other.bookings
        if other.cost is not None:
            self.cost = (self.cost or Decimal(0)) + other.cost


def _per(cost: Decimal | None, count: int) -> Decimal | None:
    if cost is None or not count:
        return None
    return (cost / count).quantize(CENT, rounding=ROUND_HALF_EVEN)


@dataclass
class Group:
    """One row of the report: a campaign (or a code with none) or a channel."""

    key: str  # the campaign code, or the channel's value (UNTRACKED for codes with none)
    label: str
    channel: str = ""  # the channel's label
    campaign: Campaign | None = None  # grouped by campaign: the campaign, if one exists
    months: list[Figures] = field(default_factory=list)
    total: Figures = field(default_factory=Figures)


@dataclass(frozen=True)
class Report:
    start: date  # the first month
    end: date  # the last month
    touch: str
    by: str
    months: list[date]
    groups: list[Group]
    month_totals: list[Figures]
    total: Figures

    def group(self, key: str) -> Group | None:
        return next((g for g in self.groups if g.key == key), None)


def months_between(start: date, end: date) -> list[date]:
    months = [rules.month_start(start)]
    while months[-1] < rules.month_start(end):
        months.append(rules.next_month(months[-1]))
    return months


def last_months(*, count: int = 12, today: date | None = None) -> tuple[date, date]:
    """The first and last of the `count` months ending with this one."""
    end = rules.month_start(today or timezone.localdate())
    start = end
    for _ in range(count - 1):
        start = rules.previous_month(start)
    return start, end


# --- the aggregates -------------------------------------------------------------------------


Span = tuple[datetime, datetime]


def _in(field_name: str, span: Span) -> Q:
    return Q(**{f"{field_name}__gte": span[0], f"{field_name}__lt": span[1]})


def _monthly(
    rows: QuerySet[Any], group: str, spans: list[Span], **measures: Any
) -> dict[str, list[dict[str, Any]]]:
    """One query: each of `measures` (name: a function of the span giving an aggregate) for
    each span, grouped by `group`. Returns {code: [{measure: value} per span]}."""
    aggregates: dict[str, Aggregate] = {
        f"{name}_{i}": make(span) for name, make in measures.items() for i, span in enumerate(spans)
    }
    found: dict[str, list[dict[str, Any]]] = {}
    for row in rows.values(group).annotate(**aggregates).order_by():
        code = row[group]
        if not code:
            continue
        found[code] = [{name: row[f"{name}_{i}"] for name in measures} for i in range(len(spans))]
    return found


def _event_counts(
    spans: list[Span], codes: Collection[str] | None
) -> dict[str, list[dict[str, Any]]]:
    events = MarketingEvent.objects.filter(
        type__in=SUSPECT_TYPES, occurred_at__gte=spans[0][0], occurred_at__lt=spans[-1][1]
    ).exclude(campaign="")
    if codes is not None:
        events = events.filter(campaign__in=list(codes))
    return _monthly(
        events, "campaign", spans, suspects=lambda s: Count("pk", filter=_in("occurred_at", s))
    )


def _contact_counts(
    spans: list[Span], touch_field: str, codes: Collection[str] | None
) -> dict[str, list[dict[str, Any]]]:
    low, high = spans[0][0], spans[-1][1]
    contacts = Contact.objects.exclude(**{touch_field: ""}).filter(
        Q(created_at__gte=low, created_at__lt=high)
        | Q(inquired_at__gte=low, inquired_at__lt=high)
        | Q(qualified_at__gte=low, qualified_at__lt=high)
    )
    if codes is not None:
        contacts = contacts.filter(**{f"{touch_field}__in": list(codes)})
    return _monthly(
        contacts,
        touch_field,
        spans,
        prospects=lambda s: Count("pk", filter=_in("created_at", s)),
        leads=lambda s: Count("pk", filter=_in("inquired_at", s)),
        qualified=lambda s: Count("pk", filter=_in("qualified_at", s)),
    )


def _deal_sums(
    spans: list[Span], touch_field: str, codes: Collection[str] | None
) -> dict[str, list[dict[str, Any]]]:
    # The deal's own campaign, else that of its company's earliest-created attributed contact.
    company_code = (
        Contact.objects.filter(company=OuterRef("company"))
        .exclude(**{touch_field: ""})
        .order_by("created_at", "id")
        .values(touch_field)[:1]
    )
    code = Case(
        When(~Q(campaign=""), then=F("campaign")),
        default=Subquery(company_code),
        output_field=CharField(),
    )
    # A first purchase: no won deal of the company before it (the same instant: lower id).
    earlier_win = Deal.objects.filter(
        Q(closed_at__lt=OuterRef("closed_at"))
        | Q(closed_at=OuterRef("closed_at"), pk__lt=OuterRef("pk")),
        company=OuterRef("company"),
        status=DealStatus.WON,
    )
    deals = Deal.objects.filter(
        status=DealStatus.WON, closed_at__gte=spans[0][0], closed_at__lt=spans[-1][1]
    ).annotate(code=code)
    if codes is not None:
        deals = deals.filter(code__in=list(codes))
    first = ~Q(Exists(earlier_win))
    booked = Q(amount__isnull=False, currency=settings.KEEL_CURRENCY)
    return _monthly(
        deals,
        "code",
        spans,
        customers=lambda s: Count("pk", filter=_in("closed_at", s) & first),
        bookings=lambda s: Sum("amount", filter=_in("closed_at", s) & booked),
    )


# --- cost -------------------------------------------------------------------------------------


def cost_by_month(
    *, cost: Decimal, starts_on: date, ends_on: date | None, months: list[date], today: date
) -> list[Decimal]:
    """`cost` spread evenly over the days from `starts_on` to `ends_on` (today while
    running), both counted: each month's share. Shares are rounded on the running total,
    so the months of the whole campaign add up to the cost exactly."""
    last = max(starts_on, ends_on or today)
    days = (last - starts_on).days + 1

    def spent_by(day: date) -> Decimal:  # the cost of the days before `day`
        elapsed = min(max((day - starts_on).days, 0), days)
        return (cost * elapsed / days).quantize(CENT, rounding=ROUND_HALF_EVEN)

    return [spent_by(rules.next_month(m)) - spent_by(m) for m in months]


# --- the report -------------------------------------------------------------------------------


def campaign_report(
    *,
    start: date,
    end: date,
    touch: str = "first",
    by: str = "channel",
    codes: Collection[str] | None = None,
    today: date | None = None,
) -> Report:
    """Each group's figures for each month from `start`'s month to `end`'s, with totals.

    `codes` limits the report to those campaign codes (a campaign's page, a list page).
    Four queries, however many campaigns and months.
    """
    if touch not in TOUCH_FIELDS:
        raise InvalidInput(f"The touch is 'first' or 'last', not {touch!r}.")
    if by not in GROUPINGS:
        raise InvalidInput(f"The report is by 'campaign' or by 'channel', not {by!r}.")
    if rules.month_start(end) < rules.month_start(start):
        raise InvalidInput(f"The report ends ({end:%Y-%m}) before it starts ({start:%Y-%m}).")
    months = months_between(start, end)
    if len(months) > MAX_MONTHS:
        raise InvalidInput(f"A report shows at most {MAX_MONTHS} months, not {len(months)}.")
    today = today or timezone.localdate()
    spans = [month_bounds(m) for m in months]
    touch_field = TOUCH_FIELDS[touch]

    per_code: dict[str, list[Figures]] = defaultdict(lambda: [Figures() for _ in months])
    for code, values in _event_counts(spans, codes).items():
        for figures, value in zip(per_code[code], values, strict=True):
            figures.suspects = value["suspects"]
    for code, values in _contact_counts(spans, touch_field, codes).items():
        for figures, value in zip(per_code[code], values, strict=True):
            figures.prospects = value["prospects"]
            figures.leads = value["leads"]
            figures.qualified = value["qualified"]
    for code, values in _deal_sums(spans, touch_field, codes).items():
        for figures, value in zip(per_code[code], values, strict=True):
            figures.customers = value["customers"]
            figures.bookings = Decimal(value["bookings"] or 0).quantize(CENT)
    # The campaigns running in the period (their cost falls in it), and those whose people
    # or customers show in it though they ended before: credited to their own channel.
    running = Q(starts_on__lt=rules.next_month(months[-1])) & (
        Q(ends_on__isnull=True) | Q(ends_on__gte=months[0])
    )
    campaigns = (
        Campaign.objects.filter(code__in=list(codes))
        if codes is not None
        else Campaign.objects.filter(running | Q(code__in=list(per_code)))
    )
    known = {c.code: c for c in campaigns.select_related("owner")}
    for code, campaign in known.items():
        shares = cost_by_month(
            cost=campaign.cost,
            starts_on=campaign.starts_on,
            ends_on=campaign.ends_on,
            months=months,
            today=today,
        )
        for figures, share in zip(per_code[code], shares, strict=True):
            figures.cost = share

    groups = _grouped(per_code, known, by)
    month_totals = [Figures() for _ in months]
    total = Figures()
    for group in groups:
        for figures, summed in zip(group.months, month_totals, strict=True):
            summed.add(figures)
            group.total.add(figures)
        total.add(group.total)
    return Report(
        start=months[0],
        end=months[-1],
        touch=touch,
        by=by,
        months=months,
        groups=groups,
        month_totals=month_totals,
        total=total,
    )


def _grouped(
    per_code: dict[str, list[Figures]], known: dict[str, Campaign], by: str
) -> list[Group]:
    channel_labels = dict(Channel.choices)
    if by == "campaign":
        groups = []
        for code, months in per_code.items():
            campaign = known.get(code)
            groups.append(
                Group(
                    key=code,
                    label=campaign.name if campaign else code,
                    channel=channel_labels.get(campaign.channel, "") if campaign else "",
                    campaign=campaign,
                    months=months,
                )
            )
        return sorted(groups, key=lambda g: (g.campaign is None, g.label.lower(), g.key))
    by_channel: dict[str, Group] = {}
    for code, months in per_code.items():
        campaign = known.get(code)
        key = campaign.channel if campaign else UNTRACKED
        label = channel_labels.get(key, UNTRACKED_LABEL)
        group = by_channel.setdefault(
            key,
            Group(key=key, label=label, channel=label, months=[Figures() for _ in months]),
        )
        for summed, figures in zip(group.months, months, strict=True):
            summed.add(figures)
    order = {value: i for i, value in enumerate([*Channel.values, UNTRACKED])}
    return sorted(by_channel.values(), key=lambda g: order[g.key])
