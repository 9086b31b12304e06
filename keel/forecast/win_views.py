"""The win model's report page: its backtest next to the baselines, and its calibration.

Managers and the owner read it (it names how each salesperson's deals fare); everyone
who can see a deal sees that deal's probability on the deal's own page.
"""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from keel.accounts.models import User
from keel.accounts.permissions import is_manager
from keel.core.replica import reads_from_replica
from keel.forecast.win_rules import MIN_CLOSED_DEALS, MIN_EACH_OUTCOME, WINDOW_DAYS, column_words
from keel.forecast.win_selectors import win_model_active
from keel.pipeline.models import SalesProcess

# The methods' colours on the reliability diagram: the model, then the two baselines.
COLORS = {"model": "#2f6fdf", "stage_default": "#9aa5b8", "naive_bayes": "#c2410c"}
INK = "#1f2a44"


def reliability_chart(methods: list[dict[str, Any]]) -> dict[str, Any]:
    """Predicted against observed, decile by decile, for each method, over the diagonal
    a perfectly calibrated method would follow (a Chart.js configuration)."""
    datasets: list[dict[str, Any]] = [
        {
            "label": "Perfect calibration",
            "data": [{"x": 0, "y": 0}, {"x": 100, "y": 100}],
            "showLine": True,
            "borderColor": INK,
            "borderDash": [4, 4],
            "borderWidth": 1,
            "pointRadius": 0,
        }
    ]
    for method in methods:
        color = COLORS.get(method["key"], INK)
        datasets.append(
            {
                "label": method["label"],
                "data": [
                    {"x": round(100 * d["predicted"], 1), "y": round(100 * d["observed"], 1)}
                    for d in method["deciles"]
                ],
                "showLine": True,
                "borderColor": color,
                "backgroundColor": color,
            }
        )
    axis = {"min": 0, "max": 100, "ticks": {"stepSize": 20}}
    return {
        "type": "scatter",
        "data": {"datasets": datasets},
        "options": {
            "scales": {
                "x": {**axis, "title": {"display": True, "text": "Predicted chance to win (%)"}},
                "y": {**axis, "title": {"display": True, "text": "Share actually won (%)"}},
            },
            "plugins": {"legend": {"position": "bottom"}},
        },
    }


def _deciles(methods: list[dict[str, Any]]) -> list[list[dict[str, Any] | None]]:
    """Row i: each method's i-th decile (or None), for the table beside the chart."""
    length = max((len(m["deciles"]) for m in methods), default=0)
    return [
        [m["deciles"][i] if i < len(m["deciles"]) else None for m in methods] for i in range(length)
    ]


@login_required
@reads_from_replica
def model_report(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 - login_required guarantees it
    if not is_manager(user):
        raise PermissionDenied("The win model's report is for managers and the owner.")
    model = win_model_active()
    report: dict[str, Any] = model.report if model is not None else {}
    methods: list[dict[str, Any]] = report.get("methods", [])
    strongest = report.get("strongest", [])
    if strongest:
        processes = dict(SalesProcess.objects.values_list("pk", "name"))
        owners = [c["column"].removeprefix("owner=") for c in strongest]
        people = User.objects.filter(pk__in=[int(o) for o in owners if o.isdigit()])
        names = {u.pk: u.get_full_name() or u.username for u in people}
        window = int(report.get("snapshots", {}).get("window_days", WINDOW_DAYS))
        strongest = [
            {
                **c,
                "words": column_words(
                    c["column"], processes=processes, names=names, window_days=window
                ),
            }
            for c in strongest
        ]
    context = {
        "strongest": strongest,
        "model": model,
        "report": report,
        "methods": methods,
        "best_brier": min((m["brier"] for m in methods), default=None),
        "deciles": _deciles(methods),
        "chart": reliability_chart(methods) if methods else None,
        "min_closed": MIN_CLOSED_DEALS,
        "min_each": MIN_EACH_OUTCOME,
    }
    return render(request, "forecast/model.html", context)
