"""The planning's pure rules: tactic schedules, a plan's span, on time / late / missed.

No ORM here. Schedules are RFC 5545 RRULEs read by dateutil; the days they name are the
person's days, in their time zone, so "each weekday" means each of *their* weekdays.
"""

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr

PLAN_MONTHS = (6, 18)  # a tactical plan spans six to eighteen months
DUE_AT = time(17, 0)  # a day's work is due at the end of that working day
# Done after its due time but before this much later counts as late; later still, missed.
LATE_GRACE = timedelta(days=7)


def schedule_problems(rule: str) -> list[str]:
    """What is wrong with an RRULE, in words a person can act on."""
    text = rule.strip()
    if not text:
        return ["A recurring tactic needs a schedule, e.g. FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR."]
    if "DTSTART" in text.upper() or "\n" in text:
        return ["The schedule is one RRULE line; the plan's dates give its start and end."]
    try:
        rrulestr(_rrule_line(text), dtstart=datetime(2000, 1, 1))
    except (ValueError, TypeError) as error:
        return [f"{text!r} is not an RFC 5545 RRULE ({error})."]
    return []


def _rrule_line(text: str) -> str:
    text = text.strip()
    return text[len("RRULE:") :] if text.upper().startswith("RRULE:") else text


def schedule_days(
    *, rule: str, first: date, last: date, start: date | None = None
) -> Iterator[date]:
    """The days from `first` to `last` (both included) that `rule` names, counted from
    `start` (the plan's first day; default `first`): "every other Monday" and "monthly"
    are every other Monday and each month *since the plan began*, whatever window is asked.
    """
    origin = datetime.combine(start or first, time())
    for moment in rrulestr(_rrule_line(rule), dtstart=origin).between(
        datetime.combine(first, time()), datetime.combine(last, time()), inc=True
    ):
        yield moment.date()


def due_at(day: date, zone: ZoneInfo) -> datetime:
    """When a day's work is due: the end of that working day where the person is."""
    return datetime.combine(day, DUE_AT, tzinfo=zone)


def plan_span_problems(*, starts_on: date, ends_on: date) -> list[str]:
    """A tactical plan runs six to eighteen months."""
    shortest, longest = (starts_on + relativedelta(months=n) for n in PLAN_MONTHS)
    if ends_on < shortest:
        return [f"A tactical plan spans at least {PLAN_MONTHS[0]} months: end it on or after "
                f"{shortest:%d %B %Y}."]  # fmt: skip
    if ends_on > longest:
        return [f"A tactical plan spans at most {PLAN_MONTHS[1]} months: end it by "
                f"{longest:%d %B %Y}, and plan the rest in another."]  # fmt: skip
    return []


class Sla(StrEnum):
    OPEN = "open"  # not due yet, not done
    ON_TIME = "on_time"
    LATE = "late"  # done after it was due, within the grace
    OVERDUE = "overdue"  # due, not done, still within the grace
    MISSED = "missed"  # not done within the grace after it was due


def sla(*, due: datetime, done: datetime | None, now: datetime) -> Sla:
    """Whether a piece of work was done on time, late, or missed, as of `now`."""
    if done is not None:
        if done <= due:
            return Sla.ON_TIME
        return Sla.LATE if done <= due + LATE_GRACE else Sla.MISSED
    if now <= due:
        return Sla.OPEN
    return Sla.OVERDUE if now <= due + LATE_GRACE else Sla.MISSED


# A tactic is on track while this share of the work that fell due was done on time.
ON_TIME_TARGET = Decimal("0.8")
DAY_NAMES = {
    "MO": "Monday",
    "TU": "Tuesday",
    "WE": "Wednesday",
    "TH": "Thursday",
    "FR": "Friday",
    "SA": "Saturday",
    "SU": "Sunday",
}
FREQ_WORDS = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}


def on_track(*, on_time_rate: Decimal | None) -> bool:
    """Nothing due yet is on track; otherwise the on-time share must reach the target."""
    return on_time_rate is None or on_time_rate >= ON_TIME_TARGET


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def schedule_words(rule: str) -> str:
    """An RRULE in plain words ("each weekday", "every 2 weeks on Monday"); a rule this
    does not know how to say is given as it is."""
    parts = dict(part.split("=", 1) for part in _rrule_line(rule).upper().split(";") if "=" in part)
    unit = FREQ_WORDS.get(parts.pop("FREQ", ""))
    interval = parts.pop("INTERVAL", "1")
    days = [d for d in parts.pop("BYDAY", "").split(",") if d]
    month_days = [d for d in parts.pop("BYMONTHDAY", "").split(",") if d]
    if unit is None or parts or not interval.isdigit() or any(d not in DAY_NAMES for d in days):
        return rule
    every = f"every {unit}" if interval == "1" else f"every {interval} {unit}s"
    if days == ["MO", "TU", "WE", "TH", "FR"] and interval == "1" and unit in ("day", "week"):
        return "each weekday"
    if days:
        return f"{every} on {_and([DAY_NAMES[d] for d in days])}"
    if month_days and unit == "month":
        return f"{every} on day {_and(month_days)}"
    return every
