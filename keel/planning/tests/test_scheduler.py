"""The scheduler on a frozen clock: work on the right days, never twice, caught up.

The plan runs from Monday 2 November 2026 for six months, in Keel's time zone (the
tests' settings: UTC unless KEEL_TIME_ZONE says otherwise).
"""

from datetime import date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import call_command

from keel.accounts.models import Role, User
from keel.activities.models import Task, TaskSource
from keel.planning.models import Goal, Occurrence, Shape, Strategy, Tactic, TacticalPlan
from keel.planning.scheduler import CATCH_UP_DAYS, day_bounds, tactics_tick

pytestmark = pytest.mark.django_db
WEEKDAYS = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo(settings.TIME_ZONE))


@pytest.fixture
def plan(olivia: User) -> TacticalPlan:
    goal = Goal.objects.create(name="Five whales", target=5, unit="whales",
                               starts_on=date(2026, 11, 1), ends_on=date(2027, 12, 31))  # fmt: skip
    strategy = Strategy.objects.create(name="Pursue whales", starts_on=date(2026, 11, 1),
                                       ends_on=date(2027, 12, 31))  # fmt: skip
    strategy.goals.add(goal)
    return TacticalPlan.objects.create(
        name="Whale hunting",
        strategy=strategy,
        starts_on=date(2026, 11, 2),
        ends_on=date(2027, 5, 2),
    )


@pytest.fixture
def research(plan: TacticalPlan, sue: User) -> Tactic:
    return Tactic.objects.create(
        plan=plan,
        name="Research dossiers",
        shape=Shape.RECURRING,
        role=Role.SALES_SPECIALIST,
        schedule=WEEKDAYS,
        minutes=60,
    )


def tasks(person: User) -> list[tuple[str, date]]:
    rows = Task.objects.filter(owner=person, source=TaskSource.TACTIC).order_by("due_at")
    zone = ZoneInfo(settings.TIME_ZONE)
    return [(t.title, t.due_at.astimezone(zone).date()) for t in rows if t.due_at]


def test_a_recurring_tactic_asks_each_weekday(research: Tactic, sue: User) -> None:
    assert tactics_tick(now=at(date(2026, 11, 2))).created == 1  # Monday
    tactics_tick(now=at(date(2026, 11, 3)))
    tactics_tick(now=at(date(2026, 11, 7)))  # Saturday: Wed, Thu, Fri caught up, no Saturday
    assert [day for _, day in tasks(sue)] == [date(2026, 11, n) for n in (2, 3, 4, 5, 6)]
    assert {title for title, _ in tasks(sue)} == {"Research dossiers"}


def test_a_tick_twice_makes_nothing_twice(research: Tactic, sue: User) -> None:
    now = at(date(2026, 11, 4))
    first = tactics_tick(now=now).created
    assert first == 3 and tactics_tick(now=now).created == 0
    assert Occurrence.objects.count() == Task.objects.count() == 3


def test_after_downtime_the_missed_days_appear_once_already_due(
    research: Tactic, sue: User
) -> None:
    tactics_tick(now=at(date(2026, 11, 2)))
    tactics_tick(now=at(date(2026, 11, 13)))  # down for ten days; a week is caught up
    days = [day for _, day in tasks(sue)]
    assert days[0] == date(2026, 11, 2)
    assert days[1] == date(2026, 11, 13) - timedelta(days=CATCH_UP_DAYS)  # Friday the 6th
    assert len(days) == len(set(days))


def test_a_role_is_everyone_holding_it(research: Tactic, sue: User) -> None:
    other = User.objects.create(username="stan", role=Role.SALES_SPECIALIST)
    User.objects.create(username="gone", role=Role.SALES_SPECIALIST, is_active=False)
    tactics_tick(now=at(date(2026, 11, 2)))
    assert len(tasks(sue)) == len(tasks(other)) == 1
    assert Task.objects.count() == 2


def test_nothing_before_the_plan_starts_or_after_it_ends(research: Tactic, sue: User) -> None:
    tactics_tick(now=at(date(2026, 11, 1)))
    assert tasks(sue) == []
    tactics_tick(now=at(date(2027, 6, 1)))
    assert tasks(sue) == []


def test_a_target_asks_once_due_on_its_date(plan: TacticalPlan, mary: User) -> None:
    Tactic.objects.create(plan=plan, name="Recommend whales to the CEO", shape=Shape.TARGET,
                          person=mary, target_count=3, due_on=date(2027, 3, 31))  # fmt: skip
    tactics_tick(now=at(date(2026, 11, 2)))
    tactics_tick(now=at(date(2026, 11, 3)))
    assert tasks(mary) == [("Recommend whales to the CEO (3 by 31 Mar)", date(2027, 3, 31))]


def test_a_deleted_task_stays_deleted(research: Tactic, sue: User) -> None:
    tactics_tick(now=at(date(2026, 11, 2)))
    Task.objects.filter(owner=sue).delete()
    tactics_tick(now=at(date(2026, 11, 2)))
    assert tasks(sue) == []


def test_an_inactive_tactic_or_plan_asks_nothing(research: Tactic, sue: User) -> None:
    Tactic.objects.filter(pk=research.pk).update(is_active=False)
    tactics_tick(now=at(date(2026, 11, 2)))
    assert tasks(sue) == []


def test_the_command_ticks_and_says_what_it_made(research: Tactic, sue: User) -> None:
    out = StringIO()
    call_command("tactics", "tick", stdout=out)
    assert "new piece" in out.getvalue()
    call_command("tactics", "tick", stdout=out)
    assert out.getvalue().splitlines()[-1] == "0 new pieces of work, each a task."


def test_each_person_works_to_their_own_calendar(research: Tactic, sue: User) -> None:
    """A specialist in Tokyo and one in Los Angeles, on one instant: Monday 2 November
    2026 22:00 UTC is already Tuesday in Tokyo and still Monday in Los Angeles."""
    tokyo, la = ZoneInfo("Asia/Tokyo"), ZoneInfo("America/Los_Angeles")
    User.objects.filter(pk=sue.pk).update(time_zone="Asia/Tokyo")
    lea = User.objects.create(username="lea", role=Role.SALES_SPECIALIST,
                              time_zone="America/Los_Angeles")  # fmt: skip
    tactics_tick(now=datetime(2026, 11, 2, 22, tzinfo=ZoneInfo("UTC")))
    sue_work = Occurrence.objects.filter(person=sue).order_by("due_at")
    assert [o.key for o in sue_work] == ["2026-11-02", "2026-11-03"]
    assert [o.due_at.astimezone(tokyo).hour for o in sue_work] == [17, 17]
    first = sue_work[0]
    assert first.opens_at == datetime(2026, 11, 2, tzinfo=tokyo)
    assert first.closes_at == datetime(2026, 11, 3, tzinfo=tokyo)
    lea_work = Occurrence.objects.get(person=lea)
    assert lea_work.key == "2026-11-02"
    assert lea_work.due_at == datetime(2026, 11, 2, 17, tzinfo=la)
    # Saturday in Tokyo (Friday evening in Los Angeles): no work for Sue that day.
    tactics_tick(now=datetime(2026, 11, 6, 16, tzinfo=ZoneInfo("UTC")))
    assert "2026-11-07" not in set(
        Occurrence.objects.filter(person=sue).values_list("key", flat=True)
    )
    assert Occurrence.objects.filter(person=lea, key="2026-11-06").exists()


def test_a_day_across_a_dst_change_is_that_days_length() -> None:
    rome, utc = ZoneInfo("Europe/Rome"), ZoneInfo("UTC")

    def hours(day: date) -> timedelta:
        opens, closes = day_bounds(day, rome)  # instants: compare them in UTC
        return closes.astimezone(utc) - opens.astimezone(utc)

    assert hours(date(2026, 10, 25)) == timedelta(hours=25)  # the clocks go back
    assert hours(date(2026, 3, 29)) == timedelta(hours=23)  # and forward
    assert hours(date(2026, 11, 2)) == timedelta(hours=24)


def test_a_racing_workers_piece_leaves_no_extra_task(research: Tactic, sue: User) -> None:
    """Another worker stored Monday's piece between our look and our write: ours is refused
    and its task deleted, while Tuesday's, which nobody else made, is stored with its task."""
    from keel.planning.scheduler import occurrences_create, wanted, zone_of

    tactics_tick(now=at(date(2026, 11, 2)))
    monday, tuesday = wanted(research, today=date(2026, 11, 3), zone=zone_of(sue.time_zone))
    late = [
        Occurrence(
            tactic=research,
            person=sue,
            key=w.key,
            opens_at=w.opens_at,
            closes_at=w.closes_at,
            due_at=w.due_at,
        )
        for w in (monday, tuesday)
    ]
    assert occurrences_create(late) == 1
    assert Occurrence.objects.count() == Task.objects.count() == 2
    assert set(Occurrence.objects.values_list("task_id", flat=True)) == set(
        Task.objects.values_list("pk", flat=True)
    )


def test_a_tick_asks_what_exists_in_one_query(research: Tactic, sue: User) -> None:
    """However many tactics, an idle tick reads people, tactics and known work once each
    (and opens and releases its savepoint inside the test's transaction, and on
    PostgreSQL takes the tick's advisory lock)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(3):
        Tactic.objects.create(plan=research.plan, name=f"Call {n}", shape=Shape.RECURRING,
                              role=Role.SALES_SPECIALIST, schedule=WEEKDAYS)  # fmt: skip
    tactics_tick(now=at(date(2026, 11, 4)))
    with CaptureQueriesContext(connection) as queries:
        assert tactics_tick(now=at(date(2026, 11, 4))).created == 0
    assert len(queries) <= 5 + (connection.vendor == "postgresql")


@pytest.mark.django_db(transaction=True)
def test_two_workers_ticking_at_once_make_each_piece_once(research: Tactic, sue: User) -> None:
    """Real concurrent transactions: the second tick waits for the first, then finds
    everything made."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection, connections

    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(
        "file:memorydb"
    ):
        pytest.skip("the in-memory SQLite test database is one connection shared by threads")
    now = at(date(2026, 11, 6))

    def tick(_: int) -> int:
        try:
            return tactics_tick(now=now).created
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        made = sorted(pool.map(tick, [1, 2]))
    assert made == [0, 5]  # Monday to Friday, once
    assert Occurrence.objects.count() == Task.objects.filter(source=TaskSource.TACTIC).count() == 5


@pytest.mark.parametrize(
    ("rule", "days"),
    [
        ("FREQ=WEEKLY", [2, 9, 16, 23, 30]),  # the plan starts on Monday 2 November
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO", [2, 16, 30]),
        ("FREQ=DAILY;INTERVAL=3", [2, 5, 8, 11, 14, 17, 20, 23, 26, 29]),
        ("FREQ=MONTHLY", [2]),
        ("FREQ=MONTHLY;BYMONTHDAY=15", [15]),
    ],
)
def test_a_schedule_counts_from_the_plans_start_over_daily_ticks(
    plan: TacticalPlan, sue: User, rule: str, days: list[int]
) -> None:
    Tactic.objects.create(plan=plan, name="Review", shape=Shape.RECURRING,
                          role=Role.SALES_SPECIALIST, schedule=rule)  # fmt: skip
    for day in range(2, 31):  # every day of November from the plan's start, once
        tactics_tick(now=at(date(2026, 11, day)))
    assert [d for _, d in tasks(sue)] == [date(2026, 11, n) for n in days]
