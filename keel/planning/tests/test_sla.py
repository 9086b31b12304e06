"""The SLA counted by the database: states at their boundaries, per tactic and person, by
month; a goal's progress against a hand count."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from keel.accounts.models import Role, User
from keel.activities.models import Task
from keel.crm.models import Company, Tier
from keel.crm.tests.factories import CompanyFactory
from keel.pipeline.models import Deal, DealStatus, SalesProcess
from keel.planning.models import (
    Goal,
    GoalQuery,
    Occurrence,
    Shape,
    Strategy,
    Tactic,
    TacticalPlan,
)
from keel.planning.rules import LATE_GRACE, Sla, sla
from keel.planning.sla import (
    SlaCounts,
    goal_progress,
    sla_by_person,
    sla_by_tactic,
    sla_counts,
    sla_trend,
)
from keel.scorecard.models import Metric, MetricStage, MetricValue, ValueSource
from keel.scorecard.rules import Pace

pytestmark = pytest.mark.django_db
ZONE = ZoneInfo(settings.TIME_ZONE)
DUE = datetime(2026, 11, 2, 17, tzinfo=ZONE)
SECOND = timedelta(seconds=1)


@pytest.fixture
def plan(olivia: User) -> TacticalPlan:
    strategy = Strategy.objects.create(
        name="Pursue whales", starts_on=date(2026, 11, 1), ends_on=date(2027, 12, 31)
    )
    return TacticalPlan.objects.create(
        name="Whale hunting",
        strategy=strategy,
        starts_on=date(2026, 11, 2),
        ends_on=date(2027, 5, 2),
    )


@pytest.fixture
def calls(plan: TacticalPlan) -> Tactic:
    return Tactic.objects.create(
        plan=plan, name="Call", shape=Shape.RECURRING, role=Role.SALESPERSON, schedule="FREQ=DAILY"
    )


def work(tactic: Tactic, person: User, due: datetime, done: datetime | None) -> Occurrence:
    task = Task.objects.create(title=tactic.name, owner=person, due_at=due, done_at=done)
    return Occurrence.objects.create(
        tactic=tactic,
        person=person,
        key=f"{due:%Y%m%d%H%M%S}",
        opens_at=due - timedelta(hours=17),
        due_at=due,
        task=task,
    )


CASES = [  # (done, now) at the boundaries of each state
    (DUE, DUE),
    (DUE + SECOND, DUE),
    (DUE + LATE_GRACE, DUE),
    (DUE + LATE_GRACE + SECOND, DUE),
    (None, DUE),
    (None, DUE + SECOND),
    (None, DUE + LATE_GRACE),
    (None, DUE + LATE_GRACE + SECOND),
]


@pytest.mark.parametrize(("done", "now"), CASES)
def test_the_database_judges_as_the_rule_does(
    calls: Tactic, alice: User, done: datetime | None, now: datetime
) -> None:
    work(calls, alice, DUE, done)
    [counts] = sla_counts(occurrences=Occurrence.objects.all(), now=now).values()
    expected = sla(due=DUE, done=done, now=now)
    assert counts == SlaCounts(**{expected.value: 1})


def test_counts_per_tactic_and_per_person_in_one_query_after_the_measures_in_use(
    calls: Tactic, plan: TacticalPlan, alice: User, bob: User
) -> None:
    mail = Tactic.objects.create(
        plan=plan, name="Mail", shape=Shape.RECURRING, role=Role.SALESPERSON, schedule="FREQ=DAILY"
    )
    now = DUE + timedelta(days=10)
    work(calls, alice, DUE, DUE - SECOND)
    work(calls, alice, DUE + timedelta(days=1), DUE + timedelta(days=2))
    work(calls, bob, DUE, None)
    work(mail, alice, DUE + timedelta(days=5), None)
    work(mail, alice, DUE + timedelta(days=30), None)  # due outside the period
    start, end = DUE - timedelta(days=1), DUE + timedelta(days=20)
    with CaptureQueriesContext(connection) as queries:
        counts = sla_counts(
            occurrences=Occurrence.objects.filter(due_at__lt=end), now=now, by=["tactic", "person"]
        )
    assert len(queries) == 2  # the measures in use, then the counts
    assert counts == {
        (calls.pk, alice.pk): SlaCounts(on_time=1, late=1),
        (calls.pk, bob.pk): SlaCounts(missed=1),
        (mail.pk, alice.pk): SlaCounts(overdue=1),
    }
    mine = {
        row.tactic.name: row.counts
        for row in sla_by_tactic(start=start, end=end, now=now, person=alice)
    }
    assert mine == {"Call": SlaCounts(on_time=1, late=1), "Mail": SlaCounts(overdue=1)}
    assert mine["Call"].on_time_rate == Decimal("0.5")
    people = {
        (r.person.username if r.person else "", r.tactic.name): r.counts
        for r in sla_by_person(start=start, end=end, now=now, tactic=calls)
    }
    assert people == {
        ("alice", "Call"): SlaCounts(on_time=1, late=1),
        ("bob", "Call"): SlaCounts(missed=1),
    }


def test_the_trend_counts_each_month_and_shows_empty_ones(calls: Tactic, alice: User) -> None:
    work(calls, alice, DUE, DUE)  # November
    work(calls, alice, DUE + timedelta(days=30), None)  # 2 December
    work(calls, alice, datetime(2027, 1, 31, 17, tzinfo=ZONE), None)  # January, still open
    now = datetime(2027, 1, 20, tzinfo=ZONE)
    trend = sla_trend(through=date(2027, 1, 1), now=now, months=4, person=alice)
    assert trend == {
        date(2026, 10, 1): SlaCounts(),
        date(2026, 11, 1): SlaCounts(on_time=1),
        date(2026, 12, 1): SlaCounts(missed=1),
        date(2027, 1, 1): SlaCounts(open=1),
    }
    assert len(sla_trend(through=date(2027, 1, 1), now=now)) == 12


def test_a_goal_sums_its_metric_from_start_to_today_against_a_linear_mark(olivia: User) -> None:
    metric = Metric.objects.create(key="new_whales", name="New whales", stage=MetricStage.CUSTOMER)
    goal = Goal.objects.create(
        name="Five whales",
        target=5,
        unit="whales",
        metric=metric,
        starts_on=date(2026, 11, 1),
        ends_on=date(2027, 12, 31),
    )
    entered = datetime(2027, 1, 1, tzinfo=ZONE)
    for month, value in (
        (date(2026, 10, 1), 9),
        (date(2026, 11, 1), 1),
        (date(2026, 12, 1), 2),
        (date(2027, 1, 1), 1),
        (date(2027, 2, 1), 9),
    ):
        MetricValue.objects.create(
            metric=metric, month=month, value=value, source=ValueSource.MANUAL, entered_at=entered
        )
    progress = goal_progress(goal=goal, today=date(2027, 1, 15))
    assert progress.actual == Decimal(4)  # 1 + 2 + 1: October is before, February after
    assert progress.expected == Decimal(5) * 75 / 425  # days elapsed over the goal's days
    assert progress.pace == Pace.ON_TRACK
    assert goal_progress(goal=goal, today=date(2027, 12, 31)).actual == Decimal(13)
    goal.target = Decimal(100)
    assert goal_progress(goal=goal, today=date(2027, 1, 15)).pace == Pace.BEHIND  # 4 of 17.6


def test_a_goal_without_a_metric_has_no_figure(olivia: User) -> None:
    goal = Goal.objects.create(
        name="Be loved",
        target=1,
        unit="hearts",
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 12, 31),
    )
    progress = goal_progress(goal=goal, today=date(2026, 7, 1))
    assert (progress.actual, progress.pace) == (None, Pace.NO_GOAL)
    assert Sla.OPEN.value == "open"


def test_a_goal_counted_by_a_query_matches_a_hand_count(
    olivia: User, deal: Deal, new_business: SalesProcess
) -> None:
    """Five whales won in 2027: counted from each whale's first won deal, by hand here."""
    goal = Goal.objects.create(name="Five whales won", target=5, unit="whales",
                               query=GoalQuery.WHALES_WON, starts_on=date(2027, 1, 1),
                               ends_on=date(2027, 12, 31))  # fmt: skip
    stage = deal.stage

    def won(company: Company, on: date, amount: int, status: str = DealStatus.WON) -> None:
        at = datetime.combine(on, datetime.min.time(), tzinfo=ZONE) + timedelta(hours=10)
        Deal.objects.create(name=f"{company} {on}", company=company, owner=deal.owner,
                            process=new_business, stage=stage, status=status, amount=amount,
                            currency=settings.KEEL_CURRENCY, closed_at=at, stage_entered_at=at,
                            process_version=deal.process_version,
                            lost_reason="" if status == DealStatus.WON else "price")  # fmt: skip

    whale = {name: CompanyFactory(name=name, tier=Tier.WHALE) for name in "ABCEF"}
    won(whale["A"], date(2026, 12, 1), 100)  # a customer before the goal began
    won(whale["A"], date(2027, 3, 1), 200)  # so this is no new whale, but it books
    won(whale["B"], date(2027, 2, 1), 300)
    won(whale["B"], date(2027, 5, 1), 400)  # one whale, won twice
    won(whale["C"], date(2027, 6, 30), 500)
    won(CompanyFactory(name="D", tier=Tier.STANDARD), date(2027, 4, 1), 600)  # not a whale
    won(whale["E"], date(2027, 7, 2), 700)  # after "today"
    won(whale["F"], date(2027, 4, 1), 800, status=DealStatus.LOST)
    progress = goal_progress(goal=goal, today=date(2027, 7, 1))
    assert progress.actual == Decimal(2)  # B and C
    goal.query = GoalQuery.WHALE_BOOKINGS
    assert goal_progress(goal=goal, today=date(2027, 7, 1)).actual == Decimal(200 + 300 + 400 + 500)
