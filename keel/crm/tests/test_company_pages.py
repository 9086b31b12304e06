"""The company pages: /companies/, /companies/new/, /companies/<pk>/ and its edit page."""

import re

import pytest
from django.test import Client

from keel.accounts.models import Role, User
from keel.accounts.tests.factories import UserFactory
from keel.activities.services import activity_log
from keel.core.models import AuditEntry
from keel.crm.models import Company, FunnelStage, Tier
from keel.crm.tests.factories import CompanyFactory, ContactFactory
from keel.pipeline.models import Deal, SalesProcess
from keel.pipeline.services import deal_create

pytestmark = pytest.mark.django_db


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def form_data(company: Company | None = None, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": company.name if company else "Globex",
        "domain": company.domain if company else "globex.example",
        "industry": company.industry if company else "Manufacturing",
        "employees": company.employees if company and company.employees is not None else "",
        "region": company.region if company else "",
        "tier": company.tier if company else Tier.STANDARD,
        "icp_fit": "",
        "owner": company.owner_id if company and company.owner_id else "",
    }
    data.update(changes)
    return data


def token(html: str) -> str:
    found = re.search(r'name="version" value="([^"]+)"', html)
    assert found, "the edit form carries no version"
    return found.group(1)


def order(html: str, *names: str) -> list[int]:
    return [html.index(f">{name}</a>") for name in names]


# --- signing in


@pytest.mark.parametrize(
    "path", ["/companies/", "/companies/new/", "/companies/{pk}/", "/companies/{pk}/edit/"]
)
def test_the_company_pages_need_a_sign_in(client: Client, acme: Company, path: str):
    response = client.get(path.format(pk=acme.pk))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_post_without_a_sign_in_changes_nothing(client: Client, acme: Company):
    response = client.post(f"/companies/{acme.pk}/edit/", form_data(acme, name="Hacked"))
    assert response.status_code == 302
    assert Company.objects.get(pk=acme.pk).name == "Acme"


# --- the list


def test_the_list_shows_each_company_with_its_columns(client: Client, vera: User, alice: User):
    CompanyFactory(
        name="Initech",
        domain="initech.example",
        industry="Software",
        tier=Tier.KEY,
        employees=1250,
        owner=alice,
    )
    html = page(signed_in(client, vera), "/companies/")  # a viewer reads
    row = html[html.index(">Initech</a>") :]
    row = row[: row.index("</tr>")]
    for text in ("initech.example", "Software", "Key account", "1250", "Suspect", "Alice"):
        assert text in row
    assert "New company" not in html  # a viewer does not create
    assert "New company" in page(signed_in(client, alice), "/companies/")


def test_the_search_matches_a_name_or_a_domain(client: Client, vera: User):
    CompanyFactory(name="Acme Rockets", domain="acme.example")
    CompanyFactory(name="Initech", domain="initech.io")
    CompanyFactory(name="Globex", domain="globex.example")
    signed_in(client, vera)
    html = page(client, "/companies/?q=rocket")
    assert ">Acme Rockets</a>" in html and "Initech" not in html and "Globex" not in html
    html = page(client, "/companies/?q=.io")
    assert ">Initech</a>" in html and "Acme" not in html and "Globex" not in html
    html = page(client, "/companies/?q=acme+rockets")  # every word must match
    assert ">Acme Rockets</a>" in html and "Globex" not in html


def test_the_filters_narrow_the_list_and_links_keep_them(client: Client, vera: User, alice: User):
    CompanyFactory(name="Whale One", tier=Tier.WHALE, industry="Retail", owner=alice)
    CompanyFactory(name="Whale Two", tier=Tier.WHALE, industry="Software", owner=alice)
    CompanyFactory(name="Whale Three", tier=Tier.WHALE, industry="Retail")
    CompanyFactory(name="Minnow", tier=Tier.STANDARD, industry="Retail", owner=alice)
    Company.objects.filter(name="Whale Two").update(funnel_stage=FunnelStage.CUSTOMER)
    signed_in(client, vera)

    html = page(client, f"/companies/?tier=whale&industry=Retail&owner={alice.pk}")
    assert ">Whale One</a>" in html
    assert "Whale Two" not in html and "Whale Three" not in html and "Minnow" not in html
    assert "tier=whale" in html and "industry=Retail" in html  # the sort links keep them
    assert '<option value="Retail" selected>' in html  # and the form shows them

    html = page(client, "/companies/?funnel_stage=customer")
    assert ">Whale Two</a>" in html and "Whale One" not in html

    # A filter value a stale link gets wrong is left out, not a server error.
    html = page(client, "/companies/?tier=nonsense&owner=999999")
    assert "Minnow" in html and "Whale One" in html


def test_the_list_sorts_by_name_employees_funnel_stage_and_update(client: Client, vera: User):
    CompanyFactory(name="Bravo", employees=10)
    CompanyFactory(name="Alpha", employees=500)
    CompanyFactory(name="Charlie", employees=50)
    Company.objects.filter(name="Charlie").update(funnel_stage=FunnelStage.LEAD)
    Company.objects.filter(name="Alpha").update(funnel_stage=FunnelStage.RAVING_FAN)
    signed_in(client, vera)

    a, b, c = order(page(client, "/companies/"), "Alpha", "Bravo", "Charlie")
    assert a < b < c
    a, b, c = order(page(client, "/companies/?sort=employees"), "Alpha", "Bravo", "Charlie")
    assert b < c < a
    a, b, c = order(page(client, "/companies/?sort=-employees"), "Alpha", "Bravo", "Charlie")
    assert a < c < b
    # By the funnel's order, not the alphabet: suspect, lead, ..., raving fan.
    a, b, c = order(page(client, "/companies/?sort=funnel"), "Alpha", "Bravo", "Charlie")
    assert b < c < a
    Company.objects.get(name="Bravo").save()  # the latest change
    a, b, c = order(page(client, "/companies/?sort=-updated"), "Alpha", "Bravo", "Charlie")
    assert b < c < a


def test_the_list_is_paged_and_the_pages_keep_the_filters(client: Client, vera: User):
    for n in range(55):
        CompanyFactory(name=f"Firm {n:02}", industry="Retail")
    CompanyFactory(name="Firm elsewhere", industry="Software")
    signed_in(client, vera)
    html = page(client, "/companies/?industry=Retail")
    assert "Page 1 of 2 · 55 in all" in html
    assert ">Firm 49</a>" in html and "Firm 50" not in html
    assert "?industry=Retail&amp;sort=name&amp;page=2" in html
    html = page(client, "/companies/?industry=Retail&page=2")
    assert ">Firm 50</a>" in html and ">Firm 54</a>" in html and "Firm 49" not in html
    assert "Firm elsewhere" not in html


def test_the_list_runs_a_bounded_number_of_queries(
    client: Client, alice: User, django_assert_max_num_queries
):
    for n in range(30):
        CompanyFactory(owner=UserFactory(username=f"owner{n}"), industry=f"Industry {n}")
    signed_in(client, alice)
    with django_assert_max_num_queries(7):
        html = page(client, "/companies/?sort=funnel")
    assert html.count("<tr>") == 31  # the header and every company


# --- the detail page


@pytest.fixture
def sams_deal(sam: User, acme: Company, new_business: SalesProcess) -> Deal:
    """A deal of team South with Acme: team North does not see it."""
    return deal_create(by=sam, name="South secret deal", company=acme, process=new_business)


def test_the_detail_page_shows_facts_contacts_deals_and_activity(
    client: Client, alice: User, sam: User, acme: Company, deal: Deal, sams_deal: Deal
):
    Company.objects.filter(pk=acme.pk).update(industry="Aerospace", employees=300)
    ContactFactory(company=acme, first_name="Wile", last_name="Coyote", buying_role="champion")
    activity_log(by=alice, type="call", outcome="connected", company=acme, notes="Asked for a demo")
    activity_log(by=sam, type="meeting", deal=sams_deal, notes="South only note")

    html = page(signed_in(client, alice), f"/companies/{acme.pk}/")
    assert "<h1>Acme</h1>" in html
    assert "Aerospace" in html and "300" in html
    assert "Qualified lead" in html  # a deal makes the company a qualified lead
    assert "Wile Coyote" in html and "Champion" in html
    assert f'href="/deals/{deal.pk}/">Acme rollout</a>' in html
    assert "Asked for a demo" in html
    # Another team's deal, and the notes logged on it, are not Alice's to read.
    assert "South secret deal" not in html and "South only note" not in html
    assert f'href="/companies/{acme.pk}/edit/"' in html
    assert f'href="/contacts/new/?company={acme.pk}"' in html

    html = page(signed_in(client, sam), f"/companies/{acme.pk}/")
    assert "South secret deal" in html and "South only note" in html


def test_a_viewer_reads_the_detail_page_without_edit_buttons(
    client: Client, vera: User, acme: Company, deal: Deal
):
    html = page(signed_in(client, vera), f"/companies/{acme.pk}/")
    assert "Acme rollout" in html  # a viewer reads every deal
    assert "/edit/" not in html and "/contacts/new/" not in html


def test_an_unknown_company_is_not_found(client: Client, alice: User):
    signed_in(client, alice)
    assert client.get("/companies/999999/").status_code == 404
    assert client.get("/companies/999999/edit/").status_code == 404
    assert client.post("/companies/999999/edit/", form_data()).status_code == 404


def test_the_detail_page_runs_a_bounded_number_of_queries(
    client: Client,
    alice: User,
    acme: Company,
    new_business: SalesProcess,
    django_assert_max_num_queries,
):
    for n in range(30):
        contact = ContactFactory(company=acme, owner=UserFactory(username=f"c{n}"))
        deal = deal_create(by=alice, name=f"Deal {n}", company=acme, process=new_business)
        activity_log(by=alice, type="call", deal=deal, contact=contact)
    signed_in(client, alice)
    with django_assert_max_num_queries(7):
        html = page(client, f"/companies/{acme.pk}/")
    assert len(re.findall(r'href="/deals/\d+/"', html)) == 30 + 20  # deals, activities' deals
    assert len(re.findall(r'href="/contacts/\d+/"', html)) == 30 + 20  # contacts, activities'


# --- creating


def test_a_salesperson_creates_a_company(client: Client, alice: User):
    signed_in(client, alice)
    html = page(client, "/companies/new/")
    for name in ("name", "domain", "industry", "employees", "tier", "owner"):
        assert f'for="id_{name}"' in html  # every input has a label
    response = client.post("/companies/new/", form_data(domain="Globex.Example", owner=alice.pk))
    company = Company.objects.get(name="Globex")
    assert response.status_code == 302
    assert response["Location"] == f"/companies/{company.pk}/"
    assert company.domain == "globex.example"
    assert company.owner == alice
    assert company.funnel_stage == FunnelStage.SUSPECT
    entry = AuditEntry.objects.get(action="company.create", object_id=str(company.pk))
    assert entry.actor == alice
    assert "Globex was created." in page(client, response["Location"])


def test_a_marketer_creates_a_company(client: Client):
    marketer = UserFactory(username="mia", role=Role.MARKETER)
    response = signed_in(client, marketer).post("/companies/new/", form_data())
    assert response.status_code == 302
    assert Company.objects.filter(name="Globex").exists()


def test_invalid_input_is_refused_with_a_clear_error_and_kept(
    client: Client, alice: User, acme: Company
):
    signed_in(client, alice)
    response = client.post("/companies/new/", form_data(name="", employees="-3"))
    html = response.content.decode()
    assert response.status_code == 400
    assert "This field is required." in html
    assert "Ensure this value is greater than or equal to 0." in html
    assert 'value="globex.example"' in html  # the rest of the input is kept

    response = client.post("/companies/new/", form_data(domain="ACME.example"))
    assert response.status_code == 400
    assert "Acme already has the domain acme.example." in response.content.decode()
    assert not Company.objects.filter(name="Globex").exists()


# --- editing


def test_a_salesperson_edits_a_company(client: Client, alice: User, bob: User, acme: Company):
    signed_in(client, alice)
    html = page(client, f"/companies/{acme.pk}/edit/")
    assert 'value="Acme"' in html
    data = form_data(acme, industry="Aerospace", tier=Tier.KEY, owner=bob.pk, version=token(html))
    response = client.post(f"/companies/{acme.pk}/edit/", data)
    assert response.status_code == 302
    assert response["Location"] == f"/companies/{acme.pk}/"
    acme.refresh_from_db()
    assert (acme.industry, acme.tier, acme.owner) == ("Aerospace", Tier.KEY, bob)
    entry = AuditEntry.objects.get(action="company.update", object_id=str(acme.pk))
    assert entry.actor == alice
    assert entry.changes["industry"] == ["", "Aerospace"]


def test_an_edit_with_a_taken_domain_is_refused(client: Client, alice: User, acme: Company):
    CompanyFactory(name="Initech", domain="initech.example")
    signed_in(client, alice)
    version = token(page(client, f"/companies/{acme.pk}/edit/"))
    data = form_data(acme, domain="initech.example", version=version)
    response = client.post(f"/companies/{acme.pk}/edit/", data)
    assert response.status_code == 400
    assert "Initech already has the domain initech.example." in response.content.decode()
    assert Company.objects.get(pk=acme.pk).domain == "acme.example"


def test_a_stale_edit_is_refused_with_who_changed_what_and_the_input_kept(
    client: Client, alice: User, bob: User, acme: Company
):
    signed_in(client, alice)
    version = token(page(client, f"/companies/{acme.pk}/edit/"))
    bobs = Client()
    bobs.force_login(bob)
    response = bobs.post(
        f"/companies/{acme.pk}/edit/", form_data(acme, industry="Retail", version=version)
    )
    assert response.status_code == 302

    # Alice saves the form she opened before Bob's change.
    data = form_data(acme, industry="Software", region="Nordics", version=version)
    response = client.post(f"/companies/{acme.pk}/edit/", data)
    html = response.content.decode()
    assert response.status_code == 409
    assert "Acme was changed by Bob" in html and "Nothing was saved" in html
    assert "Bob changed industry: — → Retail" in html
    assert 'value="Software"' in html and 'value="Nordics"' in html  # her input is kept
    acme.refresh_from_db()
    assert (acme.industry, acme.region) == ("Retail", "")  # and Bob's change is not lost

    # Having seen Bob's change, Alice saves again: now on the current version.
    response = client.post(f"/companies/{acme.pk}/edit/", {**data, "version": token(html)})
    assert response.status_code == 302
    acme.refresh_from_db()
    assert (acme.industry, acme.region) == ("Software", "Nordics")


def test_a_stale_edit_lists_only_the_changes_made_since_the_form_was_opened(
    client: Client, alice: User, bob: User, acme: Company
):
    signed_in(client, alice)
    edit = f"/companies/{acme.pk}/edit/"
    client.post(edit, form_data(acme, industry="Mining", version=token(page(client, edit))))
    version = token(page(client, edit))  # opened on Alice's own change
    bobs = Client()
    bobs.force_login(bob)
    bobs.post(edit, form_data(acme, industry="Mining", employees=40, version=version))

    response = client.post(edit, form_data(acme, industry="Mining", region="Alps", version=version))
    html = response.content.decode()
    assert response.status_code == 409
    assert "Bob changed employees: — → 40" in html
    assert "changed industry" not in html  # Alice's own change was already on her form


def test_a_damaged_version_is_refused(client: Client, alice: User, acme: Company):
    signed_in(client, alice)
    for version in ("", "yesterday", "2024-01-01T00:00:00"):  # missing, garbled, naive
        response = client.post(
            f"/companies/{acme.pk}/edit/", form_data(acme, name="X", version=version)
        )
        assert response.status_code == 400
    assert Company.objects.get(pk=acme.pk).name == "Acme"


# --- who may change companies


def test_a_viewer_may_not_create_or_edit_and_sees_no_data(
    client: Client, vera: User, acme: Company
):
    signed_in(client, vera)
    for response in (
        client.get("/companies/new/"),
        client.post("/companies/new/", form_data()),
        client.get(f"/companies/{acme.pk}/edit/"),
        client.post(f"/companies/{acme.pk}/edit/", form_data(acme, name="Vera was here")),
    ):
        assert response.status_code == 403
        assert b"Acme" not in response.content and b"acme.example" not in response.content
    assert list(Company.objects.values_list("name", flat=True)) == ["Acme"]
    assert not AuditEntry.objects.filter(action__startswith="company.").exists()


def test_company_names_are_suggested_as_they_are_typed(client: Client, alice):
    CompanyFactory(name="Northwind Traders", domain="northwind.example")
    CompanyFactory(name="Southwind")
    client.force_login(alice)
    page = client.get("/companies/suggest/", {"company_name": "north"}).content.decode()
    assert '<option value="Northwind Traders">northwind.example</option>' in page
    assert "Southwind" not in page
    assert client.get("/companies/suggest/", {"company": ""}).content.strip() == b""
