"""`keel model train [--cutoff YYYY-MM-DD]` and `keel model report`: the win model."""

from datetime import date
from typing import IO, Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.table import Table

from keel.core.exceptions import KeelError
from keel.core.progress import phase_progress
from keel.forecast.models import WinModel
from keel.forecast.win_selectors import win_model_active
from keel.forecast.win_services import win_model_train


def parse_cutoff(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--cutoff: {text!r} is not a date like 2026-06-30.") from None


def _number(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def print_report(console: Console, model: WinModel) -> None:
    """The backtest next to the baselines, then each method's calibration deciles."""
    report: dict[str, Any] = model.report
    methods: list[dict[str, Any]] = report.get("methods", [])
    if not methods:
        console.print("This model has no backtest report.")
        return
    train, test = report["train"], report["test"]
    console.print(
        f"Win model of {model.trained_at:%Y-%m-%d %H:%M} UTC, learned from "
        f"{model.closed_deals:,} closed deals. Backtest at {report['cutoff']}: trained on "
        f"{train['deals']:,} deals closed before it ({train['won']:,} won, "
        f"{train['snapshots']:,} snapshots), tested on {test['deals']:,} closed on or after "
        f"it ({test['won']:,} won, {test['snapshots']:,} snapshots)."
    )
    table = Table("Method", "Brier score", "Log loss", "AUC", "Mean predicted", title="Backtest")
    best = min(m["brier"] for m in methods)
    for m in methods:
        table.add_row(
            m["label"],
            _number(m["brier"]),
            _number(m["log_loss"]),
            _number(m["auc"], 3),
            f"{m['mean_predicted']:.1%}",
            style="bold" if m["brier"] == best else None,
        )
    console.print(table)
    console.print(
        f"Observed win rate of the test snapshots: {_observed(methods[0]):.1%}. Lower Brier "
        "score and log loss are better, a higher AUC is; the model's calibration: "
        f"{report.get('calibration', '?')}."
    )
    deciles = Table("Decile", *(m["label"] for m in methods), title="Calibration: predicted / won")
    for i in range(max(len(m["deciles"]) for m in methods)):
        cells = []
        for m in methods:
            row = m["deciles"][i] if i < len(m["deciles"]) else None
            cells.append(f"{row['predicted']:.0%} / {row['observed']:.0%}" if row else "")
        deciles.add_row(str(i + 1), *cells)
    console.print(deciles)
    seconds = report.get("seconds", {})
    if seconds:
        console.print(
            "Seconds: " + ", ".join(f"{step} {value:.1f}" for step, value in seconds.items())
        )


def _observed(method: dict[str, Any]) -> float:
    deciles = method["deciles"]
    total = sum(d["n"] for d in deciles)
    return sum(d["observed"] * d["n"] for d in deciles) / total if total else 0.0


class Command(BaseCommand):
    help = "The win model: train it (after a time-based backtest) or print its report."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        train = actions.add_parser(
            "train",
            help="Backtest at a cutoff, then learn from every closed deal; the new model scores.",
        )
        train.add_argument(
            "--cutoff",
            help="Train on deals closed before this day, test on those closed on or after "
            "it (default: about 22%% of closed deals after it).",
        )
        actions.add_parser("report", help="The active model's backtest next to the baselines.")

    def handle(self, *args: Any, **options: Any) -> None:
        console = Console(
            file=cast("IO[str]", self.stdout), highlight=False, soft_wrap=True, width=120
        )
        if options["action"] == "report":
            model = win_model_active()
            if model is None:
                raise CommandError("There is no win model yet: run `keel model train`.")
            print_report(console, model)
            return
        cutoff = parse_cutoff(options["cutoff"]) if options.get("cutoff") else None
        progress, report = phase_progress()

        try:
            with progress:
                model = win_model_train(cutoff=cutoff, progress=report)
        except KeelError as error:
            raise CommandError(error.message) from None
        print_report(console, model)
        console.print(f"Stored as the active win model (#{model.pk}): open deals now use it.")
