"""Sales processes as data, and the exit-criteria check. Pure: no database access.

`parse_process` turns a YAML document (already loaded into Python values) into a
`ProcessSpec`, or raises `ProcessDefinitionError` listing every problem with the path of
the key at fault. `unmet_criteria` evaluates the exit criteria of the stages a deal leaves
against a `DealSnapshot` and returns what is still missing, each with a message a
salesperson can act on.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from keel.accounts.models import Role
from keel.activities.models import ActivityType, Outcome, Phase
from keel.core.checks import PathChecker, kind_of
from keel.crm.models import BuyingRole
from keel.pipeline.models import ProcessKind, StageKind

# Deal fields a `fields` criterion may require, with the label a salesperson sees.
REQUIRABLE_FIELDS: Mapping[str, str] = {
    "amount": "Amount",
    "expected_close": "Expected close date",
    "next_step": "Next step",
    "channel": "Channel",
    "source": "Source",
    "campaign": "Campaign",
    "referred_by": "Referred by",
}
PLAN_ROLES = ("owner", *Role.values)


# --- what a deal looks like to the rules ------------------------------------------------


@dataclass(frozen=True)
class ActivityFact:
    type: str
    outcome: str
    at: datetime


@dataclass(frozen=True)
class DealSnapshot:
    """What the exit criteria look at, read from the database in a few queries."""

    fields: Mapping[str, Any]
    stage_entered_at: datetime
    entered_at: Mapping[str, datetime] = field(default_factory=dict)
    activities: Sequence[ActivityFact] = ()
    ticked: frozenset[str] = frozenset()
    contact_roles: frozenset[str] = frozenset()
    collateral_sent: Sequence[tuple[str, datetime]] = ()

    def since(self, stage_name: str | None) -> datetime:
        """Evidence counts from the last entry into `stage_name`, else from the current stint.

        A skipped stage was never entered, so for it (and by default) the evidence gathered
        since the deal entered its current stage is what counts.
        """
        if stage_name is not None and stage_name in self.entered_at:
            return self.entered_at[stage_name]
        return self.stage_entered_at


# --- criteria ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldsCriterion:
    fields: tuple[str, ...]
    kind: Literal["fields"] = "fields"

    def missing(self, deal: DealSnapshot, stage: str) -> str | None:
        empty = [REQUIRABLE_FIELDS[f] for f in self.fields if deal.fields.get(f) in (None, "")]
        return f"Fill in: {', '.join(empty)}." if empty else None

    def label(self) -> str:
        return f"Filled in: {', '.join(REQUIRABLE_FIELDS[f] for f in self.fields)}"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "fields": list(self.fields)}


@dataclass(frozen=True)
class ActivityCriterion:
    type: str
    outcome: str | None = None
    count: int = 1
    since_stage: str | None = None
    kind: Literal["activity"] = "activity"

    def missing(self, deal: DealSnapshot, stage: str) -> str | None:
        start = deal.since(self.since_stage or stage)
        found = sum(
            1
            for a in deal.activities
            if a.type == self.type
            and a.at >= start
            and (self.outcome is None or a.outcome == self.outcome)
        )
        if found >= self.count:
            return None
        what = ActivityType(self.type).label.lower()
        if self.outcome:
            what += f" ({Outcome(self.outcome).label.lower()})"
        times = "" if self.count == 1 else f" {self.count} times (found {found})"
        where = self.since_stage or stage
        return f"Log a {what}{times} since the deal entered {where}."

    def label(self) -> str:
        what = ActivityType(self.type).label
        if self.outcome:
            what += f" ({Outcome(self.outcome).label.lower()})"
        times = f" ×{self.count}" if self.count != 1 else ""
        return f"{what}{times} logged" + (f" since {self.since_stage}" if self.since_stage else "")

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "type": self.type}
        if self.outcome:
            data["outcome"] = self.outcome
        if self.count != 1:
            data["count"] = self.count
        if self.since_stage:
            data["since_stage"] = self.since_stage
        return data


@dataclass(frozen=True)
class ChecklistCriterion:
    item: str
    kind: Literal["checklist"] = "checklist"

    def missing(self, deal: DealSnapshot, stage: str) -> str | None:
        return None if self.item in deal.ticked else f"Tick the checklist item “{self.item}”."

    def label(self) -> str:
        return self.item

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "item": self.item}


@dataclass(frozen=True)
class ContactRoleCriterion:
    role: str
    kind: Literal["contact_role"] = "contact_role"

    def missing(self, deal: DealSnapshot, stage: str) -> str | None:
        if self.role in deal.contact_roles:
            return None
        return f"Attach a contact with the buying role {BuyingRole(self.role).label.lower()}."

    def label(self) -> str:
        return f"{BuyingRole(self.role).label} attached"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "role": self.role}


@dataclass(frozen=True)
class CollateralCriterion:
    collateral: str
    since_stage: str | None = None
    kind: Literal["collateral"] = "collateral"

    def missing(self, deal: DealSnapshot, stage: str) -> str | None:
        start = deal.since(self.since_stage) if self.since_stage else None
        if any(
            k == self.collateral and (start is None or at >= start)
            for k, at in deal.collateral_sent
        ):
            return None
        return f"Send the buyer a {self.words}."

    def label(self) -> str:
        return f"{self.words[0].upper()}{self.words[1:]} sent"

    @property
    def words(self) -> str:
        """The kind as a person says it: "case_study" is a case study."""
        return self.collateral.replace("_", " ")

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "collateral": self.collateral}
        if self.since_stage:
            data["since_stage"] = self.since_stage
        return data


Criterion = (
    FieldsCriterion
    | ActivityCriterion
    | ChecklistCriterion
    | ContactRoleCriterion
    | CollateralCriterion
)


@dataclass(frozen=True)
class Unmet:
    stage: str
    kind: str
    message: str
    criterion: dict[str, Any]


@dataclass(frozen=True)
class StageRules:
    """A stage as far as leaving it is concerned."""

    name: str
    exit_criteria: Sequence[Criterion]


def unmet_criteria(deal: DealSnapshot, leaving: Sequence[StageRules]) -> list[Unmet]:
    """The exit criteria of every stage in `leaving` that the deal does not meet."""
    unmet = []
    for stage in leaving:
        for criterion in stage.exit_criteria:
            message = criterion.missing(deal, stage.name)
            if message is not None:
                unmet.append(Unmet(stage.name, criterion.kind, message, criterion.as_dict()))
    return unmet


# --- process definitions ----------------------------------------------------------------


@dataclass(frozen=True)
class PlanStepSpec:
    title: str
    role: str = "owner"
    due_days: int = 0


@dataclass(frozen=True)
class PlanSpec:
    steps: tuple[PlanStepSpec, ...]
    phase: str = ""


@dataclass(frozen=True)
class StageSpec:
    name: str
    probability: int
    kind: str = StageKind.OPEN
    expected_days: int | None = None
    buyer_step: str = ""
    buyer_concerns: tuple[str, ...] = ()
    buyer_needs: tuple[str, ...] = ()
    guidance: str = ""
    exit_criteria: tuple[Criterion, ...] = ()
    completion_plan: PlanSpec | None = None
    recommended_collateral: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    kind: str
    stages: tuple[StageSpec, ...]
    description: str = ""


class ProcessDefinitionError(ValueError):
    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = list(errors)


class _Checker(PathChecker):
    """The process file's checker: its choices with a default, and lists of texts."""

    def choice(
        self, data: dict[str, Any], key: str, path: str, choices: Sequence[str], default: str
    ) -> str:
        value = data.get(key, default)
        if value not in choices:
            self.error(f"{path}.{key}", f"{value!r} is not one of: {', '.join(choices)}")
            return default
        return str(value)

    def texts(self, data: dict[str, Any], key: str, path: str) -> tuple[str, ...]:
        value = data.get(key, [])
        if isinstance(value, str):
            return (value.strip(),)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(f"{path}.{key}", "expected a list of texts")
            return ()
        return tuple(v.strip() for v in value)


_CRITERION_KEYS: Mapping[str, tuple[str, ...]] = {
    "fields": ("kind", "fields"),
    "activity": ("kind", "type", "outcome", "count", "since_stage"),
    "checklist": ("kind", "item"),
    "contact_role": ("kind", "role"),
    "collateral": ("kind", "collateral", "since_stage"),
}


def _criterion(c: _Checker, raw: Any, path: str, stage_names: set[str]) -> Criterion | None:
    if not isinstance(raw, dict):
        c.error(path, f"expected a mapping with a 'kind', found {kind_of(raw)}")
        return None
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in _CRITERION_KEYS:
        c.error(
            f"{path}.kind",
            f"unknown criterion kind {kind!r} (known: {', '.join(_CRITERION_KEYS)})",
        )
        return None
    data = c.mapping(raw, path, _CRITERION_KEYS[kind])
    if data is None:
        return None
    since_stage = c.text(data, "since_stage", path) or None
    if since_stage is not None and since_stage not in stage_names:
        c.error(f"{path}.since_stage", f"unknown stage {since_stage!r}")
    if kind == "fields":
        names = c.texts(data, "fields", path)
        if not names:
            c.error(f"{path}.fields", "name at least one field")
        for name in names:
            if name not in REQUIRABLE_FIELDS:
                c.error(
                    f"{path}.fields",
                    f"{name!r} is not a deal field a criterion can require "
                    f"(known: {', '.join(REQUIRABLE_FIELDS)})",
                )
        return FieldsCriterion(fields=names)
    if kind == "activity":
        type_ = c.choice(data, "type", path, ActivityType.values, "")
        outcome = data.get("outcome")
        if outcome is not None and outcome not in Outcome.values:
            c.error(f"{path}.outcome", f"{outcome!r} is not one of: {', '.join(Outcome.values)}")
        count = c.integer(data, "count", path, 1) or 1
        return ActivityCriterion(type=type_, outcome=outcome, count=count, since_stage=since_stage)
    if kind == "checklist":
        return ChecklistCriterion(item=c.text(data, "item", path, required=True))
    if kind == "contact_role":
        return ContactRoleCriterion(role=c.choice(data, "role", path, BuyingRole.values, ""))
    return CollateralCriterion(
        collateral=c.text(data, "collateral", path, required=True), since_stage=since_stage
    )


def _plan(c: _Checker, raw: Any, path: str) -> PlanSpec | None:
    if raw is None:
        return None
    data = c.mapping(raw, path, ("phase", "steps"))
    if data is None:
        return None
    phase = c.choice(data, "phase", path, ["", *Phase.values], "")
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        c.error(f"{path}.steps", "expected a list of at least one step")
        return None
    steps = []
    for i, raw_step in enumerate(raw_steps):
        step_path = f"{path}.steps[{i}]"
        step = c.mapping(raw_step, step_path, ("title", "role", "due_days"))
        if step is None:
            continue
        steps.append(
            PlanStepSpec(
                title=c.text(step, "title", step_path, required=True),
                role=c.choice(step, "role", step_path, PLAN_ROLES, "owner"),
                due_days=c.integer(step, "due_days", step_path, 0, 365) or 0,
            )
        )
    return PlanSpec(steps=tuple(steps), phase=phase)


_STAGE_KEYS = (
    "name",
    "kind",
    "probability",
    "expected_days",
    "buyer_step",
    "buyer_concerns",
    "buyer_needs",
    "guidance",
    "exit_criteria",
    "completion_plan",
    "recommended_collateral",
)


def parse_process(document: Any) -> ProcessSpec:
    """Validate a loaded YAML document; raise ProcessDefinitionError with every problem."""
    c = _Checker()
    data = c.mapping(document, "process", ("name", "kind", "description", "stages"))
    if data is None:
        raise ProcessDefinitionError(c.errors)
    name = c.text(data, "name", "process", required=True)
    kind = c.choice(data, "kind", "process", ProcessKind.values, ProcessKind.NEW_BUSINESS)
    raw_stages = data.get("stages")
    if not isinstance(raw_stages, list) or not raw_stages:
        c.error("stages", "expected a list of stages")
        raise ProcessDefinitionError(c.errors)

    first_seen: dict[str, int] = {}
    for i, raw in enumerate(raw_stages):
        stage_name = raw.get("name") if isinstance(raw, dict) else None
        if isinstance(stage_name, str) and stage_name.strip():
            stage_name = stage_name.strip()
            if stage_name in first_seen:
                c.error(
                    f"stages[{i}].name",
                    f"duplicate stage name {stage_name!r} (also stages[{first_seen[stage_name]}])",
                )
            else:
                first_seen[stage_name] = i
    names = set(first_seen)

    stages = []
    seen_outcome = False
    for i, raw in enumerate(raw_stages):
        path = f"stages[{i}]"
        stage = c.mapping(raw, path, _STAGE_KEYS)
        if stage is None:
            continue
        stage_kind = c.choice(stage, "kind", path, StageKind.values, StageKind.OPEN)
        default_probability = {StageKind.WON: 100, StageKind.LOST: 0}.get(StageKind(stage_kind))
        probability = c.integer(stage, "probability", path, 0, 100)
        if probability is None and "probability" not in stage and default_probability is None:
            c.error(f"{path}.probability", "is required for an open stage (0–100)")
        if stage_kind == StageKind.OPEN and seen_outcome:
            c.error(f"{path}.kind", "an open stage cannot follow a won or lost outcome")
        seen_outcome = seen_outcome or stage_kind != StageKind.OPEN
        raw_criteria = stage.get("exit_criteria", [])
        if not isinstance(raw_criteria, list):
            c.error(f"{path}.exit_criteria", "expected a list of criteria")
            raw_criteria = []
        if raw_criteria and stage_kind != StageKind.OPEN:
            c.error(f"{path}.exit_criteria", "a won or lost outcome is never left forward")
        criteria = [
            _criterion(c, raw_c, f"{path}.exit_criteria[{j}]", names)
            for j, raw_c in enumerate(raw_criteria)
        ]
        stages.append(
            StageSpec(
                name=c.text(stage, "name", path, required=True),
                kind=stage_kind,
                probability=probability if probability is not None else default_probability or 0,
                expected_days=c.integer(stage, "expected_days", path, 1),
                buyer_step=c.text(stage, "buyer_step", path),
                buyer_concerns=c.texts(stage, "buyer_concerns", path),
                buyer_needs=c.texts(stage, "buyer_needs", path),
                guidance=c.text(stage, "guidance", path),
                exit_criteria=tuple(x for x in criteria if x is not None),
                completion_plan=_plan(c, stage.get("completion_plan"), f"{path}.completion_plan"),
                recommended_collateral=c.texts(stage, "recommended_collateral", path),
            )
        )

    kinds = {s.kind for s in stages}
    if StageKind.OPEN not in kinds:
        c.error("stages", "no open stage: a deal needs somewhere to start")
    if StageKind.WON not in kinds:
        c.error("stages", "no won outcome: add a stage with kind: won")
    if StageKind.LOST not in kinds:
        c.error("stages", "no lost outcome: add a stage with kind: lost")
    if c.errors:
        raise ProcessDefinitionError(c.errors)
    return ProcessSpec(
        name=name,
        kind=kind,
        description=c.text(data, "description", "process"),
        stages=tuple(stages),
    )


def process_document(spec: ProcessSpec) -> dict[str, Any]:
    """The YAML-ready form of a spec; `parse_process` of it gives the same spec back."""
    stages = []
    for s in spec.stages:
        stage: dict[str, Any] = {"name": s.name, "kind": s.kind, "probability": s.probability}
        if s.expected_days is not None:
            stage["expected_days"] = s.expected_days
        for key in ("buyer_step", "guidance"):
            if getattr(s, key):
                stage[key] = getattr(s, key)
        for key in ("buyer_concerns", "buyer_needs", "recommended_collateral"):
            if getattr(s, key):
                stage[key] = list(getattr(s, key))
        if s.exit_criteria:
            stage["exit_criteria"] = [criterion.as_dict() for criterion in s.exit_criteria]
        if s.completion_plan is not None:
            plan: dict[str, Any] = {}
            if s.completion_plan.phase:
                plan["phase"] = s.completion_plan.phase
            plan["steps"] = [
                {"title": st.title, "role": st.role, "due_days": st.due_days}
                for st in s.completion_plan.steps
            ]
            stage["completion_plan"] = plan
        stages.append(stage)
    document: dict[str, Any] = {"name": spec.name, "kind": spec.kind}
    if spec.description:
        document["description"] = spec.description
    document["stages"] = stages
    return document


def criteria_from_stored(stored: Sequence[Mapping[str, Any]]) -> tuple[Criterion, ...]:
    """Criteria as kept on a Stage row (validated at import) back into objects."""
    built: list[Criterion] = []
    for raw in stored:
        data = {k: v for k, v in raw.items() if k != "kind"}
        match raw["kind"]:
            case "fields":
                built.append(FieldsCriterion(fields=tuple(data["fields"])))
            case "activity":
                built.append(ActivityCriterion(**data))
            case "checklist":
                built.append(ChecklistCriterion(**data))
            case "contact_role":
                built.append(ContactRoleCriterion(**data))
            case "collateral":
                built.append(CollateralCriterion(**data))
            case other:
                raise ValueError(f"stored criterion of unknown kind {other!r}")
    return tuple(built)
