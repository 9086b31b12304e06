"""`keel restore FILE`: put back what `keel backup` wrote, into an empty database."""

from pathlib import Path
from typing import IO, Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console

from keel.core.backup import BackupRefused, restore
from keel.core.management.commands.backup import counts_table, progress_bar


class Command(BaseCommand):
    help = (
        "Replace this database's data with a `keel backup` file, in one transaction. "
        "Refuses a database that holds data unless --force, and a backup made on other "
        "migrations. Everyone signs in again afterwards."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="a file written by `keel backup`")
        parser.add_argument(
            "--force",
            action="store_true",
            help="delete this database's data (every table the backup holds, and sessions) first",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        console = Console(file=cast("IO[str]", self.stdout), highlight=False, soft_wrap=True)
        progress, report = progress_bar()
        try:
            with progress:
                manifest = restore(path=path, force=options["force"], progress=report)
        except BackupRefused as error:
            raise CommandError(str(error)) from None
        console.print(counts_table(f"Restored from {path}", manifest))
        console.print(
            f"{manifest.rows:,} rows, backed up from {manifest.database} at "
            f"{manifest.created_at} (Keel {manifest.keel_version})."
        )
