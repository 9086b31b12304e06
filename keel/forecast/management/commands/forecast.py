import json
from io import StringIO
from typing import Any

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from rich.console import Console
from rich.table import Table

from keel.forecast.backtest import Backtest
from keel.forecast.forecast_selectors import (
    SEED,
    SIMULATIONS,
    Forecast,
    backtest,
    forecast,
    forecast_rows,
    history_load,
    scope_owners,
)
from keel.forecast.simulate import Spread, period_of, period_parse
from keel.forecast.transitions import DEFAULTS, STAGE, Laws
from keel.scorecard.management.commands.scorecard import parse_scope
from keel.scorecard.selectors import COMPANY, Scope

MISSING = "—"
SOURCES = {0: "learned", STAGE: "stage, all sizes", DEFAULTS: "stage defaults"}


def _money(value: float | None) -> str:
    return MISSING if value is None else f"{value:,.0f}"


def _whole(value: object) -> int | None:
    return None if value is None else round(float(str(value)))


def _spread(figures: Spread) -> dict[str, int]:
    return {
        "p10": round(figures.p10),
        "p50": round(figures.p50),
        "p90": round(figures.p90),
        "expected": round(figures.mean),
    }


class Command(BaseCommand):
    help = (
        "The bookings forecast of a period (Monte Carlo over the open pipeline and the deals "
        "expected to be created): P10, P50, P90 and expected value next to the weighted "
        "pipeline and the goal; --backtest: forecasts made on past dates against what "
        "followed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--period", help="2026-12, 2027Q1 or 2027 (default: the current quarter)."
        )
        parser.add_argument("--team", help="A team's forecast (its name).")
        parser.add_argument("--person", help="A person's forecast (their username).")
        parser.add_argument("--simulations", type=int, help=f"Default {SIMULATIONS:,}.")
        parser.add_argument("--seed", type=int, default=SEED)
        parser.add_argument("--format", choices=("table", "json"), default="table")
        parser.add_argument(
            "--learned", action="store_true", help="Also the transitions learned per stage."
        )
        parser.add_argument("--backtest", action="store_true", help="Run the backtest instead.")
        parser.add_argument("--months", type=int, default=12, help="Backtest: months (12).")
        parser.add_argument("--quarters", type=int, default=4, help="Backtest: quarters (4).")

    def handle(self, *args: Any, **options: Any) -> None:
        simulations = options["simulations"]
        if simulations is not None and not 1 <= simulations <= 100_000:
            raise CommandError("--simulations: from 1 to 100,000.")
        if options["backtest"]:
            result = backtest(
                simulations=simulations or 2_000,
                months=options["months"],
                quarters=options["quarters"],
                cached=False,
            )
            output = self._backtest_json if options["format"] == "json" else self._backtest
            self.stdout.write(output(result), ending="")
            return
        try:
            period = (
                period_parse(options["period"])
                if options["period"]
                else period_of(timezone.localdate())
            )
        except ValueError as error:
            raise CommandError(f"--period: {error}") from None
        scope = parse_scope(team=options["team"], person=options["person"])
        result_ = forecast(
            period=period,
            simulations=simulations or SIMULATIONS,
            seed=options["seed"],
            history=history_load(),
        )
        if options["format"] == "json":
            self.stdout.write(self._json(result_, scope, options["learned"]), ending="")
        else:
            self.stdout.write(self._table(result_, scope, options["learned"]), ending="")

    # --- the forecast -------------------------------------------------------------------

    def _figures(self, result: Forecast, scope: Scope) -> dict[str, Any]:
        owners = scope_owners(scope)
        return {
            "booked_so_far": round(result.booked_so_far(owners)),
            "weighted_pipeline": _whole(result.weighted_pipeline(owners)),
            **_spread(result.spread(owners)),
            "goal": _whole(result.goal) if scope == COMPANY else None,
        }

    def _months(self, result: Forecast, scope: Scope) -> list[dict[str, Any]]:
        monthly = result.monthly(scope_owners(scope))
        p10, p50, p90 = np.percentile(monthly, [10, 50, 90], axis=0)
        return [
            {
                "month": f"{month:%Y-%m}",
                "in_period": month in result.period.months,
                "p10": round(p10[i]),
                "p50": round(p50[i]),
                "p90": round(p90[i]),
                "expected": round(monthly[:, i].mean()),
                "goal": _whole(result.goals.get(month)) if scope == COMPANY else None,
            }
            for i, month in enumerate(result.months)
        ]

    def _json(self, result: Forecast, scope: Scope, learned: bool) -> str:
        record: dict[str, Any] = {
            "period": result.period.code,
            "scope": scope.label,
            "as_of": result.as_of.isoformat(),
            "currency": settings.KEEL_CURRENCY,
            "simulations": result.simulations,
            "open_deals": result.open_deals,
            "forecast": self._figures(result, scope),
            "months": self._months(result, scope),
            "rows": [
                {
                    "team" if row.scope.team else "person": row.label,
                    "booked_so_far": round(row.booked),
                    "weighted_pipeline": _whole(row.weighted),
                    **_spread(row.forecast),
                }
                for row in forecast_rows(result=result, viewer=None, scope=scope)
            ],
        }
        if learned and result.laws is not None:
            record["learned"] = self._learned(result.laws)
        return json.dumps(record, indent=2) + "\n"

    def _learned(self, laws: Laws) -> list[dict[str, Any]]:
        found = []
        for state in range(laws.n):
            median, p80 = laws.dwell_quantile(state, 0.5), laws.dwell_quantile(state, 0.8)
            found.append(
                {
                    "state": laws.label(state),
                    "exits": int(laws.exits[state]),
                    "censored": int(laws.censored[state]),
                    "law": SOURCES[int(laws.source[state])],
                    "to": {
                        laws.label(dest): round(p, 4)
                        for dest, p in laws.transition_probabilities(state).items()
                    },
                    "never_left": round(float(laws.tail[state]), 4),
                    "days_median": None if median is None else round(median, 1),
                    "days_p80": None if p80 is None else round(p80, 1),
                }
            )
        return found

    def _table(self, result: Forecast, scope: Scope, learned: bool) -> str:
        text = StringIO()
        console = Console(file=text, width=160)
        console.print(
            f"Bookings forecast {result.period.label} · {scope.label} · "
            f"{settings.KEEL_CURRENCY}, as of {result.as_of:%Y-%m-%d %H:%M}"
        )
        if result.is_past:
            console.print("The period is over: the figures are the bookings won in it.")
        else:
            console.print(
                f"{result.simulations:,} simulations of {result.open_deals:,} open deals "
                "and the deals expected to be created."
            )
        headings = ("Booked so far", "Weighted pipeline", "P10", "P50", "P90", "Expected")
        table = Table("Whose", *headings, "Goal")
        figures = self._figures(result, scope)
        table.add_row(
            scope.label,
            *(
                _money(figures[k])
                for k in ("booked_so_far", "weighted_pipeline", "p10", "p50", "p90", "expected")
            ),
            _money(figures["goal"]),
            style="bold",
        )
        for row in forecast_rows(result=result, viewer=None, scope=scope):
            table.add_row(
                row.label,
                _money(row.booked),
                _money(float(row.weighted)),
                _money(row.forecast.p10),
                _money(row.forecast.p50),
                _money(row.forecast.p90),
                _money(row.forecast.mean),
                MISSING,
            )
        console.print(table)
        months = Table("Month", "P10", "P50", "P90", "Expected", "Goal", title="Month by month")
        for month in self._months(result, scope):
            months.add_row(
                month["month"],
                *(_money(month[k]) for k in ("p10", "p50", "p90", "expected", "goal")),
                style="bold" if month["in_period"] else None,
            )
        console.print(months)
        if learned and result.laws is not None:
            stages = Table(
                "Stage",
                "Exits",
                "Censored",
                "Law",
                "Goes to",
                "Never left",
                "Median days",
                "P80 days",
                title="Learned from the stage history",
            )
            for entry in self._learned(result.laws):
                stages.add_row(
                    entry["state"],
                    str(entry["exits"]),
                    str(entry["censored"]),
                    entry["law"],
                    ", ".join(f"{k} {v:.0%}" for k, v in entry["to"].items()),
                    f"{entry['never_left']:.1%}",
                    MISSING if entry["days_median"] is None else f"{entry['days_median']}",
                    MISSING if entry["days_p80"] is None else f"{entry['days_p80']}",
                )
            console.print(stages)
        return text.getvalue()

    # --- the backtest -------------------------------------------------------------------

    def _backtest(self, result: Backtest) -> str:
        text = StringIO()
        console = Console(file=text, width=160)
        console.print(
            f"Forecast backtest, company-wide, {result.simulations:,} simulations each "
            f"({settings.KEEL_CURRENCY})"
        )
        table = Table("Period", "Open deals", "P10", "P50", "P90", "Actual", "Inside P10–P90")
        for check in result.checks:
            table.add_row(
                check.period.label,
                f"{check.open_deals:,}",
                _money(check.forecast.p10),
                _money(check.forecast.p50),
                _money(check.forecast.p90),
                _money(check.actual),
                "yes" if check.inside else "NO",
            )
        console.print(table)
        for summary in result.summaries:
            if summary.checks:
                mape = MISSING if summary.mape is None else f"{summary.mape:.1%}"
                coverage = MISSING if summary.coverage is None else f"{summary.coverage:.0%}"
                console.print(
                    f"{summary.checks} {summary.kind}s: MAPE of P50 {mape}; "
                    f"inside P10–P90 {coverage} (nominal 80%)"
                )
        if not result.checks:
            console.print("Too little history for a backtest.")
        return text.getvalue()

    def _backtest_json(self, result: Backtest) -> str:
        record = {
            "simulations": result.simulations,
            "currency": settings.KEEL_CURRENCY,
            "checks": [
                {
                    "period": check.period.code,
                    "open_deals": check.open_deals,
                    **_spread(check.forecast),
                    "actual": round(check.actual),
                    "inside": check.inside,
                }
                for check in result.checks
            ],
            "summary": [
                {
                    "kind": s.kind.value,
                    "checks": s.checks,
                    "mape": None if s.mape is None else round(s.mape, 4),
                    "coverage": None if s.coverage is None else round(s.coverage, 4),
                }
                for s in result.summaries
            ],
        }
        return json.dumps(record, indent=2) + "\n"
