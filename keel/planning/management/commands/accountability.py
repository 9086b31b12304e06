"""The three questions for one person: what's my job, what counts, how am I doing."""

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, Q, Sum
from django.utils import timezone
from rich.console import Console
from rich.table import Table

from keel.accounts.models import User
from keel.pipeline.models import Deal, DealStatus
from keel.planning.measure import target_progress
from keel.planning.models import Goal, Occurrence, Shape, Tactic
from keel.planning.rules import Sla
from keel.planning.sla import (
    STATE,
    SlaCounts,
    goal_progress,
    occurrences_judged,
    sla_by_tactic,
    sla_trend,
)
from keel.scorecard import rules as scorecard_rules
from keel.scorecard.models import Goal as MetricGoal
from keel.scorecard.models import Metric
from keel.scorecard.selectors import month_bounds

DUE_LIMIT = 20  # the work due or late shown, soonest first
MISSING = "—"


def _pct(value: Decimal | None) -> str:
    return MISSING if value is None else f"{value * 100:.0f}%"


def _num(value: Decimal | None) -> str:
    return MISSING if value is None else f"{value.normalize():,f}"


@dataclass(frozen=True)
class Report:
    person: User
    month: date
    job: list[dict[str, Any]]
    due: list[dict[str, Any]]
    metrics: list[dict[str, Any]]
    goals: list[dict[str, Any]]
    targets: list[dict[str, Any]]
    sla: list[dict[str, Any]]
    trend: list[dict[str, Any]]
    pipeline: dict[str, Any]


def _counts(counts: SlaCounts) -> dict[str, Any]:
    return {s.value: getattr(counts, s.value) for s in Sla} | {
        "on_time_rate": None if counts.on_time_rate is None else str(counts.on_time_rate)
    }


def _tactics(person: User) -> list[Tactic]:
    mine = Q(person=person) | Q(role=person.role, person__isnull=True)
    return list(
        Tactic.objects.filter(mine, is_active=True, plan__is_active=True)
        .select_related("plan__strategy")
        .prefetch_related("plan__strategy__goals")
        .order_by("plan__name", "position", "name")
    )


def _win_rate(person: User, year: int) -> dict[str, Any]:
    zone = timezone.get_default_timezone()
    start = datetime(year, 1, 1, tzinfo=zone)
    closed = Deal.objects.filter(
        owner=person, closed_at__gte=start, closed_at__lt=start.replace(year=year + 1)
    ).aggregate(
        won=Count("pk", filter=Q(status=DealStatus.WON)),
        lost=Count("pk", filter=Q(status=DealStatus.LOST)),
    )
    decided = closed["won"] + closed["lost"]
    rate = None if decided == 0 else Decimal(closed["won"]) / Decimal(decided)
    return {"year": year, "won": closed["won"], "lost": closed["lost"], "win_rate": rate}


def report(*, person: User, month: date, now: datetime) -> Report:
    start, end = month_bounds(month)
    tactics = _tactics(person)
    job = [
        {
            "tactic": t.name,
            "shape": t.shape,
            "plan": t.plan.name,
            "strategy": t.plan.strategy.name,
            "goals": [g.name for g in t.plan.strategy.goals.all()],
        }
        for t in tactics
    ]
    open_work = (
        occurrences_judged(occurrences=Occurrence.objects.filter(person=person), now=now)
        .filter(**{f"{STATE}__in": [Sla.OVERDUE, Sla.OPEN]}, due_at__lte=now + timedelta(days=7))
        .order_by("due_at", "id")
        .values_list("tactic__name", "due_at", STATE)[:DUE_LIMIT]
    )
    due = [
        {"tactic": name, "due_at": due_at.isoformat(), "state": state}
        for name, due_at, state in open_work
    ]
    year = month.year
    owned = list(Metric.objects.filter(owner=person, is_active=True))
    targets_by_metric = dict(
        MetricGoal.objects.filter(metric__in=owned, year=year).values_list("metric_id", "target")
    )
    metrics = [
        {"metric": m.name, "key": m.key, "year": year, "target": targets_by_metric.get(m.pk)}
        for m in owned
    ]
    goals = []
    for goal in Goal.objects.filter(Q(owner=person) | Q(metric__owner=person)).select_related(
        "metric"
    ):
        progress = goal_progress(goal=goal, today=timezone.localtime(now).date())
        goals.append(
            {
                "goal": goal.name,
                "target": goal.target,
                "unit": goal.unit,
                "actual": progress.actual,
                "expected": progress.expected,
                "pace": progress.pace.value,
            }
        )
    targets = []
    for tactic in tactics:
        if tactic.shape == Shape.TARGET:
            p = target_progress(tactic=tactic, person=person, now=now)
            targets.append(
                {
                    "tactic": tactic.name,
                    "count": p.count,
                    "target": p.target,
                    "expected": p.expected,
                    "pace": p.pace.value,
                }
            )
    sla = [
        {"tactic": row.tactic.name} | _counts(row.counts)
        for row in sla_by_tactic(start=start, end=end, now=now, person=person)
    ]
    trend = [
        {"month": m.isoformat()[:7]} | _counts(c)
        for m, c in sla_trend(through=month, now=now, months=4, person=person).items()
    ]
    open_deals = Deal.objects.filter(owner=person, status=DealStatus.OPEN)
    amounts = open_deals.order_by().values("currency").annotate(amount=Sum("amount"))
    pipeline = {
        "open_deals": open_deals.count(),
        "open_amount": {row["currency"]: row["amount"] or Decimal(0) for row in amounts},
        "this_year": _win_rate(person, year),
        "last_year": _win_rate(person, year - 1),
    }
    return Report(person, month, job, due, metrics, goals, targets, sla, trend, pipeline)


class Command(BaseCommand):
    help = "The three questions for a person: what's my job, what counts, how am I doing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--person", required=True, help="Their username.")
        parser.add_argument("--month", required=True, help="The month, as YYYY-MM.")
        parser.add_argument("--format", choices=("table", "json"), default="table")

    def handle(self, *args: Any, **options: Any) -> None:
        person = User.objects.filter(username__iexact=options["person"].strip()).first()
        if person is None:
            raise CommandError(f"There is no user {options['person']!r} (give their username).")
        try:
            month = scorecard_rules.month_parse(options["month"])
        except ValueError as error:
            raise CommandError(f"--month: {error}") from None
        found = report(person=person, month=month, now=timezone.now())
        output = self._json(found) if options["format"] == "json" else self._table(found)
        self.stdout.write(output, ending="")

    def _json(self, r: Report) -> str:
        data = {
            "person": r.person.username,
            "role": r.person.role,
            "month": r.month.isoformat()[:7],
            "job": r.job,
            "due": r.due,
            "metrics": r.metrics,
            "goals": r.goals,
            "targets": r.targets,
            "sla": r.sla,
            "trend": r.trend,
            "pipeline": r.pipeline,
        }
        return json.dumps(data, indent=2, default=str) + "\n"

    def _table(self, r: Report) -> str:
        text = StringIO()
        console = Console(file=text, width=160)
        name = r.person.get_full_name() or r.person.username
        console.print(f"Accountability {r.month:%B %Y} · {name} ({r.person.get_role_display()})")
        job = Table(
            "Tactic",
            "Shape",
            "Plan",
            "Strategy",
            "Goals",
            title="What's my job",
            title_justify="left",
        )
        for row in r.job:
            job.add_row(
                row["tactic"], row["shape"], row["plan"], row["strategy"], ", ".join(row["goals"])
            )
        if not r.job:
            job.add_row("(no tactics)", "", "", "", "")
        console.print(job)
        due = Table(
            "Tactic", "Due", "State", title="What counts: due and late now", title_justify="left"
        )
        for row in r.due:
            due.add_row(
                row["tactic"],
                row["due_at"][:16],
                row["state"],
                style="red" if row["state"] == Sla.OVERDUE else None,
            )
        if not r.due:
            due.add_row("(nothing due)", "", "")
        console.print(due)
        owns = Table(
            "Metric / goal",
            "Target",
            "So far",
            "Pace mark",
            "Pace",
            title="What counts: my figures",
            title_justify="left",
        )
        for m in r.metrics:
            owns.add_row(f"{m['metric']} ({m['year']})", _num(m["target"]), "", "", "")
        for g in r.goals:
            owns.add_row(
                g["goal"],
                _num(g["target"]),
                _num(g["actual"]),
                _num(g["expected"].quantize(Decimal("0.1"))),
                g["pace"],
            )
        for t in r.targets:
            owns.add_row(
                t["tactic"],
                str(t["target"]),
                str(t["count"]),
                _num(t["expected"].quantize(Decimal("0.1"))),
                t["pace"],
            )
        console.print(owns)
        states = [s.value for s in Sla]
        sla = Table(
            "Tactic",
            *states,
            "On time",
            title=f"How am I doing: {r.month:%B %Y}",
            title_justify="left",
        )
        for row in r.sla:
            sla.add_row(
                row["tactic"],
                *(str(row[s]) for s in states),
                _pct(None if row["on_time_rate"] is None else Decimal(row["on_time_rate"])),
            )
        if not r.sla:
            sla.add_row("(no work due)", *[""] * (len(states) + 1))
        console.print(sla)
        trend = Table(
            "Month", *states, "On time", title="Against the 3 months before", title_justify="left"
        )
        for row in r.trend:
            rate = None if row["on_time_rate"] is None else Decimal(row["on_time_rate"])
            trend.add_row(row["month"], *(str(row[s]) for s in states), _pct(rate))
        console.print(trend)
        p = r.pipeline
        pipe = Table("Pipeline", "Figure", title="How am I doing: pipeline", title_justify="left")
        pipe.add_row("Open deals", str(p["open_deals"]))
        for currency, amount in sorted(p["open_amount"].items()):
            pipe.add_row(f"Open amount ({currency})", f"{amount:,}")
        for key in ("this_year", "last_year"):
            y = p[key]
            pipe.add_row(
                f"Win rate {y['year']}", f"{_pct(y['win_rate'])} ({y['won']} won, {y['lost']} lost)"
            )
        console.print(pipe)
        return text.getvalue()
