"""The demo pipeline as a person sees it, in Debian's Chromium."""

from pathlib import Path

import pytest
from django.core.management import call_command

from keel.web.tests.browser import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_and_see_the_demo_pipeline(page, live_server, tmp_path: Path):
    call_command("demo", "--size", "small", "--seed", "7")
    page.goto(live_server.url + "/pipeline/")
    page.fill("#id_username", "owner")
    page.fill("#id_password", "keel-demo")
    page.click("button[type=submit]")
    page.wait_for_selector(".board")
    columns = page.locator(".column h2 span:first-child").all_inner_texts()
    assert columns == ["Qualify", "1st meeting", "Proof", "2nd meeting", "Proposal", "Close"]
    assert page.locator(".card").count() > 20
    screenshot(page, "pipeline", tmp_path)

    page.click("header.top .who summary")  # the account menu holds the sign-out
    page.click("text=Sign out")
    page.wait_for_selector("#id_username")
