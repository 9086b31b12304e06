import os
import shutil
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser


def _workers() -> int:
    """Gunicorn's rule of thumb: two workers a core, and one more."""
    return 2 * (os.cpu_count() or 1) + 1


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
        os.execv(*self.production_command(options))  # noqa: S606 - our own gunicorn, no shell

    def production_command(self, options: dict[str, Any]) -> tuple[str, list[str]]:
        """Collect the static files, then the gunicorn command line that replaces us."""
        if settings.DEBUG:
            raise CommandError("KEEL_DEBUG is on: production serving needs it off.")
        workers = options["workers"] or _workers()
        if workers < 1:
            raise CommandError("--workers must be at least 1.")
        call_command("collectstatic", interactive=False, verbosity=0)
        gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
        if gunicorn is None:
            raise CommandError("gunicorn is not installed next to this Python: pip install keel.")
        return gunicorn, [
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
            os.environ.get("KEEL_FORWARDED_ALLOW_IPS", "127.0.0.1"),
        ]
