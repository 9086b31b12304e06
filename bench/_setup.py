"""Django for a benchmark: a scratch database unless KEEL_DATABASE_URL names one."""

import os
import tempfile
from pathlib import Path


def django_setup(scratch_name: str) -> str:
    """Configure Django for production-like timing, empty the database, return its vendor."""
    if not os.environ.get("KEEL_DATABASE_URL"):
        scratch = Path(tempfile.mkdtemp(prefix="keel-bench-")) / scratch_name
        os.environ["KEEL_DATABASE_URL"] = f"sqlite:///{scratch}"
    # DEBUG records every query (on SQLite with an extra query each): measure production.
    os.environ["KEEL_DEBUG"] = "0"
    os.environ.setdefault("KEEL_SECRET_KEY", "bench-only")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keel.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if "pipeline_deal" in connection.introspection.table_names():
        call_command("flush", "--no-input", verbosity=0)
    call_command("migrate", "--no-input", verbosity=0)
    return str(connection.vendor)
