"""The ideal customer profile: scoring against a hand count, each criterion's contribution,
bad criteria, rescoring when a company or the profile changes, requalification, the
refusal of a typed fit, the decision-maker flag, the pages and who may change it.

The book: Acme (software, 200 people, EU, standard), Bolt (retail, 20 people, US, whale),
Core (manufacturing, 5,000 people, EU, key account) and Dune (nothing known). Each has a
fit typed by hand before any profile is saved.
"""

import re
from decimal import Decimal

import pytest
from django.test import Client

from keel.accounts.models import Role, User
from keel.accounts.tests.factories import UserFactory
from keel.core.exceptions import InvalidInput, NotAllowed
from keel.core.models import AuditEntry, InstanceSetting
from keel.crm.models import BuyingRole, Company, Contact, Tier
from keel.crm.services import company_create, company_update
from keel.crm.tests.factories import CompanyFactory, ContactFactory
from keel.imports.services import ImportFile, import_run
from keel.leads.definitions import definition_approve, definition_draft, definition_publish
from keel.leads.icp import (
    ICP_KEY,
    Contribution,
    companies_score,
    fit_of,
    icp_contributions,
    icp_distribution,
    icp_save,
)

pytestmark = pytest.mark.django_db

PROFILE: list[dict[str, object]] = [
    {"kind": "company", "field": "industry", "in": ["Software", "Manufacturing"], "weight": 30},
    {"kind": "size", "min": 50, "max": 1000, "weight": 20},
    {"kind": "company", "field": "region", "in": ["EU"], "weight": 10},
    {"kind": "company", "field": "tier", "in": ["key", "whale"], "weight": 15},
]  # 75 in all


@pytest.fixture
def mia(db: None) -> User:
    return UserFactory(username="mia", role=Role.MARKETER)


@pytest.fixture
def book(db: None) -> dict[str, Company]:
    return {
        "acme": CompanyFactory(name="Acme", industry="Software", employees=200, region="EU",
                               icp_fit=5),
        "bolt": CompanyFactory(name="Bolt", industry="Retail", employees=20, region="US",
                               tier=Tier.WHALE, icp_fit=70),
        "core": CompanyFactory(name="Core", industry="Manufacturing", employees=5000,
                               region="EU", tier=Tier.KEY),
        "dune": CompanyFactory(name="Dune", icp_fit=90),
    }  # fmt: skip


def fits() -> dict[str, int | None]:
    return dict(Company.objects.values_list("name", "icp_fit"))


def fresh(company: Company) -> Company:
    return Company.objects.get(pk=company.pk)


# --- scoring


def test_the_fit_is_the_share_of_the_weights_met(book: dict[str, Company], mia: User) -> None:
    result = icp_save(by=mia, criteria=PROFILE)
    # Acme 30+20+10 = 60 of 75; Bolt 15; Core 30+10+15 = 55 (73.3); Dune nothing.
    assert fits() == {"Acme": 80, "Bolt": 20, "Core": 73, "Dune": 0}
    assert (result.scored, result.changed) == (4, 4)
    setting = InstanceSetting.objects.get(key=ICP_KEY)
    assert setting.value == {"criteria": PROFILE}
    entry = AuditEntry.objects.get(action="icp.save")
    assert (entry.actor, entry.summary) == (mia, "Ideal customer profile: 4 criteria")

    again = icp_save(by=mia, criteria=PROFILE)
    assert (again.scored, again.changed) == (4, 0)  # nothing to write the second time


def test_a_half_rounds_up_in_the_database_as_in_python(mia: User) -> None:
    acme = CompanyFactory(industry="Software")
    icp_save(by=mia, criteria=[
        {"kind": "company", "field": "industry", "in": ["Software"], "weight": 1},
        {"kind": "company", "field": "region", "in": ["EU"], "weight": 7},
    ])  # fmt: skip
    assert fit_of(1, 8) == 13  # 12.5
    assert fresh(acme).icp_fit == 13


def test_each_criterion_contributes_its_share(book: dict[str, Company], mia: User) -> None:
    assert icp_contributions(company=book["acme"]) == []  # no profile yet
    icp_save(by=mia, criteria=PROFILE)
    assert icp_contributions(company=book["acme"]) == [
        Contribution("The company's industry is one of: Software, Manufacturing.", 30, True,
                     Decimal("40.0")),
        Contribution("The company has 50 to 1,000 employees.", 20, True, Decimal("26.7")),
        Contribution("The company's region is one of: EU.", 10, True, Decimal("13.3")),
        Contribution("The company's tier is one of: key, whale.", 15, False, Decimal(0)),
    ]  # fmt: skip
    bolt = icp_contributions(company=book["bolt"])
    assert [c.met for c in bolt] == [False, False, False, True]
    # The page's reading agrees with the database's score for every company.
    for company in Company.objects.all():
        met = sum(c.weight for c in icp_contributions(company=company) if c.met)
        assert fit_of(met, 75) == company.icp_fit, company


def test_bad_criteria_are_named_by_their_path_and_nothing_is_saved(
    book: dict[str, Company], mia: User
) -> None:
    bad = [
        {"kind": "company", "field": "colour", "in": ["red"], "weight": 30},
        {"kind": "size", "min": 10, "weight": 0},
        {"kind": "icp", "min": 50, "weight": 10},
        "software",
        {"kind": "size", "min": 100, "max": 10, "weight": 5},
        {"kind": "company", "field": "tier", "in": ["whale"]},
        {"kind": "size", "min": 1, "weight": 5, "colour": "red"},
        {"kind": "company", "field": "tier", "in": ["giant"], "weight": "heavy"},
    ]
    with pytest.raises(InvalidInput) as refused:
        icp_save(by=mia, criteria=bad)
    assert refused.value.message == "The profile has 9 problems; nothing was saved."
    assert refused.value.details == [
        "criteria[0].field: expected one of industry, region, tier",
        "criteria[1].weight: 0 is outside 1–100",
        "criteria[2].kind: expected one of company, size",
        "criteria[3]: expected a criterion (a mapping with a kind and a weight)",
        "criteria[4].max: 10 is below min 100",
        "criteria[5].weight: is required: a whole number from 1 to 100",
        "criteria[6]: colour make no sense for a size rule",
        "criteria[7].weight: expected a whole number, found text",
        "criteria[7].in: 'giant' not one of key, standard, whale",
    ]
    with pytest.raises(InvalidInput, match="1 problem;"):
        icp_save(by=mia, criteria={"kind": "size"})
    assert not InstanceSetting.objects.filter(key=ICP_KEY).exists()
    assert fits() == {"Acme": 5, "Bolt": 70, "Core": None, "Dune": 90}  # as typed


# --- rescoring and the typed fit


def test_a_company_is_rescored_when_created_or_changed(
    book: dict[str, Company], mia: User, mary: User
) -> None:
    icp_save(by=mia, criteria=PROFILE)
    bolt = fresh(book["bolt"])
    bolt = company_update(company=bolt, by=mary, expected_updated_at=bolt.updated_at,
                          data={"industry": "Software", "employees": 60})  # fmt: skip
    assert bolt.icp_fit == fresh(bolt).icp_fit == 87  # 30+20+15 of 75
    entry = AuditEntry.objects.filter(action="company.update").get()
    assert entry.changes["icp_fit"] == [20, 87]

    bolt = company_update(company=bolt, by=mary, expected_updated_at=bolt.updated_at,
                          data={"name": "Bolt Inc", "icp_fit": 87})  # fmt: skip
    assert bolt.icp_fit == 87  # the same fit sent back is no hand edit

    made = company_create(by=mary, name="Echo", industry="Manufacturing", region="EU")
    assert made.icp_fit == fresh(made).icp_fit == 53  # 30+10 of 75


def test_the_fit_is_typed_by_hand_until_a_profile_exists(
    book: dict[str, Company], mia: User, mary: User
) -> None:
    acme = fresh(book["acme"])
    acme = company_update(company=acme, by=mary, expected_updated_at=acme.updated_at,
                          data={"icp_fit": 55})  # fmt: skip
    assert acme.icp_fit == 55
    assert companies_score().scored == 0  # nothing to score by

    icp_save(by=mia, criteria=PROFILE)
    acme = fresh(acme)
    with pytest.raises(InvalidInput) as refused:
        company_update(company=acme, by=mary, expected_updated_at=acme.updated_at,
                       data={"icp_fit": 99, "industry": "Retail"})  # fmt: skip
    assert refused.value.details == [
        "icp_fit: is computed from the ideal customer profile: change the profile, not the score."
    ]
    assert (fresh(acme).icp_fit, fresh(acme).industry) == (80, "Software")
    with pytest.raises(InvalidInput, match="not saved"):
        company_create(by=mary, name="Echo", icp_fit=50)
    assert not Company.objects.filter(name="Echo").exists()


def test_an_import_rescores_the_companies_it_writes(book: dict[str, Company], mia: User) -> None:
    icp_save(by=mia, criteria=PROFILE)
    text = (
        "name,domain,industry,employees,region\n"
        "Fjord,fjord.example,Software,500,EU\n"
        f"Bolt,{book['bolt'].domain},Manufacturing,20,US\n"
    )
    import_run(by=mia, file=ImportFile(name="firms.csv", data=text.encode()), kind="companies")
    assert fits() == {"Acme": 80, "Bolt": 60, "Core": 73, "Dune": 0, "Fjord": 80}


# --- requalification


def live(rules: list[dict[str, object]], mia: User, mary: User) -> None:
    draft = definition_draft(by=mia, rules=rules)
    definition_approve(definition=draft, by=mia)
    definition_approve(definition=draft, by=mary)
    definition_publish(definition=draft, by=mia)


def test_contacts_are_requalified_when_the_definition_tests_the_fit(
    book: dict[str, Company], mia: User, mary: User
) -> None:
    ada = ContactFactory(company=book["bolt"], last_name="Ada",
                         buying_role=BuyingRole.DECISION_MAKER)  # fmt: skip
    ben = ContactFactory(company=book["acme"], last_name="Ben",
                         buying_role=BuyingRole.DECISION_MAKER)  # fmt: skip
    live([{"kind": "authority", "roles": ["decision_maker"]}, {"kind": "icp", "min": 50}],
         mia, mary)  # fmt: skip
    qualified = Contact.objects.filter(qualified_at__isnull=False)
    assert set(qualified.values_list("last_name", flat=True)) == {"Ada"}  # Bolt typed 70

    result = icp_save(by=mia, criteria=PROFILE)  # Bolt 20, Acme 80
    assert (result.requalified.gained, result.requalified.lost) == (1, 1)
    assert set(qualified.values_list("last_name", flat=True)) == {"Ben"}

    bolt = fresh(book["bolt"])
    company_update(company=bolt, by=mary, expected_updated_at=bolt.updated_at,
                   data={"industry": "Software", "employees": 60})  # fmt: skip
    assert set(qualified.values_list("last_name", flat=True)) == {"Ada", "Ben"}
    assert Contact.objects.get(pk=ada.pk).qualified_by is not None
    assert Contact.objects.get(pk=ben.pk).qualified_at is not None


def test_no_requalification_when_the_definition_ignores_the_fit(
    book: dict[str, Company], mia: User, mary: User
) -> None:
    ContactFactory(company=book["bolt"], buying_role=BuyingRole.DECISION_MAKER)
    live([{"kind": "authority", "roles": ["decision_maker"]}], mia, mary)
    result = icp_save(by=mia, criteria=PROFILE)
    assert result.changed == 4 and result.requalified.judged == 0


# --- who may change it


@pytest.mark.parametrize("role", [Role.SALESPERSON, Role.SALES_SPECIALIST, Role.VIEWER])
def test_only_marketers_managers_and_the_owner_change_it(
    book: dict[str, Company], role: str
) -> None:
    outsider = UserFactory(username=f"out-{role}", role=role)
    with pytest.raises(NotAllowed, match="marketers, sales managers and the owner"):
        icp_save(by=outsider, criteria=PROFILE)
    assert not InstanceSetting.objects.filter(key=ICP_KEY).exists()


def test_the_owner_and_a_manager_change_it(
    book: dict[str, Company], olivia: User, mary: User
) -> None:
    assert icp_save(by=olivia, criteria=PROFILE).scored == 4
    assert icp_save(by=mary, criteria=PROFILE[:1]).changed == 3  # Dune stays at 0


# --- the decision-maker flag and the company pages


def signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_companies_without_a_decision_maker_are_flagged_and_filtered(
    client: Client, book: dict[str, Company], vera: User
) -> None:
    ContactFactory(company=book["acme"], buying_role=BuyingRole.DECISION_MAKER)
    ContactFactory(company=book["bolt"], buying_role=BuyingRole.CHAMPION)
    signed_in(client, vera)
    html = page(client, "/companies/")
    assert html.count("No known decision maker") == 3 + 1  # Bolt, Core, Dune; the filter
    flagged = page(client, "/companies/?no_decision_maker=1")
    assert ">Acme</a>" not in flagged
    assert all(f">{name}</a>" in flagged for name in ("Bolt", "Core", "Dune"))
    assert "No known decision maker" not in page(client, f"/companies/{book['acme'].pk}/")
    assert "No known decision maker" in page(client, f"/companies/{book['bolt'].pk}/")


def test_the_company_page_shows_each_criterion_s_contribution(
    client: Client, book: dict[str, Company], mia: User, vera: User
) -> None:
    signed_in(client, vera)
    assert "How the" not in page(client, f"/companies/{book['acme'].pk}/")
    icp_save(by=mia, criteria=PROFILE)
    html = page(client, f"/companies/{book['acme'].pk}/")
    assert "ICP fit: 80 of 100" in html
    assert "The company has 50 to 1,000 employees." in html and "26.7" in html


def test_the_company_form_shows_a_computed_fit_and_saves_without_it(
    client: Client, book: dict[str, Company], mia: User, alice: User
) -> None:
    icp_save(by=mia, criteria=PROFILE)
    signed_in(client, alice)
    acme = fresh(book["acme"])
    html = page(client, f"/companies/{acme.pk}/edit/")
    assert re.search(r'name="icp_fit" value="80"[^>]*disabled', html)
    assert "Computed from the ideal customer profile." in html
    version = re.search(r'name="version" value="([^"]+)"', html)
    assert version
    data = {"name": "Acme", "domain": acme.domain, "industry": "Retail", "employees": 200,
            "region": "EU", "tier": "standard", "icp_fit": 99, "owner": "",
            "version": version.group(1)}  # fmt: skip
    response = client.post(f"/companies/{acme.pk}/edit/", data)
    assert response.status_code == 302
    assert (fresh(acme).industry, fresh(acme).icp_fit) == ("Retail", 40)  # 20+10 of 75


def test_the_list_runs_a_bounded_number_of_queries(
    client: Client, alice: User, mia: User, django_assert_max_num_queries
) -> None:
    for n in range(30):
        company = CompanyFactory(owner=UserFactory(username=f"owner{n}"), industry="Software")
        ContactFactory(company=company, buying_role=BuyingRole.DECISION_MAKER if n % 2 else "")
    icp_save(by=mia, criteria=PROFILE)
    signed_in(client, alice)
    with django_assert_max_num_queries(7):
        html = page(client, "/companies/?sort=funnel&no_decision_maker=1")
    assert html.count("No known decision maker") == 15 + 1  # the rows and the filter's label


def test_the_company_page_runs_a_bounded_number_of_queries(
    client: Client, book: dict[str, Company], mia: User, alice: User, django_assert_max_num_queries
) -> None:
    for n in range(30):
        ContactFactory(company=book["acme"], owner=UserFactory(username=f"c{n}"))
    icp_save(by=mia, criteria=PROFILE)
    signed_in(client, alice)
    with django_assert_max_num_queries(7):
        html = page(client, f"/companies/{book['acme'].pk}/")
    assert "ICP fit: 80 of 100" in html and "No known decision maker" in html


# --- the profile's pages


def test_everyone_reads_the_profile_with_its_bands_and_missing_decision_makers(
    client: Client, book: dict[str, Company], mia: User, alice: User
) -> None:
    ContactFactory(company=book["acme"], buying_role=BuyingRole.DECISION_MAKER)
    signed_in(client, alice)
    html = page(client, "/leads/icp/")
    assert "No profile is saved yet" in html
    icp_save(by=mia, criteria=PROFILE)
    assert icp_distribution() == [
        ("0–24", 2), ("25–49", 0), ("50–74", 1), ("75–100", 1), ("unscored", 0)
    ]  # fmt: skip
    html = page(client, "/leads/icp/")
    assert "region is one of: EU." in html
    assert 'href="/companies/?no_decision_maker=1">3 companies</a> have no known' in html
    assert "/leads/icp/edit/" not in html  # Alice may not change it


def test_a_manager_saves_the_profile_as_yaml(
    client: Client, book: dict[str, Company], mary: User
) -> None:
    signed_in(client, mary)
    html = page(client, "/leads/icp/")
    assert 'href="/leads/icp/edit/"' in html
    assert "kind: company" in page(client, "/leads/icp/edit/")  # an example to start from

    response = client.post(
        "/leads/icp/edit/", {"criteria": "- kind: size\n  min: 50\n  weight: 0\n"}
    )
    assert response.status_code == 400
    assert "criteria[0].weight: 0 is outside 1–100" in response.content.decode()
    response = client.post("/leads/icp/edit/", {"criteria": "- kind: [size\n"})
    assert response.status_code == 400 and "not valid YAML" in response.content.decode()
    assert not InstanceSetting.objects.filter(key=ICP_KEY).exists()

    yaml_text = (
        "- kind: size\n  min: 50\n  weight: 20\n"
        "- {kind: company, field: region, in: [EU], weight: 20}\n"
    )
    response = client.post("/leads/icp/edit/", {"criteria": yaml_text}, follow=True)
    assert response.redirect_chain == [("/leads/icp/", 302)]
    assert "Profile saved: 4 companies rescored" in response.content.decode()
    assert fits() == {"Acme": 100, "Bolt": 0, "Core": 100, "Dune": 0}
    assert "weight: 20" in page(client, "/leads/icp/edit/")  # the saved profile, to change


def test_a_salesperson_may_not_open_or_post_the_edit_page(
    client: Client, book: dict[str, Company], alice: User
) -> None:
    signed_in(client, alice)
    assert client.get("/leads/icp/edit/").status_code == 403
    yaml_text = "- {kind: size, min: 1, weight: 5}\n"
    assert client.post("/leads/icp/edit/", {"criteria": yaml_text}).status_code == 403
    assert not InstanceSetting.objects.filter(key=ICP_KEY).exists()


@pytest.mark.parametrize("path", ["/leads/icp/", "/leads/icp/edit/"])
def test_the_pages_need_a_sign_in(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
