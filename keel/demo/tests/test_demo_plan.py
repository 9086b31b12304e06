"""The whale-hunting plan in the demo: imported, scheduled over its past, worked on."""

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import pytest
from pytest_django import DjangoDbBlocker

from keel.accounts.models import Role
from keel.activities.models import Task, TaskSource
from keel.core.models import AuditEntry
from keel.demo.generate import DemoSummary, demo_build, demo_wipe
from keel.demo.plan import PLAN_DAYS
from keel.planning import rules
from keel.planning.models import Dossier, Goal, Occurrence, Section, Shape, Tactic, TacticalPlan

TODAY = date(2026, 3, 4)
NOW = datetime.combine(TODAY, time(), UTC)
SEED = 11
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def demo(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[DemoSummary]:
    with django_db_blocker.unblock():
        summary = demo_build(size="small", seed=SEED, today=TODAY)
        yield summary
        demo_wipe()


def test_the_plan_started_months_ago_with_all_its_tactics(demo: DemoSummary) -> None:
    plan = TacticalPlan.objects.get()
    assert plan.starts_on == TODAY - timedelta(days=PLAN_DAYS)
    assert plan.is_active
    assert set(plan.tactics.filter(is_active=True).values_list("name", flat=True)) == {
        "Whale-hunting workshop",
        "Research dossiers",
        "Recommend three whales",
        "Contact a decision maker",
        "Good-to-great questions",
    }
    assert Goal.objects.count() == 2
    assert demo.plan is not None and demo.plan.tactics == 5


def test_the_specialist_has_a_research_task_each_weekday_and_none_at_weekends(
    demo: DemoSummary,
) -> None:
    plan = TacticalPlan.objects.get()
    research = Occurrence.objects.filter(tactic__name="Research dossiers")
    assert set(research.values_list("person__role", flat=True)) == {Role.SALES_SPECIALIST}
    days = sorted(date.fromisoformat(key) for key in research.values_list("key", flat=True))
    span = (plan.starts_on + timedelta(days=n) for n in range(PLAN_DAYS + 1))
    assert days == [day for day in span if day.weekday() < 5]
    tasks = Task.objects.filter(source=TaskSource.TACTIC, title="One hour of dossier research")
    assert tasks.count() == len(days)
    assert {t.due_at.weekday() for t in tasks} <= {0, 1, 2, 3, 4}


def test_a_completed_dossier_asked_its_salesperson_for_a_contact_within_five_days(
    demo: DemoSummary,
) -> None:
    completed = Dossier.objects.filter(completed_at__isnull=False).select_related("company")
    assert 1 <= completed.count() < Dossier.objects.count()  # others are partly researched
    assert Section.objects.filter(done_at__isnull=True).exists()
    for dossier in completed:
        assert dossier.completed_at is not None and dossier.completed_at < NOW
        assert not dossier.sections.filter(done_at__isnull=True).exists()
        assert not dossier.sections.filter(done_at__gt=dossier.completed_at).exists()
        task = Task.objects.select_related("owner").get(
            source=TaskSource.TACTIC, company=dossier.company, title__startswith="Contact"
        )
        assert task.owner_id == dossier.company.owner_id
        assert task.owner.role == Role.SALESPERSON
        assert task.due_at == dossier.completed_at + timedelta(days=5)


def test_the_work_is_a_mix_of_on_time_late_and_missed(demo: DemoSummary) -> None:
    occurrences = Occurrence.objects.select_related("task")
    states = Counter(rules.sla(due=o.due_at, done=o.done_at, now=NOW) for o in occurrences)
    assert states[rules.Sla.ON_TIME] > states[rules.Sla.LATE] > 0
    assert states[rules.Sla.MISSED] > 0
    assert states[rules.Sla.OPEN] > 0
    assert demo.plan is not None and demo.plan.work == {s.value: states[s] for s in rules.Sla}
    for o in occurrences:
        assert o.task is not None and o.task.done_at == o.done_at
        assert o.created_at <= o.due_at
        assert o.done_at is None or o.created_at <= o.done_at <= NOW
    # Work comes from each of the plan's shapes.
    assert set(occurrences.values_list("tactic__shape", flat=True)) == set(Shape.values)


def _counts() -> dict[str, int]:
    models = (Goal, Tactic, TacticalPlan, Occurrence, Dossier, Section, AuditEntry)
    counts = {model.__name__: model._default_manager.count() for model in models}
    counts["tactic tasks"] = Task.objects.filter(source=TaskSource.TACTIC).count()
    counts["done"] = Occurrence.objects.filter(done_at__isnull=False).count()
    return counts


def test_a_rebuild_makes_the_same_plan_and_work_again(demo: DemoSummary) -> None:
    before = _counts()
    demo_build(size="small", seed=SEED, today=TODAY)
    demo_build(size="small", seed=SEED, today=TODAY)
    assert _counts() == before
