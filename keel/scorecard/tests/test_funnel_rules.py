import os
import subprocess
import sys
from datetime import date
from decimal import Decimal

import pytest

from keel.core.exceptions import InvalidInput
from keel.scorecard.funnel_rules import (
    BottleneckReason,
    Period,
    StageCount,
    StageFlow,
    add_months,
    bottleneck,
    concentration,
    conversion,
    fraction,
    hhi,
    median,
    months_ending,
    percent,
    period_from_query,
    sales_velocity,
    stage_counts,
)

D = Decimal
YEAR = Period(first=date(2025, 1, 1), last=date(2025, 12, 1))


# --- periods ----------------------------------------------------------------------------


def test_a_month_or_a_span_of_months_or_the_default() -> None:
    one = period_from_query(month="2025-10", start=None, end=None, default=YEAR)
    assert one == Period(first=date(2025, 10, 1), last=date(2025, 10, 1))
    assert (one.months, one.end, str(one)) == (1, date(2025, 11, 1), "October 2025")
    span = period_from_query(month=None, start="2024-11", end="2025-02", default=YEAR)
    assert (span.first, span.last, span.months) == (date(2024, 11, 1), date(2025, 2, 1), 4)
    assert str(span) == "November 2024 – February 2025"
    assert period_from_query(month="", start="", end=None, default=YEAR) is YEAR


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"month": "2025/10"}, "like 2025-10, not '2025/10'"),
        ({"month": "2025-13"}, "months are 01 to 12"),
        ({"start": "2025-01"}, "needs both"),
        ({"start": "2025-05", "end": "2025-04"}, "ends (2025-04) before it begins (2025-05)"),
        ({"start": "2020-01", "end": "2025-01"}, "at most 36 months"),
        ({"month": "2025-01", "start": "2025-01", "end": "2025-02"}, "not both"),
        ({"start": "0999-01", "end": "2025-01"}, "not a year Keel can show"),
    ],
)
def test_a_bad_period_is_refused_with_a_reason(query: dict[str, str], message: str) -> None:
    terms = {"month": None, "start": None, "end": None} | query
    with pytest.raises(InvalidInput) as refused:
        period_from_query(**terms, default=YEAR)
    assert message in str(refused.value)


def test_months_count_across_years() -> None:
    assert add_months(date(2025, 1, 1), -1) == date(2024, 12, 1)
    assert add_months(date(2025, 11, 1), 14) == date(2027, 1, 1)
    assert months_ending(date(2025, 2, 17), 3) == [
        date(2024, 12, 1),
        date(2025, 1, 1),
        date(2025, 2, 1),
    ]
    with pytest.raises(InvalidInput):
        months_ending(date(2025, 2, 1), 0)


# --- ratios -----------------------------------------------------------------------------


def test_fractions_percentages_and_medians() -> None:
    assert fraction(1, 3) == D(1) / D(3)
    assert fraction(5, 0) is None
    assert percent(D(1) / D(3)) == D("33.3")
    assert percent(D("0.4125")) == D("41.2")  # half to even
    assert percent(None) is None
    assert median([D(30), D(10), D(20)]) == D(20)
    assert median([D(4), D(1), D(3), D(10)]) == D("3.5")
    assert median([]) is None
    assert conversion(went_on=3, dropped=1) == D("0.75")
    assert conversion(went_on=0, dropped=0) is None


# --- stage to stage ---------------------------------------------------------------------


def test_stage_counts_from_the_furthest_stage_each_deal_reached() -> None:
    # Three open stages and won (3). Deals: 2 won; 1 lost after reaching stage 2; 1 open
    # in stage 2; 2 lost in stage 0; 1 open in stage 0; 1 lost after reaching stage 1.
    furthest = {
        (3, False): 2,
        (2, False): 1,
        (2, True): 1,
        (0, False): 2,
        (0, True): 1,
        (1, False): 1,
    }
    assert stage_counts(furthest=furthest, stages=3) == [
        StageCount(reached=8, went_on=5, still_open=1),  # 2 dropped: 5 of 7 decided went on
        StageCount(reached=5, went_on=4, still_open=0),
        StageCount(reached=4, went_on=2, still_open=1),
    ]


def flow(
    name: str,
    went_on: int,
    dropped: int,
    median_days: str | None = None,
    expected: int | None = 10,
    stints: int = 10,
    still_open: int = 0,
) -> StageFlow:
    return StageFlow(
        name=name,
        expected_days=expected,
        reached=went_on + dropped + still_open,
        went_on=went_on,
        still_open=still_open,
        median_days=None if median_days is None else D(median_days),
        stints=stints,
    )


def test_a_stage_flow_counts_the_dropped_and_converts_over_the_decided() -> None:
    stage = flow("Proof", went_on=6, dropped=2, still_open=4, median_days="15", expected=10)
    assert (stage.reached, stage.dropped, stage.decided) == (12, 2, 8)
    assert stage.conversion == D("0.75")  # the four still in Proof are not decided yet
    assert stage.dwell_ratio == D("1.5")
    assert flow("X", 1, 1, median_days="3", expected=None).dwell_ratio is None
    assert flow("X", 1, 1, median_days=None).dwell_ratio is None


def test_the_lowest_conversion_is_the_bottleneck() -> None:
    stages = [
        flow("Qualify", went_on=8, dropped=2, median_days="9"),  # 80%
        flow("Proposal", went_on=7, dropped=10, median_days="12"),  # 41%, 1.2× expected
        flow("Close", went_on=5, dropped=5, median_days="19"),  # 50%, 1.9× expected
    ]
    found = bottleneck(stages)
    assert found is not None
    assert (found.stage, found.reason) == ("Proposal", BottleneckReason.CONVERSION)
    assert found.text == "Proposal: 41% go on, the lowest"


def test_a_stage_twice_as_slow_as_expected_is_the_bottleneck() -> None:
    stages = [
        flow("Qualify", went_on=4, dropped=6, median_days="5"),  # 40%, the lowest
        flow("Proof", went_on=9, dropped=1, median_days="21", expected=10),  # 2.1×
    ]
    found = bottleneck(stages)
    assert found is not None
    assert (found.stage, found.reason) == ("Proof", BottleneckReason.DWELL)
    assert found.text == "Proof: deals stay 21 days against 10 expected (2.1×), the longest dwell"


def test_one_stage_both_lowest_and_slowest_says_both() -> None:
    stages = [
        flow("Qualify", went_on=9, dropped=1, median_days="5"),
        flow("Proposal", went_on=3, dropped=7, median_days="30", expected=14),
    ]
    found = bottleneck(stages)
    assert found is not None
    assert found.reason == BottleneckReason.DWELL
    assert found.text == (
        "Proposal: deals stay 30 days against 14 expected (2.1×), the longest dwell, "
        "and 30% go on, the lowest"
    )
    found = bottleneck(stages, slow_factor=D(3))
    assert found is not None
    assert found.text == (
        "Proposal: 30% go on, the lowest, and deals stay 30 days against 14 expected "
        "(2.1×), the longest dwell"
    )


def test_thin_figures_and_a_perfect_funnel_name_no_bottleneck() -> None:
    assert bottleneck([flow("Qualify", went_on=0, dropped=4)]) is None  # 4 decided < 5
    assert bottleneck([flow("Qualify", went_on=0, dropped=4)], min_deals=4) is not None
    assert bottleneck([flow("Qualify", went_on=10, dropped=0, median_days="8")]) is None
    slow_but_thin = flow("Proof", went_on=10, dropped=0, median_days="50", stints=4)
    assert bottleneck([slow_but_thin]) is None
    assert bottleneck([]) is None


def test_a_tie_names_the_earlier_stage() -> None:
    found = bottleneck([flow("A", went_on=5, dropped=5), flow("B", went_on=5, dropped=5)])
    assert found is not None and found.stage == "A"


# --- velocity ---------------------------------------------------------------------------


def test_sales_velocity_by_hand() -> None:
    # 20 open deals × 25% × 4,000 ÷ 40 days = 500 a day
    velocity = sales_velocity(
        open_deals=20, win_rate=D("0.25"), average_deal_size=D(4000), cycle_days=D(40)
    )
    assert velocity == D(500)
    terms = {"open_deals": 20, "win_rate": D("0.25"), "average_deal_size": D(4000)}
    assert sales_velocity(**terms, cycle_days=D(0)) is None
    assert sales_velocity(**terms, cycle_days=None) is None
    assert sales_velocity(**terms | {"win_rate": None}, cycle_days=D(40)) is None


# --- concentration ----------------------------------------------------------------------


def test_shares_and_the_herfindahl_index_by_hand() -> None:
    # 6,000 + 3,000 + 1,000: shares .6, .3, .1; HHI .36 + .09 + .01 = .46
    found = concentration({"bob": 3000, "alice": D(6000), "sam": 1000}, threshold=D("0.5"))
    assert [(s.key, s.share) for s in found.shares] == [
        ("alice", D("0.6")),
        ("bob", D("0.3")),
        ("sam", D("0.1")),
    ]
    assert found.total == D(10000)
    assert found.hhi == D("0.46")
    assert found.top is not None and found.top.key == "alice"
    assert found.over
    assert not concentration({"a": 6, "b": 4}, threshold=D("0.6")).over  # not *more* than


def test_equal_holders_and_nothing_to_share() -> None:
    assert hhi([D("0.25")] * 4) == D("0.25")
    empty = concentration({"a": 0, "b": 0}, threshold=D("0.5"))
    assert empty.hhi is None and empty.top is None and not empty.over
    assert concentration({}, threshold=D("0.5")).shares == []


# --- the setting ------------------------------------------------------------------------


def _settings_error(value: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env = {**clean, "KEEL_DEBUG": "1", "KEEL_CONCENTRATION_WARNING": value}
    result = subprocess.run(
        [sys.executable, "-c", "import keel.settings as s; print(s.KEEL_CONCENTRATION_WARNING)"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stderr or result.stdout


@pytest.mark.parametrize("value", ["half", "0", "1.5", "-0.2", "nan"])
def test_a_bad_concentration_warning_stops_start_up(value: str) -> None:
    assert f"KEEL_CONCENTRATION_WARNING={value!r} is not a fraction" in _settings_error(value)


def test_the_concentration_warning_is_a_fraction() -> None:
    assert _settings_error("0.4").strip() == "0.4"
    assert _settings_error("").strip() == "0.5"
