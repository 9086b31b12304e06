"""A progress bar for long commands that report phases: one bar per phase, on stderr."""

from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

Report = Callable[[str, int, int], None]


def phase_progress() -> tuple[Progress, Report]:
    """A rich Progress to run the work in, and the `report(phase, done, total)` it takes.

    Each new phase closes the one before: one phase at a time, the last one done.
    """
    progress = Progress(
        TextColumn("{task.description:<30}"),
        BarColumn(),
        MofNCompleteColumn(),
        # Straight to stderr: Django's wrapper would colour and break rich's live lines.
        console=Console(stderr=True),
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def report(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            for task in tasks.values():
                progress.update(task, completed=progress.tasks[task].total)
            tasks[phase] = progress.add_task(phase, total=total)
        progress.update(tasks[phase], completed=done, total=total)

    return progress, report
