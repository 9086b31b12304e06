"""Fault: PostgreSQL stopped and started again under load, a write in flight.

    python -m bench.faults.postgres_restart [--down 3]

Runs on a throwaway PostgreSQL cluster of its own (initdb into a temporary folder, as the
postgres user, on a free port; never the machine's server), removed at the end whatever
happens. With the small demo migrated into it and the production server running on it,
threads keep requesting an API list and the board; one stage move is held half-way
(bench/faults/_inflight.py). Then the cluster stops (`pg_ctl stop -m fast`), stays down
--down seconds and starts again. Checked:

- while it is down, every answer is a 503 with the "database is unavailable" message
  (JSON for the API, a page for the board) and Retry-After, never a 500 or a traceback;
- the write in flight is not half there: the deal and its history agree and are as before;
- after the start, requests succeed again within a few seconds, without restarting Keel.
"""

import argparse
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import requests

from bench.faults._common import (
    Checks,
    api,
    deal_state,
    movable_deal,
    seeded,
    signed_in,
    token_for,
    wait_for,
)
from bench.faults._inflight import move_held_halfway
from bench.load import free_port, production_server

BIN = Path(os.environ.get("KEEL_PG_BIN", "/usr/lib/postgresql/15/bin"))
OWNER = "marco.rossi"
UNAVAILABLE = "The database is unavailable"


def _as_postgres(*command: str) -> None:
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*run_as, *command], check=True, capture_output=True)  # noqa: S603


@contextmanager
def throwaway_cluster() -> Iterator[tuple[str, Path]]:
    """A PostgreSQL cluster on a free port: (its database URL, its data folder)."""
    if not (BIN / "initdb").exists():
        raise SystemExit(f"no {BIN / 'initdb'}: set KEEL_PG_BIN to PostgreSQL's bin folder")
    folder = Path(tempfile.mkdtemp(prefix="keel-fault-pg-"))
    data = folder / "data"
    port = free_port()
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    try:
        _as_postgres(str(BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
        with (data / "postgresql.conf").open("a") as conf:  # so a plain start finds them
            conf.write(
                f"\nport = {port}\nunix_socket_directories = '{folder}'\n"
                "listen_addresses = '127.0.0.1'\nfsync = off\n"
            )
        _pg_ctl(data, "start")
        yield f"postgresql://postgres@127.0.0.1:{port}/keel", data
    finally:
        if data.exists():
            with suppress(subprocess.CalledProcessError):  # not running
                _pg_ctl(data, "stop", "-m", "immediate")
        shutil.rmtree(folder, ignore_errors=True)


def _pg_ctl(data: Path, action: str, *extra: str) -> None:
    log = str(data.parent / "server.log")
    _as_postgres(str(BIN / "pg_ctl"), "-D", str(data), "-l", log, "-w", "-t", "60", action, *extra)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.faults.postgres_restart")
    parser.add_argument("--down", type=float, default=3.0, help="seconds the server stays down")
    args, _ = parser.parse_known_args(argv)
    checks = Checks("PostgreSQL restarted under load")
    print(f"{checks.fault} (a throwaway cluster, the production server):", flush=True)
    with throwaway_cluster() as (url, data):
        seeded(url)
        token = token_for(OWNER)
        pk, to_stage, version, _ = movable_deal(OWNER)
        before = deal_state(pk)
        from django.db import connections

        connections.close_all()
        with production_server(url, workers=3) as server:
            phase = ["up"]
            seen: dict[str, Counter[str]] = {"up": Counter(), "down": Counter(), "after": Counter()}
            bad: list[str] = []
            stop = threading.Event()

            def load(path: str) -> None:
                session = api(token) if path.startswith("/api/") else signed_in(server.url, OWNER)
                while not stop.is_set():
                    try:
                        response = session.get(server.url + path, timeout=20)
                    except requests.RequestException as error:
                        at = phase[0]
                        seen[at][f"{path} no answer"] += 1
                        bad.append(f"{at}: {path}: no answer ({type(error).__name__})")
                        continue
                    at = phase[0]  # when the answer came
                    seen[at][f"{path} {response.status_code}"] += 1
                    if response.status_code == 200:
                        continue
                    clear = (
                        response.status_code == 503
                        and UNAVAILABLE in response.text
                        and "Traceback" not in response.text
                        and response.headers.get("Retry-After") == "5"
                    )
                    if not clear or at == "up":
                        bad.append(f"{at}: {path}: {response.status_code} {response.text[:120]!r}")
                    time.sleep(0.05)

            threads = [
                threading.Thread(target=load, args=(path,), daemon=True)
                for path in ("/api/v1/deals?limit=20", "/pipeline/", f"/deals/{pk}/")
            ]
            for thread in threads:
                thread.start()
            time.sleep(2)
            with move_held_halfway(
                url, server.url, token, pk=pk, to_stage=to_stage, version=version
            ) as flight:
                phase[0] = "down"
                _pg_ctl(data, "stop", "-m", "fast")
                time.sleep(args.down)
                _pg_ctl(data, "start")
                restarted = time.monotonic()
            phase[0] = "after"
            assert flight.thread is not None  # noqa: S101 - set by move_held_halfway
            flight.thread.join(30)
            ok = wait_for(
                lambda: api(token).get(server.url + "/api/v1/deals?limit=5", timeout=5).ok,
                30,
                "a request to succeed after the start",
            )
            back_in = time.monotonic() - restarted
            time.sleep(2)
            stop.set()
            for thread in threads:
                thread.join(25)
            page = requests.get(server.url + "/accounts/login/", timeout=10)

        for at in ("up", "down", "after"):
            print(f"  {at:6} {dict(sorted(seen[at].items()))}")
        answer = flight.answer[0] if flight.answer else "none"
        print(f"  the move in flight got: {answer}")
        down = seen["down"]
        checks.check(sum(down.values()) > 0, "requests were made while it was down")
        checks.check(
            any(" 503" in what for what in down),
            "while down, requests got 503 'The database is unavailable' with Retry-After",
        )
        checks.check(not bad, "no 500, no traceback, no other answer: " + "; ".join(bad[:3]))
        after = deal_state(pk)
        consistent = after == before or after == (version + 1, to_stage, before[2] + 1)
        checks.check(consistent, f"the write in flight is all or nothing ({before} → {after})")
        checks.check(
            bool(ok), f"requests succeed again {back_in:.1f} s after the start, Keel not restarted"
        )
        checks.check(page.status_code == 200, f"a page answers after it ({page.status_code})")
        connections.close_all()
    checks.finish()


if __name__ == "__main__":
    main()
