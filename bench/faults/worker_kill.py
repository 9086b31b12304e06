"""Fault: a gunicorn worker killed (SIGKILL) in the middle of a write request.

    python -m bench.faults.worker_kill [--database-url URL]   (default: keel_bench_faults)

A stage move is held half-way (bench/faults/_inflight.py: the deal row updated, the
stage change not yet written), then the worker serving it is killed. The client must get
an error rather than a success; the deal and its history must be exactly as before (the
transaction rolled back with the connection); gunicorn must start a new worker; and the
same move must then succeed.
"""

import argparse
import os
import signal
from collections.abc import Sequence

from bench.faults._common import Checks, api, deal_state, movable_deal, seeded, token_for, wait_for
from bench.faults._inflight import move_held_halfway
from bench.load import production_server

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/keel_bench_faults"
OWNER = "marco.rossi"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.faults.worker_kill")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    args, _ = parser.parse_known_args(argv)
    checks = Checks("a worker killed mid-request")
    print(f"{checks.fault} (production server, {seeded(args.database_url)}):", flush=True)
    token = token_for(OWNER)
    pk, to_stage, version, changes = movable_deal(OWNER)
    before = deal_state(pk)
    from django.db import connections

    connections.close_all()
    with production_server(args.database_url, workers=1) as server:
        (worker,) = server.worker_pids()
        with move_held_halfway(
            args.database_url, server.url, token, pk=pk, to_stage=to_stage, version=version
        ) as flight:
            os.kill(worker, signal.SIGKILL)
            assert flight.thread is not None  # noqa: S101 - set by move_held_halfway
            flight.thread.join(30)
        answer = flight.answer[0] if flight.answer else "none within 30 s"
        checks.check(not answer.startswith("HTTP 2"), f"the client got no success ({answer})")
        checks.check(
            deal_state(pk) == before,
            "the deal and its history are as before: nothing half-written",
        )
        replaced = wait_for(
            lambda: [p for p in server.worker_pids() if p != worker], 30, "a new worker"
        )
        checks.check(bool(replaced), f"gunicorn started a new worker ({replaced})")
        response = api(token).post(
            f"{server.url}/api/v1/deals/{pk}/move",
            json={"to_stage": to_stage, "version": version},
            timeout=60,
        )
        checks.check(
            response.status_code == 200, f"the same move then succeeds ({response.status_code})"
        )
        checks.check(
            deal_state(pk) == (version + 1, to_stage, changes + 1),
            "the deal moved once, with one stage change",
        )
    checks.finish()


if __name__ == "__main__":
    main()
