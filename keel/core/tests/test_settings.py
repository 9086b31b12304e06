import os
import subprocess
import sys

import pytest


def _settings_error(**env: str) -> str:
    """Import the settings in a fresh interpreter with `env` and return what it printed."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    result = subprocess.run(
        [sys.executable, "-c", "import keel.settings"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "KEEL_SECRET_KEY is not set"),
        ({"KEEL_DEBUG": "maybe"}, "KEEL_DEBUG='maybe' is not a boolean"),
        ({"KEEL_DEBUG": "1", "KEEL_TIME_ZONE": "Mars/Base"}, "not a known time zone"),
        ({"KEEL_DEBUG": "1", "KEEL_CURRENCY": "euro"}, "not an ISO 4217 code"),
        ({"KEEL_DEBUG": "1", "KEEL_BASE_URL": "crm.example.com"}, "is not a URL like"),
        ({"KEEL_DEBUG": "1", "KEEL_PIPELINE_VISIBILITY": "all"}, "is neither 'team' nor 'own'"),
        ({"KEEL_DEBUG": "1", "KEEL_DATABASE_URL": "mysql://x@y/z"}, "SQLite and PostgreSQL only"),
        ({"KEEL_DEBUG": "1", "KEEL_DATABASE_URL": "nonsense"}, "is not a database URL"),
        ({"KEEL_DEBUG": "1", "KEEL_EMAIL_PORT": "smtp"}, "KEEL_EMAIL_PORT='smtp'"),
        (
            {"KEEL_DEBUG": "1", "KEEL_DATABASE_URL": "postgresql://x@y/z", "KEEL_DB_POOL": "-2"},
            "KEEL_DB_POOL=-2 is not a pool size",
        ),
    ],
)
def test_a_bad_setting_stops_start_up_with_a_clear_message(env: dict[str, str], message: str):
    assert message in _settings_error(**env)


def test_good_settings_load():
    assert _settings_error(KEEL_SECRET_KEY="x" * 50, KEEL_TIME_ZONE="Europe/Berlin") == ""


def test_production_settings_pass_the_deploy_check():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEEL_", "DJANGO_"))}
    env |= {
        "KEEL_SECRET_KEY": "k" * 30 + "X9!p" * 10,
        "KEEL_ALLOWED_HOSTS": "crm.example.com",
        "KEEL_DATABASE_URL": os.environ.get("KEEL_DATABASE_URL", "sqlite:///:memory:"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "keel", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout


POOLED = """
import threading, django
django.setup()
from django.db import connection
assert connection.pool is not None, "no pool"
pids = set()
def work():
    from django.db import connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), pg_sleep(0.2)")
        pids.add(cursor.fetchone()[0])
    connection.close()  # back to the pool
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(len(pids))
"""


def test_a_pool_holds_at_most_its_size_of_postgresql_connections():
    psycopg = pytest.importorskip("psycopg")
    url = "postgresql://postgres@127.0.0.1:5432/postgres"
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.OperationalError:
        pytest.skip("no PostgreSQL at 127.0.0.1:5432")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEEL_", "DJANGO_"))}
    env |= {"KEEL_DEBUG": "1", "KEEL_DATABASE_URL": url, "KEEL_DB_POOL": "3"}
    env["DJANGO_SETTINGS_MODULE"] = "keel.settings"
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", POOLED], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert 1 <= int(result.stdout.strip()) <= 3  # eight threads shared three connections
