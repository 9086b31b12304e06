"""The simulation: periods, cases whose answer is known exactly, reproducibility, new
deals, and the P10–P90 interval's coverage across 200 synthetic worlds."""

from datetime import date

import numpy as np
import pytest
from scipy import stats

from bench.forecast import OWNERS, month_edges, open_deals, simulate_loop, synthetic_laws
from keel.forecast.simulate import (
    Deals,
    NewDeals,
    Period,
    PeriodKind,
    forecast_run,
    period_of,
    period_parse,
    simulate,
    spread,
)
from keel.forecast.tests.test_transitions import world
from keel.forecast.transitions import DAY, Laws, StageSpace, Stints, laws_learn

# --- periods ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "first", "kind", "code", "label"),
    [
        ("2026-12", date(2026, 12, 1), PeriodKind.MONTH, "2026-12", "December 2026"),
        ("2027-3", date(2027, 3, 1), PeriodKind.MONTH, "2027-03", "March 2027"),
        ("2027Q1", date(2027, 1, 1), PeriodKind.QUARTER, "2027Q1", "Q1 2027"),
        (" 2027-q4 ", date(2027, 10, 1), PeriodKind.QUARTER, "2027Q4", "Q4 2027"),
        ("2027", date(2027, 1, 1), PeriodKind.YEAR, "2027", "2027"),
    ],
)
def test_periods_are_read_as_written(text, first, kind, code, label):
    period = period_parse(text)
    assert (period.first, period.kind, period.code, period.label) == (first, kind, code, label)
    assert period_parse(period.code) == period


@pytest.mark.parametrize("text", ["", "Q1", "2027Q5", "2027-13", "2027-00", "1999", "27Q1", "x"])
def test_a_bad_period_says_what_a_period_is(text):
    with pytest.raises(ValueError, match=r"period|month"):
        period_parse(text)


def test_a_period_knows_its_months_and_neighbours():
    quarter = period_parse("2026Q4")
    assert quarter.months == [date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)]
    assert quarter.end == date(2027, 1, 1)
    assert quarter.shifted(1).code == "2027Q1"
    assert quarter.shifted(-4).code == "2025Q4"
    assert period_parse("2026-12").shifted(1).code == "2027-01"
    assert len(period_parse("2027").months) == 12
    assert period_of(date(2026, 11, 24)) == quarter
    assert period_of(date(2026, 11, 24), PeriodKind.MONTH) == Period(
        first=date(2026, 11, 1), kind=PeriodKind.MONTH
    )
    assert period_of(date(2026, 11, 24), PeriodKind.YEAR).code == "2026"


# --- cases with a known answer --------------------------------------------------------


def space(stages: int) -> StageSpace:
    return StageSpace(
        processes=("Test",),
        names=tuple(f"S{i}" for i in range(stages)),
        process=np.zeros(stages, dtype=np.int64),
        probability=np.full(stages, 0.5),
        expected_days=np.full(stages, 10.0),
    )


def laws_from(stages: int, rows: list[tuple[int, float, int, int]]) -> Laws:
    """Laws from (stage, days, destination, how many) stints; destination -1: censored,
    -2 won, -3 lost."""
    where = space(stages)
    named = {-2: where.won, -3: where.lost}
    code, days, dest = [], [], []
    for stage, length, to, count in rows:
        code += [stage] * count
        days += [length] * count
        dest += [named.get(to, to)] * count
    return laws_learn(
        stints=Stints(
            deal=np.zeros(len(code), dtype=np.int64),
            code=np.array(code, dtype=np.int64),
            days=np.array(days, dtype=np.float64),
            dest=np.array(dest, dtype=np.int64),
        ),
        space=where,
    )


def deals(state, elapsed, amount, owner) -> Deals:
    return Deals(
        state=np.array(state, dtype=np.int64),
        elapsed=np.array(elapsed, dtype=np.float64),
        amount=np.array(amount, dtype=np.float64),
        owner=np.array(owner, dtype=np.int64),
    )


WON, LOST, CENSORED = -2, -3, -1


def test_half_of_the_deals_win_on_day_ten():
    """1,000 deals of 1 that are won (or lost) 10 days on, half and half: the bookings of
    days 5–30 are Binomial(1000, 0.5), those of days 0–5 nothing."""
    laws = laws_from(1, [(0, 10.0, WON, 100), (0, 10.0, LOST, 100)])
    totals = simulate(
        laws=laws,
        deals=deals([0] * 1000, [0.0] * 1000, [1.0] * 1000, [0] * 1000),
        edges=np.array([0.0, 5.0, 30.0]),
        owners=1,
        simulations=10_000,
        seed=1,
    )
    assert totals.shape == (10_000, 1, 3)
    assert (totals[:, 0, 0] == 0).all()
    booked = spread(totals[:, 0, 1])
    truth = stats.binom(1000, 0.5)
    assert booked.mean == pytest.approx(500, abs=1)
    assert booked.p10 == pytest.approx(truth.ppf(0.1), abs=2)
    assert booked.p90 == pytest.approx(truth.ppf(0.9), abs=2)


def test_the_days_already_spent_decide_which_exits_are_left():
    """Exits: won on day 5, lost on day 20, half and half. Fresh: won on day 5 half the
    time. 3 days in: won 2 days on half the time. 10 days in: only the loss is left. 25
    days in, beyond every exit seen: it stays, and books nothing."""
    laws = laws_from(1, [(0, 5.0, WON, 100), (0, 20.0, LOST, 100)])
    totals = simulate(
        laws=laws,
        deals=deals([0, 0, 0, 0], [0.0, 3.0, 10.0, 25.0], [1.0] * 4, [0, 1, 2, 3]),
        edges=np.array([0.0, 4.0, 6.0, 60.0]),
        owners=4,
        simulations=10_000,
        seed=2,
    )
    # The last bin holds everything not booked by day 60 (lost, staying): left out.
    fresh, three, ten, late = (totals[:, owner, :-1].mean(axis=0) for owner in range(4))
    assert fresh == pytest.approx([0, 0.5, 0], abs=0.02)
    assert three == pytest.approx([0.5, 0, 0], abs=0.02)
    assert ten.sum() == 0
    assert late.sum() == 0


def test_deals_never_seen_to_leave_stay():
    """Half won on day 5, half still there after 100 days (censored): a fresh deal wins
    half the time, one 50 days in has only the never-leaving half left."""
    laws = laws_from(1, [(0, 5.0, WON, 20), (0, 100.0, CENSORED, 20)])
    assert laws.tail[0] == pytest.approx(0.5)
    totals = simulate(
        laws=laws,
        deals=deals([0, 0], [0.0, 50.0], [1.0, 1.0], [0, 1]),
        edges=np.array([0.0, 365.0]),
        owners=2,
        simulations=4_000,
        seed=3,
    )
    assert totals[:, 0, 0].mean() == pytest.approx(0.5, abs=0.03)
    assert totals[:, 1, 0].sum() == 0


def test_a_path_goes_through_every_stage_left():
    """S0 → S1 after 10 days, S1 → won after 10 more: a fresh deal in S0 is won on day 20."""
    laws = laws_from(2, [(0, 10.0, 1, 50), (1, 10.0, WON, 50)])
    totals = simulate(
        laws=laws,
        deals=deals([0, 1], [0.0, 4.0], [1.0, 2.0], [0, 0]),
        edges=np.array([0.0, 5.5, 6.5, 19.5, 20.5, 40.0]),
        owners=1,
        simulations=500,
        seed=4,
    )
    assert (totals[:, 0, :] == [0, 2, 0, 1, 0, 0]).all()


def test_the_same_seed_gives_the_same_figures_on_any_number_of_threads():
    laws = laws_from(2, [(0, 3.0, 1, 30), (0, 8.0, LOST, 30), (1, 4.0, WON, 40)])
    rng = np.random.default_rng(5)
    many = deals(rng.integers(0, 2, 3000), rng.random(3000) * 5, rng.random(3000), [0] * 3000)
    common = {"laws": laws, "deals": many, "edges": np.array([0.0, 10.0]), "owners": 1}
    one = simulate(**common, simulations=500, seed=9, workers=1)
    two = simulate(**common, simulations=500, seed=9, workers=2)
    assert np.array_equal(one, two)
    assert not np.array_equal(one, simulate(**common, simulations=500, seed=10, workers=2))


def test_new_deals_arrive_at_their_rate_and_book_when_won_in_time():
    """2 deals a day, each won a day after it is created: 2 × 30 × 29/30 = 58 wins in 30
    days, Poisson (mean = variance)."""
    laws = laws_from(1, [(0, 1.0, WON, 50)])
    new = NewDeals(
        rate=2.0,
        entry=np.array([0]),
        entry_share=np.array([1.0]),
        amount=np.ones(10),
        owner=np.zeros(10, dtype=np.int64),
        band=np.zeros(10, dtype=np.int64),
    )
    totals = simulate(
        laws=laws,
        deals=deals([], [], [], []),
        new=[new],
        edges=np.array([0.0, 30.0]),
        owners=1,
        simulations=10_000,
        seed=6,
    )
    booked = totals[:, 0, 0]
    assert booked.mean() == pytest.approx(58, abs=0.5)
    assert booked.var() == pytest.approx(58, rel=0.1)


def test_the_vectorised_simulation_draws_what_the_plain_loop_draws():
    """bench.forecast's loop is the same simulation: same distribution of bookings."""
    rng = np.random.default_rng(7)
    laws, cuts = synthetic_laws(rng, deals=20_000)
    few = open_deals(rng, laws, cuts, 200)
    common = {"laws": laws, "deals": few, "edges": month_edges(), "owners": OWNERS}
    vectorised = simulate(**common, simulations=2000, seed=1)[:, :, :-1].sum(axis=(1, 2))
    looped = np.array(
        [
            sum(sum(owner[:-1]) for owner in s)
            for s in simulate_loop(**common, simulations=2000, seed=2)
        ]
    )
    error = np.sqrt(vectorised.var() / 2000 + looped.var() / 2000)
    assert abs(vectorised.mean() - looped.mean()) < 4 * error
    assert np.percentile(vectorised, 10) == pytest.approx(np.percentile(looped, 10), rel=0.05)
    assert np.percentile(vectorised, 90) == pytest.approx(np.percentile(looped, 90), rel=0.05)


# --- coverage ---------------------------------------------------------------------------


def test_p10_to_p90_covers_the_truth_about_8_times_in_10():
    """200 synthetic worlds (fixed seeds): each learns from its first year and forecasts
    the next 90 days' bookings, open deals and new ones; the world's own next 90 days
    fall inside P10–P90 in 70% to 90% of them (nominal 80%)."""
    inside = 0
    worlds = 200
    for i in range(worlds):
        synthetic = world(np.random.default_rng(1000 + i), days=365 + 90, rate=1.5)
        history = synthetic.history
        at = 365 * DAY
        run = forecast_run(
            history, at=at, edges=np.array([0.0, 90.0]), simulations=1000, seed=i, window_days=90
        )
        won = (history.deal_won_at > at) & (history.deal_won_at <= at + 90 * DAY)
        actual = history.deal_amount[won].sum()
        inside += spread(run.totals[:, :, 0].sum(axis=1)).covers(actual)
    assert 0.7 <= inside / worlds <= 0.9, f"covered in {inside} of {worlds} worlds"
