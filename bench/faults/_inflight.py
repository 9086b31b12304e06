"""A write caught half-way: a move whose deal row is updated but whose history row waits.

The fault script takes a SHARE lock on the stage-change table in a connection of its
own: the server's move then updates the deal (its first write) and blocks on inserting
the stage change, in an open transaction. Whatever kills the request or the database
now, the deal and its history must still agree afterwards.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import dj_database_url
import psycopg
import requests

from bench.faults._common import api, wait_for

BLOCKED_INSERT = """
    SELECT count(*) FROM pg_stat_activity
    WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO "pipeline_stagechange"%%'
"""


def connect(database_url: str, **options: object) -> psycopg.Connection[tuple[object, ...]]:
    config = dj_database_url.parse(database_url)
    return psycopg.connect(
        host=config.get("HOST") or None,
        port=config.get("PORT") or None,
        user=config.get("USER") or None,
        password=config.get("PASSWORD") or None,
        dbname=str(config["NAME"]),
        **options,  # type: ignore[arg-type]
    )


@dataclass
class InFlight:
    answer: list[str] = field(default_factory=list)  # what the client got, once it did
    thread: threading.Thread | None = None


@contextmanager
def move_held_halfway(
    database_url: str, server_url: str, token: str, *, pk: int, to_stage: str, version: int
) -> Iterator[InFlight]:
    """Start the move and yield once it is blocked half-way; the lock goes on leaving."""
    locker = connect(database_url)
    locker.execute("LOCK TABLE pipeline_stagechange IN SHARE MODE")
    flight = InFlight()

    def post() -> None:
        try:
            response = api(token).post(
                f"{server_url}/api/v1/deals/{pk}/move",
                json={"to_stage": to_stage, "version": version},
                timeout=90,
            )
            flight.answer.append(f"HTTP {response.status_code}: {response.text[:160]}")
        except requests.RequestException as error:
            flight.answer.append(f"no answer: {type(error).__name__}")

    flight.thread = threading.Thread(target=post, daemon=True)
    flight.thread.start()
    try:
        with connect(database_url, autocommit=True) as watcher:
            blocked = wait_for(
                lambda: watcher.execute(BLOCKED_INSERT).fetchone()[0],  # type: ignore[index]
                30,
                "the move to block on its history row",
            )
        if not blocked:
            raise SystemExit("the move never reached its history row: cannot test the fault")
        yield flight
    finally:
        try:
            locker.rollback()
            locker.close()
        except psycopg.Error:
            pass  # the database went away with it
