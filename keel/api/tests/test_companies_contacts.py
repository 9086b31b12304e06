"""/api/v1/companies and /api/v1/contacts: list, read, create, update with a version."""

import pytest

from keel.crm.models import Company, Contact, FunnelStage
from keel.crm.services import company_update
from keel.crm.tests.factories import CompanyFactory, ContactFactory

pytestmark = pytest.mark.django_db


def test_company_list_filters_and_orders(api_as, alice):
    CompanyFactory(name="Zeta", employees=10, industry="Rockets")
    CompanyFactory(name="Alpha", employees=500)
    api = api_as(alice)
    assert [c["name"] for c in api.get("/companies").json()["items"]] == ["Alpha", "Zeta"]
    by_size = api.get("/companies", ordering="-employees").json()["items"]
    assert [c["name"] for c in by_size] == ["Alpha", "Zeta"]
    assert api.get("/companies", industry="Rockets").json()["count"] == 1
    assert api.get("/companies", q="zet").json()["items"][0]["name"] == "Zeta"


def test_company_create_and_read(api_as, alice):
    api = api_as(alice)
    response = api.post(
        "/companies", {"name": "Globex", "domain": "Globex.Example", "owner_id": alice.pk}
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["domain"] == "globex.example"
    assert created["owner"] == {"id": alice.pk, "name": str(alice)}
    assert api.get(f"/companies/{created['id']}").json()["name"] == "Globex"


def test_company_domain_taken_is_422(api_as, alice, acme):
    response = api_as(alice).post("/companies", {"name": "Acme 2", "domain": "acme.example"})
    assert response.status_code == 422
    assert response.json()["errors"] == ["domain: Acme already has the domain acme.example."]


def test_company_update_with_its_version(api_as, alice, acme):
    api = api_as(alice)
    version = api.get(f"/companies/{acme.pk}").json()["version"]
    response = api.patch(f"/companies/{acme.pk}", {"version": version, "employees": 40})
    assert response.status_code == 200, response.content
    assert response.json()["employees"] == 40
    assert response.json()["version"] != version


def test_company_update_of_a_stale_version_is_409(api_as, alice, mary, acme):
    api = api_as(alice)
    version = api.get(f"/companies/{acme.pk}").json()["version"]
    company_update(
        company=acme, by=mary, expected_updated_at=acme.updated_at, data={"industry": "Tools"}
    )
    response = api.patch(f"/companies/{acme.pk}", {"version": version, "industry": "Toys"})
    assert response.status_code == 409
    assert any("Tools" in line for line in response.json()["errors"])
    assert Company.objects.get(pk=acme.pk).industry == "Tools"


def test_contact_create_moves_the_funnel(api_as, alice, acme):
    response = api_as(alice).post(
        "/contacts",
        {
            "last_name": "Doe",
            "company_id": acme.pk,
            "email": "doe@acme.example",
            "buying_role": "champion",
            "inquired_at": "2025-01-02T10:00:00Z",
        },
    )
    assert response.status_code == 201, response.content
    assert response.json()["funnel_stage"] == FunnelStage.LEAD
    assert response.json()["company"] == {"id": acme.pk, "name": "Acme"}


def test_contact_update_clears_a_choice_with_null(api_as, alice, acme):
    contact = ContactFactory(company=acme, buying_role="champion")
    api = api_as(alice)
    version = api.get(f"/contacts/{contact.pk}").json()["version"]
    response = api.patch(
        f"/contacts/{contact.pk}", {"version": version, "buying_role": None, "company_id": None}
    )
    assert response.status_code == 200, response.content
    contact.refresh_from_db()
    assert (contact.buying_role, contact.company_id) == ("", None)


def test_contact_list_filters(api_as, alice, acme):
    ContactFactory(company=acme, last_name="Able")
    ContactFactory(last_name="Baker")
    api = api_as(alice)
    assert [c["last_name"] for c in api.get("/contacts", company=acme.pk).json()["items"]] == [
        "Able"
    ]
    assert api.get("/contacts", q="bak").json()["count"] == 1
    assert Contact.objects.count() == 2
