"""The scorecard and the monthly review as the demo's owner sees them, in Debian's Chromium."""

from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from keel.web.tests.browser import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_charts_draw_and_the_review_prints(page: Any, live_server: Any, tmp_path: Path):
    call_command("demo", "--size", "small", "--seed", "7")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, live_server.url, "owner", "keel-demo")

    page.goto(live_server.url + "/scorecard/")
    page.wait_for_selector("canvas[data-drawn]")
    assert page.locator("canvas[data-chart]").count() == 3
    page.wait_for_function("document.querySelectorAll('canvas[data-drawn]').length === 3")
    # Chart.js has painted: a drawn canvas has pixels that are not transparent.
    painted = page.evaluate(
        """() => [...document.querySelectorAll('canvas[data-chart]')].map(c => {
            const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            for (let i = 3; i < data.length; i += 4) if (data[i] > 0) return true;
            return false;
        })"""
    )
    assert painted == [True, True, True]
    screenshot(page, "scorecard", tmp_path)

    page.click("text=Calls")
    page.wait_for_selector("#trend-h:has-text('Calls')")

    page.click("text=Monthly review")
    page.wait_for_selector("#moved-h")
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    assert not page.locator("form.filters").is_visible()
    assert page.locator("table.list").first.is_visible()
    screenshot(page, "scorecard-review-print", tmp_path)
    assert errors == []
