"""Fault: the SQLite database read-only or its disk full, under the production server.

    python -m bench.faults.sqlite

A small demo in a SQLite file in a temporary folder, the production server on it, a
salesperson signed in. Then, one at a time, with the file restored in between:

1. the file read-only, its folder writable (`chattr +i`: root ignores permission bits);
2. the folder a read-only filesystem (a read-only bind mount over it);
3. the disk full (a small tmpfs mounted over the folder, the file copied in, the space
   left filled).

Each time a quick-log is posted as the deal page does. Checked: the answer is a 503 with
a message saying what is wrong and that nothing was saved (never a 500 or a traceback),
the database passes `PRAGMA integrity_check` and holds the same rows as before, and once
the fault is gone the same post succeeds. Needs root (mount, chattr); a case it cannot set
up is reported as skipped.
"""

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from pathlib import Path

import requests

from bench.faults._common import Checks, seeded, signed_in
from bench.load import production_server

OWNER = "marco.rossi"
TABLES = ("activities_activity", "pipeline_stagechange", "pipeline_deal", "django_session")


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)  # noqa: S603 - fixed commands


def _unmount(folder: Path) -> None:
    """umount, waiting for a worker still closing its connection to let go of the files."""
    for _ in range(40):
        unmounted = subprocess.run(["umount", str(folder)], capture_output=True, check=False)  # noqa: S603, S607
        if unmounted.returncode == 0:
            return
        time.sleep(0.25)
    _run("umount", "--lazy", str(folder))


def _counts(path: Path) -> dict[str, int]:
    with closing(sqlite3.connect(path)) as db:
        return {t: int(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}


def _intact(path: Path) -> bool:
    with closing(sqlite3.connect(path)) as db:
        return bool(db.execute("PRAGMA integrity_check").fetchone()[0] == "ok")


def _checkpoint(path: Path) -> None:
    """Everything in the main file, no WAL left beside it."""
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


@contextmanager
def _file_read_only(folder: Path) -> Iterator[None]:
    target = folder / "keel.sqlite3"
    _run("chattr", "+i", str(target))
    try:
        yield
    finally:
        _run("chattr", "-i", str(target))


@contextmanager
def _folder_read_only(folder: Path) -> Iterator[None]:
    _run("mount", "--bind", str(folder), str(folder))
    try:
        _run("mount", "-o", "remount,bind,ro", str(folder))
        yield
    finally:
        _unmount(folder)


@contextmanager
def _disk_full(folder: Path) -> Iterator[None]:
    """The folder as a tmpfs just big enough for the database, every byte left taken."""
    stash = Path(tempfile.mkdtemp(prefix="keel-fault-stash-"))
    for item in folder.iterdir():
        shutil.copy2(item, stash / item.name)
    size = sum(item.stat().st_size for item in stash.iterdir()) + 4 * 1024 * 1024
    _run("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
    try:
        for item in stash.iterdir():
            shutil.copy2(item, folder / item.name)
        with (folder / "filler").open("wb") as filler, suppress(OSError):
            while True:  # until ENOSPC
                filler.write(b"\0" * 65536)
                filler.flush()
        yield
        (folder / "filler").unlink()
        _checkpoint(folder / "keel.sqlite3")
        for item in folder.iterdir():  # what the fault left, back on the real disk
            shutil.copy2(item, stash / item.name)
    finally:
        _unmount(folder)
        for item in stash.iterdir():
            shutil.copy2(item, folder / item.name)
        shutil.rmtree(stash, ignore_errors=True)


def _quick_log(session: requests.Session, url: str, pk: int) -> requests.Response:
    return session.post(
        f"{url}/deals/{pk}/log/",
        data={"type": "call", "notes": "Fault test call. " * 200},
        allow_redirects=False,
        timeout=60,
    )


def main(argv: Sequence[str] | None = None) -> None:
    checks = Checks("SQLite read-only or full")
    root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="keel-fault-sqlite-"))
    folder = base / "db"
    folder.mkdir()
    path = folder / "keel.sqlite3"
    url = f"sqlite:///{path}"
    print(f"{checks.fault} (the production server on {path}):", flush=True)
    try:
        seeded(url)
        from keel.pipeline.models import Deal, DealStatus

        pk = Deal.objects.filter(owner__username=OWNER, status=DealStatus.OPEN).first().pk  # type: ignore[union-attr]
        from django.db import connections

        connections.close_all()
        with production_server(url, workers=2) as server:
            session = signed_in(server.url, OWNER)
            cases = [
                ("the file read-only (its folder writable)", _file_read_only, "read-only"),
                ("the folder a read-only filesystem", _folder_read_only, "folder read-only"),
                ("the disk full", _disk_full, "disk is full"),
            ]
            for label, fault, words in cases:
                print(f" {label}:")
                if not root:
                    print("  SKIP  needs root (chattr, mount)")
                    continue
                _checkpoint(path)
                before = _counts(path)
                with fault(folder):
                    answer = _quick_log(session, server.url, pk)
                    page = session.get(f"{server.url}/deals/{pk}/", timeout=60)
                text = answer.text.replace("&#x27;", "'")
                checks.check(
                    answer.status_code == 503 and words in text and "nothing was saved" in text,
                    f"the write answers 503 saying {words!r} and nothing was saved "
                    f"(HTTP {answer.status_code})",
                )
                said = re.search(r'role="alert">(.*?)</p>', text)
                print(f"        (it said: {said[1] if said else text[:200]!r})")
                checks.check("Traceback" not in answer.text, "no traceback in the answer")
                print(f"        (reading the deal page meanwhile: HTTP {page.status_code})")
                checks.check(_intact(path), "PRAGMA integrity_check: ok")
                checks.check(_counts(path) == before, f"the same rows as before ({before})")
                again = _quick_log(session, server.url, pk)
                checks.check(
                    again.status_code == 302, f"after it, the write succeeds ({again.status_code})"
                )
    finally:
        # Never leave a mount or an immutable file behind, whatever failed.
        with suppress(subprocess.CalledProcessError, FileNotFoundError):
            while os.path.ismount(folder):
                _unmount(folder)
            _run("chattr", "-i", str(path))
        shutil.rmtree(base, ignore_errors=True)
    checks.finish()


if __name__ == "__main__":
    main()
