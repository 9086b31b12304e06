"""What the import pages read: a run's file as the mapping page shows it."""

from dataclasses import dataclass

from keel.imports.models import ImportRun
from keel.imports.parse import Cell, table_read, text
from keel.imports.presets import mapping_resolve
from keel.pipeline.models import SalesProcess
from keel.pipeline.selectors import process_current_version, version_stages

SAMPLE_ROWS = 3


@dataclass(frozen=True)
class Preview:
    headers: list[str]
    samples: list[list[str]]  # per header, its first few values
    stage_names: list[str]  # the stage names the file uses (stage column and entry columns)


def run_preview(*, run: ImportRun) -> Preview:
    """The uploaded file's columns, a few values of each, and the stages it names."""
    table = table_read(name=run.file_name, data=bytes(run.source or b""))
    samples = [
        [text(values[i]) for _, values in table.rows[:SAMPLE_ROWS]]
        for i in range(len(table.headers))
    ]
    stage_names: dict[str, None] = {}
    if run.kind == "deals":
        resolved = mapping_resolve(kind="deals", headers=table.headers, overrides=_explicit(run))
        stage_column = resolved.mapping.get("stage")
        column = table.headers.index(stage_column) if stage_column else None
        cells: list[Cell] = (
            [values[column] for _, values in table.rows] if column is not None else []
        )
        for value in cells:
            if text(value):
                stage_names.setdefault(text(value), None)
        for stage in resolved.entered.values():
            stage_names.setdefault(stage, None)
    return Preview(headers=table.headers, samples=samples, stage_names=list(stage_names))


def _explicit(run: ImportRun) -> dict[str, str]:
    from keel.imports.presets import field_specs

    return {name: run.mapping.get(name, "") for name in field_specs(run.kind)}


def process_stage_names(*, process: SalesProcess | None) -> list[str]:
    version = process_current_version(process=process) if process else None
    return [s.name for s in version_stages(version.pk)] if version else []
