"""The scorecard's pure rules: calendar months, goal phasing, what a value may be.

No ORM here: the selectors and services call these with plain values.
"""

import re
from datetime import date
from decimal import Decimal
from enum import StrEnum

MONTHS = 12

# The metrics Keel can compute from its own records; selectors.py defines each one.
# A metric may be marked computed only if its key is here.
COMPUTED_KEYS = frozenset(
    {
        "website_visitors",
        "downloads",
        "inbound_inquiries",
        "outbound_telemarketing",
        "outbound_tradeshows",
        "outbound_networking",
        "outbound_social",
        "calls",
        "connects",
        "qualified_conversations",
        "presentations_given",
        "proposals_submitted",
        "deals_won",
        "close_rate",
        "new_customers",
        "bookings",
        "average_deal_size",
        "sales_cycle_days",
    }
)


class Phasing(StrEnum):
    EVEN = "even"
    SEASONAL = "seasonal"


class Unit(StrEnum):
    COUNT = "count"
    MONEY = "money"
    PERCENT = "percent"
    DAYS = "days"


def month_start(day: date) -> date:
    """The first day of the month `day` falls in: how a month is stored."""
    return day.replace(day=1)


MONTH_TEXT = re.compile(r"(\d{4})-(\d{2})")


def month_parse(text: str) -> date:
    """'2026-10' as its first day; a ValueError whose message says what a month is."""
    match = MONTH_TEXT.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"A month is a year and month like 2026-10, not {text!r}.")
    year, number = int(match[1]), int(match[2])
    if not 1 <= number <= MONTHS or not 2000 <= year <= 2200:
        raise ValueError(f"{text!r} is not a month Keel can show (2000-01 to 2200-12).")
    return date(year, number, 1)


def previous_month(month: date) -> date:
    if month.month == 1:
        return date(month.year - 1, MONTHS, 1)
    return date(month.year, month.month - 1, 1)


def next_month(month: date) -> date:
    if month.month == MONTHS:
        return date(month.year + 1, 1, 1)
    return date(month.year, month.month + 1, 1)


def weights_problems(phasing: str, weights: object) -> list[str]:
    """What is wrong with a goal's phasing, as messages a person can act on."""
    if phasing == Phasing.EVEN:
        return [] if weights in (None, []) else ["An even phasing takes no monthly weights."]
    if phasing != Phasing.SEASONAL:
        return [f"The phasing is 'even' or 'seasonal', not {phasing!r}."]
    if not isinstance(weights, list) or len(weights) != MONTHS:
        return ["A seasonal phasing needs 12 monthly weights, January to December."]
    if not all(isinstance(w, int | float | str) and not isinstance(w, bool) for w in weights):
        return ["Each monthly weight is a number."]
    try:
        numbers = [Decimal(str(w)) for w in weights]
    except ArithmeticError:
        return ["Each monthly weight is a number."]
    if any(not n.is_finite() or n < 0 for n in numbers):
        return ["Monthly weights are zero or more."]
    if sum(numbers) <= 0:
        return ["At least one monthly weight must be above zero."]
    return []


def _shares(phasing: str, weights: list[object] | None) -> list[Decimal]:
    problems = weights_problems(phasing, weights)
    if problems:
        raise ValueError(problems[0])
    if phasing == Phasing.EVEN or not weights:
        return [Decimal(1)] * MONTHS
    return [Decimal(str(w)) for w in weights]


def month_target(
    *, target: Decimal, phasing: str, weights: list[object] | None, month: int
) -> Decimal:
    """The part of an annual target that falls in `month` (1–12)."""
    if not 1 <= month <= MONTHS:
        raise ValueError(f"A month is 1 to 12, not {month}.")
    shares = _shares(phasing, weights)
    return target * shares[month - 1] / sum(shares)


def ytd_target(
    *, target: Decimal, phasing: str, weights: list[object] | None, through_month: int
) -> Decimal:
    """The part of an annual target due from January through `through_month` (1–12).

    Computed from the running share, not by adding rounded months, so December's
    year-to-date is the annual target exactly.
    """
    if not 1 <= through_month <= MONTHS:
        raise ValueError(f"A month is 1 to 12, not {through_month}.")
    shares = _shares(phasing, weights)
    return target * sum(shares[:through_month]) / sum(shares)


def value_problems(unit: str, value: Decimal) -> list[str]:
    """Whether `value` can be a month's figure in `unit`."""
    if not value.is_finite():
        return ["The value is a number."]
    if value < 0:
        return ["The value is zero or more."]
    if unit == Unit.COUNT and value != value.to_integral_value():
        return ["A count is a whole number."]
    if unit == Unit.PERCENT and value > 100:
        return ["A percentage is between 0 and 100."]
    return []


# Metrics where a smaller figure is the better one: on track means at or under target.
LOWER_IS_BETTER = frozenset({"sales_cycle_days"})


class Pace(StrEnum):
    ON_TRACK = "on_track"
    BEHIND = "behind"
    NO_GOAL = "no_goal"
    NO_DATA = "no_data"  # a goal, but no year-to-date figure to hold against it

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


# Money figures that are means, not totals: their months do not add up to a year.
AVERAGE_KEYS = frozenset({"average_deal_size"})


def accumulates(*, key: str, unit: str) -> bool:
    """Whether a metric's months add up to a year (counts, money totals), unlike rates
    and means (percentages, days, average deal size).

    For a rate or a mean the annual goal is a level to hold every month,
    not an amount to spread over them: its month's and year-to-date targets are the goal
    itself, and the year-end projection is the year-to-date figure.
    """
    return unit in (Unit.COUNT, Unit.MONEY) and key not in AVERAGE_KEYS


def projected_year_end(
    *,
    ytd: Decimal,
    through_month: int,
    target: Decimal | None = None,
    phasing: str = Phasing.EVEN,
    weights: list[object] | None = None,
) -> Decimal:
    """Where an accumulating figure ends the year at its current pace.

    With a goal, the pace follows its phasing: `ytd` ÷ the share of the year's target due
    by `through_month`. Without one (or when nothing is due yet), it is even: ÷ months × 12.
    """
    if not 1 <= through_month <= MONTHS:
        raise ValueError(f"A month is 1 to 12, not {through_month}.")
    if target is not None:
        shares = _shares(phasing, weights)
        due = sum(shares[:through_month])
        if due > 0:
            return ytd * sum(shares) / due
    return ytd * MONTHS / through_month


def pace(*, actual: Decimal | None, target: Decimal | None, lower_is_better: bool) -> Pace:
    """On track when the year-to-date figure meets its year-to-date target."""
    if target is None:
        return Pace.NO_GOAL
    if actual is None:
        return Pace.NO_DATA
    met = actual <= target if lower_is_better else actual >= target
    return Pace.ON_TRACK if met else Pace.BEHIND
