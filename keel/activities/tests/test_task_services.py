"""Task services and access: who may see, add, complete, reopen and reschedule which tasks."""

from datetime import timedelta

import pytest
from django.utils import timezone

from keel.accounts.models import Role, Team, User
from keel.accounts.tests.factories import UserFactory
from keel.activities.access import tasks_visible_to
from keel.activities.models import Task, TaskSource
from keel.activities.services import (
    task_complete,
    task_create,
    task_reopen,
    task_reschedule,
)
from keel.activities.tests.factories import TaskFactory
from keel.core.exceptions import InvalidInput, NotAllowed
from keel.core.models import AuditEntry
from keel.pipeline.models import Deal

pytestmark = pytest.mark.django_db


@pytest.fixture
def steve(south: Team) -> User:
    """The manager of team South."""
    return UserFactory(username="steve", role=Role.SALES_MANAGER, team=south)


def audit(task: Task) -> list[str]:
    entries = AuditEntry.objects.filter(action__startswith="task.", object_id=str(task.pk))
    return list(entries.order_by("id").values_list("action", flat=True))


# --- who sees which tasks


def test_a_salesperson_sees_their_teams_tasks_but_not_another_teams(
    alice: User, bob: User, mary: User, sam: User
):
    mine, teammates, managers = (TaskFactory(owner=u) for u in (alice, bob, mary))
    souths = TaskFactory(owner=sam)
    assert set(tasks_visible_to(alice)) == {mine, teammates, managers}
    assert set(tasks_visible_to(sam)) == {souths}


def test_the_owner_sees_everyones_tasks_and_an_inactive_user_none(
    alice: User, sam: User, olivia: User
):
    tasks = {TaskFactory(owner=alice), TaskFactory(owner=sam)}
    assert set(tasks_visible_to(olivia)) == tasks
    alice.is_active = False
    assert not tasks_visible_to(alice).exists()


def test_with_own_pipelines_a_salesperson_sees_only_their_tasks_and_a_manager_the_teams(
    alice: User, bob: User, mary: User, settings
):
    settings.KEEL_PIPELINE_VISIBILITY = "own"
    mine, bobs = TaskFactory(owner=alice), TaskFactory(owner=bob)
    assert set(tasks_visible_to(alice)) == {mine}
    assert set(tasks_visible_to(mary)) == {mine, bobs}


# --- completing


def test_the_owner_of_a_task_completes_it_once(alice: User):
    task = TaskFactory(owner=alice)
    task_complete(task=task, by=alice)
    done_at = Task.objects.get(pk=task.pk).done_at
    assert done_at is not None

    task_complete(task=task, by=alice)  # again: nothing changes
    assert Task.objects.get(pk=task.pk).done_at == done_at
    assert audit(task) == ["task.complete"]


def test_the_manager_of_the_owners_team_and_the_business_owner_complete_it(
    alice: User, mary: User, olivia: User
):
    by_mary, by_olivia = TaskFactory(owner=alice), TaskFactory(owner=alice)
    task_complete(task=by_mary, by=mary)
    task_complete(task=by_olivia, by=olivia)
    assert (
        Task.objects.filter(pk__in=[by_mary.pk, by_olivia.pk], done_at__isnull=False).count() == 2
    )


@pytest.mark.parametrize("who", ["steve", "bob", "vera"])
def test_a_manager_of_another_team_a_teammate_or_a_viewer_may_not_complete_it(
    who: str, alice: User, request: pytest.FixtureRequest
):
    task = TaskFactory(owner=alice)
    with pytest.raises(NotAllowed):
        task_complete(task=task, by=request.getfixturevalue(who))
    assert Task.objects.get(pk=task.pk).done_at is None
    assert audit(task) == []


# --- reopening


def test_a_done_task_is_reopened(alice: User):
    task = TaskFactory(owner=alice, done_at=timezone.now())
    task_reopen(task=task, by=alice)
    assert Task.objects.get(pk=task.pk).done_at is None
    assert audit(task) == ["task.reopen"]


def test_a_plan_task_is_not_reopened_next_to_its_newer_open_copy(alice: User, deal: Deal):
    old = Task.objects.filter(deal=deal, source=TaskSource.PLAN_STEP).first()
    assert old is not None
    task_complete(task=old, by=alice)
    Task.objects.create(
        title=old.title, owner=alice, deal=deal, source_key=old.source_key, source=old.source
    )
    with pytest.raises(InvalidInput, match="open again already"):
        task_reopen(task=old, by=alice)
    assert Task.objects.get(pk=old.pk).done_at is not None


def test_a_teammate_may_not_reopen_a_task(alice: User, bob: User):
    task = TaskFactory(owner=alice, done_at=timezone.now())
    with pytest.raises(NotAllowed):
        task_reopen(task=task, by=bob)
    assert Task.objects.get(pk=task.pk).done_at is not None


# --- rescheduling


def test_a_task_is_rescheduled_and_the_change_audited(alice: User):
    task = TaskFactory(owner=alice)
    later = timezone.now() + timedelta(days=5)
    task_reschedule(task=task, by=alice, due_at=later)
    assert Task.objects.get(pk=task.pk).due_at == later
    entry = AuditEntry.objects.get(action__startswith="task.", object_id=str(task.pk))
    assert entry.action == "task.reschedule" and entry.actor == alice
    assert set(entry.changes) == {"due_at"}


def test_a_done_task_or_a_past_day_is_refused(alice: User):
    done = TaskFactory(owner=alice, done_at=timezone.now())
    with pytest.raises(InvalidInput, match="reopen it"):
        task_reschedule(task=done, by=alice, due_at=timezone.now() + timedelta(days=1))

    task = TaskFactory(owner=alice)
    due_at = task.due_at
    with pytest.raises(InvalidInput, match="past"):
        task_reschedule(task=task, by=alice, due_at=timezone.now() - timedelta(days=2))
    assert Task.objects.get(pk=task.pk).due_at == due_at
    assert audit(task) == []


def test_a_manager_of_another_team_may_not_reschedule(alice: User, steve: User):
    task = TaskFactory(owner=alice)
    due_at = task.due_at
    with pytest.raises(NotAllowed):
        task_reschedule(task=task, by=steve, due_at=timezone.now() + timedelta(days=9))
    assert Task.objects.get(pk=task.pk).due_at == due_at


# --- adding


def test_a_salesperson_adds_a_task_of_their_own(alice: User):
    task = task_create(by=alice, title="  Send the brochure ", due_at=None)
    assert (task.owner, task.title, task.source) == (alice, "Send the brochure", TaskSource.AD_HOC)
    assert audit(task) == ["task.create"]


def test_a_task_on_a_deal_is_also_on_its_company(alice: User, deal: Deal):
    task = task_create(by=alice, title="Chase the PO", due_at=None, deal=deal)
    assert task.company_id == deal.company_id


def test_a_manager_gives_a_teammate_a_task_but_a_salesperson_may_not(
    alice: User, bob: User, mary: User, steve: User
):
    assert task_create(by=mary, title="Call Acme", due_at=None, owner=alice).owner == alice
    for by in (bob, steve):
        with pytest.raises(NotAllowed):
            task_create(by=by, title="Call Acme", due_at=None, owner=alice)
    assert Task.objects.filter(title="Call Acme").count() == 1


def test_no_task_for_a_viewer_nor_on_an_unseen_deal_nor_without_a_title(
    vera: User, sam: User, alice: User, deal: Deal
):
    with pytest.raises(NotAllowed):
        task_create(by=vera, title="Read", due_at=None)
    with pytest.raises(NotAllowed):
        task_create(by=sam, title="Poach", due_at=None, deal=deal)
    with pytest.raises(InvalidInput):
        task_create(by=alice, title="   ", due_at=None)
    assert not Task.objects.filter(source=TaskSource.AD_HOC).exists()


def test_no_task_is_given_to_someone_who_left(alice: User, mary: User):
    alice.is_active = False
    alice.save()
    with pytest.raises(InvalidInput, match="no longer works here"):
        task_create(by=mary, title="Call Acme", due_at=None, owner=alice)
    assert not Task.objects.filter(title="Call Acme").exists()


def test_only_someone_who_may_edit_a_deal_logs_evidence_on_it(deal, bob, mary) -> None:
    from keel.activities.models import Activity
    from keel.activities.services import activity_log
    from keel.core.exceptions import NotAllowed

    with pytest.raises(NotAllowed):
        activity_log(by=bob, type="call", outcome="connected", deal=deal)  # a teammate's deal
    assert not Activity.objects.exists()
    activity_log(by=mary, type="call", outcome="connected", deal=deal)  # her team's: allowed
    assert Activity.objects.count() == 1
