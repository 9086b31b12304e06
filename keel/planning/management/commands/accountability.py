"""The three questions for one person: what's my job, what counts, how am I doing.

The same reading as the My job page (planning/job.py), as a table or as JSON.
"""

import json
from decimal import Decimal
from io import StringIO
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from rich.console import Console
from rich.table import Table

from keel.accounts.models import User
from keel.planning.job import Job, job
from keel.planning.rules import Sla
from keel.planning.sla import SlaCounts
from keel.scorecard import rules as scorecard_rules

MISSING = "—"
STATES = [s.value for s in Sla]


def _pct(value: Decimal | None) -> str:
    return MISSING if value is None else f"{value * 100:.0f}%"


def _num(value: Decimal | None) -> str:
    return MISSING if value is None else f"{value.normalize():,f}"


def _counts(counts: SlaCounts) -> dict[str, Any]:
    rate = counts.on_time_rate
    return {s: getattr(counts, s) for s in STATES} | {
        "on_time_rate": None if rate is None else str(rate)
    }


def as_data(j: Job) -> dict[str, Any]:
    """The reading as plain data, for JSON."""
    p = j.pipeline
    return {
        "person": j.person.username,
        "role": j.person.role,
        "time_zone": str(j.person.zone),
        "month": f"{j.month:%Y-%m}",
        "job": [
            {
                "tactic": row.tactic.name,
                "shape": row.tactic.shape,
                "asks": row.words,
                "done_when": row.done,
                "plan": row.tactic.plan.name,
                "strategy": row.tactic.plan.strategy.name,
                "goals": [g.name for g in row.goals],
            }
            for row in j.tactics
        ],
        "plan_steps_open": j.plan_steps_open,
        "due": [
            {"tactic": w.tactic, "due_at": w.due_at.isoformat(), "state": w.state.value}
            for w in (*j.late, *j.due)
        ],
        "metrics": [
            {"metric": m.metric.name, "key": m.metric.key, "year": j.month.year, "target": m.target}
            for m in j.metrics
        ],
        "goals": [
            {
                "goal": g.goal.name,
                "target": g.goal.target,
                "unit": g.goal.unit,
                "actual": g.actual,
                "expected": g.expected,
                "pace": g.pace.value,
            }
            for g in j.goals
        ],
        "targets": [
            {
                "tactic": t.tactic.name,
                "count": t.count,
                "target": t.target,
                "expected": t.expected,
                "pace": t.pace.value,
            }
            for t in j.targets
        ],
        "trade_off": j.trade_off.text if j.trade_off else None,
        "sla": [
            {"tactic": row.tactic.name, "on_track": row.on_track}
            | _counts(row.counts)
            | {"before_on_time_rate": _counts(row.before)["on_time_rate"]}
            for row in j.sla
        ],
        "trend": [{"month": f"{m:%Y-%m}"} | _counts(c) for m, c in j.trend.items()],
        "pipeline": {
            "open_deals": p.open_deals,
            "open_amount": p.open_amounts,
            "this_year": {"won": p.won_this_year, "lost": p.lost_this_year, "win_rate": p.win_rate},
            "last_year": {
                "won": p.won_last_year,
                "lost": p.lost_last_year,
                "win_rate": p.win_rate_last_year,
            },
        },
        "check_ins": [
            {
                "written_at": c.written_at.isoformat(),
                "by": str(c.author or ""),
                "text": c.text,
                "reply": c.reply,
            }
            for c in j.check_ins
        ],
    }


def _table(title: str, *columns: str) -> Table:
    return Table(*columns, title=title, title_justify="left")


def as_text(j: Job) -> str:
    text = StringIO()
    console = Console(file=text, width=160)
    name = j.person.get_full_name() or j.person.username
    console.print(f"Accountability {j.month:%B %Y} · {name} ({j.person.get_role_display()})")
    work = _table("What's my job", "Tactic", "What it asks", "Done when", "Strategy", "Goals")
    for asked in j.tactics:
        goals = ", ".join(g.name for g in asked.goals)
        strategy = asked.tactic.plan.strategy.name
        work.add_row(asked.tactic.name, asked.words, asked.done, strategy, goals)
    if not j.tactics:
        work.add_row("(no tactics)", "", "", "", "")
    console.print(work)
    console.print(f"Open completion-plan steps on their deals: {j.plan_steps_open}")
    due = _table("What counts: late, then due this week", "Tactic", "Due", "State")
    for w in (*j.late, *j.due):
        style = "red" if w.state == Sla.OVERDUE else None
        due.add_row(w.tactic, f"{w.due_at:%Y-%m-%d %H:%M}", w.state.value, style=style)
    if not (j.late or j.due):
        due.add_row("(nothing due)", "", "")
    console.print(due)
    owns = _table("What counts: my figures", "Metric / goal", "Target", "So far", "Pace mark",
                  "Pace")  # fmt: skip
    for m in j.metrics:
        ytd = m.row.ytd if m.row else None
        owns.add_row(f"{m.metric.name} ({j.month.year})", _num(m.target), _num(ytd), "", "")
    for g in j.goals:
        owns.add_row(g.goal.name, _num(g.goal.target), _num(g.actual),
                     _num(g.expected.quantize(Decimal("0.1"))), g.pace.value)  # fmt: skip
    for t in j.targets:
        owns.add_row(t.tactic.name, str(t.target), str(t.count),
                     _num(t.expected.quantize(Decimal("0.1"))), t.pace.value)  # fmt: skip
    console.print(owns)
    console.print(f"Rule for trade-offs: {j.trade_off.text if j.trade_off else '(none set)'}")
    sla = _table(f"How am I doing: {j.month:%B %Y}", "Tactic", *STATES, "On time",
                 "3 months before", "")  # fmt: skip
    for row in j.sla:
        sla.add_row(row.tactic.name, *(str(getattr(row.counts, s)) for s in STATES),
                    _pct(row.counts.on_time_rate), _pct(row.before.on_time_rate),
                    "on track" if row.on_track else "behind")  # fmt: skip
    if not j.sla:
        sla.add_row("(no work due)", *[""] * (len(STATES) + 3))
    console.print(sla)
    trend = _table("Against the 3 months before", "Month", *STATES, "On time")
    for month, counts in j.trend.items():
        trend.add_row(f"{month:%Y-%m}", *(str(getattr(counts, s)) for s in STATES),
                      _pct(counts.on_time_rate))  # fmt: skip
    console.print(trend)
    p = j.pipeline
    pipe = _table("How am I doing: pipeline", "Pipeline", "Figure")
    pipe.add_row("Open deals", str(p.open_deals))
    for currency, amount in sorted(p.open_amounts.items()):
        pipe.add_row(f"Open amount ({currency})", f"{amount:,}")
    pipe.add_row(
        f"Win rate {j.month.year}",
        f"{_pct(p.win_rate)} ({p.won_this_year} won, {p.lost_this_year} lost)",
    )
    pipe.add_row(
        f"Win rate {j.month.year - 1}",
        f"{_pct(p.win_rate_last_year)} ({p.won_last_year} won, {p.lost_last_year} lost)",
    )
    console.print(pipe)  # fmt: skip
    for c in j.check_ins:
        console.print(f"Check-in {c.written_at:%Y-%m-%d} by {c.author or 'a manager'}: {c.text}")
        if c.reply:
            console.print(f"  Answer: {c.reply}")
    return text.getvalue()


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
        found = job(person=person, month=month, now=timezone.now())
        if options["format"] == "json":
            self.stdout.write(json.dumps(as_data(found), indent=2, default=str))
        else:
            self.stdout.write(as_text(found), ending="")
