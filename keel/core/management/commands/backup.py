"""`keel backup FILE`: every table of this database in one file that `keel restore` reads."""

from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from keel.core.backup import EXCLUDED, Manifest, backup_write


def progress_bar() -> tuple[Progress, Callable[[str, int, int], None]]:
    """A progress bar on stderr, a line per table, and the callback that moves it."""
    progress = Progress(
        TextColumn("{task.description:<36}"),
        BarColumn(),
        MofNCompleteColumn(),
        # Straight to stderr: Django's wrapper would colour and break rich's live lines.
        console=Console(stderr=True),
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def report(table: str, done: int, total: int) -> None:
        if table not in tasks:
            tasks[table] = progress.add_task(table, total=total)
        progress.update(tasks[table], completed=done, total=total)

    return progress, report


def counts_table(title: str, manifest: Manifest) -> Table:
    table = Table(title=title)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for label, count in manifest.tables.items():
        if count:
            table.add_row(label, f"{count:,}")
    table.add_row("total", f"{manifest.rows:,}", style="bold")
    return table


class Command(BaseCommand):
    requires_migrations_checks = True
    help = (
        "Write every table of this database (every Keel app, users and teams, the task "
        "queue; not sessions) to one gzip-compressed file that `keel restore` puts back "
        "exactly, on SQLite or PostgreSQL."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="where to write, e.g. keel-2026-11-24.keel.gz")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.parent.is_dir():
            raise CommandError(f"{path.parent} is not a directory.")
        console = Console(file=cast("IO[str]", self.stdout), highlight=False, soft_wrap=True)
        progress, report = progress_bar()
        with progress:
            manifest = backup_write(path=path, progress=report)
        console.print(counts_table(f"Backed up to {path}", manifest))
        console.print(
            f"{manifest.rows:,} rows from {manifest.database}, Keel {manifest.keel_version}. "
            f"Not included: {', '.join(EXCLUDED)} (content types and permissions are kept by "
            "name)."
        )
