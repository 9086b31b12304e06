"""Loading many rows into one table through the database driver's own bulk path.

`bulk_create` prepares every value of every row through the model layer and builds a
multi-row INSERT per batch: 35–45 µs a row, most of a large load. `rows_load` converts
only the columns whose stored form differs from the Python value (dates, times, decimals,
JSON), with the same field methods `bulk_create` uses, and hands the rows to the driver:
`executemany` of one prepared INSERT on SQLite, `COPY … FROM STDIN` on PostgreSQL.

Like `bulk_create`, it sends no signals and runs no `save()`; unlike it, it calls no
`pre_save` (auto_now fields keep the value given) and needs every primary key given:
`ids_reserve` hands out fresh ones. A column's converted values are remembered for the
load, so a value repeated down the rows (today's due time, the load's `created_at`) is
converted once.
"""

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

from django.db import connection, models

# Fields whose value is stored exactly as Python holds it, on every supported database.
_AS_IS = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
        "CharField",
        "TextField",
        "BooleanField",
        "ForeignKey",
        "OneToOneField",
    }
)


def rows_load(
    *, model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Insert `rows` (values in the order of `fields`, attribute names) into `model`'s table.

    Fields of the model missing from `fields` get their defaults. Runs in the caller's
    transaction; foreign keys are checked when it commits.
    """
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    unknown = set(fields) - set(by_attname)
    if unknown:
        raise ValueError(f"{model.__name__} has no field(s) {', '.join(sorted(unknown))}")
    defaults = [f for f in model._meta.concrete_fields if f.attname not in fields]
    columns = [by_attname[name] for name in fields] + defaults
    tail = tuple(f.get_db_prep_save(f.get_default(), connection) for f in defaults)
    converters = [
        (i, _converter(field))
        for i, field in enumerate(columns[: len(fields)])
        if field.get_internal_type() not in _AS_IS
    ]

    def stored(row: Sequence[Any]) -> tuple[Any, ...]:
        values = list(row)
        for i, convert in converters:
            values[i] = convert(values[i])
        return (*values, *tail)

    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(f.column) for f in columns)
    connection.ensure_connection()
    driver = connection.connection  # the same connection and transaction as the ORM's
    if connection.vendor == "postgresql":
        with driver.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(stored(row))
    else:
        marks = ", ".join("?" for _ in columns)
        # Names come from the model's metadata, quoted; values are bound parameters.
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
        driver.executemany(sql, (stored(row) for row in rows))


def _converter(field: models.Field[Any, Any]) -> Callable[[Any], Any]:
    known: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        if not isinstance(value, Hashable):  # a JSON document: converted each time
            return field.get_db_prep_save(value, connection)
        try:
            return known[value]
        except KeyError:
            stored = known[value] = field.get_db_prep_save(value, connection)
            return stored

    return convert


def ids_reserve(model: type[models.Model], count: int) -> list[int]:
    """`count` fresh primary keys for `model`, reserved so no concurrent insert takes them.

    PostgreSQL hands them out from the table's sequence. On SQLite the write lock is held
    from the transaction's BEGIN (IMMEDIATE, keel/settings.py), so nobody inserts
    meanwhile: they start past both the largest id and AUTOINCREMENT's high mark. Call it
    inside the transaction that inserts them.
    """
    if count <= 0:
        return []
    table = model._meta.db_table
    column = model._meta.pk.column if model._meta.pk else "id"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, column, count],
            )
            return [row[0] for row in cursor.fetchall()]
        quote = connection.ops.quote_name
        cursor.execute(f"SELECT MAX({quote(column)}) FROM {quote(table)}")  # noqa: S608
        top = cursor.fetchone()[0] or 0
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        mark = cursor.fetchone()
        start = max(top, mark[0] if mark else 0) + 1
        return list(range(start, start + count))
