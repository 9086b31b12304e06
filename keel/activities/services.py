from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from keel.accounts.models import Role, User
from keel.accounts.permissions import SELLING_ROLES
from keel.activities.models import Activity, ActivityType, Outcome, Task, TaskSource
from keel.core.exceptions import InvalidInput, NotAllowed
from keel.core.services import audit_record
from keel.crm.models import Channel, Company, Contact
from keel.crm.services import funnel_recompute

if TYPE_CHECKING:
    from keel.pipeline.models import Deal, Stage


def _assignee(role: str, deal: "Deal", team: list[User]) -> User:
    """Who does a plan step: the deal's owner, or the teammate holding the step's role."""
    if role == "owner":
        return deal.owner
    if role == Role.SALES_MANAGER and deal.owner.team and deal.owner.team.manager:
        return deal.owner.team.manager
    return next((u for u in team if u.role == role), deal.owner)


def plan_tasks_create(*, deal: "Deal", stage: "Stage", entered_at: datetime) -> list[Task]:
    """Turn the stage's completion-plan steps into tasks; re-entry adds no duplicate."""
    if stage.completion_plan_id is None:
        return []
    steps = list(stage.completion_plan.steps.all())  # type: ignore[union-attr]
    keys = {step.pk: f"plan:{stage.name}:{step.title}" for step in steps}
    open_keys = set(
        Task.objects.filter(
            deal=deal, done_at__isnull=True, source_key__in=keys.values()
        ).values_list("source_key", flat=True)
    )
    roles = {s.role for s in steps} - {"owner"}
    team = (
        list(User.objects.filter(team_id=deal.owner.team_id, role__in=roles, is_active=True))
        if roles and deal.owner.team_id
        else []
    )
    tasks = [
        Task(
            title=step.title,
            owner=_assignee(step.role, deal, team),
            due_at=entered_at + timedelta(days=step.due_days),
            source=TaskSource.PLAN_STEP,
            source_key=keys[step.pk],
            plan_step=step,
            deal=deal,
            company_id=deal.company_id,
        )
        for step in steps
        if keys[step.pk] not in open_keys
    ]
    return Task.objects.bulk_create(tasks)


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
    """Log a touch. Any selling role may log on any record; the funnel stage follows."""
    if not by.is_active or by.role not in SELLING_ROLES | {Role.MARKETER}:
        raise NotAllowed(f"{by} may not log activities.")
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
    funnel_recompute(
        contact_ids=[contact.pk] if contact else [],
        company_ids=[company.pk] if company else [],
    )
    return activity


@transaction.atomic
def task_complete(*, task: Task, by: User) -> Task:
    if task.owner_id != by.pk and not (
        by.is_active and by.role in {Role.OWNER, Role.SALES_MANAGER}
    ):
        raise NotAllowed(f"{by} may not complete a task of {task.owner}.")
    if task.done_at is None:
        task.done_at = timezone.now()
        task.save(update_fields=["done_at"])
        audit_record(actor=by, action="task.complete", obj=task, summary=task.title)
    return task
