"""Thresholds learned from the stage history, and the stalled deals found in the database."""

import random
from collections.abc import Iterator
from datetime import timedelta
from importlib import resources

import pytest
from django.core.cache import caches
from django.test import override_settings
from django.utils import timezone

from keel.accounts.models import User
from keel.forecast.stall_selectors import (
    stall_marks,
    stall_tally,
    stall_thresholds,
    stalled_deals,
    stalled_visible,
)
from keel.forecast.tests.stall_factories import DAY, deal_with_history, stage, touch, won_deals
from keel.pipeline.models import Deal
from keel.pipeline.services import process_import

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _thresholds_uncached() -> Iterator[None]:
    """The stall thresholds are cached for the hour: each test starts and ends without."""
    caches["local"].clear()
    yield
    caches["local"].clear()


@pytest.fixture
def now():
    return timezone.now()


def _open_in(owner: User, stage_name: str, since, *, now, touched=True, **kwargs) -> Deal:
    """An open deal that came into `stage_name` at `since`, touched an hour ago."""
    deal = deal_with_history(
        owner=owner, stints=[("Qualify", since - 3 * DAY), (stage_name, since)], **kwargs
    )
    if touched:
        touch(deal, now - timedelta(hours=1))
    return deal


def test_a_stage_with_enough_won_history_learns_its_threshold(alice, now):
    won_deals(owner=alice, stage_name="Proposal", days=range(1, 26), now=now)  # 1 … 25 days
    thresholds = stall_thresholds(now=now)
    proposal = thresholds.for_stage(stage("New business", "Proposal").pk)
    assert proposal is not None and proposal.learned
    assert (proposal.days, proposal.completed) == (20, 25)  # 80% left within 20 days
    qualify = thresholds.for_stage(stage("New business", "Qualify").pk)
    assert qualify is not None and qualify.learned and qualify.days == 1


def test_open_deals_in_the_stage_are_censored_not_dropped(alice, now):
    """25 winners left Proposal after 1 … 25 days; 10 open deals are 10.5 days in. They
    count as at risk until then, so the estimate's 80th percentile is 21 days (20 if they
    were dropped). Had they sat there for 30 days, the estimate would never reach 80%."""
    won_deals(owner=alice, stage_name="Proposal", days=range(1, 26), now=now)
    for _ in range(10):
        _open_in(alice, "Proposal", now - timedelta(days=10.5), now=now)
    proposal = stall_thresholds(now=now).for_stage(stage("New business", "Proposal").pk)
    assert proposal is not None and proposal.learned
    assert (proposal.completed, proposal.censored) == (25, 10)
    assert proposal.days == 21
    later = now + 20 * DAY
    proposal = stall_thresholds(now=later).for_stage(stage("New business", "Proposal").pk)
    assert proposal is not None and not proposal.learned and proposal.days == 14


def test_too_little_history_uses_the_stages_expected_days(alice, now):
    won_deals(owner=alice, stage_name="Proposal", days=range(1, 20), now=now)  # 19
    proposal = stall_thresholds(now=now).for_stage(stage("New business", "Proposal").pk)
    assert proposal is not None and not proposal.learned
    assert proposal.days == stage("New business", "Proposal").expected_days == 14


@override_settings(KEEL_STALL_MIN_STINTS=5, KEEL_STALL_PERCENTILE=50)
def test_the_settings_choose_the_percentile_and_the_history_needed(alice, now):
    won_deals(owner=alice, stage_name="Proposal", days=[2, 4, 6, 8, 10], now=now)
    proposal = stall_thresholds(now=now).for_stage(stage("New business", "Proposal").pk)
    assert proposal is not None and proposal.learned and proposal.days == 6


def test_stages_are_matched_across_process_versions_by_name(alice, now):
    won_deals(owner=alice, stage_name="Proposal", days=range(1, 26), now=now)
    source = (resources.files("keel.pipeline") / "processes" / "new_business.yaml").read_text()
    process_import(source=source.replace("expected_days: 14", "expected_days: 12"), by=None)
    newer = stage("New business", "Proposal")
    assert newer.version.number == 2
    proposal = stall_thresholds(now=now).for_stage(newer.pk)
    assert proposal is not None and proposal.learned and proposal.days == 20
    assert proposal.expected_days == 12  # the newest version's figure


def test_the_thresholds_are_cached_for_the_hour_and_a_new_version_renews_them(
    alice, now, django_assert_num_queries
):
    won_deals(owner=alice, stage_name="Proposal", days=range(1, 26), now=now)
    first = stall_thresholds(now=now)
    with django_assert_num_queries(1):  # the newest stage: part of the key
        assert stall_thresholds(now=now).by_stage == first.by_stage
    source = (resources.files("keel.pipeline") / "processes" / "new_business.yaml").read_text()
    process_import(source=source, by=None)
    renewed = stall_thresholds(now=now)
    assert stage("New business", "Proposal").pk in renewed.by_stage
    assert stage("New business", "Proposal").pk not in first.by_stage
    later = stall_thresholds(now=now + timedelta(hours=1))
    assert later.computed_at == now + timedelta(hours=1)
    assert stall_thresholds(now=now, fresh=True).seconds >= 0


def test_dwell_is_judged_in_whole_days_past_the_threshold(alice, now):
    won_deals(owner=alice, stage_name="Proposal", days=range(1, 26), now=now)
    thresholds = stall_thresholds(now=now)
    moving = _open_in(alice, "Proposal", now - 20 * DAY - timedelta(hours=23), now=now)
    stuck = _open_in(alice, "Proposal", now - 21 * DAY, now=now)
    found = stalled_deals(deals=Deal.objects.all(), thresholds=thresholds, now=now)
    assert list(found) == [stuck]
    marks = stall_marks(deals=[moving, stuck], thresholds=thresholds, now=now)
    assert marks[moving.pk] == []
    assert [r.text for r in marks[stuck.pk]] == [
        "21 days in Proposal; 80% of won deals left it within 20"
    ]


def test_idle_and_overdue_deals_are_found(alice, now):
    thresholds = stall_thresholds(now=now)
    idle = _open_in(alice, "Proposal", now - 2 * DAY, now=now, touched=False)
    touch(idle, now - 30 * DAY)
    Deal.objects.filter(pk=idle.pk).update(created_at=now - 40 * DAY)
    never = _open_in(alice, "Proposal", now - 2 * DAY, now=now, touched=False)
    Deal.objects.filter(pk=never.pk).update(created_at=now - 25 * DAY)
    late = _open_in(
        alice, "Proposal", now - 2 * DAY, now=now, expected_close=timezone.localdate() - 5 * DAY
    )
    fresh = _open_in(alice, "Proposal", now - 2 * DAY, now=now)
    found = set(stalled_deals(deals=Deal.objects.all(), thresholds=thresholds, now=now))
    assert found == {idle, never, late}
    assert fresh not in found
    marks = stall_marks(
        deals=[Deal.objects.get(pk=d.pk) for d in found], thresholds=thresholds, now=now
    )
    assert [r.text for r in marks[idle.pk]] == ["no activity for 30 days"]
    assert [r.text for r in marks[never.pk]] == ["no activity since it was created 25 days ago"]
    assert marks[late.pk][0].text.startswith("expected to close on ")
    assert marks[late.pk][0].text.endswith(", 5 days ago")


def test_the_database_and_the_rule_agree_on_every_deal(alice, now):
    """Deals around every boundary: the query finds exactly those the rule gives reasons."""
    won_deals(owner=alice, stage_name="Proposal", days=range(1, 26), now=now)
    rng = random.Random(3)
    today = timezone.localdate(now)
    deals = []
    for _ in range(60):
        entered = now - timedelta(days=rng.choice([1, 5, 19, 20, 21, 22, 40]), hours=rng.random())
        deal = _open_in(
            alice,
            rng.choice(["Proposal", "Close", "1st meeting"]),
            entered,
            now=now,
            touched=False,
            expected_close=rng.choice([None, today, today - DAY, today + 3 * DAY]),
        )
        for _ in range(rng.randint(0, 2)):
            touch(deal, now - timedelta(days=rng.choice([1, 20, 21, 22, 60]), hours=rng.random()))
        deals.append(deal)
    deals = list(Deal.objects.filter(pk__in=[d.pk for d in deals]).select_related("stage"))
    thresholds = stall_thresholds(now=now)
    found = {d.pk for d in stalled_deals(deals=Deal.objects.all(), thresholds=thresholds, now=now)}
    marks = stall_marks(deals=deals, thresholds=thresholds, now=now)
    assert found == {pk for pk, reasons in marks.items() if reasons}
    assert 10 < len(found) < 55  # both kinds are present


def test_a_salesperson_sees_their_teams_stalled_deals_not_another_teams(alice, bob, sam, now):
    thresholds = stall_thresholds(now=now)
    old = now - 60 * DAY
    mine = _open_in(alice, "Proposal", old, now=now, name="Alice's")
    bobs = _open_in(bob, "Close", old, now=now, name="Bob's")
    sams = _open_in(sam, "Proposal", old, now=now, name="Sam's")
    assert set(stalled_visible(user=alice, thresholds=thresholds, now=now)) == {mine, bobs}
    assert set(stalled_visible(user=sam, thresholds=thresholds, now=now)) == {sams}
    with override_settings(KEEL_PIPELINE_VISIBILITY="own"):
        assert list(stalled_visible(user=alice, thresholds=thresholds, now=now)) == [mine]


def test_the_list_filters_by_owner_stage_and_process_in_owner_and_stage_order(
    alice, bob, olivia, now
):
    thresholds = stall_thresholds(now=now)
    old = now - 60 * DAY
    a_close = _open_in(alice, "Close", old, now=now)
    a_proposal = _open_in(alice, "Proposal", old, now=now)
    a_older_proposal = _open_in(alice, "Proposal", old - DAY, now=now)
    b_proposal = _open_in(bob, "Proposal", old, now=now)
    renewal = deal_with_history(owner=bob, process="Renewal", stints=[("Proposal", old)])
    touch(renewal, now)

    def listed(**filters):
        return list(stalled_visible(user=olivia, thresholds=thresholds, now=now, **filters))

    assert listed() == [a_older_proposal, a_proposal, a_close, b_proposal, renewal]
    assert listed(owner_id=bob.pk) == [b_proposal, renewal]
    assert listed(stage="proposal") == [a_older_proposal, a_proposal, b_proposal, renewal]
    process = renewal.process_id
    assert listed(process_id=process) == [renewal]


def test_the_tally_counts_open_and_stalled_deals_per_stage_and_owner_by_reason(alice, bob, now):
    thresholds = stall_thresholds(now=now)
    _open_in(alice, "Proposal", now - 2 * DAY, now=now)  # moving
    _open_in(alice, "Proposal", now - 60 * DAY, now=now)  # dwell
    _open_in(
        alice, "Proposal", now - 60 * DAY, now=now, expected_close=timezone.localdate() - DAY
    )  # dwell and overdue
    quiet = _open_in(bob, "Close", now - 2 * DAY, now=now, touched=False)
    Deal.objects.filter(pk=quiet.pk).update(created_at=now - 30 * DAY)  # idle since created
    tallies = {(t.stage_id, t.owner_id): t for t in stall_tally(thresholds=thresholds, now=now)}
    proposal, close = stage("New business", "Proposal").pk, stage("New business", "Close").pk
    alices = tallies[(proposal, alice.pk)]
    assert (alices.open_deals, alices.stalled) == (3, 2)
    assert alices.by_reason == {"dwell": 2, "idle": 0, "overdue": 1}
    bobs = tallies[(close, bob.pk)]
    assert (bobs.open_deals, bobs.stalled, bobs.by_reason["idle"]) == (1, 1, 1)
