"""`python -m bench.faults` (`make faults`): every fault, each checking nothing was lost.

    python -m bench.faults [--only moves,worker_kill,jobs,postgres_restart,sqlite]

Each fault runs in a process of its own (Django serves one database per process) and
prints PASS or FAIL for each check; the exit status is 1 when any failed.

- moves: 50 concurrent moves of one deal (bench/faults/moves.py)
- worker_kill: a gunicorn worker killed mid-request (bench/faults/worker_kill.py)
- jobs: a job worker killed mid-job, recovered by `keel jobs_recover`, and three workers
  sharing 200 jobs (keel/core/tests/test_faults_jobs.py, on PostgreSQL)
- postgres_restart: PostgreSQL stopped and started under load, on a throwaway cluster
  (bench/faults/postgres_restart.py)
- sqlite: the SQLite file read-only, its folder read-only, its disk full (needs root)

moves and worker_kill use the PostgreSQL database KEEL_FAULTS_DATABASE_URL (default
keel_bench_faults on the local server, created with a small demo if missing); the jobs
tests make their own test database on KEEL_FAULTS_TEST_DATABASE_URL's server (default the
local one).
"""

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence

FAULTS = ("moves", "worker_kill", "jobs", "postgres_restart", "sqlite")
DATABASE = "postgresql://postgres@127.0.0.1:5432/keel_bench_faults"
TEST_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def _command(fault: str) -> list[str]:
    if fault == "jobs":
        return [
            sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:xdist", "-vv",
            "keel/core/tests/test_faults_jobs.py",
        ]  # fmt: skip
    command = [sys.executable, "-m", f"bench.faults.{fault}"]
    if fault in ("moves", "worker_kill"):
        command += ["--database-url", os.environ.get("KEEL_FAULTS_DATABASE_URL", DATABASE)]
    return command


def _environment(fault: str) -> dict[str, str]:
    environment = dict(os.environ)
    if fault == "jobs":
        print("a job worker killed mid-job, and three workers sharing 200 jobs (pytest):")
        environment.update(
            KEEL_DATABASE_URL=os.environ.get("KEEL_FAULTS_TEST_DATABASE_URL", TEST_SERVER),
            KEEL_TEST_DATABASE_NAME="test_keel_faults_jobs",
            KEEL_SECRET_KEY="test-only",  # noqa: S106 - the test suite's, as in the Makefile
            KEEL_LOG_LEVEL="CRITICAL",
        )
        environment.pop("KEEL_DEBUG", None)
    return environment


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.faults")
    parser.add_argument("--only", default=",".join(FAULTS), help="a comma-separated subset")
    args = parser.parse_args(argv)
    chosen = [f.strip() for f in args.only.split(",") if f.strip()]
    if unknown := set(chosen) - set(FAULTS):
        parser.error(f"unknown faults: {', '.join(sorted(unknown))} (known: {', '.join(FAULTS)})")
    failed = []
    for fault in chosen:
        sys.stdout.flush()
        environment = _environment(fault)
        sys.stdout.flush()
        finished = subprocess.run(_command(fault), env=environment, check=False)  # noqa: S603
        if fault == "jobs":
            print(f"jobs: {'PASS' if finished.returncode == 0 else 'FAIL'}\n")
        if finished.returncode != 0:
            failed.append(fault)
    print(f"faults: {len(chosen) - len(failed)} of {len(chosen)} pass", end="")
    print(f"; FAILED: {', '.join(failed)}" if failed else "")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
