"""The lead definition: each rule kind against a hand count, the preview, both sides'
approvals, publishing, requalification on change, and who may do what.

The book: Ada (Acme: software, 200 people, EU, fit 80) is a decision maker, head of
sales, downloaded twice this month and inquired 10 days ago; Ben (Acme) is a user and an
analyst who downloaded once; Cleo (Bolt: retail, 20 people, US, fit 30) is a decision
maker and CEO who inquired 100 days ago; Dev (no company) is a champion, a director, with
a meeting 5 days ago.
"""

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from keel.accounts.models import Role, User
from keel.accounts.tests.factories import UserFactory
from keel.activities.models import Activity, ActivityType
from keel.core.exceptions import InvalidInput, NotAllowed
from keel.core.models import AuditEntry
from keel.crm.models import BuyingRole, Company, Contact, FunnelStage
from keel.crm.services import company_update, contact_update, funnel_recompute
from keel.crm.tests.factories import CompanyFactory, ContactFactory
from keel.leads.definition_rules import RulesError, parse_rules
from keel.leads.definitions import (
    contacts_requalify,
    definition_approve,
    definition_draft,
    definition_preview,
    definition_publish,
    definition_update,
    verdicts,
)
from keel.leads.models import (
    DefinitionStatus,
    EventType,
    LeadDefinition,
    MarketingEvent,
    Qualification,
)

pytestmark = pytest.mark.django_db
NOW = timezone.now()


@pytest.fixture
def mia(db: None) -> User:
    return UserFactory(username="mia", role=Role.MARKETER)


@pytest.fixture
def book(db: None) -> dict[str, Contact]:
    acme = CompanyFactory(name="Acme", industry="Software", employees=200, region="EU",
                          icp_fit=80)  # fmt: skip
    bolt = CompanyFactory(name="Bolt", industry="Retail", employees=20, region="US", icp_fit=30)
    people = {
        "ada": ContactFactory(company=acme, last_name="Ada", buying_role=BuyingRole.DECISION_MAKER,
                              title="Head of Sales", inquired_at=NOW - timedelta(days=10)),
        "ben": ContactFactory(company=acme, last_name="Ben", buying_role=BuyingRole.USER,
                              title="Analyst"),
        "cleo": ContactFactory(company=bolt, last_name="Cleo", title="CEO",
                               buying_role=BuyingRole.DECISION_MAKER,
                               inquired_at=NOW - timedelta(days=100)),
        "dev": ContactFactory(company=None, last_name="Dev", email="dev@mail.example",
                              buying_role=BuyingRole.CHAMPION, title="Director"),
    }  # fmt: skip
    for days in (3, 20):
        MarketingEvent.objects.create(type=EventType.DOWNLOAD, contact=people["ada"],
                                      occurred_at=NOW - timedelta(days=days))  # fmt: skip
    MarketingEvent.objects.create(type=EventType.DOWNLOAD, contact=people["ben"],
                                  occurred_at=NOW - timedelta(days=5))  # fmt: skip
    owner = UserFactory(username="seller", role=Role.SALESPERSON)
    Activity.objects.create(type=ActivityType.MEETING, at=NOW - timedelta(days=5), by=owner,
                            contact=people["dev"])  # fmt: skip
    return people


def who(rules: list[dict[str, object]], book: dict[str, Contact]) -> set[str]:
    names = {c.pk: name for name, c in book.items()}
    found = verdicts(rules=parse_rules(rules), now=NOW)
    return {names[pk] for pk, results in found.items() if all(results)}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"kind": "company", "field": "industry", "in": ["Software"]}, {"ada", "ben"}),
        ({"kind": "company", "field": "region", "in": ["US", "APAC"]}, {"cleo"}),
        ({"kind": "size", "min": 50}, {"ada", "ben"}),
        ({"kind": "size", "max": 50}, {"cleo"}),
        ({"kind": "icp", "min": 60}, {"ada", "ben"}),
        ({"kind": "authority", "roles": ["decision_maker", "champion"]}, {"ada", "cleo", "dev"}),
        ({"kind": "seniority", "words": ["head", "director", "ceo"]}, {"ada", "cleo", "dev"}),
        ({"kind": "engagement", "events": ["download"], "days": 30}, {"ada", "ben"}),
        ({"kind": "engagement", "events": ["download"], "at_least": 2, "days": 30}, {"ada"}),
        ({"kind": "engagement", "events": ["download"], "at_least": 2, "days": 10}, set()),
        ({"kind": "inquiry", "days": 30}, {"ada"}),
        ({"kind": "inquiry"}, {"ada", "cleo"}),
        ({"kind": "meeting", "days": 7}, {"dev"}),
    ],
)
def test_each_rule_kind_against_a_hand_count(
    book: dict[str, Contact], rule: dict[str, object], expected: set[str]
) -> None:
    assert who([rule], book) == expected


def test_rules_together_all_hold(book: dict[str, Contact]) -> None:
    rules = [{"kind": "authority", "roles": ["decision_maker"]}, {"kind": "size", "min": 50}]
    assert who(rules, book) == {"ada"}


def test_bad_rules_say_where() -> None:
    with pytest.raises(RulesError) as error:
        parse_rules([
            {"kind": "size"},
            {"kind": "engagement", "events": ["tweet"], "days": 0},
            {"kind": "company", "field": "tier", "in": ["huge"]},
            {"kind": "authority", "roles": ["decision_maker"], "days": 3},
            {"kind": "mood"},
        ])  # fmt: skip
    assert error.value.errors == [
        "rules[0]: a size rule needs min, max or both",
        "rules[1].events: 'tweet' not one of download, form_fill, inquiry, visit",
        "rules[1].days: expected a whole number from 1 to 3650",
        "rules[2].in: 'huge' not one of key, standard, whale",
        "rules[3]: days make no sense for a authority rule",
        "rules[4].kind: expected one of company, size, icp, authority, seniority, engagement,"
        " inquiry, meeting",
    ]


def live(rules: list[dict[str, object]], mia: User, mary: User) -> LeadDefinition:
    draft = definition_draft(by=mia, rules=rules)
    definition_approve(definition=draft, by=mia)
    definition_approve(definition=draft, by=mary)
    definition_publish(definition=draft, by=mia, now=NOW)
    draft.refresh_from_db()
    return draft


def test_publishing_needs_both_sides_and_records_every_verdict(
    book: dict[str, Contact], mia: User, mary: User
) -> None:
    draft = definition_draft(by=mia, rules=[{"kind": "authority", "roles": ["decision_maker"]}])
    definition_approve(definition=draft, by=mia)
    with pytest.raises(NotAllowed, match="needs the approval of sales"):
        definition_publish(definition=draft, by=mia)
    definition_approve(definition=draft, by=mary)
    result = definition_publish(definition=draft, by=mary, now=NOW)
    assert (result.judged, result.gained, result.lost, result.written) == (4, 2, 0, 4)
    draft.refresh_from_db()
    assert draft.status == DefinitionStatus.ACTIVE and draft.activated_at == NOW
    ada = Contact.objects.get(pk=book["ada"].pk)
    assert (ada.qualified_at, ada.qualified_by, ada.funnel_stage) == (
        NOW, draft, FunnelStage.QUALIFIED_LEAD
    )  # fmt: skip
    ben = Qualification.objects.get(contact=book["ben"])
    assert (ben.definition, ben.qualified, ben.reasons) == (draft, False, [False])
    assert AuditEntry.objects.filter(action="lead_definition.publish").count() == 1


def test_the_preview_against_the_active_definition_matches_a_hand_count(
    book: dict[str, Contact], mia: User, mary: User
) -> None:
    live([{"kind": "authority", "roles": ["decision_maker", "champion"]}], mia, mary)
    stricter = definition_draft(by=mia, rules=[
        {"kind": "authority", "roles": ["decision_maker", "champion"]},
        {"kind": "size", "min": 50},
    ])  # fmt: skip
    preview = definition_preview(draft=stricter, now=NOW)
    assert (preview.open_leads, preview.draft_qualifies, preview.active_qualifies) == (4, 1, 3)
    assert (preview.gained_count, preview.lost_count) == (0, 2)
    assert {c.last_name for c in preview.lost} == {"Cleo", "Dev"}
    assert preview.words == "v2 qualifies 1 of 4 open leads; v1 qualifies 3; 0 gained, 2 lost."
    # Nothing changed by looking.
    assert Contact.objects.filter(qualified_at__isnull=False).count() == 3


def test_a_new_version_requalifies_and_records_who_it_lost(
    book: dict[str, Contact], mia: User, mary: User
) -> None:
    v1 = live([{"kind": "authority", "roles": ["decision_maker", "champion"]}], mia, mary)
    v2 = live([{"kind": "authority", "roles": ["decision_maker"]},
               {"kind": "engagement", "events": ["download"], "days": 30}], mia, mary)  # fmt: skip
    v1.refresh_from_db()
    assert v1.status == DefinitionStatus.RETIRED
    qualified = Contact.objects.filter(qualified_at__isnull=False)
    assert set(qualified.values_list("last_name", flat=True)) == {"Ada"}
    cleo = Qualification.objects.filter(contact=book["cleo"]).first()
    assert cleo is not None and (cleo.definition, cleo.qualified, cleo.reasons) == (
        v2, False, [True, False]
    )  # fmt: skip
    assert Contact.objects.get(pk=book["cleo"].pk).qualified_by == v2


def test_a_contact_or_company_change_requalifies_it(
    book: dict[str, Contact], mia: User, mary: User
) -> None:
    live([{"kind": "authority", "roles": ["decision_maker"]}, {"kind": "size", "min": 50}],
         mia, mary)  # fmt: skip
    ben = Contact.objects.get(pk=book["ben"].pk)
    ben = contact_update(contact=ben, by=mary, expected_updated_at=ben.updated_at,
                         data={"buying_role": BuyingRole.DECISION_MAKER})  # fmt: skip
    assert ben.qualified_at is not None
    bolt = Company.objects.get(name="Bolt")
    company_update(company=bolt, by=mary, expected_updated_at=bolt.updated_at,
                   data={"employees": 80})  # fmt: skip
    assert Contact.objects.get(pk=book["cleo"].pk).qualified_at is not None
    assert contacts_requalify(now=NOW).written == 0  # nothing left to change


def test_changing_a_draft_withdraws_its_approvals(mia: User, mary: User) -> None:
    draft = definition_draft(by=mia, rules=[{"kind": "inquiry"}])
    definition_approve(definition=draft, by=mia)
    definition_approve(definition=draft, by=mary)
    draft.refresh_from_db()
    definition_update(definition=draft, by=mia, expected_updated_at=draft.updated_at,
                      rules=[{"kind": "inquiry", "days": 30}], notes="Recent only")  # fmt: skip
    assert draft.approvals.count() == 0
    with pytest.raises(NotAllowed, match="marketing and sales"):
        definition_publish(definition=draft, by=mia)


def test_one_side_alone_cannot_publish_nor_one_person_approve_twice(
    mia: User, olivia: User
) -> None:
    draft = definition_draft(by=olivia, rules=[{"kind": "inquiry"}])
    with pytest.raises(InvalidInput, match="which side"):
        definition_approve(definition=draft, by=olivia)
    definition_approve(definition=draft, by=olivia, side="marketing")
    with pytest.raises(NotAllowed, match="two people agree"):
        definition_approve(definition=draft, by=olivia, side="sales")
    with pytest.raises(InvalidInput, match="already"):
        definition_approve(definition=draft, by=mia)  # marketing has approved
    with pytest.raises(NotAllowed, match="needs the approval of sales"):
        definition_publish(definition=draft, by=olivia)


@pytest.mark.parametrize("role", [Role.SALESPERSON, Role.SALES_SPECIALIST, Role.VIEWER])
def test_who_may_not_define_approve_or_publish(role: str, mia: User, mary: User) -> None:
    outsider = UserFactory(username=f"out-{role}", role=role)
    with pytest.raises(NotAllowed):
        definition_draft(by=outsider, rules=[{"kind": "inquiry"}])
    draft = definition_draft(by=mia, rules=[{"kind": "inquiry"}])
    with pytest.raises(NotAllowed):
        definition_approve(definition=draft, by=outsider)
    definition_approve(definition=draft, by=mia)
    definition_approve(definition=draft, by=mary)
    with pytest.raises(NotAllowed):
        definition_publish(definition=draft, by=outsider)
    assert LeadDefinition.objects.get(pk=draft.pk).status == DefinitionStatus.DRAFT


def test_a_marketer_approves_for_marketing_only(mia: User) -> None:
    draft = definition_draft(by=mia, rules=[{"kind": "inquiry"}])
    with pytest.raises(NotAllowed, match="approves for marketing, not for sales"):
        definition_approve(definition=draft, by=mia, side="sales")


def test_a_new_version_that_agrees_records_it_without_touching_the_contact(
    book: dict[str, Contact], mia: User, mary: User
) -> None:
    """Ada qualifies under v1 and v2 alike: v2's verdict is recorded, her row (and so the
    version someone editing her holds) stays as it was; running again records nothing."""
    v1 = live([{"kind": "authority", "roles": ["decision_maker"]}], mia, mary)
    ada = Contact.objects.get(pk=book["ada"].pk)
    v2 = live([{"kind": "authority", "roles": ["decision_maker", "champion"]}], mia, mary)
    again = Contact.objects.get(pk=ada.pk)
    assert (again.updated_at, again.qualified_at, again.qualified_by) == (
        ada.updated_at, ada.qualified_at, v1
    )  # fmt: skip
    assert list(again.qualifications.values_list("definition", flat=True)) == [v2.pk, v1.pk]
    assert contacts_requalify(definition=v2, now=NOW).written == 0


def test_one_contact_qualifying_recomputes_its_own_stage_not_the_books() -> None:
    """A lone gain used to count as "most of the book changed" (1 of 1 judged) and send
    every contact's funnel stage to be recomputed: a form submission took 100 ms more."""
    LeadDefinition.objects.create(
        version=1,
        status=DefinitionStatus.ACTIVE,
        rules=[{"kind": "authority", "roles": ["decision_maker"]}],
    )
    ContactFactory.create_batch(5)
    ada = ContactFactory(buying_role=BuyingRole.DECISION_MAKER)
    with mock.patch("keel.crm.services.funnel_recompute", wraps=funnel_recompute) as recompute:
        contacts_requalify(contact_ids=[ada.pk])
    recompute.assert_called_once_with(contact_ids=[ada.pk], company_ids=[ada.company_id])
    ada.refresh_from_db()
    assert ada.funnel_stage == FunnelStage.QUALIFIED_LEAD
