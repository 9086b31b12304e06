"""Two-factor sign-in in Chromium, under the Content Security Policy: the QR code shows,
the key typed into an app gives codes Keel takes, and the next sign-in asks for one."""

import time
from base64 import b32decode
from pathlib import Path
from typing import Any

import pytest
from django_otp.oath import TOTP

from keel.accounts.models import User
from keel.accounts.tests.factories import PASSWORD, UserFactory
from keel.web.tests.browser import screenshot, sign_in
from keel.web.tests.conftest import browser, page  # noqa: F401 - the browser fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WATCH = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.effectiveDirective} refused ${event.blockedURI || "inline"}`);
});
"""


def _code(secret: str, at: float) -> str:
    """What an authenticator app given `secret` (as shown, in groups) shows at `at`."""
    app = TOTP(b32decode(secret.replace(" ", "")))
    app.time = at
    return f"{app.token():06d}"


def test_setting_up_and_signing_in_with_a_code(
    page: Any,  # noqa: F811
    live_server: Any,
    tmp_path: Path,
) -> None:
    alice: User = UserFactory(username="alice")
    problems: list[str] = []
    page.add_init_script(WATCH)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    base = live_server.url
    sign_in(page, base, "alice", PASSWORD)

    page.goto(base + "/settings/two-factor/")
    page.click("text=Set up an authenticator app")
    page.wait_for_selector("#secret")
    qr_width = page.evaluate("document.querySelector('img[alt^=\"QR code\"]').naturalWidth")
    assert qr_width > 0  # the data: image is allowed and drawn
    secret = page.inner_text("#secret")
    screenshot(page, "two-factor-set-up", tmp_path)
    page.fill("#id_code", _code(secret, time.time()))
    page.click("button[type=submit]")
    page.wait_for_selector("#recovery-codes")
    assert page.locator("#recovery-codes li").count() == 10
    screenshot(page, "two-factor-recovery-codes", tmp_path)
    problems += page.evaluate("window.cspViolations.splice(0)")

    page.click("details.who summary")  # the person's menu
    page.click("details.who button.link")  # sign out
    page.wait_for_url(base + "/accounts/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/settings/two-factor/verify/?next=%2F")
    screenshot(page, "two-factor-verify", tmp_path)
    page.fill("#id_code", _code(secret, time.time() + 30))  # the set-up's code is used up
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")
    page.goto(base + "/settings/sessions/")
    screenshot(page, "sessions", tmp_path)
    problems += page.evaluate("window.cspViolations.splice(0)")
    assert problems == []
    assert alice.totpdevice_set.filter(confirmed=True).exists()
