"""Reads for the bookings forecast: the stage history as arrays, and the forecast itself.

`history_load` reads every stage change and deal once, as NumPy arrays (transitions.History);
the learning, the simulation and the backtest then work on those arrays as of any moment
(transitions.py, simulate.py, backtest.py). `forecast` puts a simulation next to what the
database says of the same period: the bookings already won, the weighted pipeline
(amount × stage probability of the open deals expected to close in it) and the
company's goal for bookings, phased by month (scorecard.rules.month_target).

A deal counts toward a team through its owner's team now and toward a person as its
owner, as on the scorecard (scorecard.selectors.Scope).
"""

import hashlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.db.models import (
    Case,
    Count,
    DecimalField,
    F,
    FloatField,
    Func,
    Max,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast
from django.utils import timezone

from keel.accounts.models import Team, User
from keel.forecast import backtest as backtests
from keel.forecast.backtest import Backtest
from keel.forecast.simulate import Period, PeriodKind, Spread, forecast_run, month_add, spread
from keel.forecast.transitions import (
    DAY,
    FloatArray,
    History,
    IntArray,
    Laws,
    StageSpace,
    booked_between,
    open_at,
)
from keel.pipeline.models import Deal, DealStatus, SalesProcess, Stage, StageChange, StageKind
from keel.scorecard import rules
from keel.scorecard.models import Goal
from keel.scorecard.selectors import COMPANY, Scope, scope_choices

SIMULATIONS = 10_000  # the command's default
MIN_PAGE_SIMULATIONS = 1_000
PAGE_PATHS = 40_000_000  # the page's budget: simulations × open deals, about a second
SEED = 0
CHART_MONTHS = 12
CENT = Decimal("0.01")
BACKTEST_CACHE_SECONDS = 24 * 3600
HISTORY_CACHE_SECONDS = 600


class _Epoch(Func):
    """A datetime as seconds since the epoch, as a float, on SQLite and PostgreSQL."""

    output_field = FloatField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "((julianday(%(expressions)s) - 2440587.5) * 86400.0)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "EXTRACT(EPOCH FROM %(expressions)s)::double precision"
        return self.as_sql(compiler, connection, template=template, **extra)


def stage_space() -> tuple[StageSpace, dict[int, int]]:
    """The open stages of every process's newest version, and the code of every stage of
    every version: matched by name, else an open stage by its place among the open ones;
    won and lost by kind (see transitions.py)."""
    processes = list(SalesProcess.objects.order_by("name").values_list("pk", "name"))
    index = {pk: i for i, (pk, _) in enumerate(processes)}
    rows = list(
        Stage.objects.order_by("version__process_id", "-version__number", "position").values_list(
            "pk",
            "version_id",
            "version__process_id",
            "version__number",
            "name",
            "kind",
            "probability",
            "expected_days",
        )
    )
    newest: dict[int, int] = {}
    for _, _, process, number, *_ in rows:
        newest[process] = max(number, newest.get(process, number))
    names: list[str] = []
    owner: list[int] = []
    probability: list[float] = []
    expected: list[float] = []
    by_name: dict[tuple[int, str], int] = {}
    opens: dict[int, list[int]] = {}
    for process_pk, _ in processes:
        for _, _, process, number, name, kind, chance, days in rows:
            if process != process_pk or number != newest[process] or kind != StageKind.OPEN:
                continue
            code = len(names)
            names.append(name)
            owner.append(index[process])
            probability.append(chance / 100)
            expected.append(float("nan") if days is None else float(days))
            by_name[(process, name.strip().casefold())] = code
            opens.setdefault(process, []).append(code)
    space = StageSpace(
        processes=tuple(name for _, name in processes),
        names=tuple(names),
        process=np.array(owner, dtype=np.int64),
        probability=np.array(probability, dtype=np.float64),
        expected_days=np.array(expected, dtype=np.float64),
    )
    codes: dict[int, int] = {}
    place: dict[int, int] = {}
    for pk, version, process, _, name, kind, *_ in rows:
        if kind == StageKind.WON:
            codes[pk] = space.won
        elif kind == StageKind.LOST or not opens.get(process):
            codes[pk] = space.lost
        else:
            rank = place.get(version, 0)
            place[version] = rank + 1
            found = by_name.get((process, name.strip().casefold()))
            codes[pk] = (
                found if found is not None else opens[process][min(rank, len(opens[process]) - 1)]
            )
    return space, codes


def _array(rows: QuerySet[Any, Any]) -> FloatArray:
    """A values_list of numbers as a float array (NULL as NaN), read through the cursor:
    Django's per-row conversion would take most of the time on 100,000s of rows."""
    sql, params = rows.query.sql_with_params()
    with connections[rows.db].cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    width = len(rows.query.values_select) + len(rows.query.annotation_select)
    return np.array(found, dtype=np.float64).reshape(len(found), width)


def history_load() -> History:
    """Every stage change and deal, as arrays: three queries, however many rows."""
    space, codes = stage_space()
    by_name = SalesProcess.objects.order_by("name").values_list("pk", flat=True)
    process_index = {pk: i for i, pk in enumerate(by_name)}
    process_ids = np.array(sorted(process_index), dtype=np.int64)
    process_of = np.array([process_index[pk] for pk in process_ids.tolist()], dtype=np.int64)
    booked = Q(amount__isnull=False, currency=settings.KEEL_CURRENCY)
    deals = _array(
        Deal.objects.order_by("pk").values_list(
            "pk",
            "process_id",
            "owner_id",
            _Epoch("created_at"),
            Case(When(booked, then=Cast("amount", FloatField())), default=Value(0.0)),
            Case(When(status=DealStatus.WON, then=_Epoch("closed_at")), default=Value(None)),
        )
    )
    changes = _array(
        StageChange.objects.order_by("deal_id", "at", "pk").values_list(
            "deal_id", "to_stage_id", _Epoch("at")
        )
    )
    deal_id = deals[:, 0].astype(np.int64)
    stage_ids = np.array(sorted(codes), dtype=np.int64)
    stage_codes = np.array([codes[pk] for pk in stage_ids.tolist()], dtype=np.int64)
    return History(
        space=space,
        change_deal=np.searchsorted(deal_id, changes[:, 0].astype(np.int64)).astype(np.int64),
        change_code=stage_codes[np.searchsorted(stage_ids, changes[:, 1].astype(np.int64))],
        change_at=changes[:, 2].copy(),
        deal_id=deal_id,
        deal_process=process_of[np.searchsorted(process_ids, deals[:, 1].astype(np.int64))],
        deal_owner=deals[:, 2].astype(np.int64),
        deal_created=deals[:, 3].copy(),
        deal_amount=deals[:, 4].copy(),
        deal_won_at=deals[:, 5].copy(),
    )


def _fingerprint() -> str:
    """Changes whenever a deal, a stage change or a stage is added, removed or saved."""
    changes = StageChange.objects.aggregate(n=Count("pk"), last=Max("pk"))
    deals = Deal.objects.aggregate(n=Count("pk"), last=Max("updated_at"))
    stages = Stage.objects.aggregate(n=Count("pk"), last=Max("pk"))
    state = ":".join(str(v) for part in (changes, deals, stages) for v in (part["n"], part["last"]))
    return hashlib.sha256(f"{settings.KEEL_CURRENCY}:{state}".encode()).hexdigest()


def history_cached() -> History:
    """history_load, kept in the cache for HISTORY_CACHE_SECONDS for as long as no deal,
    stage change or stage is added, removed or saved (three aggregate queries tell)."""
    key = f"forecast-history-{_fingerprint()}"
    found = cache.get(key)
    if isinstance(found, History):
        return found
    history = history_load()
    cache.set(key, history, timeout=HISTORY_CACHE_SECONDS)
    return history


# --- the forecast of a period -------------------------------------------------------------


def _instant(day: date) -> float:
    """Midnight starting `day` in Keel's time zone, in seconds since the epoch."""
    return backtests.instant(day, timezone.get_default_timezone())


def chart_months(period: Period) -> list[date]:
    """The months the fan chart covers: a year's own, else the 12 from the period's first."""
    if period.kind == PeriodKind.YEAR:
        return period.months
    return [month_add(period.first, i) for i in range(CHART_MONTHS)]


def page_simulations(open_deals: int) -> int:
    """How many simulations the page runs: as many as fit PAGE_PATHS deal-paths, in
    steps of 500, at least MIN_PAGE_SIMULATIONS and at most SIMULATIONS."""
    fitting = PAGE_PATHS // max(1, open_deals) // 500 * 500
    return max(MIN_PAGE_SIMULATIONS, min(SIMULATIONS, fitting))


@dataclass(frozen=True)
class Forecast:
    """A period's bookings forecast, per owner and month, with what the database says.

    `simulated[s, o, m]` is what simulation s books for owner o in month m after `as_of`;
    `booked[o, m]` what was won before `as_of`. A scope's figures add both over its owners.
    """

    period: Period
    as_of: datetime
    simulations: int
    months: list[date]
    owners: list[int]  # user ids, in the order of the owner axis
    simulated: FloatArray
    booked: FloatArray
    weighted: dict[int, Decimal]  # the period's weighted pipeline per owner (user id)
    goals: dict[date, Decimal]  # the company's goal for bookings per month, where one is set
    open_deals: int
    laws: Laws | None  # None when every month is over: nothing was simulated

    def _columns(self, owners: Collection[int] | None) -> IntArray:
        if owners is None:
            return np.arange(len(self.owners), dtype=np.int64)
        return np.array([i for i, pk in enumerate(self.owners) if pk in owners], dtype=np.int64)

    def _months(self, months: Sequence[date] | None) -> IntArray:
        wanted = self.period.months if months is None else months
        return np.array([i for i, m in enumerate(self.months) if m in wanted], dtype=np.int64)

    def monthly(self, owners: Collection[int] | None = None) -> FloatArray:
        """(simulations, months): the scope's bookings month by month."""
        columns = self._columns(owners)
        found: FloatArray = self.simulated[:, columns, :].sum(axis=1)
        found += self.booked[columns].sum(axis=0)
        return found

    def spread(self, owners: Collection[int] | None = None) -> Spread:
        """The scope's bookings over the period."""
        return spread(self.monthly(owners)[:, self._months(None)].sum(axis=1))

    def spreads(self) -> dict[int, Spread]:
        """Every owner's bookings over the period, by user id, computed together."""
        months = self._months(None)
        totals = self.simulated[:, :, months].sum(axis=2) + self.booked[:, months].sum(axis=1)
        p10, p50, p90 = np.percentile(totals, [10, 50, 90], axis=0)
        mean = totals.mean(axis=0)
        return {
            pk: Spread(p10=float(p10[i]), p50=float(p50[i]), p90=float(p90[i]), mean=float(mean[i]))
            for i, pk in enumerate(self.owners)
        }

    def booked_so_far(self, owners: Collection[int] | None = None) -> float:
        return float(self.booked[self._columns(owners)][:, self._months(None)].sum())

    def weighted_pipeline(self, owners: Collection[int] | None = None) -> Decimal:
        return sum(
            (v for pk, v in self.weighted.items() if owners is None or pk in owners), Decimal(0)
        )

    @property
    def goal(self) -> Decimal | None:
        """The company's goal for the period: its months' phased targets (None if any
        month has no goal)."""
        if not all(m in self.goals for m in self.period.months):
            return None
        return sum((self.goals[m] for m in self.period.months), Decimal(0))

    @property
    def is_past(self) -> bool:
        """The period is over: its figures are what was booked in it."""
        return _instant(self.period.end) <= self.as_of.timestamp()


def goals_by_month(months: Iterable[date]) -> dict[date, Decimal]:
    """The company's goal for bookings in each month, phased by the goal's phasing."""
    months = list(months)
    goals = {
        goal.year: goal
        for goal in Goal.objects.filter(metric__key="bookings", year__in={m.year for m in months})
    }
    return {
        m: rules.month_target(
            target=Decimal(goal.target), phasing=goal.phasing, weights=goal.weights, month=m.month
        )
        for m in months
        if (goal := goals.get(m.year)) is not None
    }


def weighted_pipeline(*, period: Period, today: date) -> dict[int, Decimal]:
    """Per owner: amount × stage probability of the open deals expected to close in the
    period (in the business's currency); an overdue deal counts in the period of today."""
    due = Q(expected_close__gte=period.first, expected_close__lt=period.end)
    if period.first <= today < period.end:
        due |= Q(expected_close__lt=today)
    rows = (
        Deal.objects.filter(due, status=DealStatus.OPEN, amount__isnull=False)
        .filter(currency=settings.KEEL_CURRENCY)
        .values("owner_id")
        .annotate(total=Sum(F("amount") * F("stage__probability"), output_field=DecimalField()))
    )
    return {row["owner_id"]: (Decimal(row["total"]) / 100).quantize(CENT) for row in rows}


def forecast(
    *,
    period: Period,
    simulations: int | None = None,
    seed: int = SEED,
    history: History | None = None,
    as_of: datetime | None = None,
) -> Forecast:
    """The forecast of `period` as of now: simulated after now, booked before.

    Without `simulations`, as many as the page runs (page_simulations). Without `history`,
    the cached one (history_cached).
    """
    as_of = as_of or timezone.now()
    history = history if history is not None else history_cached()
    at = as_of.timestamp()
    months = chart_months(period)
    starts = np.array([_instant(m) for m in months] + [_instant(month_add(months[-1], 1))])
    booked_deals, booked_amounts = booked_between(
        history, start=float(starts[0]), end=min(at, float(starts[-1]))
    )
    booked_owners = history.deal_owner[booked_deals]
    booked_month = np.searchsorted(starts, history.deal_won_at[booked_deals], side="right") - 1
    weighted = weighted_pipeline(period=period, today=timezone.localdate(as_of))
    laws: Laws | None = None
    open_deals = 0
    run_owners = np.zeros(0, dtype=np.int64)
    if starts[-1] > at:
        edges = np.concatenate([[0.0], np.maximum(0.0, (starts - at) / DAY)])
        if simulations is None:
            current = open_at(history, at=at)
            simulations = page_simulations(int((history.deal_amount[current.deal] > 0).sum()))
        run = forecast_run(history, at=at, edges=edges, simulations=simulations, seed=seed)
        laws, open_deals, run_owners = run.laws, run.open_deals, run.owners
    else:
        simulations = 1
    owners = sorted({*run_owners.tolist(), *booked_owners.tolist(), *weighted})
    column = {pk: i for i, pk in enumerate(owners)}
    simulated = np.zeros((simulations, len(owners), len(months)))
    if laws is not None:
        # Bins: before the first month, each month, after the last.
        simulated[:, [column[pk] for pk in run_owners.tolist()], :] = run.totals[:, :, 1:-1]
    booked = np.zeros((len(owners), len(months)))
    rows = np.array([column[pk] for pk in booked_owners.tolist()], dtype=np.int64)
    np.add.at(booked, (rows, booked_month), booked_amounts)
    return Forecast(
        period=period,
        as_of=as_of,
        simulations=simulations,
        months=months,
        owners=owners,
        simulated=simulated,
        booked=booked,
        weighted=weighted,
        goals=goals_by_month(months),
        open_deals=open_deals,
        laws=laws,
    )


# --- by team and person -------------------------------------------------------------------


@dataclass(frozen=True)
class ForecastRow:
    """A team's or a person's line of the forecast table."""

    label: str
    scope: Scope
    forecast: Spread
    booked: float
    weighted: Decimal


def forecast_rows(
    *, result: Forecast, viewer: User | None, scope: Scope = COMPANY
) -> list[ForecastRow]:
    """The teams and people within `scope` whose figures `viewer` may see (the scorecard's
    access rules; everyone's without a viewer, as on the command line), each team then
    each person; people with nothing forecast, booked or in the pipeline are left out."""
    if viewer is not None:
        teams, people = scope_choices(viewer)
    else:
        teams = list(Team.objects.order_by("name"))
        people = list(
            User.objects.filter(pk__in=result.owners).order_by(
                "first_name", "last_name", "username"
            )
        )
    if scope.person is not None:
        return []
    if scope.team is not None:
        teams = []
        people = [p for p in people if p.team_id == scope.team.pk]
    members: dict[int, set[int]] = {}
    for pk, team_id in User.objects.filter(team__in=teams).values_list("pk", "team_id"):
        members.setdefault(team_id, set()).add(pk)
    rows = [
        ForecastRow(
            label=f"Team {team.name}",
            scope=Scope(team=team),
            forecast=result.spread(members.get(team.pk, set())),
            booked=result.booked_so_far(members.get(team.pk, set())),
            weighted=result.weighted_pipeline(members.get(team.pk, set())),
        )
        for team in teams
    ]
    spreads = result.spreads()
    for person in people:
        if person.pk not in spreads:
            continue
        rows.append(
            ForecastRow(
                label=person.get_full_name() or person.username,
                scope=Scope(person=person),
                forecast=spreads[person.pk],
                booked=result.booked_so_far({person.pk}),
                weighted=result.weighted_pipeline({person.pk}),
            )
        )
    return rows


def scope_owners(scope: Scope) -> set[int] | None:
    """The user ids whose deals count for `scope`; None for everyone's."""
    owners = scope.owners()
    return None if owners is None else set(owners)


# --- the backtest -------------------------------------------------------------------------


def backtest(
    *,
    today: date | None = None,
    simulations: int = backtests.SIMULATIONS,
    months: int = backtests.MONTHS,
    quarters: int = backtests.QUARTERS,
    history: History | None = None,
    cached: bool = True,
) -> Backtest:
    """The backtest as of `today` (backtest.py); kept in the cache for the day, for as long
    as no deal, stage change or stage changes."""
    today = today or timezone.localdate()
    key = f"forecast-backtest-{today}-{simulations}-{months}-{quarters}-{_fingerprint()}"
    if cached and (found := cache.get(key)) is not None:
        assert isinstance(found, Backtest)  # noqa: S101 - only this function writes the key
        return found
    result = backtests.backtest_run(
        history if history is not None else history_cached() if cached else history_load(),
        today=today,
        zone=timezone.get_default_timezone(),
        months=months,
        quarters=quarters,
        simulations=simulations,
    )
    if cached:
        cache.set(key, result, timeout=BACKTEST_CACHE_SECONDS)
    return result
