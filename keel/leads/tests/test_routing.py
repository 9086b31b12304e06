"""Routing and hand-off: the first-touch deadline in working hours (on a frozen clock,
across a weekend), the rules in order with their caps, the hand-off a qualification
makes, and sales' verdict on it."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from keel.accounts.models import Role, Team, User
from keel.accounts.tests.factories import UserFactory
from keel.activities.models import ActivityType, Task, TaskSource
from keel.activities.services import activity_log
from keel.core.exceptions import InvalidInput, NotAllowed, StaleVersion
from keel.core.models import InstanceSetting
from keel.crm.models import BuyingRole, Company, Contact, Tier
from keel.crm.tests.factories import CompanyFactory, ContactFactory
from keel.leads.definitions import contacts_requalify
from keel.leads.handoff_rules import Policy, deadline
from keel.leads.handoffs import handoff_tally
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
from keel.leads.routing import (
    POLICY_KEY,
    UNROUTED,
    handoff_accept,
    handoff_assign,
    handoff_reject,
    leads_hand_off,
    policy_read,
    policy_save,
    routing_rule_move,
    routing_rule_save,
)

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
FOUR = Policy(hours=4)


def at(text: str, zone: ZoneInfo = BERLIN) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


# The clock -----------------------------------------------------------------------------


def test_a_deadline_within_the_day_is_four_hours_later() -> None:
    assert deadline(at("2026-11-24 10:00"), FOUR, BERLIN) == at("2026-11-24 14:00")


def test_friday_afternoon_runs_over_the_weekend_to_monday() -> None:
    # Friday 16:00: one hour left that day, three on Monday from 09:00.
    assert deadline(at("2026-11-27 16:00"), FOUR, BERLIN) == at("2026-11-30 12:00")


def test_a_lead_on_saturday_waits_for_monday_morning() -> None:
    assert deadline(at("2026-11-28 11:30"), FOUR, BERLIN) == at("2026-11-30 13:00")


def test_after_closing_the_clock_starts_next_morning() -> None:
    assert deadline(at("2026-11-24 19:00"), FOUR, BERLIN) == at("2026-11-25 13:00")


def test_a_long_deadline_spans_several_working_days() -> None:
    # 20 hours from Wednesday 09:00: Wed 8, Thu 8, Fri 4 → Friday 13:00.
    policy = Policy(hours=20)
    assert deadline(at("2026-11-25 09:00"), policy, BERLIN) == at("2026-11-27 13:00")


def test_the_clock_is_the_owners_own() -> None:
    # 16:00 in Berlin is 10:00 in New York: four of New York's hours, to 14:00 there.
    new_york = ZoneInfo("America/New_York")
    due = deadline(at("2026-11-24 16:00"), FOUR, new_york)
    assert due == at("2026-11-24 14:00", new_york)


def test_a_six_day_week_counts_saturday() -> None:
    policy = Policy(hours=4, days=(0, 1, 2, 3, 4, 5))
    assert deadline(at("2026-11-27 16:00"), policy, BERLIN) == at("2026-11-28 12:00")


# The rules -----------------------------------------------------------------------------


@pytest.fixture
def definition(db: None) -> LeadDefinition:
    """The live definition: a decision maker qualifies."""
    return LeadDefinition.objects.create(
        version=1,
        status=DefinitionStatus.ACTIVE,
        rules=[{"kind": "authority", "roles": ["decision_maker"]}],
    )


def rule(kind: str, **fields: object) -> RoutingRule:
    position = RoutingRule.objects.count() + 1
    return RoutingRule.objects.create(position=position, kind=kind, **fields)


def qualify(company: Company | None = None, owner: User | None = None) -> Contact:
    """A contact who becomes a qualified lead, and is handed over if nobody sells it."""
    contact = ContactFactory(
        company=company or CompanyFactory(), owner=owner, buying_role=BuyingRole.DECISION_MAKER
    )
    contacts_requalify(contact_ids=[contact.pk])
    contact.refresh_from_db()
    return contact


def handoff_of(contact: Contact) -> Handoff:
    return Handoff.objects.get(contact=contact)


def test_a_named_account_goes_to_its_owner_before_any_other_rule(
    definition: LeadDefinition, alice: User, bob: User, north: Team
) -> None:
    rule(RoutingKind.NAMED_ACCOUNT)
    rule(RoutingKind.ROUND_ROBIN, team=north)
    whale = CompanyFactory(owner=bob, tier=Tier.WHALE)
    contact = qualify(whale)
    assert contact.owner == bob
    handoff = handoff_of(contact)
    assert handoff.rule_words == "A company with an owner → its owner"
    assert handoff.definition == definition


def test_a_named_account_rule_limited_to_whales_skips_other_accounts(
    definition: LeadDefinition, alice: User, bob: User, north: Team
) -> None:
    rule(RoutingKind.NAMED_ACCOUNT, values=[Tier.WHALE])
    rule(RoutingKind.REGION, values=["EMEA"], assignee=alice)
    standard = CompanyFactory(owner=bob, tier=Tier.STANDARD, region="emea")
    assert qualify(standard).owner == alice  # region matched, whatever its case


def test_region_then_industry_then_round_robin_in_turn(
    definition: LeadDefinition, alice: User, bob: User, sam: User, north: Team, south: Team
) -> None:
    rule(RoutingKind.REGION, values=["APAC"], assignee=sam)
    rule(RoutingKind.INDUSTRY, values=["Mining"], team=south)
    rule(RoutingKind.ROUND_ROBIN, team=north)
    assert qualify(CompanyFactory(region="APAC", industry="Mining")).owner == sam
    assert qualify(CompanyFactory(region="EU", industry="Mining")).owner == sam
    dealt = [qualify(CompanyFactory(region="EU")).owner for _ in range(4)]
    assert dealt == [alice, bob, alice, bob]  # Mary manages: round robin deals to sellers
    words = handoff_of(Contact.objects.get(owner=sam, company__region="APAC")).rule_words
    assert words == "Region is one of: APAC → " + (sam.get_full_name() or str(sam))


def test_the_cap_skips_a_full_person_and_then_the_rule(
    definition: LeadDefinition, alice: User, bob: User, sam: User, north: Team
) -> None:
    rule(RoutingKind.ROUND_ROBIN, team=north, cap=1)
    fallback = rule(RoutingKind.REGION, values=["EU"], assignee=sam)
    first, second, third = (qualify(CompanyFactory(region="EU")) for _ in range(3))
    assert {first.owner, second.owner} == {alice, bob}
    assert third.owner == sam and handoff_of(third).rule == fallback
    fourth = qualify(CompanyFactory(region="US"))
    assert fourth.owner is None
    assert handoff_of(fourth).rule_words == UNROUTED
    assert handoff_of(fourth).task is None


def test_last_months_hand_offs_do_not_count_against_the_cap(
    definition: LeadDefinition, alice: User, north: Team
) -> None:
    robin = rule(RoutingKind.ROUND_ROBIN, team=north, cap=1)
    old = ContactFactory()
    Handoff.objects.create(
        contact=old, owner=alice, rule=robin, rule_words="x", at=timezone.now() - timedelta(days=40)
    )
    assert qualify().owner == alice


def test_a_lead_a_seller_owns_is_not_handed_over(
    definition: LeadDefinition, alice: User, bob: User, north: Team
) -> None:
    rule(RoutingKind.ROUND_ROBIN, team=north)
    contact = qualify(owner=bob)
    assert contact.owner == bob
    assert not Handoff.objects.exists()


def test_a_marketers_lead_is_handed_over_and_remembers_them(
    definition: LeadDefinition, alice: User, north: Team
) -> None:
    mia = UserFactory(username="mia", role=Role.MARKETER)
    rule(RoutingKind.ROUND_ROBIN, team=north)
    MarketingEvent.objects.create(
        type=EventType.DOWNLOAD, occurred_at=timezone.now(), campaign="spring", source="ads"
    )
    contact = ContactFactory(owner=mia, buying_role=BuyingRole.DECISION_MAKER)
    MarketingEvent.objects.create(
        type=EventType.FORM_FILL,
        occurred_at=timezone.now(),
        contact=contact,
        campaign="webinar",
        source="newsletter",
    )
    contacts_requalify(contact_ids=[contact.pk])
    handoff = handoff_of(contact)
    assert handoff.owner == alice and handoff.previous_owner == mia
    assert (handoff.campaign, handoff.source) == ("webinar", "newsletter")


def test_the_first_touch_task_is_due_in_working_hours(
    definition: LeadDefinition, alice: User, north: Team
) -> None:
    alice.time_zone = "Europe/Berlin"
    alice.save()
    rule(RoutingKind.ROUND_ROBIN, team=north)
    contact = ContactFactory(buying_role=BuyingRole.DECISION_MAKER)
    friday = at("2026-11-27 16:00")
    contacts_requalify(contact_ids=[contact.pk], now=friday)
    handoff = handoff_of(contact)
    assert handoff.due_at == at("2026-11-30 12:00")
    task = Task.objects.get()
    assert (task.owner, task.due_at, task.source) == (alice, handoff.due_at, TaskSource.HANDOFF)
    assert task.title.startswith(f"First touch: {contact}")


def test_the_policy_saved_sets_the_deadline(
    definition: LeadDefinition, alice: User, mary: User, north: Team
) -> None:
    policy_save(by=mary, policy=Policy(hours=1))
    rule(RoutingKind.ROUND_ROBIN, team=north)
    contact = ContactFactory(buying_role=BuyingRole.DECISION_MAKER)
    contacts_requalify(contact_ids=[contact.pk], now=at("2026-11-24 10:00", ZoneInfo("UTC")))
    assert handoff_of(contact).due_at == at("2026-11-24 11:00", ZoneInfo("UTC"))


def test_a_lead_qualified_again_while_its_hand_off_waits_is_not_handed_twice(
    definition: LeadDefinition, north: Team
) -> None:
    contact = qualify()  # unrouted: no rules
    leads_hand_off(contact_ids=[contact.pk], definition=definition, now=timezone.now())
    assert Handoff.objects.filter(contact=contact).count() == 1


# The verdict ---------------------------------------------------------------------------


@pytest.fixture
def handed(definition: LeadDefinition, alice: User, bob: User, north: Team) -> Handoff:
    """A lead handed to Alice by the round robin."""
    rule(RoutingKind.ROUND_ROBIN, team=north)
    return handoff_of(qualify())


def test_the_owner_accepts_once(handed: Handoff, alice: User) -> None:
    accepted = handoff_accept(handoff=handed, by=alice)
    assert accepted.status == HandoffStatus.ACCEPTED and accepted.decided_by == alice
    with pytest.raises(StaleVersion, match="already accepted"):
        handoff_reject(handoff=handed, by=alice, reason=RejectReason.NO_BUDGET)


def test_a_rejection_needs_a_reason_and_sends_the_lead_back(handed: Handoff, alice: User) -> None:
    with pytest.raises(InvalidInput, match="Say why"):
        handoff_reject(handoff=handed, by=alice, reason="")
    handed.refresh_from_db()
    assert handed.status == HandoffStatus.PENDING
    rejected = handoff_reject(
        handoff=handed, by=alice, reason=RejectReason.NO_AUTHORITY, note="An intern."
    )
    assert (rejected.reason, rejected.note) == (RejectReason.NO_AUTHORITY, "An intern.")
    assert Contact.objects.get(pk=handed.contact_id).owner is None
    assert not Task.objects.exists()  # the first touch is withdrawn


def test_another_salesperson_may_not_decide_but_the_manager_may(
    handed: Handoff, bob: User, mary: User, sam: User
) -> None:
    for other in (bob, sam):
        with pytest.raises(NotAllowed):
            handoff_accept(handoff=handed, by=other)
    assert handoff_accept(handoff=handed, by=mary).decided_by == mary


def test_a_manager_places_an_unrouted_lead_in_their_team_only(
    definition: LeadDefinition, alice: User, mary: User, sam: User
) -> None:
    waiting = handoff_of(qualify())
    with pytest.raises(NotAllowed):
        handoff_assign(handoff=waiting, to=sam, by=mary)
    with pytest.raises(NotAllowed):
        handoff_assign(handoff=waiting, to=mary, by=alice)
    placed = handoff_assign(handoff=waiting, to=alice, by=mary)
    assert placed.owner == alice and placed.due_at is not None
    assert placed.rule_words.startswith("Assigned by")
    assert Contact.objects.get(pk=waiting.contact_id).owner == alice
    assert Task.objects.get().owner == alice


def test_rules_are_sales_to_write_and_keep_their_order(
    mary: User, alice: User, north: Team
) -> None:
    mia = UserFactory(username="mia", role=Role.MARKETER)
    with pytest.raises(NotAllowed):
        routing_rule_save(
            by=mia, rule=RoutingRule(kind=RoutingKind.ROUND_ROBIN), data={"team": north}
        )
    with pytest.raises(InvalidInput, match="values"):
        routing_rule_save(
            by=mary, rule=RoutingRule(kind=RoutingKind.REGION), data={"assignee": alice}
        )
    first = routing_rule_save(by=mary, rule=RoutingRule(kind=RoutingKind.NAMED_ACCOUNT), data={})
    second = routing_rule_save(
        by=mary, rule=RoutingRule(kind=RoutingKind.ROUND_ROBIN), data={"team": north, "cap": 5}
    )
    assert (first.position, second.position) == (1, 2)
    routing_rule_move(by=mary, rule=second, up=True)
    order = list(RoutingRule.objects.order_by("position").values_list("kind", flat=True))
    assert order == [RoutingKind.ROUND_ROBIN, RoutingKind.NAMED_ACCOUNT]


def test_a_call_logged_with_the_lead_is_its_first_touch(
    definition: LeadDefinition, alice: User, north: Team
) -> None:
    rule(RoutingKind.ROUND_ROBIN, team=north)
    contact = qualify()
    activity_log(by=alice, type=ActivityType.RESEARCH, contact=contact)
    assert Task.objects.get().done_at is None  # reading about them is no touch
    call = activity_log(by=alice, type=ActivityType.CALL, contact=contact)
    assert Task.objects.get().done_at == call.at
    tally = handoff_tally(Handoff.objects.all(), timezone.now())
    assert tally.states["on_time"] == 1 and tally.breaches == 0


def test_an_untouched_lead_past_its_deadline_is_a_breach(
    definition: LeadDefinition, alice: User, north: Team
) -> None:
    rule(RoutingKind.ROUND_ROBIN, team=north)
    contact = ContactFactory(buying_role=BuyingRole.DECISION_MAKER)
    friday = at("2026-11-27 16:00")
    contacts_requalify(contact_ids=[contact.pk], now=friday)
    monday_noon = at("2026-11-30 12:00")
    before = handoff_tally(Handoff.objects.all(), monday_noon - timedelta(minutes=1))
    after = handoff_tally(Handoff.objects.all(), monday_noon + timedelta(minutes=1))
    assert (before.states["due"], before.breaches) == (1, 0)
    assert (after.states["overdue"], after.breaches) == (1, 1)


def test_a_marketers_note_or_a_backdated_call_is_no_first_touch(
    definition: LeadDefinition, alice: User, north: Team
) -> None:
    mia = UserFactory(username="mia", role=Role.MARKETER)
    rule(RoutingKind.ROUND_ROBIN, team=north)
    contact = qualify()
    activity_log(by=mia, type=ActivityType.EMAIL, contact=contact)
    activity_log(
        by=alice, type=ActivityType.CALL, contact=contact, at=timezone.now() - timedelta(days=3)
    )
    assert Task.objects.get().done_at is None


def test_a_lead_touched_in_time_and_rejected_later_was_answered_on_time(
    handed: Handoff, alice: User
) -> None:
    call = activity_log(by=alice, type=ActivityType.CALL, contact=handed.contact)
    later = timezone.now() + timedelta(days=5)
    handoff_reject(handoff=handed, by=alice, reason=RejectReason.NO_BUDGET, now=later)
    tally = handoff_tally(Handoff.objects.all(), later)
    assert (tally.states["on_time"], tally.breaches) == (1, 0)
    assert Task.objects.get().done_at == call.at  # a done first touch stays


def test_a_manager_may_take_a_lead_themselves_but_not_another_teams(
    definition: LeadDefinition, alice: User, mary: User, sam: User, north: Team, south: Team
) -> None:
    rule(RoutingKind.ROUND_ROBIN, team=south)
    sams = handoff_of(qualify())
    assert sams.owner == sam
    with pytest.raises(NotAllowed):  # Mary manages North: Sam's lead is not hers to move
        handoff_assign(handoff=sams, to=alice, by=mary)
    waiting = handoff_of(qualify(CompanyFactory(), owner=None))
    RoutingRule.objects.all().delete()
    unrouted = handoff_of(qualify())
    assert unrouted.owner is None and waiting.owner == sam
    assert handoff_assign(handoff=unrouted, to=mary, by=mary).owner == mary


def test_only_one_pending_hand_off_per_lead_whatever_races() -> None:
    contact = ContactFactory()
    Handoff.objects.create(contact=contact, rule_words="x", at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        Handoff.objects.create(contact=contact, rule_words="y", at=timezone.now())


def test_a_cap_of_nothing_is_refused(mary: User, north: Team) -> None:
    with pytest.raises(InvalidInput, match="cap"):
        routing_rule_save(
            by=mary, rule=RoutingRule(kind=RoutingKind.ROUND_ROBIN), data={"team": north, "cap": 0}
        )


def test_a_stored_policy_that_never_reaches_a_deadline_falls_back_to_the_default() -> None:
    for broken in ({"days": []}, {"opens": "17:00", "closes": "09:00"}, {"hours": "x"}):
        InstanceSetting.objects.update_or_create(key=POLICY_KEY, defaults={"value": broken})
        assert policy_read() == Policy()
