"""How deals move: transition probabilities and dwell times learned from stage history.

Pure NumPy, no ORM: forecast_selectors.history_load reads the rows into a `History`, and
everything here works on its arrays as of any moment, so the backtest can ask what was
known on a past date.

Stages. Every open stage of every sales process has a code 0..n-1 (`StageSpace`, in process
order, then position); won and lost are the codes n and n+1 whatever the process. A stage
of an older version of a process is matched to the process's newest version **by name**
(case and surrounding spaces ignored); an open stage whose name the newest version lacks
takes the open stage at its place among the open stages (the last one if beyond); won and
lost stages match by kind.

Stints. A stint is a deal's time in an open stage: from the change that entered it to the
change that left it, with its destination (a later or an earlier open stage, won, lost),
or, for a deal still in it at the moment asked, censored there: "not left after this long".

Laws. Per state, the stints give the Aalen–Johansen estimate of the joint law of
(destination, time to leave): the Kaplan–Meier jumps at each exit, each carrying its
destination. Censored stints are not dropped (which would make stages look faster than
they are) nor counted as exits: they stay in the risk set until their time, so the
estimate is right even when slow exits end differently from fast ones. What is left
after the longest exit seen (the tail) is the share of deals never seen to leave. A deal
already in a stage for `t` days draws its exit from the exits later than `t`, in
proportion to their weight (simulate.py).

States. Large deals move differently (slower, lost more often: on the large demo,
ignoring it over-forecasts bookings by a fifth), so a state is an open stage and a size
band: the process's amounts cut at SIZE_CUTS (the median, the 90th and the 98th
percentile). A deal keeps its band along its path. A state with fewer than MIN_EXITS
exits takes its stage's law over every band; a stage with fewer than that, its stage
defaults: left after about its expected days (exponential, 14 days without one) for the
next stage, with the chance that keeps the process's stage probabilities (probability
here ÷ probability next), else lost.

New deals. Per process, deals keep being created at the rate of the last `window_days`
(Poisson), enter at the stages recent deals entered at, and take an amount and an owner
drawn together from a recent deal of the process.

Times are in days (float) from the moment asked; instants in seconds since the epoch.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

DAY = 86_400.0
MIN_EXITS = 10  # fewer exits seen from a stage than this: its stage defaults
DEFAULT_DAYS = 14.0  # a stage's expected days when its process gives none
FALLBACK_ATOMS = 32  # the exponential dwell of a stage default, as equal-weight quantiles
RATE_DAYS = 90  # new deals: the creation rate of this many days before the moment asked
# Size bands: large deals move differently (slower, lost more often), so each stage's law
# is learned per band of amounts, cut at these quantiles of the process's amounts.
SIZE_CUTS = (0.5, 0.9, 0.98)


@dataclass(frozen=True)
class StageSpace:
    """The open stages of every process with a code each; won and lost after them."""

    processes: tuple[str, ...]
    names: tuple[str, ...]  # by open-stage code
    process: IntArray  # each open stage's process (index into `processes`)
    probability: FloatArray  # the stage's win probability, 0 to 1
    expected_days: FloatArray  # NaN when the process gives none

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def won(self) -> int:
        return self.n

    @property
    def lost(self) -> int:
        return self.n + 1

    @property
    def stay(self) -> int:
        """Not a stage: a deal that stays where it is for as long as the simulation runs."""
        return self.n + 2

    def next_code(self, code: int) -> int:
        """The next open stage of the same process, or won after its last."""
        if code + 1 < self.n and self.process[code + 1] == self.process[code]:
            return code + 1
        return self.won

    def first_code(self, process: int) -> int:
        codes = np.flatnonzero(self.process == process)
        return int(codes[0]) if codes.size else self.lost

    def label(self, code: int) -> str:
        if code == self.won:
            return "won"
        if code == self.lost:
            return "lost"
        if code == self.stay:
            return "stays"
        return f"{self.processes[int(self.process[code])]} · {self.names[code]}"


@dataclass(frozen=True)
class History:
    """Every stage change and deal, as arrays; read by forecast_selectors.history_load.

    Changes are ordered by deal, then time; `change_deal` indexes the deal arrays. A deal's
    amount is what it books if won: its amount in the business's currency, 0 without one or
    in another currency (the scorecard's bookings leave those out too). Owners are user ids.
    """

    space: StageSpace
    change_deal: IntArray
    change_code: IntArray
    change_at: FloatArray  # seconds since the epoch
    deal_id: IntArray
    deal_process: IntArray
    deal_owner: IntArray
    deal_created: FloatArray  # seconds since the epoch
    deal_amount: FloatArray
    deal_won_at: FloatArray  # seconds since the epoch; NaN unless won


@dataclass(frozen=True)
class Stints:
    deal: IntArray  # index into History's deal arrays
    code: IntArray  # the open stage
    days: FloatArray  # how long: to the exit, or to the moment asked if censored
    dest: IntArray  # where it went; -1 while censored


@dataclass(frozen=True)
class OpenDeals:
    """The deals open at a moment: which (index into History's deal arrays), where, since."""

    deal: IntArray
    code: IntArray
    elapsed: FloatArray  # days in the current stage at the moment


def _known(history: History, at: float) -> tuple[IntArray, IntArray, FloatArray]:
    """The changes made by `at`, less those that stay in the same stage (e.g. a stage
    renamed into another of the same name by a new version): a stint goes on through them."""
    known = history.change_at <= at
    deal = history.change_deal[known]
    code = history.change_code[known]
    when = history.change_at[known]
    same = np.zeros(deal.size, dtype=bool)
    same[1:] = (deal[1:] == deal[:-1]) & (code[1:] == code[:-1])
    keep = ~same
    return deal[keep], code[keep], when[keep]


def stints_at(history: History, *, at: float) -> Stints:
    """Every stint in an open stage known at `at`: finished ones with their destination,
    the current ones of the deals open at `at` censored there."""
    deal, code, when = _known(history, at)
    is_open = code < history.space.n
    same_next = np.zeros(deal.size, dtype=bool)
    same_next[:-1] = deal[1:] == deal[:-1]
    finished = np.flatnonzero(same_next & is_open)
    current = np.flatnonzero(~same_next & is_open)
    return Stints(
        deal=np.concatenate([deal[finished], deal[current]]),
        code=np.concatenate([code[finished], code[current]]),
        days=np.concatenate([when[finished + 1] - when[finished], at - when[current]]) / DAY,
        dest=np.concatenate([code[finished + 1], np.full(current.size, -1, dtype=np.int64)]),
    )


def open_at(history: History, *, at: float) -> OpenDeals:
    """The deals open at `at` as their stage history tells: the stage each was in then."""
    deal, code, when = _known(history, at)
    last = np.ones(deal.size, dtype=bool)
    last[:-1] = deal[1:] != deal[:-1]
    current = np.flatnonzero(last & (code < history.space.n))
    return OpenDeals(deal=deal[current], code=code[current], elapsed=(at - when[current]) / DAY)


def size_bands(
    history: History, *, at: float, cuts: Sequence[float] = SIZE_CUTS
) -> tuple[IntArray, int]:
    """Each deal's size band and how many bands there are.

    Per process, the bands are cut at the quantiles `cuts` of the amounts of the deals
    created by `at` (those with an amount); a deal with none is in the first band.
    """
    band = np.zeros(history.deal_id.size, dtype=np.int64)
    known = (history.deal_created <= at) & (history.deal_amount > 0)
    for process in range(len(history.space.processes)):
        mine = history.deal_process == process
        amounts = history.deal_amount[mine & known]
        if amounts.size == 0 or not cuts:
            continue
        bounds = np.quantile(amounts, cuts)
        band[mine] = np.searchsorted(bounds, history.deal_amount[mine], side="right")
    return band, len(cuts) + 1


@dataclass(frozen=True)
class Laws:
    """Per state (an open stage and a size band), the exits as atoms (destination, days,
    weight), ordered by days. States are numbered stage × bands + band; won, lost and
    stay follow the last.

    The atoms of state `s` are `start[s]:start[s + 1]`; `cum` is the running weight within
    the state; `tail[s]` the weight of never leaving (1 − the state's total); `exits` and
    `censored` count the stints learned from; `source` says what the law came from: the
    state's own stints (OWN), its stage's in every band (STAGE), the stage defaults
    (DEFAULTS).
    """

    space: StageSpace
    bands: int
    start: IntArray
    dest: IntArray
    days: FloatArray
    weight: FloatArray
    cum: FloatArray
    tail: FloatArray
    exits: IntArray
    censored: IntArray
    source: IntArray
    min_exits: int = field(default=MIN_EXITS)

    @property
    def n(self) -> int:
        return self.space.n * self.bands

    @property
    def won(self) -> int:
        return self.n

    @property
    def lost(self) -> int:
        return self.n + 1

    @property
    def stay(self) -> int:
        return self.n + 2

    def state(self, code: IntArray, band: IntArray) -> IntArray:
        return code * self.bands + band

    def label(self, state: int) -> str:
        if state >= self.n:
            return ("won", "lost", "stays")[state - self.n]
        stage = self.space.label(state // self.bands)
        return stage if self.bands == 1 else f"{stage} (size band {state % self.bands + 1})"

    def atoms(self, state: int) -> slice:
        return slice(int(self.start[state]), int(self.start[state + 1]))

    def transition_probabilities(self, state: int) -> dict[int, float]:
        """Where deals that leave `state` go: destination → probability (the Aalen–Johansen
        cumulative incidence divided by the share that leaves)."""
        part = self.atoms(state)
        leaving = 1.0 - float(self.tail[state])
        if leaving <= 0:
            return {}
        sums = np.bincount(self.dest[part], weights=self.weight[part], minlength=self.n + 3)
        return {int(d): float(sums[d]) / leaving for d in np.flatnonzero(sums > 0)}

    def dwell_quantile(self, state: int, q: float) -> float | None:
        """The days by which a share `q` of the deals entering `state` have left it (the
        Kaplan–Meier quantile); None if fewer than that are ever seen to leave."""
        part = self.atoms(state)
        cum = self.cum[part]
        index = int(np.searchsorted(cum, q - 1e-12, side="left"))
        return None if index >= cum.size else float(self.days[part][index])

    def left_by(self, state: IntArray, days: FloatArray) -> FloatArray:
        """For deals in `state` for `days`: the weight of the exits at or before their
        time, which the draw of their exit skips (what is left is 1 − this)."""
        out = np.zeros(state.size, dtype=np.float64)
        for s in np.unique(state):
            mine = state == s
            part = self.atoms(int(s))
            seen = np.searchsorted(self.days[part], days[mine], side="right")
            out[mine] = np.concatenate([[0.0], self.cum[part]])[seen]
        return out


OWN, STAGE, DEFAULTS = 0, 1, 2

Atoms = tuple[FloatArray, IntArray, FloatArray, float]  # days, destination, weight, tail


def _stage_atoms(days: FloatArray, dest: IntArray, censored: BoolArray) -> Atoms:
    """Aalen–Johansen atoms of one set of stints: exits by days with their weight, and
    the tail.

    Stints sorted by days, exits before censorings at the same days (a censored stint was
    still there at that moment). The i-th of n has n − i at risk; each exit takes
    1/(n − i) of the survival just before it, which is its atom's weight.
    """
    order = np.lexsort((censored, days))
    days, dest, censored = days[order], dest[order], censored[order]
    n = days.size
    at_risk = n - np.arange(n, dtype=np.float64)
    exit_ = ~censored
    survival_after = np.cumprod(np.where(exit_, 1.0 - 1.0 / at_risk, 1.0))
    survival_before = np.concatenate([[1.0], survival_after[:-1]])
    weight = np.where(exit_, survival_before / at_risk, 0.0)
    tail = float(survival_after[-1]) if n else 1.0
    return days[exit_], dest[exit_], weight[exit_], tail


def _default_atoms(space: StageSpace, code: int) -> Atoms:
    """A stage's defaults: an exponential dwell around its expected days, then the next
    stage with the chance that keeps the stage probabilities, else lost (stage codes)."""
    expected = float(space.expected_days[code])
    mean = expected if np.isfinite(expected) and expected > 0 else DEFAULT_DAYS
    quantiles = (np.arange(FALLBACK_ATOMS) + 0.5) / FALLBACK_ATOMS
    days = -mean * np.log1p(-quantiles)
    following = space.next_code(code)
    here = float(space.probability[code])
    there = 1.0 if following == space.won else float(space.probability[following])
    advance = min(1.0, here / there) if there > 0 else 0.0
    each = 1.0 / FALLBACK_ATOMS
    return (
        np.repeat(days, 2),
        np.tile(np.array([following, space.lost], dtype=np.int64), FALLBACK_ATOMS),
        np.tile(np.array([advance * each, (1.0 - advance) * each]), FALLBACK_ATOMS),
        0.0,
    )


def laws_learn(
    *,
    stints: Stints,
    space: StageSpace,
    band: IntArray | None = None,
    bands: int = 1,
    min_exits: int = MIN_EXITS,
) -> Laws:
    """The exit law of every state, from the stints (a loop over stages and bands only).

    `band` gives each deal's size band (size_bands); without it, one band. A state with
    fewer than `min_exits` exits takes its stage's law over every band, and a stage with
    fewer than that its defaults.
    """
    if band is None:
        band, bands = np.zeros(0, dtype=np.int64), 1
    stint_band = band[stints.deal] if bands > 1 else np.zeros(stints.deal.size, dtype=np.int64)
    n = space.n
    parts: list[Atoms] = []
    exits = np.zeros(n * bands, dtype=np.int64)
    censored_count = np.zeros(n * bands, dtype=np.int64)
    source = np.zeros(n * bands, dtype=np.int64)
    order = np.argsort(stints.code, kind="stable")
    bounds = np.searchsorted(stints.code[order], np.arange(n + 1))
    for code in range(n):
        mine = order[bounds[code] : bounds[code + 1]]
        censored = stints.dest[mine] < 0
        stage: Atoms | None = None
        if int((~censored).sum()) >= min_exits:
            stage = _stage_atoms(stints.days[mine], stints.dest[mine], censored)
        for b in range(bands):
            state = code * bands + b
            here = stint_band[mine] == b
            exits[state] = int((here & ~censored).sum())
            censored_count[state] = int((here & censored).sum())
            if exits[state] >= min_exits:
                found = _stage_atoms(
                    stints.days[mine][here], stints.dest[mine][here], censored[here]
                )
            elif stage is not None:
                found, source[state] = stage, STAGE
            else:
                found, source[state] = _default_atoms(space, code), DEFAULTS
            days, dest, weight, tail = found
            # Open stages carry the band along; won and lost are the same for every band.
            dest = np.where(dest < n, dest * bands + b, dest - n + n * bands)
            parts.append((days, dest, weight, tail))
    sizes = np.array([p[0].size for p in parts], dtype=np.int64)
    parts = parts or [(np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0), 1.0)]  # no stage
    return Laws(
        space=space,
        bands=bands,
        start=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        dest=np.concatenate([p[1] for p in parts]).astype(np.int64),
        days=np.concatenate([p[0] for p in parts]),
        weight=np.concatenate([p[2] for p in parts]),
        cum=np.concatenate([np.cumsum(p[2]) for p in parts]),
        tail=np.array([p[3] for p in parts], dtype=np.float64)[: n * bands],
        exits=exits,
        censored=censored_count,
        source=source,
        min_exits=min_exits,
    )


@dataclass(frozen=True)
class Arrivals:
    """One process's new deals: created at `rate` a day, entering at `entry` (stage codes,
    with their shares), each like one of `deals` (the recent ones: amount, owner, band)."""

    process: int
    rate: float
    entry: IntArray
    entry_share: FloatArray
    deals: IntArray  # indexes into History's deal arrays


def arrivals_at(history: History, *, at: float, window_days: int = RATE_DAYS) -> list[Arrivals]:
    """Each process's creation rate over the `window_days` before `at`, and its recent deals."""
    since = at - window_days * DAY
    recent = (history.deal_created > since) & (history.deal_created <= at)
    deal, code, _ = _known(history, at)
    first = np.ones(deal.size, dtype=bool)
    first[1:] = deal[1:] != deal[:-1]
    entered = np.full(history.deal_id.size, -1, dtype=np.int64)
    entered[deal[first]] = code[first]
    found = []
    for process in range(len(history.space.processes)):
        mine = np.flatnonzero(recent & (history.deal_process == process))
        if mine.size == 0:
            continue
        codes = entered[mine]
        codes = codes[(codes >= 0) & (codes < history.space.n)]
        if codes.size == 0:
            codes = np.array([history.space.first_code(process)], dtype=np.int64)
        entry, counts = np.unique(codes, return_counts=True)
        found.append(
            Arrivals(
                process=process,
                rate=mine.size / window_days,
                entry=entry.astype(np.int64),
                entry_share=counts / counts.sum(),
                deals=mine.astype(np.int64),
            )
        )
    return found


def booked_between(history: History, *, start: float, end: float) -> tuple[IntArray, FloatArray]:
    """The deals won in [start, end) (as now recorded) and what each booked."""
    won = np.flatnonzero((history.deal_won_at >= start) & (history.deal_won_at < end))
    return won, history.deal_amount[won]
