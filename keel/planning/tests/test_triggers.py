"""Triggered tactics: a completed dossier, a deal's move, an inquiry and a qualified lead
ask for work with a deadline, once per event, of the right person; on day 6 a 5-day task
shows as late."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from keel.accounts.models import Role, User
from keel.activities.models import Task, TaskSource
from keel.core.exceptions import InvalidInput, NotAllowed
from keel.crm.models import Company
from keel.crm.services import contact_create, contact_update
from keel.pipeline.models import Deal
from keel.pipeline.services import deal_move
from keel.planning.dossier_services import dossier_complete, dossier_open, section_done
from keel.planning.models import Dossier, Goal, Shape, Strategy, Tactic, TacticalPlan, Trigger
from keel.planning.rules import Sla, sla

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(db: None) -> TacticalPlan:
    start = date.today() - timedelta(days=30)
    end = start + timedelta(days=300)
    goal = Goal.objects.create(name="Whales", target=5, unit="whales", starts_on=start, ends_on=end)
    strategy = Strategy.objects.create(name="Pursue whales", starts_on=start, ends_on=end)
    strategy.goals.add(goal)
    return TacticalPlan.objects.create(
        name="Whale hunting", strategy=strategy, starts_on=start, ends_on=end
    )


@pytest.fixture
def contact_the_whale(plan: TacticalPlan) -> Tactic:
    return Tactic.objects.create(
        plan=plan,
        name="Contact a decision maker at the whale",
        shape=Shape.TRIGGERED,
        role=Role.SALESPERSON,
        trigger=Trigger.DOSSIER_COMPLETED,
        deadline_days=5,
    )


def completed_dossier_of(company: Company, by: User) -> int:
    dossier = dossier_open(company=company, by=by)
    for section in dossier.sections.all():
        section_done(section=section, by=by, notes="researched")
    return dossier_complete(dossier=dossier, by=by)


def tactic_tasks() -> list[Task]:
    return list(Task.objects.filter(source=TaskSource.TACTIC).select_related("owner"))


def test_a_completed_dossier_asks_the_whales_owner_within_5_days(
    contact_the_whale: Tactic, acme: Company, alice: User, bob: User, sue: User
) -> None:
    Company.objects.filter(pk=acme.pk).update(owner=alice)
    acme.refresh_from_db()
    assert completed_dossier_of(acme, sue) == 1
    [task] = tactic_tasks()
    assert (task.owner, task.company_id, task.title) == (
        alice, acme.pk, "Contact a decision maker at the whale"
    )  # fmt: skip
    completed = Dossier.objects.get(company=acme).completed_at
    assert completed is not None
    assert task.due_at == completed + timedelta(days=5)
    # Not done on day 6: late; done then, it counts as late too.
    assert sla(due=task.due_at, done=None, now=completed + timedelta(days=6)) == Sla.OVERDUE
    assert sla(due=task.due_at, done=completed + timedelta(days=6), now=completed) == Sla.LATE


def test_completing_twice_asks_nothing_twice(
    contact_the_whale: Tactic, acme: Company, alice: User, sue: User
) -> None:
    Company.objects.filter(pk=acme.pk).update(owner=alice)
    acme.refresh_from_db()
    completed_dossier_of(acme, sue)
    assert dossier_complete(dossier=Dossier.objects.get(company=acme), by=sue) == 0
    assert len(tactic_tasks()) == 1


def test_without_an_owner_in_the_role_everyone_in_it_is_asked(
    contact_the_whale: Tactic, acme: Company, alice: User, bob: User, sue: User, sam: User
) -> None:
    completed_dossier_of(acme, sue)  # Acme has no owner
    assert {t.owner.username for t in tactic_tasks()} == {"alice", "bob", "sam"}


def test_an_incomplete_dossier_is_refused_and_says_what_is_left(
    contact_the_whale: Tactic, acme: Company, sue: User
) -> None:
    dossier = dossier_open(company=acme, by=sue)
    section_done(section=dossier.sections.first(), by=sue)
    with pytest.raises(InvalidInput, match="still to research"):
        dossier_complete(dossier=dossier, by=sue)
    assert tactic_tasks() == []


def test_a_viewer_may_not_open_a_dossier(acme: Company, vera: User) -> None:
    with pytest.raises(NotAllowed):
        dossier_open(company=acme, by=vera)


def test_a_deal_entering_a_stage_asks_its_owner(plan: TacticalPlan, deal: Deal, alice: User,
                                                mary: User) -> None:  # fmt: skip
    Tactic.objects.create(plan=plan, name="Write good-to-great questions", shape=Shape.TRIGGERED,
                          role=Role.SALESPERSON, trigger=Trigger.DEAL_ENTERED_STAGE,
                          trigger_stage="1st meeting", deadline_days=2)  # fmt: skip
    change = deal_move(deal=deal, to_stage="1st meeting", by=mary, expected_version=deal.version,
                       override_reason="Met at the fair")  # fmt: skip
    [task] = tactic_tasks()
    assert (task.owner, task.deal_id) == (alice, deal.pk)
    assert task.due_at == change.at + timedelta(days=2)


def test_a_deal_moving_elsewhere_asks_nothing(plan: TacticalPlan, deal: Deal, mary: User) -> None:
    Tactic.objects.create(plan=plan, name="Prepare the proposal review", shape=Shape.TRIGGERED,
                          role=Role.SALESPERSON, trigger=Trigger.DEAL_ENTERED_STAGE,
                          trigger_stage="Proposal", deadline_days=1)  # fmt: skip
    deal_move(deal=deal, to_stage="1st meeting", by=mary, expected_version=deal.version,
              override_reason="Met at the fair")  # fmt: skip
    assert tactic_tasks() == []


def contact_tactic(plan: TacticalPlan, trigger: Trigger, days: int) -> Tactic:
    return Tactic.objects.create(
        plan=plan, name=f"On {trigger.label}", shape=Shape.TRIGGERED, role=Role.SALESPERSON,
        trigger=trigger, deadline_days=days,
    )  # fmt: skip


def test_an_inquiry_asks_its_owner_from_when_it_came_once(
    plan: TacticalPlan, acme: Company, alice: User, mary: User
) -> None:
    contact_tactic(plan, Trigger.INQUIRY_RECEIVED, 1)
    contact_tactic(plan, Trigger.LEAD_QUALIFIED, 2)
    asked = timezone.now() - timedelta(hours=3)
    jane = contact_create(by=mary, last_name="Doe", company=acme, owner=alice, inquired_at=asked)
    [task] = tactic_tasks()
    assert (task.owner, task.company_id, task.due_at) == (alice, acme.pk, asked + timedelta(days=1))
    # Another edit, or the same moment written again, asks nothing more.
    jane = contact_update(contact=jane, by=mary, expected_updated_at=jane.updated_at,
                          data={"title": "CFO"})  # fmt: skip
    assert len(tactic_tasks()) == 1
    # Qualified later: the qualification's own tactic asks, once.
    qualified = timezone.now()
    jane = contact_update(contact=jane, by=mary, expected_updated_at=jane.updated_at,
                          data={"qualified_at": qualified})  # fmt: skip
    tasks = sorted(tactic_tasks(), key=lambda t: t.pk)
    assert [t.title for t in tasks] == [f"On {Trigger.INQUIRY_RECEIVED.label}",
                                        f"On {Trigger.LEAD_QUALIFIED.label}"]  # fmt: skip
    assert tasks[1].due_at == qualified + timedelta(days=2)


def test_an_inquiry_dated_ahead_counts_from_now_and_none_before_the_plan(
    plan: TacticalPlan, alice: User, mary: User
) -> None:
    contact_tactic(plan, Trigger.INQUIRY_RECEIVED, 1)
    contact_create(by=mary, last_name="Old", owner=alice,
                   inquired_at=timezone.now() - timedelta(days=400))  # fmt: skip
    assert tactic_tasks() == []  # long before the plan ran
    before = timezone.now()
    contact_create(by=mary, last_name="Ahead", owner=alice,
                   inquired_at=timezone.now() + timedelta(days=9))  # fmt: skip
    [task] = tactic_tasks()
    assert task.due_at is not None
    assert before + timedelta(days=1) <= task.due_at <= timezone.now() + timedelta(days=1)


def test_a_deadline_is_days_on_the_persons_clock_across_a_clock_change(
    plan: TacticalPlan, alice: User, mary: User
) -> None:
    """Rome's clocks go back on Sunday 25 October 2026: an inquiry at 09:00 on Friday the
    23rd, with 3 days, is due at 09:00 on Monday the 26th in Rome (one hour more)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from keel.planning.triggers import trigger_fire

    User.objects.filter(pk=alice.pk).update(time_zone="Europe/Rome")
    TacticalPlan.objects.filter(pk=plan.pk).update(starts_on=date(2026, 10, 1))
    contact_tactic(plan, Trigger.INQUIRY_RECEIVED, 3)
    rome = ZoneInfo("Europe/Rome")
    at = datetime(2026, 10, 23, 9, tzinfo=rome)
    trigger_fire(trigger=Trigger.INQUIRY_RECEIVED, event="contact:1:inquiry", at=at, owner=alice)
    [task] = tactic_tasks()
    assert task.due_at is not None
    assert task.due_at.astimezone(rome) == datetime(2026, 10, 26, 9, tzinfo=rome)
    assert task.due_at - at == timedelta(days=3, hours=1)
