import csv
import json
from datetime import date
from decimal import Decimal
from io import StringIO
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.table import Table

from keel.accounts.models import Team, User
from keel.scorecard import rules
from keel.scorecard.selectors import (
    COMPANY,
    ROW_FIGURES,
    Scope,
    Scorecard,
    ScorecardRow,
    scorecard,
)

MISSING = "—"

PACE_LABELS = {pace: pace.label for pace in rules.Pace} | {rules.Pace.BEHIND: "BEHIND"}


def parse_month(text: str) -> date:
    try:
        return rules.month_parse(text)
    except ValueError as error:
        raise CommandError(f"--month: {error}") from None


def _record(row: ScorecardRow) -> dict[str, str | bool | None]:
    """A row as plain values; figures are strings so money never passes through a float."""
    record: dict[str, str | bool | None] = {
        "stage": row.stage,
        "key": row.key,
        "metric": row.name,
        "unit": row.unit,
        "lower_is_better": row.lower_is_better,
    }
    for name in ROW_FIGURES:
        value: Decimal | None = getattr(row, name)
        record[name] = None if value is None else str(value)
    record["pace"] = row.pace.value
    return record


def parse_scope(*, team: str | None, person: str | None) -> Scope:
    if team and person:
        raise CommandError("--team or --person, not both.")
    if team:
        found = Team.objects.filter(name__iexact=team.strip()).first()
        if found is None:
            names = ", ".join(Team.objects.values_list("name", flat=True)) or "none yet"
            raise CommandError(f"There is no team {team!r}. Teams: {names}.")
        return Scope(team=found)
    if person:
        user = User.objects.filter(username__iexact=person.strip()).first()
        if user is None:
            raise CommandError(f"There is no user {person!r} (give their username).")
        return Scope(person=user)
    return COMPANY


class Command(BaseCommand):
    help = "The scorecard for a month: figures, comparisons, pace against the annual goal."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--month", required=True, help="The month, as YYYY-MM.")
        parser.add_argument("--team", help="A team's scorecard (its name).")
        parser.add_argument("--person", help="A person's scorecard (their username).")
        parser.add_argument("--format", choices=("table", "csv", "json"), default="table")

    def handle(self, *args: Any, **options: Any) -> None:
        scope = parse_scope(team=options["team"], person=options["person"])
        card = scorecard(month=parse_month(options["month"]), scope=scope)
        output = {"table": self._table, "csv": self._csv, "json": self._json}[options["format"]]
        self.stdout.write(output(card), ending="")

    def _table(self, card: Scorecard) -> str:
        text = StringIO()
        console = Console(file=text, width=160)
        console.print(f"Scorecard {card.month:%B %Y} · {card.scope.label}")
        for step in card.steps:
            table = Table(
                "Metric", *ROW_FIGURES.values(), "Pace", title=step.label, title_justify="left"
            )
            for row in step.rows:
                cells = [getattr(row, name) for name in ROW_FIGURES]
                behind = row.pace == rules.Pace.BEHIND
                table.add_row(
                    row.name,
                    *(MISSING if v is None else f"{v:,}" for v in cells),
                    PACE_LABELS[row.pace],
                    style="red" if behind else None,
                )
            if not step.rows:
                table.add_row("(no metrics)", *[""] * (len(ROW_FIGURES) + 1))
            console.print(table)
        return text.getvalue()

    def _csv(self, card: Scorecard) -> str:
        text = StringIO()
        records = [_record(row) for row in card.rows()]
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["stage", "key", "metric", "unit", "lower_is_better", *ROW_FIGURES, "pace"])
        for record in records:
            writer.writerow("" if v is None else v for v in record.values())
        return text.getvalue()

    def _json(self, card: Scorecard) -> str:
        return json.dumps([_record(row) for row in card.rows()], indent=2) + "\n"
