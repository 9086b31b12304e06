"""Forecast simulation time: 10,000 simulations over 10,000 open deals, vectorised, next to
the same simulation as a plain Python loop over 1/100 of the work.

    python -m bench.forecast [--simulations N] [--deals D] [--runs R] [--workers W]

No database: the inputs are synthetic at the size issue 6 names (the demo's open deals
are fewer). A six-stage process like the demo's New business (the chance to advance from
each stage, lognormal days around each stage's expected days, faster when lost, a step
back now and then) gives 60,000 synthetic deal histories; keel.forecast.transitions
learns its laws from them in four size bands, exactly as from real stage history. The D
open deals sit in random stages, for random days already spent, with lognormal amounts
and 25 owners; bins are the next 12 months.

Timed: `simulate` (keel.forecast.simulate) end to end, its tables and path bank
included, R runs after a warm-up, the median reported. The baseline, in the same run:
the same draws for 1/100 of the simulations (first exit from the deal's stage given the
days it has spent, then the rest of its path from the bank, its month, the sums per
owner) written as a Python loop per simulation per deal, with the tables already built;
its time × 100 is set against the vectorised one. Issue 6's target: at most 2 s for
10,000 × 10,000.
"""

import argparse
import os
import random
import statistics
import time

import numpy as np

from keel.forecast.simulate import (
    GRID,
    HOURS,
    POOL,
    Deals,
    bank_build,
    hour_bins,
    simulate,
    tables_build,
)
from keel.forecast.transitions import (
    DAY,
    FloatArray,
    History,
    Laws,
    StageSpace,
    laws_learn,
    size_bands,
    stints_at,
)

TARGET_S = 2.0
SCALE = 100
ADVANCE = (0.67, 0.72, 0.76, 0.81, 0.80, 0.88)  # to the next stage (won after the last)
BACK = 0.03  # a step back to the stage before
DAYS = (14.0, 21.0, 21.0, 14.0, 14.0, 14.0)
OWNERS = 25
MONTH_DAYS = 30.44


def synthetic_laws(rng: np.random.Generator, *, deals: int = 60_000) -> tuple[Laws, FloatArray]:
    """Laws learned from `deals` synthetic histories, and each size band's cut points."""
    stages = len(ADVANCE)
    space = StageSpace(
        processes=("Bench",),
        names=tuple(f"Stage {i + 1}" for i in range(stages)),
        process=np.zeros(stages, dtype=np.int64),
        probability=np.cumprod(ADVANCE[::-1])[::-1].copy(),
        expected_days=np.array(DAYS),
    )
    created = np.sort(rng.random(deals) * 730 * DAY)
    code = np.zeros(deals, dtype=np.int64)
    clock = created.copy()
    changes = [(np.arange(deals), code.copy(), clock.copy())]
    active = np.arange(deals)
    while active.size:
        here = code[active]
        roll = rng.random(active.size)
        advance = np.array(ADVANCE)[here]
        back = (roll > advance) & (roll < advance + BACK) & (here > 0)
        dest = np.where(roll < advance, here + 1, np.where(back, here - 1, space.lost))
        dest = np.where(dest == stages, space.won, dest)
        median = np.array(DAYS)[here] * np.where(dest == space.lost, 0.5, 1.0)
        clock[active] += np.exp(np.log(median) + 0.5 * rng.standard_normal(active.size)) * DAY
        code[active] = dest
        changes.append((active, dest.copy(), clock[active].copy()))
        active = active[dest < stages]
    deal = np.concatenate([c[0] for c in changes])
    at = np.concatenate([c[2] for c in changes])
    order = np.lexsort((at, deal))
    history = History(
        space=space,
        change_deal=deal[order],
        change_code=np.concatenate([c[1] for c in changes])[order],
        change_at=at[order],
        deal_id=np.arange(deals, dtype=np.int64) + 1,
        deal_process=np.zeros(deals, dtype=np.int64),
        deal_owner=rng.integers(0, OWNERS, deals).astype(np.int64),
        deal_created=created,
        deal_amount=np.round(20_000 * np.exp(0.9 * rng.standard_normal(deals)), -2),
        deal_won_at=np.full(deals, np.nan),
    )
    now = float(created[-1])
    band, bands = size_bands(history, at=now)
    laws = laws_learn(stints=stints_at(history, at=now), space=space, band=band, bands=bands)
    cuts = np.asarray(np.quantile(history.deal_amount, (0.5, 0.9, 0.98)), dtype=np.float64)
    return laws, cuts


def open_deals(rng: np.random.Generator, laws: Laws, cuts: FloatArray, count: int) -> Deals:
    amount = np.round(20_000 * np.exp(0.9 * rng.standard_normal(count)), -2)
    code = rng.integers(0, laws.space.n, count)
    band = np.searchsorted(cuts, amount, side="right")
    return Deals(
        state=laws.state(code, band),
        elapsed=rng.exponential(12.0, count),
        amount=amount,
        owner=rng.integers(0, OWNERS, count).astype(np.int64),
    )


def month_edges() -> FloatArray:
    return np.arange(13, dtype=np.float64) * MONTH_DAYS


def simulate_loop(
    *, laws: Laws, deals: Deals, edges: FloatArray, owners: int, simulations: int, seed: int
) -> list[list[list[float]]]:
    """The same simulation, a Python loop per simulation per deal, from the same tables."""
    tables = tables_build(laws, grid=GRID)
    horizon = float(edges[-1])
    bank = bank_build(laws, tables, horizon=horizon, pool=POOL, rng=np.random.default_rng(seed))
    lower_all = laws.left_by(deals.state, deals.elapsed)
    dest = (tables.dest * POOL).tolist()
    days = tables.days.tolist()
    bank_days = bank.tolist()
    bins = hour_bins(edges).tolist()
    cap = len(bins) - 1
    grid = tables.grid
    lower, width, row = [], [], []
    for state, left in zip(deals.state.tolist(), lower_all.tolist(), strict=True):
        done = 1.0 - left <= 1e-12  # nothing left to draw: the stay row
        lower.append(0.0 if done else left)
        width.append((1.0 if done else 1.0 - left) * (1.0 - 2.0**-40))
        row.append((laws.n if done else state) * grid)
    elapsed = deals.elapsed.tolist()
    amount = deals.amount.tolist()
    owner = deals.owner.tolist()
    draw = random.Random(seed)
    totals = [[[0.0] * (edges.size) for _ in range(owners)] for _ in range(simulations)]
    for simulation in range(simulations):
        sums = totals[simulation]
        for d in range(len(amount)):
            cell = row[d] + int((lower[d] + draw.random() * width[d]) * grid)
            spent = max(days[cell] - elapsed[d], 0.0)
            close = spent + bank_days[dest[cell] + draw.randrange(POOL)]
            hour = cap if close * HOURS >= cap else int(close * HOURS)
            sums[owner[d]][bins[hour]] += amount[d]
    return totals


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.forecast", description=__doc__)
    parser.add_argument("--simulations", type=int, default=10_000)
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="Threads (default: CPUs, ≤4).")
    args, _ = parser.parse_known_args(argv)
    rng = np.random.default_rng(6)
    started = time.perf_counter()
    laws, cuts = synthetic_laws(rng)
    deals = open_deals(rng, laws, cuts, args.deals)
    edges = month_edges()
    print(
        f"Forecast simulation: {args.simulations:,} simulations × {args.deals:,} open deals, "
        f"{laws.n} states, 12 months (inputs built in {time.perf_counter() - started:.1f} s)"
    )
    warm = max(1, args.simulations // 10)
    simulate(laws=laws, deals=deals, edges=edges, owners=OWNERS, simulations=warm)
    times, cpu = [], []
    for run in range(args.runs):
        started, used = time.perf_counter(), time.process_time()
        totals = simulate(
            laws=laws,
            deals=deals,
            edges=edges,
            owners=OWNERS,
            simulations=args.simulations,
            seed=run,
            workers=args.workers,
        )
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
    vectorised = statistics.median(times)
    loop_sims = max(1, args.simulations // SCALE)
    started = time.perf_counter()
    looped = simulate_loop(
        laws=laws, deals=deals, edges=edges, owners=OWNERS, simulations=loop_sims, seed=0
    )
    loop_time = time.perf_counter() - started
    scaled = loop_time * args.simulations / loop_sims
    company = totals[:, :, :-1].sum(axis=(1, 2))
    loop_company = [sum(sum(owner[:-1]) for owner in s) for s in looped]
    verdict = "OK" if vectorised <= TARGET_S else "MISSED"
    threads = args.workers or min(4, os.cpu_count() or 1)
    print(
        f"  vectorised   median {vectorised:6.2f} s over {args.runs} runs "
        f"({vectorised / (args.simulations * args.deals) * 1e9:.1f} ns per deal-path, "
        f"CPU {statistics.median(cpu):.2f} s on {threads} threads)  "
        f"target ≤ {TARGET_S:.0f} s: {verdict}"
    )
    print(
        f"  Python loop  {loop_time:6.2f} s for {loop_sims:,} × {args.deals:,} "
        f"(× {args.simulations // loop_sims} = {scaled:,.0f} s)"
    )
    print(f"  ratio        {scaled / vectorised:,.0f}× faster vectorised")
    print(
        f"  same figures: 12-month bookings mean {company.mean():,.0f} vectorised, "
        f"{statistics.fmean(loop_company):,.0f} looped"
    )


if __name__ == "__main__":
    main()
