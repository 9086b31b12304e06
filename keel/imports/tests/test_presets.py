"""Presets picked by the headers, user overrides, stage maps and the row checks (no database)."""

import pytest

from keel.imports.parse import table_read
from keel.imports.presets import entered_stage, mapping_resolve, stage_map_parse
from keel.imports.records import StageInfo, records_check
from keel.imports.tests.conftest import HUBSPOT_STAGES, fixture_file

STAGES = [
    StageInfo("Qualify", "open"),
    StageInfo("1st meeting", "open"),
    StageInfo("Proof", "open"),
    StageInfo("Proposal", "open"),
    StageInfo("Close", "open"),
    StageInfo("Intake", "won"),
    StageInfo("Lost", "lost"),
]


@pytest.mark.parametrize(
    ("name", "kind", "preset", "variant"),
    [
        ("hubspot_deals.csv", "deals", "hubspot", "deals"),
        ("salesforce_opportunities.csv", "deals", "salesforce", "opportunities"),
        ("salesforce_opportunity_history.csv", "deals", "salesforce", "opportunity history"),
        ("salesforce_accounts.csv", "companies", "salesforce", "accounts"),
        ("pipedrive_deals.csv", "deals", "pipedrive", "deals"),
    ],
)
def test_the_preset_is_detected_from_the_headers(
    name: str, kind: str, preset: str, variant: str
) -> None:
    file = fixture_file(name)
    table = table_read(name=file.name, data=file.data)
    resolved = mapping_resolve(kind=kind, headers=table.headers)
    assert (resolved.preset, resolved.variant) == (preset, variant)


def test_hubspot_entry_date_columns_name_their_stage() -> None:
    assert entered_stage('Date entered "Closed Won (Sales Pipeline)"') == "Closed Won"
    assert entered_stage("Date entered Qualified To Buy (Sales Pipeline)") == "Qualified To Buy"
    assert entered_stage("Deal Stage") is None


def test_keel_preset_is_keels_field_names() -> None:
    resolved = mapping_resolve(kind="companies", headers=["name", "domain", "external_id"])
    assert resolved.preset == "keel"
    assert resolved.mapping == {"name": "name", "domain": "domain", "external_id": "external_id"}


def test_a_user_mapping_overrides_the_preset() -> None:
    headers = ["Deal Name", "Deal Stage", "Amount", "Net amount"]
    resolved = mapping_resolve(kind="deals", headers=headers, overrides={"amount": "Net amount"})
    assert resolved.preset == "hubspot"
    assert resolved.mapping["amount"] == "Net amount"
    dropped = mapping_resolve(kind="deals", headers=headers, overrides={"amount": ""})
    assert "amount" not in dropped.mapping
    with pytest.raises(ValueError, match="no column"):
        mapping_resolve(kind="deals", headers=headers, overrides={"amount": "Nope"})


def test_stage_map_from_the_command_line_or_yaml() -> None:
    assert stage_map_parse("Closed Won=Intake, Negotiation/Review=Close") == {
        "Closed Won": "Intake",
        "Negotiation/Review": "Close",
    }
    assert stage_map_parse("Closed Won: Intake\nClosed Lost: Lost\n") == {
        "Closed Won": "Intake",
        "Closed Lost": "Lost",
    }
    with pytest.raises(ValueError, match="their stage=Keel stage"):
        stage_map_parse("Closed Won")


def _check(text: str, kind: str = "deals", **options: object):  # type: ignore[no-untyped-def]
    table = table_read(name="f.csv", data=text.encode())
    resolved = mapping_resolve(kind=kind, headers=table.headers)
    return records_check(table=table, kind=kind, resolved=resolved, stages=STAGES, **options)


def test_hubspot_history_in_date_order_with_status_from_the_stage() -> None:
    file = fixture_file("hubspot_deals.csv")
    table = table_read(name=file.name, data=file.data)
    resolved = mapping_resolve(kind="deals", headers=table.headers)
    checked = records_check(
        table=table, kind="deals", resolved=resolved, stages=STAGES, stage_map=HUBSPOT_STAGES
    )
    assert checked.problems == []
    globex = next(r for r in checked.records if r.values["external_id"] == "9002")
    assert [name for _, name in globex.history] == ["Qualify", "1st meeting", "Proposal", "Intake"]
    assert globex.values["stage"] == "Intake"
    initech = next(r for r in checked.records if r.values["external_id"] == "9003")
    assert [name for _, name in initech.history] == ["Qualify", "Lost"]


def test_an_unknown_stage_is_a_bad_row_never_a_guess() -> None:
    checked = _check("Deal Name,Deal Stage\nAcme,Negotiating\n")
    assert checked.records == []
    assert checked.unknown_stages == {"Negotiating": 1}
    assert [(p.line, p.column) for p in checked.problems] == [(2, "Deal Stage")]
    assert "unknown stage 'Negotiating'" in checked.problems[0].reason


def test_each_bad_row_kind_is_reported_with_line_column_reason() -> None:
    text = (
        "Deal Name,Deal Stage,Amount,Close Date\n"
        "Good,Qualify,100,2026-01-31\n"
        "Bad date,Qualify,100,soon\n"
        "Bad amount,Qualify,lots,2026-01-31\n"
        "Good,Qualify,100,2026-01-31\n"
    )
    checked = _check(text)
    found = {(p.line, p.column): p.reason for p in checked.problems}
    assert "'soon' is not a date" in found[(3, "Close Date")]
    assert "'lots' is not an amount" in found[(4, "Amount")]
    assert found[(5, "")] == "duplicate of line 2"
    assert [r.line for r in checked.records] == [2]


def test_a_missing_required_column_rejects_every_row() -> None:
    checked = _check("Deal Name,Amount\nAcme,100\nGlobex,200\n")
    assert checked.records == []
    assert checked.rejected_lines == {2, 3}
    assert checked.problems[0].line == 1
    assert "required column for stage" in checked.problems[0].reason


def test_a_stage_map_naming_no_stage_of_the_process_is_refused() -> None:
    checked = _check("Deal Name,Deal Stage\nAcme,Won\n", stage_map={"Won": "Victory"})
    assert "'Victory' is not a stage of the process" in checked.problems[0].reason


def test_one_row_per_stage_change_builds_one_deal() -> None:
    text = (
        "external_id,name,company,stage,stage_at\n"
        "D1,Acme,Acme,Proposal,2026-02-01\n"
        "D1,Acme,Acme,Qualify,2026-01-01\n"
        "D1,Acme,Acme,Lost,2026-03-01\n"
    )
    checked = _check(text)
    (deal,) = checked.records
    assert [name for _, name in deal.history] == ["Qualify", "Proposal", "Lost"]
    assert deal.values["stage"] == "Lost"
    assert deal.lines == [2, 3, 4]
