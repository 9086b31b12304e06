"""The cleanup's bulk actions: what is allowed is done, what is not is refused and named."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.utils import timezone

from keel.core.exceptions import InvalidInput, NotAllowed
from keel.core.models import AuditEntry
from keel.crm.tests.factories import CompanyFactory
from keel.forecast.models import StallCount
from keel.forecast.stall_selectors import stall_thresholds
from keel.forecast.stall_services import (
    Picked,
    stall_counts_record,
    stalled_close_lost,
    stalled_reassign,
    stalled_reschedule,
)
from keel.forecast.tasks import stall_counts_nightly
from keel.forecast.tests.stall_factories import DAY, deal_with_history
from keel.pipeline.models import Deal, DealStatus, StageChange
from keel.pipeline.services import deal_create, deal_update

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _thresholds_uncached() -> Iterator[None]:
    """The stall thresholds are cached for the hour: each test starts and ends without."""
    caches["local"].clear()
    yield
    caches["local"].clear()


@pytest.fixture
def alices(alice, new_business):
    return deal_create(by=alice, name="Alice's", company=CompanyFactory(), process=new_business)


@pytest.fixture
def bobs(bob, new_business):
    return deal_create(by=bob, name="Bob's", company=CompanyFactory(), process=new_business)


def _pick(*deals: Deal) -> list[Picked]:
    return [Picked(deal_id=d.pk, version=d.version) for d in deals]


def test_a_manager_closes_the_teams_stalled_deals_as_lost(mary, alices, bobs):
    outcome = stalled_close_lost(
        by=mary, picked=_pick(alices, bobs), lost_reason="went_dark", note="No reply since May"
    )
    assert outcome.done == ["Alice's", "Bob's"] and outcome.refused == []
    assert outcome.summary == "Closed as lost: 2 deals."
    for deal in Deal.objects.filter(pk__in=[alices.pk, bobs.pk]):
        assert (deal.status, deal.stage.name, deal.lost_reason) == ("lost", "Lost", "went_dark")
        assert deal.lost_note == "No reply since May" and deal.version == 2
    change = StageChange.objects.filter(deal=alices).latest("id")
    assert (change.to_stage.name, change.lost_reason, change.by) == ("Lost", "went_dark", mary)


def test_a_salesperson_acting_on_a_colleagues_deal_is_refused_and_named(alice, alices, bobs):
    outcome = stalled_close_lost(by=alice, picked=_pick(alices, bobs), lost_reason="timing")
    assert outcome.done == ["Alice's"]
    assert outcome.refused == ["Bob's: Alice may not change Bob's deal"]
    assert Deal.objects.get(pk=bobs.pk).status == DealStatus.OPEN
    assert Deal.objects.get(pk=alices.pk).status == DealStatus.LOST


def test_a_deal_out_of_sight_is_refused_without_its_name(sam, alices):
    outcome = stalled_reschedule(
        by=sam,
        picked=_pick(alices),
        expected_close=timezone.localdate() + timedelta(days=30),
        next_step="Call them",
    )
    assert outcome.done == []
    assert outcome.refused == [f"deal #{alices.pk}: not found, or not yours to see"]
    assert "Alice" not in " ".join(outcome.refused)


@pytest.mark.parametrize("role", ["vera", "ezra_inactive"])
def test_people_who_do_not_sell_are_refused_everything(request, role, alices, ezra):
    if role == "ezra_inactive":
        ezra.is_active = False
        ezra.save()
        user = ezra
    else:
        user = request.getfixturevalue("vera")
    with pytest.raises(NotAllowed):
        stalled_close_lost(by=user, picked=_pick(alices), lost_reason="timing")
    assert Deal.objects.get(pk=alices.pk).status == DealStatus.OPEN


def test_a_deal_changed_since_the_page_was_shown_is_not_overwritten(alice, bob, alices, bobs, mary):
    seen = _pick(alices, bobs)
    deal_update(deal=bobs, by=bob, expected_version=1, data={"next_step": "Bob's own plan"})
    outcome = stalled_reschedule(
        by=mary,
        picked=seen,
        expected_close=timezone.localdate() + timedelta(days=14),
        next_step="Mary's plan",
    )
    assert outcome.done == ["Alice's"]
    assert len(outcome.refused) == 1
    assert outcome.refused[0].startswith("Bob's: Bob's was changed by Bob")
    assert Deal.objects.get(pk=bobs.pk).next_step == "Bob's own plan"
    assert Deal.objects.get(pk=alices.pk).next_step == "Mary's plan"


def test_reschedule_sets_the_date_and_the_next_step_through_the_deal_service(mary, alices):
    day = timezone.localdate() + timedelta(days=21)
    outcome = stalled_reschedule(
        by=mary, picked=_pick(alices), expected_close=day, next_step="  Book the review  "
    )
    assert outcome.summary == "Rescheduled: 1 deal."
    deal = Deal.objects.get(pk=alices.pk)
    assert (deal.expected_close, deal.next_step, deal.version) == (day, "Book the review", 2)
    assert AuditEntry.objects.filter(action="deal.update", object_id=str(deal.pk)).exists()


@pytest.mark.parametrize(
    ("days", "step", "message"),
    [(-1, "Call", "is in the past"), (10, "  ", "Say what the next step is")],
)
def test_a_reschedule_without_a_future_date_and_a_step_changes_nothing(
    mary, alices, days, step, message
):
    with pytest.raises(InvalidInput, match=message):
        stalled_reschedule(
            by=mary,
            picked=_pick(alices),
            expected_close=timezone.localdate() + timedelta(days=days),
            next_step=step,
        )
    assert Deal.objects.get(pk=alices.pk).version == 1


def test_close_as_lost_needs_a_known_reason(mary, alices):
    with pytest.raises(InvalidInput, match="Say why"):
        stalled_close_lost(by=mary, picked=_pick(alices), lost_reason="bored")
    with pytest.raises(InvalidInput, match="at least one"):
        stalled_close_lost(by=mary, picked=[], lost_reason="timing")


def test_a_manager_reassigns_within_the_team(mary, bob, alices):
    outcome = stalled_reassign(by=mary, picked=_pick(alices), owner=bob)
    assert outcome.done == ["Alice's"] and outcome.action == "Reassigned to Bob"
    assert Deal.objects.get(pk=alices.pk).owner == bob


def test_a_salesperson_may_not_hand_deals_to_a_colleague(alice, bob, alices):
    with pytest.raises(NotAllowed, match="may not hand deals to Bob"):
        stalled_reassign(by=alice, picked=_pick(alices), owner=bob)
    assert Deal.objects.get(pk=alices.pk).owner == alice


def test_nobody_is_handed_deals_they_cannot_own(olivia, vera, alices):
    with pytest.raises(InvalidInput, match="does not sell"):
        stalled_reassign(by=olivia, picked=_pick(alices), owner=vera)


def test_a_closed_deal_is_refused(mary, alices):
    stalled_close_lost(by=mary, picked=_pick(alices), lost_reason="timing")
    outcome = stalled_close_lost(
        by=mary, picked=_pick(Deal.objects.get(pk=alices.pk)), lost_reason="timing"
    )
    assert outcome.refused == ["Alice's: already lost"]


def test_the_nightly_record_replaces_the_days_rows(alice, bob):
    now = timezone.now()
    deal_with_history(owner=alice, stints=[("Proposal", now - 90 * DAY)])
    deal_with_history(owner=alice, stints=[("Proposal", now - DAY)])
    deal_with_history(owner=bob, stints=[("Close", now - DAY)])
    day = timezone.localdate(now)
    thresholds = stall_thresholds(now=now)
    assert stall_counts_record(day=day, thresholds=thresholds, now=now) == 2
    assert stall_counts_record(day=day, thresholds=thresholds, now=now) == 2  # again: same rows
    rows = {(r.owner, r.stage.name): r for r in StallCount.objects.filter(day=day)}
    assert len(rows) == 2
    assert (rows[(alice, "Proposal")].open_deals, rows[(alice, "Proposal")].stalled) == (2, 1)
    assert rows[(alice, "Proposal")].by_reason == {"dwell": 1, "idle": 1, "overdue": 0}
    assert rows[(bob, "Close")].stalled == 0


def test_the_task_records_today(alice):
    deal_with_history(owner=alice, stints=[("Proposal", timezone.now() - 90 * DAY)])
    message = stall_counts_nightly.call()
    assert message == f"1 stall counts recorded for {timezone.localdate():%Y-%m-%d}"
    assert StallCount.objects.get().stalled == 1
    stall_counts_nightly.call()
    assert StallCount.objects.count() == 1
