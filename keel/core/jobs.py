"""Background jobs whose worker died: run again once, then failed for good, never lost.

`keel db_worker` (django-tasks-db) claims a job by marking it RUNNING with its worker's id
and records the outcome when the job returns. A worker killed in between (SIGKILL, out of
memory, the machine lost) leaves the job RUNNING for ever: no other worker takes a
RUNNING job. `jobs_recover` finds the jobs RUNNING for longer than the lease
(KEEL_JOB_LEASE_SECONDS, longer than any Keel job takes) and puts each back in the queue
once; one whose second attempt died too is marked FAILED with a message that says so.
The worker ids are kept, so the attempts stay visible in the admin. `keel jobs_recover`
runs it; run it from cron every few minutes, as `keel tactics tick`.

A recovered job runs again from its start, so each Keel job is safe to run twice:
the scheduler tick makes each piece of work once, the nightly stall counts replace the
day's rows, and a webhook delivery claims its attempt before posting (a rerun of a claimed
attempt finds nothing due: a delivery is posted at most once per attempt).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

MAX_ATTEMPTS = 2  # the first run and one retry
LOST = (
    "The worker running this job stopped (killed or lost) before the job finished, on "
    "each of its {attempts} attempts; it was not retried again. Workers: {workers}."
)


class WorkerLost(Exception):
    """Recorded as the failure of a job whose workers died on every attempt."""


@dataclass(frozen=True)
class Recovery:
    requeued: list[str]  # job ids put back in the queue
    failed: list[str]  # job ids given up on


def jobs_recover(*, lease: timedelta, now: datetime | None = None) -> Recovery:
    """Requeue the jobs RUNNING longer than `lease`, or fail those out of attempts."""
    now = now or timezone.now()
    requeued: list[str] = []
    failed: list[str] = []
    with transaction.atomic():
        stuck = (
            DBTaskResult.objects.running()
            .filter(started_at__lt=now - lease)
            .select_for_update(skip_locked=True)  # two recoveries at once each take their own
            .order_by("started_at")
        )
        for job in stuck:
            # Only if nothing moved it since it was read: a worker that finishes now wins.
            same = DBTaskResult.objects.filter(
                pk=job.pk, status=TaskResultStatus.RUNNING, started_at=job.started_at
            )
            if len(job.worker_ids) >= MAX_ATTEMPTS:
                text = LOST.format(attempts=len(job.worker_ids), workers=", ".join(job.worker_ids))
                changed = same.update(
                    status=TaskResultStatus.FAILED,
                    finished_at=now,
                    exception_class_path=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}",
                    traceback=f"{WorkerLost.__qualname__}: {text}",
                    return_value=None,
                )
                if changed:
                    failed.append(str(job.pk))
            elif same.update(status=TaskResultStatus.READY):
                requeued.append(str(job.pk))
    return Recovery(requeued=requeued, failed=failed)
