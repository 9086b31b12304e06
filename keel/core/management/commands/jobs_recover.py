"""`keel jobs_recover`: put back in the queue the jobs whose worker died (keel.core.jobs)."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from keel.core.jobs import MAX_ATTEMPTS, jobs_recover


class Command(BaseCommand):
    help = (
        "Requeue the background jobs left running by a worker that died (running longer "
        "than KEEL_JOB_LEASE_SECONDS); a job whose worker died on each of its "
        f"{MAX_ATTEMPTS} attempts is marked failed. Run it from cron every few minutes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--lease",
            type=int,
            default=None,
            help="seconds a job may run before it counts as lost (default KEEL_JOB_LEASE_SECONDS)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        seconds = settings.KEEL_JOB_LEASE_SECONDS if options["lease"] is None else options["lease"]
        if seconds < 0:
            raise CommandError("--lease must be 0 or more seconds.")
        recovery = jobs_recover(lease=timedelta(seconds=seconds))
        for job_id in recovery.requeued:
            self.stdout.write(f"Requeued {job_id}: its worker stopped before it finished.")
        for job_id in recovery.failed:
            self.stdout.write(f"Failed {job_id}: its worker stopped on every attempt.")
        if not recovery.requeued and not recovery.failed:
            self.stdout.write(f"No job has been running longer than {seconds} s.")
