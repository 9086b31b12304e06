"""The people of `python -m bench.load`: locust users signed in to a running Keel.

Not run on its own: bench.load writes the plan (the server's address, the demo's accounts
with their open deals and API tokens, search terms) to a JSON file named by KEEL_LOAD_PLAN
and starts `locust -f bench/load_users.py --headless …` against its production server.

Salespeople and managers sign in through the sign-in form (CSRF and all) and then, with a
think time between clicks, do what a sales team does all day, weighted like real use: the
pipeline board most, deal pages, the deal list searched, company and contact searches, my
day, a quick-log on one of their deals, a stage move, API reads with a personal token.
/healthz (no database) and /readyz (one trivial query) are the bare views, requested by
the same users in the same run.

A move is made as the deal page offers it: forward when the exit criteria are met,
otherwise back to the stage before (a move backward is recorded without checks). Each
simulated user moves only its own slice of its account's deals, so two sessions of one
account rarely race; when they do, the answer is the stale-version message, counted as a
refusal and not as an error, as is an "evidence missing" refusal (HTTP 409). Everything
else that is not the expected answer is a failure. The refusals are written, at the end,
to the JSON file named by KEEL_LOAD_OUTCOMES.
"""

import itertools
import json
import os
import random
import re
from collections import Counter
from html import escape, unescape
from http.cookiejar import Cookie
from pathlib import Path
from typing import Any

from locust import HttpUser, between, events, task
from requests.cookies import RequestsCookieJar

PLAN: dict[str, Any] = json.loads(Path(os.environ["KEEL_LOAD_PLAN"]).read_text())
OUTCOMES: Counter[str] = Counter()
_numbers = itertools.count()

# The deal page's stage path: one form a stage, "passed" on the open stages behind.
_PATH_STEP = re.compile(
    r'<li class="(?P<cls>[^"]*)"[^>]*>\s*<form method="post" action="/deals/\d+/move/">.*?'
    r'name="to_stage" value="(?P<stage>[^"]*)"><input type="hidden" name="version" '
    r'value="(?P<version>\d+)">',
    re.S,
)
# The primary "Move to <next stage>" form, with "N still missing" when criteria are unmet.
_NEXT = re.compile(
    r'<form method="post" action="/deals/\d+/move/" class="inline">(?P<body>.*?)</form>', re.S
)
_TO_STAGE = re.compile(r'name="to_stage" value="(?P<stage>[^"]*)"><input type="hidden" '
                       r'name="version" value="(?P<version>\d+)">')  # fmt: skip


class TlsEndedAtTheProxy(RequestsCookieJar):
    """Keeps Keel's Secure cookies for the plain HTTP of 127.0.0.1.

    In production a proxy ends TLS in front of gunicorn; the load test talks to gunicorn
    directly, so the session and CSRF cookies (Secure, as in production) would otherwise
    never be sent back.
    """

    def set_cookie(self, cookie: Cookie, *args: Any, **kwargs: Any) -> None:
        cookie.secure = False
        super().set_cookie(cookie, *args, **kwargs)


def _write_outcomes(**_: Any) -> None:
    Path(os.environ["KEEL_LOAD_OUTCOMES"]).write_text(json.dumps(dict(OUTCOMES)))


events.quitting.add_listener(_write_outcomes)  # type: ignore[no-untyped-call]  # locust


class _Person(HttpUser):
    abstract = True
    wait_time = between(PLAN["wait"][0], PLAN["wait"][1])
    accounts: list[dict[str, Any]] = []

    def on_start(self) -> None:
        number = next(_numbers)
        self.account = self.accounts[number % len(self.accounts)]
        sessions = max(1, PLAN["users"] // len(PLAN["accounts"]))
        # This session's share of the account's deals, apart from the account's others.
        deals: list[int] = self.account["deals"]
        share = deals[(number // len(self.accounts)) % sessions :: sessions] or deals
        self.deals = share
        self.client.cookies = TlsEndedAtTheProxy()
        self.client.get("/accounts/login/", name="sign-in form")
        response = self.client.post(
            "/accounts/login/",
            data={
                "username": self.account["username"],
                "password": PLAN["password"],
                "csrfmiddlewaretoken": self._csrf(),
            },
            allow_redirects=False,
            name="sign in",
        )
        if response.status_code != 302:
            raise RuntimeError(f"{self.account['username']} could not sign in: {response}")

    def _csrf(self) -> str:
        return str(self.client.cookies.get("csrftoken", ""))

    def _deal(self) -> int:
        return int(random.choice(self.deals))

    def _term(self) -> str:
        return str(random.choice(PLAN["terms"]))

    def _get_page(self, url: str, name: str) -> str:
        with self.client.get(url, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return ""
            return str(response.text)

    def _api(self, url: str, name: str) -> None:
        headers = {"Authorization": f"Bearer {self.account['token']}"}
        with self.client.get(url, name=name, headers=headers, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")

    @task(10)
    def board(self) -> None:
        self._get_page("/pipeline/", "board /pipeline/")

    @task(6)
    def deal_page(self) -> None:
        self._get_page(f"/deals/{self._deal()}/", "deal page /deals/[id]/")

    @task(3)
    def deal_search(self) -> None:
        self._get_page(f"/deals/?q={self._term()}", "deal search /deals/?q=")

    @task(2)
    def company_search(self) -> None:
        self._get_page(f"/companies/?q={self._term()}", "company search /companies/?q=")

    @task(2)
    def contact_search(self) -> None:
        self._get_page(f"/contacts/?q={self._term()}", "contact search /contacts/?q=")

    @task(3)
    def my_day(self) -> None:
        self._get_page("/", "my day /")

    @task(3)
    def api_list(self) -> None:
        self._api("/api/v1/deals?limit=50", "api GET /api/v1/deals")

    @task(2)
    def api_detail(self) -> None:
        self._api(f"/api/v1/deals/{self._deal()}", "api GET /api/v1/deals/[id]")

    @task(2)
    def bare(self) -> None:
        self._get_page("/healthz", "bare /healthz (no database)")

    @task(1)
    def bare_database(self) -> None:
        self._get_page("/readyz", "bare /readyz (one query)")

    def _post_then_follow(self, url: str, data: dict[str, str], name: str, done: str) -> None:
        """POST a form as the page does and read the page it leads to for the message."""
        data = {**data, "csrfmiddlewaretoken": self._csrf()}
        with self.client.post(
            url, data=data, name=name, allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code == 409 and "Nothing changed." in response.text:
                response.success()  # the expected refusal of a move the criteria block
                OUTCOMES[f"{name}: refused, evidence missing (409)"] += 1
                return
            if response.status_code != 302:
                response.failure(f"HTTP {response.status_code}")
                return
            response.success()
            location = response.headers["Location"]
        after = "deal page after a post /deals/[id]/"
        with self.client.get(location, name=after, catch_response=True) as page:
            if page.status_code != 200:
                page.failure(f"HTTP {page.status_code}")
            elif done in page.text:
                OUTCOMES[f"{name}: done"] += 1
            elif "Nothing was saved: reload the deal" in page.text:
                OUTCOMES[f"{name}: refused, changed meanwhile (stale version)"] += 1
            else:
                OUTCOMES[f"{name}: UNEXPECTED answer"] += 1
                page.failure(f"after {url}: neither {done!r} nor a refusal")


class Salesperson(_Person):
    """Works their own deals: most of the writes come from here."""

    weight = 4
    accounts = [a for a in PLAN["accounts"] if a["role"] == "salesperson"]

    @task(2)
    def quick_log(self) -> None:
        pk = self._deal()
        data = {"type": "call", "outcome": "", "notes": "Load test call.", "contact": ""}
        name = "quick-log POST /deals/[id]/log/"
        self._post_then_follow(f"/deals/{pk}/log/", data, name, "Call logged.")

    @task(2)
    def move(self) -> None:
        pk = self._deal()
        page = self._get_page(f"/deals/{pk}/", "deal page /deals/[id]/")
        target = _move_offered(page)
        if target is None:
            OUTCOMES["move: none offered (deal closed)"] += 1
            return
        stage, version = target
        self._post_then_follow(
            f"/deals/{pk}/move/",
            {"to_stage": stage, "version": version},
            "stage move POST /deals/[id]/move/",
            f"moved to {escape(stage)}.",
        )


class Manager(_Person):
    """Reads the team's pipeline and deals; writes nothing."""

    weight = 1
    accounts = [a for a in PLAN["accounts"] if a["role"] == "manager"]


def _move_offered(page: str) -> tuple[str, str] | None:
    """The move a person would make on this deal page: forward when nothing is missing,
    else back to the last stage passed, else forward anyway (to be refused)."""
    forward = _NEXT.search(page)
    if forward is not None and "still missing" not in forward["body"]:
        found = _TO_STAGE.search(forward["body"])
        if found is not None:
            return unescape(found["stage"]), found["version"]
    passed = [m for m in _PATH_STEP.finditer(page) if "passed" in m["cls"].split()]
    if passed:
        return unescape(passed[-1]["stage"]), passed[-1]["version"]
    if forward is not None and (found := _TO_STAGE.search(forward["body"])) is not None:
        return unescape(found["stage"]), found["version"]
    return None
