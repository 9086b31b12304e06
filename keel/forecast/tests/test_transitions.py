"""Learning from stage history: synthetic histories drawn from known transition
probabilities and dwell times, and what laws_learn recovers from them.

The synthetic process has four open stages (Talk, Demo, Offer, Sign) with known moves,
including a step back from Demo to Talk; the days in a stage are lognormal around a median
per stage, half that for a deal that ends lost (so fast exits are mostly losses, and
censoring matters). `world` draws deals created at a Poisson rate and walks each to won
or lost; `History` holds every change, and each function cuts it at the moment asked.
"""

from dataclasses import dataclass

import numpy as np
import pytest
from scipy import optimize, stats

from keel.forecast.transitions import (
    DAY,
    DEFAULTS,
    MIN_EXITS,
    OWN,
    STAGE,
    History,
    StageSpace,
    arrivals_at,
    laws_learn,
    open_at,
    size_bands,
    stints_at,
)

TALK, DEMO, OFFER, SIGN, WON, LOST = range(6)
MOVES = {
    TALK: {DEMO: 0.60, LOST: 0.40},
    DEMO: {OFFER: 0.65, TALK: 0.05, LOST: 0.30},
    OFFER: {SIGN: 0.75, LOST: 0.25},
    SIGN: {WON: 0.85, LOST: 0.15},
}
MEDIAN_DAYS = {TALK: 10.0, DEMO: 20.0, OFFER: 15.0, SIGN: 8.0}
LOST_PACE = 0.5  # a deal that ends lost leaves in half the time
SIGMA = 0.5


def win_chance() -> list[float]:
    """Each stage's chance to end won, solving the moves (Demo can go back to Talk)."""
    matrix = np.zeros((4, 4))
    won = np.zeros(4)
    for stage, moves in MOVES.items():
        for dest, p in moves.items():
            if dest < 4:
                matrix[stage, dest] = p
            elif dest == WON:
                won[stage] = p
    return list(np.linalg.solve(np.eye(4) - matrix, won))


SPACE = StageSpace(
    processes=("Synthetic",),
    names=("Talk", "Demo", "Offer", "Sign"),
    process=np.zeros(4, dtype=np.int64),
    probability=np.array(win_chance()),
    expected_days=np.array([MEDIAN_DAYS[s] for s in range(4)]),
)


def dwell(rng: np.random.Generator, stage: np.ndarray, dest: np.ndarray) -> np.ndarray:
    median = np.array([MEDIAN_DAYS[s] for s in range(4)])[stage]
    median = np.where(dest == LOST, median * LOST_PACE, median)
    return np.exp(np.log(median) + SIGMA * rng.standard_normal(stage.size))


@dataclass(frozen=True)
class World:
    history: History
    end: float  # seconds: the last creation


def world(
    rng: np.random.Generator,
    *,
    days: float,
    rate: float,
    start: float = 0.0,
    amount: float = 10_000.0,
) -> World:
    """Deals created at `rate` a day for `days` from `start` (seconds), each walked to the
    end; amounts lognormal around `amount`, owners 1 to 3."""
    count = rng.poisson(rate * days)
    created = np.sort(start + rng.random(count) * days * DAY)
    deal_ids = np.arange(count, dtype=np.int64)
    deals, codes, times = [deal_ids], [np.zeros(count, dtype=np.int64)], [created]
    code = np.zeros(count, dtype=np.int64)
    clock = created.copy()
    active = np.arange(count)
    won_at = np.full(count, np.nan)
    while active.size:
        stage = code[active]
        dest = np.empty(active.size, dtype=np.int64)
        roll = rng.random(active.size)
        for s, moves in MOVES.items():
            here = stage == s
            edges = np.cumsum(list(moves.values()))
            choice = np.searchsorted(edges, roll[here] * edges[-1], side="right")
            dest[here] = np.array(list(moves))[np.minimum(choice, len(moves) - 1)]
        clock[active] += dwell(rng, stage, dest) * DAY
        code[active] = dest
        deals.append(active.astype(np.int64))
        codes.append(dest)
        times.append(clock[active].copy())
        won = dest == WON
        won_at[active[won]] = clock[active[won]]
        active = active[dest < 4]
    deal = np.concatenate(deals)
    at = np.concatenate(times)
    order = np.lexsort((at, deal))
    won_code, lost_code = SPACE.won, SPACE.lost
    stage_code = np.concatenate(codes)
    stage_code = np.where(
        stage_code == WON, won_code, np.where(stage_code == LOST, lost_code, stage_code)
    )
    history = History(
        space=SPACE,
        change_deal=deal[order],
        change_code=stage_code[order],
        change_at=at[order],
        deal_id=deal_ids + 1,
        deal_process=np.zeros(count, dtype=np.int64),
        deal_owner=rng.integers(1, 4, count).astype(np.int64),
        deal_created=created,
        deal_amount=np.round(amount * np.exp(0.8 * rng.standard_normal(count)), -2),
        deal_won_at=won_at,
    )
    return World(history=history, end=start + days * DAY)


def true_dwell_quantile(stage: int, q: float) -> float:
    """The q-quantile of the days in `stage` over all its exits: a lognormal mixture."""
    parts = [
        (p, MEDIAN_DAYS[stage] * (LOST_PACE if dest == LOST else 1.0))
        for dest, p in MOVES[stage].items()
    ]

    def below(days: float) -> float:
        return sum(p * stats.lognorm.cdf(days, SIGMA, scale=m) for p, m in parts) - q

    return float(optimize.brentq(below, 1e-6, 1e4))


@pytest.fixture(scope="module")
def big_world() -> World:
    return world(np.random.default_rng(6), days=730, rate=8)


def test_learned_transition_probabilities_recover_the_truth(big_world):
    """~5,800 deals: every probability within 0.03 of the truth."""
    laws = laws_learn(stints=stints_at(big_world.history, at=big_world.end), space=SPACE)
    for stage, moves in MOVES.items():
        learned = laws.transition_probabilities(stage)
        expected = {
            (SPACE.won if d == WON else SPACE.lost if d == LOST else d): p for d, p in moves.items()
        }
        assert set(learned) == set(expected)
        for dest, p in expected.items():
            assert learned[dest] == pytest.approx(p, abs=0.03), (stage, dest)
        assert laws.source[stage] == OWN


def test_dwell_percentiles_recover_the_truth(big_world):
    """The median and the 80th percentile of the days in each stage, within 7%."""
    laws = laws_learn(stints=stints_at(big_world.history, at=big_world.end), space=SPACE)
    for stage in MOVES:
        for q in (0.5, 0.8):
            learned = laws.dwell_quantile(stage, q)
            assert learned == pytest.approx(true_dwell_quantile(stage, q), rel=0.07), (stage, q)


def merged(first: History, second: History) -> History:
    """Two worlds' deals in one history (the second's deals after the first's)."""
    offset = first.deal_id.size
    order = np.lexsort(
        (
            np.concatenate([first.change_at, second.change_at]),
            np.concatenate([first.change_deal, second.change_deal + offset]),
        )
    )
    return History(
        space=first.space,
        change_deal=np.concatenate([first.change_deal, second.change_deal + offset])[order],
        change_code=np.concatenate([first.change_code, second.change_code])[order],
        change_at=np.concatenate([first.change_at, second.change_at])[order],
        deal_id=np.arange(offset + second.deal_id.size, dtype=np.int64) + 1,
        **{
            name: np.concatenate([getattr(first, name), getattr(second, name)])
            for name in ("deal_process", "deal_owner", "deal_created", "deal_amount", "deal_won_at")
        },
    )


def test_censored_stints_count_as_still_there_not_as_dropped():
    """A year of steady deals, then a rush in the last 30 days: many are still in Demo when
    asked. Fast exits are losses, so the finished stints alone over-count losses; counting
    the open ones as still there (censored, Aalen–Johansen) recovers the truth."""
    rng = np.random.default_rng(7)
    steady = world(rng, days=365, rate=3)
    rush = world(rng, days=30, rate=100, start=steady.end - 30 * DAY)
    history = merged(steady.history, rush.history)
    stints = stints_at(history, at=steady.end)
    in_demo = stints.code == DEMO
    assert (stints.dest[in_demo] < 0).mean() > 0.3  # heavily censored
    laws = laws_learn(stints=stints, space=SPACE)
    assert laws.transition_probabilities(DEMO)[SPACE.lost] == pytest.approx(0.30, abs=0.03)
    finished = in_demo & (stints.dest >= 0)
    naive = (stints.dest[finished] == SPACE.lost).mean()
    assert naive > 0.30 + 0.06  # what dropping them would have said


def test_history_is_cut_at_the_moment_asked(big_world):
    history = big_world.history
    middle = history.change_at.min() + 365 * DAY
    stints = stints_at(history, at=middle)
    assert stints.days.max() * DAY <= middle - history.change_at.min() + 1
    current = open_at(history, at=middle)
    # Each deal open then has its latest change before the moment and a later one after.
    for deal, code in zip(current.deal[:50], current.code[:50], strict=True):
        mine = history.change_deal == deal
        before = history.change_at[mine] <= middle
        assert history.change_code[mine][before][-1] == code
        assert (~before).any()
    spent = current.elapsed  # days already in the stage: data, not a timing
    assert (spent >= 0).all()


def test_a_stage_with_too_little_history_takes_its_stage_defaults():
    few = world(np.random.default_rng(8), days=30, rate=0.5)
    laws = laws_learn(stints=stints_at(few.history, at=few.end + 365 * DAY), space=SPACE)
    sign = SIGN
    assert laws.exits[sign] < MIN_EXITS
    assert laws.source[sign] == DEFAULTS
    # Sign's default: won with its stage probability against won's 100%.
    assert laws.transition_probabilities(sign)[SPACE.won] == pytest.approx(SPACE.probability[sign])
    assert laws.dwell_quantile(sign, 0.5) == pytest.approx(MEDIAN_DAYS[sign] * np.log(2), rel=0.05)


def test_size_bands_learn_each_band_and_fall_back_to_the_stage(big_world):
    history = big_world.history
    band, bands = size_bands(history, at=big_world.end, cuts=(0.5, 0.9, 0.999))
    assert bands == 4
    shares = np.bincount(band, minlength=4) / band.size
    assert shares[:3] == pytest.approx([0.5, 0.4, 0.099], abs=0.02)
    laws = laws_learn(
        stints=stints_at(history, at=big_world.end), space=SPACE, band=band, bands=bands
    )
    assert laws.n == 16
    assert laws.source[laws.state(np.array([TALK]), np.array([0]))[0]] == OWN
    # Six or so deals in the top band: Sign there borrows the stage's law over all bands.
    top_sign = int(laws.state(np.array([SIGN]), np.array([3]))[0])
    assert laws.source[top_sign] == STAGE
    # Moves keep the band: Talk in band 2 goes on to Demo in band 2.
    assert laws.state(np.array([DEMO]), np.array([2]))[0] in laws.transition_probabilities(
        int(laws.state(np.array([TALK]), np.array([2]))[0])
    )


def test_new_deals_come_at_the_recent_creation_rate(big_world):
    history = big_world.history
    (arrivals,) = arrivals_at(history, at=big_world.end, window_days=90)
    assert arrivals.rate == pytest.approx(8, rel=0.15)
    assert list(arrivals.entry) == [TALK]
    assert history.deal_created[arrivals.deals].min() > big_world.end - 90 * DAY
