"""What the browser tests share: where Chromium is, signing in, keeping screenshots."""

import os
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")


def sign_in(page: Any, base: str, username: str, password: str) -> None:
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def screenshot(page: Any, name: str, fallback: Path) -> None:
    """Keep a picture of the page: in KEEL_SCREENSHOTS when set, to be looked at."""
    folder = Path(os.environ.get("KEEL_SCREENSHOTS", fallback))
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
