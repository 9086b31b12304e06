"""Build the demo business into the database: wipe the old demo, simulate, bulk insert.

The rows come from `keel.demo.simulate` as plain tuples and go in through the driver's
bulk path (`keel.core.bulk.rows_load`), in one transaction, with primary keys assigned by
the simulation (counting on from the highest id in each table) so rows link to each other
without reading anything back. Nothing goes through `full_clean` or the services: the
simulation keeps the invariants itself, and the tests check them on the stored rows.

Once the rows are in, the owner imports the whale-hunting plan, with four months of its
work behind it (`keel.demo.plan`), and sets this year's goals through the scorecard's
service, from last year's figures as the scorecard reads them (`demo_goals_set`).
"""

import gc
import time as clock
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone

from keel.accounts.models import Team, User
from keel.activities.models import Activity, CompletionPlanStep, Task
from keel.collateral.models import (
    Collateral,
    CollateralFile,
    CollateralRequest,
    CollateralUse,
    ShareLink,
    ShareView,
)
from keel.core.bulk import rows_load
from keel.core.exceptions import KeelError
from keel.core.models import AuditEntry, InstanceSetting
from keel.crm.models import Company, Contact
from keel.crm.services import funnel_recompute
from keel.demo.collateral import CollateralSummary, demo_collateral_build, demo_files_delete
from keel.demo.marketing import MarketingSummary, demo_marketing_build
from keel.demo.plan import PlanSummary, demo_plan_build
from keel.demo.simulate import (
    CAST,
    DEMO_METRICS,
    PASSWORD,
    TABLES,
    TEAMS,
    DemoRows,
    PlanStep,
    ProcessInfo,
    Progress,
    StageInfo,
    World,
    demo_simulate,
)
from keel.leads.icp import ICP_KEY
from keel.leads.models import (
    Campaign,
    DefinitionApproval,
    Handoff,
    LeadDefinition,
    LeadForm,
    MarketingEvent,
    Qualification,
    RoutingRule,
)
from keel.leads.routing import POLICY_KEY
from keel.pipeline.models import (
    ChecklistTick,
    Deal,
    DealContact,
    DealStatus,
    ProcessKind,
    ProcessVersion,
    SalesProcess,
    Stage,
    StageChange,
)
from keel.pipeline.rules import criteria_from_stored
from keel.pipeline.selectors import process_current_version, version_stages
from keel.planning.models import (
    CheckIn,
    Dossier,
    Occurrence,
    Section,
    Strategy,
    Tactic,
    TacticalPlan,
    TradeOffRule,
)
from keel.planning.models import Goal as PlanGoal
from keel.scorecard.models import Goal, Metric, Phasing, Unit
from keel.scorecard.rules import month_start, previous_month
from keel.scorecard.selectors import scorecard, trend
from keel.scorecard.services import goal_set

DEMO_KEY = "demo"  # the InstanceSetting that marks a database as a generated demo
CHUNK = 20_000  # rows written between progress reports
# Rows the demo owns: wiped before a rebuild. Teams and users are deleted by name, the
# demo's own metrics (with their values) by key.
DOMAIN_MODELS: Sequence[type[models.Model]] = (
    ShareView,
    ShareLink,
    CollateralUse,
    CollateralRequest,
    CollateralFile,
    Collateral,
    Handoff,
    RoutingRule,
    Qualification,
    DefinitionApproval,
    LeadDefinition,
    LeadForm,
    Campaign,
    CheckIn,
    TradeOffRule,
    Section,
    Dossier,
    Occurrence,
    Tactic,
    TacticalPlan,
    Strategy.goals.through,
    Strategy,
    PlanGoal,
    MarketingEvent,
    Goal,
    Task,
    Activity,
    ChecklistTick,
    DealContact,
    StageChange,
    Deal,
    Contact,
    Company,
    AuditEntry,
)
DEMO_METRIC_KEYS = tuple(m.key for m in DEMO_METRICS)

# This year's goals: last year's figure times the owner's ambition for it. Deals and
# bookings follow last year's seasons month by month, the other counts are even.
# Each main metric's goal over the latest twelve months' figures: the owner aims higher
# where marketing and closing lag, and holds the activity the team already delivers.
GOAL_GROWTH: Mapping[str, Decimal] = {
    "website_visitors": Decimal("1.10"),
    "inbound_inquiries": Decimal("1.10"),
    "qualified_conversations": Decimal("1.15"),
    "calls": Decimal("1.05"),
    "presentations_given": Decimal("1.05"),
    "proposals_submitted": Decimal("1.05"),
    "deals_won": Decimal("1.10"),
    "new_customers": Decimal("1.05"),
    "bookings": Decimal("1.10"),
}
SEASONAL_GOALS = frozenset({"deals_won", "bookings"})
CLOSE_RATE_GAIN = Decimal(3)  # percentage points above last year's close rate
CYCLE_CUT = Decimal("0.9")  # the sales cycle a tenth shorter than last year's


@dataclass(frozen=True)
class DemoSummary:
    size: str
    seed: int
    today: date
    counts: dict[str, int]  # rows per table, in insertion order
    deals_by_status: dict[str, int]
    seconds: float
    username: str
    password: str
    logins: tuple[str, ...]  # every other person's username, same password
    goals: int = 0  # this year's goals set
    plan: PlanSummary | None = None  # the whale-hunting plan and its work so far
    marketing: MarketingSummary | None = None  # campaigns, definitions, hand-offs
    collateral: CollateralSummary | None = None  # the library and its use
    phases: dict[str, float] = field(default_factory=dict)  # seconds per progress phase

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


class DemoRefused(KeelError):
    """Building the demo here would destroy data no demo made, or has nothing to build on."""


# --- reads ------------------------------------------------------------------------------


def demo_marker() -> dict[str, Any] | None:
    """What the last `keel demo` recorded (size, seed, today, built_at), or None."""
    setting = InstanceSetting.objects.filter(key=DEMO_KEY).first()
    return dict(setting.value) if setting is not None else None


def demo_foreign_data() -> list[str]:
    """What in this database a demo build would destroy although no demo made it."""
    if demo_marker() is not None:
        return []
    found = []
    for model in (Company, Contact, Deal, Activity, Task, MarketingEvent, Goal, TacticalPlan):
        count = model._default_manager.count()
        if count:
            name = model._meta.verbose_name if count == 1 else model._meta.verbose_name_plural
            found.append(f"{count:,} {name}")
    usernames = sorted(
        User.objects.filter(username__in=[p.username for p in CAST]).values_list(
            "username", flat=True
        )
    )
    if usernames:
        found.append(f"users named like the demo's ({', '.join(usernames)})")
    if Team.objects.filter(name__in=TEAMS).exists():
        found.append(f"a team named {' or '.join(TEAMS)}")
    keys = sorted(Metric.objects.filter(key__in=DEMO_METRIC_KEYS).values_list("key", flat=True))
    if keys:
        found.append(f"metrics keyed like the demo's ({', '.join(keys)})")
    return found


def world_load(*, password_hash: str | None = None) -> World:
    """What the simulation needs from the database: processes, first free ids, a password."""
    processes = {}
    for process in SalesProcess.objects.filter(is_active=True).order_by("id"):
        version = process_current_version(process=process)
        if version is None or process.kind in processes:
            continue
        steps: dict[int, list[PlanStep]] = {}
        for step in CompletionPlanStep.objects.filter(plan__stages__version=version).distinct():
            steps.setdefault(step.plan_id, []).append(
                PlanStep(step.pk, step.title, step.role, step.due_days)
            )
        stages = tuple(
            StageInfo(
                id=stage.pk,
                name=stage.name,
                kind=stage.kind,
                expected_days=stage.expected_days,
                criteria=criteria_from_stored(stage.exit_criteria),
                plan=tuple(
                    sorted(steps.get(stage.completion_plan_id or 0, []), key=lambda s: s.id)
                ),
            )
            for stage in Stage.objects.filter(version=version).order_by("position")
        )
        processes[process.kind] = ProcessInfo(process.pk, version.pk, process.kind, stages)
    if ProcessKind.NEW_BUSINESS not in processes:
        raise DemoRefused(
            "There is no active new-business sales process to build the demo on: "
            "run `keel migrate` (it installs the default processes) or import one."
        )
    first_ids = {
        label: (model._default_manager.aggregate(top=Max("pk"))["top"] or 0) + 1
        for label, (model, _) in TABLES.items()
    }
    return World(
        processes=processes,
        first_ids=first_ids,
        password_hash=password_hash or make_password(PASSWORD),
        currency=settings.KEEL_CURRENCY,
    )


# --- writes -----------------------------------------------------------------------------


@transaction.atomic
def demo_wipe() -> None:
    """Delete the demo: every deal, account, activity, task, marketing event, goal, plan
    (with its dossiers and work) and audit entry, its people and its own metrics."""
    tables = [model._meta.db_table for model in DOMAIN_MODELS]
    if connection.vendor == "postgresql":
        # TRUNCATE refuses tables with deferred foreign-key checks still pending from rows
        # written earlier in this transaction: run those checks now.
        connection.check_constraints()
    # The flush command's own statements: TRUNCATE … CASCADE on PostgreSQL, DELETE on
    # SQLite (with the tables that point at these, so nothing is left dangling).
    connection.ops.execute_sql_flush(
        connection.ops.sql_flush(no_style(), tables, allow_cascade=True)
    )
    Metric.objects.filter(key__in=DEMO_METRIC_KEYS).delete()
    Team.objects.filter(name__in=TEAMS).delete()
    User.objects.filter(username__in=[p.username for p in CAST]).delete()
    # The process versions the demo imported go with it: a rebuild starts from the same.
    marker = demo_marker() or {}
    ProcessVersion.objects.filter(pk__in=marker.get("process_versions", [])).delete()
    version_stages.cache_clear()  # SQLite may give a deleted version's id to the next
    InstanceSetting.objects.filter(key__in=[DEMO_KEY, POLICY_KEY, ICP_KEY]).delete()
    demo_files_delete()


def rows_insert(*, rows: DemoRows, progress: Progress | None = None) -> dict[str, float]:
    """Insert every table through the driver's bulk path; returns the seconds each took."""
    report = progress or (lambda phase, done, total: None)
    seconds = {}
    with bulk_loading():
        for label, table in rows.tables.items():
            started = clock.perf_counter()
            phase, total = f"Writing {label.replace('_', ' ')}", len(table.rows)
            for start in range(0, total, CHUNK):
                report(phase, start, total)
                chunk = table.rows[start : start + CHUNK]
                rows_load(model=table.model, fields=table.fields, rows=chunk)
            report(phase, total, total)
            seconds[label] = clock.perf_counter() - started
    _sequences_reset([table.model for table in rows.tables.values()])
    return seconds


def demo_build(
    *,
    size: str,
    seed: int,
    today: date,
    force: bool = False,
    progress: Progress | None = None,
) -> DemoSummary:
    """Replace any earlier demo with a fresh one of `size`, the same for the same seed and today.

    Raises DemoRefused if the database holds data no demo made (see demo_foreign_data),
    unless `force` says to delete it.
    """
    started = clock.perf_counter()
    report = _PhaseClock(progress)
    with transaction.atomic():
        report("Wiping the old demo", 0, 1)
        foreign = demo_foreign_data()
        if foreign and not force:
            raise DemoRefused(
                "This database holds data that no demo made: "
                f"{', '.join(foreign)}. Building the demo would delete it."
            )
        demo_wipe()
        report("Reading the sales processes", 0, 1)
        world = world_load()
        with bulk_loading():
            rows = demo_simulate(world=world, size=size, seed=seed, today=today, progress=report)
            rows_insert(rows=rows, progress=report)
            # Leaving bulk_loading shrinks SQLite's page cache, writing out what it held.
            report("Ending the bulk load", 0, 1)
        _statistics_refresh([table.model for table in rows.tables.values()])
        report("Marketing: campaigns, the lead definition, hand-offs", 0, 1)
        marketing = demo_marketing_build(today=today, seed=seed)
        report("Collateral library", 0, 1)
        collateral = demo_collateral_build(today=today, seed=seed)
        report("Funnel stages", 0, 1)
        funnel_recompute()
        owner = User.objects.get(username=CAST[0].username)
        # The plan's work logs activities: the goals are set from the figures with them.
        report("Whale-hunting plan", 0, 1)
        plan = demo_plan_build(today=today, seed=seed, by=owner)
        report("Goals", 0, 1)
        goals = demo_goals_set(today=today, by=owner)
        # Once more at the end: the collateral revision moved every open deal onto new
        # stages, and plans read stale statistics until autovacuum runs (the board took
        # 155 ms instead of 65 ms on the large demo on PostgreSQL).
        report("Statistics", 0, 1)
        _statistics_refresh([m for m in apps.get_models() if m._meta.managed and not m._meta.proxy])
        report("Committing", 0, 1)
        InstanceSetting.objects.create(
            key=DEMO_KEY,
            value={
                "size": size,
                "seed": seed,
                "today": today.isoformat(),
                "built_at": timezone.now().isoformat(timespec="seconds"),
                "process_versions": collateral.process_versions,
            },
        )
    deals = rows.tables["deals"].rows
    status_at = rows.tables["deals"].fields.index("status")
    by_status = Counter(row[status_at] for row in deals)
    return DemoSummary(
        size=size,
        seed=seed,
        today=today,
        counts={label: len(table.rows) for label, table in rows.tables.items()},
        deals_by_status={status: by_status[status] for status in DealStatus.values},
        seconds=clock.perf_counter() - started,
        username=CAST[0].username,
        password=PASSWORD,
        logins=tuple(p.username for p in CAST[1:]),
        goals=len(goals),
        plan=plan,
        marketing=marketing,
        collateral=collateral,
        phases=report.stop(),
    )


def demo_goals_set(*, today: date, by: User) -> list[Goal]:
    """This year's goals for the main metrics, from the latest year's figures (GOAL_GROWTH).

    The close rate's goal is a few points above last year's, the sales cycle's a tenth
    shorter; both are last year's rate over all its deals, not a mean of its months.
    A metric with nothing to go on last year gets no goal.
    """
    keys = [*GOAL_GROWTH, "close_rate", "sales_cycle_days"]
    metrics = {m.key: m for m in Metric.objects.filter(key__in=keys, is_active=True)}
    if not metrics:
        return []
    december = date(today.year - 1, 12, 1)
    # The demo's first year starts from nothing, so last year is a poor base: the goals
    # come from the latest twelve complete months, in calendar order for the phasing.
    latest = trend(through=previous_month(month_start(today)), months=12, keys=list(metrics))
    months = [figures for _, figures in sorted(latest.items(), key=lambda item: item[0].month)]
    levels = {row.key: row.ytd for row in scorecard(month=december).rows()}
    goals = []
    for key, metric in metrics.items():
        phasing: str = Phasing.EVEN
        weights: list[object] | None = None
        level = levels.get(key)
        if key in GOAL_GROWTH:
            figures = [month[key] or Decimal(0) for month in months]
            if not sum(figures):
                continue
            step = Decimal(1000) if metric.unit == Unit.MONEY else Decimal(1)
            target = (sum(figures) * GOAL_GROWTH[key] / step).quantize(1, ROUND_HALF_UP) * step
            if key in SEASONAL_GOALS:
                phasing, weights = Phasing.SEASONAL, list(figures)
        elif level is None:
            continue
        elif key == "close_rate":
            target = min(Decimal(100), level + CLOSE_RATE_GAIN)
        else:
            target = (level * CYCLE_CUT).quantize(Decimal("0.1"), ROUND_HALF_UP)
        goals.append(
            goal_set(
                metric=metric,
                year=today.year,
                target=target,
                by=by,
                phasing=phasing,
                weights=weights,
            )
        )
    return goals


# --- helpers ----------------------------------------------------------------------------


class _PhaseClock:
    """Passes progress on, and times each phase: from its first report to the next's."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.seconds: dict[str, float] = {}
        self.phase = ""
        self.since = clock.perf_counter()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self.phase:
            self.stop()
            self.phase = phase
        if self.progress is not None:
            self.progress(phase, done, total)

    def stop(self) -> dict[str, float]:
        """Close the running phase; the seconds of every phase so far."""
        now = clock.perf_counter()
        if self.phase:
            self.seconds[self.phase] = self.seconds.get(self.phase, 0.0) + now - self.since
        self.phase = ""
        self.since = now
        return self.seconds


@contextmanager
def bulk_loading() -> Iterator[None]:
    """The conditions a big insert runs best under; the benchmark's raw baseline uses them too."""
    with _gc_paused(), _query_log_paused(), _sqlite_cache():
        yield


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while millions of rows are alive: each full collection
    walks all of them (a third of the large build's time) and finds nothing to free."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def _query_log_paused() -> Iterator[None]:
    """With DEBUG on, Django logs every query with its parameters quoted (on SQLite by one
    more query per INSERT of ~1,000 values): a quarter of the bulk load. Pause the log."""
    debug = settings.DEBUG
    settings.DEBUG = False
    try:
        yield
    finally:
        settings.DEBUG = debug


@contextmanager
def _sqlite_cache() -> Iterator[None]:
    """A bigger page cache while SQLite writes a million index entries, then the old one."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (previous,) = cursor.fetchone()
        cursor.execute("PRAGMA cache_size = -1048576")  # KiB: up to 1 GiB, used as needed
    try:
        yield
    finally:
        if not connection.needs_rollback:  # else the error that broke it is what matters
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA cache_size = {int(previous)}")


def _statistics_refresh(model_list: list[type[models.Model]]) -> None:
    """Let the query planner see the new rows: without statistics SQLite picks plans that
    scan a whole table per row (the funnel's won-deal check took seconds instead of ms)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA analysis_limit = 1000")  # sampled: fast and good enough
            cursor.execute("ANALYZE")
        else:
            for model in model_list:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def _sequences_reset(model_list: list[type[models.Model]]) -> None:
    """Move PostgreSQL's id sequences past the ids the demo assigned (SQLite needs none)."""
    statements = connection.ops.sequence_reset_sql(no_style(), model_list)
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
