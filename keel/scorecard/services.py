"""Writes of the scorecard: the default metrics, hand-entered values, annual goals."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from keel.accounts.models import User
from keel.core.exceptions import InvalidInput
from keel.core.services import audit_record, validate
from keel.scorecard import rules
from keel.scorecard.access import ensure_can_enter_value, ensure_can_set_goal
from keel.scorecard.models import (
    CaptureMethod,
    Goal,
    Metric,
    MetricStage,
    MetricValue,
    Phasing,
    Unit,
    ValueSource,
)


@dataclass(frozen=True)
class DefaultMetric:
    key: str
    name: str
    stage: MetricStage
    unit: Unit
    description: str


S, P, L, C = MetricStage.SUSPECT, MetricStage.PROSPECT, MetricStage.LEAD, MetricStage.CUSTOMER
COUNT, MONEY, PERCENT, DAYS = Unit.COUNT, Unit.MONEY, Unit.PERCENT, Unit.DAYS

# Every one is computed from Keel's records (see selectors.py for the exact definitions);
# a business that gets a figure elsewhere switches the metric to pushed or manual.
DEFAULT_METRICS = [
    DefaultMetric("website_visitors", "Website visitors", S, COUNT, "Website visit events."),
    DefaultMetric("downloads", "Downloads", S, COUNT, "Download events."),
    DefaultMetric(
        "inbound_inquiries", "Inbound inquiries", P, COUNT, "Inquiry and form-fill events."
    ),
    DefaultMetric(
        "outbound_telemarketing",
        "Outbound contacts: telemarketing",
        L,
        COUNT,
        "Touches logged on the cold-calling channel.",
    ),
    DefaultMetric(
        "outbound_tradeshows",
        "Outbound contacts: tradeshows",
        L,
        COUNT,
        "Touches logged on the tradeshow channel.",
    ),
    DefaultMetric(
        "outbound_networking",
        "Outbound contacts: networking",
        L,
        COUNT,
        "Touches logged on the in-person networking channel.",
    ),
    DefaultMetric(
        "outbound_social",
        "Outbound contacts: social",
        L,
        COUNT,
        "Touches logged on the social-selling channel.",
    ),
    DefaultMetric("calls", "Calls", L, COUNT, "Calls logged, connected or not."),
    DefaultMetric("connects", "Connects", L, COUNT, "Calls that reached the person."),
    DefaultMetric(
        "qualified_conversations",
        "Qualified conversations",
        L,
        COUNT,
        "Contacts who met the lead definition.",
    ),
    DefaultMetric("presentations_given", "Presentations given", L, COUNT, "Presentations held."),
    DefaultMetric("proposals_submitted", "Proposals submitted", C, COUNT, "Proposals sent."),
    DefaultMetric("deals_won", "Deals won", C, COUNT, "Deals closed as won."),
    DefaultMetric(
        "close_rate", "Close rate", C, PERCENT, "Won deals among the deals closed, won or lost."
    ),
    DefaultMetric(
        "new_customers", "New customers", C, COUNT, "Companies that won their first deal."
    ),
    DefaultMetric("bookings", "Bookings", C, MONEY, "The amounts of the deals won."),
    DefaultMetric(
        "average_deal_size", "Average deal size", C, MONEY, "Bookings per won deal with an amount."
    ),
    DefaultMetric(
        "sales_cycle_days",
        "Sales-cycle length",
        C,
        DAYS,
        "Mean days from a won deal's creation to its close.",
    ),
]


def metric_install_defaults() -> list[Metric]:
    """Add the shipped metrics this database does not have yet; never touch existing ones."""
    existing = set(Metric.objects.values_list("key", flat=True))
    missing = [
        Metric(
            key=d.key,
            name=d.name,
            stage=d.stage,
            unit=d.unit,
            capture_method=CaptureMethod.COMPUTED,
            description=d.description,
            position=position,
        )
        for position, d in enumerate(DEFAULT_METRICS)
        if d.key not in existing
    ]
    return Metric.objects.bulk_create(missing)


@transaction.atomic
def metric_value_enter(
    *, metric: Metric, month: date, value: Decimal, by: User, note: str = ""
) -> MetricValue:
    """Record a month's figure for a metric entered by hand.

    `month` is any day of the month. The new entry supersedes earlier ones for the same
    month, which are kept as its history. Computed metrics are refused: Keel's records
    are their only source.
    """
    ensure_can_enter_value(by, metric)
    if metric.capture_method == CaptureMethod.COMPUTED:
        raise InvalidInput(f"{metric} is computed from Keel's records; it is not entered by hand.")
    month = rules.month_start(month)
    if month > rules.month_start(timezone.localdate()):
        raise InvalidInput(f"{month:%B %Y} has not begun: enter its figure once it has.")
    problems = rules.value_problems(metric.unit, value)
    if problems:
        raise InvalidInput(f"{value} is not a value for {metric}.", details=problems)
    entry = MetricValue(
        metric=metric,
        month=month,
        value=value,
        source=ValueSource.MANUAL,
        entered_by=by,
        entered_at=timezone.now(),
        note=note.strip(),
    )
    validate(entry)
    entry.save()
    audit_record(
        actor=by,
        action="metric_value.enter",
        obj=metric,
        summary=f"{metric} {month:%Y-%m}: {value}",
        changes={"month": month.isoformat(), "value": str(value)},
    )
    return entry


def _goal_terms(goal: Goal) -> dict[str, object]:
    """A goal's terms as the audit log keeps them, to the 4 places the database stores."""
    target = Decimal(goal.target).quantize(Decimal("0.0001"))
    return {"target": str(target), "phasing": goal.phasing, "weights": goal.weights}


@transaction.atomic
def goal_set(
    *,
    metric: Metric,
    year: int,
    target: Decimal,
    by: User,
    phasing: str = Phasing.EVEN,
    weights: list[object] | None = None,
) -> Goal:
    """Set (or replace) a metric's annual target and how it is spread over the months."""
    ensure_can_set_goal(by, metric)
    weights = [] if weights is None else list(weights)
    goal = Goal.objects.select_for_update().filter(metric=metric, year=year).first()
    before = _goal_terms(goal) if goal else {}
    if goal is None:
        goal = Goal(metric=metric, year=year)
    goal.target, goal.phasing, goal.weights, goal.updated_by = target, phasing, weights, by
    validate(goal)
    goal.save()
    after = _goal_terms(goal)
    audit_record(
        actor=by,
        action="goal.set",
        obj=goal,
        summary=f"{metric} {year}: {target} ({goal.get_phasing_display().lower()})",
        changes={k: [before.get(k), v] for k, v in after.items() if before.get(k) != v},
    )
    return goal
