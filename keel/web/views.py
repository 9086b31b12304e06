from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from keel.accounts.models import User
from keel.activities.selectors import task_rows
from keel.activities.services import activity_log
from keel.core.exceptions import KeelError
from keel.pipeline.access import deals_editable_by
from keel.pipeline.models import Deal, DealStatus, SalesProcess
from keel.web.board import board_response
from keel.web.forms import DayLogForm
from keel.web.selectors import my_day


@login_required
def pipeline(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    process = request.GET.get("process")
    if process and not (
        process.isdigit() and SalesProcess.objects.filter(pk=process, is_active=True).exists()
    ):
        raise Http404("No such sales process.")
    return board_response(request, user=request.user, query=request.GET)


def _loggable(user: User) -> QuerySet[Deal]:
    """The deals my day's quick log offers: my open ones, soonest to close first."""
    deals = deals_editable_by(user).filter(owner=user, status=DealStatus.OPEN)
    return deals.select_related("company").order_by("expected_close", "id")


@login_required
def today(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    user = request.user
    form = DayLogForm(request.POST or None, deals=_loggable(user))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        deal = data["deal"]
        try:
            activity_log(
                by=user,
                type=data["type"],
                outcome=data["outcome"],
                deal=deal,
                notes=data["notes"],
            )
        except KeelError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Logged on {deal.name}.")
            return redirect("web:today")
    now = timezone.now()
    day = my_day(user=user, now=now)
    rows = task_rows(user=user, tasks=day.tasks)
    context = {"day": day, "rows": rows, "form": form, "now": now}
    return render(request, "web/today.html", context, status=400 if form.errors else 200)
