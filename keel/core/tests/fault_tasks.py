"""Jobs for the fault tests (test_faults_jobs.py), run by a real `keel db_worker`.

Each leaves its effect as a row with a unique key: run twice with effect, the second
insert fails and the job is recorded as failed, so a test sees any double run.
"""

import os
import time

from django_tasks import task

from keel.core.models import InstanceSetting


@task()
def record_once(*, key: str) -> str:
    InstanceSetting.objects.create(key=key, value={"pid": os.getpid()})
    return key


@task()
def sleep_then_record(*, key: str, seconds: float) -> str:
    """Marks each start (committed at once), sleeps, then leaves its one effect."""
    InstanceSetting.objects.create(key=f"{key}:start:{os.getpid()}")
    time.sleep(seconds)
    InstanceSetting.objects.create(key=key, value={"pid": os.getpid()})
    return key
