"""Snapshots, leakage, the baselines by hand, and the factors in words. No database."""

import math

import numpy as np
import pytest

from keel.forecast import win_model
from keel.forecast.tests.test_win_synthetic import STAGES
from keel.forecast.win_rules import (
    DAY,
    SNAPSHOT_DAYS,
    Calibration,
    Encoding,
    Factor,
    WinParameters,
    calibration_table,
    default_cutoff,
    frame_at,
    history_build,
    model_scores,
    naive_bayes_fit,
    naive_bayes_predict,
    snapshot_moments,
    too_little_history,
)

T0 = 1_700_000_000.0


def deal(pk: int, *, won: bool | None, created: float = T0, closed: float | None = None, **extra):
    """A deal row; `won` None is an open deal."""
    row = {
        "id": pk, "created": created, "closed": closed, "won": bool(won),
        "stage": 1 if won is None else (3 if won else 4), "stage_entered": created,
        "amount": 10_000, "currency": "EUR", "channel": "referral", "owner": 1, "process": 1,
        "employees": 50, "tier": "standard", "icp": 60, "region": "",
    }  # fmt: skip
    row.update(extra)
    return row


# --- snapshots and leakage ----------------------------------------------------------------


def one_closed_deal(*, after_close: bool):
    """A deal open for 40 days, won; with `after_close`, things that happened after it
    closed: calls, a reopening move, a contact first talked to, an edit of its amount."""
    closed = T0 + 40 * DAY
    changes = [(1, None, 1, T0), (1, 1, 2, T0 + 10 * DAY), (1, 2, 3, closed)]
    activities = [(1, "call", 7, T0 + 1 * DAY), (1, "meeting", 7, T0 + 12 * DAY)]
    links = [(1, 7, "champion"), (1, 8, "decision_maker")]
    edits = []
    if after_close:
        changes.append((1, 3, 2, closed + 2 * DAY))
        activities += [(1, "call", None, closed + k * 3600.0) for k in range(1, 20)]
        activities.append((1, "demo", 8, closed + DAY))
        edits.append((1, closed + DAY, {"amount": ["10000.00", "99000.00"]}))
    return history_build(
        stages=STAGES,
        deals=[deal(1, won=True, closed=closed, amount=99_000 if after_close else 10_000)],
        changes=changes,
        activities=activities,
        links=links,
        edits=edits,
    )


def test_every_snapshot_is_before_the_close_and_spaced_across_the_open_life():
    history = one_closed_deal(after_close=False)
    _, moments = snapshot_moments(history, deals=history.closed_deals())
    assert len(moments) in (2, 3)  # 40 days, one every 14 from a random start in the first 14
    assert (moments >= T0).all() and (moments < T0 + 40 * DAY).all()
    assert moments[0] < T0 + SNAPSHOT_DAYS * DAY
    assert np.allclose(np.diff(moments), SNAPSHOT_DAYS * DAY)


def test_what_happened_after_the_close_is_never_used():
    """The same snapshots with and without post-close events give the same features."""
    clean, leaky = one_closed_deal(after_close=False), one_closed_deal(after_close=True)
    moments = T0 + np.asarray([0.5, 5, 11, 20, 39.9]) * DAY
    deals = np.zeros(len(moments), dtype=np.int64)
    a = frame_at(clean, deals=deals, moments=moments)
    b = frame_at(leaky, deals=deals, moments=moments)
    for name in a.__dataclass_fields__:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    # The outcome stage is never a feature: Qualify, then Propose from day 10.
    assert [STAGES[s][2] for s in b.stage] == ["Qualify"] * 2 + ["Propose"] * 3
    assert (b.amount == 10_000).all()  # the amount as it was, not as edited after
    assert not b.roles[:, 0].any()  # the decision maker was first talked to after the close


def test_features_are_as_of_the_moment():
    history = one_closed_deal(after_close=False)
    moments = T0 + np.asarray([0.5, 2, 11, 12.5, 30]) * DAY
    frame = frame_at(history, deals=np.zeros(5, dtype=np.int64), moments=moments)
    calls, meetings = frame.activities[:, 0], frame.activities[:, 2]
    assert list(calls) == [0, 1, 1, 1, 1]  # the call of day 1, in the 30 days up to each moment
    assert list(meetings) == [0, 0, 0, 1, 1]
    champion = frame.roles[:, 2]
    assert list(champion) == [False, True, True, True, True]  # first talked to on day 1
    assert np.allclose(frame.days_in_stage, [0.5, 2, 1, 2.5, 20])
    assert np.allclose(frame.age_days, [0.5, 2, 11, 12.5, 30])


def test_the_window_forgets_old_activity():
    history = one_closed_deal(after_close=False)
    frame = frame_at(
        history, deals=np.zeros(2, dtype=np.int64), moments=T0 + np.asarray([30.9, 31.1]) * DAY
    )
    assert list(frame.activities[:, 0]) == [1, 0]


def test_regressions_count_backward_moves_up_to_the_moment():
    changes = [
        (1, None, 1, T0), (1, 1, 2, T0 + DAY), (1, 2, 1, T0 + 2 * DAY),
        (1, 1, 2, T0 + 3 * DAY), (1, 2, 1, T0 + 4 * DAY), (1, 1, 4, T0 + 5 * DAY),
    ]  # fmt: skip
    history = history_build(
        stages=STAGES, deals=[deal(1, won=False, closed=T0 + 5 * DAY)], changes=changes,
        activities=[], links=[],
    )  # fmt: skip
    moments = T0 + np.asarray([0.5, 1.5, 2.5, 3.5, 4.5]) * DAY
    frame = frame_at(history, deals=np.zeros(5, dtype=np.int64), moments=moments)
    assert list(frame.regressions) == [0, 0, 1, 1, 2]


def test_a_closed_deal_without_stage_history_gives_no_snapshot():
    history = history_build(
        stages=STAGES, deals=[deal(1, won=True, closed=T0 + 30 * DAY)], changes=[],
        activities=[], links=[],
    )  # fmt: skip
    deals, moments = snapshot_moments(history, deals=history.closed_deals())
    assert len(frame_at(history, deals=deals, moments=moments)) == 0


def test_an_open_deal_is_seen_as_it_stands_now():
    history = history_build(
        stages=STAGES,
        deals=[deal(1, won=None, stage=2, stage_entered=T0 + 3 * DAY)],
        changes=[],
        activities=[(1, "email", None, T0 + 4 * DAY)],
        links=[],
    )
    frame = frame_at(history, deals=np.zeros(1, dtype=np.int64), moments=np.asarray([T0 + 5 * DAY]))
    assert STAGES[frame.stage[0]][2] == "Propose" and frame.days_in_stage[0] == pytest.approx(2)
    assert frame.activities[0, 1] == 1


def test_an_owner_and_channel_edited_later_are_seen_as_they_were():
    closed = T0 + 20 * DAY
    edits = [(1, T0 + 10 * DAY, {"owner": [5, 1], "channel": ["cold_calling", "referral"]})]
    history = history_build(
        stages=STAGES, deals=[deal(1, won=True, closed=closed)],
        changes=[(1, None, 1, T0), (1, 1, 3, closed)], activities=[], links=[], edits=edits,
    )  # fmt: skip
    frame = frame_at(
        history, deals=np.zeros(2, dtype=np.int64), moments=T0 + np.asarray([5.0, 15]) * DAY
    )
    assert list(frame.owner) == [5, 1]
    assert list(frame.channel) == ["cold_calling", "referral"]


# --- the baselines, by hand ---------------------------------------------------------------


def tiny():
    """Five closed deals of one team: two won, three lost (two in Qualify, one in Propose)."""
    rows = [
        (1, True, "referral", [1, 2, 3]),
        (2, True, "cold_calling", [1, 2, 3]),
        (3, False, "cold_calling", [1, 4]),
        (4, False, "referral", [1, 2, 4]),
        (5, False, "", [1, 4]),
    ]
    deals, changes = [], []
    for pk, won, channel, path in rows:
        closed = T0 + 10 * DAY * len(path)
        deals.append(deal(pk, won=won, closed=closed, channel=channel, owner=10))
        for k, stage in enumerate(path):
            changes.append((pk, path[k - 1] if k else None, stage, T0 + 10 * DAY * (k + 1)))
    deals.append(deal(6, won=None, channel="referral", owner=10, stage=2))
    deals.append(deal(7, won=None, channel="partner", owner=30, stage=1))
    return history_build(
        stages=STAGES, deals=deals, changes=changes, activities=[], links=[],
        teams={10: 1, 30: 2},
    )  # fmt: skip


def test_naive_bayes_is_odoos_frequency_tables_computed_by_hand():
    """Counts start at 0.1 for a seen pair. Qualify: won 2.1, lost 3.1 (every lost deal
    passed it); Propose: won 2.1 (won deals count at every stage), lost 1.1; referral
    1.1/1.1 and cold calling 1.1/1.1 (the unset channel is skipped); standard tier
    2.1/3.1. The prior comes from the first stage: 2.1 won against 3.1 lost."""
    history = tiny()
    model = naive_bayes_fit(history, history.closed_deals())
    now = np.full(2, T0 + 100 * DAY)
    frame = frame_at(history, deals=np.asarray([5, 6]), moments=now)
    p = naive_bayes_predict(model, history, frame)
    # In Propose, by referral: 2.1·(2.1/2.1)·(1.1/2.2) against 3.1·(1.1/3.1)·(1.1/2.2).
    assert p[0] == pytest.approx(2.1 / (2.1 + 1.1))
    # In Qualify, by an unseen channel, of a team with no counts (the pooled tables): the
    # stage and the tier cancel out, the channel is skipped: the prior.
    assert p[1] == pytest.approx(2.1 / (2.1 + 3.1))


def test_the_stage_baseline_is_the_default_of_the_stage_at_the_snapshot():
    history = tiny()
    moments = np.asarray([T0 + 15 * DAY, T0 + 25 * DAY])  # deal 1: in Qualify, then Propose
    frame = frame_at(history, deals=np.zeros(2, dtype=np.int64), moments=moments)
    assert list(history.stages.default[frame.stage]) == [0.10, 0.50]


def test_the_measures_by_hand():
    predicted = np.asarray([0.9, 0.2, 0.6, 0.4])
    won = np.asarray([True, False, False, True])
    measured = win_model.measure("model", predicted, won)
    assert measured["brier"] == pytest.approx((0.01 + 0.04 + 0.36 + 0.36) / 4)
    log_loss = -(math.log(0.9) + math.log(0.8) + math.log(0.4) + math.log(0.4)) / 4
    assert measured["log_loss"] == pytest.approx(log_loss, abs=1e-5)
    assert measured["auc"] == pytest.approx(0.75)  # 3 of the 4 won/lost pairs ordered right
    table = calibration_table(predicted, won, bins=2)
    assert [(r["n"], r["predicted"], r["observed"]) for r in table] == [
        (2, 0.3, 0.5),
        (2, 0.75, 0.5),
    ]


# --- too little history, the cutoff, the factors ------------------------------------------


def test_too_little_history_says_how_much_is_needed():
    assert too_little_history(won=150, lost=60) is None
    assert "199 closed deals" in too_little_history(won=150, lost=49)
    assert "at least 30 won" in too_little_history(won=20, lost=400)


def test_the_default_cutoff_leaves_about_a_fifth_after_it():
    closed = T0 + np.arange(1000) * DAY
    cutoff = default_cutoff(closed)
    after = (closed >= win_model.day_start(cutoff)).mean()
    assert 0.2 <= after <= 0.25


def test_training_refuses_too_little_history():
    from keel.core.exceptions import InvalidInput

    with pytest.raises(InvalidInput, match="too little history: 5 closed deals"):
        win_model.train(history=tiny())


def test_factors_name_the_feature_and_its_points():
    history = one_closed_deal(after_close=False)
    frame = frame_at(
        history, deals=np.zeros(1, dtype=np.int64), moments=np.asarray([T0 + 12.5 * DAY])
    )
    encoding = Encoding(
        stages=("1:Qualify", "1:Propose"), channels=("referral",), owners=(1,), tiers=("standard",)
    )
    columns = encoding.columns
    coef = np.zeros(len(columns))
    coef[columns.index("log meeting in window")] = 1.0
    coef[columns.index("log days in stage")] = -0.2
    parameters = WinParameters(
        encoding=encoding,
        mean=np.zeros(len(columns)),
        scale=np.ones(len(columns)),
        coef=coef,
        intercept=0.0,
        calibration=Calibration(method="sigmoid"),
    )
    [score] = model_scores(history, frame, parameters)
    z = math.log(2) - 0.2 * math.log1p(2.5)
    assert score.probability == pytest.approx(1 / (1 + math.exp(-z)))
    texts = [str(f) for f in score.factors]
    meeting_points = round(100 * (1 / (1 + math.exp(-z)) - 1 / (1 + math.exp(-z + math.log(2)))))
    assert texts[0] == f"1 meeting in the last 30 days: +{meeting_points} points"
    assert texts[1].startswith("2 days in Propose (usually 14): −")
    assert len(texts) == 2  # nothing else moves it
    assert (
        str(Factor("No demos in the last 30 days", -3)) == "No demos in the last 30 days: −3 points"
    )


def test_closed_deals_without_stage_history_are_refused_not_guessed():
    """Their stage before the close is unknown: nothing to learn from, and it says why."""
    from keel.core.exceptions import InvalidInput

    deals = [
        deal(pk, won=pk % 3 == 0, created=T0 + pk * DAY, closed=T0 + (pk + 20) * DAY)
        for pk in range(1, 301)
    ]
    history = history_build(stages=STAGES, deals=deals, changes=[], activities=[], links=[])
    with pytest.raises(InvalidInput, match="no stage history"):
        win_model.train(history=history)
