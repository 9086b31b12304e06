from collections.abc import Callable, Sequence
from datetime import datetime

import yaml
from django.db.models import Max

from keel.activities.models import Activity
from keel.core.exceptions import InvalidInput
from keel.pipeline.models import ChecklistTick, Deal, DealContact, ProcessVersion, SalesProcess
from keel.pipeline.rules import (
    REQUIRABLE_FIELDS,
    ActivityFact,
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


def process_current_version(*, process: SalesProcess) -> ProcessVersion | None:
    return process.versions.order_by("-number").first()


def deal_snapshot(*, deal: Deal) -> DealSnapshot:
    """Everything the exit criteria look at, in four queries."""
    entered_at = dict(
        deal.stage_changes.values_list("to_stage__name").annotate(last=Max("at")).order_by()
    )
    activities = [
        ActivityFact(type=t, outcome=o, at=at)
        for t, o, at in Activity.objects.filter(deal=deal).values_list("type", "outcome", "at")
    ]
    ticked = frozenset(ChecklistTick.objects.filter(deal=deal).values_list("item", flat=True))
    roles = frozenset(
        DealContact.objects.filter(deal=deal).exclude(role="").values_list("role", flat=True)
    )
    return DealSnapshot(
        fields={name: getattr(deal, _attname(name)) for name in REQUIRABLE_FIELDS},
        stage_entered_at=deal.stage_entered_at,
        entered_at=entered_at,
        activities=activities,
        ticked=ticked,
        contact_roles=roles,
        collateral_sent=[sent for provider in collateral_providers for sent in provider(deal)],
    )


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
