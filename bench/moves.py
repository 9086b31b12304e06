"""deal_move moves/s next to a bare UPDATE plus INSERT of the same rows.

    python -m bench.moves [--deals N]      (KEEL_DATABASE_URL picks the database;
                                             default: a scratch SQLite file)

Each of N deals, with Qualify's evidence in place, moves to 1st meeting through the real
service (permission check, lock, exit-criteria snapshot, history, plan tasks, audit), one
transaction per move. The baseline updates the same deals' stage and inserts the same
stage-history rows with plain SQL, also one transaction per move.
"""

import argparse
import time
from collections.abc import Sequence
from decimal import Decimal

from bench._setup import django_setup


def _deals(count: int) -> list[int]:
    """`count` deals in Qualify with the evidence to leave it, inserted in bulk."""
    from django.utils import timezone

    from keel.accounts.models import Role, Team, User
    from keel.activities.models import Activity
    from keel.crm.models import Company
    from keel.pipeline.models import ChecklistTick, Deal, SalesProcess, StageChange
    from keel.pipeline.selectors import process_current_version

    # A realistic owner: on a team whose expert takes the plan steps meant for that role.
    team = Team.objects.create(name="Bench team")
    owner = User.objects.create(username="bench", role=Role.SALESPERSON, team=team)
    User.objects.create(username="expert", role=Role.SUBJECT_MATTER_EXPERT, team=team)
    process = SalesProcess.objects.get(name="New business")
    version = process_current_version(process=process)
    assert version is not None  # noqa: S101 - installed by migrate
    qualify = version.stages.get(name="Qualify")
    now = timezone.now()
    companies = Company.objects.bulk_create(Company(name=f"Bench {n}") for n in range(count))
    deals = Deal.objects.bulk_create(
        Deal(
            name=f"Bench deal {n}",
            company=company,
            owner=owner,
            process=process,
            process_version=version,
            stage=qualify,
            amount=Decimal(10_000),
            expected_close=now.date(),
            stage_entered_at=now,
        )
        for n, company in enumerate(companies)
    )
    StageChange.objects.bulk_create(
        StageChange(deal=d, process_version=version, to_stage=qualify, at=now) for d in deals
    )
    Activity.objects.bulk_create(
        Activity(type="call", outcome="connected", at=now, by=owner, deal=d) for d in deals
    )
    ChecklistTick.objects.bulk_create(
        ChecklistTick(deal=d, item="Fits the ideal customer profile", ticked_at=now) for d in deals
    )
    return [d.pk for d in deals]


def _keel(ids: Sequence[int]) -> float:
    from keel.accounts.models import User
    from keel.pipeline.models import Deal
    from keel.pipeline.services import deal_move

    owner = User.objects.get(username="bench")
    start = time.perf_counter()
    for deal in Deal.objects.filter(pk__in=ids).iterator():
        deal_move(deal=deal, to_stage="1st meeting", by=owner, expected_version=deal.version)
    return time.perf_counter() - start


def _raw(ids: Sequence[int]) -> float:
    from django.db import connection, transaction
    from django.utils import timezone

    from keel.pipeline.models import Stage

    qualify = Stage.objects.get(version__process__name="New business", name="Qualify")
    meeting = Stage.objects.get(version__process__name="New business", name="1st meeting")
    start = time.perf_counter()
    with connection.cursor() as cursor:
        for pk in ids:
            now = timezone.now()
            with transaction.atomic():
                cursor.execute(
                    "UPDATE pipeline_deal SET stage_id = %s, stage_entered_at = %s, "
                    "version = version + 1, updated_at = %s WHERE id = %s AND version = 1",
                    [meeting.pk, now, now, pk],
                )
                cursor.execute(
                    "INSERT INTO pipeline_stagechange (deal_id, process_version_id, from_stage_id,"
                    " to_stage_id, at, evidence, override_reason, lost_reason)"
                    " VALUES (%s, %s, %s, %s, %s, %s, '', '')",
                    [pk, qualify.version_id, qualify.pk, meeting.pk, now, "{}"],
                )
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.moves")
    parser.add_argument("--deals", type=int, default=2000)
    args, _ = parser.parse_known_args(argv)
    vendor = django_setup("moves.sqlite3")
    half = args.deals
    ids = _deals(2 * half)
    keel_seconds = _keel(ids[:half])
    raw_seconds = _raw(ids[half:])
    keel_rate, raw_rate = half / keel_seconds, half / raw_seconds
    print(f"\ndeal_move on {vendor}: {half} moves, one transaction each")
    print(f"  {'':28}{'seconds':>10}{'moves/s':>12}")
    print(f"  {'keel deal_move':28}{keel_seconds:>10.2f}{keel_rate:>12,.0f}")
    print(f"  {'raw UPDATE + INSERT':28}{raw_seconds:>10.2f}{raw_rate:>12,.0f}")
    print(f"  ratio keel/raw {keel_rate / raw_rate:.2f}")
    if vendor == "sqlite":
        verdict = "meets" if keel_rate >= 300 else "MISSES"
        print(f"  {verdict} the target of 300 moves/s on SQLite")


if __name__ == "__main__":
    main()
