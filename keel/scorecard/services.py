"""Writes of the scorecard: metrics, values entered by hand or pushed, annual goals."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from keel.accounts.models import Team, User
from keel.core.exceptions import InvalidInput
from keel.core.services import audit_record, model_update, validate
from keel.scorecard import rules
from keel.scorecard.access import (
    ensure_can_enter_value,
    ensure_can_manage_metrics,
    ensure_can_set_goal,
)
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


# --- metrics ----------------------------------------------------------------------------

# The key is not among them: it names the metric to the systems that push its values.
METRIC_EDITABLE_FIELDS = [
    "name",
    "stage",
    "unit",
    "owner",
    "capture_method",
    "description",
    "position",
    "is_active",
]


@transaction.atomic
def metric_create(
    *,
    by: User,
    key: str,
    name: str,
    stage: str,
    unit: str = Unit.COUNT,
    owner: User | None = None,
    capture_method: str = CaptureMethod.MANUAL,
    description: str = "",
    position: int = 0,
    is_active: bool = True,
) -> Metric:
    """Add a metric of the business's own. Only a key Keel knows can be computed."""
    ensure_can_manage_metrics(by)
    metric = Metric(
        key=key.strip(),
        name=name.strip(),
        stage=stage,
        unit=unit,
        owner=owner,
        capture_method=capture_method,
        description=description.strip(),
        position=position,
        is_active=is_active,
    )
    validate(metric)
    metric.save()
    audit_record(
        actor=by,
        action="metric.create",
        obj=metric,
        summary=f"{metric} ({metric.key}), {metric.get_capture_method_display().lower()}",
    )
    return metric


@transaction.atomic
def metric_update(*, metric: Metric, by: User, data: dict[str, Any]) -> Metric:
    """Change the fields of `data` (METRIC_EDITABLE_FIELDS); save and audit what changed."""
    ensure_can_manage_metrics(by)
    if "key" in data and data["key"] != metric.key:
        raise InvalidInput(
            f"The key of {metric} stays {metric.key!r}: the systems that push its values "
            "name it so. Add a new metric instead."
        )
    unknown = set(data) - {"key", *METRIC_EDITABLE_FIELDS}
    if unknown:
        raise InvalidInput(f"These metric fields cannot be edited: {', '.join(sorted(unknown))}.")
    cleaned = {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}
    changes = model_update(instance=metric, data=cleaned, fields=METRIC_EDITABLE_FIELDS)
    if changes:
        audit_record(
            actor=by, action="metric.update", obj=metric, summary=str(metric), changes=changes
        )
    return metric


# --- values -----------------------------------------------------------------------------


@transaction.atomic
def metric_value_enter(
    *,
    metric: Metric,
    month: date,
    value: Decimal,
    by: User,
    note: str = "",
    team: Team | None = None,
    person: User | None = None,
) -> MetricValue:
    """Record a month's figure for a metric, entered by hand.

    `month` is any day of the month. The figure is company-wide, or a team's or a
    person's (one of the two, not both). The new entry supersedes earlier ones for the
    same month and scope, which are kept as its history. Computed metrics are refused:
    Keel's records are their only source. A pushed metric may be corrected by hand.
    """
    return _value_record(
        metric=metric,
        month=month,
        value=value,
        by=by,
        note=note,
        team=team,
        person=person,
        source=ValueSource.MANUAL,
    )


@transaction.atomic
def metric_value_push(
    *,
    metric: Metric,
    month: date,
    value: Decimal,
    by: User,
    note: str = "",
    team: Team | None = None,
    person: User | None = None,
) -> MetricValue:
    """Record a month's figure sent by another system through the API, as `by` (the
    token's user). As metric_value_enter, but only for metrics captured by push."""
    return _value_record(
        metric=metric,
        month=month,
        value=value,
        by=by,
        note=note,
        team=team,
        person=person,
        source=ValueSource.PUSHED,
    )


def _value_record(
    *,
    metric: Metric,
    month: date,
    value: Decimal,
    by: User,
    note: str,
    team: Team | None,
    person: User | None,
    source: ValueSource,
) -> MetricValue:
    """What entering and pushing share: who may, which month, which value, the audit."""
    if team is not None and person is not None:
        raise InvalidInput(
            "A figure is a team's or a person's, not both; with neither it is company-wide.",
            details=["person: leave it empty for a team's figure"],
        )
    ensure_can_enter_value(by, metric, team=team, person=person)
    _check_capture(metric=metric, source=source)
    month = rules.month_start(month)
    if month > rules.month_start(timezone.localdate()):
        raise InvalidInput(
            f"{month:%B %Y} has not begun: enter its figure once it has.",
            details=[f"month: {month:%B %Y} has not begun"],
        )
    problems = rules.value_problems(metric.unit, value)
    if problems:
        raise InvalidInput(
            f"{value} is not a value for {metric}.", details=[f"value: {p}" for p in problems]
        )
    entry = MetricValue(
        metric=metric,
        month=month,
        team=team,
        person=person,
        value=value,
        source=source,
        entered_by=by,
        entered_at=timezone.now(),
        note=note.strip(),
    )
    validate(entry)
    entry.save()
    whose = f" ({person or f'team {team}'})" if team or person else ""
    audit_record(
        actor=by,
        action="metric_value.push" if source == ValueSource.PUSHED else "metric_value.enter",
        obj=metric,
        summary=f"{metric} {month:%Y-%m}{whose}: {value}",
        changes={
            "month": month.isoformat(),
            "value": str(value),
            "team": team.pk if team else None,
            "person": person.pk if person else None,
        },
    )
    return entry


def _check_capture(*, metric: Metric, source: ValueSource) -> None:
    if metric.capture_method == CaptureMethod.COMPUTED:
        how = "pushed to it" if source == ValueSource.PUSHED else "entered by hand"
        raise InvalidInput(f"{metric} is computed from Keel's records; nothing is {how}.")
    if source == ValueSource.PUSHED and metric.capture_method != CaptureMethod.PUSHED:
        raise InvalidInput(
            f"{metric} is entered by hand, not pushed: a manager can switch its capture "
            "method to pushed first."
        )


# --- goals ------------------------------------------------------------------------------


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
    """Set (or replace) a metric's annual target and how it is spread over the months.

    Seasonal `weights` are 12 numbers, January to December, in any proportion (percent,
    or the months' share of last year's figure): only their ratios count.
    """
    ensure_can_set_goal(by, metric)
    if target.is_finite() and target < 0:
        raise InvalidInput(
            f"The goal for {metric} is zero or more, not {target}.",
            details=["target: the goal is zero or more"],
        )
    weights = [] if weights is None else [_json_number(w) for w in weights]
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


# Weights are ratios; past this they are a typing slip, and JSON would lose their digits.
MAX_WEIGHT = Decimal(10) ** 12


def _json_number(weight: object) -> object:
    """A typed weight as the goal's JSON keeps it: a whole number, or a float."""
    if not isinstance(weight, Decimal) or not weight.is_finite():
        return weight  # rules.weights_problems names what is wrong with it
    if abs(weight) >= MAX_WEIGHT:
        raise InvalidInput(
            f"A monthly weight of {weight} is out of proportion: weights are shares of the "
            "year, e.g. percentages.",
            details=["weights: each weight is under 1,000,000,000,000"],
        )
    return int(weight) if weight == weight.to_integral_value() else float(weight)
