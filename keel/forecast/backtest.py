"""The forecast's backtest: forecasts made as of past dates against what followed.

Pure: works on a transitions.History, so each forecast sees only what was known on its
date. The stage changes made by then give the deals open then (in the stage they were in,
for as long as they had been) and everything learned (transition laws, creation rates);
a deal's amount and owner are as recorded now, since Keel keeps no history of those.

Checks, company-wide: each of the last `months` complete months forecast from its first
day, and each of the last `quarters` complete quarters from its first day, against the
bookings actually won in it. Reported per kind: the MAPE of the P50 (the mean of
|P50 − actual| ÷ actual, over the checks whose actual is above 0) and the coverage (the
share of checks whose actual fell inside P10–P90; 80% is the nominal rate).
"""

from dataclasses import dataclass
from datetime import date, datetime, tzinfo

import numpy as np

from keel.forecast.simulate import Period, PeriodKind, Spread, forecast_run, period_of, spread
from keel.forecast.transitions import DAY, RATE_DAYS, History, booked_between

MONTHS = 12
QUARTERS = 4
SIMULATIONS = 2_000


def instant(day: date, zone: tzinfo) -> float:
    """Midnight starting `day` in `zone`, in seconds since the epoch."""
    return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()


@dataclass(frozen=True)
class Check:
    """One forecast of a period made on its first day, and the bookings that followed."""

    period: Period
    forecast: Spread
    actual: float
    open_deals: int

    @property
    def inside(self) -> bool:
        return self.forecast.covers(self.actual)

    @property
    def error(self) -> float | None:
        """|P50 − actual| ÷ actual; None when nothing was booked."""
        if self.actual <= 0:
            return None
        return abs(self.forecast.p50 - self.actual) / self.actual


@dataclass(frozen=True)
class Summary:
    kind: PeriodKind
    checks: int
    mape: float | None  # None when no check booked anything
    coverage: float | None  # None without checks


@dataclass(frozen=True)
class Backtest:
    checks: list[Check]
    simulations: int

    def summary(self, kind: PeriodKind) -> Summary:
        mine = [c for c in self.checks if c.period.kind == kind]
        errors = [e for c in mine if (e := c.error) is not None]
        return Summary(
            kind=kind,
            checks=len(mine),
            mape=float(np.mean(errors)) if errors else None,
            coverage=sum(c.inside for c in mine) / len(mine) if mine else None,
        )

    @property
    def summaries(self) -> list[Summary]:
        return [self.summary(kind) for kind in (PeriodKind.MONTH, PeriodKind.QUARTER)]


def backtest_periods(
    *, today: date, months: int = MONTHS, quarters: int = QUARTERS
) -> list[Period]:
    """The last `months` complete months and `quarters` complete quarters before `today`."""
    this_month = period_of(today, PeriodKind.MONTH)
    this_quarter = period_of(today, PeriodKind.QUARTER)
    found = [this_month.shifted(-i) for i in range(months, 0, -1)]
    found += [this_quarter.shifted(-i) for i in range(quarters, 0, -1)]
    return found


def check_period(
    history: History,
    *,
    period: Period,
    zone: tzinfo,
    simulations: int = SIMULATIONS,
    seed: int = 0,
    window_days: int = RATE_DAYS,
) -> Check:
    """Forecast `period` as known at its first instant; compare with what was booked."""
    start, end = instant(period.first, zone), instant(period.end, zone)
    run = forecast_run(
        history,
        at=start,
        edges=np.array([0.0, (end - start) / DAY]),
        simulations=simulations,
        seed=seed,
        window_days=window_days,
    )
    _, amounts = booked_between(history, start=start, end=end)
    return Check(
        period=period,
        forecast=spread(run.totals[:, :, 0].sum(axis=1)),
        actual=float(amounts.sum()),
        open_deals=run.open_deals,
    )


def backtest_run(
    history: History,
    *,
    today: date,
    zone: tzinfo,
    months: int = MONTHS,
    quarters: int = QUARTERS,
    simulations: int = SIMULATIONS,
    seed: int = 0,
    window_days: int = RATE_DAYS,
) -> Backtest:
    """Every check of `backtest_periods`, skipping periods before the first deal."""
    first = float(np.nanmin(history.deal_created)) if history.deal_created.size else None
    checks = [
        check_period(
            history,
            period=period,
            zone=zone,
            simulations=simulations,
            seed=seed,
            window_days=window_days,
        )
        for period in backtest_periods(today=today, months=months, quarters=quarters)
        if first is not None and instant(period.first, zone) > first
    ]
    return Backtest(checks=checks, simulations=simulations)
