"""My job as the demo's people use it, in Debian's Chromium: a manager writes a check-in
from the team view, the salesperson reads and answers it, the owner sees who is behind."""

from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from keel.planning.models import CheckIn
from keel.web.tests.browser import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_out(page: Any) -> None:
    page.click("header.top .who summary")
    page.click("text=Sign out")
    page.wait_for_selector("#id_username")


def test_a_check_in_from_the_manager_to_the_salesperson_and_back(
    page: Any, live_server: Any, tmp_path: Path
) -> None:
    call_command("demo", "--size", "small", "--seed", "7")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, live_server.url, "thomas.becker", "keel-demo")
    page.click("nav >> text=My job")
    page.wait_for_selector("#job-h")
    page.click("text=My team")
    page.wait_for_selector("table.team-work")
    page.click("table.team-work >> text=Nina Kowalski")  # Thomas's sales specialist
    page.wait_for_selector("#doing-h")
    page.fill("#id_check_in-text", "Dossiers on time all month: well done. Next: two more whales.")
    page.click("text=Save the check-in")
    page.wait_for_selector("text=Check-in saved")
    sign_out(page)

    sign_in(page, live_server.url, "nina.kowalski", "keel-demo")
    page.goto(live_server.url + "/job/")
    page.wait_for_selector("text=Dossiers on time all month")
    for heading in ("What's my job?", "What counts?", "How am I doing?"):
        assert page.locator(f'h2:has-text("{heading}")').is_visible()
    assert page.locator("text=Research dossiers").first.is_visible()
    latest = CheckIn.objects.filter(person__username="nina.kowalski").latest("written_at")
    page.fill(f"#reply-{latest.pk}", "Thanks: the next two are Harbor and Northwind.")
    page.click(f"#reply-{latest.pk} ~ button")
    page.wait_for_selector("text=Your answer is saved")
    screenshot(page, "my-job", tmp_path)
    latest.refresh_from_db()
    assert latest.reply.startswith("Thanks")
    sign_out(page)

    sign_in(page, live_server.url, "owner", "keel-demo")
    page.goto(live_server.url + "/plans/")
    page.wait_for_selector("text=Pursue whales")
    assert page.locator("table.plan-tactics tbody tr").count() == 5
    screenshot(page, "plans", tmp_path)
    assert errors == []
