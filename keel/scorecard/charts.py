"""The scorecard's charts as Chart.js configurations: plain dicts, rendered by json_script.

No ORM: each builder takes figures the selectors computed. Figures go out as floats
because a chart draws them; the tables beside each chart carry the exact values.
"""

from datetime import date
from decimal import Decimal
from typing import Any

from keel.scorecard import rules
from keel.scorecard.models import Goal
from keel.scorecard.selectors import Figures, FunnelStep

Config = dict[str, Any]

INK, ACCENT, GOOD, GOAL, MUTED = "#1f2a44", "#2f6fdf", "#2e9e5b", "#c2410c", "#9aa5b8"


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def funnel_chart(steps: list[FunnelStep]) -> Config:
    """Horizontal bars, Suspect at the top, on a log scale: a funnel spans thousands of
    visitors to a handful of customers. The table beside it carries the figures."""
    return {
        "type": "bar",
        "data": {
            "labels": [step.label for step in steps],
            "datasets": [
                {
                    "label": "This month",
                    "data": [_number(step.value) for step in steps],
                    "backgroundColor": ACCENT,
                }
            ],
        },
        "options": {
            "indexAxis": "y",
            "plugins": {"legend": {"display": False}},
            "scales": {"x": {"type": "logarithmic", "ticks": {"display": False}}},
        },
    }


def ytd_chart(
    *, name: str, unit: str, key: str, months: dict[date, Figures], goal: Goal | None
) -> Config:
    """The year to date against the goal line, January to December.

    A figure that adds up (a count, an amount) is drawn cumulative against the goal's
    running target; a rate or a mean month by month against the goal's level.
    """
    year = max(months).year
    labels = [date(year, n, 1).strftime("%b") for n in range(1, rules.MONTHS + 1)]
    accumulates = rules.accumulates(key=key, unit=unit)
    actual: list[float | None] = []
    total: Decimal | None = Decimal(0)
    for number in range(1, rules.MONTHS + 1):
        value = months.get(date(year, number, 1), {}).get(key)
        if date(year, number, 1) not in months:
            actual.append(None)
        elif accumulates:
            total = None if value is None or total is None else total + value
            actual.append(_number(total))
        else:
            actual.append(_number(value))
    datasets: list[dict[str, Any]] = [
        {
            "label": f"{name}, year to date" if accumulates else name,
            "data": actual,
            "borderColor": ACCENT,
            "backgroundColor": ACCENT,
            "spanGaps": False,
        }
    ]
    if goal is not None:
        terms = {"target": Decimal(goal.target), "phasing": goal.phasing, "weights": goal.weights}
        line = [
            float(rules.ytd_target(**terms, through_month=n)) if accumulates else float(goal.target)
            for n in range(1, rules.MONTHS + 1)
        ]
        datasets.append(
            {
                "label": f"Goal {goal.year}",
                "data": line,
                "borderColor": GOAL,
                "backgroundColor": GOAL,
                "borderDash": [6, 4],
                "pointRadius": 0,
            }
        )
    return {
        "type": "line",
        "data": {"labels": labels, "datasets": datasets},
        "options": {"scales": {"y": {"beginAtZero": True}}},
    }


def trend_chart(*, name: str, key: str, months: dict[date, Figures]) -> Config:
    """A metric month by month (the 12 months to the scorecard's month)."""
    ordered = sorted(months)
    return {
        "type": "bar",
        "data": {
            "labels": [month.strftime("%b %Y") for month in ordered],
            "datasets": [
                {
                    "label": name,
                    "data": [_number(months[month].get(key)) for month in ordered],
                    "backgroundColor": [
                        ACCENT if month == ordered[-1] else MUTED for month in ordered
                    ],
                }
            ],
        },
        "options": {
            "plugins": {"legend": {"display": False}},
            "scales": {"y": {"beginAtZero": True}},
        },
    }
