"""Stalled deals read from the database: the thresholds, the lists, the counts, the trend.

Stages are matched across the versions of a process by name (case aside): a new version
keeps the open deals in the stage of the same name (pipeline.services.process_import), so
"Proposal" of version 1 and of version 2 share one history and one threshold. A renamed
stage starts a history of its own.

The thresholds come from the whole stage history (one query, values only, the arithmetic
in NumPy and SciPy; about half a second on the large demo's 356k stage changes) and are
kept in Django's cache for the hour; a page reads them once (`stall_thresholds`) and hands
them to every selector it calls. Whether a deal is stalled is decided in the
database (its stage and `stage_entered_at`, its latest activity, its expected close), so
a list never loads the open pipeline into Python to test each deal; the reasons are then
worded for the rows shown only (stall_rules.stall_reasons).
"""

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.core.cache import caches
from django.db.models import (
    Case,
    Count,
    Exists,
    FloatField,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    When,
)
from django.utils import timezone

from keel.accounts.models import User
from keel.activities.models import Activity
from keel.forecast import stall_rules
from keel.forecast.models import StallCount
from keel.forecast.stall_rules import Reason, Threshold, Why
from keel.pipeline.access import deals_visible_to
from keel.pipeline.models import Deal, DealStatus, Stage, StageChange, StageKind

CACHE_SECONDS = 3600
MY_DAY_LIMIT = 10


class EpochSeconds(Func):
    """A timestamp as seconds since 1970 (a float): NumPy takes these without a datetime
    per row, which is what makes reading the whole stage history quick."""

    output_field = FloatField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "((julianday(%(expressions)s) - 2440587.5) * 86400.0)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "EXTRACT(EPOCH FROM %(expressions)s)::double precision"
        return self.as_sql(compiler, connection, template=template, **extra)


@dataclass(frozen=True)
class StallThresholds:
    """Each open stage's threshold, by stage id (every version's stage of the same name)."""

    by_stage: dict[int, Threshold]
    stages: list[tuple[str, Threshold]]  # (process, threshold) once per stage, in order
    computed_at: datetime
    seconds: float  # how long reading the history and estimating took
    stints: int  # the stints read

    def for_stage(self, stage_id: int) -> Threshold | None:
        return self.by_stage.get(stage_id)

    def dwell(self, *, now: datetime) -> Q:
        """Deals past their stage's threshold, as a filter: one term per distinct threshold."""
        stages: dict[int, list[int]] = defaultdict(list)
        for stage_id, threshold in self.by_stage.items():
            stages[threshold.days].append(stage_id)
        condition = Q(pk__in=[])
        for days, ids in sorted(stages.items()):
            cutoff = now - timedelta(days=days + 1)
            condition |= Q(stage_id__in=sorted(ids), stage_entered_at__lte=cutoff)
        return condition


@dataclass(frozen=True)
class StalledDeal:
    deal: Deal
    reasons: list[Reason]

    @property
    def summary(self) -> str:
        return " · ".join(reason.text for reason in self.reasons)

    @property
    def whys(self) -> set[str]:
        return {reason.why.value for reason in self.reasons}


@dataclass
class Tally:
    """One stage and owner's open and stalled deals, as the nightly record keeps them."""

    stage_id: int
    owner_id: int
    open_deals: int
    stalled: int
    by_reason: dict[str, int] = field(default_factory=dict)


# --- thresholds ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _StageKey:
    """A stage as every version of its process knows it, as the newest version has it."""

    process: str
    name: str
    position: int
    expected_days: int | None


def _stage_keys() -> tuple[dict[int, int], list[_StageKey], set[int]]:
    """Each stage id's key index, the keys, and the open stages' ids."""
    rows = Stage.objects.order_by("version__process_id", "version__number").values_list(
        "id", "version__process_id", "version__process__name", "name", "position", "kind",
        "expected_days",
    )  # fmt: skip
    index: dict[tuple[int, str], int] = {}
    keys: list[_StageKey] = []
    key_of: dict[int, int] = {}
    open_ids: set[int] = set()
    for stage_id, process_id, process, name, position, kind, expected in rows:
        key = (process_id, name.casefold())
        if key not in index:
            index[key] = len(keys)
            keys.append(_StageKey(process, name, position, expected))
        keys[index[key]] = _StageKey(process, name, position, expected)  # the newest wins
        key_of[stage_id] = index[key]
        if kind == StageKind.OPEN:
            open_ids.add(stage_id)
    return key_of, keys, open_ids


def _thresholds_compute(*, now: datetime) -> StallThresholds:
    started = time.perf_counter()
    key_of, keys, open_ids = _stage_keys()
    history = (
        StageChange.objects.filter(deal__status__in=[DealStatus.WON, DealStatus.OPEN])
        .order_by("deal_id", "at", "id")
        .values_list("deal_id", "to_stage_id", EpochSeconds("at"), "deal__status")
    )
    rows = list(history)
    size = max(key_of, default=0) + 1
    key_lookup = np.full(size, -1, dtype=np.int64)
    open_lookup = np.zeros(size, dtype=bool)
    for stage_id, key in key_of.items():
        key_lookup[stage_id] = key
        open_lookup[stage_id] = stage_id in open_ids
    n = len(rows)
    stage = np.fromiter((r[1] for r in rows), np.int64, n)
    won = np.fromiter((r[3] == DealStatus.WON for r in rows), np.bool_, n)
    stints = stall_rules.stints_from_history(
        deal=np.fromiter((r[0] for r in rows), np.int64, n),
        key=key_lookup[stage],
        at=np.fromiter((r[2] for r in rows), np.float64, n),
        won=won,
        still_open=~won,  # the history read holds won and open deals only
        open_stage=open_lookup[stage],
        now=now.timestamp(),
    )
    order = np.argsort(stints.key, kind="stable")
    sorted_keys = stints.key[order]
    bounds = np.searchsorted(sorted_keys, np.arange(len(keys) + 1))
    by_key: dict[int, Threshold] = {}
    for key in {key_of[s] for s in open_ids}:
        part = order[bounds[key] : bounds[key + 1]]
        by_key[key] = stall_rules.dwell_threshold(
            stage=keys[key].name,
            days=stints.days[part],
            ended=stints.ended[part],
            percentile=settings.KEEL_STALL_PERCENTILE,
            min_completed=settings.KEEL_STALL_MIN_STINTS,
            expected_days=keys[key].expected_days,
        )
    listed = sorted(by_key, key=lambda k: (keys[k].process, keys[k].position))
    return StallThresholds(
        by_stage={stage_id: by_key[key_of[stage_id]] for stage_id in open_ids},
        stages=[(keys[k].process, by_key[k]) for k in listed],
        computed_at=now,
        seconds=time.perf_counter() - started,
        stints=len(stints.key),
    )


def stall_thresholds(*, now: datetime | None = None, fresh: bool = False) -> StallThresholds:
    """The stall threshold of every open stage, from the cache if computed this hour.

    A distribution learned over years of history hardly moves in an hour, so the moves
    made meanwhile do not recompute it (with the key on the newest stage change, every
    move would make the next board pay for the whole history). The key holds the newest
    stage (a new process version brings new stages), the settings and the hour; `fresh`
    recomputes, as the nightly record does.
    """
    now = now or timezone.now()
    newest = Stage.objects.order_by("-id").values_list("id", flat=True).first()
    key = "keel:stall-thresholds:" + ":".join(
        str(part)
        for part in (
            newest,
            settings.KEEL_STALL_PERCENTILE,
            settings.KEEL_STALL_MIN_STINTS,
            now.strftime("%Y%m%d%H"),
        )
    )
    if not fresh:
        cached = caches["local"].get(key)
        if isinstance(cached, StallThresholds):
            return cached
    thresholds = _thresholds_compute(now=now)
    caches["local"].set(key, thresholds, CACHE_SECONDS)  # each process's own: cheap to redo
    return thresholds


# --- which deals are stalled ----------------------------------------------------------------


def _conditions(*, thresholds: StallThresholds, now: datetime) -> dict[Why, Q]:
    """The three rules as filters on Deal, each the database side of stall_rules."""
    idle_cut = stall_rules.idle_cutoff(now=now, idle_days=settings.KEEL_STALL_IDLE_DAYS)
    recent = Activity.objects.filter(deal=OuterRef("pk"), at__gt=idle_cut)
    # In this order the database tests the cheap columns first and looks for a recent
    # activity (one index probe per deal) only for the deals they leave.
    return {
        Why.DWELL: thresholds.dwell(now=now),
        Why.OVERDUE: Q(expected_close__lt=timezone.localdate(now)),
        Why.IDLE: Q(created_at__lte=idle_cut) & ~Q(Exists(recent)),
    }


def _stalled(*, thresholds: StallThresholds, now: datetime) -> Q:
    conditions = _conditions(thresholds=thresholds, now=now)
    return conditions[Why.DWELL] | conditions[Why.OVERDUE] | conditions[Why.IDLE]


def stalled_deals(
    *,
    deals: QuerySet[Deal],
    thresholds: StallThresholds,
    now: datetime,
    owner_id: int | None = None,
    stage: str = "",
    process_id: int | None = None,
) -> QuerySet[Deal]:
    """The stalled open deals among `deals` (already narrowed to what a user may read),
    by owner, then process and stage, longest in the stage first."""
    found = deals.filter(status=DealStatus.OPEN).filter(_stalled(thresholds=thresholds, now=now))
    if owner_id is not None:
        found = found.filter(owner_id=owner_id)
    if stage:
        found = found.filter(stage__name__iexact=stage.strip())
    if process_id is not None:
        found = found.filter(process_id=process_id)
    return found.select_related("owner", "company", "stage", "process").order_by(
        "owner__first_name",
        "owner__last_name",
        "owner_id",
        "process_id",
        "stage__position",
        "stage_entered_at",
        "id",
    )


def stalled_visible(
    *,
    user: User,
    thresholds: StallThresholds,
    now: datetime,
    owner_id: int | None = None,
    stage: str = "",
    process_id: int | None = None,
) -> QuerySet[Deal]:
    """The stalled open deals `user` may read (pipeline.access.deals_visible_to)."""
    return stalled_deals(
        deals=deals_visible_to(user),
        thresholds=thresholds,
        now=now,
        owner_id=owner_id,
        stage=stage,
        process_id=process_id,
    )


def _last_touches(deal_ids: Iterable[int]) -> dict[int, datetime]:
    rows = (
        Activity.objects.filter(deal_id__in=list(deal_ids))
        .values("deal_id")
        .annotate(last=Max("at"))
        .order_by()
        .values_list("deal_id", "last")
    )
    return {deal_id: last for deal_id, last in rows if deal_id is not None}


def stall_marks(
    *, deals: Sequence[Deal], thresholds: StallThresholds, now: datetime
) -> dict[int, list[Reason]]:
    """Why each of `deals` is stalled (a shown page, a board's cards): one query for their
    latest activities, the rules in Python. A deal that is not stalled maps to []."""
    touched = _last_touches(d.pk for d in deals if d.status == DealStatus.OPEN)
    today = timezone.localdate(now)
    marks: dict[int, list[Reason]] = {}
    for deal in deals:
        if deal.status != DealStatus.OPEN:
            marks[deal.pk] = []
            continue
        last = touched.get(deal.pk)
        marks[deal.pk] = stall_rules.stall_reasons(
            stage=deal.stage.name,
            entered=deal.stage_entered_at,
            threshold=thresholds.for_stage(deal.stage_id),
            last_touch=max(last, deal.created_at) if last else deal.created_at,
            touched=last is not None,
            idle_days=settings.KEEL_STALL_IDLE_DAYS,
            expected_close=deal.expected_close,
            today=today,
            now=now,
        )
    return marks


def stalled_rows(
    *, deals: Sequence[Deal], thresholds: StallThresholds, now: datetime
) -> list[StalledDeal]:
    """The deals with their reasons, for a page of `stalled_deals`."""
    marks = stall_marks(deals=deals, thresholds=thresholds, now=now)
    return [StalledDeal(deal=deal, reasons=marks[deal.pk]) for deal in deals]


def stalled_by_stage(
    *, deals: QuerySet[Deal], thresholds: StallThresholds, now: datetime
) -> dict[int, int]:
    """How many of `deals` are stalled, per stage id: the board's column counts."""
    found = deals.filter(status=DealStatus.OPEN).filter(_stalled(thresholds=thresholds, now=now))
    rows = found.values("stage_id").annotate(n=Count("id")).order_by()
    return {row["stage_id"]: row["n"] for row in rows}


def my_stalled(
    *, user: User, thresholds: StallThresholds, now: datetime, limit: int = MY_DAY_LIMIT
) -> tuple[list[StalledDeal], int]:
    """`user`'s own stalled deals for my day (the longest in their stage first, up to
    `limit`) and how many there are in all: the rules run once, over their ids."""
    mine = stalled_deals(deals=Deal.objects.filter(owner=user), thresholds=thresholds, now=now)
    ids = list(mine.order_by("stage_entered_at", "id").values_list("pk", flat=True))
    shown = mine.in_bulk(ids[:limit])
    deals = [shown[pk] for pk in ids[:limit] if pk in shown]
    return stalled_rows(deals=deals, thresholds=thresholds, now=now), len(ids)


def stall_tally(*, thresholds: StallThresholds, now: datetime) -> list[Tally]:
    """Every open deal counted per stage and owner: how many, how many stalled and by which
    rule (a deal stalled for two reasons counts once in `stalled`, once under each)."""
    conditions = _conditions(thresholds=thresholds, now=now)

    def flag(condition: Q) -> Sum:
        return Sum(Case(When(condition, then=1), default=0, output_field=IntegerField()))

    rows = (
        Deal.objects.filter(status=DealStatus.OPEN)
        .values("stage_id", "owner_id")
        .annotate(
            open_deals=Count("id"),
            stalled=flag(_stalled(thresholds=thresholds, now=now)),
            **{why.value: flag(condition) for why, condition in conditions.items()},
        )
        .order_by("stage_id", "owner_id")
    )
    return [
        Tally(
            stage_id=row["stage_id"],
            owner_id=row["owner_id"],
            open_deals=row["open_deals"],
            stalled=row["stalled"] or 0,
            by_reason={why.value: row[why.value] or 0 for why in Why},
        )
        for row in rows
    ]


# --- the trend ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendPoint:
    day: date
    open_deals: int
    stalled: int


def stall_trend(
    *,
    user: User,
    since: date,
    owner_id: int | None = None,
    stage: str = "",
    process_id: int | None = None,
) -> list[TrendPoint]:
    """The nightly records since `since`, summed per day over the owners whose deals `user`
    may read (and the filters of the page)."""
    owners = User.objects.filter(Exists(deals_visible_to(user).filter(owner=OuterRef("pk"))))
    counts = StallCount.objects.filter(day__gte=since, owner__in=owners.values("pk"))
    if owner_id is not None:
        counts = counts.filter(owner_id=owner_id)
    if stage:
        counts = counts.filter(stage__name__iexact=stage.strip())
    if process_id is not None:
        counts = counts.filter(stage__version__process_id=process_id)
    rows = (
        counts.values("day")
        .annotate(open_deals=Sum("open_deals"), stalled=Sum("stalled"))
        .order_by("day")
    )
    return [TrendPoint(r["day"], r["open_deals"] or 0, r["stalled"] or 0) for r in rows]
