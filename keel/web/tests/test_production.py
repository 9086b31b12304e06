"""Running for real: the health endpoints, and `keel serve --production` started as an
operator would start it, answering through gunicorn with WhiteNoise's static files."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError
from django.db import OperationalError
from django.test import Client

from keel.web.management.commands.serve import Command

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_sign_in_and_says_nothing_else() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_checks_the_database_and_the_queue() -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "queue": "ok, 0 jobs waiting"}


def test_readyz_is_503_naming_what_does_not_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    class Down:
        def cursor(self) -> Any:
            raise OperationalError("connection refused")

    monkeypatch.setattr("keel.web.health.connection", Down())
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["database"], body["queue"]) == (
        "unavailable",
        "unreachable",
        "ok, 0 jobs waiting",
    )


def test_production_serving_refuses_debug(settings: Any) -> None:
    settings.DEBUG = True
    with pytest.raises(CommandError, match="KEEL_DEBUG is on"):
        Command().production_command({"addrport": "127.0.0.1:8000", "workers": 2, "timeout": 60})


def test_production_serving_collects_static_files_and_runs_gunicorn(
    settings: Any, tmp_path: Path
) -> None:
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path
    program, argv, env = Command().production_command(
        {"addrport": "0.0.0.0:9000", "workers": 3, "timeout": 30}
    )
    assert Path(program).name == "gunicorn" and argv[1] == "keel.wsgi:application"
    assert argv[argv.index("--bind") + 1] == "0.0.0.0:9000"
    assert argv[argv.index("--workers") + 1] == "3"
    assert (tmp_path / "web" / "keel.css").exists()
    assert (tmp_path / "web" / "keel.css.gz").exists()  # compressed by WhiteNoise
    assert Path(env["PROMETHEUS_MULTIPROC_DIR"]).is_dir()  # each worker's metrics, added up


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own server
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_keel_serve_production_answers_through_gunicorn(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "KEEL_DEBUG": "0",
        "KEEL_SECRET_KEY": "production-test-" + "x" * 40,
        "KEEL_ALLOWED_HOSTS": "127.0.0.1",
        "KEEL_SSL_REDIRECT": "0",
        "KEEL_STATIC_ROOT": str(tmp_path / "static"),
        "KEEL_DATABASE_URL": f"sqlite:///{tmp_path / 'keel.sqlite3'}",
        "KEEL_METRICS_TOKEN": "scrape-" + "y" * 30,
        "KEEL_METRICS_DIR": str(tmp_path / "metrics"),
    }
    command = [sys.executable, "-m", "keel", "serve", "--production", f"127.0.0.1:{port}",
               "--workers", "2"]  # fmt: skip
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(900):  # collecting and compressing the static files comes first
            try:
                status, _, body = _get(base + "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        else:
            server.terminate()
            pytest.fail(f"gunicorn did not answer: {server.communicate(timeout=5)[1].decode()}")
        assert status == 200 and json.loads(body) == {"status": "ok"}
        status, headers, css = _get(base + "/static/web/keel.css")
        assert status == 200 and b"--accent" in css
        assert "max-age" in headers.get("Cache-Control", "")
        status, _, _ = _get(base + "/")  # not signed in: to the sign-in page
        assert status == 200  # urllib follows the redirect to /accounts/login/
        for _ in range(6):  # spread over both workers
            _get(base + "/healthz")

        status, _, _ = _get(base + "/metrics")  # no token: nothing to see
        assert status == 404
        scrape = urllib.request.Request(  # noqa: S310 - our own server
            base + "/metrics", headers={"Authorization": "Bearer " + env["KEEL_METRICS_TOKEN"]}
        )
        with urllib.request.urlopen(scrape, timeout=5) as response:  # noqa: S310
            metrics = response.read().decode()
        healthz = [
            line
            for line in metrics.splitlines()
            if line.startswith("django_http_requests_latency_seconds_by_view_method_count")
            and 'view="healthz"' in line
        ]
        assert healthz and float(healthz[0].rsplit(" ", 1)[1]) >= 7  # both workers' counts
    finally:
        server.terminate()
        server.wait(timeout=10)
