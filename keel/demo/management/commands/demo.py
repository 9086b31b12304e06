"""`keel demo`: build a realistic demo business (two years of history) and print the login."""

from datetime import date, timedelta
from typing import IO, Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.table import Table

from keel.accounts.models import Role
from keel.core.progress import phase_progress
from keel.demo.generate import DemoRefused, DemoSummary, demo_build, demo_marker
from keel.demo.simulate import CAST, PASSWORD, SIZES

DEFAULT_SEED = 42


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--today {value!r} is not a date like 2026-03-31.") from None


class Command(BaseCommand):
    requires_migrations_checks = True
    help = (
        "Build a demo business: teams, accounts, two years of deals with their stage "
        "history, activities and tasks. Replaces an earlier demo; refuses to touch a "
        "database with other data unless --force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--size", choices=list(SIZES), default="small")
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help="same seed, same business"
        )
        parser.add_argument(
            "--today",
            type=_date,
            default=None,
            help="the demo's present, YYYY-MM-DD (default: today); history ends the day before",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="delete the accounts, deals and activities of a database that is not a demo",
        )
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="do nothing if a demo is already built (what `make demo` runs)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        console = Console(file=cast("IO[str]", self.stdout), highlight=False, soft_wrap=True)
        marker = demo_marker()
        if options["if_missing"] and marker is not None:
            console.print(
                f"A demo business is already built (size {marker.get('size')}, "
                f"seed {marker.get('seed')}, built {marker.get('built_at')}); "
                "run `keel demo` to rebuild it."
            )
            self._print_login(console)
            return
        today = options["today"] or date.today()
        progress, report = phase_progress()

        try:
            with progress:
                summary = demo_build(
                    size=options["size"],
                    seed=options["seed"],
                    today=today,
                    force=options["force"],
                    progress=report,
                )
        except DemoRefused as error:
            raise CommandError(f"{error} Run `keel demo --force` to replace it.") from None
        self._print_summary(console, summary)
        self._print_login(console)

    def _print_summary(self, console: Console, summary: DemoSummary) -> None:
        table = Table(title=f"Demo business ({summary.size}, seed {summary.seed})")
        table.add_column("records")
        table.add_column("rows", justify="right")
        for label, count in summary.counts.items():
            detail = ""
            if label == "deals":
                detail = (
                    " ("
                    + ", ".join(f"{n:,} {status}" for status, n in summary.deals_by_status.items())
                    + ")"
                )
            table.add_row(label.replace("_", " ") + detail, f"{count:,}")
        table.add_row("total", f"{summary.rows:,}", style="bold")
        console.print(table)
        console.print(
            f"Built in {summary.seconds:.1f} s ({summary.rows_per_second:,.0f} rows/s): "
            f"two years of history up to {summary.today.isoformat()}."
        )
        last_month = summary.today.replace(day=1) - timedelta(days=1)
        console.print(
            f"Set {summary.goals} goals for {summary.today.year} from "
            f"{summary.today.year - 1}'s figures: see `keel scorecard --month {last_month:%Y-%m}`."
        )
        if summary.plan is not None:
            plan, work = summary.plan, summary.plan.work
            console.print(
                f"Imported the whale-hunting plan ({plan.tactics} tactics), "
                f"{plan.dossiers} whale dossiers ({plan.completed} complete); its work so far: "
                + ", ".join(f"{n:,} {state.replace('_', ' ')}" for state, n in work.items())
                + "."
            )
        if summary.marketing is not None:
            m = summary.marketing
            console.print(
                f"Marketing: {m.campaigns} campaigns; lead definition v2 live ({m.qualified:,} "
                f"qualified leads, {m.lost_to_v2:,} turned away by its revision of v1); "
                "hand-offs: "
                + ", ".join(f"{n:,} {status}" for status, n in sorted(m.handoffs.items()))
                + f", {m.breaches:,} first touches late or missed: see /leads/."
            )
        if summary.collateral is not None:
            c = summary.collateral
            console.print(
                f"Collateral: {c.pieces} pieces ({c.active} active, {c.never_used} of them never "
                f"used), {c.uses:,} uses in deals, {c.links:,} share links opened {c.views:,} "
                f"times, {c.requests} requests from sales: see /collateral/."
            )
        console.print(
            "Seconds per phase: "
            + ", ".join(
                f"{phase.lower()} {seconds:.1f}" for phase, seconds in summary.phases.items()
            )
            + "."
        )

    def _print_login(self, console: Console) -> None:
        console.print(
            f"Log in as: username [bold]{CAST[0].username}[/] password [bold]{PASSWORD}[/] "
            "(the owner: every page, and /admin)."
        )
        console.print(
            "Everyone else logs in with the same password: "
            + ", ".join(f"{p.username} ({Role(p.role).label.lower()})" for p in CAST[1:])
            + "."
        )
