"""One file holding everything in Keel's database, and putting it back exactly.

The file is gzip-compressed JSON lines (UTF-8):

    {"format": "keel-backup", "format_version": 1, "keel_version": …, "created_at": …,
     "database": "sqlite" | "postgresql", "migrations": {app: [applied migration, …]},
     "tables": {"crm.company": rows, …}, "excluded": {label: why}}      the manifest
    {"table": "contenttypes.contenttype", "fields": ["app_label", "model"], "rows": n}
    ["crm", "company"]                                                    n rows, one a line
    {"table": "crm.company", "fields": ["id", "created_at", …], "rows": n}
    [1, "2026-11-24T09:30:15.123456+00:00", …]
    …
    {"end": total rows}

Every table of every installed app is in it, with its primary keys, except sessions
(a restore signs everyone out). Content types and permissions are the exception the
other way: `keel migrate` creates them with ids of its own, so they are written by
natural key (app label, model, codename) and every reference to them too.

Values keep their exact type: decimals as strings, aware datetimes as UTC ISO 8601 to
the microsecond, dates and times as ISO, durations as microseconds, JSON as JSON. A
restore INSERTs only (never UPDATE: stage history refuses it), inside one transaction,
through the bulk path of keel.core.bulk, then moves PostgreSQL's id sequences on.
"""

import base64
import gzip
import json
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from django.apps import apps
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from keel.core.bulk import rows_load
from keel.core.exceptions import KeelError

FORMAT = "keel-backup"
FORMAT_VERSION = 1
CHUNK = 2000  # rows read from the database at a time

# Left out, and why (the manifest says so too).
EXCLUDED = {
    "sessions.session": "sign-ins; a restore signs everyone out",
    "contenttypes.contenttype": "written by natural key, ids made by `keel migrate`",
    "auth.permission": "written by natural key, ids made by `keel migrate`",
}
# What `keel migrate` itself writes (the shipped sales processes, their completion plans,
# the default scorecard metrics and audit entries): a database holding only these counts as empty.
SEEDED = frozenset(
    {
        "pipeline.salesprocess",
        "pipeline.processversion",
        "pipeline.stage",
        "activities.completionplan",
        "activities.completionplanstep",
        "core.auditentry",
        "scorecard.metric",
    }
)

Progress = Callable[[str, int, int], None]  # (table, rows done, rows in the table)


class BackupRefused(KeelError):
    """The file is no Keel backup, or does not fit this database."""


@dataclass(frozen=True)
class Manifest:
    keel_version: str
    created_at: str
    database: str
    migrations: dict[str, list[str]]
    tables: dict[str, int]

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


# --- what is backed up ------------------------------------------------------------------


def backup_models() -> list[type[models.Model]]:
    """Every table's model (many-to-many tables too), less the excluded, by label."""
    found = [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy and model._meta.label_lower not in EXCLUDED
    ]
    return sorted(found, key=lambda model: model._meta.label_lower)


def _fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return list(model._meta.concrete_fields)


def applied_migrations() -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app, name in MigrationRecorder(connection).applied_migrations():
        applied.setdefault(app, []).append(name)
    return {app: sorted(names) for app, names in sorted(applied.items())}


def keel_version() -> str:
    try:
        return metadata.version("keel-crm")
    except metadata.PackageNotFoundError:
        return "unknown"


# --- values -----------------------------------------------------------------------------

Natural = dict[int, list[str]]  # a content type's or permission's id → its natural key


def _encoder(
    field: models.Field[Any, Any], naturals: dict[type[models.Model], Natural]
) -> Callable[[Any], Any] | None:
    """How a field's value is written to JSON; None when JSON holds it as it is."""
    if field.is_relation and field.related_model in naturals:
        keys = naturals[field.related_model]  # type: ignore[index]
        return lambda pk: keys[pk]
    kind = field.get_internal_type()
    if kind == "DateTimeField":
        return lambda value: value.astimezone(UTC).isoformat()
    if kind in ("DateField", "TimeField"):
        return lambda value: value.isoformat()
    if kind in ("DecimalField", "UUIDField"):
        return str
    if kind == "DurationField":
        return lambda value: value // timedelta(microseconds=1)
    if kind == "BinaryField":
        return lambda value: base64.b64encode(bytes(value)).decode()
    return None


def _decoder(
    field: models.Field[Any, Any], naturals: dict[type[models.Model], dict[tuple[str, ...], int]]
) -> Callable[[Any], Any] | None:
    """The inverse of _encoder, with natural keys mapped to this database's ids."""
    if field.is_relation and field.related_model in naturals:
        ids = naturals[field.related_model]  # type: ignore[index]
        return lambda key: ids[tuple(key)]
    kind = field.get_internal_type()
    decoders: dict[str, Callable[[Any], Any]] = {
        "DateTimeField": datetime.fromisoformat,
        "DateField": date.fromisoformat,
        "TimeField": time.fromisoformat,
        "DecimalField": Decimal,
        "UUIDField": uuid.UUID,
        "DurationField": lambda value: timedelta(microseconds=value),
        "BinaryField": base64.b64decode,
    }
    return decoders.get(kind)


def _convert(
    converters: list[tuple[int, Callable[[Any], Any]]],
) -> Callable[[list[Any]], list[Any]]:
    def convert(row: list[Any]) -> list[Any]:
        for i, function in converters:
            if row[i] is not None:
                row[i] = function(row[i])
        return row

    return convert


# --- backup -----------------------------------------------------------------------------


@contextmanager
def _snapshot() -> Iterator[None]:
    """Read every table as of one moment, without holding up the people writing."""
    if connection.in_atomic_block:  # the caller's transaction is the snapshot
        yield
    elif connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield
    else:
        # A deferred transaction: a snapshot that takes no write lock. Django's atomic()
        # would BEGIN IMMEDIATE and keep every writer waiting for the whole backup.
        with connection.cursor() as cursor:
            cursor.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("ROLLBACK")


def _naturals() -> dict[type[models.Model], Natural]:
    types = {
        ct.pk: [ct.app_label, ct.model] for ct in ContentType.objects.order_by("app_label", "model")
    }
    permissions = {
        p.pk: [p.codename, *types[p.content_type_id]]
        for p in Permission.objects.order_by("content_type__app_label", "codename")
    }
    return {ContentType: types, Permission: permissions}


def backup_write(*, path: Path, progress: Progress | None = None) -> Manifest:
    """Write every table to `path` (replaced only once the whole file is written)."""
    report = progress or (lambda table, done, total: None)
    model_list = backup_models()
    with _snapshot():
        naturals = _naturals()
        counts = {m._meta.label_lower: m._base_manager.count() for m in model_list}
        manifest = Manifest(
            keel_version=keel_version(),
            created_at=timezone.now().isoformat(),
            database=connection.vendor,
            migrations=applied_migrations(),
            tables=counts,
        )
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        os.close(handle)
        try:
            with gzip.open(temporary, "wt", encoding="utf-8", compresslevel=6) as file:
                _write(file, manifest, naturals, model_list, report)
            Path(temporary).replace(path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return manifest


def _line(file: IO[str], value: Any) -> None:
    file.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    file.write("\n")


def _write(
    file: IO[str],
    manifest: Manifest,
    naturals: dict[type[models.Model], Natural],
    model_list: list[type[models.Model]],
    report: Progress,
) -> None:
    _line(
        file,
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "keel_version": manifest.keel_version,
            "created_at": manifest.created_at,
            "database": manifest.database,
            "migrations": manifest.migrations,
            "tables": manifest.tables,
            "excluded": EXCLUDED,
        },
    )
    types, permissions = naturals[ContentType], naturals[Permission]
    _line(file, {"table": "contenttypes.contenttype", "fields": ["app_label", "model"],
                 "rows": len(types)})  # fmt: skip
    for key in types.values():
        _line(file, key)
    names = dict(Permission.objects.values_list("pk", "name"))
    _line(file, {"table": "auth.permission", "fields": ["codename", "app_label", "model", "name"],
                 "rows": len(permissions)})  # fmt: skip
    for pk, key in permissions.items():
        _line(file, [*key, names[pk]])
    total = 0
    for model in model_list:
        label, count = model._meta.label_lower, manifest.tables[model._meta.label_lower]
        fields = _fields(model)
        encode = _convert(
            [(i, e) for i, f in enumerate(fields) if (e := _encoder(f, naturals)) is not None]
        )
        _line(file, {"table": label, "fields": [f.attname for f in fields], "rows": count})
        rows = model._base_manager.order_by("pk").values_list(*(f.attname for f in fields))
        done = 0
        report(label, 0, count)
        for row in rows.iterator(chunk_size=CHUNK):
            _line(file, encode(list(row)))
            done += 1
            if done % CHUNK == 0:
                report(label, done, count)
        if done != count:  # the snapshot makes this impossible; a file must not lie
            raise RuntimeError(f"{label}: counted {count} rows, read {done}")
        report(label, done, count)
        total += done
    _line(file, {"end": total})


# --- restore ----------------------------------------------------------------------------


class _Reader:
    """The lines of a backup file, one JSON value each, with the line number for errors."""

    def __init__(self, file: IO[str], path: Path) -> None:
        self.file, self.path, self.number = file, path, 0

    def next(self) -> Any:
        try:
            line = self.file.readline()
        except (OSError, EOFError, UnicodeDecodeError) as error:
            raise BackupRefused(f"{self.path} is damaged or cut short ({error}).") from None
        self.number += 1
        if not line:
            raise BackupRefused(f"{self.path} ends early, at line {self.number}: it is cut short.")
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            raise BackupRefused(f"{self.path}, line {self.number}: not JSON.") from None


@contextmanager
def _reading(path: Path) -> Iterator[_Reader]:
    if not path.is_file():
        raise BackupRefused(f"{path} is not a file.")
    with gzip.open(path, "rt", encoding="utf-8") as file:
        yield _Reader(file, path)


def manifest_read(reader: _Reader) -> Manifest:
    try:
        head = reader.next()
    except BackupRefused:
        raise BackupRefused(f"{reader.path} is not a Keel backup (no manifest).") from None
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise BackupRefused(f"{reader.path} is not a Keel backup.")
    if head.get("format_version") != FORMAT_VERSION:
        raise BackupRefused(
            f"{reader.path} is a Keel backup of format {head.get('format_version')}; "
            f"this Keel reads format {FORMAT_VERSION}."
        )
    return Manifest(
        keel_version=head["keel_version"],
        created_at=head["created_at"],
        database=head["database"],
        migrations=head["migrations"],
        tables=head["tables"],
    )


def backup_manifest(*, path: Path) -> Manifest:
    with _reading(path) as reader:
        return manifest_read(reader)


def schema_differences(*, manifest: Manifest) -> list[str]:
    """How the backup's migrations differ from this database's; empty when they match."""
    here = applied_migrations()
    differences = []
    for app in sorted(set(here) | set(manifest.migrations)):
        theirs, ours = set(manifest.migrations.get(app, [])), set(here.get(app, []))
        if theirs - ours:
            differences.append(f"{app}: the backup has {', '.join(sorted(theirs - ours))}")
        if ours - theirs:
            differences.append(f"{app}: this database has {', '.join(sorted(ours - theirs))}")
    return differences


def database_contents() -> dict[str, int]:
    """Rows per table that a restore would delete, less what `keel migrate` writes."""
    found = {}
    for model in backup_models():
        label = model._meta.label_lower
        if label not in SEEDED and model._base_manager.exists():
            found[label] = model._base_manager.count()
    return found


def restore_check(*, manifest: Manifest, force: bool) -> None:
    """Refuse, before anything is written, a backup of another schema or a database in use."""
    if not MigrationRecorder(connection).has_table():
        raise BackupRefused("This database has no tables yet: run `keel migrate` first.")
    differences = schema_differences(manifest=manifest)
    if differences:
        raise BackupRefused(
            f"The backup was made on a different schema (Keel {manifest.keel_version}): restore "
            "it into a database migrated to the same migrations, then run `keel migrate`.",
            details=differences,
        )
    contents = database_contents()
    if contents and not force:
        raise BackupRefused(
            "This database is not empty; a restore would delete its data. Restore into a "
            "freshly migrated database, or use --force to delete this data first.",
            details=[f"{label}: {count:,} rows" for label, count in contents.items()],
        )


def restore(*, path: Path, force: bool = False, progress: Progress | None = None) -> Manifest:
    """Replace this database's data with the backup at `path`: all of it, or nothing."""
    report = progress or (lambda table, done, total: None)
    with _reading(path) as reader:
        manifest = manifest_read(reader)
        restore_check(manifest=manifest, force=force)
        model_list = backup_models()
        by_label = {model._meta.label_lower: model for model in model_list}
        with transaction.atomic():
            _wipe(model_list)
            naturals = _references(reader)
            total = 0
            for _ in model_list:
                total += _table(reader, by_label, naturals, report)
            end = reader.next()
            if end != {"end": total}:
                raise BackupRefused(f"{path}: the file does not end where its tables do.")
            _sequences_reset(model_list)
    ContentType.objects.clear_cache()
    return manifest


def _wipe(model_list: list[type[models.Model]]) -> None:
    if connection.vendor == "postgresql":
        # TRUNCATE refuses tables with foreign-key checks still pending in this transaction.
        connection.check_constraints()
    tables = [model._meta.db_table for model in model_list]
    if apps.is_installed("django.contrib.sessions"):
        tables.append(apps.get_model("sessions", "Session")._meta.db_table)
    connection.ops.execute_sql_flush(connection.ops.sql_flush(no_style(), tables))


def _header(reader: _Reader, table: str) -> tuple[list[str], int]:
    head = reader.next()
    if not isinstance(head, dict) or head.get("table") != table:
        raise BackupRefused(f"{reader.path}, line {reader.number}: expected the table {table}.")
    return head["fields"], head["rows"]


def _references(reader: _Reader) -> dict[type[models.Model], dict[tuple[str, ...], int]]:
    """The backup's content types and permissions, found or made here, by natural key."""
    types: dict[tuple[str, ...], int] = {}
    _, count = _header(reader, "contenttypes.contenttype")
    for _ in range(count):
        app_label, model = reader.next()
        ct, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
        types[(app_label, model)] = ct.pk
    permissions: dict[tuple[str, ...], int] = {}
    existing = {
        (codename, app_label, model): pk
        for pk, codename, app_label, model in Permission.objects.values_list(
            "pk", "codename", "content_type__app_label", "content_type__model"
        )
    }
    _, count = _header(reader, "auth.permission")
    for _ in range(count):
        codename, app_label, model, name = reader.next()
        key = (codename, app_label, model)
        if key not in existing:
            existing[key] = Permission.objects.create(
                codename=codename, name=name, content_type_id=types[(app_label, model)]
            ).pk
        permissions[key] = existing[key]
    return {ContentType: types, Permission: permissions}


def _table(
    reader: _Reader,
    by_label: dict[str, type[models.Model]],
    naturals: dict[type[models.Model], dict[tuple[str, ...], int]],
    report: Progress,
) -> int:
    head = reader.next()
    label = head.get("table") if isinstance(head, dict) else None
    model = by_label.get(label or "")
    if model is None:
        raise BackupRefused(f"{reader.path}, line {reader.number}: unknown table {label!r}.")
    fields = {f.attname: f for f in _fields(model)}
    names, count = head["fields"], head["rows"]
    if set(names) != set(fields):
        raise BackupRefused(
            f"{reader.path}: the table {label} has other columns here than in the backup."
        )
    decode = _convert(
        [
            (i, d)
            for i, name in enumerate(names)
            if (d := _decoder(fields[name], naturals)) is not None
        ]
    )

    def rows() -> Iterator[list[Any]]:
        for done in range(count):
            if done % CHUNK == 0:
                report(label or "", done, count)
            yield decode(reader.next())
        report(label or "", count, count)

    if count:
        rows_load(model=model, fields=names, rows=rows())
    return int(count)


def _sequences_reset(model_list: list[type[models.Model]]) -> None:
    """Move PostgreSQL's id sequences past the restored ids (SQLite needs nothing)."""
    statements = connection.ops.sequence_reset_sql(no_style(), model_list)
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
