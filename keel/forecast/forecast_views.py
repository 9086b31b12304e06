"""The forecast page and its backtest.

`?period=` a month (2026-12), a quarter (2027Q1) or a year (2027), the current quarter by
default; `?who=team:ID` or `person:ID` (or `?team=ID`, `?person=ID`) for a team's or a
person's forecast, which only those allowed may open (scorecard.access.can_view_scope);
anyone signed in sees the company's. The simulation runs once per request, with as many
simulations as fit the page's budget (forecast_selectors.page_simulations; the command
runs 10,000). The backtest, company-wide, loads after the page (htmx) from its own URL:
it runs 16 forecasts (1,000 simulations each), so it is kept in the cache for the day.
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import numpy as np
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from keel.accounts.models import User
from keel.core.replica import reads_from_replica
from keel.forecast.backtest import Backtest
from keel.forecast.forecast_selectors import (
    Forecast,
    backtest,
    forecast,
    forecast_rows,
    scope_owners,
)
from keel.forecast.simulate import Period, PeriodKind, period_of, period_parse
from keel.forecast.transitions import DEFAULTS
from keel.scorecard.selectors import COMPANY, Scope, scope_choices
from keel.scorecard.views import scope_asked
from keel.web.http import is_htmx

BACKTEST_SIMULATIONS = 1_000  # per check on the page (the command runs 2,000)
ACCENT, BAND, GOAL = "#2f6fdf", "rgba(47, 111, 223, 0.18)", "#c2410c"


@dataclass(frozen=True)
class Asked:
    """What the page was asked for, checked."""

    user: User
    period: Period
    scope: Scope
    error: str

    def query(self, **changes: object) -> str:
        params: dict[str, object] = {"period": self.period.code}
        if self.scope.team is not None:
            params["team"] = self.scope.team.pk
        if self.scope.person is not None:
            params["person"] = self.scope.person.pk
        params.update(changes)
        return urlencode({k: v for k, v in params.items() if v is not None})


def _read(request: HttpRequest) -> Asked:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 - login_required guarantees it
    query = request.GET
    error = ""
    period = period_of(timezone.localdate())
    if query.get("period", "").strip():
        try:
            period = period_parse(query["period"])
        except ValueError as problem:
            error = f"{problem} Showing {period.label}."
    scope, mixed = scope_asked(user=user, query=query, what="forecast")
    return Asked(user=user, period=period, scope=scope, error=error or mixed)


@dataclass(frozen=True)
class MonthFigures:
    month: Any
    p10: float
    p50: float
    p90: float
    mean: float
    goal: Any
    in_period: bool


def _months(result: Forecast, owners: set[int] | None, company: bool) -> list[MonthFigures]:
    monthly = result.monthly(owners)
    p10, p50, p90 = np.percentile(monthly, [10, 50, 90], axis=0)
    mean = monthly.mean(axis=0)
    return [
        MonthFigures(
            month=month,
            p10=float(p10[i]),
            p50=float(p50[i]),
            p90=float(p90[i]),
            mean=float(mean[i]),
            goal=result.goals.get(month) if company else None,
            in_period=month in result.period.months,
        )
        for i, month in enumerate(result.months)
    ]


def fan_chart(months: list[MonthFigures], *, label: str) -> dict[str, Any]:
    """Chart.js: the P10–P90 band filled between its two edges, the P50 line over it, and
    the goal's monthly target dashed where there is one."""
    labels = [m.month.strftime("%b %Y") for m in months]
    datasets: list[dict[str, Any]] = [
        {
            "label": "P10",
            "data": [round(m.p10) for m in months],
            "borderColor": BAND,
            "backgroundColor": BAND,
            "pointRadius": 0,
            "fill": False,
        },
        {
            "label": "P90 (the band: P10–P90)",
            "data": [round(m.p90) for m in months],
            "borderColor": BAND,
            "backgroundColor": BAND,
            "pointRadius": 0,
            "fill": "-1",
        },
        {
            "label": f"{label}: P50",
            "data": [round(m.p50) for m in months],
            "borderColor": ACCENT,
            "backgroundColor": ACCENT,
            "fill": False,
        },
    ]
    if any(m.goal is not None for m in months):
        datasets.append(
            {
                "label": "Goal",
                "data": [None if m.goal is None else float(m.goal) for m in months],
                "borderColor": GOAL,
                "backgroundColor": GOAL,
                "borderDash": [6, 4],
                "pointRadius": 0,
                "fill": False,
            }
        )
    return {
        "type": "line",
        "data": {"labels": labels, "datasets": datasets},
        "options": {
            "interaction": {"mode": "index", "intersect": False},
            "scales": {"y": {"beginAtZero": True}},
        },
    }


@login_required
@reads_from_replica
def forecast_page(request: HttpRequest) -> HttpResponse:
    asked = _read(request)
    result = forecast(period=asked.period)
    owners = scope_owners(asked.scope)
    company = asked.scope == COMPANY
    months = _months(result, owners, company)
    teams, people = scope_choices(asked.user)
    period = asked.period
    this_quarter = period_of(timezone.localdate())
    return render(
        request,
        "forecast/forecast.html",
        {
            "asked": asked,
            "result": result,
            "simulations": f"{result.simulations:,}",
            "open_deals": f"{result.open_deals:,}",
            "company": company,
            "total": result.spread(owners),
            "booked": result.booked_so_far(owners),
            "weighted": result.weighted_pipeline(owners),
            "goal": result.goal if company else None,
            "rows": forecast_rows(result=result, viewer=asked.user, scope=asked.scope),
            "months": months,
            "chart": fan_chart(months, label=asked.scope.label),
            "teams": teams,
            "people": people,
            "before": period.shifted(-1),
            "after": period.shifted(1),
            "previous": asked.query(period=period.shifted(-1).code),
            "next": asked.query(period=period.shifted(1).code),
            "choices": [
                ("This month", period_of(timezone.localdate(), PeriodKind.MONTH)),
                ("This quarter", this_quarter),
                ("Next quarter", this_quarter.shifted(1)),
                ("This year", period_of(timezone.localdate(), PeriodKind.YEAR)),
            ],
            "scope_query": asked.query(period=None),
            "fallbacks": _fallbacks(result),
        },
    )


def _fallbacks(result: Forecast) -> list[str]:
    """The stages whose law is their defaults: too little history to learn from."""
    laws = result.laws
    if laws is None:
        return []
    found = []
    for code in range(laws.space.n):
        states = range(code * laws.bands, (code + 1) * laws.bands)
        if all(laws.source[s] == DEFAULTS for s in states):
            found.append(laws.space.label(code))
    return found


@login_required
@reads_from_replica
def forecast_backtest(request: HttpRequest) -> HttpResponse:
    """The backtest's fragment (the page loads it with htmx), or a page of its own."""
    result: Backtest = backtest(simulations=BACKTEST_SIMULATIONS)
    template = "forecast/forecast_backtest.html"
    if not is_htmx(request):
        template = "forecast/forecast_backtest_page.html"
    return render(request, template, {"backtest": result})
