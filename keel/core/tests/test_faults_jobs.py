"""Background jobs survive a dead worker and are never taken by two workers.

The recovery rules run on both databases. The worker tests start real `keel db_worker`
processes on the test database, so they need one that other processes can open: the
PostgreSQL run (SQLite's test database lives in the test process's memory).
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from keel.core.jobs import MAX_ATTEMPTS, jobs_recover
from keel.core.models import InstanceSetting
from keel.core.tests.fault_tasks import record_once, sleep_then_record

KEEL = Path(sys.executable).with_name("keel")
LEASE = timedelta(minutes=10)

needs_shared_database = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="worker processes need a test database they can open (run on PostgreSQL)",
)


def _job(*, workers: list[str], started_minutes_ago: float) -> DBTaskResult:
    """A job marked RUNNING by `workers`, the last one started that long ago."""
    result = record_once.enqueue(key=f"job-{uuid.uuid4().hex[:12]}")
    started = timezone.now() - timedelta(minutes=started_minutes_ago)
    DBTaskResult.objects.filter(pk=result.id).update(
        status=TaskResultStatus.RUNNING, worker_ids=workers, started_at=started
    )
    return DBTaskResult.objects.get(pk=result.id)


@pytest.mark.django_db
def test_a_job_whose_worker_died_is_queued_again_with_its_attempt_kept() -> None:
    job = _job(workers=["w1"], started_minutes_ago=11)

    recovery = jobs_recover(lease=LEASE)

    job.refresh_from_db()
    assert recovery.requeued == [str(job.pk)]
    assert job.status == TaskResultStatus.READY
    assert job.worker_ids == ["w1"]  # the next claim adds the second attempt
    assert DBTaskResult.objects.ready().filter(pk=job.pk).exists()


@pytest.mark.django_db
def test_a_job_whose_worker_died_on_each_attempt_fails_with_a_clear_message() -> None:
    job = _job(workers=["w1", "w2"], started_minutes_ago=11)

    recovery = jobs_recover(lease=LEASE)

    job.refresh_from_db()
    assert recovery.failed == [str(job.pk)]
    assert job.status == TaskResultStatus.FAILED
    assert job.exception_class_path == "keel.core.jobs.WorkerLost"
    assert f"on each of its {MAX_ATTEMPTS} attempts" in job.traceback
    assert job.finished_at is not None


@pytest.mark.django_db
def test_a_job_within_its_lease_and_a_waiting_job_are_left_alone() -> None:
    running = _job(workers=["w1"], started_minutes_ago=2)
    waiting = record_once.enqueue(key="waiting")

    recovery = jobs_recover(lease=LEASE)

    assert recovery.requeued == recovery.failed == []
    assert DBTaskResult.objects.get(pk=running.pk).status == TaskResultStatus.RUNNING
    assert DBTaskResult.objects.get(pk=waiting.id).status == TaskResultStatus.READY


# --- real workers ------------------------------------------------------------------------


@pytest.fixture
def worker_start() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Starts `keel db_worker` processes on the test database; kills what is left after."""
    settings = connection.settings_dict
    login = quote(settings["USER"] or "") + (
        f":{quote(settings['PASSWORD'])}" if settings["PASSWORD"] else ""
    )
    where = f"{settings['HOST'] or 'localhost'}:{settings['PORT'] or 5432}"
    url = f"postgresql://{login}@{where}/{settings['NAME']}"
    environment = {k: v for k, v in os.environ.items() if k != "KEEL_DEBUG"}
    environment.update(KEEL_DATABASE_URL=url, KEEL_SECRET_KEY="test-only", KEEL_LOG_LEVEL="ERROR")
    started: list[subprocess.Popen[bytes]] = []

    def start(*extra: str) -> subprocess.Popen[bytes]:
        command = [str(KEEL), "db_worker", "--no-startup-delay", "--interval", "0.1", *extra]
        process = subprocess.Popen(command, env=environment)  # noqa: S603 - our command
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


def _wait_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds:.0f} s for {what}")
        time.sleep(0.1)


@needs_shared_database
@pytest.mark.django_db(transaction=True)
def test_a_job_whose_worker_is_killed_runs_again_once_and_has_its_effect_once(
    worker_start: Callable[..., subprocess.Popen[bytes]],
) -> None:
    key = f"fault-{uuid.uuid4().hex[:12]}"
    job = sleep_then_record.enqueue(key=key, seconds=3)
    first = worker_start()
    _wait_for(
        lambda: InstanceSetting.objects.filter(key__startswith=f"{key}:start:").exists(),
        30,
        "the first worker to start the job",
    )

    first.send_signal(signal.SIGKILL)  # mid-job: started, its effect not yet made
    first.wait()
    stuck = DBTaskResult.objects.get(pk=job.id)
    assert stuck.status == TaskResultStatus.RUNNING  # what a dead worker leaves
    assert not InstanceSetting.objects.filter(key=key).exists()

    assert jobs_recover(lease=timedelta(0)).requeued == [str(job.id)]
    worker_start("--batch").wait(timeout=60)

    done = DBTaskResult.objects.get(pk=job.id)
    assert done.status == TaskResultStatus.SUCCESSFUL, done.traceback
    assert len(done.worker_ids) == 2  # two attempts, visible in the admin
    assert InstanceSetting.objects.filter(key__startswith=f"{key}:start:").count() == 2
    assert InstanceSetting.objects.filter(key=key).count() == 1  # its effect, once


@needs_shared_database
@pytest.mark.django_db(transaction=True)
def test_three_workers_never_take_the_same_job(
    worker_start: Callable[..., subprocess.Popen[bytes]],
) -> None:
    prefix = f"many-{uuid.uuid4().hex[:8]}"
    ids = [record_once.enqueue(key=f"{prefix}-{i}").id for i in range(200)]

    workers = [worker_start("--batch") for _ in range(3)]
    for process in workers:
        assert process.wait(timeout=120) == 0

    jobs = DBTaskResult.objects.filter(pk__in=ids)
    assert jobs.filter(status=TaskResultStatus.SUCCESSFUL).count() == 200
    assert all(len(job.worker_ids) == 1 for job in jobs)  # each claimed once
    # A second run of any would have failed on the unique key instead of succeeding.
    assert InstanceSetting.objects.filter(key__startswith=f"{prefix}-").count() == 200
    assert len({tuple(job.worker_ids) for job in jobs}) > 1  # the work was shared
