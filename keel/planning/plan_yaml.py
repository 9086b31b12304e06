"""Plans as data: goals, strategies and tactical plans in one YAML document. Pure: no ORM.

`parse_plans` turns a loaded YAML document into a `PlanFileSpec`, or raises
`PlanDefinitionError` listing every problem with the path of the key at fault
(`plans[0].tactics[2].schedule: …`). What lives in the database (metric keys, usernames,
goals and strategies not in the file, stage names) comes in as a `Known`, read by the
service. `plan_document` is the inverse: a spec as a YAML-ready document.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from keel.accounts.models import Role
from keel.activities.models import ActivityType
from keel.core.checks import PathChecker, kind_of
from keel.planning.models import GoalQuery, Measure, RecordKind, Shape, Trigger
from keel.planning.rules import plan_span_problems, schedule_problems

NAME_LENGTH = 200
MAX_DEADLINE_DAYS = 365


@dataclass(frozen=True)
class Known:
    """What the file may refer to that is already in the database."""

    metrics: frozenset[str] = frozenset()
    usernames: frozenset[str] = frozenset()
    goals: frozenset[str] = frozenset()
    strategies: frozenset[str] = frozenset()
    stages: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()


@dataclass(frozen=True)
class GoalSpec:
    name: str
    target: Decimal
    unit: str
    starts_on: date
    ends_on: date
    metric: str = ""
    owner: str = ""
    description: str = ""
    query: str = ""


@dataclass(frozen=True)
class StrategySpec:
    name: str
    goals: tuple[str, ...]
    starts_on: date
    ends_on: date
    description: str = ""
    owner: str = ""


@dataclass(frozen=True)
class TacticSpec:
    name: str
    shape: str
    role: str = ""
    person: str = ""
    description: str = ""
    schedule: str = ""
    minutes: int | None = None
    trigger: str = ""
    trigger_stage: str = ""
    deadline_days: int | None = None
    target_count: int | None = None
    due_on: date | None = None
    measure: str = Measure.TASK_COMPLETED.value
    activity_type: str = ""
    record_kind: str = ""
    task_title: str = ""
    position: int = 0
    is_active: bool = True


@dataclass(frozen=True)
class PlanSpec:
    name: str
    strategy: str
    starts_on: date
    ends_on: date
    description: str = ""
    tactics: tuple[TacticSpec, ...] = ()
    team: str = ""  # the team whose manager keeps it; none: the owner keeps it


@dataclass(frozen=True)
class PlanFileSpec:
    goals: tuple[GoalSpec, ...] = ()
    strategies: tuple[StrategySpec, ...] = ()
    plans: tuple[PlanSpec, ...] = ()


class PlanDefinitionError(ValueError):
    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = list(errors)


class _Checker(PathChecker):
    """The plan file's checker: the keys of plans (days, spans, people) besides the common."""

    root = "plan file"

    def __init__(self, known: Known) -> None:
        super().__init__()
        self.known = known

    def items(self, data: dict[str, Any], key: str, path: str) -> list[Any]:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(f"{path}{key}", f"expected a list, found {kind_of(value)}")
            return []
        return value

    def choice(self, data: dict[str, Any], key: str, path: str, choices: Sequence[str]) -> str:
        value = data.get(key)
        if value is None:
            return ""
        if value not in choices:
            self.error(f"{path}.{key}", f"{value!r} is not one of: {', '.join(choices)}")
            return ""
        return str(value)

    def boolean(self, data: dict[str, Any], key: str, path: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.error(f"{path}.{key}", f"expected true or false, found {kind_of(value)}")
            return default
        return value

    def day(self, data: dict[str, Any], key: str, path: str, *, required: bool) -> date | None:
        value = data.get(key)
        if value is None:
            if required:
                self.error(f"{path}.{key}", "is required (a date, YYYY-MM-DD)")
            return None
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.error(f"{path}.{key}", f"{value!r} is not a date (YYYY-MM-DD)")
        return None

    def span(self, data: dict[str, Any], path: str) -> tuple[date, date] | None:
        starts_on = self.day(data, "starts_on", path, required=True)
        ends_on = self.day(data, "ends_on", path, required=True)
        if starts_on is None or ends_on is None:
            return None
        if ends_on <= starts_on:
            self.error(f"{path}.ends_on", f"{ends_on} is not after starts_on ({starts_on})")
            return None
        return starts_on, ends_on

    def username(self, data: dict[str, Any], key: str, path: str) -> str:
        name = self.text(data, key, path)
        if name and name not in self.known.usernames:
            self.error(f"{path}.{key}", f"there is no active user {name!r}")
        return name

    def names(self, raw: list[Any], path: str, what: str) -> None:
        """Report the second and later entries that repeat a name."""
        seen: dict[str, int] = {}
        for i, item in enumerate(raw):
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str) or not name.strip():
                continue
            if name.strip() in seen:
                first = f"{path}[{seen[name.strip()]}]"
                self.error(f"{path}[{i}].name", f"duplicate {what} name {name!r} (also {first})")
            else:
                seen[name.strip()] = i


_GOAL_KEYS = (
    "name", "target", "unit", "starts_on", "ends_on", "metric", "query", "owner", "description",
)  # fmt: skip
_STRATEGY_KEYS = ("name", "goals", "starts_on", "ends_on", "description", "owner")
_PLAN_KEYS = ("name", "strategy", "team", "starts_on", "ends_on", "description", "tactics")
# A tactic's keys in a plan file: its fields, by the same names (services.TACTIC_FIELDS).
TACTIC_KEYS = (
    "name",
    "description",
    "shape",
    "role",
    "person",
    "schedule",
    "minutes",
    "trigger",
    "trigger_stage",
    "deadline_days",
    "target_count",
    "due_on",
    "measure",
    "activity_type",
    "record_kind",
    "task_title",
    "position",
    "is_active",
)
# The keys each shape asks for, and those of the other shapes that make no sense for it.
_SHAPE_KEYS = {
    Shape.RECURRING: ("schedule",),
    Shape.TRIGGERED: ("trigger", "deadline_days"),
    Shape.TARGET: ("target_count", "due_on"),
}
_SHAPE_ONLY = {"schedule", "trigger", "trigger_stage", "deadline_days", "target_count", "due_on"}
_SHAPE_ALLOWS = {
    Shape.RECURRING: {"schedule"},
    Shape.TRIGGERED: {"trigger", "trigger_stage", "deadline_days"},
    Shape.TARGET: {"target_count", "due_on"},
}


def _empty(value: Any) -> bool:
    return value is None or value == ""


def tactic_problems(
    values: Mapping[str, Any], *, span: tuple[date, date], stages: frozenset[str]
) -> list[str]:
    """What is wrong with a tactic's fields as a form gives them (an empty one is "" or None),
    each as "field: message": the shape's rules of a plan file, for one tactic on the web."""
    problems: list[str] = []
    shape = values.get("shape", "")
    if shape not in Shape.values:
        problems.append(f"shape: choose one of: {', '.join(Shape.values)}")
    role, person = values.get("role", ""), values.get("person")
    if not _empty(role) and not _empty(person):
        problems.append("person: assign the tactic to a role or to a person, not both")
    elif _empty(role) and _empty(person):
        problems.append("role: assign the tactic to a role (everyone holding it) or a person")
    if shape in Shape.values:
        for key in _SHAPE_KEYS[Shape(shape)]:
            if _empty(values.get(key)):
                problems.append(f"{key}: is required for a {shape} tactic")
        for key in sorted(_SHAPE_ONLY - _SHAPE_ALLOWS[Shape(shape)]):
            if not _empty(values.get(key)):
                problems.append(f"{key}: makes no sense for a {shape} tactic; leave it empty")
    schedule = values.get("schedule", "")
    if shape == Shape.RECURRING and not _empty(schedule):
        problems.extend(f"schedule: {p}" for p in schedule_problems(schedule))
    trigger, stage = values.get("trigger", ""), values.get("trigger_stage", "")
    if shape == Shape.TRIGGERED and trigger == Trigger.DEAL_ENTERED_STAGE:
        if _empty(stage):
            problems.append(
                "trigger_stage: is required when the trigger is a deal entering a stage"
            )
        elif stage not in stages:
            problems.append(f"trigger_stage: there is no stage {stage!r} in any sales process")
    elif not _empty(trigger) and not _empty(stage):
        problems.append("trigger_stage: makes no sense unless a deal entering a stage triggers it")
    deadline = values.get("deadline_days")
    if isinstance(deadline, int) and deadline > MAX_DEADLINE_DAYS:
        problems.append(f"deadline_days: {deadline} is more than {MAX_DEADLINE_DAYS} days")
    due_on = values.get("due_on")
    if isinstance(due_on, date) and not span[0] <= due_on <= span[1]:
        problems.append(f"due_on: {due_on} is outside the plan ({span[0]} to {span[1]})")
    measure = values.get("measure") or Measure.TASK_COMPLETED.value
    for key, needed_by in (
        ("activity_type", Measure.ACTIVITY_LOGGED),
        ("record_kind", Measure.RECORD_CREATED),
    ):
        if measure == needed_by and _empty(values.get(key)):
            problems.append(f"{key}: is required when the measure is {needed_by.value}")
        elif measure != needed_by and not _empty(values.get(key)):
            problems.append(f"{key}: makes no sense unless the measure is {needed_by.value}")
    return problems


def _target(c: _Checker, data: dict[str, Any], path: str) -> Decimal | None:
    value = data.get("target")
    if value is None:
        c.error(f"{path}.target", "is required (a number above 0)")
        return None
    number: Decimal | None = None
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            number = None
    if number is None or not number.is_finite():
        c.error(f"{path}.target", f"expected a number, found {kind_of(value)}")
        return None
    if number <= 0:
        c.error(f"{path}.target", f"{value} is not above 0")
        return None
    if number != number.quantize(Decimal("0.01")) or number >= Decimal(10) ** 16:
        c.error(f"{path}.target", f"{value} has more than 16 digits or 2 decimal places")
        return None
    return number


def _goal(c: _Checker, raw: Any, path: str) -> GoalSpec | None:
    data = c.mapping(raw, path, _GOAL_KEYS)
    if data is None:
        return None
    name = c.text(data, "name", path, required=True, max_length=NAME_LENGTH)
    target = _target(c, data, path)
    unit = c.text(data, "unit", path, required=True, max_length=40)
    span = c.span(data, path)
    metric = c.text(data, "metric", path)
    if metric and metric not in c.known.metrics:
        c.error(
            f"{path}.metric",
            f"there is no scorecard metric with the key {metric!r} "
            f"(known: {', '.join(sorted(c.known.metrics))})",
        )
    query = c.text(data, "query", path)
    if query and query not in GoalQuery.values:
        c.error(f"{path}.query", f"{query!r} is not one of {', '.join(GoalQuery.values)}")
    elif query and metric:
        c.error(f"{path}.query", "a goal is measured by a metric or a query, not both")
    owner = c.username(data, "owner", path)
    description = c.text(data, "description", path)
    if not name or target is None or not unit or span is None:
        return None
    return GoalSpec(name, target, unit, *span, metric, owner, description, query)


def _strategy(c: _Checker, raw: Any, path: str, goals: set[str]) -> StrategySpec | None:
    data = c.mapping(raw, path, _STRATEGY_KEYS)
    if data is None:
        return None
    name = c.text(data, "name", path, required=True, max_length=NAME_LENGTH)
    served = data.get("goals")
    if isinstance(served, str):
        served = [served]
    if not isinstance(served, list) or not served or not all(isinstance(g, str) for g in served):
        c.error(f"{path}.goals", "expected a list of the names of the goals it serves")
        served = []
    for j, goal in enumerate(served):
        if goal.strip() not in goals:
            c.error(
                f"{path}.goals[{j}]",
                f"there is no goal {goal!r} in this file or in Keel; add it under goals",
            )
    span = c.span(data, path)
    description = c.text(data, "description", path)
    owner = c.username(data, "owner", path)
    if not name or span is None:
        return None
    return StrategySpec(name, tuple(g.strip() for g in served), *span, description, owner)


def _tactic(
    c: _Checker, raw: Any, path: str, index: int, span: tuple[date, date] | None
) -> TacticSpec | None:
    data = c.mapping(raw, path, TACTIC_KEYS)
    if data is None:
        return None
    name = c.text(data, "name", path, required=True, max_length=NAME_LENGTH)
    shape = c.choice(data, "shape", path, Shape.values)
    if "shape" not in data:
        c.error(f"{path}.shape", f"is required (one of: {', '.join(Shape.values)})")

    role = c.choice(data, "role", path, Role.values)
    person = c.username(data, "person", path)
    if "role" in data and "person" in data:
        c.error(f"{path}.person", "assign the tactic to a role or to a person, not both")
    elif "role" not in data and "person" not in data:
        c.error(path, "assign the tactic with role: (everyone holding it) or person: (a username)")

    if shape:
        for key in _SHAPE_KEYS[Shape(shape)]:
            if key not in data:
                c.error(f"{path}.{key}", f"is required for a {shape} tactic")
        for key in sorted(_SHAPE_ONLY - _SHAPE_ALLOWS[Shape(shape)]):
            if key in data:
                c.error(f"{path}.{key}", f"makes no sense for a {shape} tactic; remove it")

    schedule = c.text(data, "schedule", path, max_length=300)
    if "schedule" in data and shape == Shape.RECURRING:
        for problem in schedule_problems(schedule):
            c.error(f"{path}.schedule", problem)
    trigger = c.choice(data, "trigger", path, Trigger.values)
    trigger_stage = c.text(data, "trigger_stage", path, max_length=100)
    if trigger == Trigger.DEAL_ENTERED_STAGE:
        if not trigger_stage:
            c.error(f"{path}.trigger_stage", "is required when the trigger is deal_entered_stage")
        elif trigger_stage not in c.known.stages:
            c.error(
                f"{path}.trigger_stage",
                f"there is no stage {trigger_stage!r} in any sales process",
            )
    elif trigger and "trigger_stage" in data:
        c.error(f"{path}.trigger_stage", f"makes no sense for the trigger {trigger}; remove it")
    due_on = c.day(data, "due_on", path, required=False)
    if due_on is not None and span is not None and not span[0] <= due_on <= span[1]:
        c.error(f"{path}.due_on", f"{due_on} is outside the plan ({span[0]} to {span[1]})")

    position = c.integer(data, "position", path, 0, 32767)
    measure = c.choice(data, "measure", path, Measure.values) or Measure.TASK_COMPLETED.value
    activity_type = c.choice(data, "activity_type", path, ActivityType.values)
    record_kind = c.choice(data, "record_kind", path, RecordKind.values)
    for key, needed_by in (
        ("activity_type", Measure.ACTIVITY_LOGGED),
        ("record_kind", Measure.RECORD_CREATED),
    ):
        if measure == needed_by and key not in data:
            c.error(f"{path}.{key}", f"is required when the measure is {needed_by}")
        elif measure != needed_by and key in data:
            c.error(f"{path}.{key}", f"makes no sense unless the measure is {needed_by}")

    tactic = TacticSpec(
        name=name,
        shape=shape,
        role=role,
        person=person,
        description=c.text(data, "description", path),
        schedule=schedule,
        minutes=c.integer(data, "minutes", path, 1, 24 * 60),
        trigger=trigger,
        trigger_stage=trigger_stage,
        deadline_days=c.integer(data, "deadline_days", path, 0, MAX_DEADLINE_DAYS),
        target_count=c.integer(data, "target_count", path, 1),
        due_on=due_on,
        measure=measure,
        activity_type=activity_type,
        record_kind=record_kind,
        task_title=c.text(data, "task_title", path, max_length=NAME_LENGTH),
        position=index if position is None else position,
        is_active=c.boolean(data, "is_active", path, True),
    )
    return tactic if name and shape else None


def _plan(c: _Checker, raw: Any, path: str, strategies: set[str]) -> PlanSpec | None:
    data = c.mapping(raw, path, _PLAN_KEYS)
    if data is None:
        return None
    name = c.text(data, "name", path, required=True, max_length=NAME_LENGTH)
    strategy = c.text(data, "strategy", path, required=True)
    if strategy and strategy not in strategies:
        c.error(
            f"{path}.strategy",
            f"there is no strategy {strategy!r} in this file or in Keel; add it under strategies",
        )
    team = c.text(data, "team", path)
    if team and team not in c.known.teams:
        c.error(
            f"{path}.team",
            f"there is no team {team!r} (known: {', '.join(sorted(c.known.teams)) or 'none'})",
        )
    span = c.span(data, path)
    if span is not None:
        for problem in plan_span_problems(starts_on=span[0], ends_on=span[1]):
            c.error(f"{path}.ends_on", problem)
    raw_tactics = c.items(data, "tactics", f"{path}.")
    c.names(raw_tactics, f"{path}.tactics", "tactic")
    tactics = [
        _tactic(c, raw_t, f"{path}.tactics[{i}]", i, span) for i, raw_t in enumerate(raw_tactics)
    ]
    if not name or not strategy or span is None:
        return None
    return PlanSpec(
        name=name,
        strategy=strategy,
        starts_on=span[0],
        ends_on=span[1],
        description=c.text(data, "description", path),
        tactics=tuple(t for t in tactics if t is not None),
        team=team,
    )


def parse_plans(document: Any, *, known: Known) -> PlanFileSpec:
    """Validate a loaded YAML document; raise PlanDefinitionError with every problem."""
    c = _Checker(known)
    data = c.mapping(document, "", ("goals", "strategies", "plans"))
    if data is None:
        raise PlanDefinitionError(c.errors)
    raw_goals = c.items(data, "goals", "")
    raw_strategies = c.items(data, "strategies", "")
    raw_plans = c.items(data, "plans", "")
    if not (raw_goals or raw_strategies or raw_plans) and not c.errors:
        c.error("plan file", "nothing to import: add goals, strategies or plans")
    c.names(raw_goals, "goals", "goal")
    c.names(raw_strategies, "strategies", "strategy")
    c.names(raw_plans, "plans", "plan")

    def named(raw: list[Any]) -> set[str]:
        return {
            item["name"].strip()
            for item in raw
            if isinstance(item, dict) and isinstance(item.get("name"), str)
        }

    goals = [_goal(c, raw, f"goals[{i}]") for i, raw in enumerate(raw_goals)]
    goal_names = named(raw_goals) | known.goals
    strategies = [
        _strategy(c, raw, f"strategies[{i}]", goal_names) for i, raw in enumerate(raw_strategies)
    ]
    strategy_names = named(raw_strategies) | known.strategies
    plans = [_plan(c, raw, f"plans[{i}]", strategy_names) for i, raw in enumerate(raw_plans)]
    if c.errors:
        raise PlanDefinitionError(c.errors)
    return PlanFileSpec(
        goals=tuple(g for g in goals if g is not None),
        strategies=tuple(s for s in strategies if s is not None),
        plans=tuple(p for p in plans if p is not None),
    )


# --- back to YAML -----------------------------------------------------------------------


def _number(value: Decimal) -> int | float | str:
    if value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    return as_float if Decimal(str(as_float)) == value else str(value)


def plan_document(spec: PlanFileSpec) -> dict[str, Any]:
    """The YAML-ready form of a spec; `parse_plans` of it gives the same spec back."""
    document: dict[str, Any] = {}
    if spec.goals:
        document["goals"] = [_goal_document(g) for g in spec.goals]
    if spec.strategies:
        document["strategies"] = [_strategy_document(s) for s in spec.strategies]
    if spec.plans:
        document["plans"] = [_plan_document(p) for p in spec.plans]
    return document


def _goal_document(g: GoalSpec) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": g.name,
        "target": _number(g.target),
        "unit": g.unit,
        "starts_on": g.starts_on,
        "ends_on": g.ends_on,
    }
    for key in ("metric", "query", "owner", "description"):
        if getattr(g, key):
            data[key] = getattr(g, key)
    return data


def _strategy_document(s: StrategySpec) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": s.name,
        "goals": list(s.goals),
        "starts_on": s.starts_on,
        "ends_on": s.ends_on,
    }
    for key in ("owner", "description"):
        if getattr(s, key):
            data[key] = getattr(s, key)
    return data


def _plan_document(p: PlanSpec) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": p.name,
        "strategy": p.strategy,
    }
    if p.team:
        data["team"] = p.team
    data["starts_on"] = p.starts_on
    data["ends_on"] = p.ends_on
    if p.description:
        data["description"] = p.description
    data["tactics"] = [_tactic_document(t) for t in p.tactics]
    return data


def _tactic_document(t: TacticSpec) -> dict[str, Any]:
    data: dict[str, Any] = {"name": t.name, "shape": t.shape}
    if t.role:
        data["role"] = t.role
    else:
        data["person"] = t.person
    for key in (
        "description",
        "schedule",
        "minutes",
        "trigger",
        "trigger_stage",
        "deadline_days",
        "target_count",
        "due_on",
    ):
        value = getattr(t, key)
        if value not in ("", None):
            data[key] = value
    data["measure"] = t.measure
    for key in ("activity_type", "record_kind", "task_title"):
        if getattr(t, key):
            data[key] = getattr(t, key)
    data["position"] = t.position
    if not t.is_active:
        data["is_active"] = False
    return data


def load_yaml(text: str) -> Any:
    """The YAML document, or a PlanDefinitionError that says where it is broken."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise PlanDefinitionError([f"plan file: not valid YAML{where}: {problem}"]) from None


def plan_yaml(spec: PlanFileSpec) -> str:
    return yaml.safe_dump(plan_document(spec), sort_keys=False, allow_unicode=True, width=88)
