"""Who may see and change which tasks: the one place these record-level rules live."""

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404

from keel.accounts.models import Role, User
from keel.accounts.permissions import SELLING_ROLES, manages, team_members
from keel.activities.models import Activity, Task
from keel.core.exceptions import NotAllowed
from keel.pipeline.access import deals_visible_to


def tasks_visible_to(user: User) -> QuerySet[Task]:
    """The tasks `user` may read: their own, their team's, or (owner) everyone's.

    A teammate's tasks name the teammate's deals, so a salesperson reads them only while
    the pipeline is shared with the team (KEEL_PIPELINE_VISIBILITY=team, the default); a
    manager always reads their team's. Writes are checked per task by can_edit_task.
    """
    if not user.is_active:
        return Task.objects.none()
    if user.is_superuser or user.role == Role.OWNER:
        return Task.objects.all()
    team_wide = user.role == Role.SALES_MANAGER or settings.KEEL_PIPELINE_VISIBILITY == "team"
    if team_wide and user.team_id is not None:
        return Task.objects.filter(owner_id__in=team_members(user))
    return Task.objects.filter(owner=user)


# Who keeps a task list: whoever sells or markets; a viewer only reads.
TASK_KEEPING_ROLES = SELLING_ROLES | {Role.MARKETER}


def can_add_tasks(user: User) -> bool:
    return user.is_active and (user.is_superuser or user.role in TASK_KEEPING_ROLES)


def can_edit_task(user: User, task: Task) -> bool:
    """The task's owner works it; whoever manages the owner (their manager, the owner of
    the business) may complete or move it for them."""
    if not user.is_active:
        return False
    return task.owner_id == user.pk or manages(user, task.owner)


def ensure_can_edit_task(user: User, task: Task) -> None:
    if not can_edit_task(user, task):
        raise NotAllowed(
            f"{user} may not change task #{task.pk}: only its owner and their manager may."
        )


def task_editable(*, user: User, pk: int) -> Task:
    """The task `pk` with what its row shows, if `user` may change it.

    Http404 when there is no such task, NotAllowed when it is someone else's.
    """
    task = get_object_or_404(Task.objects.select_related("owner", "deal", "company"), pk=pk)
    ensure_can_edit_task(user, task)
    return task


def activities_visible_to(user: User) -> QuerySet[Activity]:
    """Activities, less those on deals `user` may not read (their notes are the deal's)."""
    visible = Exists(deals_visible_to(user).filter(pk=OuterRef("deal_id")))
    return Activity.objects.filter(Q(deal__isnull=True) | visible).select_related(
        "by", "contact", "deal"
    )
