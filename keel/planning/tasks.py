"""Background tasks, run by `keel db_worker` from the queue in Keel's own database."""

from django_tasks import task

from keel.planning.scheduler import tactics_tick


@task()
def tactics_tick_task() -> int:
    """One scheduler tick: the work the active tactics ask for, made once."""
    return tactics_tick().created
