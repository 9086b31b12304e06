"""Reads of the hand-offs: who sees which, each one's first-touch state, the breaches,
and marketing's feedback per campaign and source.

A hand-off is answered when its first-touch task is done (logging a touch with the
contact closes it) or when sales rejects it. Its state:

    unassigned  no rule could place it; a manager has not either
    on time     answered by its deadline
    late        answered after its deadline                     } a breach
    overdue     not answered, and its deadline has passed       }
    due         not answered, its deadline still ahead

The feedback counts the hand-offs made in a period, by the campaign and source of the
lead's last touch: how many sales accepted, rejected (and why), left waiting, converted
(a deal opened with the lead, or with its company, after the hand-off) and won.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)

from keel.accounts.models import Role, User
from keel.accounts.permissions import MANAGING_ROLES
from keel.leads.models import Handoff, HandoffStatus, RejectReason
from keel.pipeline.models import Deal, DealContact, DealStatus

STATES = {
    "unassigned": "Unassigned",
    "on_time": "On time",
    "late": "Late",
    "overdue": "Overdue",
    "due": "Due",
}
BREACHES = ("late", "overdue")


def handoffs_visible(user: User) -> QuerySet[Handoff]:
    """The owner and marketing see every hand-off; a sales manager their team's and the
    unassigned ones (theirs to place); anyone else the leads handed to them."""
    handoffs = Handoff.objects.all()
    if not user.is_active:
        return handoffs.none()
    if user.is_superuser or user.role in {Role.OWNER, Role.MARKETER}:
        return handoffs
    if user.role in MANAGING_ROLES and user.team_id is not None:
        return handoffs.filter(
            Q(owner__team_id=user.team_id) | Q(owner__isnull=True) | Q(owner=user)
        )
    return handoffs.filter(owner=user)


def with_state(handoffs: QuerySet[Handoff], now: datetime) -> QuerySet[Handoff]:
    """Each hand-off's `answered_at` and `state` (see the module's table)."""
    # The first touch if there was one (even when sales rejected the lead later), else
    # the rejection. Not Least(): PostgreSQL skips a NULL there, SQLite returns NULL.
    answered = Case(
        When(task__done_at__isnull=False, then=F("task__done_at")),
        When(status=HandoffStatus.REJECTED, then=F("decided_at")),
    )
    return handoffs.annotate(answered_at=answered).annotate(
        state=Case(
            When(owner__isnull=True, then=Value("unassigned")),
            When(answered_at__isnull=False, answered_at__lte=F("due_at"), then=Value("on_time")),
            When(answered_at__isnull=False, then=Value("late")),
            When(due_at__lt=now, then=Value("overdue")),
            default=Value("due"),
            output_field=CharField(),
        )
    )


@dataclass(frozen=True)
class Tally:
    handed: int
    states: dict[str, int]
    accepted: int
    rejected: int
    pending: int

    @property
    def breaches(self) -> int:
        return sum(self.states.get(s, 0) for s in BREACHES)


def handoff_tally(handoffs: QuerySet[Handoff], now: datetime) -> Tally:
    """The hand-offs' counts by state and by verdict, in one query."""
    row = with_state(handoffs, now).aggregate(
        handed=Count("id"),
        accepted=Count("id", filter=Q(status=HandoffStatus.ACCEPTED)),
        rejected=Count("id", filter=Q(status=HandoffStatus.REJECTED)),
        pending=Count("id", filter=Q(status=HandoffStatus.PENDING)),
        **{f"s_{key}": Count("id", filter=Q(state=key)) for key in STATES},
    )
    return Tally(
        handed=row["handed"],
        states={key: row[f"s_{key}"] for key in STATES},
        accepted=row["accepted"],
        rejected=row["rejected"],
        pending=row["pending"],
    )


@dataclass
class FeedbackRow:
    campaign: str
    source: str
    handed: int = 0
    accepted: int = 0
    rejected: int = 0
    pending: int = 0
    converted: int = 0
    won: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def reasons_words(self) -> list[tuple[str, int]]:
        labels = dict(RejectReason.choices)
        return sorted(
            ((str(labels.get(r, r)), n) for r, n in self.reasons.items()), key=lambda x: -x[1]
        )

    @property
    def acceptance(self) -> float | None:
        decided = self.accepted + self.rejected
        return round(100 * self.accepted / decided, 1) if decided else None


def _deals_after(**status: object) -> Q:
    """A deal opened after the hand-off with the lead, or with the lead's company."""
    with_contact = DealContact.objects.filter(
        contact=OuterRef("contact"),
        deal__created_at__gte=OuterRef("at"),
        **{f"deal__{k}": v for k, v in status.items()},
    )
    with_company = Deal.objects.filter(
        company=OuterRef("contact__company"), created_at__gte=OuterRef("at"), **status
    )
    return Q(Exists(with_contact)) | Q(Exists(with_company))


def handoff_feedback(*, start: datetime, end: datetime) -> list[FeedbackRow]:
    """Each campaign and source's hand-offs in [start, end): verdicts and what came of them."""
    handoffs = Handoff.objects.filter(at__gte=start, at__lt=end)
    rows = (
        handoffs.values("campaign", "source")
        .annotate(
            handed=Count("id"),
            accepted=Count("id", filter=Q(status=HandoffStatus.ACCEPTED)),
            rejected=Count("id", filter=Q(status=HandoffStatus.REJECTED)),
            pending=Count("id", filter=Q(status=HandoffStatus.PENDING)),
            converted=Count("id", filter=_deals_after()),
            won=Count("id", filter=_deals_after(status=DealStatus.WON)),
        )
        .order_by("campaign", "source")
    )
    table = {(r["campaign"], r["source"]): FeedbackRow(**r) for r in rows}
    reasons = (
        handoffs.filter(status=HandoffStatus.REJECTED)
        .values_list("campaign", "source", "reason")
        .annotate(n=Count("id"))
        .order_by()
    )
    for campaign, source, reason, n in reasons:
        table[(campaign, source)].reasons[reason] = n
    return sorted(table.values(), key=lambda r: (-r.handed, r.campaign, r.source))
