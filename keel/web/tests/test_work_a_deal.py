"""The promise of the web app: from a new company to a won deal with nothing but its pages.

A robot salesperson reads what the deal page says is missing and uses the page's own forms
to supply it, stage by stage, until the deal is won. No service is called directly.
"""

import pytest
from django.test import Client

from keel.crm.models import Company, Contact
from keel.pipeline.models import Deal, DealStatus
from keel.pipeline.selectors import deal_workspace

pytestmark = pytest.mark.django_db


def _supply(client: Client, deal: Deal, contact: Contact) -> None:
    """Post, for every unmet criterion of the current stage, the form the page offers."""
    for item in deal_workspace(deal=deal).unmet:
        c = item.criterion
        url = f"/deals/{deal.pk}"
        if c["kind"] == "activity":
            for _ in range(c.get("count", 1)):
                client.post(f"{url}/log/", {"type": c["type"], "outcome": c.get("outcome", "")})
        elif c["kind"] == "checklist":
            client.post(f"{url}/tick/", {"item": c["item"]})
        elif c["kind"] == "contact_role":
            client.post(f"{url}/contacts/", {"contact": contact.pk, "role": c["role"]})
        elif c["kind"] == "fields":
            deal.refresh_from_db()
            client.post(
                f"{url}/edit/",
                {"name": deal.name, "owner": deal.owner_id, "version": deal.version,
                 "amount": "48000", "expected_close": "2027-05-31",
                 "next_step": "Agree the next meeting"},
            )  # fmt: skip
        deal.refresh_from_db()


def test_from_a_new_company_to_a_won_deal(client: Client, alice, new_business):
    client.force_login(alice)
    client.post(
        "/companies/new/", {"name": "Northwind", "domain": "northwind.example", "tier": "standard"}
    )
    company = Company.objects.get(name="Northwind")
    client.post("/contacts/new/", {"last_name": "Ng", "first_name": "Ada", "company": "Northwind"})
    contact = Contact.objects.get(last_name="Ng")
    assert contact.company == company
    client.post(
        "/deals/new/",
        {"name": "Northwind rollout", "company_name": "Northwind", "process": new_business.pk},
    )
    deal = Deal.objects.get(name="Northwind rollout")

    path = [deal.stage.name]
    while deal.status == DealStatus.OPEN:
        _supply(client, deal, contact)
        target = deal_workspace(deal=deal).next_stage
        assert target is not None
        response = client.post(
            f"/deals/{deal.pk}/move/", {"to_stage": target.name, "version": deal.version}
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        deal.refresh_from_db()
        path.append(deal.stage.name)
    assert deal.status == DealStatus.WON
    assert path == ["Qualify", "1st meeting", "Proof", "2nd meeting", "Proposal", "Close", "Intake"]
    assert deal.stage_changes.count() == 7
