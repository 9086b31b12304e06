"""The demo business as rows: two years of a sales team's work, simulated without the database.

`demo_simulate` turns a `World` (what the database already holds: the processes, the first
free ids, a password hash) into `DemoRows`, one `Table` of plain tuples per model in the
order of `Table.fields`. Everything comes from one `random.Random(seed)`, so the same seed
and the same `today` give the same business, row for row.

How the history is made:

* Time runs evenly in "raw" seconds from a Monday two years ago; `Clock.at` folds raw time
  into weekdays 08:00–18:00 UTC. The fold is strictly increasing, so any order decided in
  raw time (enter a stage, log the evidence, leave the stage) holds in the stored times.
* Each deal walks its process stage by stage: the dwell in a stage is lognormal around the
  stage's `expected_days` (slower for whales and for slow sellers), and at the end of the
  dwell the deal advances or is lost, with a probability that falls with early stages and
  moves with the seller's own conversion, the channel, the tier and the ICP fit.
* Before a deal leaves a stage, the evidence its exit criteria ask for is logged inside
  the stage's stint (read from `Stage.exit_criteria`, so an edited process still gets a
  history that obeys it). Criteria the simulation cannot evidence, and a few chosen at
  random, become manager overrides with a reason, as the deal services record them.
* Some stints stall: the deal sits far beyond the expected days with activity only at the
  start; most stalled deals end lost, some are still open today.
* The website's marketing events: anonymous visits growing and dipping with the seasons
  like the deals, until a relaunch some months ago lost much of the search traffic (the
  story the scorecard's Suspect step tells); visits and downloads by known contacts once
  their company is in the CRM; an inquiry or form fill at each contact's `inquired_at`
  (the moment the event ingestion records), so inquiries lead to the deals after them.
* Two metrics that are not computed: one entered by hand each month (with corrections
  that supersede an entry) and one pushed by the mailing tool.
"""

import math
import random
import unicodedata
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import cached_property
from itertools import count
from typing import Any

from django.db import models

from keel.accounts.models import Role, Team, User
from keel.activities.models import Activity, ActivityType, Outcome, Task, TaskSource
from keel.crm.models import BuyingRole, Channel, Company, Contact, FunnelStage, Tier
from keel.demo import names
from keel.leads.models import EventType, MarketingEvent
from keel.pipeline.models import (
    ChecklistTick,
    Deal,
    DealContact,
    DealStatus,
    ProcessKind,
    StageChange,
    StageKind,
)
from keel.pipeline.rules import (
    ActivityCriterion,
    ChecklistCriterion,
    ContactRoleCriterion,
    Criterion,
    DealSnapshot,
    FieldsCriterion,
    Unmet,
)
from keel.scorecard.models import (
    CaptureMethod,
    Metric,
    MetricStage,
    MetricValue,
    Unit,
    ValueSource,
)

Progress = Callable[[str, int, int], None]
"""Called as progress(phase, done, total) while a long phase runs."""

DAY = 86_400.0
WEEK = 7 * DAY
HISTORY_WEEKS = 104
PASSWORD = "keel-demo"  # noqa: S105 - the published login of a generated demo


@dataclass(frozen=True)
class Size:
    companies: int
    deals: int
    ad_hoc_tasks: int  # per salesperson
    visits: int  # anonymous website visits over the two years


SIZES: Mapping[str, Size] = {
    "small": Size(companies=300, deals=800, ad_hoc_tasks=3, visits=3_000),
    "medium": Size(companies=3_000, deals=10_000, ad_hoc_tasks=8, visits=30_000),
    "large": Size(companies=30_000, deals=100_000, ad_hoc_tasks=20, visits=300_000),
}


# --- the cast -------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    username: str
    first_name: str
    last_name: str
    role: str
    team: str | None = None
    manages: bool = False
    channel: str = ""  # a salesperson's own way of finding deals
    win: float = 0.0  # added to the chance of advancing from every stage
    size: float = 1.0  # multiplies deal amounts
    pace: float = 1.0  # multiplies dwell times: above 1 is slower
    volume: float = 1.0  # share of the new deals
    weeks: int = HISTORY_WEEKS + 8  # with the company for this many weeks
    time_zone: str = ""  # where they work, if not where the business is


ENTERPRISE, MID_MARKET = "Enterprise", "Mid-market"
SP = Role.SALESPERSON
CAST: tuple[Person, ...] = (
    Person("owner", "Helena", "Brandt", Role.OWNER),
    Person("thomas.becker", "Thomas", "Becker", Role.SALES_MANAGER, ENTERPRISE, manages=True),
    Person("sofia.marino", "Sofia", "Marino", Role.SALES_MANAGER, MID_MARKET, manages=True),
    Person("marco.rossi", "Marco", "Rossi", SP, ENTERPRISE, channel=Channel.NETWORKING,
           win=0.06, size=1.4, pace=1.25, volume=0.8, time_zone="Europe/Rome"),
    Person("amelie.laurent", "Amélie", "Laurent", SP, ENTERPRISE, channel=Channel.REFERRAL,
           win=0.10, size=1.1, pace=1.0, volume=0.8),
    Person("priya.shah", "Priya", "Shah", SP, ENTERPRISE, channel=Channel.SOCIAL_SELLING,
           win=-0.01, size=1.9, pace=1.35, volume=0.7, time_zone="Europe/London"),
    Person("sara.lindqvist", "Sara", "Lindqvist", SP, ENTERPRISE, channel=Channel.REFERRAL,
           win=0.03, size=1.0, pace=0.9, volume=0.9, weeks=40),
    Person("lena.fischer", "Lena", "Fischer", SP, MID_MARKET, channel=Channel.SOCIAL_SELLING,
           win=0.04, size=0.9, pace=0.9, volume=1.1),
    Person("jonas.weber", "Jonas", "Weber", SP, MID_MARKET, channel=Channel.COLD_CALLING,
           win=-0.07, size=0.8, pace=0.8, volume=1.5),
    Person("daniel.novak", "Daniel", "Novák", SP, MID_MARKET, channel=Channel.COLD_CALLING,
           win=-0.03, size=0.9, pace=0.95, volume=1.3),
    Person("lukas.berg", "Lukas", "Berg", SP, MID_MARKET, channel=Channel.NETWORKING,
           win=-0.05, size=1.0, pace=1.1, volume=0.9, weeks=62),
    Person("nina.kowalski", "Nina", "Kowalski", Role.SALES_SPECIALIST, ENTERPRISE),
    Person("henrik.olsen", "Henrik", "Olsen", Role.SUBJECT_MATTER_EXPERT, MID_MARKET),
    Person("chloe.dubois", "Chloé", "Dubois", Role.MARKETER),
    Person("finn.jansen", "Finn", "Jansen", Role.VIEWER),
)  # fmt: skip
TEAMS = (ENTERPRISE, MID_MARKET)


# --- what the simulation reads from the database first ---------------------------------


@dataclass(frozen=True)
class PlanStep:
    id: int
    title: str
    role: str
    due_days: int


@dataclass(frozen=True)
class StageInfo:
    id: int
    name: str
    kind: str
    expected_days: int | None
    criteria: tuple[Criterion, ...] = ()
    plan: tuple[PlanStep, ...] = ()


@dataclass(frozen=True)
class ProcessInfo:
    id: int
    version_id: int
    kind: str
    stages: tuple[StageInfo, ...]

    @cached_property
    def open_stages(self) -> tuple[StageInfo, ...]:
        return tuple(s for s in self.stages if s.kind == StageKind.OPEN)

    def outcome(self, kind: str) -> StageInfo:
        return next(s for s in self.stages if s.kind == kind)


@dataclass(frozen=True)
class World:
    """The database's part: processes by kind (new business at least), first free ids."""

    processes: Mapping[str, ProcessInfo]
    first_ids: Mapping[str, int]
    password_hash: str
    currency: str


# --- what the simulation produces -------------------------------------------------------


@dataclass
class Table:
    model: type[models.Model]
    fields: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)


TEAM_FIELDS = ("id", "name", "manager_id")
USER_FIELDS = (
    "id", "password", "last_login", "is_superuser", "username", "first_name", "last_name",
    "email", "is_staff", "is_active", "date_joined", "role", "team_id", "time_zone",
)  # fmt: skip
COMPANY_FIELDS = (
    "id", "created_at", "updated_at", "name", "domain", "industry", "employees", "region",
    "tier", "icp_fit", "owner_id", "funnel_stage", "funnel_stage_since", "external_id",
)  # fmt: skip
CONTACT_FIELDS = (
    "id", "created_at", "updated_at", "company_id", "first_name", "last_name", "email",
    "phone", "title", "buying_role", "channel", "consent", "owner_id", "inquired_at",
    "qualified_at", "referred_by_id", "funnel_stage", "funnel_stage_since", "external_id",
)  # fmt: skip
DEAL_FIELDS = (
    "id", "created_at", "updated_at", "name", "company_id", "owner_id", "process_id",
    "process_version_id", "stage_id", "status", "amount", "currency", "expected_close",
    "channel", "source", "campaign", "referred_by_id", "next_step", "lost_reason",
    "lost_note", "stage_entered_at", "closed_at", "version", "updated_by_id", "external_id",
)  # fmt: skip
DEAL_CONTACT_FIELDS = ("id", "deal_id", "contact_id", "role")
TICK_FIELDS = ("id", "deal_id", "item", "ticked_by_id", "ticked_at")
STAGE_CHANGE_FIELDS = (
    "id", "deal_id", "process_version_id", "from_stage_id", "to_stage_id", "at", "by_id",
    "evidence", "override_reason", "lost_reason",
)  # fmt: skip
ACTIVITY_FIELDS = (
    "id", "type", "channel", "outcome", "at", "duration_minutes", "by_id", "deal_id",
    "contact_id", "company_id", "notes", "created_at",
)  # fmt: skip
TASK_FIELDS = (
    "id", "title", "owner_id", "due_at", "done_at", "source", "source_key", "plan_step_id",
    "deal_id", "company_id", "created_at",
)  # fmt: skip
EVENT_FIELDS = (
    "id", "type", "occurred_at", "email", "contact_id", "company_id", "campaign", "source",
    "url", "received_at", "received_by_id",
)  # fmt: skip
METRIC_FIELDS = (
    "id", "key", "name", "stage", "unit", "owner_id", "capture_method", "description",
    "position",
)  # fmt: skip
METRIC_VALUE_FIELDS = (
    "id", "metric_id", "month", "value", "source", "entered_by_id", "entered_at", "note",
)  # fmt: skip

# Insertion order: a table's rows only point at rows of tables listed before it (the
# team-manager pair excepted; foreign keys are checked at commit).
TABLES: Mapping[str, tuple[type[models.Model], tuple[str, ...]]] = {
    "teams": (Team, TEAM_FIELDS),
    "users": (User, USER_FIELDS),
    "companies": (Company, COMPANY_FIELDS),
    "contacts": (Contact, CONTACT_FIELDS),
    "deals": (Deal, DEAL_FIELDS),
    "deal_contacts": (DealContact, DEAL_CONTACT_FIELDS),
    "stage_changes": (StageChange, STAGE_CHANGE_FIELDS),
    "checklist_ticks": (ChecklistTick, TICK_FIELDS),
    "activities": (Activity, ACTIVITY_FIELDS),
    "tasks": (Task, TASK_FIELDS),
    "marketing_events": (MarketingEvent, EVENT_FIELDS),
    "metrics": (Metric, METRIC_FIELDS),
    "metric_values": (MetricValue, METRIC_VALUE_FIELDS),
}


@dataclass
class DemoRows:
    tables: dict[str, Table]
    now: datetime  # the demo's present: every logged event happened before it

    @property
    def count(self) -> int:
        return sum(len(t.rows) for t in self.tables.values())


# --- time -------------------------------------------------------------------------------


class Clock:
    """Raw seconds since a Monday two years ago, folded into weekday business hours."""

    def __init__(self, today: date) -> None:
        monday = today - timedelta(days=today.weekday())
        self.origin = datetime.combine(monday - timedelta(weeks=HISTORY_WEEKS), time(), UTC)
        self._origin_ts = self.origin.timestamp()
        # Raw time before `end` folds to business hours before today 00:00 UTC.
        self.end = HISTORY_WEEKS * WEEK + min(today.weekday(), 5) * WEEK / 5
        self.now = datetime.combine(today, time(), UTC)

    def at(self, raw: float) -> datetime:
        week, in_week = divmod(raw, WEEK)
        day, in_day = divmod(in_week * (5 / 7), DAY)
        seconds = self._origin_ts + week * WEEK + day * DAY + 28_800 + in_day * (10 / 24)
        return datetime.fromtimestamp(int(seconds), UTC)

    def month(self, raw: float) -> int:
        return (self.origin + timedelta(seconds=raw)).month


# --- the simulation's own parameters ----------------------------------------------------


# Chance to advance out of the n-th open stage, before the seller's and the deal's edge.
ADVANCE: Mapping[str, tuple[float, ...]] = {
    ProcessKind.NEW_BUSINESS: (0.70, 0.74, 0.78, 0.82, 0.80, 0.90),
    ProcessKind.RENEWAL: (0.93, 0.90, 0.92),
    ProcessKind.UPSELL: (0.74, 0.70, 0.86),
}
CHANNEL_EDGE: Mapping[str, float] = {
    Channel.REFERRAL: 0.07,
    Channel.PARTNER: 0.04,
    Channel.NETWORKING: 0.02,
    Channel.INBOUND_WEB: 0.01,
    Channel.COLD_CALLING: -0.05,
    Channel.TRADESHOW: -0.02,
    Channel.ADVERTISING: -0.03,
}
TIER_EDGE: Mapping[str, tuple[float, float]] = {  # (advance edge, pace)
    Tier.STANDARD: (0.0, 1.0),
    Tier.KEY: (-0.02, 1.25),
    Tier.WHALE: (-0.05, 1.6),
}
TIER_SHARE = {Tier.STANDARD: 1.0, Tier.KEY: 2.5, Tier.WHALE: 4.0}  # of extra new deals
# Why deals are lost, early / in the middle / late in the process, and in other cases.
LOST_EARLY = {"poor_fit": 30, "went_dark": 25, "timing": 20, "no_decision": 15, "no_budget": 10}
LOST_MIDDLE = {
    "no_decision": 20, "competitor": 20, "went_dark": 15, "timing": 15, "no_budget": 15,
    "price": 10, "other": 5,
}  # fmt: skip
LOST_LATE = {
    "price": 30, "competitor": 30, "no_budget": 15, "no_decision": 15, "timing": 5, "other": 5,
}  # fmt: skip
LOST_REPEAT = {"price": 30, "competitor": 25, "no_budget": 25, "poor_fit": 10, "other": 10}
LOST_STALLED = {"went_dark": 60, "no_decision": 40}
SEASON = (0.9, 1.0, 1.1, 1.05, 1.05, 1.0, 0.8, 0.65, 1.1, 1.15, 1.1, 0.7)  # by month

NEW_BUSINESS_SHARE = 0.87  # of all deals; renewals and upsells of customers are the rest
P_STALL = 0.06  # a stint stalls for a while, then mostly ends lost
P_STALL_FOR_GOOD = 0.012  # a stint of a deal younger than a year stalls and never moves
P_OVERRIDE = 0.025  # a forward move lacks one piece of evidence and a manager overrides
NOISE_DAYS = 8.0  # one more touch (e-mail, call, social) per this many days in a stage

OUTCOME_OF: Mapping[str, str] = {
    ActivityType.CALL: Outcome.CONNECTED,
    ActivityType.EMAIL: Outcome.REPLIED,
    ActivityType.MEETING: Outcome.HELD,
    ActivityType.PRESENTATION: Outcome.HELD,
    ActivityType.DEMO: Outcome.HELD,
    ActivityType.PROPOSAL_SENT: Outcome.DONE,
    ActivityType.NETWORKING_EVENT: Outcome.DONE,
    ActivityType.SOCIAL_TOUCH: Outcome.DONE,
    ActivityType.TRADESHOW_CONTACT: Outcome.DONE,
    ActivityType.RESEARCH: Outcome.DONE,
}
MINUTES: Mapping[str, tuple[int, int]] = {
    ActivityType.CALL: (5, 30),
    ActivityType.MEETING: (30, 90),
    ActivityType.PRESENTATION: (45, 90),
    ActivityType.DEMO: (45, 120),
    ActivityType.RESEARCH: (30, 120),
    ActivityType.NETWORKING_EVENT: (60, 180),
    ActivityType.TRADESHOW_CONTACT: (5, 20),
}
# (type, outcome, weight) of the touches that fill a stint besides the evidence.
NOISE = (
    (ActivityType.EMAIL, Outcome.REPLIED, 26),
    (ActivityType.EMAIL, Outcome.NO_REPLY, 22),
    (ActivityType.CALL, Outcome.CONNECTED, 16),
    (ActivityType.CALL, Outcome.NOT_CONNECTED, 12),
    (ActivityType.CALL, Outcome.LEFT_MESSAGE, 10),
    (ActivityType.SOCIAL_TOUCH, Outcome.POSITIVE, 8),
    (ActivityType.SOCIAL_TOUCH, Outcome.DONE, 6),
)
NOISE_TYPES = frozenset(kind for kind, _, _ in NOISE)
# First touches with a prospect, by the channel that found them.
PROSPECTING: Mapping[str, tuple[tuple[str, str], ...]] = {
    Channel.SOCIAL_SELLING: (
        (ActivityType.SOCIAL_TOUCH, Outcome.DONE),
        (ActivityType.SOCIAL_TOUCH, Outcome.POSITIVE),
        (ActivityType.EMAIL, Outcome.REPLIED),
    ),
    Channel.NETWORKING: (
        (ActivityType.NETWORKING_EVENT, Outcome.DONE),
        (ActivityType.EMAIL, Outcome.REPLIED),
    ),
    Channel.COLD_CALLING: (
        (ActivityType.CALL, Outcome.NOT_CONNECTED),
        (ActivityType.CALL, Outcome.LEFT_MESSAGE),
        (ActivityType.CALL, Outcome.CONNECTED),
    ),
    Channel.REFERRAL: (
        (ActivityType.CALL, Outcome.CONNECTED),
        (ActivityType.EMAIL, Outcome.REPLIED),
    ),
    Channel.INBOUND_WEB: ((ActivityType.EMAIL, Outcome.REPLIED),),
    Channel.TRADESHOW: ((ActivityType.TRADESHOW_CONTACT, Outcome.DONE),),
    Channel.ADVERTISING: ((ActivityType.EMAIL, Outcome.REPLIED),),
    Channel.DIRECT_MAIL: ((ActivityType.CALL, Outcome.CONNECTED),),
    Channel.PARTNER: ((ActivityType.MEETING, Outcome.HELD),),
}
COLD_TOUCHES = (
    (ActivityType.CALL, Outcome.NOT_CONNECTED),
    (ActivityType.CALL, Outcome.LEFT_MESSAGE),
    (ActivityType.EMAIL, Outcome.NO_REPLY),
    (ActivityType.SOCIAL_TOUCH, Outcome.DONE),
    (ActivityType.NETWORKING_EVENT, Outcome.DONE),
    (ActivityType.TRADESHOW_CONTACT, Outcome.DONE),
    (ActivityType.CALL, Outcome.CONNECTED),
)
INBOUND = frozenset(
    {Channel.INBOUND_WEB, Channel.ADVERTISING, Channel.TRADESHOW, Channel.DIRECT_MAIL}
)
# Deal fields every generated deal fills in; a `fields` criterion naming others is overridden.
# Buying roles of a company's third and later contacts (the first two: decision maker, champion).
OTHER_ROLES = (
    BuyingRole.INFLUENCER,
    BuyingRole.INFLUENCER,
    BuyingRole.USER,
    BuyingRole.BLOCKER,
    BuyingRole.DECISION_MAKER,
)
FILLED_FIELDS = frozenset({"amount", "expected_close", "next_step", "channel", "source"})

# The website: where its traffic comes from (the `source` its tracking sends), by weight.
VISIT_SOURCES = (
    ("organic", 40), ("direct", 18), ("paid", 15), ("social", 12), ("referral", 9), ("email", 6),
)  # fmt: skip
# People the CRM knows come back through bookmarks, our mails and searches for our name.
KNOWN_SOURCES = (("direct", 40), ("email", 35), ("organic", 20), ("social", 5))
# Where an inquiry came from, by the channel that found the contact; else direct or email.
INQUIRY_SOURCES: Mapping[str, tuple[str, ...]] = {
    Channel.INBOUND_WEB: ("organic", "organic", "social", "direct", "email"),
    Channel.ADVERTISING: ("paid",),
    Channel.TRADESHOW: ("event",),
    Channel.DIRECT_MAIL: ("direct mail",),
}
P_FORM_FILL = 0.65  # of inquiries: a form on the website, else an e-mail to sales
P_FOLLOW_UP = 0.3  # a contact who inquired asks again some weeks later
P_PRICING_FIRST = 0.5  # an inquiry comes minutes after a (still anonymous) look at pricing
P_SOCIAL_CAMPAIGN = 0.3  # of social visits: the season's webinar series
# Of the anonymous visits: an inquiry, a download from an address no contact has (job
# seekers, students, vendors, people the team has not got round to yet).
P_STRANGER_INQUIRY = 0.025
P_STRANGER_DOWNLOAD = 0.02
RECEIVED_LAG = timedelta(seconds=40)  # from the visit to the website's push
ORGANIC_DROP_WEEKS = 36  # a website relaunch this long before today lost search rankings
ORGANIC_LOSS = 0.6  # of the organic visits, for good
SEASONS = ("Winter", "Spring", "Summer", "Autumn")


@dataclass(frozen=True)
class DemoMetric:
    """A metric of the demo business's own, with its monthly entries."""

    key: str
    name: str
    stage: str
    capture_method: str
    owner: str  # username: who answers for it and enters (or pushes) it
    description: str
    months: int  # months of entries, up to last month


DEMO_METRICS = (
    DemoMetric(
        "referral_partner_meetings",
        "Referral partner meetings",
        MetricStage.LEAD,
        CaptureMethod.MANUAL,
        "thomas.becker",
        "Meetings with partners and customers who refer us, counted by the sales managers.",
        months=15,
    ),
    DemoMetric(
        "newsletter_signups",
        "Newsletter sign-ups",
        MetricStage.SUSPECT,
        CaptureMethod.PUSHED,
        "chloe.dubois",
        "New newsletter subscribers in the month, pushed by the mailing tool.",
        months=22,
    ),
)
CORRECTIONS = 2  # entries of the hand-entered metric superseded by a corrected one


def _cumulative(weights: Iterable[float]) -> list[float]:
    total = 0.0
    out = []
    for weight in weights:
        total += weight
        out.append(total)
    return out


NOISE_CHOICES = [(kind, outcome) for kind, outcome, _ in NOISE]
NOISE_CUM = _cumulative(weight for _, _, weight in NOISE)
NOISE_TOTAL = NOISE_CUM[-1]


def _campaign(when: datetime, name: str) -> str:
    """A campaign as marketing names them: the season, its year, what it is."""
    return f"{SEASONS[when.month % 12 // 3]} {when.year} {name}"


def _month_add(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


# --- the simulation's records -----------------------------------------------------------


class _Seller:
    __slots__ = ("channels", "cum", "id", "joined", "person", "team")

    def __init__(self, person: Person, user_id: int, team_id: int | None, joined: float) -> None:
        self.person = person
        self.id = user_id
        self.team = team_id
        self.joined = joined  # raw time
        weights = dict.fromkeys(Channel.values, 3.0)
        weights[Channel.INBOUND_WEB] = 15.0
        weights[person.channel] = 55.0
        self.channels = list(weights)
        self.cum = _cumulative(weights.values())


class _Company:
    __slots__ = (
        "appear", "champion", "contacts", "dm", "domain", "fate", "icp", "id", "industry",
        "owner", "region", "row", "short", "tier",
    )  # fmt: skip

    def __init__(self, company_id: int) -> None:
        self.id = company_id
        self.contacts: list[int] = []
        self.dm = 0  # the first decision maker's contact id
        self.champion = 0
        self.fate = "suspect"  # suspect | prospect | lead | qualified | deals
        self.appear = 0.0  # raw time it entered the CRM
        self.owner: _Seller | None = None
        self.row: list[Any] = []
        self.short = ""
        self.tier: str = Tier.STANDARD
        self.icp = 50


class _Stint:
    """A deal's time in one stage: entered, and left forward, to lost, or not yet."""

    __slots__ = ("enter", "exit", "result", "stage", "stall")

    def __init__(self, stage: StageInfo, enter: float) -> None:
        self.stage = stage
        self.enter = enter
        self.exit = enter  # the planned exit while the stint is open
        self.result = "open"  # advance | lost | open
        self.stall = 0  # 0 none, 1 for a while, 2 for good


class _Deal:
    __slots__ = (
        "amount", "channel", "company", "created", "entered", "id", "lost_reason", "main",
        "name", "process", "product", "referred_by", "seller", "source", "status", "stints",
    )  # fmt: skip

    def __init__(
        self, process: ProcessInfo, company: _Company, seller: _Seller, created: float
    ) -> None:
        self.process = process
        self.company = company
        self.seller = seller
        self.created = created
        self.id = 0
        self.channel = ""
        self.source = ""
        self.name = ""
        self.product = 0
        self.amount = Decimal(0)
        self.main = 0  # the contact the deal started with
        self.referred_by: int | None = None
        self.stints: list[_Stint] = []
        self.status: str = DealStatus.OPEN
        self.lost_reason = ""
        self.entered = datetime.min  # stage_entered_at, once the row is made

    @property
    def closed(self) -> float:
        return self.stints[-1].exit


class _Website:
    """The website's traffic: when a visit happens, where it comes from, what it looks at.

    Traffic grows over the two years and follows the seasons like the new deals, until a
    relaunch ORGANIC_DROP_WEEKS before today loses part of the search traffic for good.
    """

    def __init__(self, rng: random.Random, clock: Clock, end: float) -> None:
        self.rng = rng
        self.sources = [source for source, _ in VISIT_SOURCES]
        self.before = _cumulative(weight for _, weight in VISIT_SOURCES)
        self.after = _cumulative(
            weight * (1 - ORGANIC_LOSS) if source == "organic" else weight
            for source, weight in VISIT_SOURCES
        )
        kept = self.after[-1] / self.before[-1]  # the share of the traffic left after it
        self.drop = max(0.0, (end // WEEK - ORGANIC_DROP_WEEKS) * WEEK)
        self.pages = [url for url, _ in names.WEB_PAGES]
        self.page_cum = _cumulative(weight for _, weight in names.WEB_PAGES)
        self.starts: list[float] = []  # each week's first raw second
        self.lengths: list[float] = []
        self.week_cum: list[float] = []  # the running share of the traffic up to each week
        total = 0.0
        start = 0.0
        while start < end:
            length = min(WEEK, end - start)
            middle = start + length / 2
            weight = (0.75 + 0.5 * middle / end) * SEASON[clock.month(middle) - 1]
            total += length / WEEK * weight * (kept if start >= self.drop else 1.0)
            self.starts.append(start)
            self.lengths.append(length)
            self.week_cum.append(total)
            start += WEEK

    def time(self) -> float:
        random_ = self.rng.random
        week = bisect_left(self.week_cum, random_() * self.week_cum[-1])
        return self.starts[week] + random_() * self.lengths[week]

    def source(self, t: float) -> str:
        cum = self.after if t >= self.drop else self.before
        return self.sources[bisect_left(cum, self.rng.random() * cum[-1])]

    def page(self) -> str:
        return self.pages[bisect_left(self.page_cum, self.rng.random() * self.page_cum[-1])]

    def campaign(self, source: str, when: datetime) -> str:
        """Paid visits come from the season's ads, mail ones from the month's newsletter."""
        if source == "paid":
            return _campaign(when, names.CAMPAIGNS[Channel.ADVERTISING])
        if source == "email":
            return f"{when:%B %Y} newsletter"
        if source == "social" and self.rng.random() < P_SOCIAL_CAMPAIGN:
            return _campaign(when, names.CAMPAIGNS[Channel.INBOUND_WEB])
        return ""


# --- the simulation ---------------------------------------------------------------------


class _Simulation:
    def __init__(
        self, *, world: World, size: Size, seed: int, today: date, progress: Progress | None
    ) -> None:
        self.world = world
        self.size = size
        self.rng = random.Random(seed)
        self.clock = Clock(today)
        self.end = self.clock.end
        self.report: Progress = progress or (lambda phase, done, total: None)
        self.tables = {label: Table(model, fields) for label, (model, fields) in TABLES.items()}
        self.ids = {label: count(world.first_ids.get(label, 1)) for label in TABLES}
        self.activity_ids = self.ids["activities"]
        self.activity_rows = self.tables["activities"].rows
        self.new_business_process = world.processes[ProcessKind.NEW_BUSINESS]
        self.sellers: list[_Seller] = []
        self.managers: dict[int | None, int] = {}  # team id -> its manager's user id
        self.team_role: dict[tuple[int | None, str], int] = {}  # (team id, role) -> user id
        self.owner_id = 0
        self.marketer_id = 0
        self.specialist_id = 0
        self.companies: list[_Company] = []
        self.contacts: dict[int, list[Any]] = {}  # id -> row, filled in as the story goes
        self.deals: list[_Deal] = []
        self.user_ids: dict[str, int] = {}  # username -> user id
        self.inquired: dict[int, float] = {}  # contact id -> raw time of the first inquiry
        self.visits_by_month: dict[date, int] = {}  # anonymous website visits

    def take_id(self, label: str) -> int:
        return next(self.ids[label])

    def run(self) -> DemoRows:
        self.people()
        self.accounts()
        self.new_business()
        self.referrals(self.deals)
        self.repeat_business()
        self.deal_histories()
        self.prospecting()
        self.report("Tasks", 0, 1)
        self.tasks()
        by_id = sorted(self.companies, key=lambda c: c.id)
        self.tables["companies"].rows.extend(tuple(c.row) for c in by_id)
        self.tables["contacts"].rows.extend(tuple(row) for row in self.contacts.values())
        self.marketing()
        self.report("Scorecard entries", 0, 1)
        self.scorecard_entries()
        return DemoRows(tables=self.tables, now=self.clock.now)

    # --- people -------------------------------------------------------------------------

    def people(self) -> None:
        team_ids = {name: self.take_id("teams") for name in TEAMS}
        user_ids = self.user_ids = {p.username: self.take_id("users") for p in CAST}
        for name, team_id in team_ids.items():
            manager = next(p.username for p in CAST if p.team == name and p.manages)
            self.tables["teams"].rows.append((team_id, name, user_ids[manager]))
        for p in CAST:
            user_id = user_ids[p.username]
            team = team_ids[p.team] if p.team else None
            is_owner = p.role == Role.OWNER
            joined = max(0, HISTORY_WEEKS - p.weeks) * WEEK
            self.tables["users"].rows.append(
                (user_id, self.world.password_hash, None, is_owner, p.username, p.first_name,
                 p.last_name, f"{p.username}@keel-demo.example", is_owner, True,
                 self.clock.origin + timedelta(weeks=HISTORY_WEEKS - p.weeks), p.role, team,
                 p.time_zone)
            )  # fmt: skip
            if p.manages:
                self.managers[team] = user_id
            self.team_role.setdefault((team, p.role), user_id)
            if p.role == Role.SALESPERSON:
                self.sellers.append(_Seller(p, user_id, team, joined))
            elif is_owner:
                self.owner_id = user_id
            elif p.role == Role.MARKETER:
                self.marketer_id = user_id
            elif p.role == Role.SALES_SPECIALIST:
                self.specialist_id = user_id

    def assignee(self, role: str, seller: _Seller) -> int:
        """Who does a plan step or a specialist's touch: as `activities.services._assignee`."""
        if role == "owner":
            return seller.id
        if role == Role.SALES_MANAGER:
            return self.managers.get(seller.team, seller.id)
        return self.team_role.get((seller.team, role), seller.id)

    # --- companies and contacts ---------------------------------------------------------

    def accounts(self) -> None:
        rng = self.rng
        industries = list(names.INDUSTRIES)
        industry_cum = _cumulative(w for w, _ in names.INDUSTRIES.values())
        regions = list(names.REGIONS)
        region_cum = _cumulative(w for w, _, _ in names.REGIONS.values())
        seller_cum = _cumulative(s.person.volume for s in self.sellers)
        enterprise = [s for s in self.sellers if s.person.team == ENTERPRISE]
        used: set[str] = set()
        count = self.size.companies
        whales = max(3, count // 100)
        keys = max(6, count * 8 // 100)
        for i in range(count):
            if i % 1000 == 0:
                self.report("Companies and contacts", i, count)
            c = _Company(self.take_id("companies"))
            c.tier = Tier.WHALE if i < whales else Tier.KEY if i < whales + keys else Tier.STANDARD
            industry = rng.choices(industries, cum_weights=industry_cum)[0]
            region = rng.choices(regions, cum_weights=region_cum)[0]
            c.short = self.company_name(industry, used)
            if c.tier == Tier.WHALE:
                employees = rng.randint(5_000, 60_000)
            elif c.tier == Tier.KEY:
                employees = rng.randint(400, 5_000)
            else:
                employees = int(rng.lognormvariate(math.log(60), 0.9)) + 5
            c.icp = min(100, max(0, round(rng.gauss(62 if c.tier != Tier.STANDARD else 55, 18))))
            if c.tier != Tier.STANDARD and rng.random() < 0.8:
                c.owner = rng.choice(enterprise)  # big accounts go to the enterprise team
            else:
                c.owner = self.sellers[bisect_left(seller_cum, rng.random() * seller_cum[-1])]
            c.fate = self.fate(c.tier)
            if c.fate == "suspect" and rng.random() < 0.3:
                c.owner = None
            domain = f"{c.short.lower().replace(' ', '-')}.example"
            c.row = [
                c.id, None, None, f"{c.short} {names.REGIONS[region][1]}", domain, industry,
                employees, region, c.tier, c.icp, c.owner.id if c.owner else None,
                FunnelStage.SUSPECT, None, None,
            ]  # fmt: skip
            self.people_at(c, domain, employees >= 250, names.REGIONS[region][2])
            self.companies.append(c)
        rng.shuffle(self.companies)  # the big accounts were made first: spread them out

    def company_name(self, industry: str, used: set[str]) -> str:
        rng = self.rng
        nouns = names.INDUSTRIES[industry][1]
        name = ""
        for attempt in range(60):
            name = f"{rng.choice(names.BRAND_HEADS)}{rng.choice(names.BRAND_TAILS)} "
            name += rng.choice(nouns)
            if attempt >= 30:  # crowded: a third word
                name += f" {rng.choice(names.BRAND_HEADS)}"
            if name not in used:
                break
        else:
            name = f"{name} {len(used)}"
        used.add(name)
        return name

    def fate(self, tier: str) -> str:
        """How far a company gets with us: untouched, touched, inquired, qualified, deals."""
        r = self.rng.random()
        if tier != Tier.STANDARD:
            return "deals" if r < 0.8 else "prospect"
        if r < 0.6:
            return "deals"
        if r < 0.72:
            return "suspect"
        if r < 0.85:
            return "prospect"
        return "lead" if r < 0.94 else "qualified"

    def people_at(self, c: _Company, domain: str, big: bool, phone_prefix: str) -> None:
        rng = self.rng
        if c.tier == Tier.WHALE:
            count = rng.randint(5, 9)
        elif c.tier == Tier.KEY:
            count = rng.randint(3, 6)
        else:
            count = rng.choice((2, 2, 3, 3, 3, 4))
        others = OTHER_ROLES
        seen: set[str] = set()
        for j in range(count):
            role = (BuyingRole.DECISION_MAKER, BuyingRole.CHAMPION)[j] if j < 2 else None
            role = role or rng.choice(others)
            first = rng.choice(names.FIRST_NAMES)
            last = rng.choice(names.LAST_NAMES)
            local = f"{_ascii(first)}.{_ascii(last)}"
            while local in seen:
                local += str(rng.randint(2, 9))
            seen.add(local)
            contact_id = self.take_id("contacts")
            c.contacts.append(contact_id)
            if j == 0:
                c.dm = contact_id
            elif j == 1:
                c.champion = contact_id
            self.contacts[contact_id] = [
                contact_id, None, None, c.id, first, last, f"{local}@{domain}",
                f"{phone_prefix} {rng.randint(20, 99)} {rng.randint(100_000, 9_999_999)}",
                rng.choice(names.TITLES[role][1 if big else 0]), role, "", rng.random() < 0.4,
                c.owner.id if c.owner else None, None, None, None, FunnelStage.SUSPECT, None,
                None,
            ]  # fmt: skip

    # --- deals --------------------------------------------------------------------------

    def deal_day(self) -> float:
        """When a new deal opens: volume grows over the two years, dips in August and December."""
        rng = self.rng
        first = 3 * WEEK
        span = self.end - first
        while True:
            t = first + rng.random() * span
            weight = (0.75 + 0.5 * (t - first) / span) * SEASON[self.clock.month(t) - 1]
            if rng.random() * 1.45 < weight:
                return t

    def new_business(self) -> None:
        rng = self.rng
        with_deals = [c for c in self.companies if c.fate == "deals"]
        count = round(self.size.deals * NEW_BUSINESS_SHARE)
        slots = with_deals[:count]
        cum = _cumulative(TIER_SHARE[Tier(c.tier)] for c in with_deals)
        while len(slots) < count:  # more deals at the big accounts
            slots.append(with_deals[bisect_left(cum, rng.random() * cum[-1])])
        for i, company in enumerate(slots):
            if i % 1000 == 0:
                self.report("Deals", i, self.size.deals)
            self.deals.append(self.new_deal(company))

    def new_deal(self, company: _Company) -> _Deal:
        rng = self.rng
        seller = company.owner or rng.choice(self.sellers)
        created = self.deal_day()
        if created < seller.joined:
            created = seller.joined + rng.random() * (self.end - seller.joined)
        deal = _Deal(self.new_business_process, company, seller, created)
        deal.channel = seller.channels[bisect_left(seller.cum, rng.random() * seller.cum[-1])]
        deal.product = rng.randrange(len(names.PRODUCTS))
        product, price = names.PRODUCTS[deal.product]
        deal.name = f"{company.short} — {product}"
        deal.amount = self.amount(price, company.tier, seller.person.size)
        deal.main = company.champion if rng.random() < 0.6 else company.dm
        self.walk(deal)
        return deal

    def amount(self, price: float, tier: str, size: float) -> Decimal:
        rng = self.rng
        if tier == Tier.WHALE:
            factor = rng.uniform(10.0, 50.0)
        elif tier == Tier.KEY:
            factor = rng.uniform(2.5, 5.0)
        else:
            factor = rng.lognormvariate(0, 0.35)
        value = price * factor * size
        step = 1000 if value >= 50_000 else 100
        return Decimal(max(step, round(value / step) * step))

    def walk(self, deal: _Deal) -> None:
        """Move the deal through its process until it is won, lost, or still open today."""
        rng = self.rng
        process = deal.process
        advance = ADVANCE.get(process.kind, ADVANCE[ProcessKind.NEW_BUSINESS])
        tier_edge, tier_pace = TIER_EDGE[Tier(deal.company.tier)]
        person = deal.seller.person
        edge = person.win + CHANNEL_EDGE.get(deal.channel, 0.0) + tier_edge
        edge += (deal.company.icp - 60) / 500
        pace = person.pace * tier_pace * (0.85 if deal.channel == Channel.REFERRAL else 1.0)
        may_stall_for_good = deal.created > self.end - 52 * WEEK
        stages = process.open_stages
        enter = deal.created
        for i, stage in enumerate(stages):
            stint = _Stint(stage, enter)
            deal.stints.append(stint)
            dwell = rng.lognormvariate(math.log((stage.expected_days or 14) * pace), 0.5)
            chance = min(0.97, max(0.05, advance[min(i, len(advance) - 1)] + edge))
            roll = rng.random()
            if may_stall_for_good and roll < P_STALL_FOR_GOOD:
                stint.stall = 2
            elif roll < P_STALL_FOR_GOOD + P_STALL:
                stint.stall = 1
                dwell *= rng.uniform(3.0, 7.0)
                chance *= 0.3
            advances = rng.random() < chance
            if not advances and not stint.stall:
                dwell *= rng.uniform(0.4, 1.1)  # a lost deal is usually given up early
            stint.exit = enter + max(0.3, dwell) * DAY
            if stint.stall == 2 or stint.exit >= self.end:
                return
            if not advances:
                stint.result = "lost"
                deal.status = DealStatus.LOST
                deal.lost_reason = self.lost_reason(deal, i, len(stages), stint.stall == 1)
                return
            stint.result = "advance"
            enter = stint.exit
        deal.status = DealStatus.WON

    def lost_reason(self, deal: _Deal, index: int, count: int, stalled: bool) -> str:
        if stalled:
            weights = LOST_STALLED
        elif deal.process.kind != ProcessKind.NEW_BUSINESS:
            weights = LOST_REPEAT
        elif index < count / 3:
            weights = LOST_EARLY
        elif index < 2 * count / 3:
            weights = LOST_MIDDLE
        else:
            weights = LOST_LATE
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def referrals(self, deals: list[_Deal]) -> None:
        """A referral names a contact at a customer won before; without one it was networking.

        Most referrals come from a few happy customers who refer again and again.
        """
        rng = self.rng
        won = sorted((d for d in self.deals if d.status == DealStatus.WON), key=lambda d: d.closed)
        times = [d.closed for d in won]
        advocates: dict[int, _Company] = {}
        for deal in sorted(deals, key=lambda d: d.created):
            if deal.channel != Channel.REFERRAL:
                continue
            eligible = bisect_left(times, deal.created - 2 * WEEK)
            referrer = None
            if advocates and rng.random() < 0.7:
                referrer = rng.choice(list(advocates.values()))
            for _ in range(5 if eligible and referrer in (None, deal.company) else 0):
                referrer = won[rng.randrange(eligible)].company
                if referrer is not deal.company:
                    break
            if referrer is None or referrer is deal.company:
                deal.channel = Channel.NETWORKING
                continue
            advocates[referrer.id] = referrer
            deal.referred_by = referrer.dm if rng.random() < 0.6 else referrer.champion
            deal.source = f"Referral from {referrer.short}"
            contact = self.contacts[deal.main]
            if contact[15] is None:  # referred_by_id: the first referral is the one that counts
                contact[15] = deal.referred_by

    def repeat_business(self) -> None:
        """Renewals a year after a win and some upsells, up to the size's number of deals."""
        rng = self.rng
        renewal = self.world.processes.get(ProcessKind.RENEWAL)
        upsell = self.world.processes.get(ProcessKind.UPSELL)
        candidates: list[tuple[ProcessInfo, _Deal, float]] = []
        for deal in self.deals:
            if deal.status != DealStatus.WON:
                continue
            if renewal is not None:
                at = deal.closed + rng.uniform(320, 350) * DAY
                if at < self.end:
                    candidates.append((renewal, deal, at))
            if upsell is not None and rng.random() < 0.4:
                at = deal.closed + rng.uniform(75, 300) * DAY
                if at < self.end:
                    candidates.append((upsell, deal, at))
        rng.shuffle(candidates)
        for process, won, at in candidates[: max(0, self.size.deals - len(self.deals))]:
            self.deals.append(self.repeat_deal(process, won, at))
        with_deals = [c for c in self.companies if c.fate == "deals"]
        more = [
            self.new_deal(rng.choice(with_deals)) for _ in range(self.size.deals - len(self.deals))
        ]
        self.deals.extend(more)  # few customers yet: more new business instead
        self.referrals(more)

    def repeat_deal(self, process: ProcessInfo, won: _Deal, created: float) -> _Deal:
        rng = self.rng
        deal = _Deal(process, won.company, won.seller, created)
        deal.channel = won.channel
        deal.referred_by = won.referred_by
        deal.main = won.main
        year = self.clock.at(created).year
        if process.kind == ProcessKind.RENEWAL:
            deal.product = won.product
            deal.name = f"{won.company.short} — Renewal {year}"
            deal.amount = Decimal(round(float(won.amount) * rng.uniform(0.9, 1.2), -2))
            deal.source = "Renewal"
        else:
            deal.product = (won.product + rng.randrange(1, len(names.PRODUCTS))) % len(
                names.PRODUCTS
            )
            product, price = names.PRODUCTS[deal.product]
            deal.name = f"{won.company.short} — {product} (upsell {year})"
            deal.amount = self.amount(price * 0.6, won.company.tier, 1.0)
            deal.source = "Upsell"
        self.walk(deal)
        return deal

    # --- the deals' records -------------------------------------------------------------

    def deal_histories(self) -> None:
        self.deals.sort(key=lambda d: d.created)
        first_deal: dict[int, _Deal] = {}
        for deal in self.deals:
            deal.id = self.take_id("deals")
            first_deal.setdefault(deal.company.id, deal)
        for deal in first_deal.values():
            deal.company.appear = max(0.0, deal.created - self.rng.uniform(7, 90) * DAY)
            self.qualify(deal)
        total = len(self.deals)
        for i, deal in enumerate(self.deals):
            if i % 1000 == 0:
                self.report("Deal histories", i, total)
            self.history(deal)
        self.report("Deal histories", total, total)

    def qualify(self, deal: _Deal) -> None:
        """A company's first deal opens for a qualified lead, who may have inquired first."""
        rng = self.rng
        contact = self.contacts[deal.main]
        qualified = max(deal.company.appear, deal.created - rng.uniform(0.5, 5) * DAY)
        contact[14] = self.clock.at(qualified)  # qualified_at
        if deal.channel in INBOUND or rng.random() < 0.3:
            inquired = max(deal.company.appear, qualified - rng.uniform(1, 14) * DAY)
            contact[13] = self.clock.at(inquired)  # inquired_at
            self.inquired[deal.main] = inquired
        contact[10] = deal.channel

    def log(
        self, deal: _Deal, kind: str, outcome: str, t: float, contact: int | None, by: int
    ) -> None:
        when = self.clock.at(t)
        span = MINUTES.get(kind)
        rng = self.rng
        minutes = span[0] + int(rng.random() * (span[1] - span[0] + 1)) if span else None
        note = rng.choice(names.ACTIVITY_NOTES) if rng.random() < 0.08 else ""
        self.activity_rows.append(
            (next(self.activity_ids), kind, deal.channel, outcome, when, minutes, by, deal.id,
             contact, deal.company.id, note, when)
        )  # fmt: skip

    def history(self, deal: _Deal) -> None:
        """Stage changes, with the evidence each stage's exit criteria ask for in its stint."""
        rng = self.rng
        end = self.end
        process = deal.process
        owner = deal.seller.id
        linked = {deal.main: self.contacts[deal.main][9]}  # contact id -> role on the deal
        ticked: set[str] = set()
        researcher = self.assignee(Role.SALES_SPECIALIST, deal.seller)
        changes = self.tables["stage_changes"].rows
        changes.append(
            (self.take_id("stage_changes"), deal.id, process.version_id, None,
             deal.stints[0].stage.id, self.clock.at(deal.created), owner, {}, "", "")
        )  # fmt: skip
        for stint in deal.stints:
            stage = stint.stage
            a = stint.enter
            b = a + (stage.expected_days or 14) * DAY if stint.stall == 2 else stint.exit
            width = b - a
            quiet = a + width * (0.25 if stint.stall else 1.0)  # a stalled stint goes quiet
            for _ in range(int((quiet - a) / (NOISE_DAYS * DAY) + rng.random())):
                t = a + rng.random() * (quiet - a)
                if t < end:
                    pick = bisect_left(NOISE_CUM, rng.random() * NOISE_TOTAL)
                    kind, outcome = NOISE_CHOICES[pick]
                    self.log(deal, kind, outcome, t, deal.main, owner)
            if stint is deal.stints[0] and researcher != owner and rng.random() < 0.7:
                t = a + width * rng.uniform(0.02, 0.3)  # the team's specialist does research
                if t < end:
                    self.log(deal, ActivityType.RESEARCH, Outcome.DONE, t, None, researcher)
            skipped = self.skipped(stint, linked) if stint.result == "advance" else None
            if stint.result == "advance" and stint.stall:
                lo, hi, share = b - width * 0.2, b - width * 0.02, 1.0  # revived at the end
            elif stint.stall:
                lo, hi, share = a + width * 0.02, a + width * 0.2, 0.35
            else:
                lo, hi = a + width * 0.1, b - width * 0.03
                share = 0.35 if stint.result == "lost" else 1.0
            for criterion in stage.criteria:
                if criterion is not skipped and rng.random() < share:
                    self.evidence(deal, criterion, lo, hi, a, linked, ticked)
            if stint.result == "open":
                break
            changes.append(self.move(deal, stint, skipped))
        self.tables["deal_contacts"].rows.extend(
            (self.take_id("deal_contacts"), deal.id, contact, role)
            for contact, role in linked.items()
        )
        self.deal_row(deal)
        if deal.status == DealStatus.WON and process.kind == ProcessKind.NEW_BUSINESS:
            kickoff = deal.closed + rng.uniform(3, 12) * DAY
            if kickoff < end:
                self.log(deal, ActivityType.MEETING, Outcome.HELD, kickoff, deal.main, owner)

    def skipped(self, stint: _Stint, linked: Mapping[int, str]) -> Criterion | None:
        """Now and then a forward move lacks one piece of evidence: a manager overrides."""
        if self.rng.random() >= P_OVERRIDE:
            return None
        candidates = [
            c
            for c in stint.stage.criteria
            if isinstance(c, ChecklistCriterion)
            or (isinstance(c, ActivityCriterion) and c.type not in NOISE_TYPES)
            or (isinstance(c, ContactRoleCriterion) and c.role not in linked.values())
        ]
        return self.rng.choice(candidates) if candidates else None

    def evidence(
        self,
        deal: _Deal,
        criterion: Criterion,
        lo: float,
        hi: float,
        enter: float,
        linked: dict[int, str],
        ticked: set[str],
    ) -> None:
        rng = self.rng
        end = self.end
        owner = deal.seller.id
        if isinstance(criterion, ActivityCriterion):
            kind = criterion.type
            outcome = criterion.outcome or OUTCOME_OF.get(kind, "")
            contact = _decision_maker(linked, deal.main)
            by = owner
            if kind == ActivityType.DEMO:
                by = self.assignee(Role.SUBJECT_MATTER_EXPERT, deal.seller)
            elif kind == ActivityType.RESEARCH:
                by = self.assignee(Role.SALES_SPECIALIST, deal.seller)
            # What usually comes first: calls that did not connect, a meeting that fell through.
            tries = 0
            if kind == ActivityType.CALL and outcome == Outcome.CONNECTED:
                tries = rng.choice((0, 0, 1, 1, 2))
            elif kind == ActivityType.MEETING and outcome == Outcome.HELD:
                tries = 1 if rng.random() < 0.1 else 0
            for _ in range(tries):
                t = enter + (lo - enter) * (0.1 + 0.8 * rng.random())
                failed = Outcome.NO_SHOW if kind == ActivityType.MEETING else rng.choice(
                    (Outcome.NOT_CONNECTED, Outcome.LEFT_MESSAGE)
                )  # fmt: skip
                if t < end:
                    self.log(deal, kind, failed, t, contact, by)
            for _ in range(criterion.count):
                t = lo + rng.random() * (hi - lo)
                if t < end:
                    self.log(deal, kind, outcome, t, contact, by)
        elif isinstance(criterion, ChecklistCriterion):
            t = lo + (0.5 + 0.5 * rng.random()) * (hi - lo)  # ticked late in the stint
            if t < end and criterion.item not in ticked:
                ticked.add(criterion.item)
                self.tables["checklist_ticks"].rows.append(
                    (self.take_id("checklist_ticks"), deal.id, criterion.item, owner,
                     self.clock.at(t))
                )  # fmt: skip
        elif isinstance(criterion, ContactRoleCriterion) and criterion.role not in linked.values():
            contacts = self.contacts
            people = deal.company.contacts
            fits = [c for c in people if c not in linked and contacts[c][9] == criterion.role]
            fits = fits or [c for c in people if c not in linked]
            if fits:
                linked[rng.choice(fits)] = criterion.role

    def move(self, deal: _Deal, stint: _Stint, skipped: Criterion | None) -> tuple[Any, ...]:
        """The StageChange that ends a stint, as `deal_move` records it."""
        process = deal.process
        stage = stint.stage
        by = deal.seller.id
        evidence: dict[str, Any] = {}
        reason = ""
        if stint.result == "lost":
            to_stage = process.outcome(StageKind.LOST)
        else:
            opens = process.open_stages
            index = opens.index(stage)
            to_stage = opens[index + 1] if index + 1 < len(opens) else process.outcome("won")
            missing = [c for c in stage.criteria if c is skipped or not _can_evidence(c)]
            if missing:
                before = DealSnapshot(fields={}, stage_entered_at=self.clock.at(stint.enter))
                evidence = {
                    "overridden": [
                        asdict(Unmet(stage.name, c.kind, message, c.as_dict()))
                        for c in missing
                        if (message := c.missing(before, stage.name)) is not None
                    ]
                }
                by = self.managers.get(deal.seller.team, self.owner_id)
                reason = self.rng.choice(names.OVERRIDE_REASONS)
        return (
            self.take_id("stage_changes"), deal.id, process.version_id, stage.id, to_stage.id,
            self.clock.at(stint.exit), by, evidence, reason,
            deal.lost_reason if stint.result == "lost" else "",
        )  # fmt: skip

    def deal_row(self, deal: _Deal) -> None:
        rng = self.rng
        at = self.clock.at
        process = deal.process
        last = deal.stints[-1]
        if deal.status == DealStatus.OPEN:
            stage = last.stage
            entered = last.enter
            cycle = sum((s.expected_days or 14) for s in process.open_stages)
            expected = deal.created + cycle * DAY * rng.uniform(0.8, 1.4)
            if expected < self.end and not last.stall:  # a live deal's date gets pushed out
                expected = self.end + rng.uniform(7, 45) * DAY
            closed_at = None
            moves = len(deal.stints) - 1
        else:
            won = deal.status == DealStatus.WON
            stage = process.outcome(StageKind.WON if won else StageKind.LOST)
            entered = last.exit
            expected = entered + rng.uniform(-20, 10) * DAY
            closed_at = at(entered)
            moves = len(deal.stints)
        steps: Sequence[str] = names.NEXT_STEPS
        if process.kind != ProcessKind.NEW_BUSINESS:
            steps = names.NEXT_STEP_REPEAT
        next_step = steps[min(process.open_stages.index(last.stage), len(steps) - 1)]
        if deal.status == DealStatus.WON:
            next_step = names.NEXT_STEP_WON
        source = deal.source or rng.choice(names.SOURCES[deal.channel])
        if source == "Cold list":
            source = f"Cold list — {deal.company.row[5]}"
        campaign = ""
        if deal.channel in names.CAMPAIGNS:
            campaign = _campaign(at(deal.created), names.CAMPAIGNS[deal.channel])
        lost_note = ""
        if deal.status == DealStatus.LOST and rng.random() < 0.5:
            lost_note = rng.choice(names.LOST_NOTES[deal.lost_reason])
        deal.entered = at(entered)
        self.tables["deals"].rows.append(
            (deal.id, at(deal.created), deal.entered, deal.name, deal.company.id, deal.seller.id,
             process.id, process.version_id, stage.id, deal.status, deal.amount,
             self.world.currency, at(expected).date(), deal.channel, source, campaign,
             deal.referred_by, next_step, deal.lost_reason, lost_note, deal.entered, closed_at,
             1 + moves, deal.seller.id, None)
        )  # fmt: skip

    # --- the top of the funnel ----------------------------------------------------------

    def prospecting(self) -> None:
        """Touches with companies before a deal, or without one: prospects, leads, suspects."""
        rng = self.rng
        end = self.end
        at = self.clock.at
        activities = self.tables["activities"].rows
        first_deal: dict[int, _Deal] = {}
        for deal in self.deals:
            first_deal.setdefault(deal.company.id, deal)
        total = len(self.companies)
        for i, c in enumerate(self.companies):
            if i % 1000 == 0:
                self.report("Prospecting", i, total)
            owner = c.owner.id if c.owner else self.marketer_id
            touches: list[tuple[str, str, float, int | None, int]] = []
            first = first_deal.get(c.id)
            channel = ""
            if first is not None:
                channel = first.channel
                options = PROSPECTING[channel]
                start = max(c.appear, first.seller.joined)
                for _ in range(rng.randint(1, 3)):
                    kind, outcome = rng.choice(options)
                    t = start + rng.random() * (first.created - start)
                    touches.append((kind, outcome, t, first.main, owner))
            elif c.fate == "suspect":
                c.appear = rng.random() * end * 0.5  # an imported list nobody worked yet
            else:
                channel = rng.choice(
                    (Channel.SOCIAL_SELLING, Channel.NETWORKING, Channel.COLD_CALLING,
                     Channel.INBOUND_WEB)
                )  # fmt: skip
                c.appear = max(rng.random() * end * 0.9, c.owner.joined if c.owner else 0.0)
                self.contacts[c.dm][10] = channel
                for j in range(rng.randint(1, 4)):
                    kind, outcome = rng.choice(COLD_TOUCHES)
                    t = c.appear + rng.random() * (end - c.appear)
                    touches.append((kind, outcome, t, c.contacts[j % len(c.contacts)], owner))
                if c.fate in ("lead", "qualified"):
                    inquired = c.appear + rng.random() * (end - c.appear) * 0.8
                    self.contacts[c.dm][13] = at(inquired)
                    self.inquired[c.dm] = inquired
                    by = self.marketer_id if rng.random() < 0.4 else owner
                    touches.append((ActivityType.EMAIL, Outcome.REPLIED, inquired + DAY, c.dm, by))
                    if c.fate == "qualified":
                        qualified = min(inquired + rng.uniform(2, 20) * DAY, end - DAY)
                        self.contacts[c.dm][14] = at(qualified)
                        call = (ActivityType.CALL, Outcome.CONNECTED, qualified - DAY / 3)
                        touches.append((*call, c.dm, owner))
            if c.tier == Tier.WHALE and c.fate != "suspect":  # a dossier on every whale
                for _ in range(rng.randint(1, 3)):
                    t = c.appear + rng.random() * (end - c.appear)
                    research = (ActivityType.RESEARCH, Outcome.DONE, t, None)
                    touches.append((*research, self.specialist_id or owner))
            touches.sort(key=lambda touch: touch[2])
            for kind, outcome, t, contact, by in touches:
                if t < end:
                    when = at(t)
                    span = MINUTES.get(kind)
                    activities.append(
                        (self.take_id("activities"), kind, channel, outcome, when,
                         rng.randint(*span) if span else None, by, None, contact, c.id, "", when)
                    )  # fmt: skip
            created = at(c.appear)
            c.row[1] = c.row[2] = created
            for contact_id in c.contacts:
                row = self.contacts[contact_id]
                row[1] = row[2] = created

    # --- tasks --------------------------------------------------------------------------

    def tasks(self) -> None:
        """Completion-plan tasks of each open deal's stage (and of recent wins), some ad hoc."""
        rng = self.rng
        now = self.clock.now
        rows = self.tables["tasks"].rows
        recent_win = self.end - 90 * DAY
        open_deals: dict[int, list[_Deal]] = {}
        for deal in self.deals:
            last = deal.stints[-1]
            if deal.status == DealStatus.OPEN:
                stage = last.stage
                stalled = last.stall > 0
                open_deals.setdefault(deal.seller.id, []).append(deal)
            elif deal.status == DealStatus.WON and last.exit >= recent_win:
                stage = deal.process.outcome(StageKind.WON)
                stalled = False
            else:
                continue
            entered = deal.entered
            for step in stage.plan:
                due = entered + timedelta(days=step.due_days)
                done = None
                if rng.random() < (0.15 if stalled else 0.7 if due < now else 0.15):
                    span = (min(due, now) - entered).total_seconds()
                    done = entered + timedelta(seconds=int(span * rng.uniform(0.2, 1.0)))
                rows.append(
                    (self.take_id("tasks"), step.title, self.assignee(step.role, deal.seller),
                     due, done, TaskSource.PLAN_STEP, f"plan:{stage.name}:{step.title}",
                     step.id, deal.id, deal.company.id, entered)
                )  # fmt: skip
        for seller in self.sellers:
            mine = open_deals.get(seller.id)
            for _ in range(self.size.ad_hoc_tasks if mine else 0):
                deal = rng.choice(mine or [])
                contact = self.contacts[deal.main]
                title = rng.choice(names.AD_HOC_TASKS).format(
                    contact=f"{contact[4]} {contact[5]}", company=deal.company.short
                )
                due = now + timedelta(days=rng.randint(-10, 10), hours=rng.randint(8, 17))
                created = min(now, due) - timedelta(days=rng.randint(1, 10))
                done = due - timedelta(hours=rng.randint(1, 20))
                rows.append(
                    (self.take_id("tasks"), title, seller.id, due,
                     done if due < now and rng.random() < 0.4 else None, TaskSource.AD_HOC, "",
                     None, deal.id, deal.company.id, created)
                )  # fmt: skip

    # --- marketing events -------------------------------------------------------------

    def marketing(self) -> None:
        """The website's events, pushed with the marketer's token as the API stores them:
        known contacts' visits and downloads, every inquiry, then the anonymous crowd."""
        rng = self.rng
        end = self.end
        web = _Website(rng, self.clock, end)
        rows = self.tables["marketing_events"].rows
        ids = self.ids["marketing_events"]
        contacts = self.contacts
        at = self.clock.at
        by = self.marketer_id
        known = [source for source, _ in KNOWN_SOURCES]
        known_cum = _cumulative(weight for _, weight in KNOWN_SOURCES)

        def event(kind: str, t: float, contact: int | None, source: str, url: str) -> None:
            if t >= end:
                return
            when = at(t)
            email, company = "", None
            if contact is not None:  # matched by e-mail address, as the ingestion does
                email, company = contacts[contact][6], contacts[contact][3]
            elif kind != EventType.VISIT:  # a form asks for an address no contact has
                email = self.stranger()
            rows.append(
                (next(ids), kind, when, email, contact, company, web.campaign(source, when),
                 source, url, when + RECEIVED_LAG, by)
            )  # fmt: skip

        total = len(self.companies)
        for i, c in enumerate(self.companies):
            if i % 1000 == 0:
                self.report("Marketing events", i, total)
            if c.fate == "suspect":
                continue  # nobody there has heard of us yet
            span = end - c.appear
            engaged = c.fate == "deals"
            for _ in range(rng.randint(0, 5 if engaged else 2)):
                source = known[bisect_left(known_cum, rng.random() * known_cum[-1])]
                t = c.appear + rng.random() * span
                event(EventType.VISIT, t, rng.choice(c.contacts), source, web.page())
            downloads = (rng.random() < 0.35) + (rng.random() < 0.1) if engaged else 0
            downloads += rng.random() < 0.15
            for _ in range(downloads):
                source = known[bisect_left(known_cum, rng.random() * known_cum[-1])]
                t = c.appear + rng.random() * span
                url = rng.choice(names.DOWNLOADS)
                event(EventType.DOWNLOAD, t, rng.choice(c.contacts), source, url)
        for contact, t in self.inquired.items():
            source = rng.choice(INQUIRY_SOURCES.get(contacts[contact][10], ("direct", "email")))
            if rng.random() < P_PRICING_FIRST:  # not known to the website until the form
                event(EventType.VISIT, t - rng.uniform(60, 1800), None, source, "/pricing")
            for follow_up in (False, True):
                if follow_up:
                    if rng.random() >= P_FOLLOW_UP:
                        break
                    t += rng.uniform(7, 120) * DAY
                    source = rng.choice(("direct", "email"))
                if rng.random() < P_FORM_FILL:
                    event(EventType.FORM_FILL, t, contact, source, rng.choice(names.INQUIRY_FORMS))
                else:
                    event(EventType.INQUIRY, t, contact, source, "")
        for _ in range(round(self.size.visits * P_STRANGER_INQUIRY)):
            t = web.time()
            if rng.random() < P_FORM_FILL:
                event(EventType.FORM_FILL, t, None, web.source(t), rng.choice(names.INQUIRY_FORMS))
            else:
                event(EventType.INQUIRY, t, None, web.source(t), "")
        for _ in range(round(self.size.visits * P_STRANGER_DOWNLOAD)):
            t = web.time()
            event(EventType.DOWNLOAD, t, None, web.source(t), rng.choice(names.DOWNLOADS))
        self.anonymous_visits(web)

    def anonymous_visits(self, web: _Website) -> None:
        """The bulk of the events, visits nobody can name: the phase's hot loop."""
        at = self.clock.at
        rows = self.tables["marketing_events"].rows
        ids = self.ids["marketing_events"]
        by = self.marketer_id
        months = self.visits_by_month
        visit = EventType.VISIT
        total = self.size.visits
        for i in range(total):
            if i % 20_000 == 0:
                self.report("Website visits", i, total)
            t = web.time()
            when = at(t)
            source = web.source(t)
            month = date(when.year, when.month, 1)
            months[month] = months.get(month, 0) + 1
            rows.append(
                (next(ids), visit, when, "", None, None, web.campaign(source, when), source,
                 web.page(), when + RECEIVED_LAG, by)
            )  # fmt: skip
        self.report("Website visits", total, total)

    def stranger(self) -> str:
        """The address of someone no contact is: a student, a job seeker, a future lead."""
        rng = self.rng
        first, last = _ascii(rng.choice(names.FIRST_NAMES)), _ascii(rng.choice(names.LAST_NAMES))
        return f"{first}.{last}{rng.randint(1, 99)}@{rng.choice(names.MAIL_PROVIDERS)}"

    # --- the scorecard's own entries ----------------------------------------------------

    def scorecard_entries(self) -> None:
        """The demo's hand-entered and pushed metrics with their history of entries."""
        rng = self.rng
        now = self.clock.now
        this_month = date(now.year, now.month, 1)
        referrals: dict[date, int] = {}
        for deal in self.deals:
            if deal.channel in (Channel.REFERRAL, Channel.PARTNER):
                created = self.clock.at(deal.created)
                month = date(created.year, created.month, 1)
                referrals[month] = referrals.get(month, 0) + 1
        values = self.tables["metric_values"].rows
        for position, metric in enumerate(DEMO_METRICS, start=50):
            metric_id = self.take_id("metrics")
            owner = self.user_ids[metric.owner]
            self.tables["metrics"].rows.append(
                (metric_id, metric.key, metric.name, metric.stage, Unit.COUNT, owner,
                 metric.capture_method, metric.description, position)
            )  # fmt: skip
            manual = metric.capture_method == CaptureMethod.MANUAL
            entered: list[tuple[date, int, datetime]] = []
            for back in range(metric.months, 0, -1):
                month = _month_add(this_month, -back)
                start = datetime.combine(_month_add(month, 1), time(), UTC)
                if manual:  # in the first days of the next month, in office hours
                    value = round(0.7 * referrals.get(month, 0) + rng.uniform(1, 5))
                    at = start + timedelta(
                        days=rng.randint(1, 4), hours=rng.randint(8, 17), minutes=rng.randint(0, 59)
                    )
                else:  # the mailing tool pushes last month's count in the night
                    value = round(0.04 * self.visits_by_month.get(month, 0) * rng.uniform(0.8, 1.2))
                    at = start + timedelta(hours=2, minutes=rng.randint(0, 59))
                if at < now:
                    entered.append((month, value, at))
            source = ValueSource.MANUAL if manual else ValueSource.PUSHED
            for month, value, at in entered:
                values.append(
                    (self.take_id("metric_values"), metric_id, month, Decimal(value), source,
                     owner, at, "")
                )  # fmt: skip
            if not manual:
                continue
            for (month, value, at), note in zip(
                rng.sample(entered, min(CORRECTIONS, len(entered))),
                names.REFERRAL_MEETING_NOTES,
                strict=False,
            ):
                corrected = max(0, value + rng.choice((-2, -1, 1, 2, 3)))
                at += timedelta(days=rng.randint(2, 9))
                if at < now:
                    values.append(
                        (self.take_id("metric_values"), metric_id, month, Decimal(corrected),
                         source, owner, at, note)
                    )  # fmt: skip


def _decision_maker(linked: Mapping[int, str], main: int) -> int:
    """The decision maker on the deal if there is one, else the contact it started with."""
    for contact, role in linked.items():
        if role == BuyingRole.DECISION_MAKER:
            return contact
    return main


def _can_evidence(criterion: Criterion) -> bool:
    """Whether the simulation logs evidence for a criterion; a move overrides the others."""
    if isinstance(criterion, FieldsCriterion):
        return set(criterion.fields) <= FILLED_FIELDS
    return isinstance(criterion, ActivityCriterion | ChecklistCriterion | ContactRoleCriterion)


def demo_simulate(
    *, world: World, size: str, seed: int, today: date, progress: Progress | None = None
) -> DemoRows:
    """The whole demo business as rows, the same for the same world, size, seed and today."""
    if size not in SIZES:
        raise ValueError(f"unknown demo size {size!r} (known: {', '.join(SIZES)})")
    simulation = _Simulation(
        world=world, size=SIZES[size], seed=seed, today=today, progress=progress
    )
    return simulation.run()
