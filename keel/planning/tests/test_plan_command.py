"""`keel plan import|export|list`: problems one a line with their paths, exit status 1."""

from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from keel.accounts.models import User
from keel.planning.models import Goal, TacticalPlan

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).parent.parent / "samples" / "whale-hunting.yaml"
PLAN = "Whale hunting 2026-27"


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("plan", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_then_again_then_export_and_list(olivia: User, tmp_path: Path):
    out, _ = run("import", str(SAMPLE), "--as", "olivia")
    assert "created: tactic Whale hunting 2026-27 / Research dossiers" in out
    assert "Imported: 9 created, 0 updated, 0 deactivated, 0 unchanged." in out
    out, _ = run("import", str(SAMPLE), "--as", "olivia")
    assert out == "Imported: 0 created, 0 updated, 0 deactivated, 9 unchanged.\n"

    exported, _ = run("export", PLAN)
    assert yaml.safe_load(exported)["plans"][0]["name"] == PLAN
    again = tmp_path / "again.yaml"
    again.write_text(exported)
    out, _ = run("import", str(again), "--as", "olivia")
    assert "9 unchanged" in out

    out, _ = run("list")
    assert PLAN in out and "Pursue whales" in out and "5 active of 5" in out


def test_a_dry_run_counts_and_writes_nothing(olivia: User):
    out, _ = run("import", str(SAMPLE), "--as", "olivia", "--dry-run")
    assert "Dry run, nothing was written: 9 created" in out
    assert not TacticalPlan.objects.exists()


def test_a_manager_is_told_what_their_file_may_not_do(mary: User):
    err = StringIO()
    with pytest.raises(CommandError, match="Mary may not import this file: 4 refusals"):
        call_command("plan", "import", str(SAMPLE), "--as", "mary", stderr=err)
    lines = err.getvalue().splitlines()
    assert lines[0] == "goals[0]: only the owner may create the goal 'Five whales won'"
    assert lines[-1].startswith("plans[0]: Mary may not write 'Whale hunting 2026-27' as a plan")
    assert not Goal.objects.exists()


def test_problems_are_printed_one_a_line_with_their_paths(olivia: User, tmp_path: Path):
    document = yaml.safe_load(SAMPLE.read_text())
    document["goals"][1]["metric"] = "whales"
    del document["goals"][1]["query"]  # a metric instead: one unknown
    document["plans"][0]["tactics"][1]["schedule"] = "EVERY DAY"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(document))
    err = StringIO()
    with pytest.raises(CommandError, match=r"bad\.yaml: The plan file has 2 problems") as error:
        call_command("plan", "import", str(bad), "--as", "olivia", stderr=err)
    assert error.value.returncode == 1
    lines = err.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "goals[1].metric",
        "plans[0].tactics[1].schedule",
    ]
    assert not Goal.objects.exists()


def test_a_salesperson_may_not_import(alice: User):
    with pytest.raises(CommandError, match="Only the owner and sales managers may import"):
        run("import", str(SAMPLE), "--as", "alice")
    assert not Goal.objects.exists()


def test_the_importing_user_must_exist(db: None, tmp_path: Path):
    with pytest.raises(CommandError, match="no active user 'nobody'"):
        run("import", str(SAMPLE), "--as", "nobody")
    with pytest.raises(CommandError, match="Name the importing user with --as"):
        run("import", str(SAMPLE))
    with pytest.raises(CommandError, match="Cannot read"):
        run("import", str(tmp_path / "missing.yaml"), "--as", "nobody")


def test_export_of_an_unknown_plan(db: None):
    with pytest.raises(CommandError, match="There is no tactical plan 'Nope'"):
        run("export", "Nope")
