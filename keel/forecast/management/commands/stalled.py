import csv
import json
from collections.abc import Iterator
from datetime import datetime
from io import StringIO
from itertools import islice
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from rich.console import Console
from rich.table import Table

from keel.accounts.models import User
from keel.forecast.stall_selectors import (
    StalledDeal,
    StallThresholds,
    stall_thresholds,
    stalled_deals,
    stalled_rows,
)
from keel.forecast.stall_services import stall_counts_record
from keel.pipeline.models import Deal, SalesProcess

CHUNK = 500
FIELDS = (
    "deal_id", "deal", "company", "owner", "process", "stage", "days_in_stage", "amount",
    "currency", "expected_close", "next_step", "reasons",
)  # fmt: skip


def _record(row: StalledDeal, now: datetime) -> dict[str, Any]:
    deal = row.deal
    return {
        "deal_id": deal.pk,
        "deal": deal.name,
        "company": deal.company.name,
        "owner": deal.owner.username,
        "process": deal.process.name,
        "stage": deal.stage.name,
        "days_in_stage": (now - deal.stage_entered_at).days,
        "amount": None if deal.amount is None else str(deal.amount),
        "currency": deal.currency,
        "expected_close": deal.expected_close.isoformat() if deal.expected_close else None,
        "next_step": deal.next_step,
        "reasons": [{"why": r.why.value, "text": r.text} for r in row.reasons],
    }


class Command(BaseCommand):
    help = (
        "The stalled open deals with the reasons, by owner and stage; --record writes "
        "today's stall counts for the cleanup page's trend (run it nightly from cron)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--owner", help="Only this person's deals (their username).")
        parser.add_argument("--stage", help="Only deals in the stage of this name.")
        parser.add_argument("--process", help="Only deals of this sales process (its name).")
        parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
        parser.add_argument(
            "--record",
            action="store_true",
            help="Record today's open and stalled deals per stage and owner (replacing any "
            "record of today) instead of listing them.",
        )
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help="With --record: queue the recording for `keel db_worker` instead.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        if options["enqueue"] and not options["record"]:
            raise CommandError("--enqueue goes with --record.")
        if options["record"]:
            self._record(now=now, enqueue=options["enqueue"])
            return
        deals = stalled_deals(
            deals=Deal.objects.all(),
            thresholds=(thresholds := stall_thresholds(now=now)),
            now=now,
            owner_id=self._owner(options["owner"]),
            stage=options["stage"] or "",
            process_id=self._process(options["process"]),
        )
        rows = self._rows(deals, thresholds, now)
        output = {"table": self._table, "csv": self._csv, "json": self._json}[options["format"]]
        self.stdout.write(output(rows, now), ending="")

    def _record(self, *, now: datetime, enqueue: bool) -> None:
        if enqueue:
            from keel.forecast.tasks import stall_counts_nightly

            result = stall_counts_nightly.enqueue()
            self.stdout.write(f"Queued the stall count record ({result.id}).")
            return
        day = timezone.localdate(now)
        thresholds = stall_thresholds(now=now, fresh=True)
        written = stall_counts_record(day=day, thresholds=thresholds, now=now)
        self.stdout.write(f"Recorded {written} stall counts for {day:%Y-%m-%d}.")

    def _owner(self, username: str | None) -> int | None:
        if not username:
            return None
        user = User.objects.filter(username__iexact=username.strip()).first()
        if user is None:
            raise CommandError(f"There is no user {username!r} (give their username).")
        return user.pk

    def _process(self, name: str | None) -> int | None:
        if not name:
            return None
        process = SalesProcess.objects.filter(name__iexact=name.strip()).first()
        if process is None:
            names = ", ".join(SalesProcess.objects.values_list("name", flat=True))
            raise CommandError(f"There is no process {name!r}. Processes: {names}.")
        return process.pk

    def _rows(
        self, deals: Any, thresholds: StallThresholds, now: datetime
    ) -> Iterator[StalledDeal]:
        """The stalled deals with their reasons, a chunk (one activity query) at a time."""
        found = deals.iterator(chunk_size=CHUNK)
        while chunk := list(islice(found, CHUNK)):
            yield from stalled_rows(deals=chunk, thresholds=thresholds, now=now)

    def _table(self, rows: Iterator[StalledDeal], now: datetime) -> str:
        text = StringIO()
        console = Console(file=text, width=180)
        table = Table("Owner", "Stage", "Deal", "Amount", "Days", "Why it is stalled")
        count = 0
        for row in rows:
            deal = row.deal
            table.add_row(
                deal.owner.username,
                f"{deal.stage.name} ({deal.process.name})",
                f"{deal.name}\n[dim]{deal.company.name} · #{deal.pk}[/dim]",
                "—" if deal.amount is None else f"{deal.currency} {deal.amount:,.0f}",
                str((now - deal.stage_entered_at).days),
                "\n".join(reason.text for reason in row.reasons),
            )
            count += 1
        table.title = f"{count} stalled deal{'s' if count != 1 else ''} · {now:%Y-%m-%d}"
        table.title_justify = "left"
        console.print(table)
        return text.getvalue()

    def _csv(self, rows: Iterator[StalledDeal], now: datetime) -> str:
        text = StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(FIELDS)
        for row in rows:
            record = _record(row, now)
            record["reasons"] = "; ".join(r["text"] for r in record["reasons"])
            writer.writerow("" if record[f] is None else record[f] for f in FIELDS)
        return text.getvalue()

    def _json(self, rows: Iterator[StalledDeal], now: datetime) -> str:
        return json.dumps([_record(row, now) for row in rows], indent=2) + "\n"
