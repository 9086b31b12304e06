"""`keel import FILE --kind deals [--mapping hubspot] [--stage-map …] [--dry-run]`."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from keel.accounts.models import User
from keel.core.exceptions import KeelError
from keel.imports.models import ImportKind, ImportRun, RunStatus
from keel.imports.presets import PRESETS, stage_map_parse
from keel.imports.services import ImportFile, import_run
from keel.pipeline.models import SalesProcess

SHOWN_PROBLEMS = 50


class Command(BaseCommand):
    help = "Import companies, contacts, deals (with stage history) or activities from CSV/XLSX."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--kind", required=True, choices=ImportKind.values)
        parser.add_argument(
            "--mapping", default="", choices=["", *PRESETS], help="Default: from the headers."
        )
        parser.add_argument(
            "--stage-map",
            default="",
            help='"Their stage=Keel stage,…" or a YAML file of "their stage: Keel stage".',
        )
        parser.add_argument("--process", default="", help="Sales process (default New business).")
        parser.add_argument(
            "--date-format", default="", help='For ambiguous dates, e.g. "%%d/%%m/%%Y".'
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Check and count; write nothing."
        )
        parser.add_argument("--skip-bad", action="store_true", help="Import the good rows only.")
        parser.add_argument("--as", dest="username", default="", help="The importing user.")

    def handle(self, *args: Any, **options: Any) -> None:
        file: Path = options["file"]
        try:
            data = file.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        by = self._user(options["username"])
        stage_map = self._stage_map(options["stage_map"])
        process = None
        if options["process"]:
            process = SalesProcess.objects.filter(name__iexact=options["process"]).first()
            if process is None:
                raise CommandError(f"There is no sales process named {options['process']!r}.")
        # rich writes to the command's own stream, so call_command(stdout=…) captures it.
        stream: Any = self.stdout._out
        console = Console(file=stream, width=120)
        with Progress(
            TextColumn("{task.description:<24}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("Reading", total=1)

            def report(phase: str, done: int, total: int) -> None:
                bar.update(task, description=phase, completed=done, total=max(total, 1))

            try:
                run = import_run(
                    by=by,
                    file=ImportFile(name=file.name, data=data),
                    kind=options["kind"],
                    mapping=options["mapping"],
                    stage_map=stage_map,
                    process=process,
                    dry_run=options["dry_run"],
                    skip_bad=options["skip_bad"],
                    date_format=options["date_format"],
                    progress=report,
                )
            except KeelError as error:
                raise CommandError(f"{file}: {error}") from None
        self._summary(console, run)
        if run.status == RunStatus.FAILED:
            raise CommandError(run.failure)
        if run.rejected and run.status != RunStatus.COMMITTED:
            raise CommandError(f"{run.rejected} bad row(s): a commit would write nothing.")

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

    def _stage_map(self, value: str) -> dict[str, str]:
        if value and Path(value).is_file():
            value = Path(value).read_text(encoding="utf-8")
        try:
            return stage_map_parse(value)
        except ValueError as error:
            raise CommandError(f"--stage-map: {error}") from None

    def _summary(self, console: Console, run: ImportRun) -> None:
        mapping = ", ".join(f"{field} ← {header}" for field, header in run.mapping.items())
        console.print(
            f"[bold]{run.file_name}[/]: {run.get_kind_display()}, preset "
            f"{run.preset or '(none)'}; {mapping}"
        )
        table = Table("rows", "created", "updated", "unchanged", "rejected", "status")
        status = run.get_status_display()
        table.add_row(
            *(f"{n:,}" for n in (run.rows, run.created, run.updated, run.unchanged, run.rejected)),
            status,
        )
        console.print(table)
        if run.unknown_stages:
            console.print(
                "Unknown stages (map them with --stage-map): " + ", ".join(run.unknown_stages)
            )
        if run.errors:
            problems = Table("line", "column", "reason", title="Rejected rows")
            for line, column, reason in run.errors[:SHOWN_PROBLEMS]:
                problems.add_row(str(line), column, reason)
            console.print(problems)
            if len(run.errors) > SHOWN_PROBLEMS:
                console.print(
                    f"… and {len(run.errors) - SHOWN_PROBLEMS} more (see the run's file)."
                )
        if run.status == RunStatus.DRY_RUN:
            console.print("Dry run: nothing was written.")
        console.print(f"Import run #{run.pk}.")
