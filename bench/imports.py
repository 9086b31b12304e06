"""Import rows/s: `keel import` of a deals CSV with stage history next to a raw load.

    python -m bench.imports [--deals 100000] [--seed N]
                                            (KEEL_DATABASE_URL picks the database;
                                             default: a scratch SQLite file)

A CSV of deals is generated, one row per stage change (deal id, name, company, owner,
amount, stage, date): the shape of Salesforce's OpportunityHistory or any "stage log"
export. Keel's import service reads it from bytes, checks every row, matches companies
and owners, builds each deal's history and writes companies, deals and stage changes
(rolled back after). The baseline then writes the very same rows into the same empty
tables with the driver alone: sqlite3's executemany on SQLite, COPY on PostgreSQL, under
the same bulk-load conditions, with no reading, parsing or checking at all. The ratio is
the price of everything an import does beyond the insert; the target is at least 0.25.
"""

import argparse
import csv
import io
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench._setup import django_setup

START = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass
class _Table:
    model: Any
    fields: list[str]
    rows: list[tuple[Any, ...]]


def _generate(count: int, seed: int) -> tuple[bytes, int]:
    """The CSV, and how many stage-change rows it holds."""
    from keel.pipeline.models import SalesProcess, StageKind
    from keel.pipeline.selectors import process_current_version, version_stages

    process = SalesProcess.objects.get(name="New business")
    version = process_current_version(process=process)
    if version is None:
        raise SystemExit("The New business process has no version: run migrations first.")
    stages = list(version_stages(version.pk))
    open_stages = [s.name for s in stages if s.kind == StageKind.OPEN]
    won = next(s.name for s in stages if s.kind == StageKind.WON)
    lost = next(s.name for s in stages if s.kind == StageKind.LOST)
    rng = random.Random(seed)
    companies = [f"Company {i:05d}" for i in range(max(1, count // 10))]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["external_id", "name", "company", "owner", "amount", "stage", "stage_at"])
    rows = 0
    for i in range(count):
        steps = open_stages[: rng.randint(1, len(open_stages))]
        ending = rng.random()
        if ending < 0.25:
            steps = [*steps, won]
        elif ending < 0.5:
            steps = [*steps, lost]
        at = START + timedelta(minutes=rng.randint(0, 700_000))
        company = rng.choice(companies)
        amount = f"{rng.randint(1_000, 500_000)}.{rng.randint(0, 99):02d}"
        for stage in steps:
            when = f"{at:%Y-%m-%d %H:%M}"
            writer.writerow([f"D{i:06d}", f"Deal {i}", company, "bench-owner", amount, stage, when])
            at += timedelta(days=rng.randint(1, 30), minutes=rng.randint(0, 600))
            rows += 1
    return out.getvalue().encode("utf-8"), rows


def _keel(data: bytes, user: Any) -> tuple[float, Any]:
    from django.db import transaction

    from keel.imports.services import ImportFile, import_run

    with transaction.atomic():
        started = time.perf_counter()
        run = import_run(by=user, file=ImportFile(name="deals.csv", data=data), kind="deals")
        seconds = time.perf_counter() - started
        tables = _written(run)
        transaction.set_rollback(True)
    return seconds, tables


def _written(run: Any) -> list[_Table]:
    """The rows the import wrote, read back as Python values: the baseline's input."""
    from keel.crm.models import Company
    from keel.pipeline.models import Deal, StageChange

    tables = []
    for model in (Company, Deal, StageChange):
        fields = [f.attname for f in model._meta.concrete_fields]
        rows = list(model.objects.order_by("pk").values_list(*fields))
        tables.append(_Table(model, fields, rows))
    return tables


def _raw(tables: list[_Table], vendor: str) -> float:
    from django.db import connection, transaction

    from bench.demo import _raw_postgresql, _raw_sqlite
    from keel.demo.generate import bulk_loading

    insert = _raw_sqlite if vendor == "sqlite" else _raw_postgresql
    with transaction.atomic(), bulk_loading():
        connection.ensure_connection()
        started = time.perf_counter()
        for table in tables:
            insert(table)
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    return seconds


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.imports")
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    args, _ = parser.parse_known_args(argv)
    vendor = django_setup("imports.sqlite3")

    from keel.accounts.models import Role, User

    user, _ = User.objects.get_or_create(
        username="bench-owner", defaults={"role": Role.OWNER, "email": "owner@bench.example"}
    )
    started = time.perf_counter()
    data, csv_rows = _generate(args.deals, args.seed)
    generated = time.perf_counter() - started
    keel_seconds, tables = _keel(data, user)
    raw_seconds = _raw(tables, vendor)

    rows = sum(len(t.rows) for t in tables)
    baseline = "sqlite3 executemany" if vendor == "sqlite" else "COPY"
    print(
        f"\nimport on {vendor}: {args.deals:,} deals, {csv_rows:,} CSV rows "
        f"({len(data) / 1e6:.1f} MB, generated in {generated:.1f} s); keel import vs {baseline}"
    )
    print(f"  {'table':16}{'rows':>10}")
    for table in tables:
        print(f"  {table.model._meta.verbose_name_plural:16}{len(table.rows):>10,}")
    print(f"  {'':16}{'rows':>10}{'seconds':>9}{'rows/s':>10}")
    print(f"  {'keel import':16}{rows:>10,}{keel_seconds:>9.2f}{rows / keel_seconds:>10,.0f}")
    label = "raw " + baseline[:12]
    print(f"  {label:16}{rows:>10,}{raw_seconds:>9.2f}{rows / raw_seconds:>10,.0f}")
    print(f"  keel import: {csv_rows / keel_seconds:,.0f} CSV rows/s")
    ratio = raw_seconds / keel_seconds
    verdict = "meets" if ratio >= 0.25 else "MISSES"
    print(f"  {verdict} the target ratio keel/raw >= 0.25 ({ratio:.2f})")


if __name__ == "__main__":
    main()
