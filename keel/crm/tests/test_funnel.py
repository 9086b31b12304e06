"""The funnel stage follows the records, by the one rule in crm/rules.py."""

import pytest
from django.utils import timezone

from keel.accounts.models import User
from keel.activities.services import activity_log
from keel.crm.models import Company, Contact, FunnelStage
from keel.crm.rules import FunnelEvidence, funnel_stage_for
from keel.crm.services import funnel_recompute
from keel.crm.tests.factories import CompanyFactory, ContactFactory
from keel.pipeline.models import SalesProcess
from keel.pipeline.services import deal_contact_add, deal_create, deal_move


@pytest.mark.parametrize(
    ("evidence", "stage"),
    [
        (FunnelEvidence(), FunnelStage.SUSPECT),
        (FunnelEvidence(has_activity=True), FunnelStage.PROSPECT),
        (FunnelEvidence(has_activity=True, has_inquiry=True), FunnelStage.LEAD),
        (FunnelEvidence(has_inquiry=True, is_qualified=True), FunnelStage.QUALIFIED_LEAD),
        (FunnelEvidence(has_deal=True), FunnelStage.QUALIFIED_LEAD),
        (FunnelEvidence(has_deal=True, has_won_deal=True), FunnelStage.CUSTOMER),
        (FunnelEvidence(has_won_deal=True, has_won_repeat_deal=True), FunnelStage.RAVING_FAN),
        (FunnelEvidence(has_activity=True, has_referred=True), FunnelStage.RAVING_FAN),
    ],
)
def test_the_rule(evidence: FunnelEvidence, stage: FunnelStage):
    assert funnel_stage_for(evidence) == stage


def stages(*objects: Company | Contact) -> list[str]:
    for obj in objects:
        obj.refresh_from_db()
    return [obj.funnel_stage for obj in objects]


@pytest.mark.django_db
def test_records_move_a_contact_and_its_company_up_the_funnel(
    alice: User, mary: User, new_business: SalesProcess
):
    company = CompanyFactory()
    person = ContactFactory(company=company)
    assert stages(person, company) == ["suspect", "suspect"]

    activity_log(by=alice, type="call", outcome="not_connected", contact=person)
    assert stages(person, company) == ["prospect", "prospect"]

    person.inquired_at = timezone.now()
    person.save()
    funnel_recompute(contact_ids=[person.pk], company_ids=[company.pk])
    assert stages(person, company) == ["lead", "lead"]

    deal = deal_create(by=alice, name="First order", company=company, process=new_business)
    deal_contact_add(deal=deal, contact=person, by=alice, role="decision_maker")
    assert stages(person, company) == ["qualified_lead", "qualified_lead"]

    deal_move(deal=deal, to_stage="Intake", by=mary, expected_version=1, override_reason="Test")
    assert stages(person, company) == ["customer", "customer"]

    renewal = deal_create(
        by=alice, name="Year two", company=company, process=SalesProcess.objects.get(name="Renewal")
    )
    deal_contact_add(deal=renewal, contact=person, by=alice)
    assert stages(person, company) == ["customer", "customer"]
    deal_move(deal=renewal, to_stage="Renewed", by=mary, expected_version=1, override_reason="x")
    assert stages(person, company) == ["raving_fan", "raving_fan"]


@pytest.mark.django_db
def test_a_referral_makes_the_referrer_a_raving_fan(alice: User, new_business: SalesProcess):
    referrer = ContactFactory()
    newcomer = CompanyFactory()
    deal_create(
        by=alice, name="Referred", company=newcomer, process=new_business, referred_by=referrer
    )
    assert stages(referrer, referrer.company, newcomer) == [
        "raving_fan",
        "raving_fan",
        "qualified_lead",
    ]


@pytest.mark.django_db
def test_a_lost_deal_keeps_the_company_a_qualified_lead(alice: User, new_business: SalesProcess):
    company = CompanyFactory()
    deal = deal_create(by=alice, name="Lost one", company=company, process=new_business)
    deal_move(deal=deal, to_stage="Lost", by=alice, expected_version=1, lost_reason="price")
    assert stages(company) == ["qualified_lead"]


@pytest.mark.django_db
def test_recompute_everything_in_a_bounded_number_of_queries(
    alice: User, django_assert_max_num_queries: pytest.FixtureDef
):
    for _ in range(20):
        person = ContactFactory()
        Contact.objects.filter(pk=person.pk).update(qualified_at=timezone.now())
    with django_assert_max_num_queries(6):
        changed = funnel_recompute()
    assert changed == 40  # 20 contacts and their 20 companies
    assert set(Company.objects.values_list("funnel_stage", flat=True)) == {"qualified_lead"}
