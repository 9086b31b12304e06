"""`keel plan import FILE.yaml [--as USERNAME] [--dry-run]`, `keel plan export NAME`, `list`."""

from io import StringIO
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.table import Table

from keel.accounts.models import User
from keel.core.exceptions import KeelError
from keel.planning.selectors import plan_export, plan_list
from keel.planning.services import ImportResult, plan_import


class Command(BaseCommand):
    help = "Import, export and list tactical plans with their strategies and goals (YAML)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        importing = sub.add_parser("import", help="Validate a YAML plan file and upsert it.")
        importing.add_argument("file", type=Path)
        importing.add_argument("--as", dest="username", default="", help="The importing user.")
        importing.add_argument(
            "--dry-run", action="store_true", help="Check and count; write nothing."
        )
        exporting = sub.add_parser("export", help="Print a plan, its strategy and goals as YAML.")
        exporting.add_argument("name")
        sub.add_parser("list", help="The tactical plans, their strategies and tactics.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "import":
            self._import(options["file"], options["username"], options["dry_run"])
        elif action == "export":
            try:
                self.stdout.write(plan_export(name=options["name"]), ending="")
            except KeelError as error:
                raise CommandError(str(error)) from None
        else:
            self._list()

    def _import(self, file: Path, username: str, dry_run: bool) -> None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        try:
            result = plan_import(text=text, by=self._user(username), dry_run=dry_run)
        except KeelError as error:
            # One problem a line, each with its key's path, so they can be grepped.
            for detail in error.details:
                self.stderr.write(detail)
            raise CommandError(f"{file}: {error.message}") from None
        self._summary(result)

    def _user(self, username: str) -> User:
        users = User.objects.filter(is_active=True)
        if username:
            user = users.filter(username=username).first()
            if user is None:
                raise CommandError(f"There is no active user {username!r}.")
            return user
        user = users.filter(is_superuser=True).order_by("pk").first()
        if user is None:
            raise CommandError("Name the importing user with --as USERNAME.")
        return user

    def _summary(self, result: ImportResult) -> None:
        for verb, labels in (
            ("created", result.created),
            ("updated", result.updated),
            ("deactivated", result.deactivated),
        ):
            for label in labels:
                self.stdout.write(f"{verb}: {label}")
        counts = (
            f"{len(result.created)} created, {len(result.updated)} updated, "
            f"{len(result.deactivated)} deactivated, {result.unchanged} unchanged"
        )
        if result.dry_run:
            self.stdout.write(f"Dry run, nothing was written: {counts}.")
        else:
            self.stdout.write(f"Imported: {counts}.")

    def _list(self) -> None:
        table = Table("plan", "strategy", "from", "to", "active", "tactics")
        for row in plan_list():
            table.add_row(
                row.name,
                row.strategy,
                f"{row.starts_on}",
                f"{row.ends_on}",
                "yes" if row.is_active else "no",
                f"{row.active_tactics} active of {row.tactics}",
            )
        text = StringIO()
        Console(file=text, width=120).print(table)
        self.stdout.write(text.getvalue(), ending="")
