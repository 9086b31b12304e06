"""Writes to the planning. A plan file is checked as a whole, then written in one transaction."""

from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import models, transaction

from keel.accounts.models import User
from keel.accounts.permissions import is_manager
from keel.core.exceptions import InvalidInput, NotAllowed
from keel.core.services import audit_record, model_update, validate
from keel.planning.models import Goal, Strategy, Tactic, TacticalPlan
from keel.planning.plan_yaml import (
    PlanDefinitionError,
    PlanFileSpec,
    TacticSpec,
    load_yaml,
    parse_plans,
)
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
    result = ImportResult()
    usernames = {g.owner for g in spec.goals} | {s.owner for s in spec.strategies}
    usernames |= {t.person for p in spec.plans for t in p.tactics}
    users = {u.username: u for u in User.objects.filter(username__in=usernames - {""})}
    metrics = {
        m.key: m for m in Metric.objects.filter(key__in={g.metric for g in spec.goals} - {""})
    }

    for g in spec.goals:
        goal, created, changes = _upsert(
            Goal,
            lookup={"name": g.name},
            data={
                "target": g.target,
                "unit": g.unit,
                "starts_on": g.starts_on,
                "ends_on": g.ends_on,
                "metric": metrics.get(g.metric),
                "owner": users.get(g.owner),
                "description": g.description,
            },
        )
        _note(result, by=by, obj=goal, kind="goal", created=created, changes=changes)

    for s in spec.strategies:
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
        _note(result, by=by, obj=strategy, kind="strategy", created=created, changes=changes)

    for p in spec.plans:
        plan, created, changes = _upsert(
            TacticalPlan,
            lookup={"name": p.name},
            data={
                "strategy": Strategy.objects.get(name=p.strategy),
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
    return result


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
