"""Django for a benchmark: a scratch database unless KEEL_DATABASE_URL names one."""

import os
import tempfile
from pathlib import Path


def _postgres_database_ensure(url: str) -> None:
    """Create the PostgreSQL database a benchmark is pointed at, if it is not there yet."""
    import dj_database_url
    import psycopg
    from psycopg import sql

    config = dj_database_url.parse(url)
    if "postgresql" not in config["ENGINE"]:
        return
    with psycopg.connect(
        host=config.get("HOST") or None,
        port=config.get("PORT") or None,
        user=config.get("USER") or None,
        password=config.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    ) as maintenance:
        name = str(config["NAME"])
        found = maintenance.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if found.fetchone() is None:
            maintenance.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def django_setup(scratch_name: str, *, keep: bool = False) -> str:
    """Configure Django for production-like timing, empty the database, return its vendor.

    With `keep`, the database keeps its rows and the default scratch file its place in the
    temporary directory, for a benchmark that reuses what an earlier run built.
    """
    if not os.environ.get("KEEL_DATABASE_URL"):
        folder = tempfile.gettempdir() if keep else tempfile.mkdtemp(prefix="keel-bench-")
        os.environ["KEEL_DATABASE_URL"] = f"sqlite:///{Path(folder) / scratch_name}"
    _postgres_database_ensure(os.environ["KEEL_DATABASE_URL"])
    # DEBUG records every query (on SQLite with an extra query each): measure production.
    os.environ["KEEL_DEBUG"] = "0"
    os.environ.setdefault("KEEL_SECRET_KEY", "bench-only")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keel.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if not keep and "pipeline_deal" in connection.introspection.table_names():
        call_command("flush", "--no-input", verbosity=0)
    call_command("migrate", "--no-input", verbosity=0)
    return str(connection.vendor)
