import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser


def _workers() -> int:
    """Gunicorn's rule of thumb: two workers a core, and one more."""
    return 2 * (os.cpu_count() or 1) + 1


def _metrics_dir_fresh(addrport: str) -> str:
    """Each worker writes its Prometheus metrics to files in one folder, which a scrape adds
    up; the folder starts empty, or the counts of an earlier run would be added in."""
    folder = Path(
        os.environ.get("KEEL_METRICS_DIR")
        or Path(tempfile.gettempdir()) / f"keel-metrics-{re.sub(r'[^0-9A-Za-z]', '-', addrport)}"
    )
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, mode=0o700)
    return str(folder)


class Command(BaseCommand):
    help = (
        "Serve Keel: Django's development server (the demo and local use), or with "
        "--production gunicorn workers with static files from WhiteNoise (see the README's "
        "'Running in production')."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--reload", action="store_true", help="Restart on code changes.")
        parser.add_argument(
            "--production",
            action="store_true",
            help="Gunicorn workers behind a reverse proxy; refuses to start with DEBUG on.",
        )
        parser.add_argument(
            "--workers", type=int, default=None, help="Worker processes (default 2 a core + 1)."
        )
        parser.add_argument(
            "--timeout", type=int, default=60, help="Seconds before a stuck worker is replaced."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["production"]:
            call_command("runserver", options["addrport"], use_reloader=options["reload"])
            return
        program, argv, env = self.production_command(options)
        os.execve(program, argv, {**os.environ, **env})  # noqa: S606 - our own gunicorn, no shell

    def production_command(self, options: dict[str, Any]) -> tuple[str, list[str], dict[str, str]]:
        """Collect the static files, then the gunicorn command line that replaces us and
        what it adds to the environment."""
        if settings.DEBUG:
            raise CommandError("KEEL_DEBUG is on: production serving needs it off.")
        workers = options["workers"] or _workers()
        if workers < 1:
            raise CommandError("--workers must be at least 1.")
        call_command("collectstatic", interactive=False, verbosity=0)
        call_command("createcachetable")  # the shared rate limits' table, when in the database
        metrics_dir = _metrics_dir_fresh(options["addrport"])
        gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
        if gunicorn is None:
            raise CommandError("gunicorn is not installed next to this Python: pip install keel.")
        argv = [
            gunicorn,
            "keel.wsgi:application",
            "--bind",
            options["addrport"],
            "--workers",
            str(workers),
            "--timeout",
            str(options["timeout"]),
            "--max-requests",
            "2000",  # a worker is replaced now and then: slow leaks never pile up
            "--max-requests-jitter",
            "200",
            "--access-logfile",
            "-",
            "--forwarded-allow-ips",
            settings.KEEL_FORWARDED_ALLOW_IPS,
            "--config",
            "python:keel.core.gunicorn_hooks",
        ]
        return gunicorn, argv, {"PROMETHEUS_MULTIPROC_DIR": metrics_dir}
