from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from keel.accounts.models import Role, User
from keel.accounts.permissions import SELLING_ROLES, manages
from keel.activities.access import can_add_tasks, ensure_can_edit_task
from keel.activities.models import (
    Activity,
    ActivityType,
    Outcome,
    Task,
    TaskSource,
)
from keel.core.exceptions import InvalidInput, NotAllowed
from keel.core.services import audit_record, model_update, validate
from keel.crm.models import Channel, Company, Contact
from keel.crm.services import funnel_recompute
from keel.pipeline.access import deals_visible_to, ensure_can_edit_deal

if TYPE_CHECKING:
    from keel.pipeline.models import Deal, Stage


def plan_tasks_create(
    *, deal: "Deal", stage: "Stage", entered_at: datetime, by: User | None = None
) -> None:
    """Turn the stage's completion-plan steps into tasks; re-entry adds no duplicate.

    A step's role names who does it: "owner" is the deal's owner, any other role the
    first active member of the owner's team who holds it (else the owner). The database
    keeps one open task per deal and step (a partial unique index), so a step whose task
    is still open is skipped by the insert itself.
    """
    if stage.completion_plan_id is None:
        return
    steps = list(stage.completion_plan.steps.all())  # type: ignore[union-attr]
    roles = {step.role for step in steps} - {"owner"}
    holders: dict[str, int] = {}
    owner = by if by is not None and by.pk == deal.owner_id else None
    team_id = owner.team_id if owner is not None else deal.owner.team_id if roles else None
    if roles and team_id is not None:
        teammates = User.objects.filter(team_id=team_id, role__in=roles, is_active=True)
        holders = dict(teammates.order_by("-id").values_list("role", "id"))  # lowest id wins
    Task.objects.bulk_create(
        [
            Task(
                title=step.title,
                owner_id=holders.get(step.role, deal.owner_id),
                due_at=entered_at + timedelta(days=step.due_days),
                source=TaskSource.PLAN_STEP,
                source_key=plan_task_key(stage.name, step.title),
                plan_step=step,
                deal=deal,
                company_id=deal.company_id,
            )
            for step in steps
        ],
        ignore_conflicts=True,
    )


def plan_task_key(stage_name: str, step_title: str) -> str:
    return f"plan:{stage_name}:{step_title}"


@transaction.atomic
def activity_log(
    *,
    by: User,
    type: str,
    outcome: str = "",
    deal: "Deal | None" = None,
    contact: Contact | None = None,
    company: Company | None = None,
    at: datetime | None = None,
    channel: str = "",
    duration_minutes: int | None = None,
    notes: str = "",
) -> Activity:
    """Log a touch. Selling roles and marketers log on contacts and companies; on a deal,
    only those who may edit it (the touch is evidence its exit criteria count). The funnel
    stage follows."""
    if not by.is_active or by.role not in SELLING_ROLES | {Role.MARKETER}:
        raise NotAllowed(f"{by} may not log activities.")
    if deal is not None:
        ensure_can_edit_deal(by, deal)
    if type not in ActivityType.values:
        raise InvalidInput(f"{type!r} is not an activity type.")
    if outcome and outcome not in Outcome.values:
        raise InvalidInput(f"{outcome!r} is not an activity outcome.")
    if channel and channel not in Channel.values:
        raise InvalidInput(f"{channel!r} is not a channel.")
    if deal is None and contact is None and company is None:
        raise InvalidInput("Log the activity on a deal, a contact or a company.")
    if company is None:
        company = deal.company if deal is not None else contact.company if contact else None
    activity = Activity(
        type=type,
        outcome=outcome,
        at=at or timezone.now(),
        by=by,
        deal=deal,
        contact=contact,
        company=company,
        channel=channel or (deal.channel if deal is not None else ""),
        duration_minutes=duration_minutes,
        notes=notes,
    )
    activity.full_clean()
    activity.save()
    if contact is not None and type != ActivityType.RESEARCH and by.role in SELLING_ROLES:
        # Sales touching a lead handed to it is its first touch: the hand-off's task is
        # done then. A touch dated before the hand-off is no answer to it; one dated ahead
        # counts from now.
        Task.objects.filter(
            source=TaskSource.HANDOFF,
            source_key=f"handoff:{contact.pk}",
            done_at__isnull=True,
            created_at__lte=activity.at,
        ).update(done_at=min(activity.at, timezone.now()))
    funnel_recompute(
        contact_ids=[contact.pk] if contact else [],
        company_ids=[company.pk] if company else [],
    )
    return activity


def _lock_state(task: Task) -> None:
    """Lock the task's row and refresh the fields a change depends on, keeping the
    instance (and the relations already loaded on it) for the caller."""
    task.done_at, task.due_at = (
        Task.objects.select_for_update().filter(pk=task.pk).values_list("done_at", "due_at").get()
    )


@transaction.atomic
def task_create(
    *,
    by: User,
    title: str,
    due_at: datetime | None,
    owner: User | None = None,
    deal: "Deal | None" = None,
    company: Company | None = None,
) -> Task:
    """An ad-hoc task for `by`, or, from someone who manages them, for `owner`."""
    owner = owner or by
    if not can_add_tasks(by):
        raise NotAllowed(f"{by} may not add tasks.")
    if owner.pk != by.pk and not manages(by, owner):
        raise NotAllowed(f"{by} may not give {owner} a task.")
    if not owner.is_active:
        raise InvalidInput(f"{owner} no longer works here; give the task to someone who does.")
    if deal is not None and not deals_visible_to(by).filter(pk=deal.pk).exists():
        raise NotAllowed(f"{by} may not add a task to deal #{deal.pk}.")
    title = title.strip()
    if not title:
        raise InvalidInput("Give the task a title.")
    task = Task(
        title=title,
        owner=owner,
        due_at=due_at,
        source=TaskSource.AD_HOC,
        deal=deal,
        company=company,
    )
    if company is None and deal is not None:
        task.company_id = deal.company_id
    validate(task)
    task.save()
    audit_record(actor=by, action="task.create", obj=task, summary=task.title)
    return task


@transaction.atomic
def task_complete(*, task: Task, by: User) -> Task:
    """Mark the task done; completing a done task again changes nothing."""
    ensure_can_edit_task(by, task)
    _lock_state(task)
    if task.done_at is None:
        task.done_at = timezone.now()
        task.save(update_fields=["done_at"])
        audit_record(actor=by, action="task.complete", obj=task, summary=task.title)
    return task


@transaction.atomic
def task_reopen(*, task: Task, by: User) -> Task:
    """Undo a completion; reopening an open task changes nothing."""
    ensure_can_edit_task(by, task)
    _lock_state(task)
    if task.done_at is None:
        return task
    if (
        task.source_key
        and task.deal_id is not None
        and Task.objects.filter(deal_id=task.deal_id, source_key=task.source_key, done_at=None)
        .exclude(pk=task.pk)
        .exists()
    ):
        raise InvalidInput(f"“{task.title}” is open again already, as a newer task of this deal.")
    task.done_at = None
    task.save(update_fields=["done_at"])
    audit_record(actor=by, action="task.reopen", obj=task, summary=task.title)
    return task


@transaction.atomic
def task_delete(*, task: Task, by: User) -> None:
    """Delete a task made by hand. A completion-plan task is the stage's plan: complete it."""
    ensure_can_edit_task(by, task)
    if task.source == TaskSource.PLAN_STEP:
        raise InvalidInput(
            f"“{task.title}” is a step of the deal's completion plan: complete it rather "
            "than delete it."
        )
    audit_record(actor=by, action="task.delete", obj=task, summary=task.title)
    task.delete()


@transaction.atomic
def task_reschedule(*, task: Task, by: User, due_at: datetime) -> Task:
    """Move an open task's due date, to today at the earliest."""
    ensure_can_edit_task(by, task)
    _lock_state(task)
    if task.done_at is not None:
        raise InvalidInput(f"“{task.title}” is done; reopen it to reschedule it.")
    if timezone.localdate(due_at) < timezone.localdate():
        raise InvalidInput("Pick today or a later day: a task cannot be due in the past.")
    changes = model_update(instance=task, data={"due_at": due_at}, fields=["due_at"])
    if changes:
        audit_record(
            actor=by, action="task.reschedule", obj=task, summary=task.title, changes=changes
        )
    return task
