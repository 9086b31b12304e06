"""Django for a benchmark: a scratch database unless KEEL_DATABASE_URL names one."""

import os
import tempfile
from pathlib import Path


def django_setup(scratch_name: str, *, keep: bool = False) -> str:
    """Configure Django for production-like timing, empty the database, return its vendor.

    With `keep`, the database keeps its rows and the default scratch file its place in the
    temporary directory, for a benchmark that reuses what an earlier run built.
    """
    if not os.environ.get("KEEL_DATABASE_URL"):
        folder = tempfile.gettempdir() if keep else tempfile.mkdtemp(prefix="keel-bench-")
        os.environ["KEEL_DATABASE_URL"] = f"sqlite:///{Path(folder) / scratch_name}"
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
