"""`keel import`: the summary, the bad rows, the exit code."""

import pytest
from django.core.management import CommandError, call_command

from keel.accounts.models import User
from keel.imports.tests.conftest import FILES
from keel.pipeline.models import Deal, SalesProcess

STAGE_MAP = (
    "Appointment Scheduled=Qualify,Qualified To Buy=1st meeting,Contract Sent=Proposal,"
    "Closed Won=Intake,Closed Lost=Lost"
)


def _run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("import", *args, stdout=out)
    return out.getvalue()


def test_dry_run_then_commit(mary: User, new_business: SalesProcess) -> None:
    path = str(FILES / "hubspot_deals.csv")
    out = _run(path, "--kind", "deals", "--stage-map", STAGE_MAP, "--as", "mary", "--dry-run")
    assert "Dry run: nothing was written." in out
    assert "hubspot" in out
    assert not Deal.objects.exists()
    out = _run(path, "--kind", "deals", "--stage-map", STAGE_MAP, "--as", "mary")
    assert "Committed" in out
    assert Deal.objects.count() == 4


def test_unknown_stages_are_listed_and_the_exit_code_is_one(
    mary: User, new_business: SalesProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(FILES / "hubspot_deals.csv")
    with pytest.raises(CommandError, match="bad row"):
        _run(path, "--kind", "deals", "--as", "mary")
    assert not Deal.objects.exists()


def test_a_stage_map_file_and_an_unknown_user(
    tmp_path, mary: User, new_business: SalesProcess
) -> None:  # type: ignore[no-untyped-def]
    stage_map = tmp_path / "stages.yaml"
    stage_map.write_text(STAGE_MAP.replace("=", ": ").replace(",", "\n"), encoding="utf-8")
    path = str(FILES / "hubspot_deals.csv")
    out = _run(path, "--kind", "deals", "--stage-map", str(stage_map), "--as", "mary")
    assert "Committed" in out
    with pytest.raises(CommandError, match="no active user"):
        _run(path, "--kind", "deals", "--as", "nobody")
