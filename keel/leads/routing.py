"""Routing newly qualified leads to sales, the first-touch deadline, and sales' verdict.

A lead is handed over when it qualifies and nobody in sales owns it yet (no owner, or
an owner who does not sell, such as the marketer who brought it). The routing rules are
tried in order; the first that names someone below their cap assigns it, and the
hand-off records the rule in words. The new owner gets a first-touch task due within
the policy's working hours on their own clock. A lead no rule can place waits,
unassigned, for a manager.

Sales then accepts the lead or rejects it with a reason; a rejected lead goes back to
whoever owned it before, and its first-touch task is withdrawn.
"""

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Count, OuterRef, Subquery
from django.utils import timezone

from keel.accounts.models import Role, User
from keel.accounts.permissions import MANAGING_ROLES, SELLING_ROLES
from keel.activities.models import Task, TaskSource
from keel.core.exceptions import InvalidInput, NotAllowed, StaleVersion
from keel.core.models import InstanceSetting
from keel.core.services import audit_record, validate
from keel.crm.models import Company, Contact
from keel.leads.handoff_rules import Policy, deadline, policy_from_json
from keel.leads.models import (
    Handoff,
    HandoffStatus,
    LeadDefinition,
    MarketingEvent,
    RejectReason,
    RoutingKind,
    RoutingRule,
)
from keel.planning.access import oversees

POLICY_KEY = "handoff_policy"
# The people a round robin deals leads to: salespeople, whose job is to work them
# (specialists and experts support deals; managers place what no rule can).
TAKES_LEADS = frozenset({Role.SALESPERSON})
UNROUTED = "No rule could place it: it waits for a manager to assign it."
CHUNK = 900  # ids per query, under SQLite's bound-parameter limit


def policy_read() -> Policy:
    setting = InstanceSetting.objects.filter(key=POLICY_KEY).first()
    return policy_from_json(setting.value) if setting is not None else Policy()


def ensure_can_route(user: User) -> None:
    """The routing rules and the hand-off policy are sales' to set: owner and managers."""
    if not (user.is_active and (user.is_superuser or user.role in MANAGING_ROLES)):
        raise NotAllowed(f"{user} may not change lead routing: the owner and sales managers may.")


@transaction.atomic
def policy_save(*, by: User, policy: Policy) -> Policy:
    ensure_can_route(by)
    setting, _ = InstanceSetting.objects.update_or_create(
        key=POLICY_KEY, defaults={"value": policy.as_json()}
    )
    audit_record(actor=by, action="handoff_policy.save", obj=setting, summary=policy.words)
    return policy


def rule_words(rule: RoutingRule) -> str:
    """What a rule does, in plain words ("Region is one of: EMEA → Alice Adams")."""
    cap = f" (at most {rule.cap} a month each)" if rule.cap is not None else ""
    to = (
        f"{rule.assignee.get_full_name() or rule.assignee}"
        if rule.assignee is not None
        else f"round robin in {rule.team}{cap}"
        if rule.team is not None
        else "nobody"
    )
    listed = ", ".join(rule.values)
    if rule.kind == RoutingKind.NAMED_ACCOUNT:
        tiers = f" ({listed} only)" if rule.values else ""
        return f"A company with an owner{tiers} → its owner"
    if rule.kind == RoutingKind.REGION:
        return f"Region is one of: {listed} → {to}"
    if rule.kind == RoutingKind.INDUSTRY:
        return f"Industry is one of: {listed} → {to}"
    return f"Everyone else → {to}"


def _folded(values: list[str]) -> set[str]:
    return {v.casefold() for v in values}


def _sells(user: User | None) -> bool:
    return user is not None and user.is_active and user.role in SELLING_ROLES


class Router:
    """Routes a run of leads: the rules and their people read once, each rule's round
    robin position and each person's count this month carried from lead to lead."""

    def __init__(self, now: datetime) -> None:
        # Locked, so two runs at once deal the round robin in turn, not both to one person.
        self.rules = list(
            # of=self: PostgreSQL locks no outer join's nullable side (the rule's team).
            RoutingRule.objects.select_for_update(of=("self",))
            .filter(is_active=True)
            .select_related("assignee", "team")
            .order_by("position", "id")
        )
        # The cap counts this calendar month, in the business's time zone.
        start = timezone.localtime(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        self.month = Counter[tuple[int, int]](
            {
                (row["rule"], row["owner"]): row["n"]
                for row in Handoff.objects.filter(rule__in=self.rules, at__gte=start)
                .values("rule", "owner")
                .annotate(n=Count("id"))
            }
        )
        teams = {rule.team_id for rule in self.rules if rule.team_id is not None}
        self.members: dict[int, list[User]] = {team: [] for team in teams}
        for user in User.objects.filter(
            team__in=teams, is_active=True, role__in=TAKES_LEADS
        ).order_by("pk"):
            self.members[user.team_id or 0].append(user)
        self.last: dict[int, int | None] = {
            rule.pk: Handoff.objects.filter(rule=rule, owner__isnull=False)
            .order_by("-at", "-id")
            .values_list("owner", flat=True)
            .first()
            for rule in self.rules
            if rule.assignee_id is None and rule.team_id is not None
        }

    def _room(self, rule: RoutingRule, person: User) -> bool:
        return rule.cap is None or self.month[(rule.pk, person.pk)] < rule.cap

    def _deal(self, rule: RoutingRule) -> User | None:
        """The rule's assignee, or the next of its team in turn with room under the cap."""
        if rule.assignee is not None:
            return (
                rule.assignee if _sells(rule.assignee) and self._room(rule, rule.assignee) else None
            )
        people = self.members.get(rule.team_id or 0, [])
        if not people:
            return None
        ids = [p.pk for p in people]
        last = self.last.get(rule.pk)
        first = (ids.index(last) + 1) if last in ids else 0
        for step in range(len(people)):
            person = people[(first + step) % len(people)]
            if self._room(rule, person):
                self.last[rule.pk] = person.pk
                return person
        return None

    def route(self, company: Company | None) -> tuple[User | None, RoutingRule | None]:
        for rule in self.rules:
            if rule.kind == RoutingKind.NAMED_ACCOUNT:
                if (
                    company is not None
                    and _sells(company.owner)
                    and (not rule.values or company.tier.casefold() in _folded(rule.values))
                ):
                    return company.owner, rule
                continue
            if rule.kind in (RoutingKind.REGION, RoutingKind.INDUSTRY):
                value = getattr(company, rule.kind, "") if company is not None else ""
                if value.casefold() not in _folded(rule.values):
                    continue
            person = self._deal(rule)
            if person is not None:
                self.month[(rule.pk, person.pk)] += 1
                return person, rule
        return None, None


def _latest(field: str) -> Subquery:
    """The contact's latest marketing event's `field`, among the events that have one."""
    events = MarketingEvent.objects.filter(contact=OuterRef("pk")).exclude(**{field: ""})
    return Subquery(events.order_by("-occurred_at", "-id").values(field)[:1])


def leads_hand_off(
    *, contact_ids: Iterable[int], definition: LeadDefinition | None, now: datetime
) -> list[Handoff]:
    """Hand the newly qualified contacts nobody in sales owns to sales, by the rules.

    Called inside the requalification's transaction, before the lead-qualified tactics
    fire, so those find the new owner.
    """
    ids = list(contact_ids)
    if not ids:
        return []
    router = Router(now)  # locks the rules first: a racing run waits, then sees ours
    policy = policy_read()
    handoffs: list[Handoff] = []
    for start in range(0, len(ids), CHUNK):
        handoffs += _hand_off(ids[start : start + CHUNK], definition, router, now)
    _tasks_give(handoffs, policy, now)
    Handoff.objects.bulk_create(handoffs, batch_size=1000)
    by_owner: dict[int, list[int]] = {}
    for handoff in handoffs:
        if handoff.owner is not None:
            by_owner.setdefault(handoff.owner.pk, []).append(handoff.contact.pk)
    for owner_id, owned in by_owner.items():
        for start in range(0, len(owned), CHUNK):
            Contact.objects.filter(pk__in=owned[start : start + CHUNK]).update(
                owner_id=owner_id, updated_at=now
            )
    return handoffs


def _hand_off(
    ids: list[int], definition: LeadDefinition | None, router: Router, now: datetime
) -> list[Handoff]:
    """The hand-offs of one chunk of contacts: those nobody in sales owns and no pending
    hand-off holds yet, in the order they qualified."""
    contacts = (
        Contact.objects.filter(pk__in=ids)
        .exclude(handoffs__status=HandoffStatus.PENDING)
        .select_related("owner", "company__owner")
        .annotate(latest_campaign=_latest("campaign"), latest_source=_latest("source"))
        .order_by("qualified_at", "pk")
    )
    handoffs = []
    for contact in contacts:
        if _sells(contact.owner):
            continue
        owner, rule = router.route(contact.company)
        handoffs.append(
            Handoff(
                contact=contact,
                definition=definition,
                owner=owner,
                previous_owner=contact.owner,
                rule=rule,
                rule_words=rule_words(rule) if rule is not None else UNROUTED,
                # The last touch before it qualified; the latest event's when not recorded.
                campaign=contact.last_campaign or contact.latest_campaign or "",
                source=contact.latest_source or "",
                at=now,
            )
        )
    return handoffs


def _tasks_give(handoffs: list[Handoff], policy: Policy, now: datetime) -> None:
    """Each assigned hand-off's first-touch task, due in working hours on its owner's clock."""
    tasks = []
    for handoff in handoffs:
        if handoff.owner is None:
            continue
        handoff.due_at = deadline(now, policy, handoff.owner.zone)
        contact = handoff.contact
        at = f" at {contact.company}" if contact.company is not None else ""
        handoff.task = Task(
            title=f"First touch: {contact}{at}",
            owner=handoff.owner,
            due_at=handoff.due_at,
            source=TaskSource.HANDOFF,
            source_key=f"handoff:{contact.pk}",
            company=contact.company,
        )
        tasks.append(handoff.task)
    Task.objects.bulk_create(tasks, batch_size=1000)


def can_decide(user: User, handoff: Handoff) -> bool:
    """Its owner decides on a lead handed to them; their manager and the owner may too."""
    if not user.is_active or handoff.owner is None:
        return False
    return user.pk == handoff.owner_id or user.is_superuser or oversees(user, handoff.owner)


def _locked(handoff: Handoff) -> Handoff:
    current = (  # of=self: PostgreSQL locks no outer join's nullable side (the owner)
        Handoff.objects.select_for_update(of=("self",))
        .select_related("owner", "contact")
        .get(pk=handoff.pk)
    )
    if current.status != HandoffStatus.PENDING:
        raise StaleVersion(
            f"{current.contact} was already {current.get_status_display().lower()} "
            f"by {current.decided_by} on {current.decided_at:%Y-%m-%d}."
        )
    return current


@transaction.atomic
def handoff_accept(*, handoff: Handoff, by: User, now: datetime | None = None) -> Handoff:
    current = _locked(handoff)
    if not can_decide(by, current):
        raise NotAllowed(f"{by} may not accept a lead handed to {current.owner or 'nobody'}.")
    current.status, current.decided_at, current.decided_by = (
        HandoffStatus.ACCEPTED,
        now or timezone.now(),
        by,
    )
    current.save(update_fields=["status", "decided_at", "decided_by"])
    audit_record(actor=by, action="handoff.accept", obj=current, summary=str(current))
    return current


@transaction.atomic
def handoff_reject(
    *, handoff: Handoff, by: User, reason: str, note: str = "", now: datetime | None = None
) -> Handoff:
    """Send a lead back to marketing with a reason: it returns to its previous owner, and
    its first-touch task, if still open, is withdrawn."""
    current = _locked(handoff)
    if not can_decide(by, current):
        raise NotAllowed(f"{by} may not reject a lead handed to {current.owner or 'nobody'}.")
    if reason not in RejectReason.values:
        raise InvalidInput(
            "Say why the lead is rejected.",
            details=[f"reason: choose one of: {', '.join(RejectReason.values)}"],
        )
    now = now or timezone.now()
    current.status, current.reason, current.note = HandoffStatus.REJECTED, reason, note.strip()
    current.decided_at, current.decided_by = now, by
    current.save(update_fields=["status", "reason", "note", "decided_at", "decided_by"])
    if current.task_id is not None:
        Task.objects.filter(pk=current.task_id, done_at__isnull=True).delete()
    Contact.objects.filter(pk=current.contact_id, owner=current.owner).update(
        owner=current.previous_owner, updated_at=now
    )
    audit_record(
        actor=by,
        action="handoff.reject",
        obj=current,
        summary=f"{current}: {current.get_reason_display()}",
    )
    return current


@transaction.atomic
def handoff_assign(*, handoff: Handoff, to: User, by: User, now: datetime | None = None) -> Handoff:
    """A manager places a pending lead, unassigned or of their team, with someone of their
    team (or themselves); the owner with anyone who sells. The hand-off keeps its moment;
    the first touch is due from now."""
    current = _locked(handoff)
    if not may_assign(by, current, to):
        raise NotAllowed(
            f"{by} may not hand this lead to {to}: a manager assigns their team's leads and "
            "the unassigned ones, within their team."
        )
    now = now or timezone.now()
    if current.task_id is not None:
        Task.objects.filter(pk=current.task_id, done_at__isnull=True).delete()
    current.owner, current.rule = to, None
    current.rule_words = f"Assigned by {by.get_full_name() or by}"
    _tasks_give([current], policy_read(), now)
    current.save(update_fields=["owner", "rule", "rule_words", "due_at", "task"])
    Contact.objects.filter(pk=current.contact_id).update(owner=to, updated_at=now)
    audit_record(actor=by, action="handoff.assign", obj=current, summary=str(current))
    return current


def _answers_for(by: User, person: User) -> bool:
    """`by` is `person`, or oversees them (the owner everyone)."""
    return by.is_superuser or by.role == Role.OWNER or by.pk == person.pk or oversees(by, person)


def may_assign(by: User, handoff: Handoff, to: User) -> bool:
    """Whether `by` may give `handoff` to `to`: a manager (or the owner) who answers for
    both its present owner, if any, and the person it goes to, who must sell."""
    if not (by.is_active and (by.is_superuser or by.role in MANAGING_ROLES)):
        return False
    if handoff.owner is not None and not _answers_for(by, handoff.owner):
        return False
    return _sells(to) and _answers_for(by, to)


@transaction.atomic
def routing_rule_save(*, by: User, rule: RoutingRule, data: dict[str, Any]) -> RoutingRule:
    """Create or change a rule; a new one goes last."""
    ensure_can_route(by)
    for key, value in data.items():
        setattr(rule, key, value)
    if rule.kind == RoutingKind.ROUND_ROBIN:
        rule.values, rule.assignee = [], None
    if rule.kind in (RoutingKind.REGION, RoutingKind.INDUSTRY) and not rule.values:
        raise InvalidInput("The rule was not saved.", details=["values: name at least one."])
    if rule.kind != RoutingKind.NAMED_ACCOUNT and rule.assignee is None and rule.team is None:
        raise InvalidInput(
            "The rule was not saved.", details=["assignee: name a person or a team."]
        )
    if rule.assignee is not None and not _sells(rule.assignee):
        raise InvalidInput(
            "The rule was not saved.", details=[f"assignee: {rule.assignee} does not sell."]
        )
    if rule.pk is None:
        last = RoutingRule.objects.order_by("-position").values_list("position", flat=True).first()
        rule.position = (last or 0) + 1
    validate(rule)
    rule.save()
    audit_record(actor=by, action="routing_rule.save", obj=rule, summary=rule_words(rule))
    return rule


@transaction.atomic
def routing_rule_move(*, by: User, rule: RoutingRule, up: bool) -> None:
    """Swap a rule with the one before (up) or after it."""
    ensure_can_route(by)
    rules = list(RoutingRule.objects.select_for_update().order_by("position", "id"))
    index = next(i for i, r in enumerate(rules) if r.pk == rule.pk)
    other = index - 1 if up else index + 1
    if not 0 <= other < len(rules):
        return
    rules[index], rules[other] = rules[other], rules[index]
    for position, each in enumerate(rules, start=1):
        if each.position != position:
            RoutingRule.objects.filter(pk=each.pk).update(position=position)


@transaction.atomic
def routing_rule_delete(*, by: User, rule: RoutingRule) -> None:
    ensure_can_route(by)
    audit_record(actor=by, action="routing_rule.delete", obj=rule, summary=rule_words(rule))
    rule.delete()
