from typing import Any

from django.core.management.base import BaseCommand

from keel.hooks.services import deliveries_requeue


class Command(BaseCommand):
    help = (
        "Queue again webhook deliveries that nothing will send (a process stopped between "
        "saving and queueing them, or a worker died mid-attempt). Safe to run often."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = deliveries_requeue()
        self.stdout.write(f"{count} webhook deliver{'y' if count == 1 else 'ies'} queued again.")
