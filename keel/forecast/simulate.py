"""The bookings forecast as a Monte Carlo simulation: pure NumPy, no ORM.

Every open deal walks through the rest of its process `simulations` times; a deal books
its amount in a period when it is won at a moment inside it. How deals move comes from
transitions.py (`Laws`: per stage and size band, the joint law of where a deal goes and
after how long, learned from stage history); deals not created yet arrive per process at the recent
creation rate.

How one path is drawn, vectorised over simulations and deals together:

1. **The first move** of an open deal depends on how long it has been in its stage: its
   exit is drawn from the exits seen later than that (the weight `Laws.left_by` skips), so
   a deal that has sat in Proposal for 60 days draws from the deals that left Proposal
   after more than 60 days. With nothing seen that late, it stays put.
2. **The rest of the path** from the state it enters is one of a bank of `pool` paths
   per state, each simulated stage by stage (a loop over steps, vectorised over the
   paths; steps back to earlier stages included) and ending in won, lost, or beyond the
   horizon, taken at random. The bank is a sample of the law (16,384 paths per state:
   its probabilities are off by well under 1%); it saves walking the same steps 10^8
   times.
3. **New deals**: the deals of a process created in [0, H] form a Poisson process, and
   so (thinning) do those among them won by H: each simulation draws how many of those
   there are, then their timing from the process's paths and an amount and owner from
   its recent deals. Deals that will not book in the horizon are never drawn.

Each state's law is sampled through a table of `grid` equally likely cells (the atom at
each cell's middle quantile): every probability is kept to 1/grid (1/4096 by default). One
uniform per deal-path drives steps 1 and 2: its high bits pick the cell among those after
the days already spent, its low bits the bank path. Close times are placed in their month
to the hour. Amounts are summed as floats: a forecast is no ledger.

The simulations run in blocks of at most CHUNK deal-paths each (memory stays bounded),
each block from its own seed spawned from `seed`, on up to `workers` threads (NumPy
releases the GIL): the same seed gives the same figures on any number of threads.
"""

import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from keel.forecast.transitions import (
    RATE_DAYS,
    SIZE_CUTS,
    Arrivals,
    FloatArray,
    History,
    IntArray,
    Laws,
    arrivals_at,
    laws_learn,
    open_at,
    size_bands,
    stints_at,
)

GRID = 4096
POOL = 16_384
CANDIDATES = 65_536  # new-deal paths drawn per process to find those won in the horizon
CHUNK = 1 << 16  # deal-paths per block of simulations: its arrays stay in the CPU cache
MAX_STEPS = 200  # a bank path still moving after this many moves counts as not won
HOURS = 24.0

F32 = npt.NDArray[np.float32]
I32 = npt.NDArray[np.int32]


# --- periods ----------------------------------------------------------------------------


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


PERIOD_TEXT = re.compile(r"(?P<year>\d{4})(?:-(?P<month>\d{1,2})|-?[Qq](?P<quarter>[1-4]))?")


@dataclass(frozen=True, order=True)
class Period:
    """A calendar month, quarter or year: its first month and its length."""

    first: date
    kind: PeriodKind

    @property
    def length(self) -> int:
        return {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.YEAR: 12}[self.kind]

    @property
    def months(self) -> list[date]:
        return [month_add(self.first, i) for i in range(self.length)]

    @property
    def end(self) -> date:
        """The first day after the period."""
        return month_add(self.first, self.length)

    @property
    def code(self) -> str:
        """How it is written in a URL or on the command line: 2026-12, 2027Q1, 2027."""
        if self.kind == PeriodKind.MONTH:
            return f"{self.first:%Y-%m}"
        if self.kind == PeriodKind.QUARTER:
            return f"{self.first.year}Q{(self.first.month - 1) // 3 + 1}"
        return str(self.first.year)

    @property
    def label(self) -> str:
        if self.kind == PeriodKind.MONTH:
            return f"{self.first:%B %Y}"
        if self.kind == PeriodKind.QUARTER:
            return f"Q{(self.first.month - 1) // 3 + 1} {self.first.year}"
        return str(self.first.year)

    def shifted(self, steps: int) -> "Period":
        return Period(first=month_add(self.first, steps * self.length), kind=self.kind)


def month_add(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_parse(text: str) -> Period:
    """'2026-12', '2027Q1' or '2027' as a Period; a ValueError saying what a period is."""
    match = PERIOD_TEXT.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"A period is a month (2026-12), a quarter (2027Q1) or a year (2027), not {text!r}."
        )
    year = int(match["year"])
    if not 2000 <= year <= 2200:
        raise ValueError(f"{text!r} is not a period Keel can forecast (2000 to 2200).")
    if match["month"] is not None:
        month = int(match["month"])
        if not 1 <= month <= 12:
            raise ValueError(f"{text!r}: a month is 01 to 12.")
        return Period(first=date(year, month, 1), kind=PeriodKind.MONTH)
    if match["quarter"] is not None:
        quarter = int(match["quarter"])
        return Period(first=date(year, 3 * quarter - 2, 1), kind=PeriodKind.QUARTER)
    return Period(first=date(year, 1, 1), kind=PeriodKind.YEAR)


def period_of(day: date, kind: PeriodKind = PeriodKind.QUARTER) -> Period:
    """The month, quarter or year `day` falls in."""
    if kind == PeriodKind.MONTH:
        return Period(first=day.replace(day=1), kind=kind)
    if kind == PeriodKind.QUARTER:
        return Period(first=date(day.year, (day.month - 1) // 3 * 3 + 1, 1), kind=kind)
    return Period(first=date(day.year, 1, 1), kind=kind)


# --- distributions ----------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """A simulated figure's distribution: 10th, 50th and 90th percentiles and the mean."""

    p10: float
    p50: float
    p90: float
    mean: float

    def covers(self, actual: float) -> bool:
        return self.p10 <= actual <= self.p90


def spread(values: FloatArray) -> Spread:
    p10, p50, p90 = np.percentile(values, [10, 50, 90])
    return Spread(p10=float(p10), p50=float(p50), p90=float(p90), mean=float(values.mean()))


# --- the tables a path is drawn from ----------------------------------------------------


@dataclass(frozen=True)
class Tables:
    """Each stage's exit law as `grid` equally likely cells, one row per open stage and a
    last row (the stay row) for deals with no exit left to draw."""

    grid: int
    dest: IntArray  # the cell's destination code (space.stay: never leaves)
    days: F32  # the cell's days in the stage (inf when it never leaves)


def tables_build(laws: Laws, *, grid: int = GRID) -> Tables:
    middles = (np.arange(grid) + 0.5) / grid
    dest = np.full((laws.n + 1, grid), laws.stay, dtype=np.int64)
    days = np.full((laws.n + 1, grid), np.inf, dtype=np.float32)
    for code in range(laws.n):
        part = laws.atoms(code)
        cum = laws.cum[part]
        index = np.searchsorted(cum, middles, side="right")
        leaves = index < cum.size
        dest[code, leaves] = laws.dest[part][index[leaves]]
        days[code, leaves] = laws.days[part][index[leaves]]
    return Tables(grid=grid, dest=dest.ravel(), days=days.ravel())


def bank_build(
    laws: Laws, tables: Tables, *, horizon: float, pool: int, rng: np.random.Generator
) -> F32:
    """`pool` paths from entering each code, as the days to a win (inf: lost, stays, or
    won after `horizon`), flat by code: open stages, then won (0), lost and stay (inf)."""
    n = laws.n
    bank = np.full((n + 3, pool), np.inf, dtype=np.float32)
    bank[laws.won] = 0.0
    path = np.arange(n * pool)
    code = np.repeat(np.arange(n, dtype=np.int64), pool)
    clock = np.zeros(n * pool, dtype=np.float32)
    flat = bank.ravel()
    for _ in range(MAX_STEPS):
        if path.size == 0:
            break
        cell = (rng.random(path.size) * tables.grid).astype(np.int64)
        row = code * tables.grid + cell
        code = tables.dest[row]
        clock = clock + tables.days[row]
        won = code == laws.won
        flat[path[won]] = clock[won]
        moving = (code < n) & (clock < horizon)
        path, code, clock = path[moving], code[moving], clock[moving]
    return flat


# --- the simulation ---------------------------------------------------------------------


@dataclass(frozen=True)
class Deals:
    """The open deals to simulate: state (Laws.state), days in it, amount, owner (index)."""

    state: IntArray
    elapsed: FloatArray
    amount: FloatArray
    owner: IntArray


@dataclass(frozen=True)
class NewDeals:
    """A process's deals not created yet: `rate` a day, entering at the stages `entry`
    (codes, with their shares), each like one of the recent deals given by amount,
    owner (index) and size band."""

    rate: float
    entry: IntArray
    entry_share: FloatArray
    amount: FloatArray
    owner: IntArray
    band: IntArray


def hour_bins(edges: FloatArray) -> I32:
    """Bin of every hour from 0 to the horizon (`edges` in days; the last bin: beyond)."""
    hours = int(np.ceil(edges[-1] * HOURS)) + 1
    middles = (np.arange(hours) + 0.5) / HOURS
    bins = np.searchsorted(edges, middles, side="right") - 1
    bins[middles >= edges[-1]] = edges.size - 1
    return np.append(bins, edges.size - 1).astype(np.int32)


@dataclass(frozen=True)
class _Plan:
    """Everything the blocks of simulations share, prepared once."""

    owners: int
    nbins: int
    hour_bin: I32
    cap: float  # hours: anything later falls in the last bin
    # open deals
    lower: FloatArray
    width: FloatArray
    row: I32
    elapsed: F32
    amount: FloatArray
    owner: I32
    # Each table cell as one 64-bit word, to read both halves with one gather: its
    # destination × pool (an offset into the bank) above, its days' float32 bits below.
    cell: npt.NDArray[np.int64]
    bank: F32
    pool: int
    grid: int
    per_block: int
    keys: I32  # (per_block, deals): each deal-path's first key, simulation and owner
    weights: FloatArray  # (per_block × deals): the amounts, for bincount
    # new deals won in the horizon, per process: their mean count, and candidates drawn
    # from the process's paths (close days, amount, owner)
    arrivals: tuple[tuple[float, F32, FloatArray, IntArray], ...]


def simulate(
    *,
    laws: Laws,
    deals: Deals,
    new: Sequence[NewDeals] = (),
    edges: FloatArray,
    owners: int,
    simulations: int = 10_000,
    seed: int = 0,
    grid: int = GRID,
    pool: int = POOL,
    workers: int | None = None,
) -> FloatArray:
    """Bookings per simulation, owner and bin: an array (simulations, owners, bins + 1).

    `edges` are the bins' bounds in days from now (increasing, the first 0, the last the
    horizon); bin b holds wins at a time in [edges[b], edges[b + 1]), the last bin the wins
    after the horizon, which are not simulated further and so are not all counted there.
    """
    if simulations < 1:
        raise ValueError("At least one simulation.")
    if pool & (pool - 1) or grid * pool >= 2**31:
        raise ValueError("The bank's size is a power of two, and grid × pool below 2^31.")
    setup_seed, blocks_seed = np.random.SeedSequence(seed).spawn(2)
    horizon = float(edges[-1])
    tables = tables_build(laws, grid=grid)
    setup = np.random.default_rng(setup_seed)
    bank = bank_build(laws, tables, horizon=horizon, pool=pool, rng=setup)
    per_block = min(simulations, max(1, CHUNK // max(1, deals.state.size)))
    plan = _plan(laws, tables, bank, deals, new, edges, owners, setup, pool, per_block)
    starts = list(range(0, simulations, per_block))
    children = blocks_seed.spawn(len(starts))
    totals = np.zeros((simulations, owners, plan.nbins), dtype=np.float64)

    def block(index: int) -> None:
        first = starts[index]
        last = min(simulations, first + per_block)
        rng = np.random.default_rng(children[index])
        totals[first:last] = _block(plan, last - first, rng)

    threads = workers or min(4, os.cpu_count() or 1)
    if threads == 1 or len(starts) == 1:
        for index in range(len(starts)):
            block(index)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool_:
            list(pool_.map(block, range(len(starts))))
    return totals


def _plan(
    laws: Laws,
    tables: Tables,
    bank: F32,
    deals: Deals,
    new: Sequence[NewDeals],
    edges: FloatArray,
    owners: int,
    rng: np.random.Generator,
    pool: int,
    per_block: int,
) -> _Plan:
    horizon = float(edges[-1])
    lower = laws.left_by(deals.state, deals.elapsed)
    # Keep a hair below 1 so that a draw never lands past the last cell.
    width = (1.0 - lower) * (1.0 - 2.0**-40)
    done = width <= 1e-12
    row = np.where(done, laws.n, deals.state).astype(np.int32) * tables.grid
    lower = np.where(done, 0.0, lower)
    width = np.where(done, 1.0 - 2.0**-40, width)
    hour_bin = hour_bins(edges)
    won_new: list[tuple[float, F32, FloatArray, IntArray]] = []
    for spec in new:
        if spec.amount.size == 0 or spec.entry.size == 0:
            continue
        created = rng.random(CANDIDATES) * horizon
        share = np.cumsum(spec.entry_share)
        entry = spec.entry[
            np.searchsorted(share, rng.random(CANDIDATES) * share[-1]).clip(0, spec.entry.size - 1)
        ]
        like = rng.integers(0, spec.amount.size, CANDIDATES)
        state = entry * laws.bands + spec.band[like]
        closes = created + bank[state * pool + rng.integers(0, pool, CANDIDATES)]
        kept = closes < horizon
        if kept.any():
            mean = spec.rate * horizon * kept.sum() / CANDIDATES
            won_new.append(
                (
                    mean,
                    closes[kept].astype(np.float32),
                    spec.amount[like[kept]],
                    spec.owner[like[kept]],
                )
            )
    return _Plan(
        owners=owners,
        nbins=edges.size,
        hour_bin=hour_bin,
        cap=float(hour_bin.size - 1),
        lower=lower,
        width=width,
        row=row,
        elapsed=deals.elapsed.astype(np.float32),
        amount=deals.amount,
        owner=deals.owner.astype(np.int32),
        cell=(
            ((tables.dest * pool).astype(np.uint64) << np.uint64(32))
            | tables.days.view(np.uint32).astype(np.uint64)
        ).view(np.int64),
        bank=bank,
        pool=pool,
        grid=tables.grid,
        per_block=per_block,
        keys=(
            np.arange(per_block, dtype=np.int32)[:, None] * np.int32(owners * edges.size)
            + (deals.owner * edges.size).astype(np.int32)
        ),
        weights=np.tile(deals.amount, per_block),
        arrivals=tuple(won_new),
    )


def _bins(plan: _Plan, close: F32) -> I32:
    """The bin of each close time (days), through the hour table; overwrites `close`."""
    close *= np.float32(HOURS)
    np.minimum(close, np.float32(plan.cap), out=close)
    found: I32 = plan.hour_bin[close.astype(np.int32)]
    return found


def _block(plan: _Plan, count: int, rng: np.random.Generator) -> FloatArray:
    """`count` simulations: bookings per simulation, owner and bin."""
    size = count * plan.owners * plan.nbins
    sums = np.zeros(size, dtype=np.float64)
    deals = plan.row.size
    if deals:
        # One uniform per deal-path: its high bits pick the table cell (the first exit,
        # among those after the days already spent), its low bits the bank path (any
        # bank path is an independent draw, so any of them will do).
        x = rng.random((count, deals))
        x *= plan.width
        x += plan.lower
        x *= plan.grid * plan.pool
        drawn = x.astype(np.int32)
        cell = drawn >> (plan.pool.bit_length() - 1)
        cell += plan.row
        drawn &= plan.pool - 1
        both = plan.cell[cell]
        drawn += (both >> 32).astype(np.int32)
        days = both.astype(np.uint32).view(np.float32)
        days -= plan.elapsed
        np.maximum(days, 0, out=days)  # a cell straddling the time already spent
        days += plan.bank[drawn]
        key = _bins(plan, days)
        key += plan.keys[:count]
        sums += np.bincount(key.ravel(), weights=plan.weights[: count * deals], minlength=size)
    for mean, closes, amounts, owners in plan.arrivals:
        won = rng.poisson(mean, size=count)
        total = int(won.sum())
        if total == 0:
            continue
        simulation = np.repeat(np.arange(count, dtype=np.int32), won)
        pick = rng.integers(0, closes.size, size=total)
        key = _bins(plan, closes[pick])
        key += simulation * (plan.owners * plan.nbins) + owners[pick].astype(np.int32) * plan.nbins
        sums += np.bincount(key, weights=amounts[pick], minlength=size)
    return sums.reshape(count, plan.owners, plan.nbins)


# --- a forecast as of a moment ----------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """A simulation as of one moment: what was learned and the bookings it drew."""

    laws: Laws
    arrivals: list[Arrivals]
    owners: IntArray  # the user id of each owner index of `totals`
    totals: FloatArray  # (simulations, owners, bins + 1), as `simulate` returns
    open_deals: int  # simulated: open at the moment, with an amount that books


def forecast_run(
    history: History,
    *,
    at: float,
    edges: FloatArray,
    simulations: int = 10_000,
    seed: int = 0,
    window_days: int = RATE_DAYS,
    cuts: Sequence[float] = SIZE_CUTS,
    workers: int | None = None,
) -> Run:
    """Learn from what `history` knew at `at` (seconds since the epoch) and simulate the
    bookings of the bins `edges` (days from `at`)."""
    band, bands = size_bands(history, at=at, cuts=cuts)
    laws = laws_learn(stints=stints_at(history, at=at), space=history.space, band=band, bands=bands)
    current = open_at(history, at=at)
    amount = history.deal_amount[current.deal]
    books = amount > 0  # a deal without an amount in the currency books nothing
    simulated = current.deal[books]
    arrivals = arrivals_at(history, at=at, window_days=window_days)
    owners = np.unique(
        np.concatenate(
            [history.deal_owner[simulated], *[history.deal_owner[a.deals] for a in arrivals]]
        )
    )

    def owner(deals: IntArray) -> IntArray:
        return np.searchsorted(owners, history.deal_owner[deals]).astype(np.int64)

    totals = simulate(
        laws=laws,
        deals=Deals(
            state=laws.state(current.code[books], band[simulated]),
            elapsed=current.elapsed[books],
            amount=amount[books],
            owner=owner(simulated),
        ),
        new=[
            NewDeals(
                rate=a.rate,
                entry=a.entry,
                entry_share=a.entry_share,
                amount=history.deal_amount[a.deals],
                owner=owner(a.deals),
                band=band[a.deals],
            )
            for a in arrivals
        ],
        edges=edges,
        owners=max(1, owners.size),
        simulations=simulations,
        seed=seed,
        workers=workers,
    )
    return Run(
        laws=laws, arrivals=arrivals, owners=owners, totals=totals, open_deals=int(books.sum())
    )
