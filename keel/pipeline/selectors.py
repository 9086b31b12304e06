import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import yaml
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from keel.activities.models import Activity, Task
from keel.core.exceptions import InvalidInput
from keel.crm.models import Contact
from keel.forecast.win_rules import WinScore
from keel.forecast.win_selectors import win_probabilities
from keel.pipeline.models import (
    ChecklistTick,
    Deal,
    DealContact,
    ProcessVersion,
    SalesProcess,
    Stage,
    StageChange,
    StageKind,
)
from keel.pipeline.rules import (
    REQUIRABLE_FIELDS,
    ActivityFact,
    Criterion,
    DealSnapshot,
    PlanSpec,
    PlanStepSpec,
    ProcessSpec,
    StageSpec,
    criteria_from_stored,
    process_document,
)

# The hook for `collateral` exit criteria: each provider returns (collateral kind, sent at)
# for a deal. The collateral library registers one; with none registered nothing was sent.
CollateralProvider = Callable[[Deal], Sequence[tuple[str, datetime]]]
collateral_providers: list[CollateralProvider] = []


@functools.lru_cache(maxsize=256)
def version_stages(version_id: int) -> tuple[Stage, ...]:
    """A process version's stages in order, with their completion-plan steps.

    A version never changes once imported (a process changes by importing a new version),
    so every move can share one read of it. Edits through the admin clear the cache
    (pipeline/apps.py); treat the returned stages as read-only.
    """
    stages = Stage.objects.filter(version_id=version_id).select_related("completion_plan")
    return tuple(stages.prefetch_related("completion_plan__steps"))


def process_current_version(*, process: SalesProcess) -> ProcessVersion | None:
    return process.versions.order_by("-number").first()


def deal_snapshot(*, deal: Deal, criteria: Sequence[Criterion] | None = None) -> DealSnapshot:
    """What the exit criteria look at: with `criteria` given, only what those need.

    Every forward move runs this, so the evidence comes back in one statement (a UNION ALL
    of the kinds needed): the ORM would spend ten times longer composing one query per
    kind than the database spends answering all of them.
    """
    kinds: set[str] = {c.kind for c in criteria} if criteria is not None else set(_EVIDENCE_SQL)
    parts = [_EVIDENCE_SQL[kind] for kind in sorted(kinds & set(_EVIDENCE_SQL))]
    rows: list[tuple[str, str, str, datetime | None]] = []
    if parts:
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), [deal.pk] * len(parts))
            rows = cursor.fetchall()
    activities, ticked, roles = [], set(), set()
    for kind, value, outcome, at in rows:
        if kind == "activity":
            activities.append(ActivityFact(type=value, outcome=outcome, at=_aware(at)))
        elif kind == "checklist":
            ticked.add(value)
        else:
            roles.add(value)
    entered_at: dict[str, datetime] = {}
    if criteria is None or any(getattr(c, "since_stage", None) for c in criteria):
        entered_at = dict(
            deal.stage_changes.values_list("to_stage__name").annotate(last=Max("at")).order_by()
        )
    sent: list[tuple[str, datetime]] = []
    if "collateral" in kinds or criteria is None:
        sent = [item for provider in collateral_providers for item in provider(deal)]
    return DealSnapshot(
        fields={name: getattr(deal, _attname(name)) for name in REQUIRABLE_FIELDS},
        stage_entered_at=deal.stage_entered_at,
        entered_at=entered_at,
        activities=activities,
        ticked=frozenset(ticked),
        contact_roles=frozenset(roles),
        collateral_sent=sent,
    )


def _evidence_sql(columns: str, table: str, condition: str = "") -> str:
    # Only the models' table names are formatted in; the deal id is a bound parameter.
    return f"SELECT {columns} FROM {table} WHERE deal_id = %s{condition}"  # noqa: S608


_EVIDENCE_SQL = {
    "activity": _evidence_sql("'activity', type, outcome, at", Activity._meta.db_table),
    "checklist": _evidence_sql("'checklist', item, '', NULL", ChecklistTick._meta.db_table),
    "contact_role": _evidence_sql(
        "'contact_role', role, '', NULL", DealContact._meta.db_table, " AND role <> ''"
    ),
}


def _aware(value: datetime | None) -> datetime:
    """A timestamp as read by a raw cursor: SQLite gives naive UTC, PostgreSQL aware."""
    if value is None:
        raise ValueError("an activity without a time")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _attname(field: str) -> str:
    return "referred_by_id" if field == "referred_by" else field


def process_spec(*, version: ProcessVersion) -> ProcessSpec:
    """A stored version back as the spec it was imported from."""
    stages = []
    for stage in version.stages.select_related("completion_plan").prefetch_related(
        "completion_plan__steps"
    ):
        plan = stage.completion_plan
        stages.append(
            StageSpec(
                name=stage.name,
                kind=stage.kind,
                probability=stage.probability,
                expected_days=stage.expected_days,
                buyer_step=stage.buyer_step,
                buyer_concerns=tuple(stage.buyer_concerns),
                buyer_needs=tuple(stage.buyer_needs),
                guidance=stage.guidance,
                exit_criteria=criteria_from_stored(stage.exit_criteria),
                completion_plan=PlanSpec(
                    phase=plan.phase,
                    steps=tuple(
                        PlanStepSpec(title=s.title, role=s.role, due_days=s.due_days)
                        for s in plan.steps.all()
                    ),
                )
                if plan is not None
                else None,
                recommended_collateral=tuple(stage.recommended_collateral),
            )
        )
    process = version.process
    return ProcessSpec(
        name=process.name, kind=process.kind, description=process.description, stages=tuple(stages)
    )


def process_export(*, name: str, number: int | None = None) -> str:
    """A process version as YAML that `keel process import` reads back unchanged."""
    versions = ProcessVersion.objects.filter(process__name=name).select_related("process")
    version = (
        versions.filter(number=number).first() if number else versions.order_by("-number").first()
    )
    if version is None:
        known = ", ".join(SalesProcess.objects.values_list("name", flat=True))
        which = f"version {number} of " if number else ""
        raise InvalidInput(f"There is no {which}process {name!r}. Processes: {known}.")
    document = process_document(process_spec(version=version))
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=88)


# --- the deal workspace -----------------------------------------------------------------


@dataclass(frozen=True)
class CriterionState:
    """One exit criterion of the current stage as it stands: met, or what is missing."""

    stage: str
    label: str
    missing: str | None  # None: met
    criterion: dict[str, Any]

    @property
    def met(self) -> bool:
        return self.missing is None


@dataclass(frozen=True)
class Stint:
    """One stay in a stage, from the stage history: when it began, how long it lasted."""

    change: StageChange
    days: float
    current: bool


@dataclass(frozen=True)
class Workspace:
    deal: Deal
    stages: tuple[Stage, ...]
    checklist: list[CriterionState]
    activities: list[Activity]
    tasks: list[Task]
    contacts: list[DealContact]
    company_contacts: list[Contact]
    history: list[Stint]
    win: WinScore | None = None  # an open deal's chance to win and what moves it

    @property
    def open_stages(self) -> list[Stage]:
        return [s for s in self.stages if s.kind == StageKind.OPEN]

    @property
    def outcomes(self) -> list[Stage]:
        return [s for s in self.stages if s.kind != StageKind.OPEN]

    @property
    def next_stage(self) -> Stage | None:
        """The stage a forward move from here goes to: the next open one, or the won one."""
        current = self.deal.stage
        later = [s for s in self.stages if s.position > current.position]
        if current.kind != StageKind.OPEN:
            return None
        return next((s for s in later if s.kind != StageKind.LOST), None)

    @property
    def unmet(self) -> list[CriterionState]:
        return [c for c in self.checklist if not c.met]


TIMELINE_LENGTH = 30


def deal_checklist(*, deal: Deal, stage: Stage) -> list[CriterionState]:
    """The exit criteria of `stage` for `deal`, each met or with what is missing."""
    criteria = criteria_from_stored(stage.exit_criteria)
    if not criteria:
        return []
    snapshot = deal_snapshot(deal=deal, criteria=criteria)
    return [
        CriterionState(stage.name, c.label(), c.missing(snapshot, stage.name), c.as_dict())
        for c in criteria
    ]


def deal_workspace(*, deal: Deal) -> Workspace:
    """Everything the deal page shows, in a bounded number of queries."""
    stages = version_stages(deal.process_version_id)
    stage = next(s for s in stages if s.pk == deal.stage_id)
    changes = list(deal.stage_changes.select_related("to_stage", "by").order_by("at", "id"))
    now = timezone.now()
    history = [
        Stint(
            change=change,
            days=((later.at if later else now) - change.at).total_seconds() / 86_400,
            current=later is None,
        )
        for change, later in zip(changes, [*changes[1:], None], strict=True)
    ]
    return Workspace(
        deal=deal,
        stages=stages,
        checklist=deal_checklist(deal=deal, stage=stage) if stage.kind == StageKind.OPEN else [],
        activities=list(
            deal.activities.select_related("by", "contact").order_by("-at", "-id")[:TIMELINE_LENGTH]
        ),
        tasks=list(
            deal.tasks.select_related("owner", "deal", "company").order_by("done_at", "due_at")
        ),
        contacts=list(deal.deal_contacts.select_related("contact").order_by("contact__last_name")),
        company_contacts=list(
            Contact.objects.filter(company_id=deal.company_id).order_by("last_name", "first_name")[
                :200
            ]
        ),
        history=list(reversed(history)),
        win=win_probabilities(deals=[deal]).get(deal.pk) if stage.kind == StageKind.OPEN else None,
    )
