"""Demo generation rows/s: Keel's writer next to a raw insert of the very same rows.

    python -m bench.demo [--size small|medium|large] [--seed N]
                                            (KEEL_DATABASE_URL picks the database;
                                             default: a scratch SQLite file)

The demo business is simulated once. Keel then writes the rows the way `keel demo` does
(`rows_insert`: each value converted by its model field, defaults filled in, progress
reported, then the driver's bulk path), table by table, in one transaction that is
rolled back; the baseline writes the same tuples into the same empty tables with the
driver alone and conversions written for exactly these columns: sqlite3's executemany on
SQLite, COPY on PostgreSQL. Both run under the same bulk-load conditions (no GC pauses,
SQLite's larger page cache). The gap is the price of the model layer's conversions.
"""

import argparse
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from bench._setup import django_setup

TODAY = date(2026, 3, 4)  # a fixed present, so every run inserts the same rows


# --- the baseline -----------------------------------------------------------------------


Converter = Callable[[Any], Any]


def _sqlite_converters(model: Any, fields: Sequence[str]) -> list[Converter | None]:
    """What sqlite3 needs per column to store what Django stores (None: the value as is)."""
    from django.db import models

    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    converters: list[Converter | None] = []
    for name in fields:
        field = by_attname[name]
        if isinstance(field, models.DateTimeField):
            converters.append(_sqlite_datetime)
        elif isinstance(field, models.DateField):
            converters.append(_isoformat)
        elif isinstance(field, models.DecimalField):
            converters.append(_text)
        elif isinstance(field, models.JSONField):
            converters.append(json.dumps)
        else:
            converters.append(None)
    return converters


def _sqlite_datetime(value: datetime | None) -> str | None:
    # Django keeps naive UTC text on SQLite.
    return None if value is None else str(value.astimezone(UTC).replace(tzinfo=None))


def _isoformat(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _raw_sqlite(table: Any) -> None:
    from django.db import connection

    model, fields, rows = table.model, table.fields, table.rows
    converters = _sqlite_converters(model, fields)
    columns = ", ".join(f'"{model._meta.get_field(_name(model, f)).column}"' for f in fields)
    marks = ", ".join("?" for _ in fields)
    convert = [(i, c) for i, c in enumerate(converters) if c is not None]

    def stored(row: tuple[Any, ...]) -> tuple[Any, ...]:
        values = list(row)
        for i, converter in convert:
            values[i] = converter(values[i])
        return tuple(values)

    sqlite = connection.connection  # the driver's own connection, same transaction
    sqlite.executemany(
        f'INSERT INTO "{model._meta.db_table}" ({columns}) VALUES ({marks})',
        (stored(row) for row in rows),
    )


def _raw_postgresql(table: Any) -> None:
    from django.db import connection, models
    from psycopg.types.json import Jsonb

    model, fields, rows = table.model, table.fields, table.rows
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    json_at = [i for i, f in enumerate(fields) if isinstance(by_attname[f], models.JSONField)]
    columns = ", ".join(f'"{model._meta.get_field(_name(model, f)).column}"' for f in fields)
    with connection.connection.cursor() as cursor:
        sql = f'COPY "{model._meta.db_table}" ({columns}) FROM STDIN'
        with cursor.copy(sql) as copy:
            for row in rows:
                if json_at:
                    values = list(row)
                    for i in json_at:
                        values[i] = Jsonb(values[i])
                    row = tuple(values)
                copy.write_row(row)


def _name(model: Any, attname: str) -> str:
    for field in model._meta.concrete_fields:
        if field.attname == attname:
            return str(field.name)
    raise LookupError(attname)


# --- the run ----------------------------------------------------------------------------


def _keel(rows: Any) -> dict[str, float]:
    from django.db import transaction

    from keel.demo.generate import rows_insert

    with transaction.atomic():
        seconds = rows_insert(rows=rows)
        transaction.set_rollback(True)
    return seconds


def _raw(rows: Any, vendor: str) -> dict[str, float]:
    from django.db import connection, transaction

    from keel.demo.generate import bulk_loading

    insert = _raw_sqlite if vendor == "sqlite" else _raw_postgresql
    seconds = {}
    with transaction.atomic(), bulk_loading():
        connection.ensure_connection()
        for label, table in rows.tables.items():
            started = time.perf_counter()
            insert(table)
            seconds[label] = time.perf_counter() - started
        transaction.set_rollback(True)
    return seconds


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.demo")
    parser.add_argument("--size", choices=("small", "medium", "large"), default="medium")
    parser.add_argument("--seed", type=int, default=42)
    args, _ = parser.parse_known_args(argv)
    vendor = django_setup("demo.sqlite3")

    from django.db import transaction

    from keel.demo.generate import bulk_loading, demo_wipe, world_load
    from keel.demo.simulate import demo_simulate

    with transaction.atomic():
        demo_wipe()  # the tables start empty for both runs
    world = world_load()
    started = time.perf_counter()
    with bulk_loading():
        rows = demo_simulate(world=world, size=args.size, seed=args.seed, today=TODAY)
    simulated = time.perf_counter() - started
    keel = _keel(rows)
    raw = _raw(rows, vendor)

    baseline = "sqlite3 executemany" if vendor == "sqlite" else "COPY"
    print(f"\ndemo generation on {vendor}, size {args.size}: keel rows_insert vs {baseline}")
    header = f"  {'table':16}{'rows':>10}{'keel s':>9}{'rows/s':>10}{'raw s':>8}{'rows/s':>10}"
    print(header + f"{'keel/raw':>10}")
    for label, table in rows.tables.items():
        count = len(table.rows)
        if count:
            print(_line(label, count, keel[label], raw[label]))
    total = rows.count
    print(_line("all tables", total, sum(keel.values()), sum(raw.values())))
    whole = simulated + sum(keel.values())
    print(
        f"  simulation {simulated:.2f} s; simulation + keel insert {whole:.2f} s "
        f"= {total / whole:,.0f} rows/s"
    )
    ratio = (total / sum(keel.values())) / (total / sum(raw.values()))
    verdict = "meets" if ratio >= 0.30 else "MISSES"
    print(f"  {verdict} the target ratio keel/raw >= 0.30 ({ratio:.2f})")


def _line(label: str, count: int, keel_seconds: float, raw_seconds: float) -> str:
    keel_rate, raw_rate = count / keel_seconds, count / raw_seconds
    return (
        f"  {label.replace('_', ' '):16}{count:>10,}{keel_seconds:>9.2f}{keel_rate:>10,.0f}"
        f"{raw_seconds:>8.2f}{raw_rate:>10,.0f}{keel_rate / raw_rate:>10.2f}"
    )


if __name__ == "__main__":
    main()
