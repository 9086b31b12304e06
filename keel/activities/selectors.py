from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.utils import timezone

from keel.accounts.models import User
from keel.activities.access import can_edit_task, tasks_visible_to
from keel.activities.models import Task

Scope = Literal["mine", "team"]
When = Literal["open", "overdue", "today", "upcoming", "done"]

# The public sort keys of a task list and the fields each means; "no_due" puts tasks
# without a due date after the dated ones on every database.
TASK_SORTS = {
    "due": ("no_due", "due_at"),
    "title": ("title",),
    "owner": ("owner__first_name", "owner__username"),
    "done": ("done_at",),
}


def day_start(day: date) -> datetime:
    """The first instant of `day` in the current time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def task_list(
    *, user: User, scope: Scope = "mine", when: When = "open", today: date | None = None
) -> QuerySet[Task]:
    """The tasks `user` may read, theirs or all they see, by when they are due.

    Due dates count in whole days of the current time zone: a task is overdue from the
    day after its due day, whatever the hour it was due.
    """
    today = today or timezone.localdate()
    tasks = tasks_visible_to(user)
    if scope == "mine":
        tasks = tasks.filter(owner=user)
    if when == "done":
        tasks = tasks.filter(done_at__isnull=False)
    else:
        tasks = tasks.filter(done_at__isnull=True)
    start, tomorrow = day_start(today), day_start(today + timedelta(days=1))
    if when == "overdue":
        tasks = tasks.filter(due_at__lt=start)
    elif when == "today":
        tasks = tasks.filter(due_at__gte=start, due_at__lt=tomorrow)
    elif when == "upcoming":
        tasks = tasks.filter(due_at__gte=tomorrow)
    return tasks.select_related("owner", "deal", "company").alias(
        no_due=ExpressionWrapper(Q(due_at__isnull=True), output_field=BooleanField())
    )


@dataclass(frozen=True)
class TaskRow:
    """A task as a row shows it: its due day, its state, and whether the reader may act."""

    task: Task
    can_edit: bool
    due: date | None
    state: Literal["done", "overdue", "today", "upcoming", "someday"]

    @property
    def pk(self) -> int:
        return self.task.pk


def task_row(*, user: User, task: Task, today: date | None = None) -> TaskRow:
    """One row; `task` should come with its owner, deal and company loaded."""
    today = today or timezone.localdate()
    due = timezone.localdate(task.due_at) if task.due_at is not None else None
    state: Literal["done", "overdue", "today", "upcoming", "someday"]
    if task.done_at is not None:
        state = "done"
    elif due is None:
        state = "someday"
    elif due < today:
        state = "overdue"
    elif due == today:
        state = "today"
    else:
        state = "upcoming"
    return TaskRow(task=task, can_edit=can_edit_task(user, task), due=due, state=state)


def task_rows(*, user: User, tasks: Iterable[Task]) -> list[TaskRow]:
    today = timezone.localdate()
    return [task_row(user=user, task=task, today=today) for task in tasks]
