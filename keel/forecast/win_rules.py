"""Win probability without the database: deals as of a moment, their features in numbers,
scoring with stored parameters, the factors in words, and the naive Bayes baseline.

Everything works on a `History`: plain NumPy arrays of deals, stage changes, activities,
buying roles and field edits (times as seconds since the epoch), read by
`win_selectors.win_history` in one query per source.

Snapshots, and why they do not leak
-----------------------------------
A closed deal is seen as it stood at moments of its open life, never at its close: the
first moment is a random point in its first SNAPSHOT_DAYS (or in its whole life if
shorter), then one every SNAPSHOT_DAYS until it closed. Every moment of a deal's open
life is equally likely to be sampled, as every open deal is scored on every day of its
life; a deal that stayed open longer gives more snapshots, as it spent more days on the
board. At a moment `t` the features use only what was known at `t`:

* the stage and time in stage from the last stage change at or before `t` (never the
  deal's current stage, which for a closed deal is its outcome);
* stage regressions: backward moves between open stages at or before `t`;
* activities by type in the WINDOW_DAYS up to `t` (by when they happened);
* buying roles: a deal's contact link carries no date, so a role counts from the first
  activity on the deal with that contact (an attached contact nobody has talked to yet
  does not count, then or now);
* amount, channel and owner as they were at `t`: an edit after `t` recorded in the audit
  log is undone (its old value is used);
* the company's size, tier and ICP fit as they are now (Keel keeps no history of them).

An open deal is scored with the same features as of now.
"""

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from keel.activities.models import ActivityType
from keel.crm.models import BuyingRole, Channel, Tier

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]
Progress = Callable[[str, int, int], None]
"""Called as progress(phase, done, total) while a long step runs."""

DAY = 86_400.0
WINDOW_DAYS = 30  # recent activity: the touches of the last 30 days
SNAPSHOT_DAYS = 14  # a closed deal is seen every 14 days of its open life
DEFAULT_EXPECTED_DAYS = 14.0  # a stage without expected days is compared with two weeks
SEED = 6  # the snapshots' random start: the same history gives the same model

# Too little history to learn from: fewer closed deals than this, or fewer won or lost.
# Below it a deal shows its stage's default probability, labelled as such.
MIN_CLOSED_DEALS = 200
MIN_EACH_OUTCOME = 30

TEST_SHARE = 0.22  # the default backtest cutoff leaves about this share of closed deals after it
PROBABILITY_FLOOR = 0.001  # every probability is kept in [0.001, 0.999] for the log loss
TOP_FACTORS = 3

ACTIVITY_TYPES: tuple[str, ...] = tuple(ActivityType.values)
ROLES: tuple[str, ...] = tuple(BuyingRole.values)
EDITED_FIELDS = ("amount", "channel", "owner")  # deal fields undone to their value as of `t`

# How the factors name a count of each activity type: (one, many).
ACTIVITY_WORDS: Mapping[str, tuple[str, str]] = {
    ActivityType.CALL: ("call", "calls"),
    ActivityType.EMAIL: ("e-mail", "e-mails"),
    ActivityType.MEETING: ("meeting", "meetings"),
    ActivityType.PRESENTATION: ("presentation", "presentations"),
    ActivityType.PROPOSAL_SENT: ("proposal sent", "proposals sent"),
    ActivityType.DEMO: ("demo", "demos"),
    ActivityType.NETWORKING_EVENT: ("networking event", "networking events"),
    ActivityType.SOCIAL_TOUCH: ("social touch", "social touches"),
    ActivityType.TRADESHOW_CONTACT: ("tradeshow contact", "tradeshow contacts"),
    ActivityType.RESEARCH: ("research session", "research sessions"),
}
CHANNEL_LABELS: Mapping[str, str] = dict(Channel.choices)
TIER_LABELS: Mapping[str, str] = dict(Tier.choices)
ROLE_LABELS: Mapping[str, str] = dict(BuyingRole.choices)


# --- the history as arrays ----------------------------------------------------------------


@dataclass(frozen=True)
class StageTable:
    """Every stage of every process version, in ascending id order."""

    ids: IntArray
    process: IntArray
    names: tuple[str, ...]
    position: IntArray
    is_open: BoolArray
    default: FloatArray  # the stage's own probability, 0 to 1
    expected_days: FloatArray  # nan where unset

    @property
    def keys(self) -> tuple[str, ...]:
        """A stage across versions of its process: the process and the stage's name."""
        return tuple(
            f"{process}:{name}" for process, name in zip(self.process, self.names, strict=True)
        )

    def index(self, ids: IntArray) -> IntArray:
        at = np.searchsorted(self.ids, ids)
        found = (at < len(self.ids)) & (self.ids[np.minimum(at, len(self.ids) - 1)] == ids)
        return np.where(found, at, -1).astype(np.int64)


@dataclass(frozen=True)
class History:
    """Deals (ascending id) and what happened to them, children sorted by (deal, time).

    Child rows point at deals by index (`*_deal`), stages by index into `stages`.
    """

    stages: StageTable
    deal_id: IntArray
    created: FloatArray
    closed: FloatArray  # nan while open
    won: BoolArray
    stage: IntArray  # the stage now
    stage_entered: FloatArray
    amount: FloatArray  # nan when not set
    currency: StrArray
    channel: StrArray  # "" when not set
    owner: IntArray
    process: IntArray
    employees: FloatArray  # nan when unknown
    tier: StrArray
    icp: FloatArray  # nan when unknown
    region: StrArray
    change_deal: IntArray
    change_at: FloatArray
    change_from: IntArray  # -1: the deal's first stage
    change_to: IntArray
    activity_deal: IntArray
    activity_at: FloatArray
    activity_type: IntArray  # index into ACTIVITY_TYPES
    activity_contact: IntArray  # -1: with nobody in particular
    link_deal: IntArray
    link_contact: IntArray
    link_role: IntArray  # index into ROLES, -1: no role
    edit_deal: IntArray
    edit_at: FloatArray
    edit_field: IntArray  # index into EDITED_FIELDS
    edit_old_number: FloatArray  # the value before the edit: amount, or owner id
    edit_old_text: StrArray  # … or channel
    names: Mapping[int, str] = field(default_factory=dict)  # user id -> name
    teams: Mapping[int, int] = field(default_factory=dict)  # user id -> team id

    @property
    def is_open(self) -> BoolArray:
        return np.isnan(self.closed)

    @property
    def origin(self) -> float:
        """Before every time in the history by two windows: keys stay within their deal."""
        times = [self.created, self.change_at, self.activity_at, self.edit_at]
        lowest = min((float(np.nanmin(t)) for t in times if len(t)), default=0.0)
        return math.floor(lowest - 2 * WINDOW_DAYS * DAY)

    def closed_deals(self) -> IntArray:
        """Indices of the deals that closed after some open life: the ones to learn from."""
        return np.flatnonzero(~self.is_open & (self.closed > self.created)).astype(np.int64)


def _ints(values: Sequence[Any] | npt.NDArray[Any]) -> IntArray:
    return np.asarray(values, dtype=np.int64).reshape(-1)


def _floats(values: Sequence[Any] | npt.NDArray[Any]) -> FloatArray:
    return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64).reshape(-1)


def _texts(values: Sequence[Any] | npt.NDArray[Any]) -> StrArray:
    return np.asarray(["" if v is None else str(v) for v in values], dtype=np.str_).reshape(-1)


def _order(deal: IntArray, at: FloatArray) -> IntArray:
    return np.lexsort((at, deal)).astype(np.int64)


def history_build(
    *,
    stages: Sequence[tuple[int, int, str, int, bool, int, int | None]],
    deals: Sequence[Mapping[str, Any]],
    changes: Sequence[tuple[int, int | None, int, float]],
    activities: Sequence[tuple[int, str, int | None, float]],
    links: Sequence[tuple[int, int, str]],
    edits: Sequence[tuple[int, float, Mapping[str, Any]]] = (),
    names: Mapping[int, str] | None = None,
    teams: Mapping[int, int] | None = None,
) -> History:
    """A History from rows as the selectors read them.

    stages: (id, process id, name, position, is open, probability %, expected days);
    deals: dicts with id, created, closed, won, stage, stage_entered, amount, currency,
    channel, owner, process, employees, tier, icp, region (times as epoch seconds);
    changes: (deal id, from stage id, to stage id, at); activities: (deal id, type,
    contact id, at); links: (deal id, contact id, role); edits: (deal id, at, the audit
    log's {field: [old, new]}). Rows of deals not in `deals` are left out.
    """
    by_id = sorted(stages, key=lambda s: s[0])
    table = StageTable(
        ids=_ints([s[0] for s in by_id]),
        process=_ints([s[1] for s in by_id]),
        names=tuple(s[2] for s in by_id),
        position=_ints([s[3] for s in by_id]),
        is_open=np.asarray([bool(s[4]) for s in by_id], dtype=np.bool_),
        default=_floats([s[5] / 100 for s in by_id]),
        expected_days=_floats([s[6] for s in by_id]),
    )
    rows = sorted(deals, key=lambda d: int(d["id"]))
    deal_id = _ints([d["id"] for d in rows])

    def deal_index(ids: Sequence[Any]) -> IntArray:
        wanted = _ints(ids)
        if not len(deal_id):
            return np.full(len(wanted), -1, dtype=np.int64)
        at = np.searchsorted(deal_id, wanted)
        found = (at < len(deal_id)) & (deal_id[np.minimum(at, len(deal_id) - 1)] == wanted)
        return np.where(found, at, -1).astype(np.int64)

    def column(name: str) -> list[Any]:
        return [d[name] for d in rows]

    # Stage changes: kept only for known deals, sorted by (deal, time).
    c_deal = deal_index([c[0] for c in changes])
    c_from = table.index(_ints([-1 if c[1] is None else c[1] for c in changes]))
    c_to = table.index(_ints([c[2] for c in changes]))
    c_at = _floats([c[3] for c in changes])
    keep = (c_deal >= 0) & (c_to >= 0) & ~np.isnan(c_at)
    c_deal, c_from, c_to, c_at = c_deal[keep], c_from[keep], c_to[keep], c_at[keep]
    order = _order(c_deal, c_at)
    c_deal, c_from, c_to, c_at = c_deal[order], c_from[order], c_to[order], c_at[order]

    created = _floats(column("created"))
    if len(c_deal):  # an imported deal's history may start before its row was made
        first = np.full(len(deal_id), np.inf)
        np.minimum.at(first, c_deal, c_at)
        created = np.fmin(created, np.where(np.isfinite(first), first, np.nan))

    type_index = {kind: i for i, kind in enumerate(ACTIVITY_TYPES)}
    a_deal = deal_index([a[0] for a in activities])
    a_type = _ints([type_index.get(a[1], -1) for a in activities])
    a_contact = _ints([-1 if a[2] is None else a[2] for a in activities])
    a_at = _floats([a[3] for a in activities])
    keep = (a_deal >= 0) & (a_type >= 0) & ~np.isnan(a_at)
    a_deal, a_type, a_contact, a_at = a_deal[keep], a_type[keep], a_contact[keep], a_at[keep]
    order = _order(a_deal, a_at)

    role_index = {role: i for i, role in enumerate(ROLES)}
    l_deal = deal_index([link[0] for link in links])
    keep_links = l_deal >= 0

    e_deal_list, e_at, e_field, e_number, e_text = [], [], [], [], []
    field_index = {name: i for i, name in enumerate(EDITED_FIELDS)}
    for deal, at, changed in edits:
        for name, pair in changed.items():
            if name not in field_index or not isinstance(pair, list | tuple) or len(pair) != 2:
                continue
            old = pair[0]
            e_deal_list.append(deal)
            e_at.append(at)
            e_field.append(field_index[name])
            number = np.nan
            if name != "channel" and old not in (None, ""):
                try:
                    number = float(old)
                except (TypeError, ValueError):
                    number = np.nan
            e_number.append(number)
            e_text.append("" if old is None else str(old))
    e_deal = deal_index(e_deal_list)
    e_at_arr = _floats(e_at)
    keep = e_deal >= 0
    e_order = _order(e_deal[keep], e_at_arr[keep])

    stage_index = table.index(_ints(column("stage")))
    return History(
        stages=table,
        deal_id=deal_id,
        created=created,
        closed=_floats(column("closed")),
        won=np.asarray([bool(w) for w in column("won")], dtype=np.bool_),
        stage=stage_index,
        stage_entered=_floats(column("stage_entered")),
        amount=_floats([None if a is None else float(a) for a in column("amount")]),
        currency=_texts(column("currency")),
        channel=_texts(column("channel")),
        owner=_ints(column("owner")),
        process=_ints(column("process")),
        employees=_floats(column("employees")),
        tier=_texts(column("tier")),
        icp=_floats(column("icp")),
        region=_texts(column("region")),
        change_deal=c_deal,
        change_at=c_at,
        change_from=c_from,
        change_to=c_to,
        activity_deal=a_deal[order],
        activity_at=a_at[order],
        activity_type=a_type[order],
        activity_contact=a_contact[order],
        link_deal=l_deal[keep_links],
        link_contact=_ints([link[1] for link in links])[keep_links],
        link_role=_ints([role_index.get(link[2], -1) for link in links])[keep_links],
        edit_deal=e_deal[keep][e_order],
        edit_at=e_at_arr[keep][e_order],
        edit_field=_ints(e_field)[keep][e_order],
        edit_old_number=_floats(e_number)[keep][e_order],
        edit_old_text=_texts(e_text)[keep][e_order],
        names=dict(names or {}),
        teams=dict(teams or {}),
    )


# --- snapshots ----------------------------------------------------------------------------


def snapshot_moments(
    history: History, *, deals: IntArray, every_days: float = SNAPSHOT_DAYS, seed: int = SEED
) -> tuple[IntArray, FloatArray]:
    """(deal index, moment) pairs across the open life of each closed deal in `deals`.

    The first moment is random within the first `every_days` (or the whole life, if
    shorter), then one every `every_days` while the deal was still open: each moment is
    strictly before the deal closed.
    """
    step = every_days * DAY
    created, closed = history.created[deals], history.closed[deals]
    life = closed - created
    usable = life > 0
    deals, created, closed, life = deals[usable], created[usable], closed[usable], life[usable]
    rng = np.random.default_rng(seed)
    first = created + rng.random(len(deals)) * np.minimum(step, life)
    counts = np.maximum(np.ceil((closed - first) / step).astype(np.int64), 1)
    repeated = np.repeat(np.arange(len(deals)), counts)
    starts = np.cumsum(counts) - counts
    k = np.arange(int(counts.sum())) - np.repeat(starts, counts)
    moments = first[repeated] + k * step
    inside = moments < closed[repeated]
    return deals[repeated][inside].astype(np.int64), moments[inside]


@dataclass(frozen=True)
class Frame:
    """Deals as they stood at moments: one row per (deal, moment), every feature raw."""

    deal: IntArray  # index into the history
    at: FloatArray
    stage: IntArray  # index into the stage table
    days_in_stage: FloatArray
    age_days: FloatArray
    activities: FloatArray  # (rows, ACTIVITY_TYPES): counts in the window up to `at`
    roles: BoolArray  # (rows, ROLES): a contact in that role engaged by `at`
    regressions: FloatArray
    amount: FloatArray
    channel: StrArray
    owner: IntArray

    def __len__(self) -> int:
        return len(self.deal)

    def take(self, rows: IntArray | BoolArray) -> "Frame":
        return Frame(**{name: getattr(self, name)[rows] for name in self.__dataclass_fields__})


def frame_concat(frames: Sequence[Frame]) -> Frame:
    return Frame(
        **{
            name: np.concatenate([getattr(f, name) for f in frames])
            for name in Frame.__dataclass_fields__
        }
    )


def _keys(deal: IntArray, at: FloatArray, origin: float) -> IntArray:
    """One sortable number per (deal, second): the deal in the high bits, time below."""
    seconds = np.rint(at - origin).astype(np.int64)
    return (deal.astype(np.int64) << 32) | seconds


def frame_at(history: History, *, deals: IntArray, moments: FloatArray) -> Frame:
    """Each deal as it stood at its moment, from what was known then (see the module doc).

    A moment before the deal's first recorded stage is dropped, except for an open deal
    with no stage history, which is taken as its row says now.
    """
    origin = history.origin
    keys = _keys(deals, moments, origin)
    change_keys = _keys(history.change_deal, history.change_at, origin)

    # The stage: the last change at or before the moment.
    last = np.searchsorted(change_keys, keys, side="right") - 1
    stage = np.full(len(deals), -1, dtype=np.int64)
    entered = np.full(len(deals), np.nan)
    has_change = np.zeros(len(deals), dtype=np.bool_)
    if len(change_keys):
        safe = np.maximum(last, 0)
        has_change = (last >= 0) & (history.change_deal[safe] == deals)
        stage = np.where(has_change, history.change_to[safe], -1)
        entered = np.where(has_change, history.change_at[safe], np.nan)
    now_row = ~has_change & history.is_open[deals]
    stage = np.where(now_row, history.stage[deals], stage).astype(np.int64)
    entered = np.where(now_row, history.stage_entered[deals], entered)
    valid = stage >= 0
    valid[valid] &= history.stages.is_open[stage[valid]]
    deals, moments, keys = deals[valid], moments[valid], keys[valid]
    stage, entered, last, has_change = stage[valid], entered[valid], last[valid], has_change[valid]

    # Regressions: backward moves between open stages up to the moment.
    regressions = np.zeros(len(deals))
    if len(change_keys):
        table = history.stages
        fro, to = history.change_from, history.change_to
        backward = (
            (fro >= 0)
            & table.is_open[to]
            & table.is_open[np.maximum(fro, 0)]
            & (table.position[to] < table.position[np.maximum(fro, 0)])
        )
        running = np.cumsum(backward)
        start = np.searchsorted(change_keys, deals.astype(np.int64) << 32, side="left")
        before = np.where(start > 0, running[np.maximum(start - 1, 0)], 0)
        upto: IntArray = running[np.maximum(last, 0)] - before
        regressions = np.where(has_change, upto, 0).astype(np.float64)

    # Activities by type in the window up to the moment.
    activity_keys = _keys(history.activity_deal, history.activity_at, origin)
    window = round(WINDOW_DAYS * DAY)
    counts = np.zeros((len(deals), len(ACTIVITY_TYPES)))
    for kind in range(len(ACTIVITY_TYPES)):
        of_kind = activity_keys[history.activity_type == kind]
        counts[:, kind] = np.searchsorted(of_kind, keys, side="right") - np.searchsorted(
            of_kind, keys - window, side="right"
        )

    return Frame(
        deal=deals,
        at=moments,
        stage=stage,
        days_in_stage=np.maximum(moments - entered, 0) / DAY,
        age_days=np.maximum(moments - history.created[deals], 0) / DAY,
        activities=counts,
        roles=_roles_engaged(history, deals, moments),
        regressions=regressions,
        amount=_as_of_number(history, "amount", history.amount, deals, keys, origin),
        channel=_as_of_channel(history, deals, keys, origin),
        owner=_as_of_number(
            history, "owner", history.owner.astype(np.float64), deals, keys, origin
        ).astype(np.int64),
    )


def _roles_engaged(history: History, deals: IntArray, moments: FloatArray) -> BoolArray:
    """Per row and role: a contact linked in that role had an activity on the deal by then."""
    engaged = np.zeros((len(deals), len(ROLES)), dtype=np.bool_)
    with_contact = history.activity_contact >= 0
    if not with_contact.any() or not len(history.link_deal):
        return engaged
    pair = (history.activity_deal[with_contact] << 32) | history.activity_contact[with_contact]
    at = history.activity_at[with_contact]
    order = np.lexsort((at, pair))
    pairs, first_row = np.unique(pair[order], return_index=True)
    first_at = at[order][first_row]
    link_pair = (history.link_deal << 32) | history.link_contact
    where = np.searchsorted(pairs, link_pair)
    safe = np.minimum(where, len(pairs) - 1)
    talked = (where < len(pairs)) & (pairs[safe] == link_pair) & (history.link_role >= 0)
    role_first = np.full((len(history.deal_id), len(ROLES)), np.inf)
    np.minimum.at(
        role_first, (history.link_deal[talked], history.link_role[talked]), first_at[safe[talked]]
    )
    engaged[:] = role_first[deals] <= moments[:, None]
    return engaged


def _undone(
    history: History, name: str, deals: IntArray, keys: IntArray, origin: float
) -> tuple[BoolArray, IntArray]:
    """Rows whose field was edited after the moment, and the index of the first such edit."""
    of_field = np.flatnonzero(history.edit_field == EDITED_FIELDS.index(name))
    if not len(of_field):
        return np.zeros(len(deals), dtype=np.bool_), np.zeros(len(deals), dtype=np.int64)
    edit_keys = _keys(history.edit_deal[of_field], history.edit_at[of_field], origin)
    after = np.searchsorted(edit_keys, keys, side="right")
    safe = np.minimum(after, len(of_field) - 1)
    hit = (after < len(of_field)) & (history.edit_deal[of_field][safe] == deals)
    return hit, of_field[safe]


def _as_of_number(
    history: History,
    name: str,
    now: FloatArray,
    deals: IntArray,
    keys: IntArray,
    origin: float,
) -> FloatArray:
    hit, edit = _undone(history, name, deals, keys, origin)
    value = now[deals].astype(np.float64)
    if not hit.any():
        return value
    if name == "owner":  # an owner is never unset: an unreadable old value keeps today's
        old = history.edit_old_number[edit]
        return np.where(hit & ~np.isnan(old), old, value)
    return np.where(hit, history.edit_old_number[edit], value)


def _as_of_channel(history: History, deals: IntArray, keys: IntArray, origin: float) -> StrArray:
    hit, edit = _undone(history, "channel", deals, keys, origin)
    if not hit.any():
        return history.channel[deals]
    return np.where(hit, history.edit_old_text[edit], history.channel[deals]).astype(np.str_)


# --- encoding: features as numbers --------------------------------------------------------


@dataclass(frozen=True)
class Encoding:
    """Which categories get a column; the columns and their explanation blocks follow."""

    stages: tuple[str, ...]  # stage keys
    channels: tuple[str, ...]
    owners: tuple[int, ...]
    tiers: tuple[str, ...]

    @property
    def blocks(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(block, its columns) in column order: a factor is one block's contribution."""
        return (
            ("stage", tuple(f"stage={key}" for key in self.stages)),
            ("time_in_stage", ("log days in stage", "log days in stage / expected")),
            ("age", ("log days open",)),
            *((f"activity:{kind}", (f"log {kind} in window",)) for kind in ACTIVITY_TYPES),
            ("amount", ("log amount", "amount missing")),
            ("channel", tuple(f"channel={value}" for value in self.channels)),
            ("owner", tuple(f"owner={value}" for value in self.owners)),
            ("employees", ("log employees", "employees missing")),
            ("tier", tuple(f"tier={value}" for value in self.tiers)),
            ("icp", ("icp fit", "icp fit missing")),
            *((f"role:{role}", (f"{role} engaged",)) for role in ROLES),
            ("regressions", ("log regressions",)),
        )

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(column for _, columns in self.blocks for column in columns)

    def spans(self) -> list[tuple[str, int, int]]:
        out, start = [], 0
        for name, columns in self.blocks:
            out.append((name, start, start + len(columns)))
            start += len(columns)
        return out


def encoding_fit(history: History, frame: Frame) -> Encoding:
    keys = history.stages.keys
    return Encoding(
        stages=tuple(sorted({keys[s] for s in np.unique(frame.stage)})),
        channels=tuple(sorted(str(c) for c in np.unique(frame.channel))),
        owners=tuple(sorted(int(o) for o in np.unique(frame.owner))),
        tiers=tuple(sorted(str(t) for t in np.unique(history.tier[frame.deal]))),
    )


def _one_hot(
    matrix: FloatArray, start: int, values: npt.NDArray[Any], categories: Sequence[Any]
) -> None:
    if not len(values) or not len(categories):
        return
    column = {value: i for i, value in enumerate(categories)}
    unique, inverse = np.unique(values, return_inverse=True)
    at = np.asarray([column.get(v.item() if hasattr(v, "item") else v, -1) for v in unique])
    at = at[inverse.reshape(-1)]
    rows = np.flatnonzero(at >= 0)
    matrix[rows, start + at[rows]] = 1.0


def _log_or_missing(values: FloatArray) -> tuple[FloatArray, FloatArray]:
    missing = np.isnan(values)
    return np.where(missing, 0.0, np.log1p(np.maximum(np.nan_to_num(values), 0))), missing * 1.0


def encode(history: History, frame: Frame, encoding: Encoding) -> FloatArray:
    """The frame as a matrix, one column per `encoding.columns`."""
    spans = {name: (start, stop) for name, start, stop in encoding.spans()}
    matrix = np.zeros((len(frame), spans["regressions"][1]))
    keys = np.asarray(history.stages.keys, dtype=np.str_)

    def put(name: str, *columns: npt.NDArray[Any]) -> None:
        start = spans[name][0]
        for offset, values in enumerate(columns):
            matrix[:, start + offset] = values

    deals = frame.deal
    _one_hot(matrix, spans["stage"][0], keys[frame.stage], encoding.stages)
    expected = history.stages.expected_days[frame.stage]
    expected = np.where(np.isnan(expected) | (expected <= 0), DEFAULT_EXPECTED_DAYS, expected)
    put("time_in_stage", np.log1p(frame.days_in_stage), np.log1p(frame.days_in_stage / expected))
    put("age", np.log1p(frame.age_days))
    for i, kind in enumerate(ACTIVITY_TYPES):
        put(f"activity:{kind}", np.log1p(frame.activities[:, i]))
    put("amount", *_log_or_missing(frame.amount))
    _one_hot(matrix, spans["channel"][0], frame.channel, encoding.channels)
    _one_hot(matrix, spans["owner"][0], frame.owner, encoding.owners)
    put("employees", *_log_or_missing(history.employees[deals]))
    _one_hot(matrix, spans["tier"][0], history.tier[deals], encoding.tiers)
    icp = history.icp[deals]
    put("icp", np.where(np.isnan(icp), 0.0, icp / 100), np.isnan(icp) * 1.0)
    for i, role in enumerate(ROLES):
        put(f"role:{role}", frame.roles[:, i] * 1.0)
    put("regressions", np.log1p(frame.regressions))
    return matrix


# --- the stored model ---------------------------------------------------------------------


@dataclass(frozen=True)
class Calibration:
    """From the regression's score (log-odds) to a probability that matches outcomes.

    isotonic: piecewise linear through (x, y), flat beyond the ends; sigmoid (Platt):
    1 / (1 + exp(-(a·z + b))).
    """

    method: Literal["isotonic", "sigmoid"]
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    a: float = 1.0
    b: float = 0.0

    def apply(self, z: FloatArray) -> FloatArray:
        if self.method == "isotonic":
            p = np.interp(z, np.asarray(self.x), np.asarray(self.y))
        else:
            p = 1.0 / (1.0 + np.exp(-(self.a * z + self.b)))
        clipped: FloatArray = np.clip(p, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
        return clipped


@dataclass(frozen=True)
class WinParameters:
    """A fitted model as plain numbers: encoding, standardisation, coefficients, calibration."""

    encoding: Encoding
    mean: FloatArray
    scale: FloatArray
    coef: FloatArray
    intercept: float
    calibration: Calibration
    window_days: int = WINDOW_DAYS

    def score(self, matrix: FloatArray) -> FloatArray:
        """The log-odds before calibration."""
        return ((matrix - self.mean) / self.scale) @ self.coef + self.intercept

    def probability(self, matrix: FloatArray) -> FloatArray:
        return self.calibration.apply(self.score(matrix))

    def contributions(self, matrix: FloatArray) -> FloatArray:
        """(rows, blocks): each block's share of the log-odds, against the average snapshot
        the model learned from (where every standardised column is 0)."""
        terms = ((matrix - self.mean) / self.scale) * self.coef
        spans = self.encoding.spans()
        return np.stack([terms[:, a:b].sum(axis=1) for _, a, b in spans], axis=1)

    def as_json(self) -> dict[str, Any]:
        def numbers(values: FloatArray | Sequence[float]) -> list[float]:
            return [round(float(v), 8) for v in values]

        return {
            "kind": "logistic_regression",
            "window_days": self.window_days,
            "encoding": {
                "stages": list(self.encoding.stages),
                "channels": list(self.encoding.channels),
                "owners": list(self.encoding.owners),
                "tiers": list(self.encoding.tiers),
            },
            "columns": list(self.encoding.columns),
            "mean": numbers(self.mean),
            "scale": numbers(self.scale),
            "coef": numbers(self.coef),
            "intercept": round(self.intercept, 8),
            "calibration": {
                "method": self.calibration.method,
                "x": numbers(self.calibration.x),
                "y": numbers(self.calibration.y),
                "a": round(self.calibration.a, 8),
                "b": round(self.calibration.b, 8),
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "WinParameters":
        enc = data["encoding"]
        encoding = Encoding(
            stages=tuple(enc["stages"]),
            channels=tuple(enc["channels"]),
            owners=tuple(int(o) for o in enc["owners"]),
            tiers=tuple(enc["tiers"]),
        )
        if list(encoding.columns) != list(data["columns"]):
            raise ValueError("The stored columns do not match this version's encoding.")
        cal = data["calibration"]
        method: Literal["isotonic", "sigmoid"] = (
            "isotonic" if cal["method"] == "isotonic" else "sigmoid"
        )
        return cls(
            encoding=encoding,
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            coef=np.asarray(data["coef"], dtype=np.float64),
            intercept=float(data["intercept"]),
            calibration=Calibration(
                method=method,
                x=tuple(cal["x"]),
                y=tuple(cal["y"]),
                a=float(cal["a"]),
                b=float(cal["b"]),
            ),
            window_days=int(data.get("window_days", WINDOW_DAYS)),
        )


# --- scores and their factors in words ----------------------------------------------------


@dataclass(frozen=True)
class Factor:
    text: str  # "3 calls in the last 30 days"
    points: int  # what it adds to the probability, in percentage points

    @property
    def signed(self) -> str:
        """The points with their sign, as people write them: +8, −5."""
        return f"{'+' if self.points > 0 else '−'}{abs(self.points)}"

    def __str__(self) -> str:
        return f"{self.text}: {self.signed} points"


Source = Literal["model", "stage_default", "closed"]


@dataclass(frozen=True)
class WinScore:
    """A deal's chance to be won, where it comes from, and what moves it most."""

    probability: float
    source: Source
    factors: tuple[Factor, ...] = ()
    note: str = ""

    @property
    def percent(self) -> int:
        return round(100 * self.probability)

    @property
    def is_model(self) -> bool:
        return self.source == "model"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _days(value: float) -> str:
    return _plural(round(value), "day", "days")


def factor_text(history: History, frame: Frame, row: int, block: str, window_days: int) -> str:
    """What a block says about one snapshot, in words a salesperson reads."""
    deal = int(frame.deal[row])
    stage = int(frame.stage[row])
    stage_name = history.stages.names[stage]
    if block == "stage":
        return f"In {stage_name}"
    if block == "time_in_stage":
        expected = history.stages.expected_days[stage]
        usual = "" if np.isnan(expected) else f" (usually {round(expected)})"
        return f"{_days(frame.days_in_stage[row])} in {stage_name}{usual}"
    if block == "age":
        return f"Open for {_days(frame.age_days[row])}"
    if block.startswith("activity:"):
        kind = block.removeprefix("activity:")
        one, many = ACTIVITY_WORDS.get(kind, (kind, kind))
        n = round(frame.activities[row, ACTIVITY_TYPES.index(kind)])
        count = f"No {many}" if n == 0 else _plural(n, one, many)
        return f"{count} in the last {window_days} days"
    if block == "amount":
        amount = frame.amount[row]
        if np.isnan(amount):
            return "No amount yet"
        return f"Amount {amount:,.0f} {history.currency[deal]}".rstrip()
    if block == "channel":
        channel = str(frame.channel[row])
        if not channel:
            return "No channel recorded"
        return f"Came through {CHANNEL_LABELS.get(channel, channel).lower()}"
    if block == "owner":
        owner = int(frame.owner[row])
        return f"Owned by {history.names.get(owner, f'user {owner}')}"
    if block == "employees":
        employees = history.employees[deal]
        return "Company size unknown" if np.isnan(employees) else f"{employees:,.0f} employees"
    if block == "tier":
        label = TIER_LABELS.get(str(history.tier[deal]), str(history.tier[deal]))
        return label if label.endswith("account") else f"{label} account"
    if block == "icp":
        icp = history.icp[deal]
        return "No ICP fit score" if np.isnan(icp) else f"ICP fit {icp:.0f}"
    if block.startswith("role:"):
        role = block.removeprefix("role:")
        label = ROLE_LABELS.get(role, role)
        if frame.roles[row, ROLES.index(role)]:
            return f"{label} engaged"
        return f"No {label.lower()} engaged yet"
    if block == "regressions":
        n = round(frame.regressions[row])
        return "Never moved back" if n == 0 else f"Moved back {_plural(n, 'time', 'times')}"
    return block


def column_words(
    column: str, *, processes: Mapping[int, str], names: Mapping[int, str], window_days: int
) -> str:
    """A model column as a manager reads it on the report ("Owner: Jonas Weber")."""
    name, _, value = column.partition("=")
    if value and name == "stage":
        process, _, stage = value.partition(":")
        of = processes.get(int(process)) if process.isdigit() else None
        return f"In {stage}" + (f" ({of})" if of else "")
    if value and name == "channel":
        return f"Channel: {CHANNEL_LABELS.get(value, value)}" if value else "No channel"
    if value and name == "owner":
        return f"Owner: {names.get(int(value), value) if value.isdigit() else value}"
    if value and name == "tier":
        return f"Tier: {TIER_LABELS.get(value, value)}"
    for kind, (_, many) in ACTIVITY_WORDS.items():
        if column == f"log {kind} in window":
            return f"{many.capitalize()} in the last {window_days} days (log)"
    for role, label in ROLE_LABELS.items():
        if column == f"{role} engaged":
            return f"{label} engaged"
    return {
        "channel=": "No channel",
        "log days in stage": "Days in the stage (log)",
        "log days in stage / expected": "Days in the stage against its usual days (log)",
        "log days open": "Days open (log)",
        "log amount": "Amount (log)",
        "amount missing": "No amount",
        "log employees": "Company size (log employees)",
        "employees missing": "Company size unknown",
        "icp fit": "ICP fit",
        "icp fit missing": "No ICP fit score",
        "log regressions": "Moves back to an earlier stage (log)",
    }.get(column, column)


def model_scores(
    history: History, frame: Frame, parameters: WinParameters, *, top: int = TOP_FACTORS
) -> list[WinScore]:
    """Each snapshot's calibrated probability and the blocks that move it most.

    A factor's points: the probability minus what it would be were that one feature at
    the average of the deals the model learned from (the coefficient times the feature's
    distance from that average, through the calibration), in percentage points.
    """
    matrix = encode(history, frame, parameters.encoding)
    z = parameters.score(matrix)
    p = parameters.calibration.apply(z)
    parts = parameters.contributions(matrix)
    without = parameters.calibration.apply(z[:, None] - parts)
    points = 100 * (p[:, None] - without)
    names = [name for name, _, _ in parameters.encoding.spans()]
    scores = []
    for row in range(len(frame)):
        order = np.lexsort((-np.abs(parts[row]), -np.abs(points[row])))
        moving = [int(b) for b in order if round(points[row, b]) != 0][:top]
        factors = tuple(
            Factor(
                factor_text(history, frame, row, names[b], parameters.window_days),
                round(points[row, b]),
            )
            for b in moving
        )
        scores.append(WinScore(probability=float(p[row]), source="model", factors=factors))
    return scores


def stage_default_score(history: History, stage: int, note: str) -> WinScore:
    return WinScore(
        probability=float(history.stages.default[stage]), source="stage_default", note=note
    )


def too_little_history(*, won: int, lost: int) -> str | None:
    """Why a model cannot be learned from this many closed deals, or None if it can."""
    if won + lost < MIN_CLOSED_DEALS or min(won, lost) < MIN_EACH_OUTCOME:
        return (
            f"too little history: {won + lost} closed deals ({won} won, {lost} lost); "
            f"the win model needs {MIN_CLOSED_DEALS}, with at least {MIN_EACH_OUTCOME} "
            "won and lost"
        )
    return None


# --- the backtest's pieces ----------------------------------------------------------------


def default_cutoff(closed: FloatArray) -> date:
    """The day after which about TEST_SHARE of the closed deals closed."""
    moment = float(np.quantile(closed, 1 - TEST_SHARE))
    return datetime.fromtimestamp(moment, UTC).date()


def day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def calibration_table(
    predicted: FloatArray, observed: BoolArray, *, bins: int = 10
) -> list[dict[str, float | int]]:
    """Deciles of the predictions: their mean next to the share of them that was won."""
    order = np.argsort(predicted, kind="stable")
    rows: list[dict[str, float | int]] = []
    for chunk in np.array_split(order, bins):
        if not len(chunk):
            continue
        rows.append(
            {
                "n": len(chunk),
                "low": round(float(predicted[chunk].min()), 4),
                "high": round(float(predicted[chunk].max()), 4),
                "predicted": round(float(predicted[chunk].mean()), 4),
                "observed": round(float(observed[chunk].mean()), 4),
            }
        )
    return rows


# --- the baseline: a frequency naive Bayes like Odoo's predictive lead scoring ------------

NB_FIELDS = ("stage", "channel", "region", "tier")  # Odoo's stage, source, country and tags
ODDS_START = 0.1  # Odoo starts a (field, value) pair's won and lost counts at 0.1, not 1


@dataclass(frozen=True)
class NaiveBayes:
    """Won and lost counts per (group, field value), a group being a team in a process.

    Like Odoo's: a won deal counts as won at every stage of its process, a lost one as lost
    at the stage it was lost in and every earlier one, so a process's first stage holds
    every closed deal and gives the prior; each seen pair starts at ODDS_START; a value
    never seen, or unset, is skipped; a team without counts uses its process's pooled ones.
    Keel's processes are separate pipelines, so the tables are per process as well.
    """

    groups: Mapping[tuple[int, int], int]  # (team, process) -> row; team -1: all teams pooled
    values: Mapping[str, Mapping[str, int]]  # field -> value -> column
    won: Mapping[str, FloatArray]  # field -> (groups, values)
    lost: Mapping[str, FloatArray]
    first_stage: Mapping[int, str]  # process -> its first open stage's key
    prior: float  # the share won of the deals it counted: for a deal it cannot score


def _stage_keys(history: History) -> tuple[StrArray, dict[str, tuple[int, int]]]:
    """Each stage's key, and each open stage key's (process, lowest position)."""
    table = history.stages
    keys = np.asarray(table.keys, dtype=np.str_)
    where: dict[str, tuple[int, int]] = {}
    for i, key in enumerate(table.keys):
        if table.is_open[i]:
            known = where.get(key)
            position = int(table.position[i])
            if known is None or position < known[1]:
                where[key] = (int(table.process[i]), position)
    return keys, where


def _last_open_stage(history: History, deals: IntArray) -> IntArray:
    """The open stage each closed deal was in just before it closed (-1 if unknown)."""
    origin = history.origin
    change_keys = _keys(history.change_deal, history.change_at, origin)
    keys = _keys(deals, history.closed[deals], origin)
    last = np.searchsorted(change_keys, keys, side="left") - 1
    safe = np.maximum(last, 0)
    if not len(change_keys):
        return np.full(len(deals), -1, dtype=np.int64)
    ok = (last >= 0) & (history.change_deal[safe] == deals)
    stage = np.where(ok, history.change_to[safe], -1)
    ok &= history.stages.is_open[np.maximum(stage, 0)]
    return np.where(ok, stage, -1).astype(np.int64)


def _team_of(history: History, owners: IntArray) -> IntArray:
    return np.asarray([history.teams.get(int(o), -1) for o in owners], dtype=np.int64)


def naive_bayes_fit(history: History, deals: IntArray) -> NaiveBayes:
    keys, open_keys = _stage_keys(history)
    last = _last_open_stage(history, deals)
    won = history.won[deals]
    owner_now = history.owner[deals]
    teams = _team_of(history, owner_now)
    processes = history.process[deals]
    group_keys = sorted(
        {(int(t), int(p)) for t, p in zip(teams, processes, strict=True)}
        | {(-1, int(p)) for p in processes}
    )
    groups = {key: i for i, key in enumerate(group_keys)}
    own_group = np.asarray(
        [groups[(int(t), int(p))] for t, p in zip(teams, processes, strict=True)], dtype=np.int64
    )
    pooled = np.asarray([groups[(-1, int(p))] for p in processes], dtype=np.int64)

    values: dict[str, dict[str, int]] = {}
    won_counts: dict[str, FloatArray] = {}
    lost_counts: dict[str, FloatArray] = {}

    def tally(name: str, won_at: npt.NDArray[Any], lost_at: npt.NDArray[Any]) -> None:
        """won_at / lost_at: (deal, value column) pairs to count, as index arrays."""
        columns = values[name]
        w = np.zeros((len(groups), len(columns)))
        lo = np.zeros((len(groups), len(columns)))
        for target, pairs in ((w, won_at), (lo, lost_at)):
            if len(pairs):
                rows, cols = pairs[:, 0], pairs[:, 1]
                np.add.at(target, (own_group[rows], cols), 1.0)
                mine = own_group[rows] != pooled[rows]
                np.add.at(target, (pooled[rows][mine], cols[mine]), 1.0)
        seen = (w + lo) > 0
        won_counts[name] = np.where(seen, w + ODDS_START, 0.0)
        lost_counts[name] = np.where(seen, lo + ODDS_START, 0.0)

    # The stage: won at every open stage of the process, lost at its stage and before.
    stage_values = sorted(open_keys)
    values["stage"] = {key: i for i, key in enumerate(stage_values)}
    won_pairs, lost_pairs = [], []
    lost_position = np.asarray(
        [open_keys.get(str(keys[s]), (0, -1))[1] if s >= 0 else -1 for s in last], dtype=np.int64
    )
    for column, key in enumerate(stage_values):
        process, position = open_keys[key]
        in_process = processes == process
        won_pairs.append(np.flatnonzero(in_process & won))
        lost_pairs.append(np.flatnonzero(in_process & ~won & (lost_position >= position)))
        won_pairs[-1] = np.stack([won_pairs[-1], np.full(len(won_pairs[-1]), column)], axis=1)
        lost_pairs[-1] = np.stack([lost_pairs[-1], np.full(len(lost_pairs[-1]), column)], axis=1)
    tally(
        "stage",
        np.concatenate(won_pairs) if won_pairs else np.zeros((0, 2), dtype=np.int64),
        np.concatenate(lost_pairs) if lost_pairs else np.zeros((0, 2), dtype=np.int64),
    )
    for name, column_values in (
        ("channel", history.channel[deals]),
        ("region", history.region[deals]),
        ("tier", history.tier[deals]),
    ):
        present = sorted({str(v) for v in column_values if v})
        values[name] = {value: i for i, value in enumerate(present)}
        code = np.asarray([values[name].get(str(v), -1) for v in column_values], dtype=np.int64)
        rows = np.flatnonzero(code >= 0)
        pairs = np.stack([rows, code[rows]], axis=1)
        tally(name, pairs[won[rows]], pairs[~won[rows]])

    first_stage: dict[int, str] = {}
    for key, (process, position) in open_keys.items():
        best = first_stage.get(process)
        if best is None or position < open_keys[best][1]:
            first_stage[process] = key
    return NaiveBayes(
        groups=groups,
        values=values,
        won=won_counts,
        lost=lost_counts,
        first_stage=first_stage,
        prior=float(won.mean()) if len(won) else 0.5,
    )


def naive_bayes_predict(model: NaiveBayes, history: History, frame: Frame) -> FloatArray:
    """Each snapshot's probability from the frequency tables (the stage as of the moment)."""
    keys = np.asarray(history.stages.keys, dtype=np.str_)
    deals = frame.deal
    field_values = {
        "stage": keys[frame.stage],
        "channel": frame.channel,
        "region": history.region[deals],
        "tier": history.tier[deals],
    }
    pairs = list(zip(_team_of(history, frame.owner), history.process[deals], strict=True))
    own = np.asarray([model.groups.get((int(t), int(p)), -1) for t, p in pairs], dtype=np.int64)
    pooled = np.asarray([model.groups.get((-1, int(p)), -1) for _, p in pairs], dtype=np.int64)
    stage_column = model.values["stage"]
    first = np.asarray(
        [stage_column.get(model.first_stage.get(int(p), ""), -1) for _, p in pairs],
        dtype=np.int64,
    )

    def first_counts(group: IntArray) -> tuple[FloatArray, FloatArray]:
        ok = (group >= 0) & (first >= 0)
        g, f = np.maximum(group, 0), np.maximum(first, 0)
        return (
            np.where(ok, model.won["stage"][g, f], 0.0),
            np.where(ok, model.lost["stage"][g, f], 0.0),
        )

    # A team without won and lost counts in the process uses the process's pooled counts.
    team_won, team_lost = first_counts(own)
    use_pooled = (team_won == 0) | (team_lost == 0)
    group = np.where(use_pooled, pooled, own)
    team_won, team_lost = first_counts(group)
    scorable = (team_won > 0) & (team_lost > 0)
    total = np.where(scorable, team_won + team_lost, 1.0)
    s_won, s_lost = team_won / total, team_lost / total
    g = np.maximum(group, 0)
    for name in NB_FIELDS:
        columns = model.values[name]
        code = np.asarray([columns.get(str(v), -1) for v in field_values[name]], dtype=np.int64)
        c = np.maximum(code, 0)
        won_table, lost_table = model.won[name], model.lost[name]
        if not won_table.shape[1]:
            continue
        w, lo = won_table[g, c], lost_table[g, c]
        if name == "stage":
            total_won, total_lost = team_won, team_lost
        else:
            total_won, total_lost = won_table.sum(axis=1)[g], lost_table.sum(axis=1)[g]
        # A value never seen (in this group), or unset, is skipped, as Odoo does.
        use = scorable & (code >= 0) & ((w > 0) | (lo > 0)) & (total_won > 0) & (total_lost > 0)
        s_won = np.where(use, s_won * w / np.where(use, total_won, 1.0), s_won)
        s_lost = np.where(use, s_lost * lo / np.where(use, total_lost, 1.0), s_lost)
    both = s_won + s_lost
    p = np.where(scorable & (both > 0), s_won / np.where(both > 0, both, 1.0), model.prior)
    # Odoo keeps its probabilities within 0.01% and 99.99%.
    return np.clip(p, 0.0001, 0.9999)


def with_note(score: WinScore, note: str) -> WinScore:
    return replace(score, note=note)
