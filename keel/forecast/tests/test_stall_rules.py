"""The stall rules without the database: dwell thresholds, stints, reasons."""

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from keel.forecast.stall_rules import (
    DAY_SECONDS,
    DEFAULT_STAGE_DAYS,
    Threshold,
    Why,
    dwell_cutoff,
    dwell_threshold,
    idle_cutoff,
    stall_reasons,
    stints_from_history,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


def _threshold(days: np.ndarray, ended: np.ndarray, **kwargs: object) -> Threshold:
    options: dict[str, object] = {
        "stage": "Proposal",
        "percentile": 80,
        "min_completed": 20,
        "expected_days": 14,
    }
    options.update(kwargs)
    return dwell_threshold(days=days, ended=ended, **options)  # type: ignore[arg-type]


# --- dwell thresholds ------------------------------------------------------------------------


def test_without_censoring_the_threshold_is_the_plain_percentile_rounded_up():
    days = np.arange(1, 101, dtype=float)  # 1 … 100 days
    threshold = _threshold(days, np.ones(100, dtype=bool))
    assert threshold.learned
    assert threshold.days == 80
    assert (threshold.completed, threshold.censored) == (100, 0)
    assert _threshold(days + 0.25, np.ones(100, dtype=bool)).days == 81


def test_kaplan_meier_recovers_the_percentile_of_a_known_distribution_under_censoring():
    """Winners' dwell is lognormal (median 10 days, sigma 0.5), so its 80th percentile is
    15.2 days. Each stint is watched for an independent, uniform 0–40 days (deals entered
    the stage at random times before now): those still running are censored. The estimate
    lands on the true percentile (rounded up to whole days); the events alone, dropping
    the open deals, would put it well below."""
    rng = np.random.default_rng(6)
    true_80 = float(np.exp(np.log(10) + 0.5 * 0.8416212335729143))
    dwell = rng.lognormal(np.log(10), 0.5, size=4000)
    watched = rng.uniform(0, 40, size=4000)
    ended = dwell <= watched
    observed = np.minimum(dwell, watched)
    assert 0.2 < 1 - ended.mean() < 0.4  # a realistic share still open
    threshold = _threshold(observed, ended)
    assert threshold.learned
    assert abs(threshold.days - true_80) <= 1.0  # whole days, rounded up
    events_only = float(np.percentile(observed[ended], 80))
    assert events_only < true_80 * 0.95


def test_the_percentile_is_configurable():
    days = np.arange(1, 101, dtype=float)
    assert _threshold(days, np.ones(100, dtype=bool), percentile=50).days == 50
    assert _threshold(days, np.ones(100, dtype=bool), percentile=95).days == 95


def test_too_little_history_falls_back_to_the_stages_expected_days():
    days = np.array([3.0] * 19 + [50.0] * 40)
    ended = np.array([True] * 19 + [False] * 40)  # 19 finished stints: one short
    threshold = _threshold(days, ended, expected_days=9)
    assert not threshold.learned
    assert threshold.days == 9
    assert threshold.completed == 19 and threshold.censored == 40
    assert threshold.basis == "too little history: the stage's expected 9 days"


def test_without_expected_days_the_documented_default_stands_in():
    threshold = _threshold(np.zeros(0), np.zeros(0, dtype=bool), expected_days=None)
    assert threshold.days == DEFAULT_STAGE_DAYS
    assert "no expected days: the default 14 days" in threshold.basis


def test_an_estimate_that_never_reaches_the_percentile_falls_back():
    """20 winners left within 2 days, but 200 open deals have sat there for 100 days:
    the estimate tops out at about 9% and says nothing about the 80th percentile."""
    days = np.array([2.0] * 20 + [100.0] * 200)
    ended = np.array([True] * 20 + [False] * 200)
    threshold = _threshold(days, ended, expected_days=14)
    assert not threshold.learned and threshold.days == 14


# --- stints from the history -------------------------------------------------------------------


def test_stints_come_from_won_deals_and_the_current_stint_of_open_ones():
    day = DAY_SECONDS
    now = 100 * day
    # deal 1 won: stage 0 for 5 days, stage 1 for 7, then the won stage (key -1: no dwell)
    # deal 2 lost: stage 0 for 3 days, then lost: ignored
    # deal 3 open: stage 0 for 4 days (finished, but not known to win: ignored), now in
    #   stage 1 since day 90: censored at 10 days
    rows = [
        (1, 0, 0.0, True, False, True),
        (1, 1, 5 * day, True, False, True),
        (1, -1, 12 * day, True, False, False),
        (2, 0, 0.0, False, False, True),
        (2, -1, 3 * day, False, False, False),
        (3, 0, 86 * day, False, True, True),
        (3, 1, 90 * day, False, True, True),
    ]
    deal, key, at, won, still_open, open_stage = (np.array(col) for col in zip(*rows, strict=True))
    stints = stints_from_history(
        deal=deal.astype(np.int64),
        key=key.astype(np.int64),
        at=at.astype(float),
        won=won.astype(bool),
        still_open=still_open.astype(bool),
        open_stage=open_stage.astype(bool),
        now=now,
    )
    assert stints.key.tolist() == [0, 1, 1]
    assert stints.days.tolist() == [5.0, 7.0, 10.0]
    assert stints.ended.tolist() == [True, True, False]


def test_no_history_gives_no_stints():
    empty = np.zeros(0)
    stints = stints_from_history(
        deal=empty.astype(np.int64),
        key=empty.astype(np.int64),
        at=empty,
        won=empty.astype(bool),
        still_open=empty.astype(bool),
        open_stage=empty.astype(bool),
        now=0.0,
    )
    assert len(stints.key) == 0


# --- the reasons -------------------------------------------------------------------------------

LEARNED = Threshold("Proposal", 9, 80, 120, 30, learned=True, expected_days=14)
FALLBACK = Threshold("Proposal", 14, 80, 3, 2, learned=False, expected_days=14)


def _reasons(**kwargs: object) -> list[str]:
    options: dict[str, object] = {
        "stage": "Proposal",
        "entered": NOW - timedelta(days=2),
        "threshold": LEARNED,
        "last_touch": NOW - timedelta(days=1),
        "touched": True,
        "idle_days": 21,
        "expected_close": None,
        "today": TODAY,
        "now": NOW,
    }
    options.update(kwargs)
    return [r.text for r in stall_reasons(**options)]  # type: ignore[arg-type]


def test_a_moving_deal_has_no_reasons():
    assert _reasons() == []


def test_the_three_reasons_read_as_sentences():
    reasons = _reasons(
        entered=NOW - timedelta(days=14, hours=3),
        last_touch=NOW - timedelta(days=30),
        expected_close=date(2026, 10, 3),
    )
    assert reasons == [
        "14 days in Proposal; 80% of won deals left it within 9",
        "no activity for 30 days",
        "expected to close on 3 October, 52 days ago",
    ]


def test_the_fallback_says_there_is_too_little_history():
    reasons = _reasons(threshold=FALLBACK, entered=NOW - timedelta(days=20))
    assert reasons == ["20 days in Proposal (too little history: the stage's expected 14 days)"]


def test_dwell_counts_whole_days_past_the_threshold():
    assert _reasons(entered=NOW - timedelta(days=9, hours=23)) == []  # 9 days: within 9
    assert _reasons(entered=NOW - timedelta(days=10)) == [
        "10 days in Proposal; 80% of won deals left it within 9"
    ]
    assert dwell_cutoff(now=NOW, threshold=LEARNED) == NOW - timedelta(days=10)


def test_idle_counts_from_the_last_touch_or_the_creation():
    assert _reasons(last_touch=NOW - timedelta(days=20, hours=23)) == []
    assert _reasons(last_touch=NOW - timedelta(days=21)) == ["no activity for 21 days"]
    assert _reasons(last_touch=NOW - timedelta(days=40), touched=False) == [
        "no activity since it was created 40 days ago"
    ]
    assert idle_cutoff(now=NOW, idle_days=21) == NOW - timedelta(days=21)


def test_overdue_from_the_day_after_the_expected_close_and_names_another_year():
    assert _reasons(expected_close=TODAY) == []
    assert _reasons(expected_close=TODAY - timedelta(days=1)) == [
        "expected to close on 23 November, 1 day ago"
    ]
    assert _reasons(expected_close=date(2025, 12, 30)) == [
        "expected to close on 30 December 2025, 329 days ago"
    ]


def test_a_stage_without_a_threshold_only_stalls_by_idleness_or_date():
    assert _reasons(threshold=None, entered=NOW - timedelta(days=400)) == []


@pytest.mark.parametrize("why", list(Why))
def test_each_reason_has_a_stable_key(why: Why):
    assert why.value in {"dwell", "idle", "overdue"}
