"""The planning's pure rules: tactic schedules, a plan's span, on time / late / missed.

No ORM here. Schedules are RFC 5545 RRULEs read by dateutil; the days they name are the
person's days, in their time zone, so "each weekday" means each of *their* weekdays.
"""

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
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


def schedule_days(*, rule: str, first: date, last: date) -> Iterator[date]:
    """The days from `first` to `last` (both included) that `rule` names."""
    start = datetime.combine(first, time())
    for moment in rrulestr(_rrule_line(rule), dtstart=start).between(
        start, datetime.combine(last, time()), inc=True
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
