"""The scorecard for October 2025, by hand, on top of conftest's October.

Added here: a win in January (Delta, 4,000, 10 days), one in October 2024 (Epsilon, 800),
even goals for 2025 (24 deals won, 12,000 in bookings, a 25-day sales cycle) and a metric
entered by hand in October only, with a goal of 120 a year.

Deals won by month: January 1, September 1 (Gamma, 500, 45 days), October 3 (6,000;
10, 20 and 30 days; one lost).
"""

import csv
import json
from datetime import date, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from keel.accounts.models import User
from keel.crm.tests.factories import CompanyFactory
from keel.pipeline.models import DealStatus, SalesProcess
from keel.scorecard import rules
from keel.scorecard.models import Goal, Metric, MetricStage, MetricValue, Unit, ValueSource
from keel.scorecard.selectors import Scorecard, ScorecardRow, scorecard
from keel.scorecard.tests.conftest import OCTOBER, October, at, closed_deal
from keel.scorecard.tests.factories import MetricFactory


@pytest.fixture
def year(october: October, alice: User, new_business: SalesProcess) -> Metric:
    common = {"by": alice, "process": new_business, "status": DealStatus.WON}
    closed_deal(**common, company=CompanyFactory(name="Delta"), amount="4000",
                created=at(1, 1), closed=at(1, 11))  # fmt: skip
    zone = timezone.get_default_timezone()
    closed_deal(**common, company=CompanyFactory(name="Epsilon"), amount="800",
                created=datetime(2024, 10, 1, tzinfo=zone),
                closed=datetime(2024, 10, 5, tzinfo=zone))  # fmt: skip
    for key, target in (("deals_won", 24), ("bookings", 12000), ("sales_cycle_days", 25)):
        Goal.objects.create(metric=Metric.objects.get(key=key), year=2025, target=target)
    tours = MetricFactory(key="site_tours", name="Site tours", stage=MetricStage.PROSPECT)
    Goal.objects.create(metric=tours, year=2025, target=120)
    MetricValue.objects.create(
        metric=tours,
        month=OCTOBER,
        value=Decimal(7),
        source=ValueSource.MANUAL,
        entered_at=timezone.now(),
    )
    return tours


def row(card: Scorecard, key: str) -> ScorecardRow:
    [found] = [r for r in card.rows() if r.key == key]
    return found


def test_a_count_against_an_even_goal(year: Metric) -> None:
    won = row(scorecard(month=OCTOBER), "deals_won")
    assert (won.this_month, won.last_month, won.last_year) == (3, 1, 1)
    assert (won.change, won.change_percent) == (2, Decimal("200.0"))
    assert won.month_target == Decimal("2.00")  # 24 ÷ 12
    assert won.ytd == 5  # January 1 + September 1 + October 3
    assert won.ytd_target == Decimal("20.00")  # 24 × 10 ÷ 12
    assert won.projected == Decimal("6.00")  # 5 ÷ (10 ÷ 12)
    assert won.pace == rules.Pace.BEHIND


def test_money_ahead_of_its_goal(year: Metric) -> None:
    bookings = row(scorecard(month=OCTOBER), "bookings")
    assert (bookings.this_month, bookings.last_month, bookings.last_year) == (6000, 500, 800)
    assert (bookings.change, bookings.change_percent) == (5500, Decimal("1100.0"))
    assert bookings.month_target == Decimal("1000.00")
    assert bookings.ytd == Decimal("10500.00")  # 4,000 + 500 + 6,000
    assert bookings.ytd_target == Decimal("10000.00")
    assert bookings.projected == Decimal("12600.00")  # 10,500 × 12 ÷ 10
    assert bookings.pace == rules.Pace.ON_TRACK


def test_a_shorter_cycle_than_the_goal_is_on_track(year: Metric) -> None:
    cycle = row(scorecard(month=OCTOBER), "sales_cycle_days")
    assert cycle.lower_is_better
    assert (cycle.this_month, cycle.last_month) == (Decimal("20.0"), Decimal("45.0"))
    assert cycle.last_year == Decimal("4.0")
    assert (cycle.change, cycle.change_percent) == (Decimal("-25.0"), Decimal("-55.6"))
    # A level to hold, not an amount to spread: the target is the goal every month.
    assert cycle.month_target == cycle.ytd_target == Decimal("25.00")
    assert cycle.ytd == Decimal("23.0")  # (10 + 45 + 10 + 20 + 30) ÷ 5, not a mean of means
    assert cycle.projected == Decimal("23.0")
    assert cycle.pace == rules.Pace.ON_TRACK


def test_without_a_goal_the_pace_is_even(year: Metric) -> None:
    card = scorecard(month=OCTOBER)
    new = row(card, "new_customers")
    assert (new.this_month, new.ytd) == (2, 4)  # Delta, Gamma, Acme and Beta
    assert new.projected == Decimal("4.80")  # 4 ÷ 10 × 12
    assert new.month_target is new.ytd_target is None
    assert new.pace == rules.Pace.NO_GOAL
    close = row(card, "close_rate")
    assert close.ytd == Decimal("83.3")  # 5 won ÷ 6 closed since January
    assert close.last_month == Decimal("100.0")
    size = row(card, "average_deal_size")  # a mean, though money: not a sum of months
    assert size.ytd == size.projected == Decimal("2100.00")  # 10,500 ÷ 5


def test_missing_manual_values_stay_missing(year: Metric) -> None:
    tours = row(scorecard(month=OCTOBER), "site_tours")
    assert tours.this_month == 7
    assert tours.last_month is tours.last_year is tours.change is tours.change_percent is None
    assert tours.ytd is tours.projected is None  # nine months never entered
    assert tours.month_target == Decimal("10.00")
    assert tours.pace == rules.Pace.NO_DATA


def test_change_percent_needs_a_last_month_above_zero(year: Metric) -> None:
    card = scorecard(month=OCTOBER)
    downloads = row(card, "downloads")  # none in September, one in October
    assert (downloads.change, downloads.change_percent) == (1, None)


def test_rows_follow_the_funnel_then_position(year: Metric) -> None:
    card = scorecard(month=OCTOBER)
    assert [s.stage for s in card.steps] == ["suspect", "prospect", "lead", "customer"]
    assert [r.key for r in card.steps[0].rows] == ["website_visitors", "downloads"]
    # Site tours keeps the default position 0, ahead of inquiries' 2.
    assert [r.key for r in card.steps[1].rows] == ["site_tours", "inbound_inquiries"]


def test_january_compares_with_last_december(year: Metric) -> None:
    won = row(scorecard(month=date(2025, 1, 20)), "deals_won")
    assert (won.this_month, won.last_month, won.ytd) == (1, 0, 1)
    assert won.projected == Decimal("12.00")


def test_queries_are_bounded_by_months_not_records(
    year: Metric, django_assert_max_num_queries
) -> None:
    # Each of the 4 sources thrice (this month and last, last year's month, the year to
    # date); the metrics, their goals, and the entered values of those three readings.
    with django_assert_max_num_queries(3 * 4 + 5):
        scorecard(month=date(2025, 12, 1))


def test_projection_follows_seasonal_weights() -> None:
    weights: list[object] = [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    terms = {"target": Decimal(100), "phasing": rules.Phasing.SEASONAL, "weights": weights}
    assert rules.projected_year_end(ytd=Decimal(20), through_month=4, **terms) == 100
    # Nothing due yet: the even pace.
    assert rules.projected_year_end(ytd=Decimal(3), through_month=1, **terms) == 36


# --- the command ----------------------------------------------------------------------------


def run(*args: str) -> str:
    out = StringIO()
    call_command("scorecard", *args, stdout=out)
    return out.getvalue()


def test_json_lists_every_metric_with_string_figures(year: Metric) -> None:
    records = json.loads(run("--month", "2025-10", "--format", "json"))
    assert len(records) == Metric.objects.filter(is_active=True).count()
    [bookings] = [r for r in records if r["key"] == "bookings"]
    assert bookings["ytd"] == "10500.00"
    assert bookings["pace"] == "on_track"
    [tours] = [r for r in records if r["key"] == "site_tours"]
    assert tours["last_month"] is None
    assert tours["unit"] == Unit.COUNT


def test_csv_has_a_header_and_a_row_per_metric(year: Metric) -> None:
    rows = list(csv.DictReader(StringIO(run("--month", "2025-10", "--format", "csv"))))
    assert len(rows) == Metric.objects.filter(is_active=True).count()
    [won] = [r for r in rows if r["key"] == "deals_won"]
    assert (won["this_month"], won["ytd_target"], won["pace"]) == ("3", "20.00", "behind")
    [tours] = [r for r in rows if r["key"] == "site_tours"]
    assert tours["ytd"] == ""


def test_the_table_groups_by_step_and_marks_behind(year: Metric) -> None:
    table = run("--month", "2025-10")
    assert "Scorecard October 2025" in table
    assert table.index("Suspect") < table.index("Prospect") < table.index("Customer")
    assert "BEHIND" in table
    assert "—" in table


@pytest.mark.parametrize("month", ["2025-13", "October", "2025-1", "25-10"])
def test_a_month_that_is_not_yyyy_mm_is_refused(db: None, month: str) -> None:
    with pytest.raises(CommandError, match="--month"):
        run("--month", month)


def test_a_persons_scorecard(year: Metric, alice: User) -> None:
    records = json.loads(run("--month", "2025-10", "--person", "ALICE", "--format", "json"))
    [won] = [r for r in records if r["key"] == "deals_won"]
    assert (won["this_month"], won["pace"]) == ("3", "no_goal")
    assert "Scorecard October 2025 · Team North" in run("--month", "2025-10", "--team", "north")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--team", "Nowhere"), "no team 'Nowhere'"),
        (("--person", "nobody"), "no user 'nobody'"),
        (("--team", "North", "--person", "alice"), "not both"),
    ],
)
def test_an_unknown_scope_is_refused(year: Metric, args: tuple[str, ...], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run("--month", "2025-10", *args)
