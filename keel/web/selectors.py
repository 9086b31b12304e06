from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, F, QuerySet, Sum
from django.utils import timezone

from keel.accounts.models import User
from keel.activities.models import Activity, Task
from keel.forecast.stall_rules import Reason
from keel.forecast.stall_selectors import (
    StalledDeal,
    StallThresholds,
    my_stalled,
    stall_marks,
    stall_thresholds,
)
from keel.forecast.win_rules import WinScore
from keel.forecast.win_selectors import win_probabilities
from keel.pipeline.models import Deal, DealStatus, SalesProcess, Stage, StageKind
from keel.pipeline.selectors import process_current_version, version_stages

CARDS_PER_COLUMN = 20


@dataclass
class Card:
    deal: Deal
    next_task: Task | None = None
    stall: list[Reason] = field(default_factory=list)  # why it is stalled; [] when moving
    win: WinScore | None = None  # its chance to be won

    @property
    def stall_text(self) -> str:
        return " · ".join(reason.text for reason in self.stall)

    @property
    def win_text(self) -> str:
        """The chance to win with what moves it most, for the card's tooltip."""
        if self.win is None:
            return ""
        why = [factor.text for factor in self.win.factors] or (
            [self.win.note] if self.win.note else []
        )
        return f"{self.win.percent}% chance to win" + (": " + "; ".join(why) if why else "")


@dataclass
class Column:
    stage: Stage
    count: int = 0
    total: Decimal = Decimal(0)
    cards: list[Card] = field(default_factory=list)
    move_options: str = ""  # the <option>s of a card's move menu, rendered once per column

    @property
    def weighted(self) -> Decimal:
        return self.total * self.stage.probability / 100

    @property
    def more(self) -> int:
        return self.count - len(self.cards)


@dataclass
class Board:
    process: SalesProcess
    columns: list[Column]
    outcomes: list[Stage]  # the won and lost stages a card can also be moved to

    @property
    def count(self) -> int:
        return sum(c.count for c in self.columns)

    @property
    def total(self) -> Decimal:
        return sum((c.total for c in self.columns), Decimal(0))

    @property
    def weighted(self) -> Decimal:
        return sum((c.weighted for c in self.columns), Decimal(0))


def pipeline_board(
    *,
    process: SalesProcess,
    deals: QuerySet[Deal],
    now: datetime | None = None,
    stalls: StallThresholds | None = None,
) -> Board | None:
    """The open pipeline of a process: per stage the count, total, weighted total, top deals
    with their chance to win, and (given the stall thresholds) why each card shown is
    stalled.

    How many of a column are stalled takes a look at every open deal's latest activity,
    so the board loads those counts after the page (forecast.stall_views.stalled_counts).
    """
    version = process_current_version(process=process)
    if version is None:
        return None
    stages = version_stages(version.pk)
    columns = [Column(stage=s) for s in stages if s.kind == StageKind.OPEN]
    open_deals = deals.filter(process=process, status=DealStatus.OPEN)
    totals = open_deals.values("stage_id").annotate(n=Count("id"), total=Sum("amount")).order_by()
    by_stage = {row["stage_id"]: row for row in totals}
    for column in columns:
        row = by_stage.get(column.stage.pk)
        if row is None:
            continue
        column.count, column.total = row["n"], row["total"] or Decimal(0)
        top = open_deals.filter(stage=column.stage).select_related("company", "owner", "stage")
        column.cards = [Card(deal) for deal in top.order_by("-amount", "id")[:CARDS_PER_COLUMN]]
    cards = {card.deal.pk: card for column in columns for card in column.cards}
    tasks = Task.objects.filter(deal_id__in=cards, done_at__isnull=True).order_by("due_at", "id")
    for task in tasks:  # a handful per deal: the plan steps of its current stage
        card = cards[task.deal_id]  # type: ignore[index]
        card.next_task = card.next_task or task
    shown = [card.deal for card in cards.values()]
    if stalls is not None:
        marks = stall_marks(deals=shown, thresholds=stalls, now=now or timezone.now())
        for pk, card in cards.items():
            card.stall = marks[pk]
    # The column shows the stage's probability: a card shows only a learned one.
    for pk, score in win_probabilities(deals=shown, now=now, defaults=False).items():
        cards[pk].win = score
    outcomes = [s for s in stages if s.kind != StageKind.OPEN]
    return Board(process=process, columns=columns, outcomes=outcomes)


@dataclass
class Day:
    """A person's day: what is due, which deals to close, what they did lately."""

    tasks: list[Task]  # overdue and due today, oldest first
    later: int  # open tasks due after today
    deals: list[Deal]  # their open deals, by expected close
    activities: list[Activity]
    stalled: list[StalledDeal] = field(default_factory=list)  # theirs, longest in stage first
    stalled_total: int = 0


def my_day(*, user: User, now: datetime, limit: int = 25) -> Day:
    end_of_day = timezone.localtime(now).replace(hour=23, minute=59, second=59)
    open_tasks = Task.objects.filter(owner=user, done_at__isnull=True)
    tasks = (
        open_tasks.filter(due_at__lte=end_of_day)
        .select_related("deal", "company", "owner")
        .order_by("due_at", "id")[:limit]
    )
    deals = (
        Deal.objects.filter(owner=user, status=DealStatus.OPEN)
        .select_related("company", "stage")
        .order_by(F("expected_close").asc(nulls_last=True), "id")[:limit]
    )
    activities = (
        Activity.objects.filter(by=user).select_related("deal", "contact", "company")
    ).order_by("-at", "-id")[:15]
    stalled, stalled_total = my_stalled(user=user, thresholds=stall_thresholds(now=now), now=now)
    return Day(
        tasks=list(tasks),
        later=open_tasks.filter(due_at__gt=end_of_day).count(),
        deals=list(deals),
        activities=list(activities),
        stalled=stalled,
        stalled_total=stalled_total,
    )
