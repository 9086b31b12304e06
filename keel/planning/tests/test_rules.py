"""Tactic schedules, a plan's span, and on time / late / missed at their boundaries."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from keel.planning import rules
from keel.planning.rules import (
    LATE_GRACE,
    Sla,
    due_at,
    plan_span_problems,
    schedule_days,
    schedule_problems,
    sla,
)

WEEKDAYS = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"


def test_weekdays_skip_the_weekend() -> None:
    days = list(schedule_days(rule=WEEKDAYS, first=date(2026, 11, 20), last=date(2026, 11, 24)))
    assert days == [date(2026, 11, 20), date(2026, 11, 23), date(2026, 11, 24)]  # Fri, Mon, Tue


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("FREQ=DAILY", 7),
        ("RRULE:FREQ=DAILY", 7),
        ("FREQ=WEEKLY;BYDAY=MO", 1),
        ("FREQ=MONTHLY;BYMONTHDAY=1", 0),
        ("FREQ=DAILY;INTERVAL=2", 4),
    ],
)
def test_each_frequency(rule: str, expected: int) -> None:
    week = list(schedule_days(rule=rule, first=date(2026, 11, 2), last=date(2026, 11, 8)))
    assert len(week) == expected
    assert schedule_problems(rule) == []


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ("", "needs a schedule"),
        ("every weekday", "is not an RFC 5545 RRULE"),
        ("FREQ=SOMETIMES", "is not an RFC 5545 RRULE"),
        ("DTSTART:20260101T000000\nRRULE:FREQ=DAILY", "one RRULE line"),
    ],
)
def test_a_bad_schedule_says_why(rule: str, says: str) -> None:
    [problem] = schedule_problems(rule)
    assert says in problem


def test_a_days_work_is_due_at_the_end_of_that_day_where_the_person_is() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert due_at(date(2026, 11, 24), berlin) == datetime(2026, 11, 24, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ends_on", "ok"),
    [
        (date(2027, 7, 1), True),  # six months
        (date(2027, 6, 30), False),
        (date(2028, 7, 1), True),  # eighteen months
        (date(2028, 7, 2), False),
    ],
)
def test_a_plan_spans_six_to_eighteen_months(ends_on: date, ok: bool) -> None:
    problems = plan_span_problems(starts_on=date(2027, 1, 1), ends_on=ends_on)
    assert (problems == []) is ok


DUE = datetime(2026, 11, 24, 17, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("done", "now", "state"),
    [
        (None, DUE, Sla.OPEN),
        (None, DUE + SECOND, Sla.OVERDUE),
        (None, DUE + LATE_GRACE, Sla.OVERDUE),
        (None, DUE + LATE_GRACE + SECOND, Sla.MISSED),
        (DUE, DUE + LATE_GRACE * 9, Sla.ON_TIME),
        (DUE + SECOND, DUE + SECOND, Sla.LATE),
        (DUE + LATE_GRACE, DUE + LATE_GRACE, Sla.LATE),
        (DUE + LATE_GRACE + SECOND, DUE + LATE_GRACE * 2, Sla.MISSED),
    ],
)
def test_sla_at_its_boundaries(done: datetime | None, now: datetime, state: Sla) -> None:
    assert sla(due=DUE, done=done, now=now) == state


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("FREQ=DAILY", "every day"),
        ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "each weekday"),
        ("RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", "each weekday"),
        ("FREQ=WEEKLY;BYDAY=MO", "every week on Monday"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH", "every 2 weeks on Monday and Thursday"),
        ("FREQ=MONTHLY;BYMONTHDAY=1", "every month on day 1"),
        ("FREQ=MONTHLY", "every month"),
        ("FREQ=WEEKLY;BYSETPOS=1;BYDAY=MO", "FREQ=WEEKLY;BYSETPOS=1;BYDAY=MO"),
    ],
)
def test_a_schedule_in_plain_words(rule: str, words: str) -> None:
    assert rules.schedule_words(rule) == words


def test_on_track_is_the_on_time_share_at_its_target() -> None:
    assert rules.on_track(on_time_rate=None)
    assert rules.on_track(on_time_rate=rules.ON_TIME_TARGET)
    assert not rules.on_track(on_time_rate=rules.ON_TIME_TARGET - Decimal("0.01"))
