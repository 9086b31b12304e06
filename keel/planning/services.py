"""Writes to the planning: goals, strategies, plans and tactics one at a time (the web
pages), or a plan file as a whole, checked first, then written in one transaction.

Who may write what is planning/access.py's: the owner writes goals and strategies; a
plan and its tactics are its team's manager's and the owner's. Each service checks it
before anything else, so the pages, the API and `keel plan import` share one rule.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone

from keel.accounts.models import Team, User
from keel.accounts.permissions import is_manager
from keel.core.exceptions import InvalidInput, NotAllowed, StaleVersion
from keel.core.models import AuditEntry
from keel.core.services import audit_record, model_update, validate
from keel.pipeline.models import Stage
from keel.planning.access import (
    can_edit_big_picture,
    can_edit_plan,
    ensure_can_edit_big_picture,
    ensure_can_edit_plan,
)
from keel.planning.models import Goal, Strategy, Tactic, TacticalPlan
from keel.planning.plan_yaml import (
    TACTIC_KEYS,
    PlanDefinitionError,
    PlanFileSpec,
    PlanSpec,
    TacticSpec,
    load_yaml,
    parse_plans,
    tactic_problems,
)
from keel.planning.rules import plan_span_problems
from keel.planning.selectors import plan_references
from keel.scorecard.models import Metric

M = TypeVar("M", bound=models.Model)


@dataclass
class ImportResult:
    """What an import did (or, on a dry run, would do), one line per record."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    unchanged: int = 0
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deactivated)


def plan_import(*, text: str, by: User, dry_run: bool = False) -> ImportResult:
    """Upsert the goals, strategies and tactical plans of a YAML plan file, by name.

    Nothing is written unless the whole file is valid. Importing the same file again changes
    nothing; a tactic the file no longer lists is deactivated, never deleted, so the work it
    already asked for (its occurrences) stays. A dry run checks and counts, then rolls back.
    """
    if not is_manager(by):
        raise NotAllowed("Only the owner and sales managers may import plans.")
    try:
        spec = parse_plans(load_yaml(text), known=plan_references())
    except PlanDefinitionError as error:
        count = len(error.errors)
        raise InvalidInput(
            f"The plan file has {count} problem{'s' if count > 1 else ''}; nothing was imported.",
            details=error.errors,
        ) from None
    with transaction.atomic():
        result = _plan_file_write(spec=spec, by=by)
        result.dry_run = dry_run
        if dry_run:
            transaction.set_rollback(True)
    return result


def _plan_file_write(*, spec: PlanFileSpec, by: User) -> ImportResult:
    """Write the file; raise NotAllowed (rolling it all back) if it does what `by` may not.

    The big picture's records are upserted, then refused if `by` may not have changed
    them: the diff `_upsert` computes is the one the refusal needs, and the transaction
    makes the write vanish.
    """
    result = ImportResult()
    refused: list[str] = []
    big_picture = can_edit_big_picture(by)
    teams = {t.name: t for t in Team.objects.filter(name__in={p.team for p in spec.plans})}
    usernames = {g.owner for g in spec.goals} | {s.owner for s in spec.strategies}
    usernames |= {t.person for p in spec.plans for t in p.tactics}
    users = {u.username: u for u in User.objects.filter(username__in=usernames - {""})}
    metrics = {
        m.key: m for m in Metric.objects.filter(key__in={g.metric for g in spec.goals} - {""})
    }

    for i, g in enumerate(spec.goals):
        goal, created, changes = _upsert(
            Goal,
            lookup={"name": g.name},
            data={
                "target": g.target,
                "unit": g.unit,
                "starts_on": g.starts_on,
                "ends_on": g.ends_on,
                "metric": metrics.get(g.metric),
                "query": g.query,
                "owner": users.get(g.owner),
                "description": g.description,
            },
        )
        if not big_picture and (created or changes):
            verb = "create" if created else f"change ({', '.join(changes)})"
            refused.append(f"goals[{i}]: only the owner may {verb} the goal {g.name!r}")
        _note(result, by=by, obj=goal, kind="goal", created=created, changes=changes)

    for i, s in enumerate(spec.strategies):
        strategy, created, changes = _upsert(
            Strategy,
            lookup={"name": s.name},
            data={
                "starts_on": s.starts_on,
                "ends_on": s.ends_on,
                "description": s.description,
                "owner": users.get(s.owner),
            },
        )
        served = sorted(strategy.goals.values_list("name", flat=True))
        if served != sorted(s.goals):
            strategy.goals.set(Goal.objects.filter(name__in=s.goals))
            if not created:
                changes["goals"] = [served, sorted(s.goals)]
        if not big_picture and (created or changes):
            verb = "create" if created else f"change ({', '.join(changes)})"
            refused.append(f"strategies[{i}]: only the owner may {verb} the strategy {s.name!r}")
        _note(result, by=by, obj=strategy, kind="strategy", created=created, changes=changes)

    for i, p in enumerate(spec.plans):
        team = teams.get(p.team)
        refusal = _plan_refusal(by=by, name=p.name, team=team)
        if refusal:
            refused.append(f"plans[{i}]: {refusal}")
            continue
        outsiders = [
            (j, t.person)
            for j, t in enumerate(p.tactics)
            if team is not None and t.person and users[t.person].team_id != team.pk
        ]
        refused += [
            f"plans[{i}].tactics[{j}].person: {name} is not in team {team}, whose plan this is"
            for j, name in outsiders
        ]
        if not outsiders:
            _plan_write(result, by=by, p=p, team=team, users=users)
    if refused:
        raise NotAllowed(
            f"{by} may not import this file: {len(refused)} refusal"
            f"{'s' if len(refused) > 1 else ''}; nothing was imported.",
            details=refused,
        )
    return result


def _plan_refusal(*, by: User, name: str, team: Team | None) -> str:
    """Why `by` may not write the plan `name` as `team`'s, if they may not: neither the plan
    as it is (another team's) nor as it would be (of another team, or of none)."""
    existing = TacticalPlan.objects.select_related("team").filter(name=name).first()
    for version, verb in ((existing, "change"), (TacticalPlan(name=name, team=team), "write")):
        if version is None or can_edit_plan(by, version):
            continue
        if version.team_id:
            return (
                f"{by} may not {verb} {name!r} as team {version.team}'s plan: "
                "its manager and the owner keep it"
            )
        return f"{by} may not {verb} {name!r} as a plan of no team: the owner keeps those"
    return ""


def _plan_write(
    result: ImportResult, *, by: User, p: PlanSpec, team: Team | None, users: dict[str, User]
) -> None:
    plan, created, changes = _upsert(
        TacticalPlan,
        lookup={"name": p.name},
        data={
            "strategy": Strategy.objects.get(name=p.strategy),
            "team": team,
            "starts_on": p.starts_on,
            "ends_on": p.ends_on,
            "description": p.description,
        },
    )
    _note(result, by=by, obj=plan, kind="plan", created=created, changes=changes)
    listed = set()
    for t in p.tactics:
        listed.add(t.name)
        tactic, created, changes = _upsert(
            Tactic, lookup={"plan": plan, "name": t.name}, data=_tactic_data(t, users)
        )
        _note(result, by=by, obj=tactic, kind="tactic", created=created, changes=changes)
    dropped = plan.tactics.select_for_update().filter(is_active=True).exclude(name__in=listed)
    for tactic in dropped:
        changes = model_update(instance=tactic, data={"is_active": False}, fields=["is_active"])
        audit_record(
            actor=by,
            action="tactic.deactivate",
            obj=tactic,
            summary=f"{plan} / {tactic}: not in the imported file",
            changes=changes,
        )
        result.deactivated.append(f"tactic {plan.name} / {tactic.name}")


def _tactic_data(t: TacticSpec, users: dict[str, User]) -> dict[str, Any]:
    return {
        "description": t.description,
        "shape": t.shape,
        "role": t.role,
        "person": users.get(t.person),
        "schedule": t.schedule,
        "minutes": t.minutes,
        "trigger": t.trigger,
        "trigger_stage": t.trigger_stage,
        "deadline_days": t.deadline_days,
        "target_count": t.target_count,
        "due_on": t.due_on,
        "measure": t.measure,
        "activity_type": t.activity_type,
        "record_kind": t.record_kind,
        "task_title": t.task_title,
        "position": t.position,
        "is_active": t.is_active,
    }


def _upsert(
    model: type[M], *, lookup: dict[str, Any], data: dict[str, Any]
) -> tuple[M, bool, dict[str, Any]]:
    """The row named by `lookup`, created or updated from `data`; (row, created, changes)."""
    instance = model._default_manager.select_for_update().filter(**lookup).first()
    if instance is None:
        instance = model(**lookup, **data)
        validate(instance)
        instance.save()
        return instance, True, {}
    return instance, False, model_update(instance=instance, data=data, fields=list(data))


def _note(
    result: ImportResult,
    *,
    by: User,
    obj: models.Model,
    kind: str,
    created: bool,
    changes: dict[str, Any],
) -> None:
    label = f"{kind} {obj.plan.name} / {obj}" if isinstance(obj, Tactic) else f"{kind} {obj}"
    if created:
        audit_record(actor=by, action=f"{kind}.create", obj=obj, summary=label)
        result.created.append(label)
    elif changes:
        audit_record(actor=by, action=f"{kind}.update", obj=obj, summary=label, changes=changes)
        result.updated.append(label)
    else:
        result.unchanged += 1


# --- one record at a time: the web pages ------------------------------------------------

GOAL_FIELDS = [
    "name", "target", "unit", "starts_on", "ends_on", "metric", "query", "owner", "description",
]  # fmt: skip
STRATEGY_FIELDS = ["name", "description", "starts_on", "ends_on", "owner"]
PLAN_FIELDS = ["name", "strategy", "team", "description", "starts_on", "ends_on", "is_active"]
TACTIC_FIELDS = list(TACTIC_KEYS)  # a tactic written on the web has the keys of its YAML


def _ensure_known_fields(data: dict[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise InvalidInput(f"These fields cannot be set here: {', '.join(unknown)}.")


def _refuse(what: str, problems: list[str]) -> None:
    if problems:
        count = len(problems)
        raise InvalidInput(
            f"The {what} was not saved: {count} problem{'s' if count > 1 else ''}.",
            details=problems,
        )


def _ensure_fresh(current: models.Model, *, expected_updated_at: datetime) -> None:
    """Refuse an edit of a version someone has changed since the form was opened."""
    stored: datetime = current.updated_at  # type: ignore[attr-defined]
    if stored == expected_updated_at:
        return
    last = (
        AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(current), object_id=str(current.pk)
        )
        .select_related("actor")
        .order_by("-at", "-pk")
        .first()
    )
    who = (last.actor if last else None) or "someone"
    when = timezone.localtime(stored).strftime("%Y-%m-%d %H:%M")
    raise StaleVersion(
        f"{current} was changed by {who} at {when}, after you opened it. Nothing was saved."
    )


def _span_problems(*, starts_on: date | None, ends_on: date | None) -> list[str]:
    if starts_on is not None and ends_on is not None and ends_on <= starts_on:
        return [f"ends_on: {ends_on} is not after the start ({starts_on})."]
    return []


@transaction.atomic
def goal_create(
    *,
    by: User,
    name: str,
    target: Decimal,
    unit: str,
    starts_on: date,
    ends_on: date,
    metric: Metric | None = None,
    query: str = "",
    owner: User | None = None,
    description: str = "",
) -> Goal:
    ensure_can_edit_big_picture(by)
    _refuse("goal", _span_problems(starts_on=starts_on, ends_on=ends_on))
    goal = Goal(
        name=name.strip(),
        target=target,
        unit=unit.strip(),
        starts_on=starts_on,
        ends_on=ends_on,
        metric=metric,
        query=query,
        owner=owner,
        description=description,
    )
    validate(goal)
    goal.save()
    audit_record(actor=by, action="goal.create", obj=goal, summary=f"goal {goal}")
    return goal


@transaction.atomic
def goal_update(
    *, goal: Goal, by: User, expected_updated_at: datetime, data: dict[str, Any]
) -> Goal:
    ensure_can_edit_big_picture(by)
    _ensure_known_fields(data, GOAL_FIELDS)
    current = Goal.objects.select_for_update().get(pk=goal.pk)
    _ensure_fresh(current, expected_updated_at=expected_updated_at)
    _refuse(
        "goal",
        _span_problems(
            starts_on=data.get("starts_on", current.starts_on),
            ends_on=data.get("ends_on", current.ends_on),
        ),
    )
    changes = model_update(instance=current, data=data, fields=GOAL_FIELDS)
    if changes:
        audit_record(
            actor=by, action="goal.update", obj=current, summary=f"goal {current}", changes=changes
        )
    return current


def _served(goals: Iterable[Goal]) -> list[Goal]:
    served = list(goals)
    if not served:
        raise InvalidInput(
            "The strategy was not saved: 1 problem.",
            details=["goals: a strategy serves at least one goal; choose the goals it serves."],
        )
    return served


@transaction.atomic
def strategy_create(
    *,
    by: User,
    name: str,
    goals: Iterable[Goal],
    starts_on: date,
    ends_on: date,
    owner: User | None = None,
    description: str = "",
) -> Strategy:
    ensure_can_edit_big_picture(by)
    served = _served(goals)
    _refuse("strategy", _span_problems(starts_on=starts_on, ends_on=ends_on))
    strategy = Strategy(
        name=name.strip(),
        starts_on=starts_on,
        ends_on=ends_on,
        owner=owner,
        description=description,
    )
    validate(strategy)
    strategy.save()
    strategy.goals.set(served)
    audit_record(
        actor=by,
        action="strategy.create",
        obj=strategy,
        summary=f"strategy {strategy}",
        changes={"goals": [[], sorted(g.name for g in served)]},
    )
    return strategy


@transaction.atomic
def strategy_update(
    *, strategy: Strategy, by: User, expected_updated_at: datetime, data: dict[str, Any]
) -> Strategy:
    """Edit a strategy's fields and, with `data["goals"]`, the goals it serves."""
    ensure_can_edit_big_picture(by)
    _ensure_known_fields(data, [*STRATEGY_FIELDS, "goals"])
    current = Strategy.objects.select_for_update().get(pk=strategy.pk)
    _ensure_fresh(current, expected_updated_at=expected_updated_at)
    _refuse(
        "strategy",
        _span_problems(
            starts_on=data.get("starts_on", current.starts_on),
            ends_on=data.get("ends_on", current.ends_on),
        ),
    )
    changes = model_update(instance=current, data=data, fields=STRATEGY_FIELDS)
    if "goals" in data:
        served = _served(data["goals"])
        before = sorted(current.goals.values_list("name", flat=True))
        after = sorted(g.name for g in served)
        if before != after:
            current.goals.set(served)
            changes["goals"] = [before, after]
            if "name" not in changes and len(changes) == 1:
                current.save(update_fields=["updated_at"])  # a new version, for stale edits
    if changes:
        audit_record(
            actor=by,
            action="strategy.update",
            obj=current,
            summary=f"strategy {current}",
            changes=changes,
        )
    return current


def _plan_problems(plan: TacticalPlan) -> list[str]:
    problems = _span_problems(starts_on=plan.starts_on, ends_on=plan.ends_on)
    if not problems and plan.starts_on is not None and plan.ends_on is not None:
        problems = [
            f"ends_on: {p}"
            for p in plan_span_problems(starts_on=plan.starts_on, ends_on=plan.ends_on)
        ]
    outside: list[str] = []
    if plan.pk is not None and not problems:
        outside = sorted(
            plan.tactics.exclude(due_on=None)
            .exclude(due_on__range=(plan.starts_on, plan.ends_on))
            .values_list("name", flat=True)
        )
    if outside:
        problems.append(
            f"ends_on: the tactics {', '.join(outside)} are due outside these dates; "
            "change their due dates first."
        )
    return problems


@transaction.atomic
def plan_create(
    *,
    by: User,
    name: str,
    strategy: Strategy,
    team: Team | None,
    starts_on: date,
    ends_on: date,
    description: str = "",
    is_active: bool = True,
) -> TacticalPlan:
    """A new tactical plan: the owner's for any team or none, a manager's for their team."""
    plan = TacticalPlan(
        name=name.strip(),
        strategy=strategy,
        team=team,
        starts_on=starts_on,
        ends_on=ends_on,
        description=description,
        is_active=is_active,
    )
    ensure_can_edit_plan(by, plan)
    _refuse("tactical plan", _plan_problems(plan))
    validate(plan)
    plan.save()
    audit_record(actor=by, action="plan.create", obj=plan, summary=f"plan {plan}")
    return plan


@transaction.atomic
def plan_update(
    *, plan: TacticalPlan, by: User, expected_updated_at: datetime, data: dict[str, Any]
) -> TacticalPlan:
    """Edit a plan. Moving it to another team (or to none) needs the right to keep it there
    too: a manager cannot give a plan away, nor take another team's."""
    _ensure_known_fields(data, PLAN_FIELDS)
    current = (
        TacticalPlan.objects.select_for_update(of=("self",)).select_related("team").get(pk=plan.pk)
    )
    ensure_can_edit_plan(by, current)
    _ensure_fresh(current, expected_updated_at=expected_updated_at)
    if "team" in data and data["team"] != current.team:
        ensure_can_edit_plan(by, TacticalPlan(name=current.name, team=data["team"]))
    changed = TacticalPlan.objects.get(pk=current.pk)
    for key, value in data.items():
        setattr(changed, key, value)
    _refuse("tactical plan", _plan_problems(changed))
    changes = model_update(instance=current, data=data, fields=PLAN_FIELDS)
    if changes:
        audit_record(
            actor=by, action="plan.update", obj=current, summary=f"plan {current}", changes=changes
        )
    return current


def _ensure_may_assign(by: User, tactic: Tactic, plan: TacticalPlan) -> None:
    """A team's plan asks its own people only: a person named must be in its team."""
    person = tactic.person
    if person is None or plan.team_id is None or person.team_id == plan.team_id:
        return
    raise NotAllowed(
        f"{by} may not assign {person} a tactic of {plan}: the plan is team {plan.team}'s, "
        f"and {person} is not in it."
    )


def _tactic_check(tactic: Tactic, plan: TacticalPlan, by: User) -> None:
    _ensure_may_assign(by, tactic, plan)
    values = {key: getattr(tactic, key) for key in TACTIC_FIELDS}
    stages = frozenset(Stage.objects.values_list("name", flat=True).distinct())
    _refuse("tactic", tactic_problems(values, span=(plan.starts_on, plan.ends_on), stages=stages))
    validate(tactic)


def _tactic_label(tactic: Tactic, plan: TacticalPlan) -> str:
    return f"tactic {plan.name} / {tactic.name}"


@transaction.atomic
def tactic_create(*, plan: TacticalPlan, by: User, data: dict[str, Any]) -> Tactic:
    """A new tactic in `plan`, of one shape; `data` has the tactic's fields (TACTIC_FIELDS)
    and leaves those of the other shapes empty."""
    ensure_can_edit_plan(by, plan)
    _ensure_known_fields(data, TACTIC_FIELDS)
    if "position" not in data:
        data = {**data, "position": plan.tactics.count()}
    tactic = Tactic(plan=plan, **data)
    _tactic_check(tactic, plan, by)
    tactic.save()
    label = _tactic_label(tactic, plan)
    audit_record(actor=by, action="tactic.create", obj=tactic, summary=label)
    return tactic


@transaction.atomic
def tactic_update(
    *, tactic: Tactic, by: User, expected_updated_at: datetime, data: dict[str, Any]
) -> Tactic:
    """Edit a tactic; a change of shape must empty the fields of the old shape."""
    _ensure_known_fields(data, TACTIC_FIELDS)
    current = (
        Tactic.objects.select_for_update(of=("self",))
        .select_related("plan__team")
        .get(pk=tactic.pk)
    )
    plan = current.plan
    ensure_can_edit_plan(by, plan)
    _ensure_fresh(current, expected_updated_at=expected_updated_at)
    changed = Tactic.objects.get(pk=current.pk)
    for key, value in data.items():
        setattr(changed, key, value)
    _tactic_check(changed, plan, by)
    changes = model_update(instance=current, data=data, fields=TACTIC_FIELDS)
    if changes:
        label = _tactic_label(current, plan)
        audit_record(actor=by, action="tactic.update", obj=current, summary=label, changes=changes)
    return current
