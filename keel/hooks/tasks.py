"""Background tasks, run by `keel db_worker` from the queue in Keel's own database."""

from django_tasks import task

from keel.hooks.services import delivery_attempt


@task()
def delivery_send(*, delivery_id: int) -> str:
    """One attempt at a webhook delivery; the task result keeps the outcome for the admin."""
    delivery = delivery_attempt(delivery_id=delivery_id)
    return "not due" if delivery is None else delivery.status
