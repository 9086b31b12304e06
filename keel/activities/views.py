from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseForbidden,
    QueryDict,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from keel.accounts.models import User
from keel.activities import selectors, services
from keel.activities.access import can_add_tasks, task_editable
from keel.activities.forms import TaskCreateForm, TaskRescheduleForm
from keel.activities.models import Task
from keel.activities.selectors import Scope, When
from keel.core.exceptions import InvalidInput, NotAllowed
from keel.core.export import Cell, export_format, export_response
from keel.web.http import is_htmx, safe_next
from keel.web.lists import listing, sorted_rows

T = TypeVar("T", bound=str)
ROW = "activities/tasks.html#task_row"
SCOPES: dict[Scope, str] = {"mine": "Mine", "team": "My team"}
WHENS: dict[When, str] = {
    "open": "Open",
    "overdue": "Overdue",
    "today": "Due today",
    "upcoming": "Upcoming",
    "done": "Done",
}


def _choice(value: str | None, choices: tuple[T, ...]) -> T:
    """`value` if it is one of `choices`, else the first (the default)."""
    for choice in choices:
        if value == choice:
            return choice
    return choices[0]


def _tab(*, scope: Scope, when: When) -> str:
    """The list's address for a tab, its defaults (mine, open) left out."""
    query = QueryDict(mutable=True)
    if scope != "mine":
        query["scope"] = scope
    if when != "open":
        query["when"] = when
    url = reverse("activities:task_list")
    return f"{url}?{query.urlencode()}" if query else url


def _tasks(request: HttpRequest, user: User) -> tuple[Scope, When, str, QuerySet[Task]]:
    """The tab (scope, when), the default sort and the tasks the list shows `user`: the
    page and its export alike."""
    scope: Scope = _choice(request.GET.get("scope"), tuple(SCOPES))
    when: When = _choice(request.GET.get("when"), tuple(WHENS))
    default = "-done" if when == "done" else "due"
    return scope, when, default, selectors.task_list(user=user, scope=scope, when=when)


@login_required
@require_http_methods(["GET", "POST"])
def task_list(request: HttpRequest) -> HttpResponse:
    """My tasks or my team's by when they are due; a POST adds a task of my own."""
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    user = request.user
    form = TaskCreateForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                task = services.task_create(
                    by=user,
                    title=form.cleaned_data["title"],
                    due_at=form.due_at(),
                    deal=form.cleaned_data["deal"],
                )
            except NotAllowed as error:
                return HttpResponseForbidden(error.message)
            except InvalidInput as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, f"Added the task “{task.title}”.")
                return redirect(request.get_full_path())
        status = 400

    scope, when, default, visible = _tasks(request, user)
    tasks = listing(request=request, queryset=visible, sorts=selectors.TASK_SORTS, default=default)
    context: dict[str, Any] = {
        "listing": tasks,
        "rows": selectors.task_rows(user=user, tasks=tasks.page.object_list),
        "show_owner": scope == "team",
        "form": form,
        "can_add": can_add_tasks(user),
        "scope": scope,
        "when": when,
        "scopes": [(label, _tab(scope=s, when=when), s == scope) for s, label in SCOPES.items()],
        "whens": [(label, _tab(scope=scope, when=w), w == when) for w, label in WHENS.items()],
        "next": request.get_full_path(),
    }
    return render(request, "activities/task_list.html", context, status=status)


TASK_COLUMNS = (
    "id", "title", "due_at", "done_at", "owner", "deal_id", "deal", "company_id", "company",
    "source", "created_at",
)  # fmt: skip


def _task_row(t: Task) -> tuple[Cell, ...]:
    deal = t.deal.name if t.deal else None
    company = t.company.name if t.company else None
    return (
        t.pk, t.title, t.due_at, t.done_at, t.owner.username, t.deal_id, deal, t.company_id,
        company, t.source, t.created_at,
    )  # fmt: skip


@require_safe
@login_required
def task_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """Every task of the list's tab, in its order, as CSV or XLSX."""
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    file_format = export_format(fmt)
    if file_format is None:
        raise Http404
    _, _, default, tasks = _tasks(request, request.user)
    rows = sorted_rows(
        queryset=tasks, query=request.GET, sorts=selectors.TASK_SORTS, default=default
    )
    return export_response(
        fmt=file_format, name="tasks", headers=TASK_COLUMNS, rows=(_task_row(t) for t in rows)
    )


def _next(request: HttpRequest) -> str:
    """Where a plain (non-htmx) POST returns to: the page it came from, if it is ours."""
    return safe_next(request, reverse("activities:task_list"))


def _row(request: HttpRequest, task: Task, *, error: str = "", status: int = 200) -> HttpResponse:
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    context = {
        "row": selectors.task_row(user=request.user, task=task),
        "show_owner": request.POST.get("show_owner") == "1",
        "on_deal": request.POST.get("on_deal") == "1",
        "next": _next(request),
        "error": error,
    }
    return render(request, ROW, context, status=status)


def _change(request: HttpRequest, pk: int, change: Callable[[User, Task], object]) -> HttpResponse:
    """Change one task the user may edit. htmx gets the task's row back, a plain form a
    redirect to where it came from; a refused change leaves the task as it was."""
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    try:
        task = task_editable(user=request.user, pk=pk)
        change(request.user, task)
    except NotAllowed:
        return HttpResponseForbidden("You may not change this task.")
    except InvalidInput as error:
        if not is_htmx(request):
            messages.error(request, error.message)
            return redirect(_next(request))
        task.refresh_from_db(fields=["done_at", "due_at"])
        return _row(request, task, error=error.message, status=400)
    if is_htmx(request):
        return _row(request, task)
    return redirect(_next(request))


@login_required
@require_POST
def task_complete(request: HttpRequest, pk: int) -> HttpResponse:
    return _change(request, pk, lambda user, task: services.task_complete(task=task, by=user))


@login_required
@require_POST
def task_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    return _change(request, pk, lambda user, task: services.task_reopen(task=task, by=user))


@login_required
@require_POST
def task_reschedule(request: HttpRequest, pk: int) -> HttpResponse:
    def reschedule(user: User, task: Task) -> None:
        form = TaskRescheduleForm(request.POST, task=task)
        if not form.is_valid():
            raise InvalidInput(" ".join(str(e) for errors in form.errors.values() for e in errors))
        services.task_reschedule(task=task, by=user, due_at=form.due_at())

    return _change(request, pk, reschedule)
