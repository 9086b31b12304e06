"""Activities and tasks over the API.

Activities are logged, not edited or deleted: they are the evidence exit criteria and the
funnel are computed from. Tasks are completed, reopened and rescheduled; a task made by
hand may be deleted, a completion-plan task may not (it is completed instead).
"""

from django.db import transaction
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Status

from keel.accounts.models import User
from keel.activities.access import activities_visible_to, ensure_can_edit_task, tasks_visible_to
from keel.activities.models import Activity, Task
from keel.activities.schemas import (
    ActivityFilters,
    ActivityIn,
    ActivityOut,
    ActivityPage,
    TaskFilters,
    TaskIn,
    TaskOut,
    TaskPage,
    TaskPatch,
)
from keel.activities.selectors import TASK_SORTS, task_list
from keel.activities.services import (
    activity_log,
    task_complete,
    task_create,
    task_delete,
    task_reopen,
    task_reschedule,
)
from keel.api import lookups
from keel.api.auth import actor
from keel.api.pagination import Page, paginate
from keel.api.schemas import LIST_ERRORS, READ_ERRORS, WRITE_ERRORS, Id
from keel.pipeline.access import deal_visible, ensure_can_edit_deal

activities = Router(tags=["activities"])
tasks = Router(tags=["tasks"])

ACTIVITY_SORTS = {"at": ("at",)}


# --- activities -------------------------------------------------------------------------


@activities.get("", response={200: ActivityPage, **LIST_ERRORS})
def activity_list(request: HttpRequest, filters: Query[ActivityFilters]) -> Page[Activity]:
    """The activities you may read: all but those on deals hidden from you."""
    rows = activities_visible_to(actor(request))
    for field, value in [
        ("deal_id", filters.deal),
        ("contact_id", filters.contact),
        ("company_id", filters.company),
        ("by_id", filters.by),
        ("type", filters.type),
        ("at__gte", filters.since),
        ("at__lt", filters.until),
    ]:
        if value is not None:
            rows = rows.filter(**{field: value})
    return paginate(
        queryset=rows,
        sorts=ACTIVITY_SORTS,
        ordering=filters.ordering,
        limit=filters.limit,
        offset=filters.offset,
    )


@activities.get("/{activity_id}", response={200: ActivityOut, **READ_ERRORS})
def activity_get(request: HttpRequest, activity_id: Id) -> Activity:
    return get_object_or_404(activities_visible_to(actor(request)), pk=activity_id)


@activities.post("", response={201: ActivityOut, **WRITE_ERRORS})
def activity_create(request: HttpRequest, payload: ActivityIn) -> Status[Activity]:
    """Log a touch. On a deal, as on the deal's page: only who may change the deal logs."""
    user = actor(request)
    deal = None
    if payload.deal_id is not None:
        deal = deal_visible(user=user, pk=payload.deal_id)
        ensure_can_edit_deal(user, deal)
    activity = activity_log(
        by=user,
        type=payload.type,
        outcome=payload.outcome or "",
        deal=deal,
        contact=lookups.contact(user=user, pk=payload.contact_id) if payload.contact_id else None,
        company=lookups.company(user=user, pk=payload.company_id) if payload.company_id else None,
        at=payload.at,
        channel=payload.channel or "",
        duration_minutes=payload.duration_minutes,
        notes=payload.notes,
    )
    return Status(201, get_object_or_404(activities_visible_to(user), pk=activity.pk))


# --- tasks ------------------------------------------------------------------------------


def _task_visible(user: User, pk: int) -> Task:
    return get_object_or_404(tasks_visible_to(user).select_related("owner"), pk=pk)


@tasks.get("", response={200: TaskPage, **LIST_ERRORS})
def task_list_op(request: HttpRequest, filters: Query[TaskFilters]) -> Page[Task]:
    """Your tasks (or all you may read, `scope=team`) by when they are due, as /tasks/."""
    rows = task_list(user=actor(request), scope=filters.scope, when=filters.when)
    return paginate(
        queryset=rows,
        sorts=TASK_SORTS,
        ordering=filters.ordering,
        limit=filters.limit,
        offset=filters.offset,
    )


@tasks.get("/{task_id}", response={200: TaskOut, **READ_ERRORS})
def task_get(request: HttpRequest, task_id: Id) -> Task:
    return _task_visible(actor(request), task_id)


@tasks.post("", response={201: TaskOut, **WRITE_ERRORS})
def task_create_op(request: HttpRequest, payload: TaskIn) -> Status[Task]:
    """A task for you, or (from their manager) for someone else."""
    user = actor(request)
    task = task_create(
        by=user,
        title=payload.title,
        due_at=payload.due_at,
        owner=lookups.person(payload.owner_id) if payload.owner_id else None,
        deal=deal_visible(user=user, pk=payload.deal_id) if payload.deal_id else None,
        company=lookups.company(user=user, pk=payload.company_id) if payload.company_id else None,
    )
    return Status(201, _task_visible(user, task.pk))


@tasks.patch("/{task_id}", response={200: TaskOut, **WRITE_ERRORS})
def task_update(request: HttpRequest, task_id: Id, payload: TaskPatch) -> Task:
    """Complete (`done: true`), reopen (`done: false`) or reschedule (`due_at`) a task."""
    user = actor(request)
    task = _task_visible(user, task_id)
    ensure_can_edit_task(user, task)
    with transaction.atomic():  # both changes of one request, or neither
        if payload.done is True:
            task_complete(task=task, by=user)
        elif payload.done is False:
            task_reopen(task=task, by=user)
        if payload.due_at is not None:
            task_reschedule(task=task, by=user, due_at=payload.due_at)
    return _task_visible(user, task_id)


@tasks.delete("/{task_id}", response={204: None, **WRITE_ERRORS})
def task_delete_op(request: HttpRequest, task_id: Id) -> Status[None]:
    """Delete a task made by hand; a completion-plan task is completed, never deleted (422)."""
    user = actor(request)
    task_delete(task=_task_visible(user, task_id), by=user)
    return Status(204, None)
