from io import StringIO
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.table import Table

from keel.core.exceptions import KeelError
from keel.pipeline.models import SalesProcess
from keel.pipeline.selectors import process_current_version, process_export
from keel.pipeline.services import process_import


class Command(BaseCommand):
    help = "Import, export and list sales processes (YAML)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        importing = sub.add_parser("import", help="Validate a YAML file and add it as a version.")
        importing.add_argument("file", type=Path)
        exporting = sub.add_parser("export", help="Print a process's current version as YAML.")
        exporting.add_argument("name")
        exporting.add_argument("--version", type=int, help="An older version number.")
        sub.add_parser("list", help="The processes, their versions and stages.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "import":
            self._import(options["file"])
        elif action == "export":
            self._export(options["name"], options["version"])
        else:
            self._list()

    def _import(self, file: Path) -> None:
        try:
            source = file.read_text(encoding="utf-8")
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        try:
            version = process_import(source=source, by=None)
        except KeelError as error:
            raise CommandError(f"{file}: {error}") from None
        stages = ", ".join(version.stages.values_list("name", flat=True))
        self.stdout.write(f"Imported {version.process} version {version.number}: {stages}")

    def _export(self, name: str, number: int | None) -> None:
        try:
            self.stdout.write(process_export(name=name, number=number), ending="")
        except KeelError as error:
            raise CommandError(str(error)) from None

    def _list(self) -> None:
        table = Table("process", "kind", "version", "stages")
        for process in SalesProcess.objects.order_by("name"):
            version = process_current_version(process=process)
            stages = " → ".join(version.stages.values_list("name", flat=True)) if version else ""
            table.add_row(
                process.name,
                process.get_kind_display(),
                str(version.number if version else "—"),
                stages,
            )
        text = StringIO()
        Console(file=text, width=120).print(table)
        self.stdout.write(text.getvalue(), ending="")
