"""Triggered tactics: an event in Keel's records asks for work with a deadline after it.

`trigger_fire` is called by the service that records the event (a deal's move, a
dossier's completion, a contact's inquiry or qualification), inside its transaction.
Each event has a key of its own (the stage change's id, the dossier's, the contact's),
so firing it twice asks for nothing twice.

Who is asked: a tactic's person; or, for a tactic assigned to a role, the person who
owns the event's record when they hold that role (the salesperson who owns the whale),
and otherwise everyone active holding it; a team's plan asks its team only.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.utils import timezone

from keel.accounts.models import User
from keel.crm.models import Company, Contact
from keel.pipeline.models import Deal, DealStatus, StageChange
from keel.planning.models import Occurrence, Shape, Tactic, Trigger
from keel.planning.scheduler import assignees, occurrences_create, zone_of


def _tactics(trigger: Trigger, at: datetime) -> QuerySet[Tactic]:
    day = timezone.localtime(at).date()
    return Tactic.objects.select_related("plan").filter(
        is_active=True,
        shape=Shape.TRIGGERED,
        trigger=trigger,
        plan__is_active=True,
        plan__starts_on__lte=day,
        plan__ends_on__gte=day,
    )


def _people(tactic: Tactic, owner: User | None) -> list[int]:
    """The tactic's person; else the record's owner if they hold its role (in the plan's
    team, for a team's plan); else everyone `assignees` names."""
    if tactic.person_id is None and owner is not None and owner.is_active:
        in_team = tactic.plan.team_id is None or owner.team_id == tactic.plan.team_id
        if owner.role == tactic.role and in_team:
            return [owner.pk]
    return list(assignees(tactic).values_list("pk", flat=True))


def trigger_fire(
    *,
    trigger: Trigger,
    event: str,
    at: datetime,
    owner: User | None = None,
    deal: Deal | None = None,
    company: Company | None = None,
    stage_name: str = "",
) -> int:
    """Ask for the work the tactics waiting on `trigger` want; how many pieces were new."""
    tactics = _tactics(trigger, at)
    if trigger == Trigger.DEAL_ENTERED_STAGE:
        tactics = tactics.filter(trigger_stage__iexact=stage_name)
    asked = [(tactic, person_id) for tactic in tactics for person_id in _people(tactic, owner)]
    zones = dict(User.objects.filter(pk__in={pk for _, pk in asked}).values_list("pk", "time_zone"))
    new = [
        Occurrence(
            tactic=tactic,
            person_id=person_id,
            key=event[:100],
            opens_at=at,
            due_at=_days_after(at, tactic.deadline_days or 0, zone_of(zones[person_id])),
            deal=deal,
            company=company if company is not None else deal.company if deal else None,
        )
        for tactic, person_id in asked
    ]
    return occurrences_create(new)


def _days_after(at: datetime, days: int, zone: ZoneInfo) -> datetime:
    """`days` days after `at` on the person's clock: 09:00 on Friday is due at 09:00 on
    Wednesday where they are, across a change of the clocks too."""
    return (timezone.localtime(at, zone) + timedelta(days=days)).astimezone(UTC)


def stage_change_fire(*, change: StageChange) -> int:
    """A deal's move: the tactics waiting on it entering its new stage, or on its win.

    Most moves wait on nothing: one small query says so before anything else is read.
    """
    waiting = Tactic.objects.filter(
        is_active=True,
        shape=Shape.TRIGGERED,
        trigger__in=[Trigger.DEAL_ENTERED_STAGE, Trigger.DEAL_WON],
    )
    if not waiting.exists():
        return 0
    deal = change.deal
    fired = trigger_fire(
        trigger=Trigger.DEAL_ENTERED_STAGE,
        event=f"stage_change:{change.pk}",
        at=change.at,
        owner=deal.owner,
        deal=deal,
        stage_name=change.to_stage.name,
    )
    if deal.status == DealStatus.WON:
        fired += trigger_fire(
            trigger=Trigger.DEAL_WON, event=f"deal:{deal.pk}", at=change.at, owner=deal.owner,
            deal=deal,
        )  # fmt: skip
    return fired


def contact_fire(
    *, contact: Contact, inquired_before: datetime | None, qualified_before: datetime | None
) -> int:
    """A contact's inquiry received or their qualification as a lead, each once.

    Called with the contact's moments before the change; an event fires when its moment
    is newly set. Its deadline runs from the moment recorded (a buyer who inquired
    yesterday has waited since yesterday), never from a moment still to come.
    """
    events = [
        (Trigger.INQUIRY_RECEIVED, "inquiry", contact.inquired_at, inquired_before),
        (Trigger.LEAD_QUALIFIED, "qualified", contact.qualified_at, qualified_before),
    ]
    new = [(trigger, name, at) for trigger, name, at, before in events if at and before is None]
    if not new:
        return 0
    waiting = Tactic.objects.filter(
        is_active=True, shape=Shape.TRIGGERED, trigger__in=[t for t, _, _ in new]
    )
    if not waiting.exists():
        return 0
    now = timezone.now()
    return sum(
        trigger_fire(
            trigger=trigger,
            event=f"contact:{contact.pk}:{name}",
            at=min(at, now),
            owner=contact.owner,
            company=contact.company,
        )
        for trigger, name, at in new
    )
