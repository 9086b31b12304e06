"""My job: a person's three questions (job.py), their manager's view of the team, and
the check-ins and trade-off rule a manager writes.

GET /job/ is the signed-in person's page, /job/<id>/ someone else's (their manager's
and the owner's to open: access.can_view_job), ?month=YYYY-MM for another month.
/job/team/ lists the people the viewer manages, each with the month's work.
"""

from dataclasses import dataclass
from datetime import date, datetime

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from keel.accounts.models import User
from keel.core.exceptions import InvalidInput
from keel.planning import rules
from keel.planning.access import (
    can_view_job,
    can_write_check_in,
    check_ins_visible,
    people_managed,
)
from keel.planning.checkin_services import check_in_reply, check_in_write, trade_off_set
from keel.planning.job import job
from keel.planning.models import Occurrence
from keel.planning.sla import SlaCounts, sla_counts
from keel.scorecard import rules as scorecard_rules
from keel.scorecard.selectors import month_bounds


@dataclass(frozen=True)
class TeamRow:
    person: User
    counts: SlaCounts
    check_in: datetime | None  # the last one the viewer may read

    @property
    def on_track(self) -> bool:
        return rules.on_track(on_time_rate=self.counts.on_time_rate)


class CheckInForm(forms.Form):
    prefix = "check_in"
    text = forms.CharField(
        label="Check-in", max_length=4000, widget=forms.Textarea(attrs={"rows": 4})
    )


class ReplyForm(forms.Form):
    reply = forms.CharField(
        label="Your answer", max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )


class TradeOffForm(forms.Form):
    prefix = "trade_off"
    text = forms.CharField(
        label="Rule for trade-offs",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="How to weigh the work when it does not all fit.",
    )


def _month(request: HttpRequest, person: User) -> tuple[date, str]:
    today = timezone.localtime(timezone.now(), person.zone).date()
    asked = request.GET.get("month", "")
    if not asked:
        return scorecard_rules.month_start(today), ""
    try:
        return scorecard_rules.month_parse(asked), ""
    except ValueError as error:
        return scorecard_rules.month_start(today), f"{error} Showing this month."


def _person(request: HttpRequest, person_id: int | None) -> User:
    user: User = request.user  # type: ignore[assignment]
    if person_id is None:
        return user
    person = get_object_or_404(User.objects.select_related("team"), pk=person_id)
    if not can_view_job(user, person):
        raise PermissionDenied(
            f"You may not see {person}'s job page: it is shown to them, "
            "whoever manages them and the owner."
        )
    return person


@require_safe
@login_required
def job_page(request: HttpRequest, person_id: int | None = None) -> HttpResponse:
    person = _person(request, person_id)
    user: User = request.user  # type: ignore[assignment]
    month, problem = _month(request, person)
    if problem:
        messages.warning(request, problem)
    found = job(person=person, month=month, viewer=user)
    mine = person.pk == user.pk
    with timezone.override(person.zone):  # their days and due times, as the page says
        return render(
            request,
            "planning/job.html",
            {
                "section": "job",
                "job": found,
                "mine": mine,
                "manages": can_write_check_in(user, person),
                "check_in_form": CheckInForm(),
                "reply_form": ReplyForm(),
                "trade_off_form": TradeOffForm(
                    initial={"text": found.trade_off.text if found.trade_off else ""}
                ),
                "previous": scorecard_rules.previous_month(month),
                "next": scorecard_rules.next_month(month),
                "on_time_target": rules.ON_TIME_TARGET,
                "team_view": people_managed(user).exists(),
            },
        )


@require_safe
@login_required
def team_page(request: HttpRequest) -> HttpResponse:
    """Each person the viewer manages: the month's work by state, late now, last check-in."""
    user: User = request.user  # type: ignore[assignment]
    people = list(people_managed(user).select_related("team").order_by("team__name", "first_name"))
    if not people:
        raise PermissionDenied("You manage nobody: the team view is for managers and the owner.")
    month, problem = _month(request, user)
    if problem:
        messages.warning(request, problem)
    now = timezone.now()
    start, end = month_bounds(month)
    ids = [p.pk for p in people]
    counts = {
        key[0]: c
        for key, c in sla_counts(
            occurrences=Occurrence.objects.filter(
                person_id__in=ids, due_at__gte=start, due_at__lt=end
            ),
            now=now,
            by=["person"],
        ).items()
    }
    last_check_in = dict(
        check_ins_visible(user)
        .filter(person_id__in=ids)
        .order_by()
        .values("person")
        .annotate(last=Max("written_at"))
        .values_list("person", "last")
    )
    rows: list[TeamRow] = []
    idle: list[User] = []
    for person in people:
        c = counts.get(person.pk)
        if c is None or not c.total:
            idle.append(person)
            continue
        rows.append(TeamRow(person, c, last_check_in.get(person.pk)))
    rows.sort(key=lambda r: (r.on_track, r.counts.on_time_rate or 0, str(r.person)))
    return render(
        request,
        "planning/team.html",
        {
            "section": "job",
            "rows": rows,
            "idle": idle,
            "month": month,
            "previous": scorecard_rules.previous_month(month),
            "next": scorecard_rules.next_month(month),
            "on_time_target": rules.ON_TIME_TARGET,
        },
    )


def _errors(form: forms.Form) -> str:
    return "; ".join(str(e) for errors in form.errors.values() for e in errors)


def _back(person: User, user: User) -> str:
    if person.pk == user.pk:
        return reverse("planning:job")
    return reverse("planning:job_of", args=[person.pk])


@require_POST
@login_required
def check_in_new(request: HttpRequest, person_id: int) -> HttpResponseBase:
    user: User = request.user  # type: ignore[assignment]
    person = _person(request, person_id)
    if not can_write_check_in(user, person):
        raise PermissionDenied(f"You may not write check-ins for {person}: their manager does.")
    form = CheckInForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The check-in was not saved: " + _errors(form))
    else:
        try:
            check_in_write(person=person, by=user, text=form.cleaned_data["text"])
            messages.success(request, f"Check-in saved; {person} can read and answer it.")
        except InvalidInput as error:
            messages.error(request, str(error))
    return redirect(_back(person, user) + "#check-ins")


@require_POST
@login_required
def check_in_answer(request: HttpRequest, pk: int) -> HttpResponseBase:
    user: User = request.user  # type: ignore[assignment]
    check_in = get_object_or_404(check_ins_visible(user).select_related("person"), pk=pk)
    if check_in.person_id != user.pk:
        raise PermissionDenied(f"Only {check_in.person} may answer a check-in written for them.")
    form = ReplyForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Your answer was not saved: " + _errors(form))
    else:
        try:
            check_in_reply(check_in=check_in, by=user, reply=form.cleaned_data["reply"])
            messages.success(request, "Your answer is saved.")
        except InvalidInput as error:
            messages.error(request, str(error))
    return redirect(reverse("planning:job") + "#check-ins")


@require_POST
@login_required
def trade_off_save(request: HttpRequest, person_id: int) -> HttpResponseBase:
    user: User = request.user  # type: ignore[assignment]
    person = _person(request, person_id)
    if not can_write_check_in(user, person):
        raise PermissionDenied(f"You may not set {person}'s trade-off rule: their manager does.")
    form = TradeOffForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The rule was not saved: " + _errors(form))
    else:
        try:
            trade_off_set(person=person, by=user, text=form.cleaned_data["text"])
            messages.success(request, f"{person}'s rule for trade-offs is saved.")
        except InvalidInput as error:
            messages.error(request, str(error))
    return redirect(_back(person, user) + "#counts")
