"""Funnel analytics' arithmetic: periods, conversions, medians, the bottleneck, sales
velocity and concentration (shares and the Herfindahl–Hirschman index).

No ORM here: funnel.py reads the database and calls these with plain values. Fractions
are exact Decimals (0–1); `percent` turns one into the 0–100 figure, to 0.1, that pages show.
"""

import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Generic, TypeVar

from keel.core.exceptions import InvalidInput
from keel.scorecard.rules import MONTHS, month_start, next_month

TENTH = Decimal("0.1")
HUNDREDTH = Decimal("0.01")
TEN_THOUSANDTH = Decimal("0.0001")

# The longest period one page or call covers: a cohort of three years is already history.
MAX_PERIOD_MONTHS = 36
# A stage's conversion or dwell names the bottleneck only when at least this many deals
# back it: two lost deals out of two say little.
MIN_DEALS = 5
# The slowest stage is the bottleneck, over the one with the lowest conversion, only when
# deals sit in it at least this many times its expected days.
SLOW_FACTOR = Decimal(2)


# --- periods ----------------------------------------------------------------------------


def parse_month(text: str, *, name: str = "month") -> date:
    """The first day of the month written YYYY-MM; InvalidInput naming `name` otherwise."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if match is None:
        raise InvalidInput(f"The {name} is a year and month like 2025-10, not {text!r}.")
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= MONTHS:
        raise InvalidInput(f"The {name} {text!r} has no month {month}: months are 01 to 12.")
    if not 1900 <= year <= 2999:
        raise InvalidInput(f"The {name} {text!r} is not a year Keel can show.")
    return date(year, month, 1)


def add_months(month: date, count: int) -> date:
    """The first day of the month `count` months after (or, negative, before) `month`."""
    index = month.year * MONTHS + month.month - 1 + count
    return date(index // MONTHS, index % MONTHS + 1, 1)


@dataclass(frozen=True)
class Period:
    """Whole calendar months, `first` through `last` (both the first day of their month)."""

    first: date
    last: date

    @property
    def months(self) -> int:
        return (self.last.year - self.first.year) * MONTHS + self.last.month - self.first.month + 1

    @property
    def end(self) -> date:
        """The first day after the period."""
        return next_month(self.last)

    def __str__(self) -> str:
        if self.first == self.last:
            return f"{self.first:%B %Y}"
        return f"{self.first:%B %Y} – {self.last:%B %Y}"


def period_of(*, first: date, last: date) -> Period:
    first, last = month_start(first), month_start(last)
    if last < first:
        raise InvalidInput(f"The period ends ({last:%Y-%m}) before it begins ({first:%Y-%m}).")
    period = Period(first=first, last=last)
    if period.months > MAX_PERIOD_MONTHS:
        raise InvalidInput(
            f"A period is at most {MAX_PERIOD_MONTHS} months; "
            f"{first:%Y-%m} to {last:%Y-%m} is {period.months}."
        )
    return period


def period_from_query(
    *, month: str | None, start: str | None, end: str | None, default: Period
) -> Period:
    """The period a page asks for: `month`, or `start` and `end` (YYYY-MM), or `default`."""
    if month:
        if start or end:
            raise InvalidInput(
                "Ask for one month, or a period from one month to another, not both."
            )
        first = parse_month(month)
        return period_of(first=first, last=first)
    if start or end:
        if not (start and end):
            raise InvalidInput("A period needs both its first month (from) and its last (to).")
        return period_of(first=parse_month(start, name="from"), last=parse_month(end, name="to"))
    return default


def months_ending(last: date, count: int) -> list[date]:
    """The `count` months ending with `last`'s month, oldest first."""
    if count < 1:
        raise InvalidInput(f"A trend covers at least one month, not {count}.")
    last = month_start(last)
    return [add_months(last, offset) for offset in range(1 - count, 1)]


# --- ratios -----------------------------------------------------------------------------


def fraction(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    """`part` ÷ `whole`, or None when there is nothing to divide by."""
    if not whole:
        return None
    return Decimal(part) / Decimal(whole)


def percent(value: Decimal | None) -> Decimal | None:
    """A fraction as a percentage to 0.1 (half to even), None stays None."""
    if value is None:
        return None
    return (value * 100).quantize(TENTH, rounding=ROUND_HALF_EVEN)


def rounded(value: Decimal | None, step: Decimal) -> Decimal | None:
    return None if value is None else value.quantize(step, rounding=ROUND_HALF_EVEN)


def median(values: Sequence[Decimal]) -> Decimal | None:
    """The middle value; the mean of the two middle ones for an even count; None if none."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


# --- stage to stage -----------------------------------------------------------------------


@dataclass(frozen=True)
class StageCount:
    reached: int
    went_on: int
    still_open: int


def stage_counts(*, furthest: Mapping[tuple[int, bool], int], stages: int) -> list[StageCount]:
    """Reached, went on and still there for each of `stages` open stages, in order.

    `furthest` counts the cohort's deals by (the furthest stage each reached, whether it is
    still open): 0 to `stages` - 1 are the open stages, `stages` is won. A deal reached
    every stage up to its furthest (a skipped stage counts as passed: a forward move checks
    the exit criteria of the stages it skips); it went on from each stage before its
    furthest; an open deal is still deciding at its furthest stage.
    """
    counts = []
    for index in range(stages):
        counts.append(
            StageCount(
                reached=sum(n for (f, _), n in furthest.items() if f >= index),
                went_on=sum(n for (f, _), n in furthest.items() if f > index),
                still_open=sum(n for (f, is_open), n in furthest.items() if f == index and is_open),
            )
        )
    return counts


def conversion(*, went_on: int, dropped: int) -> Decimal | None:
    """The share of the deals decided at a stage that went on: went on ÷ (went on + dropped)."""
    return fraction(went_on, went_on + dropped)


@dataclass(frozen=True)
class StageFlow:
    """One open stage of a cohort: who reached it, went on, dropped out, and how long they sat."""

    name: str
    expected_days: int | None
    reached: int
    went_on: int
    still_open: int
    median_days: Decimal | None  # over the stints that ended
    stints: int  # the ended stints behind the median

    @property
    def dropped(self) -> int:
        return self.reached - self.went_on - self.still_open

    @property
    def decided(self) -> int:
        return self.went_on + self.dropped

    @property
    def conversion(self) -> Decimal | None:
        return conversion(went_on=self.went_on, dropped=self.dropped)

    @property
    def dwell_ratio(self) -> Decimal | None:
        """The median days over the expected days; None without either."""
        if self.median_days is None or not self.expected_days:
            return None
        return self.median_days / self.expected_days


class BottleneckReason(StrEnum):
    CONVERSION = "conversion"
    DWELL = "dwell"


@dataclass(frozen=True)
class Bottleneck:
    stage: str
    reason: BottleneckReason
    text: str  # the why, in words


def _whole_percent(value: Decimal) -> str:
    return f"{(value * 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)}%"


def _days(value: Decimal) -> str:
    shown = value.quantize(TENTH, rounding=ROUND_HALF_EVEN)
    return f"{shown:f}".removesuffix(".0")


def _dwell_words(stage: StageFlow) -> str:
    ratio = stage.dwell_ratio
    assert stage.median_days is not None and ratio is not None  # noqa: S101 - chosen for it
    return (
        f"deals stay {_days(stage.median_days)} days against {stage.expected_days} expected "
        f"({ratio.quantize(TENTH, rounding=ROUND_HALF_EVEN)}×), the longest dwell"
    )


def bottleneck(
    stages: Sequence[StageFlow], *, min_deals: int = MIN_DEALS, slow_factor: Decimal = SLOW_FACTOR
) -> Bottleneck | None:
    """The stage that holds the funnel back, and why.

    Two candidates, each among the stages with at least `min_deals` deals behind the figure:
    the stage with the lowest conversion (below 100%; the earlier on a tie), and the slowest
    one, the stage whose median stay is the longest multiple of its expected days (above 1×;
    the earlier on a tie). The lowest conversion is the bottleneck, unless the slowest stage
    takes at least `slow_factor` times its expected days (or no conversion qualifies): deals
    sitting twice as long as planned hold up everything behind them, even if most go on.
    """
    rates = [
        (rate, index)
        for index, stage in enumerate(stages)
        if (rate := stage.conversion) is not None and rate < 1 and stage.decided >= min_deals
    ]
    ratios = [
        (ratio, -index)
        for index, stage in enumerate(stages)
        if (ratio := stage.dwell_ratio) is not None and ratio > 1 and stage.stints >= min_deals
    ]
    lowest = min(rates, default=None)  # the earlier stage on a tie
    slowest = max(ratios, default=None)
    if slowest is not None:
        slowest = (slowest[0], -slowest[1])

    if slowest is not None and (lowest is None or slowest[0] >= slow_factor):
        stage = stages[slowest[1]]
        words = f"{stage.name}: {_dwell_words(stage)}"
        if lowest is not None and lowest[1] == slowest[1]:
            words += f", and {_whole_percent(lowest[0])} go on, the lowest"
        return Bottleneck(stage=stage.name, reason=BottleneckReason.DWELL, text=words)
    if lowest is not None:
        stage = stages[lowest[1]]
        words = f"{stage.name}: {_whole_percent(lowest[0])} go on, the lowest"
        if slowest is not None and slowest[1] == lowest[1]:
            words += f", and {_dwell_words(stage)}"
        return Bottleneck(stage=stage.name, reason=BottleneckReason.CONVERSION, text=words)
    return None


# --- velocity ---------------------------------------------------------------------------


def sales_velocity(
    *,
    open_deals: int | None,
    win_rate: Decimal | None,
    average_deal_size: Decimal | None,
    cycle_days: Decimal | None,
) -> Decimal | None:
    """open deals × win rate (a fraction) × average deal size ÷ average cycle in days.

    The money the pipeline turns into bookings per day at the current pace. None when a
    factor is missing or the cycle is not above zero days.
    """
    if open_deals is None or win_rate is None or average_deal_size is None:
        return None
    if cycle_days is None or cycle_days <= 0:
        return None
    return Decimal(open_deals) * win_rate * average_deal_size / cycle_days


# --- concentration --------------------------------------------------------------------

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Share(Generic[K]):
    key: K
    value: Decimal
    share: Decimal | None  # of the total, a fraction; None when the total is zero


@dataclass(frozen=True)
class Concentration(Generic[K]):
    """How a total splits between holders (people, sources), largest first."""

    shares: list[Share[K]]
    total: Decimal
    hhi: Decimal | None  # the sum of the squared shares, 0–1; None when the total is zero
    threshold: Decimal

    @property
    def top(self) -> Share[K] | None:
        return self.shares[0] if self.shares and self.shares[0].share is not None else None

    @property
    def over(self) -> bool:
        """Whether one holder has more than `threshold` of the total."""
        top = self.top
        return top is not None and top.share is not None and top.share > self.threshold


def hhi(shares: Sequence[Decimal]) -> Decimal:
    """The Herfindahl–Hirschman index: the sum of the squared shares (fractions), 0–1.

    1 is one holder with everything; n equal holders make 1/n. ×10,000 gives the points
    competition authorities quote.
    """
    return sum((share * share for share in shares), Decimal(0))


def concentration(values: Mapping[K, Decimal | int], *, threshold: Decimal) -> Concentration[K]:
    """Each holder's share of the total and the index over them (ties keep their order)."""
    total = sum((Decimal(v) for v in values.values()), Decimal(0))
    shares = [Share(key=k, value=Decimal(v), share=fraction(v, total)) for k, v in values.items()]
    shares.sort(key=lambda s: -s.value)
    index = hhi([s.share for s in shares if s.share is not None]) if total else None
    return Concentration(shares=shares, total=total, hhi=index, threshold=threshold)
