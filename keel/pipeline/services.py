"""Writes to sales processes and deals. Each service checks, then does, in one transaction."""

from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from typing import Any

import yaml
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from keel.accounts.models import User
from keel.accounts.permissions import can_override_exit_criteria
from keel.activities.models import CompletionPlan, CompletionPlanStep
from keel.activities.services import plan_tasks_create
from keel.core.exceptions import InvalidInput, NotAllowed, StaleVersion
from keel.core.services import audit_record, model_update, validate
from keel.crm.models import Company, Contact
from keel.crm.services import funnel_recompute
from keel.hooks.services import stage_change_emit
from keel.pipeline.access import ensure_can_edit_deal
from keel.pipeline.models import (
    ChecklistTick,
    Deal,
    DealContact,
    DealStatus,
    LostReason,
    ProcessVersion,
    SalesProcess,
    Stage,
    StageChange,
    StageKind,
)
from keel.pipeline.rules import (
    ProcessDefinitionError,
    ProcessSpec,
    StageRules,
    Unmet,
    criteria_from_stored,
    parse_process,
    unmet_criteria,
)
from keel.pipeline.selectors import deal_snapshot, process_current_version, version_stages
from keel.planning.triggers import stage_change_fire

DEFAULT_PROCESSES = ("new_business.yaml", "renewal.yaml", "upsell.yaml")


class MoveBlocked(InvalidInput):
    """A forward move whose exit criteria are not met; the deal stays where it was."""

    def __init__(self, message: str, *, unmet: list[Unmet]) -> None:
        super().__init__(message, details=[f"{u.stage}: {u.message}" for u in unmet])
        self.unmet = unmet


# --- processes --------------------------------------------------------------------------


def _load_yaml(source: str) -> Any:
    try:
        return yaml.safe_load(source)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise InvalidInput(f"The file is not valid YAML{where}: {problem}.") from None


@transaction.atomic
def process_import(*, source: str, by: User | None) -> ProcessVersion:
    """Validate a YAML process definition and store it as the process's next version.

    Open deals of the process move onto the new version's stage of the same name; a new
    version that drops (or closes) a stage open deals are in is refused.
    """
    try:
        spec = parse_process(_load_yaml(source))
    except ProcessDefinitionError as error:
        count = len(error.errors)
        raise InvalidInput(
            f"The process definition has {count} problem{'s' if count > 1 else ''}; "
            "nothing was imported.",
            details=error.errors,
        ) from None
    process, _ = SalesProcess.objects.select_for_update().get_or_create(
        name=spec.name, defaults={"kind": spec.kind}
    )
    model_update(
        instance=process,
        data={"kind": spec.kind, "description": spec.description},
        fields=["kind", "description"],
    )
    previous = process_current_version(process=process)
    version = ProcessVersion.objects.create(
        process=process,
        number=(previous.number + 1) if previous else 1,
        created_by=by,
        source=source,
    )
    stages = _stages_create(version=version, spec=spec)
    if previous is not None:
        _open_deals_remap(process=process, previous=previous, version=version, stages=stages)
    audit_record(
        actor=by, action="process.import", obj=version, summary=f"{process} v{version.number}"
    )
    return version


def _stages_create(*, version: ProcessVersion, spec: ProcessSpec) -> dict[str, Stage]:
    stages = {}
    for position, s in enumerate(spec.stages, start=1):
        plan = None
        if s.completion_plan is not None:
            plan = CompletionPlan.objects.create(
                name=f"{spec.name} v{version.number}: {s.name}", phase=s.completion_plan.phase
            )
            CompletionPlanStep.objects.bulk_create(
                CompletionPlanStep(
                    plan=plan, position=i, title=st.title, role=st.role, due_days=st.due_days
                )
                for i, st in enumerate(s.completion_plan.steps, start=1)
            )
        stages[s.name] = Stage.objects.create(
            version=version,
            name=s.name,
            position=position,
            kind=s.kind,
            probability=s.probability,
            expected_days=s.expected_days,
            buyer_step=s.buyer_step,
            buyer_concerns=list(s.buyer_concerns),
            buyer_needs=list(s.buyer_needs),
            guidance=s.guidance,
            exit_criteria=[c.as_dict() for c in s.exit_criteria],
            recommended_collateral=list(s.recommended_collateral),
            completion_plan=plan,
        )
    return stages


def _open_deals_remap(
    *,
    process: SalesProcess,
    previous: ProcessVersion,
    version: ProcessVersion,
    stages: dict[str, Stage],
) -> None:
    open_deals = Counter(
        Deal.objects.filter(process=process, status=DealStatus.OPEN).values_list(
            "stage__name", flat=True
        )
    )
    stranded = [
        f"{count} open deal{'s are' if count > 1 else ' is'} in {name!r}, which the new "
        "version drops or closes"
        for name, count in sorted(open_deals.items())
        if name not in stages or stages[name].kind != StageKind.OPEN
    ]
    if stranded:
        raise InvalidInput(
            f"The new version of {process} would strand open deals; keep those stages "
            "or move the deals first. Nothing was imported.",
            details=stranded,
        )
    for name in open_deals:
        Deal.objects.filter(process=process, status=DealStatus.OPEN, stage__name=name).update(
            process_version=version, stage=stages[name], version=F("version") + 1
        )


def process_install_defaults() -> list[ProcessVersion]:
    """Import the shipped processes that this database does not have yet."""
    installed = []
    folder = resources.files("keel.pipeline") / "processes"
    for filename in DEFAULT_PROCESSES:
        source = (folder / filename).read_text(encoding="utf-8")
        name = yaml.safe_load(source)["name"]
        if not SalesProcess.objects.filter(name=name).exists():
            installed.append(process_import(source=source, by=None))
    return installed


# --- deals ------------------------------------------------------------------------------


DEAL_EDITABLE_FIELDS = [
    "name",
    "amount",
    "currency",
    "expected_close",
    "channel",
    "source",
    "campaign",
    "next_step",
    "referred_by",
    "owner",
]


@transaction.atomic
def deal_create(
    *,
    by: User,
    name: str,
    company: Company,
    owner: User | None = None,
    process: SalesProcess | None = None,
    stage_name: str | None = None,
    amount: Decimal | None = None,
    currency: str | None = None,
    expected_close: date | None = None,
    channel: str = "",
    source: str = "",
    campaign: str = "",
    next_step: str = "",
    referred_by: Contact | None = None,
) -> Deal:
    owner = owner or by
    ensure_can_edit_deal(by, Deal(owner=owner))
    if process is None:
        process = SalesProcess.objects.filter(is_active=True).order_by("id").first()
        if process is None:
            raise InvalidInput("There is no sales process yet: import one first.")
    version = process_current_version(process=process)
    if version is None:
        raise InvalidInput(f"The process {process} has no version yet: import one first.")
    stages = list(version_stages(version.pk))
    if stage_name is None:
        stage = next(s for s in stages if s.kind == StageKind.OPEN)
    else:
        stage = _stage_named(stages, stage_name)
        if stage.kind != StageKind.OPEN:
            raise InvalidInput(f"A new deal starts in an open stage, not in {stage.name}.")
    now = timezone.now()
    deal = Deal(
        name=name,
        company=company,
        owner=owner,
        process=process,
        process_version=version,
        stage=stage,
        amount=amount,
        expected_close=expected_close,
        channel=channel,
        source=source,
        campaign=campaign,
        next_step=next_step,
        referred_by=referred_by,
        stage_entered_at=now,
        updated_by=by,
    )
    if currency:
        deal.currency = currency
    validate(deal)
    deal.save()
    StageChange.objects.create(deal=deal, process_version=version, to_stage=stage, at=now, by=by)
    plan_tasks_create(deal=deal, stage=stage, entered_at=now, by=by)
    referrer_company = referred_by.company_id if referred_by else None
    funnel_recompute(
        contact_ids=[referred_by.pk] if referred_by else [],
        company_ids=[pk for pk in (company.pk, referrer_company) if pk is not None],
    )
    audit_record(actor=by, action="deal.create", obj=deal, summary=name)
    return deal


def _stage_named(stages: list[Stage], name: str) -> Stage:
    for stage in stages:
        if stage.name.casefold() == name.strip().casefold():
            return stage
    names = ", ".join(s.name for s in stages)
    raise InvalidInput(f"There is no stage {name!r} in this process; its stages are: {names}.")


def _stale(deal: Deal, expected_version: int) -> StaleVersion:
    """The refusal of a write based on `expected_version`, naming who changed the deal since."""
    current = Deal.objects.select_related("updated_by").get(pk=deal.pk)
    who = current.updated_by or "someone"
    when = timezone.localtime(current.updated_at).strftime("%Y-%m-%d %H:%M")
    return StaleVersion(
        f"{current.name} was changed by {who} at {when} (version {current.version}, "
        f"you edited version {expected_version}). Nothing was saved: reload the deal "
        "and make your change again."
    )


def _locked(deal: Deal, *, by: User, expected_version: int) -> Deal:
    """The deal re-read under a row lock, if `by` may edit it and nobody changed it since."""
    current = Deal.objects.select_for_update(of=("self",)).get(pk=deal.pk)
    ensure_can_edit_deal(by, current)
    if current.version != expected_version:
        raise _stale(current, expected_version)
    return current


def _bump(deal: Deal, *, by: User, now: datetime, **changes: Any) -> None:
    """Write `changes` and raise the version, only if the database still has `deal.version`.

    This conditional UPDATE is the optimistic lock: a concurrent write in between makes it
    match no row, and the whole transaction is refused rather than merged.
    """
    written = Deal.objects.filter(pk=deal.pk, version=deal.version).update(
        version=F("version") + 1, updated_by=by, updated_at=now, **changes
    )
    if written != 1:
        raise _stale(deal, deal.version)
    for key, value in changes.items():
        setattr(deal, key, value)
    deal.version += 1
    deal.updated_by = by
    deal.updated_at = now


@transaction.atomic
def deal_update(*, deal: Deal, by: User, expected_version: int, data: dict[str, Any]) -> Deal:
    """Edit a deal's fields; a write based on a stale version is refused, never merged."""
    unknown = set(data) - set(DEAL_EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(
            f"These deal fields cannot be edited here: {', '.join(sorted(unknown))}."
        )
    current = _locked(deal, by=by, expected_version=expected_version)
    if "owner" in data and data["owner"] != current.owner:
        ensure_can_edit_deal(by, Deal(owner=data["owner"]))
    changes = model_update(instance=current, data=data, fields=DEAL_EDITABLE_FIELDS)
    if changes:
        _bump(current, by=by, now=timezone.now())
        audit_record(actor=by, action="deal.update", obj=current, changes=changes)
    return current


def _leaving(stages: list[Stage], current: Stage, target: Stage) -> list[Stage]:
    """The open stages a forward move leaves behind: the current one and any it skips."""
    if current.kind != StageKind.OPEN or target.kind == StageKind.LOST:
        return []
    if target.kind == StageKind.WON:
        return [s for s in stages if s.kind == StageKind.OPEN and s.position >= current.position]
    if target.position <= current.position:
        return []
    return [s for s in stages if current.position <= s.position < target.position]


def deal_move_check(
    *,
    deal: Deal,
    stages: list[Stage],
    to_stage: str,
    by: User,
    lost_reason: str = "",
    override_reason: str = "",
) -> tuple[Stage, Stage, list[Unmet]]:
    """Decide a move without writing: the current and target stages and the unmet criteria
    an override sets aside.

    Raises MoveBlocked when evidence is missing and no permitted override was given.
    """
    current = next(s for s in stages if s.pk == deal.stage_id)
    target = _stage_named(stages, to_stage)
    if target.pk == current.pk:
        raise InvalidInput(f"{deal.name} is already in {current.name}.")
    if target.kind == StageKind.LOST:
        if lost_reason not in LostReason.values:
            choices = ", ".join(f"{v} ({label})" for v, label in LostReason.choices)
            raise InvalidInput(f"Say why {deal.name} was lost; the reason is one of: {choices}.")
    elif lost_reason:
        raise InvalidInput("A lost reason belongs only to a move to a lost stage.")
    override_reason = override_reason.strip()
    if override_reason and not can_override_exit_criteria(by):
        raise NotAllowed("Only a sales manager or the owner may override exit criteria.")
    leaving = _leaving(stages, current, target)
    unmet: list[Unmet] = []
    rules = [StageRules(s.name, criteria_from_stored(s.exit_criteria)) for s in leaving]
    criteria = [c for rule in rules for c in rule.exit_criteria]
    if criteria:
        unmet = unmet_criteria(deal_snapshot(deal=deal, criteria=criteria), rules)
    if unmet and not override_reason:
        count = len(unmet)
        raise MoveBlocked(
            f"{deal.name} cannot move from {current.name} to {target.name}: "
            f"{count} exit criteri{'a are' if count > 1 else 'on is'} not met.",
            unmet=unmet,
        )
    return current, target, unmet


@transaction.atomic
def deal_move(
    *,
    deal: Deal,
    to_stage: str,
    by: User,
    expected_version: int,
    lost_reason: str = "",
    lost_note: str = "",
    override_reason: str = "",
) -> StageChange:
    """Move a deal to another stage of its process, or refuse and change nothing.

    A forward move checks the exit criteria of every stage it leaves, skipped ones
    included; a move backward or out of an outcome is recorded without checks; a lost deal
    needs a reason; a manager may override unmet criteria with a recorded reason.

    `deal` is the deal as the user saw it: if the database has moved past
    `expected_version`, or moves past it before this write lands, the move is refused.
    """
    ensure_can_edit_deal(by, deal)
    if deal.version != expected_version:
        raise _stale(deal, expected_version)
    stages = list(version_stages(deal.process_version_id))
    previous, target, unmet = deal_move_check(
        deal=deal,
        stages=stages,
        to_stage=to_stage,
        by=by,
        lost_reason=lost_reason,
        override_reason=override_reason,
    )
    now = timezone.now()
    status = {StageKind.OPEN: DealStatus.OPEN, StageKind.WON: DealStatus.WON}.get(
        StageKind(target.kind), DealStatus.LOST
    )
    _bump(
        deal,
        by=by,
        now=now,
        stage=target,
        status=status,
        stage_entered_at=now,
        closed_at=None if status == DealStatus.OPEN else now,
        lost_reason=lost_reason,
        lost_note=lost_note.strip() if status == DealStatus.LOST else "",
    )
    change = StageChange.objects.create(
        deal=deal,
        process_version_id=deal.process_version_id,
        from_stage=previous,
        to_stage=target,
        at=now,
        by=by,
        evidence={"overridden": [u.__dict__ for u in unmet]} if unmet else {},
        override_reason=override_reason.strip() if unmet else "",
        lost_reason=lost_reason,
    )
    stage_change_emit(change=change)
    stage_change_fire(change=change)  # the tactics waiting on this stage, or on a win
    plan_tasks_create(deal=deal, stage=target, entered_at=now, by=by)
    if status != DealStatus.OPEN or previous.kind != StageKind.OPEN:
        funnel_recompute(
            contact_ids=list(deal.deal_contacts.values_list("contact_id", flat=True)),
            company_ids=[deal.company_id],
        )
    return change


@transaction.atomic
def deal_contact_add(*, deal: Deal, contact: Contact, by: User, role: str = "") -> DealContact:
    """Attach a contact to a deal with their buying role on it (default: their usual one)."""
    ensure_can_edit_deal(by, deal)
    link, created = DealContact.objects.update_or_create(
        deal=deal, contact=contact, defaults={"role": role or contact.buying_role}
    )
    funnel_recompute(
        contact_ids=[contact.pk],
        company_ids=[pk for pk in (deal.company_id, contact.company_id) if pk is not None],
    )
    audit_record(
        actor=by,
        action="deal.contact_add" if created else "deal.contact_role",
        obj=deal,
        summary=f"{contact}: {link.get_role_display() or 'no role'}",
    )
    return link


@transaction.atomic
def checklist_tick(*, deal: Deal, item: str, by: User) -> ChecklistTick:
    ensure_can_edit_deal(by, deal)
    item = item.strip()
    if not item:
        raise InvalidInput("Name the checklist item to tick.")
    tick, created = ChecklistTick.objects.get_or_create(
        deal=deal, item=item, defaults={"ticked_by": by, "ticked_at": timezone.now()}
    )
    if created:
        audit_record(actor=by, action="deal.tick", obj=deal, summary=item)
    return tick


@transaction.atomic
def checklist_untick(*, deal: Deal, item: str, by: User) -> None:
    ensure_can_edit_deal(by, deal)
    deleted, _ = ChecklistTick.objects.filter(deal=deal, item=item.strip()).delete()
    if deleted:
        audit_record(actor=by, action="deal.untick", obj=deal, summary=item)
