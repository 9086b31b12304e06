"""The funnel analytics page: stage to stage, channel by salesperson, sales velocity and
key-person dependence for a period.

It reads `?month=YYYY-MM`, or `?from=YYYY-MM&to=YYYY-MM` (the 12 months to last month by
default), and `?process=ID` (an active process; the new-business one by default). Anyone
signed in sees the company's figures; a person's own row (channel mix, shares of
bookings, pipeline and leads) only that person and whoever manages them
(accounts.permissions.manages): everyone else's are summed into one line.
"""

from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from keel.accounts.models import User
from keel.accounts.permissions import manages
from keel.core.exceptions import InvalidInput
from keel.core.replica import reads_from_replica
from keel.pipeline.models import SalesProcess
from keel.scorecard import funnel_rules as rules
from keel.scorecard.funnel import (
    StageFunnel,
    VelocityMonth,
    channel_mix,
    channel_mix_for_viewer,
    dependence_for_viewer,
    funnel_default_process,
    key_person_dependence,
    stage_funnel,
    velocity_trend,
)
from keel.scorecard.funnel_rules import Period

TREND_MONTHS = 12
ACCENT, WARN, MUTED = "#1f5fbf", "#b4461b", "#9aa5b8"
Config = dict[str, Any]


def _number(value: Decimal | None) -> float | None:
    """A figure for a chart to draw (the tables beside it carry the exact value)."""
    return None if value is None else float(value)


def conversion_chart(funnel: StageFunnel) -> Config:
    """Bars of each stage's conversion, the bottleneck in the warning colour."""
    return {
        "type": "bar",
        "data": {
            "labels": [stage.name for stage in funnel.stages],
            "datasets": [
                {
                    "label": "Went on, % of the deals decided at the stage",
                    "data": [_number(stage.conversion) for stage in funnel.stages],
                    "backgroundColor": [
                        WARN if stage.is_bottleneck else ACCENT for stage in funnel.stages
                    ],
                }
            ],
        },
        "options": {
            "plugins": {"legend": {"display": False}},
            "scales": {
                "y": {"beginAtZero": True, "max": 100, "title": {"display": True, "text": "%"}}
            },
        },
    }


def velocity_chart(trend: list[VelocityMonth], currency: str) -> Config:
    """Sales velocity (money a day) and the win rate (%) month by month."""
    return {
        "type": "line",
        "data": {
            "labels": [f"{month.month:%b %Y}" for month in trend],
            "datasets": [
                {
                    "label": f"Sales velocity ({currency} a day)",
                    "data": [_number(month.velocity) for month in trend],
                    "borderColor": ACCENT,
                    "backgroundColor": ACCENT,
                    "yAxisID": "y",
                },
                {
                    "label": "Win rate (%)",
                    "data": [_number(month.win_rate) for month in trend],
                    "borderColor": MUTED,
                    "backgroundColor": MUTED,
                    "borderDash": [6, 4],
                    "yAxisID": "rate",
                },
            ],
        },
        "options": {
            "scales": {
                "y": {"beginAtZero": True, "position": "left"},
                "rate": {
                    "beginAtZero": True,
                    "max": 100,
                    "position": "right",
                    "grid": {"drawOnChartArea": False},
                },
            },
        },
    }


def _last_month() -> date:
    return rules.add_months(timezone.localdate().replace(day=1), -1)


def _default_period() -> Period:
    last = _last_month()
    return Period(first=rules.add_months(last, 1 - TREND_MONTHS), last=last)


def _process(text: str) -> SalesProcess | None:
    if not text:
        return funnel_default_process()
    process = (
        SalesProcess.objects.filter(pk=text, is_active=True).first() if text.isdigit() else None
    )
    if process is None:
        raise Http404("No such sales process.")
    return process


def _visible_people(viewer: User, ids: set[int]) -> set[int]:
    """Of `ids`, the people whose own figures `viewer` may see: themself and those they manage."""
    people = User.objects.filter(pk__in=ids).only("pk", "team_id")
    return {person.pk for person in people if person.pk == viewer.pk or manages(viewer, person)}


def _presets(last: date) -> list[tuple[str, str]]:
    """Quick periods: (label, query string)."""
    return [
        ("Last month", f"month={last:%Y-%m}"),
        ("Last 3 months", f"from={rules.add_months(last, -2):%Y-%m}&to={last:%Y-%m}"),
        ("Last 12 months", f"from={rules.add_months(last, -11):%Y-%m}&to={last:%Y-%m}"),
    ]


@login_required
@reads_from_replica
def funnel_page(request: HttpRequest) -> HttpResponse:
    viewer = request.user
    assert isinstance(viewer, User)  # noqa: S101 - login_required guarantees it
    query = request.GET
    process = _process(query.get("process", "").strip())
    default = _default_period()
    error = ""
    try:
        period = rules.period_from_query(
            month=query.get("month"), start=query.get("from"), end=query.get("to"), default=default
        )
    except InvalidInput as problem:
        error, period = f"{problem.message} Showing {default} instead.", default

    funnel = stage_funnel(period=period, process=process)
    mix = channel_mix(period=period, process=funnel.process)
    trend = velocity_trend(last_month=period.last, months=TREND_MONTHS, process=funnel.process)
    dependence = key_person_dependence(period=period)
    people = {row.person_id for row in mix.people if row.person_id is not None}
    for part in dependence:
        if part.by_person:
            people |= {row.key for row in part.rows if isinstance(row.key, int)}
    visible = _visible_people(viewer, people)
    context = {
        "period": period,
        "error": error,
        "processes": SalesProcess.objects.filter(is_active=True).order_by("name"),
        "process": funnel.process,
        "presets": _presets(_last_month()),
        "funnel": funnel,
        "mix": channel_mix_for_viewer(mix, visible=visible),
        "trend": trend,
        "dependence": [dependence_for_viewer(part, visible=visible) for part in dependence],
        "pipeline_at": dependence.pipeline_at,
        "currency": settings.KEEL_CURRENCY,
        "conversion_chart": conversion_chart(funnel),
        "velocity_chart": velocity_chart(trend, settings.KEEL_CURRENCY),
    }
    return render(request, "scorecard/funnel.html", context, status=400 if error else 200)
