"""Gunicorn settings hooks for `keel serve --production` (loaded with -c python:…)."""

from typing import Any

from prometheus_client import multiprocess


def child_exit(server: Any, worker: Any) -> None:
    """A worker that exits leaves its metric files behind: mark them as a dead process's."""
    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
