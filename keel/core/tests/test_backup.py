"""`keel backup` and `keel restore`: every table comes back exactly, on this database and
on the other one (SQLite ↔ PostgreSQL), and a restore refuses what would lose data."""

import gzip
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db import connection, models

from keel.accounts.models import User
from keel.core.backup import BackupRefused, backup_models, backup_write, restore
from keel.core.models import AuditEntry, InstanceSetting
from keel.crm.models import Company, Contact
from keel.demo.generate import demo_build
from keel.pipeline.models import Deal, StageChange

TODAY = date(2026, 6, 1)
# One scratch database per pytest-xdist worker, so parallel runs do not drop each other's.
SCRATCH_DATABASE = "keel_restore_check" + (
    f"_{os.environ['PYTEST_XDIST_WORKER']}" if "PYTEST_XDIST_WORKER" in os.environ else ""
)
AT = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def _business() -> None:
    """The small demo, and rows at the edges of what each type holds."""
    demo_build(size="small", seed=3, today=TODAY)
    InstanceSetting.objects.create(
        key="edge",
        value={
            "naïve": "☃ → ü 日本",
            "list": [1, 2.5, None, True, ""],
            "nested": {"z": 1, "a": {}},
        },
    )
    company = Company.objects.create(name='Zeta "Quotes", Line\nBreak 🚀', employees=None)
    Contact.objects.create(company=company, last_name="Ørsted", email="", phone="=1+1")
    deal = Deal.objects.order_by("pk").first()
    assert deal is not None
    Deal.objects.filter(pk=deal.pk).update(amount=Decimal("1234567.89"), expected_close=None)
    AuditEntry.objects.create(
        at=AT,
        actor=None,
        action="edge",
        content_type=ContentType.objects.get_for_model(Deal),
        object_id=str(deal.pk),
        changes={"amount": ["0.10", "1234567.89"], "note": None},
    )


def _canonical() -> dict[str, list[tuple[Any, ...]]]:
    """Every backed-up table's rows as Python values, references to content types and
    permissions by name: what must be the same after a restore."""
    types = {ct.pk: (ct.app_label, ct.model) for ct in ContentType.objects.all()}
    dump = {}
    for model in backup_models():
        fields = list(model._meta.concrete_fields)
        names = [f.attname for f in fields]
        rows = model._base_manager.order_by("pk").values_list(*names)
        if any(f.is_relation and f.related_model is ContentType for f in fields):
            at = [i for i, f in enumerate(fields) if f.related_model is ContentType]
            rows = [tuple(types[v] if i in at else v for i, v in enumerate(r)) for r in rows]
        dump[model._meta.label_lower] = list(rows)
    return dump


def _body(path: Path) -> list[Any]:
    """A backup's tables, parsed: JSON objects compare without their key order, which
    PostgreSQL's jsonb does not keep."""
    with gzip.open(path, "rt", encoding="utf-8") as file:
        manifest = json.loads(file.readline())
        return [manifest["tables"], manifest["migrations"], *(json.loads(line) for line in file)]


# --- on this database -------------------------------------------------------------------


@pytest.mark.django_db
def test_a_restore_brings_back_every_row_exactly(tmp_path: Path):
    _business()
    before = _canonical()
    assert before["pipeline.stagechange"] and before["accounts.user"] and before["auth.group"] == []
    path = tmp_path / "keel.backup.gz"
    manifest = backup_write(path=path)
    assert manifest.tables["pipeline.deal"] == 800
    assert "sessions.session" not in manifest.tables

    # Change things the restore must undo: delete, add, edit.
    Deal.objects.filter(pk__in=Deal.objects.order_by("pk").values("pk")[:10]).delete()
    Company.objects.create(name="Made after the backup")
    User.objects.update(first_name="Changed")

    out = StringIO()
    call_command("restore", str(path), "--force", stdout=out)
    assert _canonical() == before
    assert "Restored from" in out.getvalue() and "pipeline.stagechange" in out.getvalue()

    # The id sequences moved past the restored rows.
    assert Company.objects.create(name="New after restore").pk > max(
        pk for pk, *_ in before["crm.company"]
    )
    edge = AuditEntry.objects.get(action="edge")
    assert edge.at == AT and edge.content_type.model_class() is Deal


@pytest.mark.django_db
def test_a_restore_refuses_a_database_with_data_and_changes_nothing(tmp_path: Path, alice: User):
    path = tmp_path / "keel.backup.gz"
    backup_write(path=path)
    Company.objects.create(name="Keep me")
    with pytest.raises(BackupRefused) as refused:
        restore(path=path)
    assert "not empty" in str(refused.value) and "crm.company: 1 rows" in str(refused.value)
    assert Company.objects.filter(name="Keep me").exists()
    with pytest.raises(CommandError, match="--force"):
        call_command("restore", str(path), stdout=StringIO())


@pytest.mark.django_db
def test_a_restore_refuses_a_backup_of_another_schema(tmp_path: Path):
    path, other = tmp_path / "keel.backup.gz", tmp_path / "other.backup.gz"
    backup_write(path=path)
    with gzip.open(path, "rt", encoding="utf-8") as source:
        lines = source.readlines()
    manifest = json.loads(lines[0])
    manifest["migrations"]["pipeline"].append("0099_from_the_future")
    with gzip.open(other, "wt", encoding="utf-8") as target:
        target.writelines([json.dumps(manifest) + "\n", *lines[1:]])
    with pytest.raises(BackupRefused) as refused:
        restore(path=other, force=True)
    assert "different schema" in str(refused.value)
    assert "pipeline: the backup has 0099_from_the_future" in str(refused.value)


@pytest.mark.django_db
def test_a_restore_refuses_what_is_no_backup_or_is_cut_short(tmp_path: Path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(BackupRefused, match=r"damaged|not a Keel backup"):
        restore(path=text, force=True)
    with pytest.raises(BackupRefused, match="is not a file"):
        restore(path=tmp_path / "missing.gz", force=True)

    path = tmp_path / "keel.backup.gz"
    Company.objects.create(name="Acme")
    backup_write(path=path)
    with gzip.open(path, "rt", encoding="utf-8") as source:
        lines = source.readlines()
    short = tmp_path / "short.gz"
    with gzip.open(short, "wt", encoding="utf-8") as target:
        target.writelines(lines[:-3])
    with pytest.raises(BackupRefused, match="cut short"):
        restore(path=short, force=True)
    assert Company.objects.filter(name="Acme").exists()  # all or nothing


@pytest.mark.django_db
def test_stage_history_is_restored_by_insert_only(tmp_path: Path):
    """The database refuses an UPDATE of stage history; a restore only INSERTs it."""
    _business()
    history = list(StageChange.objects.order_by("pk").values_list("pk", "at", "evidence"))
    path = tmp_path / "keel.backup.gz"
    backup_write(path=path)
    restore(path=path, force=True)
    assert list(StageChange.objects.order_by("pk").values_list("pk", "at", "evidence")) == history


# --- on the other database --------------------------------------------------------------


def _keel(*args: str, database_url: str) -> str:
    env = {**os.environ, "KEEL_DATABASE_URL": database_url, "KEEL_SECRET_KEY": "test-only"}
    env.pop("KEEL_TEST_DATABASE_NAME", None)
    done = subprocess.run(  # noqa: S603 - our own command, arguments we chose
        [sys.executable, "-m", "keel", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _postgres_server() -> str:
    """The URL of a PostgreSQL server's maintenance database, or skip the test."""
    import psycopg

    configured = os.environ.get("KEEL_TEST_POSTGRES_URL", "")
    base = configured or "postgresql://postgres@127.0.0.1:5432/postgres"
    admin = base.rsplit("/", 1)[0] + "/postgres"
    try:
        psycopg.connect(admin, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        if configured:
            pytest.fail(f"KEEL_TEST_POSTGRES_URL is set but PostgreSQL is unreachable: {error}")
        pytest.skip("PostgreSQL is not reachable and KEEL_TEST_POSTGRES_URL is not set")
    return admin


def _recreate(admin: str, name: str, *, drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


@pytest.fixture
def other_database(tmp_path: Path):
    """A fresh, migrated database of the other vendor than the one the tests run on."""
    if connection.vendor == "postgresql":
        url = f"sqlite:///{tmp_path / 'other.sqlite3'}"
        _keel("migrate", "--no-input", "-v", "0", database_url=url)
        yield url
        return
    admin = _postgres_server()
    _recreate(admin, SCRATCH_DATABASE)
    url = admin.rsplit("/", 1)[0] + f"/{SCRATCH_DATABASE}"
    try:
        _keel("migrate", "--no-input", "-v", "0", database_url=url)
        yield url
    finally:
        _recreate(admin, SCRATCH_DATABASE, drop_only=True)


@pytest.mark.django_db(transaction=True)
def test_a_backup_restores_exactly_on_the_other_database(tmp_path: Path, other_database: str):
    _business()
    here, there = tmp_path / "here.backup.gz", tmp_path / "there.backup.gz"
    call_command("backup", str(here), stdout=StringIO())

    out = _keel("restore", str(here), database_url=other_database)
    assert "Restored from" in out
    _keel("backup", str(there), database_url=other_database)

    with gzip.open(there, "rt", encoding="utf-8") as file:
        assert json.loads(file.readline())["database"] != connection.vendor
    ours, theirs = _body(here), _body(there)
    assert len(ours) == len(theirs) > 15_000
    for line, (a, b) in enumerate(zip(ours, theirs, strict=True), start=2):
        assert a == b, f"line {line} differs"


def test_every_table_of_every_app_is_backed_up():
    labels = {model._meta.label_lower for model in backup_models()}
    assert {"accounts.user", "accounts.team", "pipeline.stagechange", "core.auditentry"} <= labels
    assert "accounts.user_groups" in labels  # many-to-many tables too
    assert not {"sessions.session", "contenttypes.contenttype", "auth.permission"} & labels
    assert all(issubclass(m, models.Model) for m in backup_models())
