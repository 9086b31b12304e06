"""The demo pipeline as a person sees it, in Debian's Chromium."""

import os
from pathlib import Path

import pytest
from django.core.management import call_command

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch):
    if not CHROMIUM.exists():
        if os.environ.get("KEEL_REQUIRE_BROWSER"):
            pytest.fail("KEEL_REQUIRE_BROWSER is set but /usr/bin/chromium is missing")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's ORM calls are safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        yield browser.new_page(viewport={"width": 1400, "height": 900})
        browser.close()


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
    screenshots = Path(os.environ.get("KEEL_SCREENSHOTS", tmp_path))
    screenshots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshots / "pipeline.png"), full_page=True)

    page.click("text=Sign out")
    page.wait_for_selector("#id_username")
