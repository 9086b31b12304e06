"""The win model on synthetic histories made from a known rule: it recovers the rule.

A deal's chance to be won is a logistic function of its channel and its number of calls,
logged the day it opened: logit = INTERCEPT + CHANNEL_EDGE[channel] + PER_CALL·ln(1 + calls)
(the model counts activities on that log scale). Every deal lives 20 to 25 days whatever
its outcome and moves from Qualify to Propose half way, so the stage and the deal's age
carry no signal: the model must find the channel and the calls alone. No database.
"""

import math

import numpy as np
import pytest

from keel.forecast import win_model
from keel.forecast.win_rules import (
    DAY,
    History,
    encode,
    frame_at,
    history_build,
    snapshot_moments,
)

INTERCEPT = -1.2
PER_CALL = 0.9
CHANNEL_EDGE = {"referral": 1.0, "inbound_web": 0.0, "cold_calling": -1.0}
MAX_CALLS = 4
# Qualify and Propose are open; Won and Lost close the one process (id 1).
STAGES = [
    (1, 1, "Qualify", 1, True, 10, 14),
    (2, 1, "Propose", 2, True, 50, 14),
    (3, 1, "Won", 3, False, 100, None),
    (4, 1, "Lost", 4, False, 0, None),
]
START = 1_700_000_000.0  # November 2023


def true_probability(channel: str, calls: int) -> float:
    return 1 / (1 + math.exp(-(INTERCEPT + CHANNEL_EDGE[channel] + PER_CALL * math.log1p(calls))))


def synthetic(n: int, seed: int) -> tuple[History, dict[int, float]]:
    """`n` closed deals drawn from the rule, and each deal's true chance by id."""
    rng = np.random.default_rng(seed)
    channels = list(CHANNEL_EDGE)
    deals, changes, activities, truth = [], [], [], {}
    for i in range(n):
        pk = i + 1
        created = START + i * 1800.0
        channel = channels[int(rng.integers(len(channels)))]
        calls = int(rng.integers(MAX_CALLS + 1))
        p = true_probability(channel, calls)
        won = bool(rng.random() < p)
        life = (20 + 5 * rng.random()) * DAY
        closed = created + life
        truth[pk] = p
        deals.append(
            {
                "id": pk, "created": created, "closed": closed, "won": won,
                "stage": 3 if won else 4, "stage_entered": closed, "amount": 10_000,
                "currency": "EUR", "channel": channel, "owner": 1, "process": 1,
                "employees": 50, "tier": "standard", "icp": 60, "region": "",
            }
        )  # fmt: skip
        changes += [
            (pk, None, 1, created),
            (pk, 1, 2, created + life / 2),
            (pk, 2, 3 if won else 4, closed),
        ]
        activities += [(pk, "call", None, created + 60.0 * k) for k in range(calls)]
    history = history_build(
        stages=STAGES, deals=deals, changes=changes, activities=activities, links=[]
    )
    return history, truth


@pytest.fixture(scope="module")
def learned() -> tuple[History, win_model.WinParameters]:
    history, _ = synthetic(20_000, seed=1)
    deals, moments = snapshot_moments(history, deals=history.closed_deals())
    frame = frame_at(history, deals=deals, moments=moments)
    return history, win_model.fit(history, frame)


def _held_out(parameters: win_model.WinParameters, seed: int) -> tuple[np.ndarray, ...]:
    history, truth = synthetic(20_000, seed=seed)
    deals, moments = snapshot_moments(history, deals=history.closed_deals(), seed=seed)
    frame = frame_at(history, deals=deals, moments=moments)
    predicted = parameters.probability(encode(history, frame, parameters.encoding))
    true = np.asarray([truth[int(history.deal_id[d])] for d in frame.deal])
    return predicted, true, history.won[frame.deal], frame.activities[:, 0], frame.deal, history


def test_the_learned_probability_of_each_channel_and_call_count_is_the_rule(learned):
    """Within 4 points in every one of the 15 cells (about 2,600 snapshots each)."""
    _, parameters = learned
    predicted, true, _, calls, deals, history = _held_out(parameters, seed=2)
    channels = history.channel[deals]
    for channel in CHANNEL_EDGE:
        for n in range(MAX_CALLS + 1):
            cell = (channels == channel) & (calls == n)
            assert cell.sum() > 1_000
            got = float(predicted[cell].mean())
            assert got == pytest.approx(true_probability(channel, n), abs=0.04), (channel, n)
    assert float(np.abs(predicted - true).mean()) < 0.025


def test_held_out_predictions_are_calibrated(learned):
    """Deciles of fresh deals' predictions: predicted within 4 points of the share won, and
    a Brier score within 0.005 of the true probabilities' own."""
    _, parameters = learned
    predicted, true, won, *_ = _held_out(parameters, seed=3)
    table = win_model.measure("model", predicted, won)
    for decile in table["deciles"]:
        assert decile["predicted"] == pytest.approx(decile["observed"], abs=0.04), decile
    best = float(np.mean((true - won) ** 2))
    assert table["brier"] <= best + 0.005


def test_the_stage_and_the_age_carry_no_weight_where_they_carry_no_signal(learned):
    _, parameters = learned
    columns = parameters.encoding.columns
    weights = dict(zip(columns, parameters.coef, strict=True))
    calls = weights["log call in window"]
    assert calls > 0.3  # per standard deviation of ln(1 + calls)
    for column in ("log days open", "log days in stage", "stage=1:Propose"):
        assert abs(weights[column]) < calls / 5, column


def test_the_parameters_are_plain_numbers_and_read_back_the_same(learned):
    import json

    history, parameters = learned
    stored = json.loads(json.dumps(parameters.as_json()))
    again = win_model.WinParameters.from_json(stored)
    deals, moments = snapshot_moments(history, deals=history.closed_deals()[:500])
    frame = frame_at(history, deals=deals, moments=moments)
    matrix = encode(history, frame, parameters.encoding)
    assert np.allclose(again.probability(matrix), parameters.probability(matrix), atol=1e-6)

    def plain(value: object) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return isinstance(value, int | float | str)

    assert plain(stored)
