"""The forecast's reads: stage history as arrays, stages matched across process versions,
and a period's forecast next to what was booked, the weighted pipeline and the goal."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from django.utils import timezone

from keel.accounts.models import User
from keel.crm.tests.factories import CompanyFactory
from keel.forecast.forecast_selectors import (
    forecast,
    history_load,
    stage_space,
    weighted_pipeline,
)
from keel.forecast.simulate import period_parse
from keel.forecast.transitions import open_at, stints_at
from keel.pipeline.models import (
    Deal,
    DealStatus,
    LostReason,
    SalesProcess,
    StageChange,
    StageKind,
)
from keel.pipeline.selectors import process_current_version
from keel.pipeline.services import process_import
from keel.scorecard.models import CaptureMethod, Goal, Metric, MetricStage, Phasing, Unit

pytestmark = pytest.mark.django_db

ZONE = timezone.get_default_timezone()


def when(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZONE)


def history_deal(
    *,
    owner: User,
    process: SalesProcess,
    steps: list[tuple[str, datetime]],
    amount: str | None = "1000",
    currency: str = "EUR",
    expected_close: date | None = None,
) -> Deal:
    """A deal whose stage history is `steps` (stage name, when), written as Keel keeps it:
    the deal in its last stage, one StageChange per step."""
    version = process_current_version(process=process)
    stages = {s.name: s for s in version.stages.all()}
    last_name, last_at = steps[-1]
    last = stages[last_name]
    status = {StageKind.OPEN: DealStatus.OPEN, StageKind.WON: DealStatus.WON}.get(
        last.kind, DealStatus.LOST
    )
    deal = Deal.objects.create(
        name=f"Deal {steps[0][1]:%Y%m%d%H%M%S%f}",
        company=CompanyFactory(),
        owner=owner,
        process=process,
        process_version=version,
        stage=last,
        status=status,
        amount=None if amount is None else Decimal(amount),
        currency=currency,
        expected_close=expected_close,
        stage_entered_at=last_at,
        closed_at=None if status == DealStatus.OPEN else last_at,
        lost_reason=LostReason.PRICE if status == DealStatus.LOST else "",
    )
    Deal.objects.filter(pk=deal.pk).update(created_at=steps[0][1])
    previous = None
    for name, at in steps:
        StageChange.objects.create(
            deal=deal,
            process_version=version,
            from_stage=previous,
            to_stage=stages[name],
            at=at,
        )
        previous = stages[name]
    return deal


NEW_BUSINESS = Path(__file__).parents[2] / "pipeline" / "processes" / "new_business.yaml"


def test_stages_of_older_versions_match_the_newest_by_name_else_by_place(new_business):
    old = {s.name: s for s in process_current_version(process=new_business).stages.all()}
    source = NEW_BUSINESS.read_text()
    source = source.replace("- name: Proof\n", "- name: Proof of value\n")
    assert "Proof of value" in source
    process_import(source=source, by=None)
    space, codes = stage_space()
    new = {s.name: s for s in process_current_version(process=new_business).stages.all()}
    assert codes[old["Qualify"].pk] == codes[new["Qualify"].pk]
    assert codes[old["Close"].pk] == codes[new["Close"].pk]
    # "Proof" is gone: the third open stage of the newest version takes its place.
    assert codes[old["Proof"].pk] == codes[new["Proof of value"].pk]
    assert codes[old["Intake"].pk] == space.won
    assert codes[old["Lost"].pk] == space.lost
    assert "Proof of value" in space.names
    assert "Proof" not in space.names


def test_the_history_holds_every_change_and_what_each_deal_books(alice, new_business):
    start = when(date(2026, 1, 5))
    won = history_deal(
        owner=alice,
        process=new_business,
        steps=[("Qualify", start), ("1st meeting", start + timedelta(days=10)),
               ("Intake", start + timedelta(days=30))],
        amount="5000",
    )  # fmt: skip
    elsewhere = history_deal(
        owner=alice,
        process=new_business,
        steps=[("Qualify", start + timedelta(days=1))],
        amount="7000",
        currency="USD",
    )
    history = history_load()
    index = {pk: i for i, pk in enumerate(history.deal_id.tolist())}
    assert history.deal_amount[index[won.pk]] == 5000
    assert history.deal_amount[index[elsewhere.pk]] == 0  # another currency books nothing
    assert history.deal_won_at[index[won.pk]] == pytest.approx(
        (start + timedelta(days=30)).timestamp()
    )
    assert np.isnan(history.deal_won_at[index[elsewhere.pk]])
    assert history.deal_created[index[won.pk]] == pytest.approx(start.timestamp())
    mine = history.change_deal == index[won.pk]
    assert history.change_code[mine].tolist() == [0, 1, history.space.won]
    # As of day 20 the won deal was in 1st meeting for 10 days.
    at = (start + timedelta(days=20)).timestamp()
    current = open_at(history, at=at)
    where = current.deal.tolist().index(index[won.pk])
    assert current.code[where] == 1
    assert current.elapsed[where] == pytest.approx(10)
    stints = stints_at(history, at=at)
    assert sorted(stints.days[stints.deal == index[won.pk]].round(3).tolist()) == [10.0, 10.0]


def test_the_weighted_pipeline_counts_deals_due_in_the_period(alice, bob, new_business):
    today = date(2026, 11, 24)
    start = when(date(2026, 10, 1))
    steps = [("Qualify", start), ("Proposal", start + timedelta(days=5))]  # 65%
    history_deal(owner=alice, process=new_business, steps=steps, amount="10000",
                 expected_close=date(2026, 12, 15))  # fmt: skip
    history_deal(
        owner=alice,
        process=new_business,
        steps=steps,
        amount="4000",
        expected_close=date(2026, 11, 1),
    )  # overdue: counts in the current quarter
    history_deal(
        owner=bob,
        process=new_business,
        steps=steps,
        amount="9000",
        expected_close=date(2027, 1, 15),
    )  # next quarter
    history_deal(owner=bob, process=new_business, steps=steps, amount="9000", currency="USD",
                 expected_close=date(2026, 12, 15))  # fmt: skip
    assert weighted_pipeline(period=period_parse("2026Q4"), today=today) == {
        alice.pk: Decimal("9100.00")
    }
    assert weighted_pipeline(period=period_parse("2027Q1"), today=today) == {
        bob.pk: Decimal("5850.00")
    }


def bookings_goal(year: int, target: str) -> Goal:
    metric, _ = Metric.objects.get_or_create(
        key="bookings",
        defaults={
            "name": "Bookings",
            "stage": MetricStage.CUSTOMER,
            "unit": Unit.MONEY,
            "capture_method": CaptureMethod.COMPUTED,
        },
    )
    weights = [1] * 11 + [3]  # December weighs three months
    return Goal.objects.create(
        metric=metric, year=year, target=Decimal(target), phasing=Phasing.SEASONAL, weights=weights
    )


def test_a_forecast_adds_what_was_booked_and_the_phased_goal(alice, bob, new_business):
    now = when(date(2026, 11, 24))
    history_deal(
        owner=alice,
        process=new_business,
        steps=[("Qualify", when(date(2026, 9, 1))), ("Intake", when(date(2026, 10, 20)))],
        amount="3000",
    )
    history_deal(
        owner=bob,
        process=new_business,
        steps=[("Qualify", when(date(2026, 11, 1))), ("Close", when(date(2026, 11, 10)))],
        amount="8000",
    )
    bookings_goal(2026, "14000")
    result = forecast(
        period=period_parse("2026Q4"), simulations=500, as_of=now, history=history_load()
    )
    assert result.booked_so_far() == 3000
    assert result.booked_so_far({bob.pk}) == 0
    assert result.goal == Decimal(5000)  # (1 + 1 + 3) of 14 weights of 14,000
    assert result.goals[date(2026, 12, 1)] == Decimal(3000)
    assert result.months[0] == date(2026, 10, 1)
    assert len(result.months) == 12
    spread = result.spread()
    # Alice's 3,000 is booked; Bob's deal in Close (defaults: 80%, about 14 days) may add 8,000.
    assert spread.p10 >= 3000
    assert spread.p90 == 11000
    assert 3000 < spread.mean < 11000
    assert result.spreads()[alice.pk].p50 == 3000
    assert not result.is_past


def test_a_period_that_is_over_shows_what_was_booked(alice, new_business):
    history_deal(
        owner=alice,
        process=new_business,
        steps=[("Qualify", when(date(2026, 3, 1))), ("Intake", when(date(2026, 3, 20)))],
        amount="2500",
    )
    result = forecast(
        period=period_parse("2026-03"), as_of=when(date(2026, 11, 24)), history=history_load()
    )
    assert result.is_past
    figures = result.spread()
    assert (figures.p10, figures.p50, figures.p90) == (2500, 2500, 2500)
    over = forecast(
        period=period_parse("2025"), as_of=when(date(2026, 11, 24)), history=history_load()
    )
    assert over.laws is None  # nothing left to simulate
    assert over.simulations == 1
    assert over.spread().p50 == 0
