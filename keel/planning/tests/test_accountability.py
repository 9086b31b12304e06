"""`keel accountability`: the three questions for Alice, in a table and as JSON."""

import json
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from keel.accounts.models import Role, User
from keel.activities.models import Task
from keel.pipeline.models import Deal
from keel.planning.models import Goal, Occurrence, Shape, Strategy, Tactic, TacticalPlan
from keel.planning.scheduler import tactics_tick
from keel.scorecard.models import Goal as MetricGoal
from keel.scorecard.models import Metric, MetricStage

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(olivia: User, alice: User) -> TacticalPlan:
    today = timezone.localdate()
    start, end = today - timedelta(days=40), today + timedelta(days=300)
    metric = Metric.objects.create(
        key="new_whales", name="New whales", stage=MetricStage.CUSTOMER, owner=alice
    )
    MetricGoal.objects.create(metric=metric, year=today.year, target=Decimal(12))
    goal = Goal.objects.create(
        name="Five whales", target=5, unit="whales", metric=metric, starts_on=start, ends_on=end
    )
    strategy = Strategy.objects.create(name="Pursue whales", starts_on=start, ends_on=end)
    strategy.goals.add(goal)
    plan = TacticalPlan.objects.create(
        name="Whale hunting", strategy=strategy, starts_on=start, ends_on=end
    )
    Tactic.objects.create(
        plan=plan,
        name="Call a whale",
        shape=Shape.RECURRING,
        role=Role.SALESPERSON,
        schedule="FREQ=DAILY",
    )
    Tactic.objects.create(
        plan=plan,
        name="Sue's research",
        shape=Shape.RECURRING,
        role=Role.SALES_SPECIALIST,
        schedule="FREQ=DAILY",
    )
    return plan


def run(*args: str) -> str:
    out = StringIO()
    call_command("accountability", *args, stdout=out)
    return out.getvalue()


def test_alices_three_questions(plan: TacticalPlan, alice: User, deal: Deal) -> None:
    tactics_tick()
    first = Occurrence.objects.filter(person=alice).order_by("due_at").first()
    assert first is not None
    Task.objects.filter(pk=first.task_id).update(done_at=first.due_at)  # one done on time
    Deal.objects.filter(pk=deal.pk).update(amount=Decimal("1200.00"))
    month = f"{timezone.localdate():%Y-%m}"
    table = run("--person", "alice", "--month", month)
    for seen in (
        "What's my job",
        "Call a whale",
        "Pursue whales",
        "Five whales",
        "New whales",
        "How am I doing",
        "Open deals",
        "Open amount (",
        "Win rate",
    ):
        assert seen in table
    assert "Sue's research" not in table
    data = json.loads(run("--person", "ALICE", "--month", month, "--format", "json"))
    assert [row["tactic"] for row in data["job"]] == ["Call a whale"]
    assert data["metrics"] == [
        {
            "metric": "New whales",
            "key": "new_whales",
            "year": date.today().year,
            "target": "12.0000",
        }
    ]
    assert data["pipeline"]["open_deals"] == 1
    assert [Decimal(v) for v in data["pipeline"]["open_amount"].values()] == [1200]
    assert len(data["trend"]) == 4
    assert {row["state"] for row in data["due"]} <= {"open", "overdue"}
    assert data["due"]  # the last week's calls are not done


def test_an_unknown_person_or_month_is_refused(alice: User) -> None:
    with pytest.raises(CommandError, match="no user"):
        run("--person", "nobody", "--month", "2026-11")
    with pytest.raises(CommandError, match="--month"):
        run("--person", "alice", "--month", "November")
