from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from keel.accounts.models import User
from keel.core.exceptions import InvalidInput, NotAllowed
from keel.core.models import AuditEntry
from keel.scorecard.models import CaptureMethod, Goal, Metric, MetricValue, Unit
from keel.scorecard.selectors import metric_values
from keel.scorecard.services import (
    DEFAULT_METRICS,
    goal_set,
    metric_install_defaults,
    metric_value_enter,
)
from keel.scorecard.tests.factories import MetricFactory

OCTOBER = date(2025, 10, 1)


@pytest.fixture
def ad_spend(db: None, alice: User) -> Metric:
    return MetricFactory(key="ad_spend", name="Ad spend", unit=Unit.MONEY, owner=alice)


# --- defaults ---------------------------------------------------------------------------


def test_the_default_metrics_are_installed_and_computed(db: None) -> None:
    metrics = Metric.objects.all()
    assert {m.key for m in metrics} == {d.key for d in DEFAULT_METRICS}
    assert {m.capture_method for m in metrics} == {CaptureMethod.COMPUTED}


def test_installing_again_adds_only_the_missing_and_keeps_edits(db: None, mary: User) -> None:
    Metric.objects.filter(key="calls").update(name="Dials", owner=mary)
    Metric.objects.filter(key="downloads").delete()
    [added] = metric_install_defaults()
    assert added.key == "downloads"
    assert Metric.objects.get(key="calls").name == "Dials"


def test_only_known_metrics_can_be_computed(db: None) -> None:
    metric = MetricFactory.build(key="churn", capture_method=CaptureMethod.COMPUTED)
    with pytest.raises(ValidationError, match="cannot compute 'churn'"):
        metric.full_clean()


# --- hand-entered values ----------------------------------------------------------------


def test_a_missing_value_is_missing_not_zero(ad_spend: Metric) -> None:
    assert metric_values(month=OCTOBER, keys=["ad_spend"]) == {"ad_spend": None}


def test_a_new_entry_supersedes_and_history_is_kept(
    ad_spend: Metric, alice: User, mary: User
) -> None:
    first = metric_value_enter(metric=ad_spend, month=OCTOBER, value=Decimal("100"), by=alice)
    metric_value_enter(metric=ad_spend, month=date(2025, 9, 1), value=Decimal("7"), by=alice)
    second = metric_value_enter(
        metric=ad_spend, month=date(2025, 10, 20), value=Decimal("120.50"), by=mary
    )
    assert metric_values(month=OCTOBER, keys=["ad_spend"]) == {"ad_spend": Decimal("120.50")}
    history = list(MetricValue.objects.filter(metric=ad_spend, month=OCTOBER))
    assert history == [second, first]
    assert (second.entered_by, second.month, second.source) == (mary, OCTOBER, "manual")
    assert AuditEntry.objects.filter(action="metric_value.enter").count() == 3


def test_a_computed_metric_is_not_entered_by_hand(db: None, mary: User) -> None:
    calls = Metric.objects.get(key="calls")
    with pytest.raises(InvalidInput, match="computed"):
        metric_value_enter(metric=calls, month=OCTOBER, value=Decimal(5), by=mary)
    assert not MetricValue.objects.exists()


def test_a_pushed_metric_can_be_corrected_by_hand(db: None, mary: User) -> None:
    metric = MetricFactory(key="visitors_ga", capture_method=CaptureMethod.PUSHED)
    metric_value_enter(metric=metric, month=OCTOBER, value=Decimal(4200), by=mary)
    assert metric_values(month=OCTOBER, keys=["visitors_ga"]) == {"visitors_ga": Decimal(4200)}


@pytest.mark.parametrize(
    ("value", "month", "message"),
    [
        (Decimal("-1"), OCTOBER, "zero or more"),
        (Decimal("1"), date(2999, 1, 1), "has not begun"),
    ],
)
def test_bad_values_are_refused(
    ad_spend: Metric, alice: User, value: Decimal, month: date, message: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        metric_value_enter(metric=ad_spend, month=month, value=value, by=alice)
    assert message in str(refused.value)
    assert not MetricValue.objects.exists()


def test_who_may_enter_a_value(ad_spend: Metric, olivia: User, bob: User, vera: User) -> None:
    metric_value_enter(metric=ad_spend, month=OCTOBER, value=Decimal(1), by=olivia)  # the owner
    for person in (bob, vera):  # neither the metric's owner nor a manager
        with pytest.raises(NotAllowed, match="may not enter values for Ad spend"):
            metric_value_enter(metric=ad_spend, month=OCTOBER, value=Decimal(2), by=person)
    assert MetricValue.objects.count() == 1


# --- goals ------------------------------------------------------------------------------


def test_a_goal_is_set_and_replaced(ad_spend: Metric, mary: User, olivia: User) -> None:
    goal = goal_set(metric=ad_spend, year=2025, target=Decimal(12000), by=mary)
    assert (goal.phasing, goal.weights) == ("even", [])
    again = goal_set(
        metric=ad_spend,
        year=2025,
        target=Decimal(16000),
        phasing="seasonal",
        weights=[1] * 10 + [3, 3],
        by=olivia,
    )
    assert again.pk == goal.pk
    assert Goal.objects.get().target == 16000
    last = AuditEntry.objects.filter(action="goal.set").first()
    assert last.changes["target"] == ["12000.0000", "16000.0000"]


def test_seasonal_weights_must_add_up(ad_spend: Metric, mary: User) -> None:
    with pytest.raises(InvalidInput) as refused:
        goal_set(
            metric=ad_spend,
            year=2025,
            target=Decimal(1),
            phasing="seasonal",
            weights=[0] * 12,
            by=mary,
        )
    assert "above zero" in str(refused.value)
    assert not Goal.objects.exists()


def test_only_managers_set_goals(ad_spend: Metric, alice: User) -> None:
    with pytest.raises(NotAllowed, match="sales managers and the owner may"):
        goal_set(metric=ad_spend, year=2025, target=Decimal(1), by=alice)  # even its owner
    assert not Goal.objects.exists()
