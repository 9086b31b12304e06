"""The library's reports: usage, the unused pieces, the gaps, and effectiveness.

A period is [start, end): aware datetimes; a month is a calendar month in Keel's time
zone. Each report is a fixed number of aggregate queries, whatever the size of the
library or the number of months:

usage           uses (CollateralUse rows) whose `at` is in the period, counted by piece,
                by the stage name recorded on the use, by the person who used it (`by`)
                and by month: four grouped counts.
unused          pieces active now with no use in the last `days` days before `now`, and
                their share of the active library: a count of the active pieces, a count
                of the unused ones, and the first `limit` of them with their last use ever.
gaps            the stages (neither lost) of the current version of each active process,
                and their buyer steps, each with the number of active pieces that serve
                it by name (case and outer spaces ignored); one with none is a gap. Plus
                the unanswered requests (open, accepted, in progress) by buyer step.
effectiveness   see `collateral_effectiveness`.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import TruncMonth
from django.db.models.lookups import GreaterThan
from django.utils import timezone

from keel.collateral.models import (
    Collateral,
    CollateralRequest,
    CollateralUse,
    RequestStatus,
    Status,
)
from keel.pipeline.models import DealStatus, ProcessVersion, Stage, StageChange, StageKind

UNRESOLVED = (RequestStatus.OPEN, RequestStatus.ACCEPTED, RequestStatus.IN_PROGRESS)
DEFAULT_UNUSED_DAYS = 90
SMALL_SAMPLE = 10  # fewer deals than this on either side: too few to read anything into
ASSOCIATION_WARNING = (
    "These figures show an association, not proof: deals that were sent a piece may differ "
    "in other ways (the salesperson, the buyer, the deal's size) from deals that were not, "
    "and those differences, not the piece, may explain the gap."
)


def _percent(part: int, whole: int) -> int | None:
    return None if whole == 0 else round(100 * part / whole)


def _person(row: dict[str, Any]) -> str:
    return f"{row['by__first_name']} {row['by__last_name']}".strip() or row["by__username"]


def _key(name: str) -> str:
    return name.strip().casefold()


# --- usage ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    """One line of a usage table: what (a label, and a piece's or person's id) and how many."""

    label: str
    count: int
    pk: int | None = None


@dataclass
class Usage:
    start: datetime
    end: datetime
    total: int
    by_piece: list[Tally]
    by_stage: list[Tally]
    by_person: list[Tally]
    by_month: list[tuple[date, int]]


def collateral_usage(*, start: datetime, end: datetime, limit: int = 50) -> Usage:
    """The uses in [start, end), by piece and by person (the `limit` most used of each), by
    stage and by month (every one with a use; months in Keel's time zone)."""
    uses = CollateralUse.objects.filter(at__gte=start, at__lt=end).order_by()
    pieces = (
        uses.values("collateral", "collateral__title")
        .annotate(n=Count("id"))
        .order_by("-n", "collateral__title", "collateral")[:limit]
    )
    stages = uses.values("stage").annotate(n=Count("id")).order_by("-n", "stage")
    people = (
        uses.values("by", "by__first_name", "by__last_name", "by__username")
        .annotate(n=Count("id"))
        .order_by("-n", "by__username")[:limit]
    )
    zone = timezone.get_default_timezone()
    months = (
        uses.annotate(month=TruncMonth("at", tzinfo=zone))
        .values("month")
        .annotate(n=Count("id"))
        .order_by("month")
    )
    by_month = [(_as_date(row["month"]), row["n"]) for row in months]
    return Usage(
        start=start,
        end=end,
        total=sum(n for _, n in by_month),
        by_piece=[Tally(r["collateral__title"], r["n"], r["collateral"]) for r in pieces],
        by_stage=[Tally(r["stage"] or "(no stage)", r["n"]) for r in stages],
        by_person=[Tally(_person(r), r["n"], r["by"]) for r in people],
        by_month=by_month,
    )


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


# --- unused --------------------------------------------------------------------------------


@dataclass
class Unused:
    days: int
    since: datetime
    active: int
    unused: int
    pieces: Sequence[Collateral]  # the first `limit`, never used first, then the longest unused

    @property
    def percent(self) -> int | None:
        return _percent(self.unused, self.active)

    @property
    def sentence(self) -> str:
        if self.active == 0:
            return "There are no active pieces in the library."
        return (
            f"{self.unused} of {self.active} active pieces ({self.percent}%) were not used "
            f"in the last {self.days} days."
        )


def collateral_unused(
    *, days: int = DEFAULT_UNUSED_DAYS, now: datetime | None = None, limit: int = 50
) -> Unused:
    """Active pieces (active now, whatever their age) with no use in [now - days, now).

    Each listed piece carries `last_used_at`, its latest use ever (None: never used).
    """
    now = now or timezone.now()
    since = now - timedelta(days=days)
    active = Collateral.objects.filter(status=Status.ACTIVE).order_by()
    recent = CollateralUse.objects.filter(collateral=OuterRef("pk"), at__gte=since, at__lt=now)
    unused = active.filter(~Exists(recent))
    last = CollateralUse.objects.filter(collateral=OuterRef("pk")).order_by("-at").values("at")[:1]
    pieces = list(
        unused.annotate(last_used_at=Subquery(last)).order_by(
            F("last_used_at").asc(nulls_first=True), "title", "id"
        )[:limit]
    )
    return Unused(
        days=days, since=since, active=active.count(), unused=unused.count(), pieces=pieces
    )


# --- gaps ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Need:
    """A stage or buyer step of a current process, and the active pieces serving it."""

    name: str
    processes: tuple[str, ...]
    pieces: int
    requests: int = 0  # unanswered requests for it (buyer steps only)

    @property
    def is_gap(self) -> bool:
        return self.pieces == 0


@dataclass(frozen=True)
class AskedStep:
    buyer_step: str
    open: int
    accepted: int
    in_progress: int

    @property
    def total(self) -> int:
        return self.open + self.accepted + self.in_progress


@dataclass
class Gaps:
    stages: list[Need]
    buyer_steps: list[Need]
    requests: list[AskedStep] = field(default_factory=list)

    @property
    def stage_gaps(self) -> list[Need]:
        return [n for n in self.stages if n.is_gap]

    @property
    def buyer_step_gaps(self) -> list[Need]:
        return [n for n in self.buyer_steps if n.is_gap]


def current_stages() -> QuerySet[Stage]:
    """The stages of the newest version of every active process, in one query."""
    newest = (
        ProcessVersion.objects.filter(process=OuterRef("version__process"))
        .order_by("-number")
        .values("pk")[:1]
    )
    return Stage.objects.filter(
        version__process__is_active=True, version_id=Subquery(newest)
    ).order_by("version__process__name", "position")


def collateral_gaps() -> Gaps:
    """Stages and buyer steps no active piece serves, and what sales asked for by step.

    Three queries: the current stages, the active pieces' stage and step names (the
    library's size bounds it: the names are JSON lists, matched here), the requests.
    """
    rows = (
        current_stages()
        .exclude(kind=StageKind.LOST)
        .values_list("name", "buyer_step", "version__process__name")
    )
    stage_names: dict[str, tuple[str, list[str]]] = {}
    step_names: dict[str, tuple[str, list[str]]] = {}
    for name, step, process in rows:
        stage_names.setdefault(_key(name), (name, []))[1].append(process)
        if step.strip():
            step_names.setdefault(_key(step), (step.strip(), []))[1].append(process)
    served_stages: Counter[str] = Counter()
    served_steps: Counter[str] = Counter()
    pieces = Collateral.objects.filter(status=Status.ACTIVE).values_list("stages", "buyer_steps")
    for stages, steps in pieces:
        served_stages.update({_key(s) for s in stages or [] if isinstance(s, str)})
        served_steps.update({_key(s) for s in steps or [] if isinstance(s, str)})
    asked = (
        CollateralRequest.objects.filter(status__in=UNRESOLVED)
        .values("buyer_step")
        .annotate(
            open=Count("id", filter=Q(status=RequestStatus.OPEN)),
            accepted=Count("id", filter=Q(status=RequestStatus.ACCEPTED)),
            in_progress=Count("id", filter=Q(status=RequestStatus.IN_PROGRESS)),
        )
        .order_by("buyer_step")
    )
    requests = [
        AskedStep(r["buyer_step"].strip(), r["open"], r["accepted"], r["in_progress"])
        for r in asked
    ]
    asked_by_step: Counter[str] = Counter()
    for r in requests:
        asked_by_step[_key(r.buyer_step)] += r.total
    return Gaps(
        stages=[
            Need(name, tuple(ps), served_stages[key]) for key, (name, ps) in stage_names.items()
        ],
        buyer_steps=[
            Need(name, tuple(ps), served_steps[key], asked_by_step[key])
            for key, (name, ps) in step_names.items()
        ],
        requests=requests,
    )


# --- effectiveness -------------------------------------------------------------------------


@dataclass(frozen=True)
class Cohort:
    """Deals that reached a stage: how many, how many closed, won, and went further."""

    deals: int
    closed: int
    won: int
    progressed: int

    @property
    def win_rate(self) -> int | None:
        """Won of the closed ones, in percent; None with none closed."""
        return _percent(self.won, self.closed)

    @property
    def progress_rate(self) -> int | None:
        return _percent(self.progressed, self.deals)

    def minus(self, other: "Cohort") -> "Cohort":
        return Cohort(
            self.deals - other.deals,
            self.closed - other.closed,
            self.won - other.won,
            self.progressed - other.progressed,
        )


@dataclass(frozen=True)
class Effect:
    piece_id: int
    title: str
    stage: str
    used: Cohort
    not_used: Cohort

    @property
    def small_sample(self) -> bool:
        return min(self.used.deals, self.not_used.deals) < SMALL_SAMPLE


@dataclass
class Effectiveness:
    start: datetime
    end: datetime
    rows: list[Effect]
    warning: str = ASSOCIATION_WARNING


def _furthest(deal_ref: str) -> Subquery:
    """The highest position among the deal's stage changes into stages not lost."""
    return Subquery(
        StageChange.objects.filter(deal=OuterRef(deal_ref))
        .exclude(to_stage__kind=StageKind.LOST)
        .order_by()
        .values("deal")
        .annotate(top=Max("to_stage__position"))
        .values("top"),
        output_field=IntegerField(),
    )


def _cohort_measures(position: Any) -> dict[str, Count]:
    closed = Q(deal__status__in=(DealStatus.WON, DealStatus.LOST))
    return {
        "deals": Count("deal", distinct=True),
        "closed": Count("deal", distinct=True, filter=closed),
        "won": Count("deal", distinct=True, filter=Q(deal__status=DealStatus.WON)),
        "progressed": Count("deal", distinct=True, filter=GreaterThan(_furthest("deal"), position)),
    }


def _cohort(row: dict[str, Any]) -> Cohort:
    return Cohort(row["deals"], row["closed"], row["won"], row["progressed"])


def collateral_effectiveness(*, start: datetime, end: datetime, limit: int = 50) -> Effectiveness:
    """For each piece and each stage it was used in, deals that reached that stage in the
    period, split by whether the piece was used in that stage.

    What counts, exactly:

    - a deal *reached* stage S in the period when it has a stage change into a stage named
      S with `at` in [start, end) (moving back into S counts once: deals are counted
      distinct);
    - *used* is a deal that reached S in the period and has a use of the piece recorded
      with stage S (at any time); *not used* is every other deal that reached S in the
      period, including one sent the piece only in another stage;
    - *closed* is a deal won or lost now; the *win rate* is won ÷ closed, so open deals do
      not drag it down (None with none closed);
    - *progressed* is a deal that has ever moved into a stage, not lost, with a higher
      position than the stage S it reached (a won deal has);
    - rows are the (piece, stage) pairs with the most used deals, at most `limit`.

    Two aggregate queries: the deals reaching each stage, the deals using each piece there.
    """
    reached = (
        StageChange.objects.filter(at__gte=start, at__lt=end)
        .exclude(to_stage__kind=StageKind.LOST)
        .values("to_stage__name")
        .annotate(**_cohort_measures(F("to_stage__position")))
        .order_by()
    )
    by_stage = {row["to_stage__name"]: _cohort(row) for row in reached}
    reach = StageChange.objects.filter(
        deal=OuterRef("deal"), to_stage__name=OuterRef("stage"), at__gte=start, at__lt=end
    )
    position = Subquery(
        StageChange.objects.filter(deal=OuterRef("deal"), to_stage__name=OuterRef("stage"))
        .order_by("at", "id")
        .values("to_stage__position")[:1],
        output_field=IntegerField(),
    )
    used = (
        CollateralUse.objects.filter(deal__isnull=False)
        .exclude(stage="")
        .filter(Exists(reach))
        .values("collateral", "collateral__title", "stage")
        .annotate(**_cohort_measures(position))
        .order_by("-deals", "collateral__title", "collateral", "stage")[:limit]
    )
    rows = []
    for row in used:
        with_it = _cohort(row)
        everyone = by_stage.get(row["stage"], with_it)
        rows.append(
            Effect(
                piece_id=row["collateral"],
                title=row["collateral__title"],
                stage=row["stage"],
                used=with_it,
                not_used=everyone.minus(with_it),
            )
        )
    return Effectiveness(start=start, end=end, rows=rows)
