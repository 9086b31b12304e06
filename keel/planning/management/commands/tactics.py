from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from keel.planning.scheduler import tactics_tick
from keel.planning.tasks import tactics_tick_task


class Command(BaseCommand):
    help = "Turn the active tactics into people's tasks (run it from cron, e.g. hourly)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        tick = actions.add_parser("tick", help="Make the work the tactics ask for, once.")
        tick.add_argument(
            "--enqueue", action="store_true", help="queue the tick for `keel db_worker` instead"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["enqueue"]:
            result = tactics_tick_task.enqueue()
            self.stdout.write(f"Queued the tick ({result.id}).")
            return
        created = tactics_tick().created
        self.stdout.write(f"{created} new piece{'s' if created != 1 else ''} of work, each a task.")
