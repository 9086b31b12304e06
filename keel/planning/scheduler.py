"""The scheduler: turns tactics into people's work, on time, once.

`tactics_tick(now=…)` is run by the queue (planning/tasks.py) or `keel tactics tick`
from cron, as often as one likes: every piece of work is an Occurrence keyed by its
tactic, person and day (or event), unique in the database. One tick runs at a time
(tick_lock) and skips what exists, so a tick run twice, by two workers at once, or after
a day of downtime makes each piece once. A tick looks back CATCH_UP_DAYS: work missed
while Keel was down still appears, already due, and counts as late or missed (rules.sla).

A recurring tactic asks for work on each day its schedule names, from the plan's start
to its end; a target tactic asks once, due on its date. Triggered tactics are fired by
their events (not by the tick).
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from keel.accounts.models import User
from keel.activities.models import Task, TaskSource
from keel.core.bulk import ids_reserve, rows_load
from keel.planning import rules
from keel.planning.models import Occurrence, Shape, Tactic

CATCH_UP_DAYS = 7
TICK_LOCK = 0x6B65656C_7469636B  # "keeltick": the advisory lock one tick holds at a time


@dataclass(frozen=True)
class TickResult:
    created: int  # pieces of work (each with its task) this tick made


@dataclass(frozen=True)
class Wanted:
    """A piece of work a tactic asks for: its key, the moments it counts from and to, due."""

    key: str
    opens_at: datetime
    closes_at: datetime | None
    due_at: datetime


def assignees(tactic: Tactic) -> QuerySet[User]:
    """Who a tactic asks: its person, or everyone active holding its role — in the plan's
    team when the plan is a team's."""
    if tactic.person_id is not None:
        return User.objects.filter(pk=tactic.person_id, is_active=True)
    holders = User.objects.filter(role=tactic.role, is_active=True)
    team_id = tactic.plan.team_id
    return holders if team_id is None else holders.filter(team_id=team_id)


def zone_of(name: str) -> ZoneInfo:
    """A person's time zone from its stored name; blank: the business's."""
    return ZoneInfo(name or settings.TIME_ZONE)


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """A day where the person is: from its midnight to the next (23 or 25 hours at DST)."""
    return (
        datetime.combine(day, time(), tzinfo=zone),
        datetime.combine(day + timedelta(days=1), time(), tzinfo=zone),
    )


def wanted(tactic: Tactic, *, today: date, zone: ZoneInfo) -> list[Wanted]:
    """The work the tactic asks of a person in `zone` up to their `today`."""
    plan = tactic.plan
    if tactic.shape == Shape.RECURRING:
        first = max(plan.starts_on, today - timedelta(days=CATCH_UP_DAYS))
        last = min(plan.ends_on, today)
        if first > last:
            return []
        days = rules.schedule_days(
            rule=tactic.schedule, first=first, last=last, start=plan.starts_on
        )
        return [
            Wanted(day.isoformat(), *day_bounds(day, zone), rules.due_at(day, zone)) for day in days
        ]
    if tactic.shape == Shape.TARGET and tactic.due_on is not None and today <= tactic.due_on:
        opens = day_bounds(plan.starts_on, zone)[0]
        return [Wanted("target", opens, None, rules.due_at(tactic.due_on, zone))]
    return []


def _title(tactic: Tactic) -> str:
    title = tactic.task_title or tactic.name
    if tactic.shape == Shape.TARGET and tactic.target_count:
        title = f"{title} ({tactic.target_count} by {tactic.due_on:%d %b})"
    return title[:200]


@transaction.atomic
def tactics_tick(*, now: datetime | None = None) -> TickResult:
    """Create the occurrences and tasks the active tactics ask for as of `now`.

    Each person's work follows their own calendar: the days are theirs, and a day's work
    is due at the end of it where they are.
    """
    now = now or timezone.now()
    tick_lock()
    # Who each tactic may ask: by role ("role"), by role in a team ("role@team"), by id.
    people: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for pk, role, team_id, zone_name in User.objects.filter(is_active=True).values_list(
        "pk", "role", "team_id", "time_zone"
    ):
        people[role].append((pk, zone_name))
        people[f"{role}@{team_id}"].append((pk, zone_name))
        people[f"#{pk}"].append((pk, zone_name))
    # Each zone once: a person's today, and the zone itself, for every tactic below.
    zones = {
        name: (zone, timezone.localtime(now, zone).date())
        for name in {z for group in people.values() for _, z in group}
        for zone in (zone_of(name),)
    }
    days = {today for _, today in zones.values()}
    earliest, latest = min(days, default=now.date()), max(days, default=now.date())
    tactics = (
        Tactic.objects.filter(is_active=True, plan__is_active=True)
        .filter(plan__starts_on__lte=latest, plan__ends_on__gte=earliest - timedelta(CATCH_UP_DAYS))
        .filter(Q(shape=Shape.RECURRING) | Q(shape=Shape.TARGET))
        .select_related("plan")
    )
    asks: list[tuple[Tactic, list[tuple[int, str]], dict[str, list[Wanted]]]] = []
    keys: set[str] = set()
    for tactic in tactics:
        asked = people[_asked_key(tactic)]
        by_zone = {
            name: wanted(tactic, today=zones[name][1], zone=zones[name][0])
            for name in {z for _, z in asked}
        }
        keys.update(w.key for found in by_zone.values() for w in found)
        asks.append((tactic, asked, by_zone))
    if not keys:
        return TickResult(created=0)
    # What exists already is skipped here, so a tick with nothing new writes nothing: one
    # query for every tactic, its keys at most the catch-up days and "target".
    known = set(
        Occurrence.objects.filter(
            tactic__in=[tactic.pk for tactic, _, _ in asks], key__in=sorted(keys)
        ).values_list("tactic_id", "person_id", "key")
    )
    new = [
        Occurrence(
            tactic=tactic,
            person_id=person_id,
            key=w.key,
            opens_at=w.opens_at,
            closes_at=w.closes_at,
            due_at=w.due_at,
        )
        for tactic, asked, by_zone in asks
        for person_id, zone_name in asked
        for w in by_zone[zone_name]
        if (tactic.pk, person_id, w.key) not in known
    ]
    return TickResult(created=occurrences_load(new, now=now))


def _asked_key(tactic: Tactic) -> str:
    if tactic.person_id is not None:
        return f"#{tactic.person_id}"
    team_id = tactic.plan.team_id
    return tactic.role if team_id is None else f"{tactic.role}@{team_id}"


def tick_lock() -> None:
    """One tick at a time, so what a tick finds missing nobody else writes meanwhile.

    SQLite: the transaction took the database's write lock at BEGIN (IMMEDIATE). A
    PostgreSQL tick waits for a transaction-scoped advisory lock; a second worker's tick
    then reads what the first one made and makes nothing twice.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [TICK_LOCK])


def occurrences_load(new: list[Occurrence], *, now: datetime) -> int:
    """Store the tick's `new` pieces of work, each with its task, through the bulk path.

    Under the tick's lock (tick_lock) nothing else writes these keys: a triggered
    tactic's work, made by its events, never shares a key with a scheduled one. So rows
    go straight to the table (core.bulk.rows_load, each distinct due time converted
    once), with fresh ids reserved first.
    """
    if not new:
        return 0
    titles = {o.tactic_id: _title(o.tactic) for o in new}
    task_ids = ids_reserve(Task, len(new))
    rows_load(
        model=Task,
        fields=("id", "title", "owner_id", "due_at", "source", "source_key", "created_at"),
        rows=(
            (pk, titles[o.tactic_id], o.person_id, o.due_at, TaskSource.TACTIC,
             f"tactic:{o.tactic_id}:{o.person_id}:{o.key}"[:300], now)
            for pk, o in zip(task_ids, new, strict=True)
        ),
    )  # fmt: skip
    rows_load(
        model=Occurrence,
        fields=("id", "tactic_id", "person_id", "key", "opens_at", "closes_at", "due_at",
                "task_id", "created_at"),
        rows=(
            (pk, o.tactic_id, o.person_id, o.key, o.opens_at, o.closes_at, o.due_at, task, now)
            for pk, task, o in zip(ids_reserve(Occurrence, len(new)), task_ids, new, strict=True)
        ),
    )  # fmt: skip
    return len(new)


def occurrences_create(new: list[Occurrence]) -> int:
    """Store `new` pieces of work, each with its task; how many were stored.

    The tasks are made first, so each occurrence is written once with its task. If
    another worker stored the same piece meanwhile, the database refuses ours
    (ignore_conflicts) and its task, which nothing points to, is deleted again: the same
    piece of work never gets two tasks.
    """
    if not new:
        return 0
    titles = {o.tactic_id: _title(o.tactic) for o in new}
    tasks = Task.objects.bulk_create(
        [
            Task(
                title=titles[o.tactic_id],
                owner_id=o.person_id,
                due_at=o.due_at,
                source=TaskSource.TACTIC,
                source_key=f"tactic:{o.tactic_id}:{o.person_id}:{o.key}"[:300],
                deal_id=o.deal_id,
                company_id=o.company_id,
            )
            for o in new
        ]
    )
    for occurrence, task in zip(new, tasks, strict=True):
        occurrence.task_id = task.pk
    Occurrence.objects.bulk_create(new, ignore_conflicts=True)
    ids = [task.pk for task in tasks]
    mine = Occurrence.objects.filter(task_id__gte=min(ids), task_id__lte=max(ids))
    taken = set(mine.values_list("task_id", flat=True))
    orphans = [pk for pk in ids if pk not in taken]
    if orphans:
        Task.objects.filter(pk__in=orphans).delete()
    return len(ids) - len(orphans)
