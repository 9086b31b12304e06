"""Reports read from the replica when one is configured; everything else, and every
write, stays on the primary."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from keel.accounts.models import User
from keel.core.replica import ReplicaRouter, replica_reads
from keel.crm.models import Company

ROUTER = ReplicaRouter()


def test_reads_stay_on_the_primary_without_a_replica() -> None:
    assert "replica" not in settings.DATABASES
    with replica_reads():
        assert ROUTER.db_for_read(Company) is None


def test_reads_inside_a_report_go_to_the_replica(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(settings.DATABASES, "replica", settings.DATABASES["default"])
    assert ROUTER.db_for_read(Company) is None
    with replica_reads():
        assert ROUTER.db_for_read(Company) == "replica"
        assert ROUTER.db_for_write(Company) == "default"
    assert ROUTER.db_for_read(Company) is None
    assert not ROUTER.allow_migrate("replica", "crm")
    assert ROUTER.allow_migrate("default", "crm")


# Run in a process of its own, so that Keel starts with two database aliases from the
# environment, the way a deployment does. Prints which alias each request queried.
PROBE = """
import json, django
django.setup()
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from keel.accounts.models import User

owner = User.objects.using("default").get(username="olga")
client = Client()
client.force_login(owner)
seen = {}
for name, method, url in [
    ("scorecard", "get", "/scorecard/"),
    ("forecast", "get", "/forecast/"),
    ("deals", "get", "/deals/"),
    ("company_new", "post", "/companies/new/"),
]:
    with CaptureQueriesContext(connections["default"]) as primary, \\
         CaptureQueriesContext(connections["replica"]) as replica:
        data = {"name": "Written on the primary", "tier": "standard"} if method == "post" else None
        response = getattr(client, method)(url, data)
    seen[name] = {
        "status": response.status_code,
        "primary": len(primary.captured_queries),
        "replica": len(replica.captured_queries),
        "replica_writes": sum(
            q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
            for q in replica.captured_queries
        ),
    }
print(json.dumps(seen))
"""


@pytest.mark.django_db(transaction=True)
def test_a_deployment_with_a_replica_reads_its_reports_there(tmp_path: Path) -> None:
    User.objects.create_user(username="olga", password="x", role="owner")
    primary, replica = tmp_path / "primary.sqlite3", tmp_path / "replica.sqlite3"
    env = {
        **os.environ,
        "KEEL_SECRET_KEY": "test-only",
        "KEEL_ALLOWED_HOSTS": "testserver",
        "KEEL_SSL_REDIRECT": "0",
        "KEEL_STATIC_ROOT": str(tmp_path / "static"),
        "KEEL_DATABASE_URL": f"sqlite:///{primary}",
        "KEEL_DATABASE_REPLICA_URL": f"sqlite:///{replica}",
    }
    env.pop("KEEL_DEBUG", None)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:  # a copy of the migrated test database
            cursor.execute("VACUUM INTO %s", [str(primary)])
    else:
        subprocess.run([sys.executable, "-m", "keel", "migrate", "-v0"], env=env, check=True)
        code = "from keel.accounts.models import User; User.objects.create_user("
        code += "username='olga', password='x', role='owner')"
        subprocess.run(  # noqa: S603
            [sys.executable, "-m", "keel", "shell", "-c", code], env=env, check=True
        )
    replica.write_bytes(primary.read_bytes())

    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", PROBE], env=env, check=True, capture_output=True, text=True
    )
    seen = json.loads(out.stdout.strip().splitlines()[-1])

    for report in ("scorecard", "forecast"):
        assert seen[report]["status"] == 200, seen
        assert seen[report]["replica"] > 0, seen
    assert seen["deals"]["status"] == 200
    assert seen["deals"]["replica"] == 0, seen
    assert seen["company_new"]["status"] == 302, seen
    assert seen["company_new"]["replica"] == 0, seen
    assert all(s["replica_writes"] == 0 for s in seen.values()), seen
    sql = "SELECT count(*) FROM crm_company WHERE name = 'Written on the primary'"
    with sqlite3.connect(primary) as on_primary, sqlite3.connect(replica) as on_replica:
        assert on_primary.execute(sql).fetchone() == (1,)
        assert on_replica.execute(sql).fetchone() == (0,)
