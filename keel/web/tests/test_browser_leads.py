"""Leads as the demo's people work them, in Debian's Chromium: marketing drafts a stricter
lead definition and reads its preview, sales approves and publishes it, and a visitor's
form submission on the business's website becomes a routed, qualified lead with a
first-touch deadline on its salesperson's list."""

from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from keel.crm.models import Company, Contact, Tier
from keel.leads.models import DefinitionStatus, Handoff, LeadDefinition, LeadForm, Qualification
from keel.web.tests.browser import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STRICTER = "- kind: icp\n  min: 50\n"


def sign_out(page: Any) -> None:
    page.click("header.top .who summary")
    page.click("text=Sign out")
    page.wait_for_selector("#id_username")


def test_a_stricter_definition_goes_live_and_a_web_lead_is_routed(
    page: Any, live_server: Any, tmp_path: Path
) -> None:
    call_command("demo", "--size", "small", "--seed", "7")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    qualified_before = Contact.objects.filter(qualified_at__isnull=False).count()

    # Marketing drafts v3 from v2's rules, with a minimum fit, and reads the preview.
    sign_in(page, live_server.url, "chloe.dubois", "keel-demo")
    page.goto(live_server.url + "/leads/definitions/new/")
    rules = page.input_value("#id_rules")
    page.fill("#id_rules", rules.rstrip("\n") + "\n" + STRICTER)
    page.fill("#id_notes", "Only companies that fit our profile: sales turned down the rest.")
    page.click("text=Save the draft and preview it")
    page.wait_for_selector("#preview-h")
    preview = page.inner_text("section[aria-labelledby=preview-h]")
    assert "v3 qualifies" in preview and "v2 qualifies" in preview and "lost" in preview
    page.click("button:has-text('Approve')")
    page.wait_for_selector("text=Marketing: approved by")
    screenshot(page, "lead-definition-preview", tmp_path)
    sign_out(page)

    # Sales approves and publishes it: the counts change, each with the version recorded.
    sign_in(page, live_server.url, "thomas.becker", "keel-demo")
    page.goto(live_server.url + "/leads/definitions/v3/")
    page.click("button:has-text('Approve')")
    page.click("button:has-text('Publish v3')")
    page.wait_for_selector("text=v3 is live")
    v3 = LeadDefinition.objects.get(version=3)
    assert v3.status == DefinitionStatus.ACTIVE
    qualified_after = Contact.objects.filter(qualified_at__isnull=False).count()
    assert 0 < qualified_after < qualified_before
    assert Qualification.objects.filter(definition=v3, qualified=True).count() == qualified_after
    sign_out(page)

    # A visitor fills in the website's form: a new person at a company that fits.
    fitting = (
        Company.objects.filter(tier=Tier.STANDARD, employees__gte=20, icp_fit__gte=50)
        .exclude(domain="")
        .exclude(region="Nordics")
        .order_by("pk")
        .first()
    )
    assert fitting is not None
    form = LeadForm.objects.get(name="Contact us")
    page.goto(f"{live_server.url}/f/{form.token}/")
    page.fill("input[name=email]", f"maria.keller@{fitting.domain}")
    page.fill("input[name=first_name]", "Maria")
    page.fill("input[name=last_name]", "Keller")
    page.fill("input[name=company]", fitting.name)
    page.fill("input[name=title]", "Head of Sales")
    page.check("input[name=consent]")
    page.click("button:has-text('Send')")
    page.wait_for_selector("text=Thank you")
    lead = Contact.objects.get(email=f"maria.keller@{fitting.domain}")
    assert lead.company == fitting and lead.qualified_by == v3 and lead.consent
    handoff = Handoff.objects.get(contact=lead)
    assert handoff.owner is not None and handoff.due_at is not None and handoff.task is not None
    assert lead.owner == handoff.owner

    # Its salesperson finds it at the top of their leads, due, with the rule that sent it.
    sign_in(page, live_server.url, handoff.owner.username, "keel-demo")
    page.click("nav >> text=Leads")
    row = page.locator("tbody tr", has_text="Maria Keller")
    row.wait_for()
    assert handoff.rule_words in row.inner_text()
    assert "Due" in row.inner_text()
    screenshot(page, "leads-handed", tmp_path)
    row.locator("button:has-text('Accept')").click()
    page.wait_for_selector("text=You accepted Maria Keller")
    assert errors == []
