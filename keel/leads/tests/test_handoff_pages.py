"""The hand-off pages: who sees which lead, accepting and rejecting on the web, the
routing page's readers and writers, the policy, and marketing's feedback."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from keel.accounts.models import Role, Team, User
from keel.accounts.tests.factories import UserFactory
from keel.crm.models import BuyingRole, Contact
from keel.crm.tests.factories import ContactFactory
from keel.leads.definitions import contacts_requalify
from keel.leads.handoffs import handoff_feedback
from keel.leads.models import (
    DefinitionStatus,
    EventType,
    Handoff,
    HandoffStatus,
    LeadDefinition,
    MarketingEvent,
    RejectReason,
    RoutingKind,
    RoutingRule,
)
from keel.leads.routing import policy_read
from keel.pipeline.models import Deal, DealStatus, SalesProcess
from keel.pipeline.services import deal_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def mia(db: None) -> User:
    return UserFactory(username="mia", role=Role.MARKETER)


@pytest.fixture
def handed(alice: User, bob: User, north: Team) -> list[Handoff]:
    """Ada's and Ben's companies are in the EU: North's round robin deals them to Alice
    and Bob. Cleo's is in the US, which no rule covers: she waits for a manager."""
    LeadDefinition.objects.create(
        version=1,
        status=DefinitionStatus.ACTIVE,
        rules=[{"kind": "authority", "roles": ["decision_maker"]}],
    )
    RoutingRule.objects.create(position=1, kind=RoutingKind.REGION, values=["EU"], team=north)
    people = [
        ContactFactory(
            last_name=name, buying_role=BuyingRole.DECISION_MAKER, company__region=region
        )
        for name, region in (("Ada", "EU"), ("Ben", "EU"), ("Cleo", "US"))
    ]
    contacts_requalify(contact_ids=[c.pk for c in people])
    return list(Handoff.objects.order_by("contact__last_name"))


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def names(page: str) -> set[str]:
    return {n for n in ("Ada", "Ben", "Cleo") if f">Dana {n}<" in page}


def test_each_sees_the_leads_theirs_to_see(
    handed: list[Handoff], alice: User, bob: User, mary: User, sam: User, mia: User
) -> None:
    assert [h.owner for h in handed] == [alice, bob, None]
    url = reverse("handoffs:list")
    assert names(client_for(alice).get(url).content.decode()) == {"Ada"}
    assert names(client_for(sam).get(url).content.decode()) == set()
    assert names(client_for(mary).get(url).content.decode()) == {"Ada", "Ben", "Cleo"}
    assert names(client_for(mia).get(url).content.decode()) == {"Ada", "Ben", "Cleo"}
    assert client_for(mia).get(url + "?state=unassigned").content.decode().count("Dana ") == 1


def test_the_list_reads_a_bounded_number_of_queries(
    handed: list[Handoff], mary: User, django_assert_max_num_queries: object
) -> None:
    client = client_for(mary)
    with django_assert_max_num_queries(16):  # type: ignore[operator]
        assert client.get(reverse("handoffs:list")).status_code == 200


def test_the_owner_accepts_and_another_cannot_even_find_it(
    handed: list[Handoff], alice: User, bob: User
) -> None:
    ada = handed[0]
    assert client_for(bob).post(reverse("handoffs:accept", args=[ada.pk])).status_code == 404
    page = client_for(alice).post(reverse("handoffs:accept", args=[ada.pk]), follow=True)
    assert "You accepted Dana Ada." in page.content.decode()
    ada.refresh_from_db()
    assert ada.status == HandoffStatus.ACCEPTED


def test_a_rejection_without_a_reason_is_refused_with_words(
    handed: list[Handoff], alice: User
) -> None:
    ada = handed[0]
    page = client_for(alice).post(reverse("handoffs:reject", args=[ada.pk]), follow=True)
    assert "Say why the lead is rejected." in page.content.decode()
    page = client_for(alice).post(
        reverse("handoffs:reject", args=[ada.pk]),
        {
            "reason": RejectReason.NO_BUDGET,
            "note": "Frozen until Q3",
            "next": "https://evil.example/",
        },
    )
    assert page["Location"] == reverse("handoffs:list")  # never off the site
    ada.refresh_from_db()
    assert (ada.status, ada.reason, ada.note) == (
        HandoffStatus.REJECTED,
        "no_budget",
        "Frozen until Q3",
    )


def test_a_manager_assigns_the_unassigned_lead_and_a_salesperson_cannot(
    handed: list[Handoff], alice: User, mary: User
) -> None:
    cleo = handed[2]
    assert (
        client_for(alice)
        .post(reverse("handoffs:assign", args=[cleo.pk]), {"to": alice.pk})
        .status_code
        == 404
    )
    client_for(mary).post(reverse("handoffs:assign", args=[cleo.pk]), {"to": alice.pk})
    assert Contact.objects.get(pk=cleo.contact_id).owner == alice


def test_routing_is_read_by_marketing_and_written_by_sales_managers(
    alice: User, mary: User, mia: User, north: Team
) -> None:
    url = reverse("handoffs:routing")
    assert client_for(alice).get(url).status_code == 403
    assert client_for(mia).get(url).status_code == 200
    new = reverse("handoffs:rule_new")
    rule = {"kind": RoutingKind.ROUND_ROBIN, "team": north.pk, "cap": 10, "is_active": "on"}
    assert client_for(mia).post(new, rule).status_code == 403
    assert client_for(mary).post(new, rule).status_code == 302
    page = client_for(mary).get(url).content.decode()
    assert "Everyone else → round robin in North (at most 10 a month each)" in page
    bad = client_for(mary).post(new, {"kind": RoutingKind.REGION, "team": north.pk})
    assert bad.status_code == 400 and "name at least one" in bad.content.decode()
    assert Client().get(url)["Location"].startswith(reverse("login"))


def test_the_policy_is_saved_and_checked(mary: User, mia: User) -> None:
    url = reverse("handoffs:policy")
    policy = {"hours": 2, "days": [0, 1, 2, 3], "opens": "08:00", "closes": "16:00"}
    assert client_for(mia).post(url, policy).status_code == 403
    bad = client_for(mary).post(url, {**policy, "closes": "07:00"})
    assert bad.status_code == 400 and "closes after it opens" in bad.content.decode()
    client_for(mary).post(url, policy)
    assert policy_read().words == "within 2 working hours (Mon, Tue, Wed, Thu, 08:00–16:00)"


def test_feedback_counts_verdicts_conversions_and_wins_by_campaign(
    handed: list[Handoff], alice: User, mia: User, new_business: SalesProcess
) -> None:
    Handoff.objects.filter(pk=handed[0].pk).update(campaign="webinar", source="newsletter")
    Handoff.objects.filter(pk__in=[h.pk for h in handed[1:]]).update(campaign="ads")
    ada = Contact.objects.get(pk=handed[0].contact_id)
    won = deal_create(by=alice, name="Ada's order", company=ada.company, process=new_business)
    Deal.objects.filter(pk=won.pk).update(status=DealStatus.WON, closed_at=timezone.now())
    Handoff.objects.filter(pk=handed[1].pk).update(
        status=HandoffStatus.REJECTED, reason=RejectReason.NOT_A_FIT
    )
    start = timezone.now() - timedelta(days=1)
    rows = {r.campaign: r for r in handoff_feedback(start=start, end=timezone.now())}
    webinar, ads = rows["webinar"], rows["ads"]
    assert (webinar.handed, webinar.pending, webinar.converted, webinar.won) == (1, 1, 1, 1)
    assert (ads.handed, ads.rejected, ads.pending, ads.converted) == (2, 1, 1, 0)
    assert ads.reasons_words == [("Not a fit for what we sell", 1)]
    page = client_for(mia).get(reverse("handoffs:feedback")).content.decode()
    assert "Not a fit for what we sell: 1" in page and "newsletter" in page
    assert client_for(alice).get(reverse("handoffs:feedback")).status_code == 403


def test_the_contact_page_tells_the_lead_story(handed: list[Handoff], alice: User) -> None:
    ada = Contact.objects.get(pk=handed[0].contact_id)
    MarketingEvent.objects.create(
        type=EventType.DOWNLOAD, occurred_at=timezone.now(), contact=ada, campaign="webinar"
    )
    page = client_for(alice).get(reverse("crm:contact_detail", args=[ada.pk])).content.decode()
    assert "Lead definition v1" in page and "qualified" in page
    assert "The contact&#x27;s buying role is one of: decision maker." in page
    assert "Handed to sales" in page and "Region is one of: EU → round robin in North" in page
    assert "Download · webinar" in page


def test_marketing_sees_every_lead_but_decides_none(handed: list[Handoff], mia: User) -> None:
    ada, cleo = handed[0], handed[2]
    marketing = client_for(mia)
    assert marketing.post(reverse("handoffs:accept", args=[ada.pk])).status_code == 403
    refused = marketing.post(reverse("handoffs:reject", args=[ada.pk]), {"reason": "spam"})
    assert refused.status_code == 403
    assigned = marketing.post(reverse("handoffs:assign", args=[cleo.pk]), {"to": mia.pk})
    assert assigned.status_code == 403
    assert set(Handoff.objects.values_list("status", flat=True)) == {HandoffStatus.PENDING}


def test_another_teams_manager_cannot_move_a_lead(
    handed: list[Handoff], alice: User, sam: User, south: Team
) -> None:
    stella = UserFactory(username="stella", role=Role.SALES_MANAGER, team=south)
    ada = handed[0]
    client = client_for(stella)
    assert client.post(reverse("handoffs:accept", args=[ada.pk])).status_code == 404
    cleo = handed[2]  # unassigned: any manager may place it, within their own team
    assert (
        client.post(reverse("handoffs:assign", args=[cleo.pk]), {"to": alice.pk}).status_code == 403
    )
    page = client.post(reverse("handoffs:assign", args=[cleo.pk]), {"to": "abc"}, follow=True)
    assert "Choose who gets the lead." in page.content.decode()
    client.post(reverse("handoffs:assign", args=[cleo.pk]), {"to": sam.pk})
    assert Contact.objects.get(pk=cleo.contact_id).owner == sam


def test_only_sales_managers_move_edit_or_delete_rules(
    alice: User, mia: User, mary: User, north: Team
) -> None:
    rule = RoutingRule.objects.create(position=1, kind=RoutingKind.ROUND_ROBIN, team=north)
    for user in (alice, mia):
        client = client_for(user)
        assert client.post(reverse("handoffs:rule_move", args=[rule.pk])).status_code == 403
        assert client.post(reverse("handoffs:rule_delete", args=[rule.pk])).status_code == 403
        edit = client.post(reverse("handoffs:rule_edit", args=[rule.pk]), {"kind": "region"})
        assert edit.status_code == 403
    assert RoutingRule.objects.get().kind == RoutingKind.ROUND_ROBIN
    client_for(mary).post(reverse("handoffs:rule_delete", args=[rule.pk]))
    assert not RoutingRule.objects.exists()


def test_the_contact_page_hides_another_teams_hand_off(handed: list[Handoff], sam: User) -> None:
    ada = handed[0]
    page = client_for(sam).get(reverse("crm:contact_detail", args=[ada.contact_id]))
    assert page.status_code == 200 and "Handed to sales" not in page.content.decode()
