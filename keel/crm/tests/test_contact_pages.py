"""The contact pages: /contacts/, /contacts/new/, /contacts/<pk>/ and its edit page."""

import re

import pytest
from django.test import Client
from django.utils import timezone

from keel.accounts.models import Role, User
from keel.accounts.tests.factories import UserFactory
from keel.activities.services import activity_log
from keel.core.models import AuditEntry
from keel.crm.models import BuyingRole, Company, Contact, FunnelStage
from keel.crm.tests.factories import CompanyFactory, ContactFactory
from keel.leads.models import MarketingEvent
from keel.pipeline.models import Deal, SalesProcess
from keel.pipeline.services import deal_contact_add, deal_create

pytestmark = pytest.mark.django_db


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def form_data(contact: Contact | None = None, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "first_name": contact.first_name if contact else "Wile",
        "last_name": contact.last_name if contact else "Coyote",
        "title": contact.title if contact else "Head of engineering",
        "company": (contact.company.domain if contact and contact.company else ""),
        "email": contact.email if contact else "wile@acme.example",
        "phone": contact.phone if contact else "",
        "buying_role": contact.buying_role if contact else BuyingRole.CHAMPION,
        "channel": contact.channel if contact else "",
        "owner": contact.owner_id if contact and contact.owner_id else "",
        "inquired_at": "",
        "qualified_at": "",
    }
    data.update(changes)
    return data


def token(html: str) -> str:
    found = re.search(r'name="version" value="([^"]+)"', html)
    assert found, "the edit form carries no version"
    return found.group(1)


def order(html: str, *names: str) -> list[int]:
    return [html.index(f">{name}</a>") for name in names]


@pytest.fixture
def wile(acme: Company, alice: User) -> Contact:
    return ContactFactory(
        company=acme,
        first_name="Wile",
        last_name="Coyote",
        email="wile@acme.example",
        title="Head of engineering",
        buying_role=BuyingRole.DECISION_MAKER,
        owner=alice,
    )


# --- signing in


@pytest.mark.parametrize(
    "path", ["/contacts/", "/contacts/new/", "/contacts/{pk}/", "/contacts/{pk}/edit/"]
)
def test_the_contact_pages_need_a_sign_in(client: Client, wile: Contact, path: str):
    response = client.get(path.format(pk=wile.pk))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# --- the list


def test_the_list_shows_each_contact_with_its_columns(client: Client, vera: User, wile: Contact):
    html = page(signed_in(client, vera), "/contacts/")
    row = html[html.index(">Wile Coyote</a>") :]
    row = row[: row.index("</tr>")]
    for text in ("Head of engineering", ">Acme</a>", "wile@acme.example", "Decision maker"):
        assert text in row
    assert "Suspect" in row and "Alice" in row
    assert "New contact" not in html  # a viewer does not create


def test_the_search_matches_a_name_an_email_or_a_company(client: Client, vera: User):
    ContactFactory(
        first_name="Road", last_name="Runner", company=CompanyFactory(name="Desert Birds")
    )
    ContactFactory(first_name="Wile", last_name="Coyote", email="wile@genius.example")
    ContactFactory(first_name="Elmer", last_name="Fudd", company=None, email="")
    signed_in(client, vera)
    assert ">Road Runner</a>" in page(client, "/contacts/?q=birds")
    html = page(client, "/contacts/?q=genius")
    assert ">Wile Coyote</a>" in html and "Runner" not in html
    html = page(client, "/contacts/?q=elmer+fudd")  # every word, in first or last name
    assert ">Elmer Fudd</a>" in html and "Coyote" not in html and "Runner" not in html


def test_the_filters_narrow_the_list_and_links_keep_them(
    client: Client, vera: User, alice: User, bob: User, acme: Company
):
    ContactFactory(last_name="Champ", buying_role=BuyingRole.CHAMPION, owner=alice, company=acme)
    ContactFactory(last_name="Blocky", buying_role=BuyingRole.BLOCKER, owner=alice)
    ContactFactory(last_name="Other", buying_role=BuyingRole.CHAMPION, owner=bob)
    ContactFactory(last_name="Fan", buying_role=BuyingRole.CHAMPION, owner=alice)
    Contact.objects.filter(last_name="Fan").update(funnel_stage=FunnelStage.RAVING_FAN)
    signed_in(client, vera)

    html = page(client, f"/contacts/?buying_role=champion&owner={alice.pk}&funnel_stage=suspect")
    assert ">Dana Champ</a>" in html
    assert "Blocky" not in html and "Other" not in html and "Fan<" not in html
    assert "buying_role=champion" in html  # the sort links keep the filters

    html = page(client, f"/contacts/?company={acme.pk}")  # a company page's "all contacts"
    assert ">Dana Champ</a>" in html and "Blocky" not in html and "Other" not in html
    assert f'name="company" value="{acme.pk}"' in html  # kept when filtering further
    assert f'href="/companies/{acme.pk}/">Acme</a>' in html


def test_the_list_sorts_by_name_company_and_funnel_stage(client: Client, vera: User):
    ContactFactory(last_name="Adams", company=CompanyFactory(name="Zeta"))
    ContactFactory(last_name="Baker", company=CompanyFactory(name="Alpha"))
    ContactFactory(last_name="Clark", company=CompanyFactory(name="Mid"))
    Contact.objects.filter(last_name="Adams").update(funnel_stage=FunnelStage.CUSTOMER)
    Contact.objects.filter(last_name="Clark").update(funnel_stage=FunnelStage.LEAD)
    signed_in(client, vera)
    names = ("Dana Adams", "Dana Baker", "Dana Clark")
    a, b, c = order(page(client, "/contacts/"), *names)
    assert a < b < c
    a, b, c = order(page(client, "/contacts/?sort=company"), *names)
    assert b < c < a
    a, b, c = order(page(client, "/contacts/?sort=-funnel"), *names)
    assert a < c < b


def test_the_list_is_paged(client: Client, vera: User):
    company = CompanyFactory()
    for n in range(52):
        ContactFactory(last_name=f"Person{n:02}", company=company)
    signed_in(client, vera)
    html = page(client, "/contacts/")
    assert "Page 1 of 2 · 52 in all" in html and "Person49" in html and "Person50" not in html
    html = page(client, "/contacts/?page=2")
    assert "Person50" in html and "Person51" in html and "Person49" not in html


def test_the_list_runs_a_bounded_number_of_queries(
    client: Client, alice: User, django_assert_max_num_queries
):
    for n in range(30):
        ContactFactory(owner=UserFactory(username=f"owner{n}"))  # each with its own company
    signed_in(client, alice)
    with django_assert_max_num_queries(7):
        html = page(client, "/contacts/?sort=company")
    assert len(re.findall(r'href="/companies/\d+/"', html)) == 30


# --- the detail page


def test_the_detail_page_shows_facts_deals_and_activity(
    client: Client,
    alice: User,
    sam: User,
    wile: Contact,
    deal: Deal,
    new_business: SalesProcess,
):
    deal_contact_add(deal=deal, contact=wile, by=alice, role=BuyingRole.CHAMPION)
    south = deal_create(by=sam, name="South deal", company=wile.company, process=new_business)
    deal_contact_add(deal=south, contact=wile, by=sam)
    activity_log(by=alice, type="call", contact=wile, notes="Wants a trial")
    activity_log(by=sam, type="call", contact=wile, deal=south, notes="South talk")

    html = page(signed_in(client, alice), f"/contacts/{wile.pk}/")
    assert "<h1>Wile Coyote</h1>" in html
    assert f'href="/companies/{wile.company_id}/">Acme</a>' in html
    assert "mailto:wile@acme.example" in html and "Decision maker" in html
    assert "Qualified lead" in html  # on a deal
    assert f'href="/deals/{deal.pk}/">Acme rollout</a>' in html and "Champion" in html
    assert "Wants a trial" in html
    assert "South deal" not in html and "South talk" not in html  # another team's deal
    assert f'href="/contacts/{wile.pk}/edit/"' in html


def test_an_unknown_contact_is_not_found(client: Client, alice: User):
    signed_in(client, alice)
    assert client.get("/contacts/999999/").status_code == 404
    assert client.get("/contacts/999999/edit/").status_code == 404
    assert client.get("/contacts/new/?company=999999").status_code == 404


def test_the_detail_page_runs_a_bounded_number_of_queries(
    client: Client,
    alice: User,
    wile: Contact,
    new_business: SalesProcess,
    django_assert_max_num_queries,
):
    for n in range(30):
        deal = deal_create(
            by=alice, name=f"Deal {n}", company=CompanyFactory(), process=new_business
        )
        deal_contact_add(deal=deal, contact=wile, by=alice)
        logger = UserFactory(username=f"u{n}", role=Role.OWNER)  # may log on any deal
        activity_log(by=logger, type="call", contact=wile, deal=deal)
    for _ in range(15):  # more marketing events than the page shows
        MarketingEvent.objects.create(type="visit", occurred_at=timezone.now(), contact=wile)
    signed_in(client, alice)
    # 7 for the contact, its deals and activities; 3 for its story as a lead.
    with django_assert_max_num_queries(10):
        html = page(client, f"/contacts/{wile.pk}/")
    assert len(re.findall(r'href="/deals/\d+/"', html)) == 30 + 20  # deals, activities' deals


# --- creating


def test_a_new_contact_from_a_company_page_is_prefilled_with_it(
    client: Client, alice: User, acme: Company
):
    signed_in(client, alice)
    html = page(client, f"/contacts/new/?company={acme.pk}")
    assert "New contact at Acme" in html
    assert 'name="company" value="acme.example"' in html
    for name in ("first_name", "last_name", "company", "email", "buying_role", "inquired_at"):
        assert f'for="id_{name}"' in html  # every input has a label

    data = form_data(company="acme.example", inquired_at="2025-03-01T10:30")
    response = client.post(f"/contacts/new/?company={acme.pk}", data)
    contact = Contact.objects.get(email="wile@acme.example")
    assert response.status_code == 302
    assert response["Location"] == f"/contacts/{contact.pk}/"
    assert contact.company == acme and contact.buying_role == BuyingRole.CHAMPION
    # An inquiry makes the contact a lead, and its company with it.
    assert contact.funnel_stage == FunnelStage.LEAD
    assert Company.objects.get(pk=acme.pk).funnel_stage == FunnelStage.LEAD
    assert AuditEntry.objects.get(action="contact.create").actor == alice


def test_the_company_is_found_by_its_name_too(client: Client, alice: User, acme: Company):
    response = signed_in(client, alice).post("/contacts/new/", form_data(company="ACME"))
    assert response.status_code == 302
    assert Contact.objects.get(last_name="Coyote").company == acme


def test_invalid_input_is_refused_with_a_clear_error(client: Client, alice: User, wile: Contact):
    CompanyFactory(name="Twin", domain="twin-one.example")
    CompanyFactory(name="Twin", domain="twin-two.example")
    signed_in(client, alice)
    cases = [
        ({"last_name": ""}, "This field is required."),
        ({"email": "not-an-address"}, "Enter a valid email address."),
        ({"company": "Nobody Inc"}, "No company is named “Nobody Inc” or has that domain."),
        ({"company": "Twin"}, "More than one company is named “Twin”: type its domain instead."),
        ({"email": "WILE@acme.example"}, "Wile Coyote already has the e-mail address"),
    ]
    for changes, message in cases:
        response = client.post("/contacts/new/", form_data(**{"email": "", **changes}))
        html = response.content.decode()
        assert response.status_code == 400, changes
        assert message in html, changes
        assert 'value="Head of engineering"' in html  # the rest of the input is kept
    assert Contact.objects.count() == 1


# --- editing


def test_moving_a_contact_to_another_company_moves_the_funnel_evidence(
    client: Client, alice: User, wile: Contact, acme: Company
):
    globex = CompanyFactory(name="Globex", domain="globex.example")
    signed_in(client, alice)
    html = page(client, f"/contacts/{wile.pk}/edit/")
    assert 'name="company" value="acme.example"' in html
    data = form_data(
        wile, company="globex.example", qualified_at="2025-04-01T09:00", version=token(html)
    )
    response = client.post(f"/contacts/{wile.pk}/edit/", data)
    assert response.status_code == 302
    wile.refresh_from_db()
    assert wile.company == globex and wile.funnel_stage == FunnelStage.QUALIFIED_LEAD
    assert Company.objects.get(pk=globex.pk).funnel_stage == FunnelStage.QUALIFIED_LEAD
    assert Company.objects.get(pk=acme.pk).funnel_stage == FunnelStage.SUSPECT
    entry = AuditEntry.objects.get(action="contact.update")
    assert entry.actor == alice and entry.changes["company"] == [acme.pk, globex.pk]


def test_a_stale_edit_is_refused_with_who_changed_what_and_the_input_kept(
    client: Client, alice: User, bob: User, wile: Contact
):
    signed_in(client, alice)
    version = token(page(client, f"/contacts/{wile.pk}/edit/"))
    bobs = Client()
    bobs.force_login(bob)
    CompanyFactory(name="Globex", domain="globex.example")
    bobs_change = {
        "buying_role": BuyingRole.BLOCKER,
        "company": "globex.example",
        "inquired_at": "2025-03-01T10:30",
    }
    response = bobs.post(
        f"/contacts/{wile.pk}/edit/", form_data(wile, **bobs_change, version=version)
    )
    assert response.status_code == 302

    data = form_data(wile, title="CTO", version=version)
    response = client.post(f"/contacts/{wile.pk}/edit/", data)
    html = response.content.decode()
    assert response.status_code == 409
    assert "Wile Coyote was changed by Bob" in html and "Nothing was saved" in html
    assert "Bob changed buying role: Decision maker → Blocker" in html
    assert "Bob changed inquired at: — → 2025-03-01 10:30" in html
    assert "Bob changed company<" in html  # a related record: that it changed
    assert 'value="CTO"' in html
    wile.refresh_from_db()
    assert (wile.title, wile.buying_role) == ("Head of engineering", BuyingRole.BLOCKER)


# --- who may change contacts


def test_a_viewer_may_not_create_or_edit_and_sees_no_data(
    client: Client, vera: User, wile: Contact, acme: Company
):
    signed_in(client, vera)
    for response in (
        client.get("/contacts/new/"),
        client.get(f"/contacts/new/?company={acme.pk}"),
        client.post("/contacts/new/", form_data(email="new@acme.example")),
        client.get(f"/contacts/{wile.pk}/edit/"),
        client.post(f"/contacts/{wile.pk}/edit/", form_data(wile, title="Vera was here")),
    ):
        assert response.status_code == 403
        assert b"Coyote" not in response.content and b"Acme" not in response.content
    assert list(Contact.objects.values_list("title", flat=True)) == ["Head of engineering"]
    assert not AuditEntry.objects.filter(action__startswith="contact.").exists()
