"""Background tasks, run by `keel db_worker` from the queue in Keel's own database."""

from django.utils import timezone
from django_tasks import task

from keel.forecast.stall_selectors import stall_thresholds
from keel.forecast.stall_services import stall_counts_record


@task()
def stall_counts_nightly() -> str:
    """Record today's open and stalled deals per stage and owner, for the cleanup's trend.

    Queued nightly by cron (`keel stalled --record --enqueue`; `keel stalled --record`
    records at once, without the queue). Running it again the same day replaces that
    day's rows, so a retried or doubled run records the day once.
    """
    now = timezone.now()
    day = timezone.localdate(now)
    rows = stall_counts_record(day=day, thresholds=stall_thresholds(now=now, fresh=True), now=now)
    return f"{rows} stall counts recorded for {day:%Y-%m-%d}"
