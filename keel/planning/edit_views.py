"""Writing the planning on the web: goals and strategies (the owner's), tactical plans and
their tactics (the plan's team's manager's and the owner's).

Who may write is checked by planning/access.py before a form is shown or parsed, and
again by the service, which also validates and records the change. An edit carries the
version it was opened on: if someone saved the record since, the edit is refused (409)
and the form comes back with the input kept, on the new version.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from keel.accounts.models import User
from keel.core.exceptions import InvalidInput, NotAllowed, StaleVersion
from keel.core.models import TimeStamped
from keel.planning import services
from keel.planning.access import can_edit_big_picture, can_edit_plan, is_owner
from keel.planning.forms import (
    EditableForm,
    GoalForm,
    PlanForm,
    StrategyForm,
    TacticForm,
    plan_teams,
    shape_of,
    version_token,
)
from keel.planning.models import Goal, Shape, Strategy, Tactic, TacticalPlan
from keel.web.forms import refusal_show, stale_data, stale_show

FORM_METHODS = ["GET", "HEAD", "POST"]


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    return request.user


def _owner(request: HttpRequest) -> User:
    """The signed-in user, if they may write goals and strategies; else 403."""
    user = _user(request)
    if not can_edit_big_picture(user):
        raise PermissionDenied("Only the owner writes goals and strategies.")
    return user


def _plan_keeper(request: HttpRequest, pk: int) -> tuple[User, TacticalPlan]:
    """The signed-in user and the plan, if they may keep it; else 403 (404: no such plan)."""
    user = _user(request)
    plan = get_object_or_404(TacticalPlan.objects.select_related("team", "strategy"), pk=pk)
    if not can_edit_plan(user, plan):
        raise PermissionDenied("A plan is kept by its team's manager and the owner.")
    return user, plan


def _stale_data(request: HttpRequest, current: TimeStamped) -> QueryDict:
    return stale_data(request, version_token(current))


F = TypeVar("F", bound=EditableForm)


@dataclass
class Saved(Generic[F]):
    """What a POSTed form came to: the page to go to when saved, else the form to show
    again (with the refusal on it) and its status."""

    form: F
    status: int = 400
    redirect: HttpResponse | None = None


def _save(
    request: HttpRequest,
    form: F,
    write: Callable[[F], models.Model],
    *,
    saved: str,
    url_name: str,
    stale: Callable[[], F] | None = None,
) -> Saved[F]:
    """Run `write` on a valid form's data: a redirect to `url_name` with `saved` said; a
    refusal on the form (400), or a stale edit (409) shown on `stale()`, the input kept."""
    if not form.is_valid():
        return Saved(form)
    try:
        record = write(form)
    except NotAllowed:
        raise PermissionDenied from None
    except StaleVersion as error:
        assert stale is not None  # noqa: S101 - only an edit is refused as stale
        again = stale()
        stale_show(again, error)
        return Saved(again, status=409)
    except InvalidInput as error:
        refusal_show(form, error)
        return Saved(form)
    messages.success(request, saved.format(record))
    return Saved(form, status=302, redirect=redirect(url_name, pk=record.pk))


# --- goals ------------------------------------------------------------------------------


@require_http_methods(FORM_METHODS)
@login_required
def goal_new(request: HttpRequest) -> HttpResponse:
    user = _owner(request)
    if request.method != "POST":
        return render(request, "planning/edit_goal.html", {"form": GoalForm(), "goal": None})
    done = _save(
        request,
        GoalForm(request.POST),
        lambda f: services.goal_create(by=user, **f.service_data()),
        saved="The goal {} was added.",
        url_name="planning:goal_edit",
    )
    context = {"form": done.form, "goal": None}
    return done.redirect or render(request, "planning/edit_goal.html", context, status=400)


@require_http_methods(FORM_METHODS)
@login_required
def goal_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _owner(request)
    goal = get_object_or_404(Goal, pk=pk)
    if request.method != "POST":
        form = GoalForm(initial=GoalForm.initial_for(goal), editing=True)
        return render(request, "planning/edit_goal.html", {"form": form, "goal": goal})
    done = _save(
        request,
        GoalForm(request.POST, editing=True),
        lambda f: services.goal_update(
            goal=goal, by=user, expected_updated_at=f.cleaned_data["version"], data=f.service_data()
        ),
        saved="The goal {} was saved.",
        url_name="planning:goal_edit",
        stale=lambda: GoalForm(_stale_data(request, Goal.objects.get(pk=pk)), editing=True),
    )
    # The heading names it as stored, not as half-edited.
    context = {"form": done.form, "goal": Goal.objects.get(pk=pk)}
    return done.redirect or render(request, "planning/edit_goal.html", context, status=done.status)


# --- strategies -------------------------------------------------------------------------


@require_http_methods(FORM_METHODS)
@login_required
def strategy_new(request: HttpRequest) -> HttpResponse:
    user = _owner(request)
    context: dict[str, Any] = {"strategy": None}
    if request.method != "POST":
        return render(request, "planning/edit_strategy.html", {**context, "form": StrategyForm()})
    done = _save(
        request,
        StrategyForm(request.POST),
        lambda f: services.strategy_create(by=user, **f.service_data()),
        saved="The strategy {} was added.",
        url_name="planning:strategy_edit",
    )
    context["form"] = done.form
    return done.redirect or render(request, "planning/edit_strategy.html", context, status=400)


@require_http_methods(FORM_METHODS)
@login_required
def strategy_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _owner(request)
    strategy = get_object_or_404(Strategy, pk=pk)
    if request.method != "POST":
        form = StrategyForm(initial=StrategyForm.initial_for(strategy), editing=True)
        context = {"form": form, "strategy": strategy}
        return render(request, "planning/edit_strategy.html", context)
    done = _save(
        request,
        StrategyForm(request.POST, editing=True),
        lambda f: services.strategy_update(
            strategy=strategy,
            by=user,
            expected_updated_at=f.cleaned_data["version"],
            data=f.service_data(),
        ),
        saved="The strategy {} was saved.",
        url_name="planning:strategy_edit",
        stale=lambda: StrategyForm(_stale_data(request, Strategy.objects.get(pk=pk)), editing=True),
    )
    context = {"form": done.form, "strategy": Strategy.objects.get(pk=pk)}
    return done.redirect or render(
        request, "planning/edit_strategy.html", context, status=done.status
    )


# --- tactical plans ---------------------------------------------------------------------


def _plan_page(
    request: HttpRequest, *, form: PlanForm, plan: TacticalPlan | None, status: int = 200
) -> HttpResponse:
    tactics = [] if plan is None else list(plan.tactics.select_related("person"))
    context = {"form": form, "plan": plan, "tactics": tactics, "shapes": Shape.choices}
    return render(request, "planning/edit_plan.html", context, status=status)


@require_http_methods(FORM_METHODS)
@login_required
def plan_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not (is_owner(user) or plan_teams(user).exists()):
        raise PermissionDenied("Plans are written by the owner and by sales managers.")
    if request.method != "POST":
        return _plan_page(request, form=PlanForm(user=user), plan=None)
    done = _save(
        request,
        PlanForm(request.POST, user=user),
        lambda f: services.plan_create(by=user, **f.service_data()),
        saved="The plan {} was added: now give it its tactics.",
        url_name="planning:plan_edit",
    )
    return done.redirect or _plan_page(request, form=done.form, plan=None, status=400)


@require_http_methods(FORM_METHODS)
@login_required
def plan_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user, plan = _plan_keeper(request, pk)
    if request.method != "POST":
        form = PlanForm(initial=PlanForm.initial_for(plan), user=user, editing=True)
        return _plan_page(request, form=form, plan=plan)
    done = _save(
        request,
        PlanForm(request.POST, user=user, editing=True),
        lambda f: services.plan_update(
            plan=plan, by=user, expected_updated_at=f.cleaned_data["version"], data=f.service_data()
        ),
        saved="The plan {} was saved.",
        url_name="planning:plan_edit",
        stale=lambda: PlanForm(
            _stale_data(request, TacticalPlan.objects.get(pk=pk)),
            user=user,
            editing=True,
        ),
    )
    plan = TacticalPlan.objects.select_related("team", "strategy").get(pk=pk)
    return done.redirect or _plan_page(request, form=done.form, plan=plan, status=done.status)


# --- tactics ----------------------------------------------------------------------------


def _tactic_page(
    request: HttpRequest,
    *,
    form: TacticForm,
    plan: TacticalPlan,
    tactic: Tactic | None,
    status: int = 200,
) -> HttpResponse:
    context = {"form": form, "plan": plan, "tactic": tactic, "shapes": Shape.choices}
    return render(request, "planning/edit_tactic.html", context, status=status)


@require_http_methods(FORM_METHODS)
@login_required
def tactic_new(request: HttpRequest, plan_pk: int) -> HttpResponse:
    """A new tactic of the shape chosen (?shape=, recurring unless said): its form shows
    that shape's fields only."""
    user, plan = _plan_keeper(request, plan_pk)
    if request.method != "POST":
        shape = shape_of(request.GET.get("shape"), Shape.RECURRING)
        form = TacticForm(initial={"shape": shape}, shape=shape, plan=plan)
        return _tactic_page(request, form=form, plan=plan, tactic=None)
    form = TacticForm(
        request.POST, shape=shape_of(request.POST.get("shape"), Shape.RECURRING), plan=plan
    )
    if form.is_valid():
        try:
            tactic = services.tactic_create(plan=plan, by=user, data=form.service_data())
        except NotAllowed:
            raise PermissionDenied from None
        except InvalidInput as error:
            refusal_show(form, error, TacticForm.ALIASES)
        else:
            messages.success(request, f"The tactic {tactic} was added to {plan}.")
            return redirect("planning:plan_edit", pk=plan.pk)
    return _tactic_page(request, form=form, plan=plan, tactic=None, status=400)


@require_http_methods(FORM_METHODS)
@login_required
def tactic_edit(request: HttpRequest, plan_pk: int, pk: int) -> HttpResponse:
    """Edit a tactic; ?shape= shows it in another shape, whose fields then replace the old."""
    user, plan = _plan_keeper(request, plan_pk)
    tactic = get_object_or_404(Tactic, pk=pk, plan=plan)
    if request.method != "POST":
        shape = shape_of(request.GET.get("shape"), tactic.shape)
        initial = {**TacticForm.initial_for(tactic), "shape": shape}
        form = TacticForm(initial=initial, shape=shape, editing=True, plan=plan)
        return _tactic_page(request, form=form, plan=plan, tactic=tactic)
    shape = shape_of(request.POST.get("shape"), tactic.shape)
    form = TacticForm(request.POST, shape=shape, editing=True, plan=plan)
    status = 400
    if form.is_valid():
        try:
            tactic = services.tactic_update(
                tactic=tactic,
                by=user,
                expected_updated_at=form.cleaned_data["version"],
                data=form.service_data(),
            )
        except NotAllowed:
            raise PermissionDenied from None
        except StaleVersion as error:
            data = _stale_data(request, Tactic.objects.get(pk=pk))
            form = TacticForm(data, shape=shape, editing=True, plan=plan)
            stale_show(form, error)
            status = 409
        except InvalidInput as error:
            refusal_show(form, error, TacticForm.ALIASES)
        else:
            messages.success(request, f"The tactic {tactic} was saved.")
            return redirect("planning:plan_edit", pk=plan.pk)
    tactic = Tactic.objects.get(pk=pk)
    return _tactic_page(request, form=form, plan=plan, tactic=tactic, status=status)
