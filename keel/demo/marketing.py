"""Two years of marketing in the demo: campaigns with their costs, the lead definition
agreed and revised once, the routing rules, and every qualified lead's hand-off to sales.

It runs after the simulated history is written and reads it back:

- **The ideal customer profile** (ICP): four weighted criteria; every company is scored.
- **Campaigns**: one for each campaign tag the website's events carry, its dates those
  of its events, its channel from its name, its cost from the channel's going rate.
- **The lead definition**: v1, approved by marketing and sales when the history starts,
  qualifies someone whose title says they decide or lead sales, who asked for contact
  (a web form asks for the title, not the buying role); v2, agreed
  V2_MONTHS_AGO, asks also for a company of at least V2_MIN_EMPLOYEES people. Each
  contact is judged by the real rules (static facts and an inquiry, so judging today is
  judging then); a contact qualifies the moment it inquired, and those v2 refuses stop
  qualifying when it goes live. Every step is a Qualification row, with the reasons.
- **Routing and hand-offs**: each qualified lead was marketing's (Chloé's) until it
  qualified, then routed by the demo's rules in the order it qualified; its owner's
  first touch was on time, late or never, and sales accepted, rejected (with a reason)
  or has not decided yet.

Random choices come from one `random.Random` seeded from the demo's seed.
"""

import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Max, Min
from django.utils import timezone

from keel.accounts.models import Role, Team, User
from keel.activities.models import Activity, ActivityType, Outcome, Task, TaskSource
from keel.core.models import InstanceSetting
from keel.crm.models import BuyingRole, Channel, Company, Contact
from keel.leads.campaigns import attribution_refresh
from keel.leads.definition_rules import parse_rules
from keel.leads.definitions import verdicts
from keel.leads.handoff_rules import Policy, deadline
from keel.leads.icp import icp_save
from keel.leads.models import (
    ApprovalSide,
    Campaign,
    DefinitionApproval,
    DefinitionStatus,
    Handoff,
    HandoffStatus,
    LeadDefinition,
    LeadForm,
    MarketingEvent,
    Qualification,
    RejectReason,
    RoutingKind,
    RoutingRule,
)
from keel.leads.routing import POLICY_KEY, Router, rule_words
from keel.pipeline.models import Deal

V2_MONTHS_AGO = 7
V2_MIN_EMPLOYEES = 20
# The people who buy sales training, by the title a web form asks for: the owners and
# executives who decide, and the sales leaders who champion it.
SENIOR = [
    "owner", "founder", "ceo", "managing director", "general manager", "chief", "vp",
    "sales director", "head of sales", "sales manager", "cfo", "coo",
]  # fmt: skip
V1_RULES = [{"kind": "seniority", "words": SENIOR}, {"kind": "inquiry"}]
V2_RULES = [*V1_RULES, {"kind": "size", "min": V2_MIN_EMPLOYEES}]
POLICY = Policy(hours=8)  # one working day to call a lead back
# Who buys most from the demo business, as marketing wrote it down.
ICP = [
    {
        "kind": "company",
        "field": "industry",
        "in": ["Software", "Manufacturing", "Logistics", "Professional services"],
        "weight": 35,
    },
    {"kind": "size", "min": 50, "max": 5000, "weight": 30},
    {"kind": "company", "field": "region", "in": ["DACH", "Benelux", "Nordics"], "weight": 20},
    {"kind": "company", "field": "tier", "in": ["key", "whale"], "weight": 15},
]
# What each channel costs a month it runs (euros, low–high), as a small B2B firm pays.
MONTHLY_COST: dict[str, tuple[int, int]] = {
    Channel.ADVERTISING: (2_200, 4_200),
    Channel.INBOUND_WEB: (900, 1_800),
    Channel.DIRECT_MAIL: (250, 450),
    Channel.TRADESHOW: (6_000, 11_000),
}
# How sales answered a lead it was handed, for leads old enough to have an answer.
P_ACCEPT, P_REJECT = 0.76, 0.17
P_ON_TIME, P_LATE = 0.84, 0.11  # the first touch; the rest never happened
REASONS = [
    (RejectReason.NO_BUDGET, 5),
    (RejectReason.NOT_A_FIT, 4),
    (RejectReason.BAD_TIMING, 4),
    (RejectReason.NO_AUTHORITY, 3),
    (RejectReason.ALREADY_ENGAGED, 2),
    (RejectReason.BAD_DATA, 1),
]
P_NO_DECISION_MAKER = 0.25  # of the companies with no deal yet
DECIDE_AFTER = timedelta(days=14)  # a lead handed more recently may still be waiting
PLACED_AFTER = timedelta(days=2)  # a lead no rule placed waited this long for a manager


@dataclass(frozen=True)
class MarketingSummary:
    campaigns: int
    qualified: int  # contacts qualified now, by v2
    lost_to_v2: int
    handoffs: dict[str, int]  # by status
    breaches: int


def _channel(code: str) -> str:
    if code.endswith("ads"):
        return Channel.ADVERTISING
    if code.endswith("newsletter") or code.endswith("mailing"):
        return Channel.DIRECT_MAIL
    if code.endswith("trade fairs"):
        return Channel.TRADESHOW
    return Channel.INBOUND_WEB


def _months(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month + 1


def campaigns_create(*, rng: random.Random, today: date, owner: User) -> list[Campaign]:
    """A campaign for each tag the events and deals carry, dated by them."""
    spans: dict[str, tuple[datetime, datetime]] = {}
    tagged = (
        MarketingEvent.objects.exclude(campaign="")
        .values("campaign")
        .annotate(first=Min("occurred_at"), last=Max("occurred_at")),
        # A deal's tag: the trade fair or mailing it came from, which the website never saw.
        Deal.objects.exclude(campaign="")
        .values("campaign")
        .annotate(first=Min("created_at"), last=Max("created_at")),
    )
    for rows in tagged:
        for row in rows:
            first, last = spans.get(row["campaign"], (row["first"], row["last"]))
            spans[row["campaign"]] = (min(first, row["first"]), max(last, row["last"]))
    campaigns = []
    for code in sorted(spans):
        first, last = (moment.date() for moment in spans[code])
        channel = _channel(code)
        low, high = MONTHLY_COST[channel]
        cost = Decimal(rng.randint(low, high) * _months(first, last))
        budget = (cost * Decimal(rng.uniform(0.9, 1.2)) / 500).quantize(Decimal(1)) * 500
        running = (today - last).days < 7
        campaigns.append(
            Campaign(
                code=code,
                name=code[0].upper() + code[1:],
                channel=channel,
                starts_on=first.replace(day=1),
                ends_on=None if running else last,
                budget=budget,
                cost=cost,
                owner=owner,
            )
        )
    return Campaign.objects.bulk_create(campaigns)


def decision_makers_unknown(*, rng: random.Random) -> int:
    """At some companies nobody has worked yet, who decides is not known: their decision
    makers' buying role was never found out. The ICP page counts such companies."""
    untouched = list(
        Company.objects.filter(deals__isnull=True).order_by("pk").values_list("pk", flat=True)
    )
    chosen = [pk for pk in untouched if rng.random() < P_NO_DECISION_MAKER]
    return Contact.objects.filter(company__in=chosen, buying_role=BuyingRole.DECISION_MAKER).update(
        buying_role=""
    )


def _at(moment: datetime) -> dict[str, Any]:
    return {"created_at": moment, "updated_at": moment}


def definitions_write(
    *, start: datetime, revised: datetime, marketer: User, sales: User
) -> tuple[LeadDefinition, LeadDefinition]:
    """v1 (live from `start`, retired at `revised`) and v2 (live since), both approved."""
    v1 = LeadDefinition.objects.create(
        version=1,
        rules=V1_RULES,
        notes="Our first shared definition: an owner, executive or sales leader (by "
        "their title) who asked us to get in touch.",
        created_by=marketer,
    )
    v2 = LeadDefinition.objects.create(
        version=2,
        rules=V2_RULES,
        notes=f"Sales turned down too many one-person shops: a qualified lead now works at "
        f"a company of at least {V2_MIN_EMPLOYEES} people.",
        created_by=marketer,
    )
    for definition, live, retired in ((v1, start, revised), (v2, revised, None)):
        drafted = live - timedelta(days=9)
        LeadDefinition.objects.filter(pk=definition.pk).update(
            status=DefinitionStatus.RETIRED if retired else DefinitionStatus.ACTIVE,
            activated_at=live,
            retired_at=retired,
            **_at(drafted),
        )
        for side, by, days in (
            (ApprovalSide.MARKETING, marketer, 6),
            (ApprovalSide.SALES, sales, 2),
        ):
            approval = DefinitionApproval.objects.create(definition=definition, side=side, by=by)
            DefinitionApproval.objects.filter(pk=approval.pk).update(at=live - timedelta(days=days))
    return v1, v2


def qualifications_write(
    *, v1: LeadDefinition, v2: LeadDefinition, revised: datetime
) -> tuple[list[int], int]:
    """Judge every contact by v1 and v2 with the real rules and write what happened:
    qualified when it inquired, under the version live then; v2's refusals stop at
    `revised`. Returns the contacts qualified now, in the order they qualified, and how
    many v2 turned away."""
    now = datetime.now(UTC)
    by_v1 = verdicts(rules=parse_rules(v1.rules), now=now)
    by_v2 = verdicts(rules=parse_rules(v2.rules), now=now)
    inquired: dict[int, datetime] = {
        pk: at for pk, at in Contact.objects.values_list("pk", "inquired_at") if at is not None
    }
    rows: list[Qualification] = []
    qualified: dict[int, tuple[datetime, LeadDefinition]] = {}
    lost = 0
    for pk, at in inquired.items():
        v1_ok, v2_ok = all(by_v1[pk]), all(by_v2[pk])
        if at < revised and v1_ok:
            rows.append(Qualification(contact_id=pk, definition=v1, qualified=True,
                                      reasons=list(by_v1[pk]), at=at))  # fmt: skip
            rows.append(Qualification(contact_id=pk, definition=v2, qualified=v2_ok,
                                      reasons=list(by_v2[pk]), at=revised))  # fmt: skip
            if v2_ok:
                qualified[pk] = (at, v1)
            else:
                lost += 1
        elif at >= revised and v2_ok:
            rows.append(Qualification(contact_id=pk, definition=v2, qualified=True,
                                      reasons=list(by_v2[pk]), at=at))  # fmt: skip
            qualified[pk] = (at, v2)
    Qualification.objects.bulk_create(rows, batch_size=2000)
    Contact.objects.update(qualified_at=None, qualified_by=None)
    for definition in (v1, v2):
        mine = [pk for pk, (_, d) in qualified.items() if d == definition]
        contacts = Contact.objects.in_bulk(mine)
        for pk in mine:
            contacts[pk].qualified_at, contacts[pk].qualified_by = qualified[pk][0], definition
        Contact.objects.bulk_update(
            contacts.values(), ["qualified_at", "qualified_by"], batch_size=2000
        )
    # v2 decided the ones v1 qualified before it and v2 kept: its record is the last.
    Contact.objects.filter(pk__in=list(qualified), qualified_by=v1).update(qualified_by=v2)
    return sorted(qualified, key=lambda pk: qualified[pk][0]), lost


def routing_write() -> list[RoutingRule]:
    """The demo's rules: big accounts to their owner, the Nordics to Sara, software and
    finance to the enterprise team, everyone else round robin in the mid-market team."""
    enterprise = Team.objects.get(name="Enterprise")
    mid_market = Team.objects.get(name="Mid-market")
    sara = User.objects.get(username="sara.lindqvist")
    specs: list[dict[str, Any]] = [
        {"kind": RoutingKind.NAMED_ACCOUNT, "values": ["whale", "key"]},
        {"kind": RoutingKind.REGION, "values": ["Nordics"], "assignee": sara, "cap": 12},
        {
            "kind": RoutingKind.INDUSTRY,
            "values": ["Software", "Financial services"],
            "team": enterprise,
            "cap": 10,
        },
        {"kind": RoutingKind.ROUND_ROBIN, "team": mid_market, "cap": 15},
    ]
    rules = [RoutingRule.objects.create(position=i, **spec) for i, spec in enumerate(specs, 1)]
    InstanceSetting.objects.update_or_create(key=POLICY_KEY, defaults={"value": POLICY.as_json()})
    return rules


def _working_time(start: datetime, hours: int, zone: Any, rng: random.Random) -> datetime:
    """A moment within the working hour that ends `hours` working hours after `start`."""
    shape = Policy(hours=hours, days=POLICY.days, opens=POLICY.opens, closes=POLICY.closes)
    return deadline(start, shape, zone) - timedelta(minutes=rng.uniform(0, 55))


def handoffs_write(
    *, rng: random.Random, contact_ids: list[int], marketer: User, now: datetime
) -> tuple[Counter[str], int]:
    """Each qualified lead's hand-off when it qualified, routed by the rules as they
    would have dealt it then, with its first touch and sales' answer."""
    contacts = Contact.objects.select_related("company__owner").in_bulk(contact_ids)
    sources: dict[int, str] = {}  # the source of each one's last touch before it qualified
    events = (
        MarketingEvent.objects.filter(contact__in=contact_ids)
        .exclude(source="")
        .order_by("occurred_at")
        .values_list("contact", "source", "occurred_at")
    )
    for pk, source, occurred in events:
        qualified_at = contacts[pk].qualified_at
        if qualified_at is not None and occurred <= qualified_at:
            sources[pk] = source
    manager = User.objects.get(username="sofia.marino")
    placers = list(User.objects.filter(team=manager.team, role=Role.SALESPERSON).order_by("pk"))
    router = Router(now)
    router.month.clear()  # the caps count per month, as the history goes
    month: tuple[int, int] | None = None
    handoffs: list[Handoff] = []
    tasks: list[Task] = []
    touches: list[Activity] = []
    reasons = [r for r, _ in REASONS]
    weights = [w for _, w in REASONS]
    statuses: Counter[str] = Counter()
    breaches = 0
    for pk in contact_ids:
        contact = contacts[pk]
        at = contact.qualified_at
        assert at is not None  # noqa: S101 - qualifications_write just set it
        local = timezone.localtime(at)  # the caps' months are the business's, as live
        if (local.year, local.month) != month:
            month = (local.year, local.month)
            router.month.clear()
        owner, rule = router.route(contact.company)
        words = rule_words(rule) if rule else "No rule could place it."
        if owner is None and now - at > PLACED_AFTER:  # a manager placed it by hand
            owner = rng.choice(placers)
            words = f"Assigned by {manager.get_full_name()}"
        handoff = Handoff(
            contact=contact,
            definition_id=contact.qualified_by_id,
            owner=owner,
            previous_owner=marketer,
            rule=rule,
            rule_words=words,
            campaign=contact.last_campaign,
            source=sources.get(pk, ""),
            at=at,
        )
        handoffs.append(handoff)
        if owner is None:
            statuses["unassigned"] += 1
            continue
        zone = owner.zone
        due = deadline(at, POLICY, zone)
        handoff.due_at = due
        roll = rng.random()
        touched: datetime | None
        if roll < P_ON_TIME:
            touched = _working_time(at, rng.randint(1, POLICY.hours), zone, rng)
        elif roll < P_ON_TIME + P_LATE:
            touched = _working_time(due, rng.randint(2, 3 * POLICY.hours), zone, rng)
            breaches += 1
        else:
            touched = None
            breaches += due < now
        if touched is not None and touched >= now:
            touched = None
        task = Task(
            title=f"First touch: {contact}" + (f" at {contact.company}" if contact.company else ""),
            owner=owner,
            due_at=due,
            done_at=touched,
            source=TaskSource.HANDOFF,
            source_key=f"handoff:{pk}",
            company=contact.company,
        )
        tasks.append(task)
        handoff.task = task
        if touched is not None:
            touches.append(
                Activity(type=ActivityType.CALL, outcome=Outcome.CONNECTED, at=touched, by=owner,
                         contact=contact, company=contact.company, channel=Channel.INBOUND_WEB)
            )  # fmt: skip
        if now - at >= DECIDE_AFTER or (touched is not None and rng.random() < 0.5):
            roll = rng.random()
            decided = (touched or at) + timedelta(hours=rng.uniform(1, 30))
            if roll < P_ACCEPT and decided < now:
                handoff.status, handoff.decided_at, handoff.decided_by = "accepted", decided, owner
            elif roll < P_ACCEPT + P_REJECT and decided < now:
                handoff.status, handoff.decided_at, handoff.decided_by = "rejected", decided, owner
                handoff.reason = rng.choices(reasons, weights)[0]
                if touched is None:  # rejecting withdraws the untouched lead's task
                    tasks.pop()
                    handoff.task = None
        statuses[handoff.status] += 1
    Task.objects.bulk_create(tasks, batch_size=2000)
    for handoff in handoffs:
        handoff.task_id = handoff.task.pk if handoff.task is not None else None
    Handoff.objects.bulk_create(handoffs, batch_size=2000)
    Activity.objects.bulk_create(touches, batch_size=2000)
    _owners_follow(handoffs, marketer)
    return statuses, breaches


def _owners_follow(handoffs: list[Handoff], marketer: User) -> None:
    """A lead is its new owner's; a rejected one went back to marketing."""
    owners: dict[int, list[int]] = {}
    for handoff in handoffs:
        owner = handoff.owner
        if handoff.status == HandoffStatus.REJECTED or owner is None:
            owner = marketer
        owners.setdefault(owner.pk, []).append(handoff.contact.pk)
    for owner_id, ids in owners.items():
        Contact.objects.filter(pk__in=ids).update(owner_id=owner_id)


def lead_forms_write(*, by: User) -> list[LeadForm]:
    consent = (
        "I agree that the company may e-mail me about its products and events. I can "
        "withdraw this consent at any time."
    )
    return [
        LeadForm.objects.create(
            name="Contact us", source="website", consent_text=consent, created_by=by
        ),
        LeadForm.objects.create(
            name="Webinar sign-up",
            campaign=Campaign.objects.filter(channel=Channel.INBOUND_WEB)
            .order_by("-starts_on")
            .values_list("code", flat=True)
            .first()
            or "",
            source="website",
            consent_text=consent,
            counts_as_inquiry=False,
            created_by=by,
        ),
    ]


def demo_marketing_build(*, today: date, seed: int) -> MarketingSummary:
    rng = random.Random(f"marketing-{seed}")
    now = datetime.combine(today, time(), UTC)
    marketer = User.objects.get(role=Role.MARKETER, username="chloe.dubois")
    sales = User.objects.get(username="thomas.becker")
    campaigns = campaigns_create(rng=rng, today=today, owner=marketer)
    decision_makers_unknown(rng=rng)
    icp_save(by=marketer, criteria=ICP)  # no definition is live yet: nobody is requalified
    start = Contact.objects.aggregate(first=Min("created_at"))["first"] or now
    revised = now - timedelta(days=round(V2_MONTHS_AGO * 30.4))
    v1, v2 = definitions_write(start=start, revised=revised, marketer=marketer, sales=sales)
    qualified, lost = qualifications_write(v1=v1, v2=v2, revised=revised)
    # The last touch before each qualified: the hand-offs carry it to marketing's feedback.
    touched = MarketingEvent.objects.filter(contact__isnull=False).values_list("contact", flat=True)
    attribution_refresh(contact_ids=sorted(set(touched)))
    routing_write()
    statuses, breaches = handoffs_write(rng=rng, contact_ids=qualified, marketer=marketer, now=now)
    lead_forms_write(by=marketer)
    return MarketingSummary(
        campaigns=len(campaigns),
        qualified=len(qualified),
        lost_to_v2=lost,
        handoffs=dict(statuses),
        breaches=breaches,
    )
