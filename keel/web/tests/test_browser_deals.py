"""Working deals in a real browser: board moves by mouse and keys, fixes, quick log, stale edits."""

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from keel.accounts.models import User
from keel.accounts.tests.factories import PASSWORD
from keel.activities.services import activity_log
from keel.crm.tests.factories import CompanyFactory
from keel.pipeline.models import Deal, SalesProcess
from keel.pipeline.services import checklist_tick, deal_create
from keel.web.tests.browser import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _deal(owner: User, name: str, *, ready: bool) -> Deal:
    """A deal in Qualify with amount and close date; `ready` adds the rest of the evidence."""
    process = SalesProcess.objects.get(name="New business")
    deal = deal_create(
        by=owner,
        name=name,
        company=CompanyFactory(name=f"{name} Ltd"),
        process=process,
        amount=Decimal(10_000),
        expected_close=date(2027, 6, 30),
    )
    if ready:
        activity_log(by=owner, type="call", outcome="connected", deal=deal)
        checklist_tick(deal=deal, item="Fits the ideal customer profile", by=owner)
    return deal


def _column(page: Any, stage: str) -> str:
    return f'.column[data-stage="{stage}"]'


def test_drag_allowed_and_blocked_then_fix_and_move(page, live_server, alice, tmp_path: Path):
    ready, bare = _deal(alice, "Ready", ready=True), _deal(alice, "Bare", ready=False)
    sign_in(page, live_server.url, "alice", PASSWORD)
    page.goto(live_server.url + "/pipeline/")
    page.evaluate("window.stillHere = true")  # gone if the page reloads

    page.drag_and_drop(f"#card-{ready.pk}", _column(page, "1st meeting"))
    page.wait_for_selector(f"{_column(page, '1st meeting')} #card-{ready.pk}")

    page.drag_and_drop(f"#card-{bare.pk}", _column(page, "1st meeting"))
    panel = page.wait_for_selector(".blocked")
    assert "Log a call (connected)" in panel.inner_text()
    assert page.locator(f"{_column(page, 'Qualify')} #card-{bare.pk}").count() == 1
    screenshot(page, "board-blocked", tmp_path)

    page.click(".blocked >> text=Tick it")
    # (A selector, not wait_for_function: that evals in the page, which the CSP refuses.)
    page.wait_for_selector(".blocked:not(:has-text('Tick the checklist'))")
    page.fill(".blocked input[name=notes]", "Spoke to the buyer")
    page.click(".blocked >> text=Log it")
    page.wait_for_selector(".blocked >> text=Everything is in place now")
    page.click(".blocked >> text=Move to 1st meeting again")
    page.wait_for_selector(f"{_column(page, '1st meeting')} #card-{bare.pk}")
    assert page.locator(".blocked").count() == 0
    assert page.evaluate("window.stillHere") is True
    bare.refresh_from_db()
    assert bare.stage.name == "1st meeting"


def test_keyboard_moves_a_card(page, live_server, alice):
    ready = _deal(alice, "Ready", ready=True)
    sign_in(page, live_server.url, "alice", PASSWORD)
    page.goto(live_server.url + "/pipeline/")
    page.focus(f"#card-{ready.pk}")
    page.keyboard.press("ArrowRight")
    page.wait_for_selector(f"{_column(page, '1st meeting')} #card-{ready.pk}")
    assert page.evaluate("document.activeElement.id") == f"card-{ready.pk}"  # focus stays
    page.keyboard.press("ArrowLeft")  # back again: backward moves need no evidence
    page.wait_for_selector(f"{_column(page, 'Qualify')} #card-{ready.pk}")


def test_quick_log_a_call_from_the_deal(page, live_server, alice, tmp_path: Path):
    deal = _deal(alice, "Bare", ready=False)
    sign_in(page, live_server.url, "alice", PASSWORD)
    page.goto(f"{live_server.url}/deals/{deal.pk}/")
    page.select_option("#id_type", "call")
    page.select_option("#id_outcome", "connected")
    page.fill("#id_notes", "They want a proposal by March")
    page.click(".quicklog button")
    page.wait_for_selector(".timeline >> text=They want a proposal by March")
    assert "Call logged." in page.inner_text(".messages")
    met = page.locator(".checklist li.met").all_inner_texts()
    assert any("Call (connected) logged" in text for text in met)
    screenshot(page, "deal-workspace", tmp_path)


def test_a_stale_edit_from_two_sessions(browser, live_server, alice, mary, tmp_path: Path):
    deal = _deal(alice, "Shared", ready=False)
    mine, theirs = browser.new_page(), browser.new_context().new_page()
    sign_in(mine, live_server.url, "alice", PASSWORD)
    sign_in(theirs, live_server.url, "mary", PASSWORD)
    edit = f"{live_server.url}/deals/{deal.pk}/edit/"
    mine.goto(edit)
    theirs.goto(edit)

    theirs.fill("#id_amount", "25000")
    theirs.click("button:has-text('Save')")
    theirs.wait_for_url(f"{live_server.url}/deals/{deal.pk}/")

    mine.fill("#id_next_step", "Send the case study")
    mine.click("button:has-text('Save')")
    mine.wait_for_selector("text=changed this deal while you were editing")
    assert mine.input_value("#id_next_step") == "Send the case study"  # nothing typed is lost
    screenshot(mine, "deal-stale-edit", tmp_path)
    deal.refresh_from_db()
    assert (deal.amount, deal.next_step) == (Decimal(25000), "")

    mine.click("button:has-text('Save')")  # having seen the other change, save knowingly
    mine.wait_for_url(f"{live_server.url}/deals/{deal.pk}/")
    deal.refresh_from_db()
    assert deal.next_step == "Send the case study"
