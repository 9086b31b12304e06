"""Processes as YAML: validation with the path of each bad key, versions, export."""

from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from keel.core.exceptions import InvalidInput
from keel.pipeline.models import Deal, DealStatus, ProcessVersion, SalesProcess
from keel.pipeline.selectors import process_export
from keel.pipeline.services import process_import

pytestmark = pytest.mark.django_db

MINIMAL = """
name: Partner deals
kind: new_business
stages:
  - name: Talk
    probability: 20
    exit_criteria:
      - kind: activity
        type: meeting
        outcome: held
  - name: Agree
    probability: 60
  - name: Signed
    kind: won
  - name: Dropped
    kind: lost
"""


def problems(source: str) -> list[str]:
    with pytest.raises(InvalidInput) as error:
        process_import(source=source, by=None)
    return error.value.details


def edited(**changes: object) -> str:
    document = yaml.safe_load(MINIMAL)
    for path, value in changes.items():
        target = document
        *parents, last = path.split("__")
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        if value is None:
            del target[int(last) if last.isdigit() else last]
        else:
            target[int(last) if last.isdigit() else last] = value
    return yaml.safe_dump(document)


def test_the_shipped_processes_are_installed():
    names = set(SalesProcess.objects.values_list("name", flat=True))
    assert names == {"New business", "Renewal", "Upsell"}
    stages = ProcessVersion.objects.get(process__name="New business").stages.all()
    assert [(s.name, s.kind) for s in stages] == [
        ("Qualify", "open"),
        ("1st meeting", "open"),
        ("Proof", "open"),
        ("2nd meeting", "open"),
        ("Proposal", "open"),
        ("Close", "open"),
        ("Intake", "won"),
        ("Lost", "lost"),
    ]
    first = stages[0]
    assert first.buyer_step and first.buyer_concerns and first.buyer_needs and first.guidance
    assert first.exit_criteria and first.completion_plan.steps.count() == 3


def test_a_valid_file_creates_version_one_with_its_stages():
    version = process_import(source=MINIMAL, by=None)
    assert (version.process.name, version.number) == ("Partner deals", 1)
    assert list(version.stages.values_list("name", "position", "probability")) == [
        ("Talk", 1, 20),
        ("Agree", 2, 60),
        ("Signed", 3, 100),
        ("Dropped", 4, 0),
    ]
    assert version.source == MINIMAL


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            edited(stages__0__exit_criteria__0__since_stage="Nowhere"),
            "stages[0].exit_criteria[0].since_stage: unknown stage 'Nowhere'",
        ),
        (
            edited(stages__1__name="Talk"),
            "stages[1].name: duplicate stage name 'Talk' (also stages[0])",
        ),
        (edited(stages__1__probability=120), "stages[1].probability: 120 is outside 0–100"),
        (edited(stages__0__probability=-5), "stages[0].probability: -5 is outside 0–100"),
        (edited(stages__2=None), "stages: no won outcome: add a stage with kind: won"),
        (edited(stages__3=None), "stages: no lost outcome: add a stage with kind: lost"),
        (
            edited(stages__0__exit_criteria__0__kind="vibes"),
            "stages[0].exit_criteria[0].kind: unknown criterion kind 'vibes' "
            "(known: fields, activity, checklist, contact_role, collateral)",
        ),
        (
            edited(stages__0__exit_criteria__0__type="lunch"),
            "stages[0].exit_criteria[0].type: 'lunch' is not one of:",
        ),
        (edited(stages__0__colour="red"), "stages[0].colour: unknown key"),
        (edited(stages__1__kind="maybe"), "stages[1].kind: 'maybe' is not one of: open, won, lost"),
        (edited(stages__0__probability=None), "stages[0].probability: is required"),
        (edited(name=None), "process.name: is required"),
    ],
)
def test_each_error_names_the_bad_keys_path(source: str, expected: str):
    assert any(p.startswith(expected) for p in problems(source)), problems(source)
    assert not SalesProcess.objects.filter(name="Partner deals").exists()


def test_all_problems_are_reported_at_once():
    source = edited(stages__1__probability=300, stages__2=None)
    found = problems(source)
    assert len(found) == 2


def test_criteria_and_plans_are_checked_too():
    document = yaml.safe_load(MINIMAL)
    document["stages"][0]["exit_criteria"] = [
        {"kind": "fields", "fields": ["amount", "colour"]},
        {"kind": "contact_role", "role": "gatekeeper"},
        {"kind": "checklist"},
    ]
    document["stages"][1]["completion_plan"] = {"steps": [{"title": "Call", "role": "intern"}]}
    document["stages"][2]["exit_criteria"] = [{"kind": "checklist", "item": "x"}]
    found = problems(yaml.safe_dump(document))
    assert any(p.startswith("stages[0].exit_criteria[0].fields: 'colour'") for p in found)
    assert any(p.startswith("stages[0].exit_criteria[1].role: 'gatekeeper'") for p in found)
    assert "stages[0].exit_criteria[2].item: is required" in found
    assert any(p.startswith("stages[1].completion_plan.steps[0].role: 'intern'") for p in found)
    assert "stages[2].exit_criteria: a won or lost outcome is never left forward" in found


def test_an_open_stage_after_an_outcome_is_refused():
    document = yaml.safe_load(MINIMAL)
    document["stages"].append({"name": "Later", "probability": 5})
    assert "stages[4].kind: an open stage cannot follow a won or lost outcome" in problems(
        yaml.safe_dump(document)
    )


def test_broken_yaml_says_where():
    with pytest.raises(InvalidInput, match=r"not valid YAML at line 4, column 1"):
        process_import(source="name: x\nstages:\n  - [unclosed\n", by=None)


def test_not_a_mapping():
    assert problems("- just\n- a list\n") == ["process: expected a mapping of keys, found a list"]


def test_export_reads_back_as_the_same_process():
    exported = process_export(name="New business")
    again = process_import(source=exported.replace("New business", "Copy"), by=None)
    assert process_export(name="Copy") == exported.replace("New business", "Copy")
    assert again.stages.count() == 8


def test_export_of_an_unknown_process():
    with pytest.raises(InvalidInput, match="There is no process 'Nope'"):
        process_export(name="Nope")


def test_a_new_version_moves_open_deals_to_the_stage_of_the_same_name(deal: Deal):
    document = yaml.safe_load(process_export(name="New business"))
    document["stages"][0]["probability"] = 15
    version = process_import(source=yaml.safe_dump(document), by=None)
    deal.refresh_from_db()
    assert version.number == 2
    assert (deal.process_version, deal.stage.name, deal.stage.probability) == (
        version,
        "Qualify",
        15,
    )


def test_a_new_version_that_strands_open_deals_is_refused(deal: Deal):
    document = yaml.safe_load(process_export(name="New business"))
    document["stages"] = document["stages"][1:]
    found = problems(yaml.safe_dump(document))
    assert found == ["1 open deal is in 'Qualify', which the new version drops or closes"]
    assert ProcessVersion.objects.filter(process__name="New business").count() == 1
    deal.refresh_from_db()
    assert deal.status == DealStatus.OPEN and deal.process_version.number == 1


def test_the_command_line(tmp_path: Path):
    good = tmp_path / "partner.yaml"
    good.write_text(MINIMAL)
    out = StringIO()
    call_command("process", "import", str(good), stdout=out)
    assert "Imported Partner deals version 1: Talk, Agree, Signed, Dropped" in out.getvalue()

    bad = tmp_path / "bad.yaml"
    bad.write_text(edited(stages__1__probability=101))
    with pytest.raises(CommandError, match=r"stages\[1\].probability: 101 is outside 0–100"):
        call_command("process", "import", str(bad))

    out = StringIO()
    call_command("process", "export", "Partner deals", stdout=out)
    assert yaml.safe_load(out.getvalue())["stages"][0]["name"] == "Talk"

    with pytest.raises(CommandError, match="Cannot read"):
        call_command("process", "import", str(tmp_path / "missing.yaml"))
