"""The library's reports on one page: usage, unused pieces, gaps and effectiveness.

Who reads them: the library's keepers (marketers, sales managers, the owner) and viewers,
who read everything. Salespeople, specialists and experts get 403: the figures cover
every deal of the business, beyond the ones they may see. A fixed number of queries,
whatever the size of the library (collateral/reports.py).
"""

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from keel.accounts.models import User
from keel.collateral.access import can_read_reports
from keel.collateral.reports import (
    DEFAULT_UNUSED_DAYS,
    collateral_effectiveness,
    collateral_gaps,
    collateral_unused,
    collateral_usage,
)
from keel.core.replica import reads_from_replica
from keel.scorecard.selectors import month_bounds

MONTH_CHOICES = (1, 3, 6, 12, 24)
DAY_CHOICES = (30, 60, 90, 180, 365)


def _choice(text: str | None, choices: tuple[int, ...], default: int) -> int:
    try:
        value = int(text or "")
    except ValueError:
        return default
    return value if value in choices else default


@require_safe
@login_required
@reads_from_replica
def report_overview(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 - login_required guarantees it
    if not can_read_reports(user):
        raise PermissionDenied("Marketers, sales managers, the owner and viewers read these.")
    months = _choice(request.GET.get("months"), MONTH_CHOICES, 3)
    days = _choice(request.GET.get("days"), DAY_CHOICES, DEFAULT_UNUSED_DAYS)
    today = timezone.localdate()
    first = today.replace(day=1)
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    start, _ = month_bounds(first)
    _, end = month_bounds(today)
    context = {
        "months": months,
        "days": days,
        "month_choices": MONTH_CHOICES,
        "day_choices": DAY_CHOICES,
        "since": first,
        "usage": collateral_usage(start=start, end=end),
        "unused": collateral_unused(days=days),
        "gaps": collateral_gaps(),
        "effectiveness": collateral_effectiveness(start=start, end=end),
    }
    return render(request, "collateral/report_overview.html", context)
