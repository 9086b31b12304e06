"""The Content Security Policy as Debian's Chromium enforces it: across Keel's main pages
nothing is refused (no inline script, handler or style; no eval), and what used to be
inline (htmx's hooks, a dismiss button, the import's progress) still works."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from keel.accounts.models import User
from keel.accounts.tests.factories import PASSWORD
from keel.activities.services import task_create
from keel.crm.models import Company, Contact
from keel.crm.tests.factories import CompanyFactory
from keel.imports.services import import_upload
from keel.imports.tests.conftest import fixture_file
from keel.pipeline.models import Deal, SalesProcess
from keel.pipeline.services import deal_create
from keel.web.tests.browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Runs before any script of each page; Playwright's own scripts are not bound by the policy.
WATCH = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(
    `${event.effectiveDirective} refused ${event.blockedURI || "inline"} ` +
    `at ${event.sourceFile}:${event.lineNumber}`
  );
});
"""


class Watch:
    """Everything the browser complains about while the pages are visited."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.problems: list[str] = []
        page.add_init_script(WATCH)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        # A refused move answers 409, a bad date 400, as they should: answers are judged
        # below, by what they are for.
        if message.text.startswith("Failed to load resource"):
            return
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def _response(self, response: Any) -> None:
        if response.status >= 500 or (response.status >= 400 and "/static/" in response.url):
            self.problems.append(f"{response.status} from {response.url}")

    def visit(self, url: str, *, ready: str = "main") -> None:
        self.page.goto(url)
        self.page.wait_for_selector(ready)
        self.page.wait_for_load_state("networkidle")  # htmx's hx-trigger="load" has answered
        self.collect()

    def collect(self) -> None:
        seen = self.page.evaluate("window.cspViolations.splice(0)")
        self.problems += [f"{self.page.url}: {violation}" for violation in seen]


def test_the_main_pages_break_no_rule_of_the_policy(page: Any, live_server: Any) -> None:
    call_command("demo", "--size", "small", "--seed", "7")
    watch = Watch(page)
    base = live_server.url
    sign_in(page, base, "owner", "keel-demo")
    deal = Deal.objects.filter(status="open").order_by("pk").first()
    company = Company.objects.order_by("pk").first()
    contact = Contact.objects.order_by("pk").first()
    assert deal and company and contact

    watch.visit(base + reverse("web:today"))
    watch.visit(base + reverse("web:pipeline"), ready=".board")
    watch.visit(base + reverse("pipeline:deal_list"))
    watch.visit(base + reverse("pipeline:deal_detail", args=[deal.pk]), ready="nav.path")
    # The stage path's next step: moved, or the page says what is missing.
    page.click("nav.path li.current + li button.step")
    page.wait_for_load_state("networkidle")
    watch.collect()
    watch.visit(base + reverse("handoffs:list"))
    watch.visit(base + reverse("collateral:library"))
    watch.visit(base + reverse("crm:company_list"))
    watch.visit(base + f"/companies/{company.pk}/")
    watch.visit(base + reverse("crm:contact_list"))
    watch.visit(base + f"/contacts/{contact.pk}/")
    watch.visit(base + reverse("activities:task_list"))
    watch.visit(base + reverse("forecast:forecast"))
    watch.visit(base + reverse("scorecard:scorecard"), ready="canvas[data-drawn]")
    assert page.locator("canvas[data-chart]:not([data-drawn])").count() == 0
    watch.visit(base + reverse("imports:run_list"))
    watch.visit(base + reverse("imports:run_upload"))

    assert watch.problems == []

    # The watch sees what the policy refuses: an inline script added now does not run.
    ran = page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.inlineRan = true";
            document.body.append(script);
            return window.inlineRan === true;
        }"""
    )
    page.wait_for_timeout(100)  # the violation event is queued as a task
    watch.collect()
    assert ran is False
    assert any("script-src-elem refused inline" in problem for problem in watch.problems)


def _deal(owner: User, name: str) -> Deal:
    """A deal in Qualify missing the evidence to leave it."""
    return deal_create(
        by=owner,
        name=name,
        company=CompanyFactory(name=f"{name} Ltd"),
        process=SalesProcess.objects.get(name="New business"),
        amount=Decimal(10_000),
        expected_close=date(2027, 6, 30),
    )


def test_what_was_inline_still_works(page: Any, live_server: Any, alice: User) -> None:
    bare = _deal(alice, "Bare")
    task = task_create(by=alice, title="Send the proposal", deal=bare, due_at=timezone.now())
    watch = Watch(page)
    base = live_server.url
    sign_in(page, base, "alice", PASSWORD)

    # A refused board move shows why; its Dismiss button (data-dismiss) takes that away.
    watch.visit(base + reverse("web:pipeline"), ready=".board")
    page.focus(f"#card-{bare.pk}")
    page.keyboard.press("ArrowRight")
    page.wait_for_selector(".blocked")
    page.click(".blocked >> text=Dismiss")
    page.wait_for_selector(".blocked", state="detached")

    # A task moved to a past day: the 400 answer is swapped in (data-swap-400), error shown.
    watch.visit(base + reverse("activities:task_list"))
    row = f"#task-{task.pk}"
    page.fill(f"{row} input[type=date]", (date.today() - timedelta(days=3)).isoformat())
    page.click(f"{row} >> text=Move")
    page.wait_for_selector(f"{row} .errors >> text=Pick today or a later day")
    assert page.get_attribute(f"{row} input[type=date]", "aria-invalid") == "true"
    # Then done, by htmx: the row comes back in place, the page stays.
    page.evaluate("window.stillHere = true")
    page.click(f"{row} >> text=Done")
    page.wait_for_selector(f"{row} >> text=Reopen")
    assert page.evaluate("window.stillHere") is True
    watch.collect()

    assert watch.problems == []


# Notes each phase the progress page shows, across the move to the run's page.
PHASES = """
new MutationObserver(() => {
  const phase = document.getElementById("import-phase");
  if (!phase) return;
  const seen = JSON.parse(sessionStorage.getItem("phases") || "[]");
  if (seen[seen.length - 1] !== phase.textContent) {
    seen.push(phase.textContent);
    sessionStorage.setItem("phases", JSON.stringify(seen));
  }
}).observe(document, { childList: true, subtree: true, characterData: true });
"""


def test_an_imports_progress_streams_in_and_moves_on(
    page: Any, live_server: Any, mary: User, new_business: SalesProcess
) -> None:
    run = import_upload(by=mary, file=fixture_file("hubspot_deals.csv"), kind="deals")
    watch = Watch(page)
    page.add_init_script(PHASES)
    base = live_server.url
    sign_in(page, base, "mary", PASSWORD)

    watch.visit(base + reverse("imports:run_map", args=[run.pk]))
    page.select_option("#id_process", str(new_business.pk))
    page.click("text=Dry run")
    # The steps arrive as data; web/import-progress.js shows them, then goes to the run.
    page.wait_for_url(base + reverse("imports:run_detail", args=[run.pk]))
    page.wait_for_load_state("networkidle")
    watch.collect()

    assert watch.problems == []
    phases = page.evaluate("JSON.parse(sessionStorage.getItem('phases') || '[]')")
    assert phases[0] == "Starting…" and phases[-1] == "Done", phases
    assert "Checking" in phases
    run.refresh_from_db()
    assert run.status == "dry_run"
