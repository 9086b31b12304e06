"""What the fault scripts share: a seeded database, tokens, checks printed PASS or FAIL."""

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from bench._setup import django_setup

SEED = 42


@dataclass
class Checks:
    """Each check of one fault: printed as it is made, failed ones make the exit status."""

    fault: str
    failed: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str) -> bool:
        print(f"  {'PASS' if ok else 'FAIL'}  {what}", flush=True)
        if not ok:
            self.failed.append(what)
        return ok

    def finish(self) -> None:
        verdict = "PASS" if not self.failed else f"FAIL ({len(self.failed)} checks)"
        print(f"{self.fault}: {verdict}\n", flush=True)
        if self.failed:
            raise SystemExit(1)


def seeded(database_url: str) -> str:
    """Django on `database_url` (created and migrated if need be) with the small demo."""
    os.environ["KEEL_DATABASE_URL"] = database_url
    vendor = django_setup("unused.sqlite3", keep=True)
    from django.utils import timezone

    from keel.demo.generate import demo_build, demo_marker

    if demo_marker() is None:
        print("  building the small demo …", flush=True)
        demo_build(size="small", seed=SEED, today=timezone.localdate(), force=True)
    return vendor


def token_for(username: str) -> str:
    """A read-and-write API token for `username`: the secret, for Authorization: Bearer."""
    from keel.accounts.models import TokenScope, User
    from keel.accounts.services import token_create

    user = User.objects.get(username=username)
    return token_create(user=user, name="bench.faults", scope=TokenScope.READ_WRITE).secret


def api(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def signed_in(server_url: str, username: str) -> requests.Session:
    """A browser's session of `username`, signed in through the sign-in form.

    Keel's cookies are Secure (TLS ends at the proxy in production); this talks plain
    HTTP to gunicorn, so the session and CSRF cookies are sent by hand rather than by the
    cookie jar, and the CSRF token goes with every request (X-CSRFToken) for its POSTs.
    """
    from keel.demo.simulate import PASSWORD

    form = requests.get(f"{server_url}/accounts/login/", timeout=30)
    csrf = form.cookies["csrftoken"]
    answer = requests.post(
        f"{server_url}/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf},
        headers={"Cookie": f"csrftoken={csrf}"},
        allow_redirects=False,
        timeout=30,
    )
    if answer.status_code != 302 or "sessionid" not in answer.cookies:
        raise SystemExit(f"{username} could not sign in: HTTP {answer.status_code}")
    csrf = str(answer.cookies.get("csrftoken") or csrf)  # a new one after signing in
    session = requests.Session()
    session.headers["Cookie"] = f"sessionid={answer.cookies['sessionid']}; csrftoken={csrf}"
    session.headers["X-CSRFToken"] = csrf
    return session


def movable_deal(username: str) -> tuple[int, str, int, int]:
    """An open deal of `username` past its first stage: (id, the stage before, version,
    its stage changes). A move back needs no evidence, so it succeeds unless raced."""
    from keel.pipeline.models import Deal, DealStatus, Stage, StageChange, StageKind

    for deal in Deal.objects.filter(owner__username=username, status=DealStatus.OPEN).order_by(
        "-stage__position", "id"
    ):
        before = (
            Stage.objects.filter(
                version_id=deal.stage.version_id,
                kind=StageKind.OPEN,
                position__lt=deal.stage.position,
            )
            .order_by("-position")
            .first()
        )
        if before is not None:
            changes = StageChange.objects.filter(deal=deal).count()
            return deal.pk, before.name, deal.version, changes
    raise SystemExit(f"{username} has no open deal past its first stage.")


def deal_state(pk: int) -> tuple[int, str, int]:
    """(version, stage name, stage changes) of a deal, read afresh."""
    from django.db import close_old_connections

    from keel.pipeline.models import Deal, StageChange

    close_old_connections()
    deal = Deal.objects.select_related("stage").get(pk=pk)
    return deal.version, deal.stage.name, StageChange.objects.filter(deal_id=pk).count()


def wait_for(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        try:
            found = check()
        except Exception:
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            print(f"  gave up waiting {seconds:.0f} s for {what}", file=sys.stderr)
            return None
        time.sleep(0.2)
