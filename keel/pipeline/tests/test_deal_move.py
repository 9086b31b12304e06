"""deal_move: evidence-based stage gates, overrides, lost reasons and stale versions."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone

from keel.accounts.models import User
from keel.activities.models import Task
from keel.activities.services import activity_log, task_complete
from keel.core.exceptions import InvalidInput, NotAllowed, StaleVersion
from keel.core.models import AuditEntry
from keel.crm.models import BuyingRole
from keel.crm.tests.factories import ContactFactory
from keel.pipeline import selectors
from keel.pipeline.models import Deal, DealStatus, StageChange
from keel.pipeline.services import (
    MoveBlocked,
    checklist_tick,
    deal_contact_add,
    deal_create,
    deal_move,
    deal_update,
)

pytestmark = pytest.mark.django_db


def move(deal: Deal, to: str, by: User, **kwargs: str) -> StageChange:
    return deal_move(deal=deal, to_stage=to, by=by, expected_version=deal.version, **kwargs)


def blocked(deal: Deal, to: str, by: User, **kwargs: str) -> list[str]:
    with pytest.raises(MoveBlocked) as error:
        move(deal, to, by, **kwargs)
    return error.value.details


def qualify(deal: Deal, by: User) -> Deal:
    """Gather Qualify's evidence: a connected call, amount and close date, the ICP tick."""
    activity_log(by=by, type="call", outcome="connected", deal=deal)
    deal = deal_update(
        deal=deal,
        by=by,
        expected_version=deal.version,
        data={"amount": Decimal("12000"), "expected_close": timezone.localdate()},
    )
    checklist_tick(deal=deal, item="Fits the ideal customer profile", by=by)
    return deal


def first_meeting(deal: Deal, by: User) -> Deal:
    activity_log(by=by, type="meeting", outcome="held", deal=deal)
    deal_contact_add(
        deal=deal, contact=ContactFactory(company=deal.company), role="decision_maker", by=by
    )
    return deal_update(deal=deal, by=by, expected_version=deal.version, data={"next_step": "Demo"})


def stage_of(deal: Deal) -> tuple[str, str, int]:
    deal.refresh_from_db()
    return deal.stage.name, deal.status, deal.version


def test_a_new_deal_starts_in_the_first_stage_with_its_history(deal: Deal, alice: User):
    assert stage_of(deal) == ("Qualify", "open", 1)
    [entry] = deal.stage_changes.all()
    assert (entry.from_stage, entry.to_stage.name, entry.by) == (None, "Qualify", alice)


def test_a_blocked_move_changes_nothing_and_lists_the_missing_evidence(deal: Deal, alice: User):
    tasks_before = Task.objects.count()
    assert blocked(deal, "1st meeting", alice) == [
        "Qualify: Log a call (connected) since the deal entered Qualify.",
        "Qualify: Fill in: Amount, Expected close date.",
        "Qualify: Tick the checklist item “Fits the ideal customer profile”.",
    ]
    assert stage_of(deal) == ("Qualify", "open", 1)
    assert deal.stage_changes.count() == 1
    assert Task.objects.count() == tasks_before
    assert not AuditEntry.objects.filter(action="deal.update").exists()


def test_with_the_evidence_the_move_goes_through_and_is_recorded(deal: Deal, alice: User):
    deal = qualify(deal, alice)
    change = move(deal, "1st meeting", alice)
    assert stage_of(deal) == ("1st meeting", "open", 3)
    assert (change.from_stage.name, change.to_stage.name, change.by) == (
        "Qualify",
        "1st meeting",
        alice,
    )
    assert change.process_version == deal.process_version
    assert change.override_reason == "" and change.evidence == {}


def test_an_activity_logged_before_entering_the_stage_does_not_count(deal: Deal, alice: User):
    deal = qualify(deal, alice)
    move(deal, "1st meeting", alice)
    deal.refresh_from_db()
    yesterday = timezone.now() - timedelta(days=1)
    activity_log(by=alice, type="meeting", outcome="held", deal=deal, at=yesterday)
    missing = blocked(deal, "Proof", alice)
    assert "1st meeting: Log a meeting (held) since the deal entered 1st meeting." in missing


def test_a_checklist_tick_records_who_and_when(deal: Deal, alice: User):
    tick = checklist_tick(deal=deal, item="Fits the ideal customer profile", by=alice)
    assert tick.ticked_by == alice
    assert timezone.now() - tick.ticked_at < timedelta(minutes=1)
    again = checklist_tick(deal=deal, item="Fits the ideal customer profile", by=alice)
    assert again.pk == tick.pk


def test_a_contact_with_the_buying_role_is_required(deal: Deal, alice: User):
    deal = qualify(deal, alice)
    move(deal, "1st meeting", alice)
    deal.refresh_from_db()
    activity_log(by=alice, type="meeting", outcome="held", deal=deal)
    deal = deal_update(deal=deal, by=alice, expected_version=deal.version, data={"next_step": "x"})
    champion = ContactFactory(company=deal.company, buying_role=BuyingRole.CHAMPION)
    deal_contact_add(deal=deal, contact=champion, by=alice)
    assert blocked(deal, "Proof", alice) == [
        "1st meeting: Attach a contact with the buying role decision maker."
    ]
    boss = ContactFactory(company=deal.company, buying_role=BuyingRole.DECISION_MAKER)
    deal_contact_add(deal=deal, contact=boss, by=alice)
    move(deal, "Proof", alice)
    assert stage_of(deal)[0] == "Proof"


def test_collateral_sent_comes_through_the_hook(
    deal: Deal, alice: User, monkeypatch: pytest.MonkeyPatch
):
    deal.stage.exit_criteria = [{"kind": "collateral", "collateral": "case_study"}]
    deal.stage.save()
    assert blocked(deal, "1st meeting", alice) == ["Qualify: Send the buyer a case study."]
    sent_now = [("case_study", timezone.now())]
    monkeypatch.setattr(selectors, "collateral_providers", [lambda d: sent_now])
    move(deal, "1st meeting", alice)
    assert stage_of(deal)[0] == "1st meeting"


def test_a_skip_checks_every_stage_it_leaves(deal: Deal, alice: User):
    deal = qualify(deal, alice)
    assert blocked(deal, "Proof", alice) == [
        "1st meeting: Log a meeting (held) since the deal entered 1st meeting.",
        "1st meeting: Attach a contact with the buying role decision maker.",
        "1st meeting: Fill in: Next step.",
    ]
    deal = first_meeting(deal, alice)
    change = move(deal, "Proof", alice)
    assert (change.from_stage.name, change.to_stage.name) == ("Qualify", "Proof")


def test_winning_checks_every_open_stage_left(deal: Deal, alice: User):
    missing = blocked(deal, "Intake", alice)
    stages = {line.split(":")[0] for line in missing}
    assert stages == {"Qualify", "1st meeting", "Proof", "2nd meeting", "Proposal", "Close"}


def test_backward_moves_need_no_evidence_and_are_recorded(deal: Deal, alice: User):
    deal = first_meeting(qualify(deal, alice), alice)
    move(deal, "Proof", alice)
    deal.refresh_from_db()
    change = move(deal, "Qualify", alice)
    assert stage_of(deal)[0] == "Qualify"
    assert (change.from_stage.name, change.to_stage.name) == ("Proof", "Qualify")
    assert deal.stage_changes.count() == 3


def test_lost_needs_a_reason(deal: Deal, alice: User):
    with pytest.raises(InvalidInput, match="Say why Acme rollout was lost"):
        move(deal, "Lost", alice)
    with pytest.raises(InvalidInput, match="Say why"):
        move(deal, "Lost", alice, lost_reason="bad vibes")
    assert stage_of(deal) == ("Qualify", "open", 1)

    change = move(deal, "Lost", alice, lost_reason="competitor", lost_note="Went with Initech")
    deal.refresh_from_db()
    assert (deal.status, deal.lost_reason, deal.lost_note) == (
        DealStatus.LOST,
        "competitor",
        "Went with Initech",
    )
    assert deal.closed_at is not None and change.lost_reason == "competitor"


def test_a_lost_reason_on_another_move_is_refused(deal: Deal, alice: User):
    deal = qualify(deal, alice)
    with pytest.raises(InvalidInput, match="only to a move to a lost stage"):
        move(deal, "1st meeting", alice, lost_reason="price")


def test_a_lost_deal_can_be_reopened(deal: Deal, alice: User):
    move(deal, "Lost", alice, lost_reason="timing")
    deal.refresh_from_db()
    move(deal, "Qualify", alice)
    deal.refresh_from_db()
    assert (deal.status, deal.closed_at, deal.lost_reason) == (DealStatus.OPEN, None, "")


def test_a_manager_overrides_with_a_recorded_reason(deal: Deal, mary: User):
    change = move(deal, "1st meeting", mary, override_reason="Met the CEO at the fair")
    assert stage_of(deal)[0] == "1st meeting"
    assert change.override_reason == "Met the CEO at the fair"
    assert [u["kind"] for u in change.evidence["overridden"]] == [
        "activity",
        "fields",
        "checklist",
    ]


def test_a_salesperson_cannot_override(deal: Deal, alice: User):
    with pytest.raises(NotAllowed, match="Only a sales manager or the owner"):
        move(deal, "1st meeting", alice, override_reason="Trust me")
    assert stage_of(deal) == ("Qualify", "open", 1)


def test_an_empty_override_reason_is_no_override(deal: Deal, mary: User):
    assert len(blocked(deal, "1st meeting", mary, override_reason="   ")) == 3


@pytest.mark.parametrize("who", ["bob", "sam", "vera"])
def test_others_may_not_move_alices_deal(deal: Deal, who: str, request: pytest.FixtureRequest):
    user = request.getfixturevalue(who)
    with pytest.raises(NotAllowed):
        move(deal, "Lost", user, lost_reason="price")
    assert stage_of(deal) == ("Qualify", "open", 1)


@pytest.mark.parametrize("who", ["mary", "olivia"])
def test_her_manager_and_the_owner_may(deal: Deal, who: str, request: pytest.FixtureRequest):
    move(deal, "Lost", request.getfixturevalue(who), lost_reason="price")
    assert stage_of(deal)[1] == DealStatus.LOST


def test_a_move_based_on_a_stale_version_is_rejected(deal: Deal, alice: User, mary: User):
    stale = deal.version
    deal_update(deal=deal, by=mary, expected_version=stale, data={"next_step": "Call back"})
    with pytest.raises(
        StaleVersion, match=r"changed by Mary .* \(version 2, you edited version 1\)"
    ):
        deal_move(deal=deal, to_stage="Lost", by=alice, expected_version=stale, lost_reason="price")
    assert stage_of(deal) == ("Qualify", "open", 2)


def test_an_edit_based_on_a_stale_version_is_rejected_not_merged(
    deal: Deal, alice: User, mary: User
):
    deal_update(deal=deal, by=mary, expected_version=1, data={"amount": Decimal(900)})
    with pytest.raises(StaleVersion):
        deal_update(deal=deal, by=alice, expected_version=1, data={"next_step": "Mine"})
    deal.refresh_from_db()
    assert (deal.amount, deal.next_step, deal.version) == (Decimal(900), "", 2)


def test_unknown_and_same_stage(deal: Deal, alice: User):
    with pytest.raises(
        InvalidInput, match="no stage 'Nirvana' in this process; its stages are: Qualify, "
    ):
        move(deal, "Nirvana", alice)
    with pytest.raises(InvalidInput, match="already in Qualify"):
        move(deal, "Qualify", alice)


def test_stage_history_cannot_be_edited(deal: Deal):
    change = deal.stage_changes.get()
    with pytest.raises(RuntimeError, match="append-only"):
        change.save()
    with pytest.raises(DatabaseError), transaction.atomic():
        StageChange.objects.filter(pk=change.pk).update(override_reason="rewritten")


def test_entering_a_stage_assigns_its_plan_by_role(
    sue: User, ezra: User, mary: User, alice: User, deal: Deal
):
    by_title = {t.title: t for t in Task.objects.filter(deal=deal)}
    research = by_title["Research the company and its decision makers"]
    assert research.owner == sue  # the sales specialist on Alice's team
    assert by_title["Call the contact to confirm the need"].owner == alice
    assert research.due_at == deal.stage_entered_at + timedelta(days=1)

    deal = qualify(deal, alice)
    move(deal, "1st meeting", alice)
    questions = Task.objects.get(deal=deal, title="Prepare good-to-great questions")
    assert questions.owner == ezra


def test_re_entering_a_stage_does_not_duplicate_open_tasks(deal: Deal, alice: User, mary: User):
    assert Task.objects.filter(deal=deal).count() == 3
    move(deal, "1st meeting", mary, override_reason="Known account")
    deal.refresh_from_db()
    move(deal, "Qualify", mary)
    deal.refresh_from_db()
    assert Task.objects.filter(deal=deal, source_key__startswith="plan:Qualify:").count() == 3

    done = Task.objects.get(deal=deal, title="Call the contact to confirm the need")
    task_complete(task=done, by=alice)
    move(deal, "1st meeting", mary, override_reason="Known account")
    deal.refresh_from_db()
    move(deal, "Qualify", mary)
    call_tasks = Task.objects.filter(deal=deal, title="Call the contact to confirm the need")
    assert call_tasks.count() == 2 and call_tasks.filter(done_at__isnull=True).count() == 1


def test_a_move_runs_a_bounded_number_of_queries(
    deal: Deal, alice: User, django_assert_max_num_queries: pytest.FixtureDef
):
    deal = qualify(deal, alice)
    with django_assert_max_num_queries(20):
        move(deal, "1st meeting", alice)


def test_a_write_that_lost_the_race_after_its_checks_is_rejected(deal: Deal, alice: User):
    """The in-memory copy says version 1, but the database moved on before the write."""
    seen = Deal.objects.get(pk=deal.pk)
    Deal.objects.filter(pk=deal.pk).update(version=2, updated_by=alice)
    with pytest.raises(StaleVersion, match="version 2, you edited version 1"):
        deal_move(deal=seen, to_stage="Lost", by=alice, expected_version=1, lost_reason="price")
    assert deal.stage_changes.count() == 1
    assert stage_of(deal) == ("Qualify", "open", 2)


@pytest.mark.django_db(transaction=True)
def test_two_people_moving_the_same_deal_at_once(deal: Deal, alice: User, mary: User):
    """Real concurrent transactions: exactly one move lands, the other is refused."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection, connections

    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(
        "file:memorydb"
    ):
        pytest.skip("the in-memory SQLite test database is one connection shared by threads")

    def attempt(user: User, to: str) -> str:
        try:
            stale = Deal.objects.get(pk=deal.pk)
            deal_move(
                deal=stale,
                to_stage=to,
                by=user,
                expected_version=1,
                lost_reason="price" if to == "Lost" else "",
                override_reason="race" if to != "Lost" else "",
            )
            return "moved"
        except StaleVersion:
            return "stale"
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = sorted(pool.map(attempt, [alice, mary], ["Lost", "1st meeting"]))
    assert results == ["moved", "stale"]
    assert deal.stage_changes.count() == 2


def test_who_may_create_a_deal(alice: User, bob: User, mary: User, vera: User, acme):
    with pytest.raises(NotAllowed):
        deal_create(by=vera, name="Viewer's", company=acme)
    with pytest.raises(NotAllowed):
        deal_create(by=bob, name="For Alice", company=acme, owner=alice)
    assert deal_create(by=mary, name="For Alice", company=acme, owner=alice).owner == alice


def test_bad_values_are_refused_with_the_field_named(deal: Deal, alice: User):
    with pytest.raises(InvalidInput) as error:
        deal_update(deal=deal, by=alice, expected_version=1, data={"currency": "euro"})
    assert "currency: 'euro' is not an ISO 4217 currency code (e.g. EUR, USD)." in (
        error.value.details
    )
    with pytest.raises(InvalidInput, match="cannot be edited here: stage, version"):
        deal_update(deal=deal, by=alice, expected_version=1, data={"stage": None, "version": 5})
    assert stage_of(deal) == ("Qualify", "open", 1)
