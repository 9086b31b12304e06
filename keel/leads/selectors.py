"""Reads of a contact's story as a lead: the marketing events that brought them, the
definition's latest verdict with each rule's result, and their hand-off to sales."""

from dataclasses import dataclass
from datetime import datetime

from keel.accounts.models import User
from keel.crm.models import Contact
from keel.leads.definition_rules import parse_rules
from keel.leads.handoffs import STATES, handoffs_visible, with_state
from keel.leads.models import Handoff, MarketingEvent, Qualification

EVENTS_SHOWN = 10


@dataclass(frozen=True)
class Verdict:
    qualification: Qualification
    rules: list[tuple[str, bool]]  # each rule in plain words, and whether it held


@dataclass(frozen=True)
class LeadStory:
    events: list[MarketingEvent]  # the latest EVENTS_SHOWN, newest first
    more_events: bool
    verdict: Verdict | None
    handoff: Handoff | None
    handoff_state: str  # its first-touch state, in words ("" without a hand-off)


def lead_story(*, user: User, contact: Contact, now: datetime) -> LeadStory:
    """Three queries: the events, the latest qualification, the latest hand-off `user`
    may see (as on the hand-off list: not another team's)."""
    events = list(
        MarketingEvent.objects.filter(contact=contact).order_by("-occurred_at", "-id")[
            : EVENTS_SHOWN + 1
        ]
    )
    latest = (
        Qualification.objects.filter(contact=contact)
        .select_related("definition")
        .order_by("-at", "-id")
        .first()
    )
    verdict = None
    if latest is not None:
        rules = parse_rules(latest.definition.rules)
        verdict = Verdict(
            latest, [(r.words, bool(ok)) for r, ok in zip(rules, latest.reasons, strict=True)]
        )
    handoff = (
        with_state(handoffs_visible(user).filter(contact=contact), now)
        .select_related("owner", "task", "decided_by")
        .order_by("-at", "-id")
        .first()
    )
    return LeadStory(
        events=events[:EVENTS_SHOWN],
        more_events=len(events) > EVENTS_SHOWN,
        verdict=verdict,
        handoff=handoff,
        handoff_state=STATES[handoff.state] if handoff is not None else "",  # type: ignore[attr-defined]
    )
