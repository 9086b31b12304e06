from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum

from keel.pipeline.models import Deal, DealStatus, SalesProcess, Stage, StageKind
from keel.pipeline.selectors import process_current_version

CARDS_PER_COLUMN = 20


@dataclass
class Column:
    stage: Stage
    count: int = 0
    total: Decimal = Decimal(0)
    cards: list[Deal] = field(default_factory=list)

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
    columns = [Column(stage=s) for s in version.stages.filter(kind=StageKind.OPEN)]
    open_deals = deals.filter(process=process, status=DealStatus.OPEN)
    totals = open_deals.values("stage_id").annotate(n=Count("id"), total=Sum("amount")).order_by()
    by_stage = {row["stage_id"]: row for row in totals}
    for column in columns:
        row = by_stage.get(column.stage.pk)
        if row is None:
            continue
        column.count, column.total = row["n"], row["total"] or Decimal(0)
        column.cards = list(
            open_deals.filter(stage=column.stage)
            .select_related("company", "owner")
            .order_by("-amount", "id")[:CARDS_PER_COLUMN]
        )
    return Board(process=process, columns=columns)
