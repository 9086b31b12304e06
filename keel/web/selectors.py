from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum

from keel.activities.models import Task
from keel.pipeline.models import Deal, DealStatus, SalesProcess, Stage, StageKind
from keel.pipeline.selectors import process_current_version, version_stages

CARDS_PER_COLUMN = 20


@dataclass
class Card:
    deal: Deal
    next_task: Task | None = None


@dataclass
class Column:
    stage: Stage
    count: int = 0
    total: Decimal = Decimal(0)
    cards: list[Card] = field(default_factory=list)

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


def pipeline_board(*, process: SalesProcess, deals: QuerySet[Deal]) -> Board | None:
    """The open pipeline of a process: per stage the count, total, weighted total, top deals."""
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
        top = open_deals.filter(stage=column.stage).select_related("company", "owner")
        column.cards = [Card(deal) for deal in top.order_by("-amount", "id")[:CARDS_PER_COLUMN]]
    cards = {card.deal.pk: card for column in columns for card in column.cards}
    tasks = Task.objects.filter(deal_id__in=cards, done_at__isnull=True).order_by("due_at", "id")
    for task in tasks:  # a handful per deal: the plan steps of its current stage
        card = cards[task.deal_id]  # type: ignore[index]
        card.next_task = card.next_task or task
    outcomes = [s for s in stages if s.kind != StageKind.OPEN]
    return Board(process=process, columns=columns, outcomes=outcomes)
