"""Load: Keel's production server on PostgreSQL under a sales team, driven by locust.

    python -m bench.load [--users 50] [--duration 120] [--workers N] [--wait 1,3]
                         [--size large] [--soak] [--database-url URL]
                                        (default database: keel_bench_load on the local
                                         PostgreSQL, created if missing, kept between runs)

The first run builds the demo of --size in that database (`keel demo`; the large one takes
several minutes on PostgreSQL) and later runs reuse it. Each run creates a read token for
every salesperson and manager (revoking the previous run's), starts
`keel serve --production` (gunicorn, DEBUG off, the production settings) on a free port
and runs locust headless against it with bench/load_users.py: --users signed-in people,
salespeople and managers 4 to 1, each clicking every --wait seconds (a random pause in
that range) through the board, deal pages, searches, my day, quick-logs, stage moves and
API reads. `--wait 0,0` takes the think time away: the throughput the machine sustains.

It prints, per operation, the requests, throughput, failures and p50/p95/p99 next to
the bare views measured in the same run (/healthz: no database; /readyz: one query), the
ratio of each p95 to the bare view's, and whether each page meets issue 11's target of a
p95 of at most 300 ms. The exit status is 1 when any request failed.

--soak runs 10 minutes (unless --duration says otherwise) and samples the resident memory
of every gunicorn worker each 30 s: it prints each worker's growth from two minutes after
it started to the end and says flat or growing. (`keel serve --production` replaces a
worker after about 2,000 requests; a worker replaced during the soak is listed with the
time it lived.)
"""

import argparse
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench._setup import django_setup

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/keel_bench_load"
TOKEN_NAME = "bench.load"  # noqa: S105 - a name, not a secret: the tokens a run creates, revoked by the next run
TARGET_MS = 300.0  # issue 11: p95 of the pages at most this
SOAK_SECONDS = 600
SAMPLE_SECONDS = 30
SOAK_FROM = 120  # a worker's growth is measured from 2 minutes after it started: warm by then
JUDGED_SECONDS = 240  # and over at least this long, else it is too short-lived to judge
GROWTH_LIMIT_MB = 10.0  # a worker growing more than this over the soak is "growing"
SEED = 42
BARE = "bare /healthz (no database)"
KEEL = Path(sys.executable).with_name("keel")


# --- the production server, shared with bench.faults --------------------------------------


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def master_pid(self) -> int:
        return self.process.pid  # `keel serve --production` execs gunicorn in its place

    def worker_pids(self) -> list[int]:
        """The gunicorn workers: the master's children, read from /proc."""
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # ended meanwhile
            # pid (comm) state ppid …: comm may hold spaces, so split after its ")".
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.master_pid:
                children.append(int(entry.name))
        return sorted(children)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_environment(database_url: str, **extra: str) -> dict[str, str]:
    """The production settings for a server on 127.0.0.1 behind no proxy."""
    environment = {k: v for k, v in os.environ.items() if k != "KEEL_DEBUG"}
    environment.update(
        KEEL_DATABASE_URL=database_url,
        KEEL_SECRET_KEY=os.environ.get("KEEL_SECRET_KEY") or "bench-load-" + "x" * 40,
        KEEL_ALLOWED_HOSTS="127.0.0.1",
        KEEL_SSL_REDIRECT="0",
        KEEL_LOG_LEVEL="ERROR",
        # The people share ten accounts' tokens: the production limit would refuse them.
        KEEL_API_RATE_LIMIT="1000000/min",
        KEEL_SIGNIN_FAILURE_LIMIT="1000",
        **extra,
    )
    return environment


def wait_until_up(url: str, process: subprocess.Popen[bytes], *, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server stopped at start-up (exit {process.returncode})")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):  # noqa: S310 - ours
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise SystemExit(f"the server did not answer {url}/healthz within {seconds:.0f} s")


@contextmanager
def production_server(
    database_url: str, *, workers: int, timeout: int = 60, **extra: str
) -> Iterator[Server]:
    """`keel serve --production` on a free port, stopped (SIGTERM, then SIGKILL) after."""
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="keel-server-"))
    log = folder / "server.log"
    environment = server_environment(database_url, KEEL_STATIC_ROOT=str(folder / "static"), **extra)
    command = [str(KEEL), "serve", "--production", f"127.0.0.1:{port}"]
    command += ["--workers", str(workers), "--timeout", str(timeout)]
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own command
            command, env=environment, stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(url=f"http://127.0.0.1:{port}", process=process, log=log)
    try:
        try:
            wait_until_up(server.url, process)
        except SystemExit:
            print(log.read_text(errors="replace")[-3000:], file=sys.stderr)  # why it did not start
            raise
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(folder, ignore_errors=True)


# --- the demo and the plan the users read ------------------------------------------------


def _demo_ready(size: str) -> None:
    from django.db import connection
    from django.utils import timezone

    from keel.demo.generate import DemoRefused, demo_build, demo_marker

    marker = demo_marker()
    if marker is not None and marker.get("size") == size:
        print(f"reusing the {size} demo built {marker.get('built_at')}")
        with connection.cursor() as cursor:  # what autovacuum would have done by now
            cursor.execute("ANALYZE")  # (this machine's server runs with it off)
        return
    print(f"building the {size} demo (several minutes on PostgreSQL for the large one) …")
    try:
        summary = demo_build(size=size, seed=SEED, today=timezone.localdate())
    except DemoRefused as error:
        raise SystemExit(str(error)) from None
    print(f"  {summary.rows:,} rows in {summary.seconds:.0f} s")


def _plan(*, users: int, wait: tuple[float, float], url: str) -> dict[str, object]:
    """Who signs in, with which token and deals, and what they search for."""
    import random

    from django.db.models import Q
    from django.utils import timezone

    from keel.accounts.models import ApiToken, Role, TokenScope, User
    from keel.accounts.services import token_create
    from keel.crm.models import Company
    from keel.demo.simulate import PASSWORD
    from keel.pipeline.access import deals_visible_to
    from keel.pipeline.models import Deal, DealStatus

    ApiToken.objects.filter(name=TOKEN_NAME, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    roles = {Role.SALESPERSON: "salesperson", Role.SALES_MANAGER: "manager"}
    accounts = []
    for person in User.objects.filter(role__in=roles, is_active=True).order_by("id"):
        if person.role == Role.SALESPERSON:
            deals = Deal.objects.filter(owner=person, status=DealStatus.OPEN)
        else:
            deals = deals_visible_to(person).filter(status=DealStatus.OPEN)
        ids = list(deals.order_by("id").values_list("id", flat=True)[:2000])
        if not ids:
            continue
        token = token_create(user=person, name=TOKEN_NAME, scope=TokenScope.READ)
        accounts.append(
            {
                "username": person.username,
                "role": roles[Role(person.role)],
                "deals": ids,
                "token": token.secret,
            }
        )
    if not any(a["role"] == "salesperson" for a in accounts):
        raise SystemExit("The demo has no salesperson with open deals.")
    names = list(Company.objects.filter(~Q(name="")).values_list("name", flat=True)[:5000])
    chooser = random.Random(SEED)
    # Three letters of a real name: what a person types before the list narrows enough.
    terms = sorted({name[:3].strip() for name in chooser.sample(names, min(200, len(names)))})
    return {
        "url": url,
        "users": users,
        "wait": list(wait),
        "password": PASSWORD,
        "accounts": accounts,
        "terms": [t for t in terms if t],
    }


# --- memory of the workers ---------------------------------------------------------------


@dataclass
class MemorySamples:
    """RSS in MB of each worker pid, by seconds since the start."""

    by_pid: dict[int, list[tuple[float, float]]] = field(default_factory=dict)


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _sample_memory(server: Server, samples: MemorySamples, stop: threading.Event) -> None:
    started = time.monotonic()
    while True:
        at = time.monotonic() - started
        for pid in server.worker_pids():
            if (rss := _rss_mb(pid)) is not None:
                samples.by_pid.setdefault(pid, []).append((at, rss))
        if stop.wait(SAMPLE_SECONDS):
            return


def _memory_report(samples: MemorySamples, duration: float) -> bool:
    """Print each worker's growth from two minutes after it started (imports, templates
    and caches are warm by then) to its last sample; True when every one is flat. A worker
    started late in the run (replaced after its max requests) is too short-lived to judge."""
    print(f"\nworker memory (RSS, MB), sampled every {SAMPLE_SECONDS} s:")
    print(f"  {'worker pid':>10}{'lived s':>9}{'warm':>10}{'at end':>9}{'growth':>9}  verdict")
    flat = True
    for pid, points in sorted(samples.by_pid.items()):
        born = points[0][0]
        after = [(at, rss) for at, rss in points if at >= born + SOAK_FROM]
        lived = points[-1][0] - born
        if len(after) < 2 or after[-1][0] - after[0][0] < JUDGED_SECONDS:
            print(f"  {pid:>10}{lived:>9.0f}{'':>10}{'':>9}{'':>9}  too short-lived to judge")
            continue
        growth = after[-1][1] - after[0][1]
        verdict = "flat" if growth <= GROWTH_LIMIT_MB else "GROWING"
        flat &= verdict == "flat"
        print(
            f"  {pid:>10}{lived:>9.0f}{after[0][1]:>10.1f}{after[-1][1]:>9.1f}"
            f"{growth:>+9.1f}  {verdict}"
        )
    replaced = sum(1 for pts in samples.by_pid.values() if pts[-1][0] < duration - SAMPLE_SECONDS)
    summary = (
        f"flat: no worker grew more than {GROWTH_LIMIT_MB:.0f} MB once warm"
        if flat
        else f"GROWING: a worker grew more than {GROWTH_LIMIT_MB:.0f} MB once warm (see above)"
    )
    if replaced:
        summary += f"; {replaced} worker(s) replaced after their max requests"
    print(f"  {summary}")
    return flat


# --- locust and its figures --------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    name: str
    requests: int
    failures: int
    per_second: float
    p50: float
    p95: float
    p99: float


def _locust(*, server: Server, plan: Path, users: int, duration: int, folder: Path) -> int:
    environment = {
        **os.environ,
        "KEEL_LOAD_PLAN": str(plan),
        "KEEL_LOAD_OUTCOMES": str(folder / "outcomes.json"),
    }
    command = [
        sys.executable, "-m", "locust", "-f", str(Path(__file__).with_name("load_users.py")),
        "--headless", "--host", server.url, "--users", str(users),
        "--spawn-rate", str(max(1, users // 25)), "--run-time", f"{duration}s",
        "--reset-stats",  # the figures are the steady state, after everyone has signed in
        "--stop-timeout", "10", "--csv", str(folder / "load"), "--only-summary",
        "--loglevel", "WARNING",
    ]  # fmt: skip
    finished = subprocess.run(  # noqa: S603 - our own locustfile
        command,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=folder.joinpath("locust.log").open("w"),
    )
    return finished.returncode


def _rows(folder: Path) -> list[Row]:
    rows = []
    with (folder / "load_stats.csv").open() as stats:
        for line in csv.DictReader(stats):
            if not int(line["Request Count"]):
                continue
            rows.append(
                Row(
                    name="total" if line["Name"] == "Aggregated" else line["Name"],
                    requests=int(line["Request Count"]),
                    failures=int(line["Failure Count"]),
                    per_second=float(line["Requests/s"]),
                    p50=float(line["50%"]),
                    p95=float(line["95%"]),
                    p99=float(line["99%"]),
                )
            )
    return rows


def _is_page(name: str) -> bool:
    return not name.startswith(("api ", "bare ", "sign", "total")) and "POST" not in name


def _report(rows: Sequence[Row], folder: Path) -> None:
    bare = next((r for r in rows if r.name == BARE), None)
    print(
        f"\n  {'operation':46}{'requests':>9}{'req/s':>8}{'fail':>6}{'p50':>7}{'p95':>7}"
        f"{'p99':>7}{'p95/bare':>9}  p95 <= {TARGET_MS:.0f} ms (pages)"
    )
    ordered = sorted(rows, key=lambda r: (r.name == "total", r.name.startswith("bare"), r.name))
    for row in ordered:
        ratio = f"{row.p95 / bare.p95:>9.1f}" if bare and bare.p95 else f"{'':>9}"
        verdict = ""
        if _is_page(row.name):
            verdict = "meets" if row.p95 <= TARGET_MS else "MISSES"
        print(
            f"  {row.name[:46]:46}{row.requests:>9,}{row.per_second:>8.1f}{row.failures:>6}"
            f"{row.p50:>7.0f}{row.p95:>7.0f}{row.p99:>7.0f}{ratio}  {verdict}"
        )
    outcomes_file = folder / "outcomes.json"
    if outcomes_file.exists():
        outcomes: dict[str, int] = json.loads(outcomes_file.read_text())
        print("\n  what the writes did:")
        for what, count in sorted(outcomes.items()):
            print(f"    {count:>7,}  {what}")
    failures = folder / "load_failures.csv"
    if failures.exists():
        with failures.open() as found:
            lines = list(csv.DictReader(found))
        if lines:
            print("\n  failures:")
            for line in lines[:15]:
                what = f"{line['Method']} {line['Name']}: {line['Error'][:150]}"
                print(f"    {line['Occurrences']:>6} × {what}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    parser.add_argument("--users", type=int, default=50, help="simulated people (default 50)")
    parser.add_argument("--duration", type=int, default=None, help="seconds (default 120)")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (2 a core + 1)")
    parser.add_argument("--wait", default="1,3", help="think time between clicks, min,max s")
    parser.add_argument("--size", default="large", help="the demo's size (default large)")
    parser.add_argument("--soak", action="store_true", help="10 minutes, worker memory sampled")
    parser.add_argument(
        "--database-url", default=os.environ.get("KEEL_LOAD_DATABASE_URL", DEFAULT_DATABASE)
    )
    args, _ = parser.parse_known_args(argv)
    duration = args.duration or (SOAK_SECONDS if args.soak else 120)
    low, _, high = args.wait.partition(",")
    wait = (float(low), float(high or low))
    if args.users < 1 or duration < 10 or not 0 <= wait[0] <= wait[1]:
        parser.error("--users at least 1, --duration at least 10, --wait as min,max")
    workers = args.workers or 2 * (os.cpu_count() or 1) + 1

    os.environ["KEEL_DATABASE_URL"] = args.database_url
    vendor = django_setup("keel-bench-load.sqlite3", keep=True)
    _demo_ready(args.size)
    from django.db import connections

    from keel.activities.models import Activity
    from keel.pipeline.models import Deal

    deals, activities = Deal.objects.count(), Activity.objects.count()
    folder = Path(tempfile.mkdtemp(prefix="keel-load-"))
    with production_server(args.database_url, workers=workers) as server:
        plan = _plan(users=args.users, wait=wait, url=server.url)
        connections.close_all()  # the server's workers get the connections
        (folder / "plan.json").write_text(json.dumps(plan))
        print(
            f"\nload on {vendor}, {args.size} demo ({deals:,} deals, {activities:,} activities): "
            f"{args.users} people for {duration} s, {wait[0]:g}-{wait[1]:g} s between clicks, "
            f"{workers} gunicorn workers on {os.cpu_count()} cores (locust on the same machine)"
        )
        samples = MemorySamples()
        stop = threading.Event()
        sampler = threading.Thread(target=_sample_memory, args=(server, samples, stop), daemon=True)
        if args.soak:
            sampler.start()
        try:
            status = _locust(
                server=server, plan=folder / "plan.json", users=args.users, duration=duration,
                folder=folder,
            )  # fmt: skip
        finally:
            stop.set()
        rows = _rows(folder)
        _report(rows, folder)
        flat = _memory_report(samples, duration) if args.soak else True
    total = next((r for r in rows if r.name == "total"), None)
    failed = total.failures if total else 1
    if total:
        pages = [r for r in rows if _is_page(r.name)]
        met = sum(r.p95 <= TARGET_MS for r in pages)
        print(
            f"\n  throughput {total.per_second:.1f} requests/s, {total.failures} failed; "
            f"{met} of {len(pages)} page kinds meet p95 <= {TARGET_MS:.0f} ms"
        )
    print(f"  (locust's CSV files and log: {folder})")
    if failed or status not in (0, 1) or not flat:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
