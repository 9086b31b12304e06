"""Reads of the planning: plans as YAML, the list of plans, what a plan file may refer to."""

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Q

from keel.accounts.models import Team, User
from keel.core.exceptions import InvalidInput
from keel.pipeline.models import Stage
from keel.planning.models import Goal, Strategy, Tactic, TacticalPlan
from keel.planning.plan_yaml import (
    GoalSpec,
    Known,
    PlanFileSpec,
    PlanSpec,
    StrategySpec,
    TacticSpec,
    plan_yaml,
)
from keel.scorecard.models import Metric

PLAN_LIST_LIMIT = 500


def plan_references() -> Known:
    """The names a plan file may use that are already in Keel, read in six queries."""
    users = User.objects.filter(is_active=True)
    return Known(
        metrics=frozenset(Metric.objects.values_list("key", flat=True)),
        usernames=frozenset(users.values_list("username", flat=True)),
        goals=frozenset(Goal.objects.values_list("name", flat=True)),
        strategies=frozenset(Strategy.objects.values_list("name", flat=True)),
        stages=frozenset(Stage.objects.values_list("name", flat=True).distinct()),
        teams=frozenset(Team.objects.values_list("name", flat=True)),
    )


def _username(user: User | None) -> str:
    return user.username if user is not None else ""


def _tactic_spec(t: Tactic) -> TacticSpec:
    return TacticSpec(
        name=t.name,
        shape=t.shape,
        role=t.role,
        person=_username(t.person),
        description=t.description,
        schedule=t.schedule,
        minutes=t.minutes,
        trigger=t.trigger,
        trigger_stage=t.trigger_stage,
        deadline_days=t.deadline_days,
        target_count=t.target_count,
        due_on=t.due_on,
        measure=t.measure,
        activity_type=t.activity_type,
        record_kind=t.record_kind,
        task_title=t.task_title,
        position=t.position,
        is_active=t.is_active,
    )


def plan_spec(*, plan: TacticalPlan) -> PlanFileSpec:
    """A plan with its strategy and the strategy's goals, as `parse_plans` would give it."""
    strategy = Strategy.objects.select_related("owner").get(pk=plan.strategy_id)
    goals = strategy.goals.select_related("metric", "owner").order_by("ends_on", "name")
    tactics = plan.tactics.select_related("person").order_by("position", "name")
    return PlanFileSpec(
        goals=tuple(
            GoalSpec(
                name=g.name,
                target=g.target,
                unit=g.unit,
                starts_on=g.starts_on,
                ends_on=g.ends_on,
                metric=g.metric.key if g.metric is not None else "",
                query=g.query,
                owner=_username(g.owner),
                description=g.description,
            )
            for g in goals
        ),
        strategies=(
            StrategySpec(
                name=strategy.name,
                goals=tuple(g.name for g in goals),
                starts_on=strategy.starts_on,
                ends_on=strategy.ends_on,
                description=strategy.description,
                owner=_username(strategy.owner),
            ),
        ),
        plans=(
            PlanSpec(
                name=plan.name,
                strategy=strategy.name,
                starts_on=plan.starts_on,
                ends_on=plan.ends_on,
                description=plan.description,
                tactics=tuple(_tactic_spec(t) for t in tactics),
                team=plan.team.name if plan.team is not None else "",
            ),
        ),
    )


def plan_export(*, name: str) -> str:
    """A plan, its strategy and goals as YAML that `keel plan import` reads back unchanged."""
    plan = TacticalPlan.objects.filter(name=name).first()
    if plan is None:
        known = ", ".join(TacticalPlan.objects.values_list("name", flat=True)[:50]) or "none yet"
        raise InvalidInput(f"There is no tactical plan {name!r}. Plans: {known}.")
    return plan_yaml(plan_spec(plan=plan))


@dataclass(frozen=True)
class PlanRow:
    name: str
    strategy: str
    starts_on: date
    ends_on: date
    is_active: bool
    tactics: int
    active_tactics: int


def plan_list() -> list[PlanRow]:
    """The tactical plans with their strategy and tactic counts, in one query."""
    plans = (
        TacticalPlan.objects.select_related("strategy")
        .annotate(
            tactic_count=Count("tactics"),
            active_count=Count("tactics", filter=Q(tactics__is_active=True)),
        )
        .order_by("starts_on", "name")[:PLAN_LIST_LIMIT]
    )
    return [
        PlanRow(
            name=p.name,
            strategy=p.strategy.name,
            starts_on=p.starts_on,
            ends_on=p.ends_on,
            is_active=p.is_active,
            tactics=p.tactic_count,
            active_tactics=p.active_count,
        )
        for p in plans
    ]
