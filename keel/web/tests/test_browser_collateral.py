"""The collateral library as the demo's people use it, in Debian's Chromium: a salesperson
in Proposal sends the recommended case study with a share link, the buyer opens it, the
deal's collateral exit criterion turns green, and marketing's reports tell the truth of
the demo library."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from keel.collateral.models import Collateral, CollateralUse, ShareView, Status
from keel.pipeline.models import Deal, DealStatus
from keel.web.tests.browser import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CRITERION = "case_study"
LABEL = "Case study sent"


def test_a_case_study_sent_from_proposal_is_viewed_and_the_exit_criterion_turns_green(
    page: Any, browser: Any, live_server: Any, tmp_path: Path
) -> None:
    call_command("demo", "--size", "small", "--seed", "7")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    deal = (
        Deal.objects.filter(
            status=DealStatus.OPEN, stage__name="Proposal", process__name="New business"
        )
        .exclude(collateral_uses__collateral__kind=CRITERION)  # none went out in Proof
        .select_related("owner")
        .order_by("pk")
        .first()
    )
    assert deal is not None

    sign_in(page, live_server.url, deal.owner.username, "keel-demo")
    page.goto(f"{live_server.url}/deals/{deal.pk}/")
    checklist = page.locator("li.unmet", has_text="Send the buyer a case study")
    assert checklist.count() == 1  # the case study is still to send
    case = page.locator("section[aria-labelledby=collateral-h] li", has_text="Case study").first
    title = case.locator("b").first.inner_text()
    case.locator("summary:has-text('Send')").click()
    case.locator("input[name=share]").check()
    case.locator("button:has-text('Send')").click()
    page.wait_for_selector("text=link live until")
    link = page.locator('input[aria-label="The buyer\'s link"]').first.input_value()
    use = CollateralUse.objects.get(deal=deal, stage="Proposal")
    assert use.collateral.title == title and use.stage == "Proposal"
    assert page.locator("li.met", has_text=LABEL).count() == 1
    assert page.locator("li.unmet", has_text="Send the buyer a case study").count() == 0
    screenshot(page, "deal-collateral-sent", tmp_path)

    buyer = browser.new_context().new_page()  # no sign-in, another browser
    buyer.goto(link)
    buyer.wait_for_selector(f"text={title}")
    assert ShareView.objects.filter(link__use=use).count() == 1
    buyer.close()
    page.reload()
    page.wait_for_selector("text=1 view")

    sign_in(page, live_server.url, "chloe.dubois", "keel-demo")
    page.goto(live_server.url + "/collateral/reports/")
    active = Collateral.objects.filter(status=Status.ACTIVE)
    since = timezone.now() - timedelta(days=90)
    unused = active.exclude(uses__at__gte=since).distinct().count()
    summary = page.locator("main").inner_text()
    assert f"{unused} of {active.count()} active pieces" in summary
    for step in ("Start using it", "Look back on the results", "See a further need"):
        assert step in summary  # buyer steps the demo library has no piece for
    screenshot(page, "collateral-reports", tmp_path)
    assert errors == []
