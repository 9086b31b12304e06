from datetime import date
from decimal import Decimal

import pytest

from keel.crm.models import FunnelStage
from keel.scorecard.models import MetricStage
from keel.scorecard.rules import (
    month_start,
    month_target,
    next_month,
    value_problems,
    weights_problems,
    ytd_target,
)

SEASONAL = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3]  # 16 shares; November and December 3 each


def test_months() -> None:
    assert month_start(date(2025, 10, 31)) == date(2025, 10, 1)
    assert next_month(date(2025, 12, 1)) == date(2026, 1, 1)


def test_the_scorecard_steps_are_funnel_stages() -> None:
    assert set(MetricStage.values) <= set(FunnelStage.values)


def test_even_phasing() -> None:
    goal = {"target": Decimal(12000), "phasing": "even", "weights": []}
    assert month_target(**goal, month=3) == 1000
    assert ytd_target(**goal, through_month=3) == 3000
    assert ytd_target(**goal, through_month=12) == 12000


def test_seasonal_phasing() -> None:
    goal = {"target": Decimal(16000), "phasing": "seasonal", "weights": SEASONAL}
    assert month_target(**goal, month=1) == 1000  # 16,000 × 1/16
    assert month_target(**goal, month=12) == 3000  # 16,000 × 3/16
    assert ytd_target(**goal, through_month=10) == 10000
    assert ytd_target(**goal, through_month=11) == 13000
    assert ytd_target(**goal, through_month=12) == 16000


def test_year_to_date_is_the_target_in_december_even_when_months_do_not_divide() -> None:
    goal = {"target": Decimal(1000), "phasing": "seasonal", "weights": [1] * 11 + [2]}
    assert ytd_target(**goal, through_month=12) == 1000
    assert month_target(**goal, month=12) * 13 == pytest.approx(Decimal(2000))


@pytest.mark.parametrize(
    ("phasing", "weights", "problem"),
    [
        ("even", [1] * 12, "takes no monthly weights"),
        ("seasonal", [1] * 11, "needs 12"),
        ("seasonal", [0] * 12, "above zero"),
        ("seasonal", [1] * 11 + [-1], "zero or more"),
        ("seasonal", [1] * 11 + ["many"], "is a number"),
        ("seasonal", [1] * 11 + [True], "is a number"),
        ("monthly", [], "'even' or 'seasonal'"),
    ],
)
def test_bad_phasing(phasing: str, weights: list[object], problem: str) -> None:
    [message] = weights_problems(phasing, weights)
    assert problem in message
    with pytest.raises(ValueError, match=problem):
        month_target(target=Decimal(1), phasing=phasing, weights=weights, month=1)


def test_a_month_is_one_to_twelve() -> None:
    with pytest.raises(ValueError, match="1 to 12"):
        ytd_target(target=Decimal(1), phasing="even", weights=[], through_month=13)


@pytest.mark.parametrize(
    ("unit", "value", "ok"),
    [
        ("count", Decimal(3), True),
        ("count", Decimal("2.5"), False),
        ("count", Decimal(-1), False),
        ("money", Decimal("99.95"), True),
        ("percent", Decimal("100"), True),
        ("percent", Decimal("100.1"), False),
        ("days", Decimal("12.5"), True),
        ("days", Decimal("NaN"), False),
    ],
)
def test_values_by_unit(unit: str, value: Decimal, ok: bool) -> None:
    assert (value_problems(unit, value) == []) is ok
