"""The metric pages: the metrics by funnel stage, a metric with its monthly history, the
forms to add and edit metrics, enter a month's value and set a year's goal.

Everyone signed in reads. Writing is checked by scorecard/access.py before a form is
shown or parsed, and again by the service: managers add and edit metrics and set goals;
a metric's owner and managers enter its values.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import Prefetch
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from keel.accounts.models import User
from keel.core.exceptions import InvalidInput, NotAllowed
from keel.scorecard.access import (
    can_enter_value,
    can_manage_metrics,
    can_set_goal,
    metric_visible,
    values_visible_to,
)
from keel.scorecard.forms import GoalForm, MetricEditForm, MetricForm, ValueForm, plain
from keel.scorecard.models import CaptureMethod, Goal, Metric, MetricStage, MetricValue
from keel.scorecard.selectors import metric_value_history
from keel.scorecard.services import goal_set, metric_create, metric_update, metric_value_enter

MONTHS_PER_PAGE = 12


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    return request.user


def _manager(request: HttpRequest) -> User:
    """The signed-in user, if they may add and edit metrics; else 403."""
    user = _user(request)
    if not can_manage_metrics(user):
        raise PermissionDenied("Sales managers and the owner add and edit metrics.")
    return user


def _show_refusal(form: Form, error: InvalidInput) -> None:
    """Put a service's refusal on the form: "field: message" details next to their field."""
    form.add_error(None, error.message)
    for detail in error.details:
        field, _, message = detail.partition(": ")
        if message and field in form.fields:
            form.add_error(field, message)
        else:  # a field the form does not show, e.g. a goal's weights
            form.add_error(None, message or detail)


# --- the list ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StageGroup:
    label: str
    metrics: list[Metric]


@require_safe
@login_required
def metric_list(request: HttpRequest) -> HttpResponse:
    """Every metric by funnel stage, with this year's goal: two queries, however many."""
    user = _user(request)
    year = timezone.localdate().year
    this_year = Prefetch("goals", queryset=Goal.objects.filter(year=year), to_attr="year_goals")
    metrics = list(Metric.objects.select_related("owner").prefetch_related(this_year))
    groups = [
        StageGroup(label=str(stage.label), metrics=[m for m in metrics if m.stage == stage])
        for stage in MetricStage
    ]
    context = {"groups": groups, "year": year, "can_manage": can_manage_metrics(user)}
    return render(request, "scorecard/metric_list.html", context)


# --- add and edit -----------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def metric_new(request: HttpRequest) -> HttpResponse:
    user = _manager(request)
    if request.method != "POST":
        form = MetricForm()
        return render(request, "scorecard/metric_form.html", {"form": form, "metric": None})
    form = MetricForm(request.POST)
    if form.is_valid():
        try:
            metric = metric_create(by=user, **form.cleaned_data)
        except NotAllowed:
            raise PermissionDenied from None
        except InvalidInput as error:
            _show_refusal(form, error)
        else:
            messages.success(request, f"{metric} was added.")
            return redirect("scorecard:metric_detail", key=metric.key)
    context = {"form": form, "metric": None}
    return render(request, "scorecard/metric_form.html", context, status=400)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def metric_edit(request: HttpRequest, key: str) -> HttpResponse:
    user = _manager(request)
    metric = metric_visible(key=key)
    if request.method != "POST":
        form = MetricEditForm(initial=MetricForm.initial_for(metric))
        return render(request, "scorecard/metric_form.html", {"form": form, "metric": metric})
    form = MetricEditForm(request.POST)
    if form.is_valid():
        try:
            metric_update(metric=metric, by=user, data=form.cleaned_data)
        except NotAllowed:
            raise PermissionDenied from None
        except InvalidInput as error:
            _show_refusal(form, error)
        else:
            messages.success(request, f"{metric} was saved.")
            return redirect("scorecard:metric_detail", key=metric.key)
    # The page's heading and links name the metric as stored, not as half-edited.
    metric = metric_visible(key=key)
    context = {"form": form, "metric": metric}
    return render(request, "scorecard/metric_form.html", context, status=400)


# --- a metric, its history, its value and goal forms ------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    entry: MetricValue
    value: str
    current: bool


@dataclass(frozen=True)
class HistoryMonth:
    month: date
    entries: list[HistoryEntry]


def _history(
    user: User, metric: Metric, page_number: str | None
) -> tuple[Page[date], list[HistoryMonth]]:
    """A page of months with entries `user` may read, each with its entries, newest first."""
    entries = values_visible_to(user, metric=metric)
    months = entries.order_by("-month").values_list("month", flat=True).distinct()
    page = Paginator(months, MONTHS_PER_PAGE).get_page(page_number)
    shown: dict[date, list[HistoryEntry]] = {month: [] for month in page}
    for entry in metric_value_history(entries=entries.filter(month__in=list(shown))):
        current = entry.rank == 1  # type: ignore[attr-defined]
        shown[entry.month].append(
            HistoryEntry(entry=entry, value=plain(Decimal(entry.value)), current=current)
        )
    return page, [HistoryMonth(month=m, entries=e) for m, e in shown.items()]


def _goal_year(request: HttpRequest) -> int:
    text = request.GET.get("year", "")
    year = int(text) if text.isdigit() else 0
    return year if 2000 <= year <= 2200 else timezone.localdate().year


def _detail(
    request: HttpRequest,
    *,
    metric: Metric,
    value_form: ValueForm | None = None,
    goal_form: GoalForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    goals = list(Goal.objects.filter(metric=metric).select_related("updated_by"))
    may_enter = metric.capture_method != CaptureMethod.COMPUTED and can_enter_value(user, metric)
    if value_form is None and may_enter:
        value_form = ValueForm(user=user, initial={"month": f"{timezone.localdate():%Y-%m}"})
    if goal_form is None and can_set_goal(user):
        year = _goal_year(request)
        goal = next((g for g in goals if g.year == year), None)
        goal_form = GoalForm(initial=GoalForm.initial_for(goal, year=year))
    page, history = _history(user, metric, request.GET.get("page"))
    context = {
        "metric": metric,
        "history": history,
        "page": page,
        "goals": [(g, plain(Decimal(g.target))) for g in goals],
        "value_form": value_form,
        "goal_form": goal_form,
        "can_manage": can_manage_metrics(user),
    }
    return render(request, "scorecard/metric_detail.html", context, status=status)


@require_safe
@login_required
def metric_detail(request: HttpRequest, key: str) -> HttpResponse:
    return _detail(request, metric=metric_visible(key=key))


@require_POST
@login_required
def value_enter(request: HttpRequest, key: str) -> HttpResponse:
    user = _user(request)
    metric = metric_visible(key=key)
    if not can_enter_value(user, metric):
        raise PermissionDenied("The metric's owner, sales managers and the owner enter its values.")
    form = ValueForm(request.POST, user=user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            entry = metric_value_enter(
                metric=metric,
                month=data["month"],
                value=data["value"],
                by=user,
                note=data["note"],
                team=data["team"],
                person=data["person"],
            )
        except NotAllowed:
            raise PermissionDenied from None
        except InvalidInput as error:
            _show_refusal(form, error)
        else:
            messages.success(
                request, f"{metric} for {entry.month:%B %Y} is now {plain(entry.value)}."
            )
            return redirect("scorecard:metric_detail", key=metric.key)
    return _detail(request, metric=metric, value_form=form, status=400)


@require_POST
@login_required
def goal_save(request: HttpRequest, key: str) -> HttpResponse:
    user = _user(request)
    metric = metric_visible(key=key)
    if not can_set_goal(user):
        raise PermissionDenied("Sales managers and the owner set goals.")
    form = GoalForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            goal = goal_set(
                metric=metric,
                year=data["year"],
                target=data["target"],
                phasing=data["phasing"],
                weights=form.weights(),
                by=user,
            )
        except NotAllowed:
            raise PermissionDenied from None
        except InvalidInput as error:
            _show_refusal(form, error)
        else:
            messages.success(request, f"The {goal.year} goal for {metric} is saved.")
            url = reverse("scorecard:metric_detail", kwargs={"key": metric.key})
            return redirect(f"{url}?year={goal.year}")
    return _detail(request, metric=metric, goal_form=form, status=400)
