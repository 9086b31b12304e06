"""One scheduler tick for 500 people x 50 tactics, next to a raw insert of the same work.

    python -m bench.planning [--people N] [--tactics N]   (KEEL_DATABASE_URL picks the
                                                            database; default: a scratch
                                                            SQLite file)

Every tactic is a daily recurring one for a role that all N people hold, in a plan that
starts today, so one tick asks for exactly people x tactics pieces of work: an occurrence
and a task each. The baseline writes the same rows (tasks, then occurrences linked to
them, with the occurrence's day window and the person's 17:00 due time, as the tick
writes them) through the driver's bulk path (`keel.core.bulk.rows_load`: executemany on
SQLite, COPY on PostgreSQL) in one transaction. Like the tick, it converts each datetime
through its field (about 6-9 µs a value, 150,000 values): the floor both pay. A
second tick, which finds everything made, shows what an idle tick costs.
"""

import argparse
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from bench._setup import django_setup

TARGET_SECONDS = 2.0


def _plan(*, people: int, tactics: int, today: date) -> None:
    """`people` salespeople and a plan of `tactics` daily tactics for them, from today."""
    from keel.accounts.models import Role, User
    from keel.planning.models import Shape, Strategy, Tactic, TacticalPlan

    User.objects.bulk_create(
        User(username=f"bench{n}", role=Role.SALESPERSON) for n in range(people)
    )
    strategy = Strategy.objects.create(
        name="Bench strategy", starts_on=today, ends_on=today + timedelta(days=730)
    )
    plan = TacticalPlan.objects.create(
        name="Bench plan", strategy=strategy, starts_on=today, ends_on=today + timedelta(days=365)
    )
    Tactic.objects.bulk_create(
        Tactic(
            plan=plan,
            name=f"Tactic {n}",
            shape=Shape.RECURRING,
            role=Role.SALESPERSON,
            schedule="FREQ=DAILY",
            position=n,
        )
        for n in range(tactics)
    )


def _keel(now: datetime) -> tuple[float, int]:
    from keel.planning.scheduler import tactics_tick

    start = time.perf_counter()
    created = tactics_tick(now=now).created
    return time.perf_counter() - start, created


def _raw(day: date) -> tuple[float, int]:
    """The same work for `day`, written as rows: a task each, then its occurrence.

    The rows are those the tick writes (title, owner, due moment, source key; the
    occurrence's day window and task), with their primary keys chosen here, in one
    transaction, and nothing read back: the fastest plain way to store them.
    """
    from django.db import transaction
    from django.db.models import Max
    from django.utils import timezone

    from keel.accounts.models import Role, User
    from keel.activities.models import Task, TaskSource
    from keel.core.bulk import rows_load
    from keel.planning import rules
    from keel.planning.models import Occurrence, Tactic
    from keel.planning.scheduler import day_bounds, zone_of

    start = time.perf_counter()
    with transaction.atomic():
        tactics = list(Tactic.objects.values_list("pk", "task_title", "name"))
        people = list(User.objects.filter(role=Role.SALESPERSON).values_list("pk", "time_zone"))
        # rows_load needs every primary key: the next free ones (the bench writes nothing
        # after this, so the sequences PostgreSQL leaves behind do not matter).
        task_id = (Task.objects.aggregate(top=Max("pk"))["top"] or 0) + 1
        occurrence_id = (Occurrence.objects.aggregate(top=Max("pk"))["top"] or 0) + 1
        now, key = timezone.now(), day.isoformat()
        windows = {}
        for zone_name in {z for _, z in people}:
            zone = zone_of(zone_name)
            windows[zone_name] = (*day_bounds(day, zone), rules.due_at(day, zone))
        tasks, occurrences = [], []
        for tactic_id, title, name in tactics:
            for person_id, zone_name in people:
                opens, closes, due = windows[zone_name]
                source_key = f"tactic:{tactic_id}:{person_id}:{key}"
                tasks.append((task_id, title or name, person_id, due, TaskSource.TACTIC,
                              source_key, now))  # fmt: skip
                occurrences.append((occurrence_id, tactic_id, person_id, key, opens, closes,
                                    due, task_id, now))  # fmt: skip
                task_id += 1
                occurrence_id += 1
        rows_load(
            model=Task,
            fields=("id", "title", "owner_id", "due_at", "source", "source_key", "created_at"),
            rows=tasks,
        )
        rows_load(
            model=Occurrence,
            fields=(
                "id",
                "tactic_id",
                "person_id",
                "key",
                "opens_at",
                "closes_at",
                "due_at",
                "task_id",
                "created_at",
            ),
            rows=occurrences,
        )
    return time.perf_counter() - start, len(occurrences)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.planning")
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument("--tactics", type=int, default=50)
    args, _ = parser.parse_known_args(argv)
    vendor = django_setup("planning.sqlite3")
    from keel.planning.models import Occurrence

    today = date(2026, 11, 24)
    _plan(people=args.people, tactics=args.tactics, today=today)
    now = datetime.combine(today, datetime.min.time(), UTC)
    keel_seconds, created = _keel(now)
    idle_seconds, again = _keel(now)
    raw_seconds, written = _raw(today + timedelta(days=1))
    assert created == written == args.people * args.tactics, (created, written)  # noqa: S101
    assert again == 0 and Occurrence.objects.count() == 2 * written  # noqa: S101
    print(f"\nscheduler tick on {vendor}: {args.people} people x {args.tactics} tactics")
    print(f"  {'':34}{'seconds':>10}{'pieces/s':>12}")
    print(f"  {'keel tactics_tick':34}{keel_seconds:>10.2f}{created / keel_seconds:>12,.0f}")
    print(f"  {'raw insert (rows_load)':34}{raw_seconds:>10.2f}{written / raw_seconds:>12,.0f}")
    print(f"  {'keel tactics_tick again (idle)':34}{idle_seconds:>10.2f}")
    print(f"  ratio keel/raw {keel_seconds / raw_seconds:.2f}")
    verdict = "meets" if keel_seconds <= TARGET_SECONDS else "MISSES"
    print(f"  {verdict} the target of one tick in {TARGET_SECONDS:.0f} s")


if __name__ == "__main__":
    main()
