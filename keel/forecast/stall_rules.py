"""When an open deal has stalled, and why: pure rules, no ORM.

How long a stage usually takes is learned from the stage history with survival analysis.
Each stint in a stage (entering it to leaving it) of a deal that went on to win is a
complete observation of how long winners stay there; the current stint of an open deal
still in the stage is right-censored at now (it has lasted at least that long). Stints of
lost deals, and the finished stints of deals still open, tell nothing about winners and
are left out. The Kaplan–Meier estimate of that distribution (SciPy's `ecdf` of
`CensoredData`) gives the stall threshold of a stage: its `percentile` (80 by default),
rounded up to whole days. With too few completed stints, or when the estimate never
reaches the percentile, the stage's expected days stand in, and the reason says so.

A deal is stalled when any of these holds (whole days, as a person counts them):

* dwell: the whole days it has been in its stage exceed the stage's threshold;
* idle: nothing was logged on it (nor was it created) for `idle_days` whole days or more;
* overdue: its expected close date is before today.
"""

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray
from scipy.stats import CensoredData, ecdf

# The threshold of a stage without expected days when its history is too short.
DEFAULT_STAGE_DAYS = 14
DAY_SECONDS = 86_400.0


class Why(StrEnum):
    DWELL = "dwell"
    IDLE = "idle"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class Threshold:
    """How many whole days a deal may spend in a stage before it counts as stalled."""

    stage: str
    days: int
    percentile: int
    completed: int  # the won deals' stints the estimate rests on
    censored: int  # the open deals' stints still running
    learned: bool  # False: the stage's expected days (or the default) stood in
    expected_days: int | None = None

    @property
    def basis(self) -> str:
        """Where the number comes from, as the reasons quote it."""
        if self.learned:
            return f"{self.percentile}% of won deals left it within {self.days}"
        if self.expected_days:
            return f"too little history: the stage's expected {_days(self.days)}"
        return f"too little history and no expected days: the default {_days(self.days)}"


@dataclass(frozen=True)
class Reason:
    why: Why
    text: str


@dataclass(frozen=True)
class Stints:
    """Stints as parallel arrays: the key (an index into the caller's stage keys), the
    days spent, and whether the stint ended (a won deal left) or is censored (still open)."""

    key: NDArray[np.int64]
    days: NDArray[np.float64]
    ended: NDArray[np.bool_]


def _days(n: int) -> str:
    return f"{n} day{'s' if n != 1 else ''}"


def stints_from_history(
    *,
    deal: NDArray[np.int64],
    key: NDArray[np.int64],
    at: NDArray[np.float64],
    won: NDArray[np.bool_],
    still_open: NDArray[np.bool_],
    open_stage: NDArray[np.bool_],
    now: float,
) -> Stints:
    """The stints in open stages from stage changes sorted by deal, then time.

    One row per change: the deal, the key of the stage it entered (-1 for none), when (in
    seconds), whether that deal is now won or still open, and whether the stage entered is
    an open one. A row followed by another of the same deal is a finished stint; the last
    row of an open deal is its current stint, censored at `now`.
    """
    n = len(deal)
    followed = np.zeros(n, dtype=bool)
    followed[:-1] = deal[1:] == deal[:-1]
    end = np.full(n, now, dtype=np.float64)
    end[:-1] = np.where(followed[:-1], at[1:], now)
    relevant = open_stage & (key >= 0)
    ended = relevant & followed & won
    censored = relevant & ~followed & still_open
    keep = ended | censored
    days = np.maximum(end[keep] - at[keep], 0.0) / DAY_SECONDS
    return Stints(key=key[keep], days=days, ended=ended[keep])


def dwell_threshold(
    *,
    stage: str,
    days: NDArray[np.float64],
    ended: NDArray[np.bool_],
    percentile: int,
    min_completed: int,
    expected_days: int | None,
) -> Threshold:
    """A stage's threshold: the Kaplan–Meier `percentile` of the winners' time in it.

    `days` and `ended` are the stage's stints (ended: a won deal's finished stint;
    otherwise an open deal's current one, right-censored). With fewer than
    `min_completed` finished stints, or an estimate that never reaches the percentile
    (too much of the history is still running), the stage's expected days stand in.
    """
    completed = int(ended.sum())
    censored = len(days) - completed
    if completed >= max(1, min_completed):
        sample = CensoredData(uncensored=days[ended], right=days[~ended])
        cdf = ecdf(sample).cdf
        reached = np.flatnonzero(cdf.probabilities >= percentile / 100 - 1e-9)
        if reached.size:
            at = float(cdf.quantiles[reached[0]])
            return Threshold(
                stage=stage,
                days=max(1, math.ceil(at - 1e-9)),
                percentile=percentile,
                completed=completed,
                censored=censored,
                learned=True,
                expected_days=expected_days,
            )
    return Threshold(
        stage=stage,
        days=expected_days or DEFAULT_STAGE_DAYS,
        percentile=percentile,
        completed=completed,
        censored=censored,
        learned=False,
        expected_days=expected_days,
    )


def _on(day: date, today: date) -> str:
    text = f"{day.day} {day:%B}"
    return text if day.year == today.year else f"{text} {day.year}"


def stall_reasons(
    *,
    stage: str,
    entered: datetime,
    threshold: Threshold | None,
    last_touch: datetime,
    touched: bool,
    idle_days: int,
    expected_close: date | None,
    today: date,
    now: datetime,
) -> list[Reason]:
    """Why an open deal is stalled, one sentence per reason; none when it is not.

    `last_touch` is its latest activity or, if later (or `touched` is False: nothing was
    ever logged), when it was created. `threshold` is None for a stage without one.
    """
    reasons = []
    in_stage = (now - entered).days
    if threshold is not None and in_stage > threshold.days:
        joint = "; " if threshold.learned else " ("
        close = "" if threshold.learned else ")"
        text = f"{_days(in_stage)} in {stage}{joint}{threshold.basis}{close}"
        reasons.append(Reason(Why.DWELL, text))
    idle = (now - last_touch).days
    if idle >= idle_days:
        text = (
            f"no activity for {_days(idle)}"
            if touched
            else f"no activity since it was created {_days(idle)} ago"
        )
        reasons.append(Reason(Why.IDLE, text))
    if expected_close is not None and expected_close < today:
        late = (today - expected_close).days
        text = f"expected to close on {_on(expected_close, today)}, {_days(late)} ago"
        reasons.append(Reason(Why.OVERDUE, text))
    return reasons


def dwell_cutoff(*, now: datetime, threshold: Threshold) -> datetime:
    """Entered its stage at or before this, a deal has spent more than the threshold's
    whole days there: the database-side form of the dwell rule."""
    return now - timedelta(days=threshold.days + 1)


def idle_cutoff(*, now: datetime, idle_days: int) -> datetime:
    """Last touched at or before this, a deal has been idle `idle_days` whole days."""
    return now - timedelta(days=idle_days)
