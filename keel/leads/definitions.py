"""Lead definitions: drafting, both sides' approvals, the preview, publishing, requalifying.

Evaluation is set-based: each rule is one boolean SQL expression over contacts (an
EXISTS for events and meetings), so a definition judges every contact in one query
(`contacts_judged`). Requalifying reads each contact's verdict and rule results from
that query and writes what changed in bulk: a Qualification per contact whose result or
deciding version changed, the contacts' `qualified_at` / `qualified_by` by id lists,
and their funnel stages (crm.services.funnel_recompute).

Who may do what: marketers, sales managers and the owner draft and approve (a marketer
for marketing, a sales manager for sales, the owner for either side, never both: two
people agree). Publishing needs both approvals. Salespeople, specialists and viewers read.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.utils import timezone

from keel.accounts.models import Role, User
from keel.activities.models import Activity, ActivityType
from keel.core.bulk import ids_reserve, rows_load
from keel.core.exceptions import InvalidInput, NotAllowed, StaleVersion
from keel.core.services import audit_record
from keel.crm.models import Contact, FunnelStage
from keel.leads.campaigns import attribution_refresh
from keel.leads.definition_rules import Rule, RulesError, parse_rules, rules_document
from keel.leads.models import (
    ApprovalSide,
    DefinitionApproval,
    DefinitionStatus,
    LeadDefinition,
    MarketingEvent,
    Qualification,
)
from keel.leads.routing import leads_hand_off
from keel.planning.models import Shape, Tactic, Trigger
from keel.planning.triggers import contact_fire

DEFINING_ROLES = frozenset({Role.OWNER, Role.SALES_MANAGER, Role.MARKETER})
SIDE_OF_ROLE: dict[str, str] = {
    Role.MARKETER: ApprovalSide.MARKETING,
    Role.SALES_MANAGER: ApprovalSide.SALES,
}
OPEN_STAGES = (
    FunnelStage.SUSPECT,
    FunnelStage.PROSPECT,
    FunnelStage.LEAD,
    FunnelStage.QUALIFIED_LEAD,
)  # "open leads": contacts not yet customers
LISTED = 50  # the gained and lost contacts a preview lists
CHUNK = 900  # ids per UPDATE, under SQLite's bound-parameter limit
RULE = "rule_{}"


# --- evaluation ---------------------------------------------------------------------------


def _rule_condition(rule: Rule, now: datetime) -> Q | Exists:
    since = now - timedelta(days=rule.days) if rule.days else None
    if rule.kind == "company":
        return Q(**{f"company__{rule.field}__in": list(rule.values)})
    if rule.kind == "size":
        size = Q(company__employees__isnull=False)
        if rule.low is not None:
            size &= Q(company__employees__gte=rule.low)
        if rule.high is not None:
            size &= Q(company__employees__lte=rule.high)
        return size
    if rule.kind == "icp":
        return Q(company__icp_fit__gte=rule.low)
    if rule.kind == "authority":
        return Q(buying_role__in=list(rule.values))
    if rule.kind == "seniority":
        any_word = Q()
        for word in rule.values:
            any_word |= Q(title__icontains=word)
        return any_word
    if rule.kind == "engagement":
        events = MarketingEvent.objects.filter(
            contact=OuterRef("pk"), type__in=list(rule.values), occurred_at__gte=since
        )
        if rule.at_least == 1:
            return Exists(events)
        counted = events.order_by().values("contact").annotate(n=Count("pk"))
        return Exists(counted.filter(n__gte=rule.at_least))
    if rule.kind == "inquiry":
        return Q(inquired_at__gte=since) if since else Q(inquired_at__isnull=False)
    meetings = Activity.objects.filter(
        contact=OuterRef("pk"), type=ActivityType.MEETING, at__gte=since
    )
    return Exists(meetings)


def contacts_judged(
    *, rules: Sequence[Rule], contacts: QuerySet[Contact] | None = None, now: datetime
) -> QuerySet[Contact]:
    """`contacts` (every one by default) with each rule's result as `rule_0`, `rule_1`, …"""
    rows = Contact.objects.all() if contacts is None else contacts
    return rows.annotate(
        **{
            RULE.format(i): ExpressionWrapper(_rule_condition(rule, now), BooleanField())
            for i, rule in enumerate(rules)
        }
    )


def verdicts(
    *, rules: Sequence[Rule], contacts: QuerySet[Contact] | None = None, now: datetime
) -> dict[int, tuple[bool, ...]]:
    """Each contact's id and its rules' results, in one query."""
    names = [RULE.format(i) for i in range(len(rules))]
    judged = contacts_judged(rules=rules, contacts=contacts, now=now).order_by()
    return {
        pk: tuple(bool(r) for r in results) for pk, *results in judged.values_list("pk", *names)
    }


def rules_of(definition: LeadDefinition) -> list[Rule]:
    return parse_rules(definition.rules)


def active_definition() -> LeadDefinition | None:
    return LeadDefinition.objects.filter(status=DefinitionStatus.ACTIVE).first()


# --- the preview ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    """What a draft would change on current data, against the active definition."""

    draft: LeadDefinition
    active: LeadDefinition | None
    open_leads: int
    draft_qualifies: int
    active_qualifies: int | None
    gained: list[Contact] = field(default_factory=list)
    lost: list[Contact] = field(default_factory=list)
    gained_count: int = 0
    lost_count: int = 0

    @property
    def words(self) -> str:
        text = (
            f"v{self.draft.version} qualifies {self.draft_qualifies:,} of "
            f"{self.open_leads:,} open leads"
        )
        if self.active is None or self.active_qualifies is None:
            return f"{text}; no definition is active yet."
        return (
            f"{text}; v{self.active.version} qualifies {self.active_qualifies:,}; "
            f"{self.gained_count:,} gained, {self.lost_count:,} lost."
        )


def definition_preview(*, draft: LeadDefinition, now: datetime | None = None) -> Preview:
    """The draft judged on today's open leads next to the active definition (two queries
    of verdicts, then the gained and lost contacts by id)."""
    now = now or timezone.now()
    population = Contact.objects.filter(funnel_stage__in=OPEN_STAGES)
    mine = {pk: all(r) for pk, r in verdicts(rules=rules_of(draft), contacts=population,
                                             now=now).items()}  # fmt: skip
    active = active_definition()
    if active is None or active.pk == draft.pk:
        return Preview(draft, None, len(mine), sum(mine.values()), None)
    theirs = {pk: all(r) for pk, r in verdicts(rules=rules_of(active), contacts=population,
                                               now=now).items()}  # fmt: skip
    gained = [pk for pk, ok in mine.items() if ok and not theirs.get(pk)]
    lost = [pk for pk, ok in theirs.items() if ok and not mine.get(pk)]
    shown = Contact.objects.select_related("company").order_by("last_name", "first_name", "pk")
    return Preview(
        draft=draft,
        active=active,
        open_leads=len(mine),
        draft_qualifies=sum(mine.values()),
        active_qualifies=sum(theirs.values()),
        gained=list(shown.filter(pk__in=gained[:LISTED])),
        lost=list(shown.filter(pk__in=lost[:LISTED])),
        gained_count=len(gained),
        lost_count=len(lost),
    )


# --- writes -------------------------------------------------------------------------------


def _ensure_may_define(by: User) -> None:
    if not (by.is_active and (by.is_superuser or by.role in DEFINING_ROLES)):
        raise NotAllowed(
            f"{by} may not write lead definitions: marketers, sales managers and the owner do."
        )


def _checked(rules: Any) -> list[dict[str, Any]]:
    try:
        return rules_document(parse_rules(rules))
    except RulesError as error:
        count = len(error.errors)
        raise InvalidInput(
            f"The definition has {count} problem{'s' if count > 1 else ''}; nothing was saved.",
            details=error.errors,
        ) from None


@transaction.atomic
def definition_draft(*, by: User, rules: Any, notes: str = "") -> LeadDefinition:
    """A new draft, the next version."""
    _ensure_may_define(by)
    document = _checked(rules)
    latest = LeadDefinition.objects.select_for_update().aggregate(top=Max("version"))["top"]
    draft = LeadDefinition.objects.create(
        version=(latest or 0) + 1, rules=document, notes=notes.strip(), created_by=by
    )
    audit_record(actor=by, action="lead_definition.create", obj=draft, summary=str(draft))
    return draft


@transaction.atomic
def definition_update(
    *, definition: LeadDefinition, by: User, expected_updated_at: datetime, rules: Any,
    notes: str,
) -> LeadDefinition:  # fmt: skip
    """Change a draft's rules; the approvals given to the old rules no longer stand."""
    _ensure_may_define(by)
    current = LeadDefinition.objects.select_for_update().get(pk=definition.pk)
    if current.status != DefinitionStatus.DRAFT:
        raise InvalidInput(f"{current} is not a draft: draft a new version to change it.")
    if current.updated_at != expected_updated_at:
        raise StaleVersion(f"{current} was changed since you opened it; nothing was saved.")
    document = _checked(rules)
    changes = {}
    if document != current.rules:
        changes["rules"] = [current.rules, document]
        withdrawn = current.approvals.count()
        current.approvals.all().delete()
        if withdrawn:
            changes["approvals"] = [withdrawn, 0]
    if notes.strip() != current.notes:
        changes["notes"] = [current.notes, notes.strip()]
    current.rules, current.notes = document, notes.strip()
    current.save()
    audit_record(
        actor=by, action="lead_definition.update", obj=current, summary=str(current),
        changes=changes,
    )  # fmt: skip
    return current


@transaction.atomic
def definition_approve(
    *, definition: LeadDefinition, by: User, side: str = ""
) -> DefinitionApproval:
    """One side's approval of a draft: a marketer's for marketing, a sales manager's for
    sales; the owner names the side. Two different people must approve."""
    _ensure_may_define(by)
    current = LeadDefinition.objects.select_for_update().get(pk=definition.pk)
    if current.status != DefinitionStatus.DRAFT:
        raise InvalidInput(f"{current} is not a draft: only a draft is approved.")
    owner = by.is_superuser or by.role == Role.OWNER
    chosen = side if owner else SIDE_OF_ROLE[by.role]
    if side and side != chosen:
        raise NotAllowed(f"{by} approves for {chosen}, not for {side}.")
    if chosen not in ApprovalSide.values:
        raise InvalidInput("Say which side the owner approves for: marketing or sales.")
    given = {a.side: a for a in current.approvals.select_related("by")}
    if chosen in given:
        raise InvalidInput(f"{given[chosen].by} approved {current} for {chosen} already.")
    if any(a.by_id == by.pk for a in given.values()):
        raise NotAllowed(f"{by} approved {current} for the other side: two people agree.")
    approval = DefinitionApproval.objects.create(definition=current, side=chosen, by=by)
    audit_record(actor=by, action="lead_definition.approve", obj=current,
                 summary=f"{current}: {chosen} approval")  # fmt: skip
    return approval


@dataclass(frozen=True)
class Requalified:
    judged: int
    gained: int  # newly qualified
    lost: int  # qualified before, not now
    written: int  # qualifications recorded (a result or the deciding version changed)


@transaction.atomic
def definition_publish(
    *, definition: LeadDefinition, by: User, now: datetime | None = None
) -> Requalified:
    """Make an approved draft the active definition, retire the one before, and requalify
    every contact under it."""
    _ensure_may_define(by)
    now = now or timezone.now()
    current = LeadDefinition.objects.select_for_update().get(pk=definition.pk)
    if current.status != DefinitionStatus.DRAFT:
        raise InvalidInput(f"{current} is not a draft: it cannot be published.")
    sides = set(current.approvals.values_list("side", flat=True))
    missing = [str(s.label).lower() for s in ApprovalSide if s.value not in sides]
    if missing:
        raise NotAllowed(
            f"{current} needs the approval of {' and '.join(missing)} before it goes live."
        )
    LeadDefinition.objects.filter(status=DefinitionStatus.ACTIVE).update(
        status=DefinitionStatus.RETIRED, retired_at=now
    )
    current.status, current.activated_at = DefinitionStatus.ACTIVE, now
    current.save(update_fields=["status", "activated_at", "updated_at"])
    audit_record(actor=by, action="lead_definition.publish", obj=current, summary=str(current))
    return contacts_requalify(definition=current, now=now)


@transaction.atomic
def contacts_requalify(
    *,
    definition: LeadDefinition | None = None,
    contact_ids: Iterable[int] | None = None,
    now: datetime | None = None,
) -> Requalified:
    """Judge contacts (all, or `contact_ids`) by the active definition (or `definition`)
    and record what changed. Nothing to do without an active definition.

    A contact gets a Qualification when its result changes or another version judges it
    for the first time (its last one is read in the same query). Only a contact whose
    result changed is written: its `qualified_at`, `qualified_by` and funnel stage; the
    rest keep their rows (and their version for optimistic locking) untouched.
    """
    definition = definition or active_definition()
    if definition is None:
        return Requalified(0, 0, 0, 0)
    now = now or timezone.now()
    # An erased contact's history stays as it was (crm/privacy.py): judging its emptied
    # fields again would rewrite when it qualified, and route a person who asked to go.
    contacts = Contact.objects.filter(erased_at__isnull=True)
    if contact_ids is not None:
        contacts = contacts.filter(pk__in=list(contact_ids))
    rules = rules_of(definition)
    names = [RULE.format(i) for i in range(len(rules))]
    last = Qualification.objects.filter(contact=OuterRef("pk")).order_by("-at", "-id")
    judged = (
        contacts_judged(rules=rules, contacts=contacts, now=now)
        .annotate(last_judged_by=Subquery(last.values("definition_id")[:1]))
        .order_by()
    )
    rows = judged.values_list("pk", "company_id", "qualified_at", "last_judged_by", *names)
    records: list[tuple[int, bool, tuple[bool, ...]]] = []
    gained: list[int] = []
    lost: list[int] = []
    companies: set[int] = set()
    count = 0
    for pk, company_id, qualified_at, judged_by, *results in rows.iterator(chunk_size=5000):
        count += 1
        ok = all(results)
        was = qualified_at is not None
        if ok == was and judged_by == definition.pk:
            continue
        records.append((pk, ok, tuple(bool(r) for r in results)))
        if ok != was:
            (gained if ok else lost).append(pk)
            if company_id is not None:
                companies.add(company_id)
    _write(definition, records, now)
    for ids, moment in ((gained, now), (lost, None)):
        for start in range(0, len(ids), CHUNK):
            Contact.objects.filter(pk__in=ids[start : start + CHUNK]).update(
                qualified_at=moment, qualified_by=definition, updated_at=now
            )
    _stages_follow(gained + lost, sorted(companies), book=count if contact_ids is None else None)
    # The last touch is the last campaign before qualifying. One who qualifies now keeps
    # it (every event is before now); one who stops counts the events since, again.
    attribution_refresh(contact_ids=lost)
    leads_hand_off(contact_ids=gained, definition=definition, now=now)
    _qualified_fire(gained)
    return Requalified(count, len(gained), len(lost), len(records))


def _stages_follow(contact_ids: list[int], company_ids: list[int], *, book: int | None) -> None:
    """The funnel stages of the contacts whose result changed, and of their companies:
    in chunks, or the whole book at once when the whole book (`book` contacts) was judged
    and most of it changed. A few contacts judged never recompute the book."""
    if not contact_ids:
        return
    from keel.crm.services import funnel_recompute  # crm's services call this module

    if book is not None and len(contact_ids) > book // 2:
        funnel_recompute()
        return
    for start in range(0, max(len(contact_ids), len(company_ids)), CHUNK):
        funnel_recompute(
            contact_ids=contact_ids[start : start + CHUNK],
            company_ids=company_ids[start : start + CHUNK],
        )


def _qualified_fire(gained: list[int]) -> None:
    """The tactics waiting on a lead qualified, for each newly qualified contact."""
    waiting = Tactic.objects.filter(
        is_active=True, shape=Shape.TRIGGERED, trigger=Trigger.LEAD_QUALIFIED
    )
    if not gained or not waiting.exists():
        return
    for start in range(0, len(gained), CHUNK):
        chunk = Contact.objects.filter(pk__in=gained[start : start + CHUNK])
        for contact in chunk.select_related("owner", "company"):
            contact_fire(contact=contact, inquired_before=contact.inquired_at,
                         qualified_before=None)  # fmt: skip


def _write(definition: LeadDefinition, records: list[tuple[int, bool, tuple[bool, ...]]],
           now: datetime) -> None:  # fmt: skip
    if not records:
        return
    ids = ids_reserve(Qualification, len(records))
    rows_load(
        model=Qualification,
        fields=("id", "contact_id", "definition_id", "qualified", "reasons", "at"),
        rows=(
            (pk, contact, definition.pk, ok, reasons, now)  # a tuple: each pattern converted once
            for pk, (contact, ok, reasons) in zip(ids, records, strict=True)
        ),
    )
