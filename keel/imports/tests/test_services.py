"""import_run against the database: each preset, idempotency, bad rows, interruption."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import DatabaseError

from keel.accounts.models import User
from keel.activities.models import Activity
from keel.core.exceptions import NotAllowed
from keel.core.models import AuditEntry
from keel.crm.models import Company, Contact
from keel.imports import services
from keel.imports.models import ImportRun, RunStatus
from keel.imports.services import Step, import_run, import_steps
from keel.imports.tests.conftest import (
    HUBSPOT_STAGES,
    PIPEDRIVE_STAGES,
    SALESFORCE_STAGES,
    csv_file,
    fixture_file,
)
from keel.pipeline.models import Deal, SalesProcess, StageChange


def _counts(run: ImportRun) -> tuple[int, int, int, int]:
    return (run.created, run.updated, run.unchanged, run.rejected)


def _history(deal: Deal) -> list[str]:
    return [c.to_stage.name for c in deal.stage_changes.order_by("at", "id")]


def test_hubspot_deals_dry_run_commit_then_again_with_no_change(
    mary: User, alice: User, new_business: SalesProcess
) -> None:
    file = fixture_file("hubspot_deals.csv")
    dry = import_run(by=mary, file=file, kind="deals", stage_map=HUBSPOT_STAGES, dry_run=True)
    assert dry.status == RunStatus.DRY_RUN
    assert _counts(dry) == (4, 0, 0, 0)
    assert not Deal.objects.exists()

    run = import_run(by=mary, file=file, kind="deals", stage_map=HUBSPOT_STAGES)
    assert run.status == RunStatus.COMMITTED
    assert (run.preset, _counts(run)) == ("hubspot", (4, 0, 0, 0))
    globex = Deal.objects.get(external_id="9002")
    assert globex.owner == alice  # matched by name
    assert globex.amount == Decimal("48000.00")
    assert globex.status == "won"
    assert globex.stage.name == "Intake"
    assert globex.closed_at == globex.stage_entered_at == datetime(2026, 2, 20, 17, tzinfo=UTC)
    assert _history(globex) == ["Qualify", "1st meeting", "Proposal", "Intake"]
    initech = Deal.objects.get(external_id="9003")
    assert (initech.status, initech.lost_reason, initech.owner) == ("lost", "competitor", mary)
    assert initech.company.name == "Initech"  # created, as the company was missing
    assert Company.objects.get(name="Initech").funnel_stage != ""
    assert AuditEntry.objects.filter(action="import.commit").count() == 1

    again = import_run(by=mary, file=file, kind="deals", stage_map=HUBSPOT_STAGES)
    assert _counts(again) == (0, 0, 4, 0)
    assert Deal.objects.count() == 4
    assert StageChange.objects.count() == 3 + 4 + 2 + 1


def test_salesforce_accounts_opportunities_and_history(
    olivia: User, new_business: SalesProcess
) -> None:
    accounts = import_run(by=olivia, file=fixture_file("salesforce_accounts.csv"), kind="companies")
    assert _counts(accounts) == (2, 0, 0, 0)
    acme = Company.objects.get(external_id="0015g00000AbCdEAAV")
    assert (acme.domain, acme.employees, acme.region) == ("acme-corp.example", 1200, "Germany")

    opportunities = fixture_file("salesforce_opportunities.csv")
    run = import_run(by=olivia, file=opportunities, kind="deals", stage_map=SALESFORCE_STAGES)
    assert (run.preset, _counts(run)) == ("salesforce", (3, 0, 0, 0))
    plant = Deal.objects.get(external_id="0065g00000Qr1AAAA")
    assert (plant.company, plant.stage.name, plant.owner) == (acme, "Close", olivia)
    assert plant.amount == Decimal("250000.00")
    assert plant.source == "Partner"

    history = fixture_file("salesforce_opportunity_history.csv")
    run = import_run(by=olivia, file=history, kind="deals", stage_map=SALESFORCE_STAGES)
    assert _counts(run) == (0, 0, 2, 0)  # stages as Keel has them: nothing to move

    for file in (opportunities, history):
        again = import_run(by=olivia, file=file, kind="deals", stage_map=SALESFORCE_STAGES)
        assert (again.created, again.updated, again.rejected) == (0, 0, 0)


def test_a_later_export_moves_the_deal_and_appends_to_its_history(
    olivia: User, new_business: SalesProcess
) -> None:
    first = "external_id,name,company,stage,created_at\nD1,Acme,Acme,Qualify,2026-01-05\n"
    import_run(by=olivia, file=csv_file(first), kind="deals")
    later = (
        "external_id,name,company,stage,created_at,amount\nD1,Acme,Acme,Proposal,2026-01-05,900\n"
    )
    run = import_run(by=olivia, file=csv_file(later), kind="deals")
    assert _counts(run) == (0, 1, 0, 0)
    deal = Deal.objects.get(external_id="D1")
    assert (deal.stage.name, deal.amount, deal.version) == ("Proposal", Decimal(900), 2)
    assert _history(deal) == ["Qualify", "Proposal"]


def test_pipedrive_windows_1252_semicolons_and_status(
    mary: User, new_business: SalesProcess
) -> None:
    file = fixture_file("pipedrive_deals.csv")
    run = import_run(by=mary, file=file, kind="deals", stage_map=PIPEDRIVE_STAGES)
    assert (run.preset, _counts(run)) == ("pipedrive", (3, 0, 0, 0))
    cafe = Deal.objects.get(external_id="301")
    assert cafe.name == "Café Crème – new branch"
    assert cafe.amount == Decimal("1234.56")
    won = Deal.objects.get(external_id="302")
    assert (won.status, won.stage.name) == ("won", "Intake")
    assert won.closed_at == datetime(2026, 2, 16, 15, 30, tzinfo=UTC)
    lost = Deal.objects.get(external_id="303")
    assert (lost.status, lost.lost_reason, lost.lost_note) == ("lost", "price", "Too expensive")
    assert lost.amount == Decimal(4500)


BAD_DEALS = (
    "Deal Name,Deal Stage,Amount,Close Date,Associated Company\n"
    "Good,Appointment Scheduled,100,2026-01-31,Acme\n"
    "Bad date,Appointment Scheduled,100,soon,Acme\n"
    "Unknown,Haggling,100,2026-01-31,Acme\n"
)


def test_bad_rows_stop_the_import_unless_skipping_them_is_accepted(
    mary: User, new_business: SalesProcess
) -> None:
    stage_map = {"Appointment Scheduled": "Qualify"}
    run = import_run(by=mary, file=csv_file(BAD_DEALS), kind="deals", stage_map=stage_map)
    assert run.status == RunStatus.FAILED
    assert _counts(run) == (1, 0, 0, 2)
    assert run.errors == [
        [3, "Close Date", "'soon' is not a date (e.g. 2026-12-31 or 31/12/2026)"],
        [4, "Deal Stage", "unknown stage 'Haggling': map it to a stage of the process"],
    ]
    assert run.unknown_stages == ["Haggling"]
    assert "3,Close Date" in run.rejected_csv
    # A byte-order mark first, for Excel; then line, column, reason and the row as it was.
    assert run.rejected_csv.splitlines()[0].startswith("\ufeffline,column,reason,Deal Name")
    assert not Deal.objects.exists() and not Company.objects.exists()

    run = import_run(
        by=mary, file=csv_file(BAD_DEALS), kind="deals", stage_map=stage_map, skip_bad=True
    )
    assert run.status == RunStatus.COMMITTED
    assert list(Deal.objects.values_list("name", flat=True)) == ["Good"]


def test_an_interrupted_import_leaves_nothing_behind(
    mary: User, new_business: SalesProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = services.rows_load

    def failing(**kwargs: object) -> None:
        calls.append(kwargs["model"])
        if len(calls) == 3:  # companies and deals written; the stage history loses the link
            raise DatabaseError("server closed the connection unexpectedly")
        real(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(services, "rows_load", failing)
    file = fixture_file("hubspot_deals.csv")
    with pytest.raises(DatabaseError):
        import_run(by=mary, file=file, kind="deals", stage_map=HUBSPOT_STAGES)
    assert calls[-1] is StageChange
    assert not Deal.objects.exists()
    assert not Company.objects.exists()
    assert not StageChange.objects.exists()
    run = ImportRun.objects.get()
    assert run.status == RunStatus.FAILED
    assert "none of it was written" in run.failure


def test_closing_the_steps_midway_writes_nothing_and_says_so(
    mary: User, new_business: SalesProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "CHUNK", 1)
    steps = import_steps(
        by=mary, file=fixture_file("hubspot_deals.csv"), kind="deals", stage_map=HUBSPOT_STAGES
    )
    for step in steps:
        if step == Step("Writing deals", 2, 4):
            break
    assert Deal.objects.count() == 2
    steps.close()  # what the web page does when the browser goes away
    assert not Deal.objects.exists()
    assert not Company.objects.exists()
    run = ImportRun.objects.get()
    assert run.status == RunStatus.FAILED
    assert run.failure == (
        "The import was interrupted before it finished, so none of it was written."
    )


def test_import_run_reports_each_step_it_takes(mary: User, new_business: SalesProcess) -> None:
    seen: list[tuple[str, int, int]] = []
    file = fixture_file("hubspot_deals.csv")
    import_run(
        by=mary,
        file=file,
        kind="deals",
        stage_map=HUBSPOT_STAGES,
        progress=lambda *step: seen.append(step),
    )
    phases = list(dict.fromkeys(phase for phase, _, _ in seen))
    assert phases == [
        "Reading",
        "Checking",
        "Matching",
        "Writing new companies",
        "Writing deals",
        "Writing stage history",
        "Finishing",
    ]
    assert ("Writing deals", 4, 4) in seen


def test_companies_upsert_by_external_id_then_domain(mia: User) -> None:
    Company.objects.create(name="Acme Old Name", domain="acme.example")
    text = (
        "external_id,name,domain,industry\n"
        "C1,Acme,https://www.acme.example/,Retail\n"
        "C2,Globex,globex.example,\n"
    )
    run = import_run(by=mia, file=csv_file(text), kind="companies")
    assert _counts(run) == (1, 1, 0, 0)
    acme = Company.objects.get(domain="acme.example")
    assert (acme.name, acme.external_id, acme.industry) == ("Acme", "C1", "Retail")
    again = import_run(by=mia, file=csv_file(text), kind="companies")
    assert _counts(again) == (0, 0, 2, 0)


def test_contacts_upsert_by_email_and_find_their_company(mia: User) -> None:
    text = (
        "First Name,Last Name,Email,Associated Company,Job Title\n"
        "Dana,Buyer,Dana@Globex.example,Globex,CFO\n"
        "Lee,Ng,lee@acme.example,Acme,\n"
    )
    run = import_run(by=mia, file=csv_file(text), kind="contacts")
    assert (run.preset, _counts(run)) == ("hubspot", (2, 0, 0, 0))
    dana = Contact.objects.get(email="dana@globex.example")
    assert (dana.company.name, dana.title) == ("Globex", "CFO")
    assert Company.objects.count() == 2
    again = import_run(by=mia, file=csv_file(text.replace("CFO", "CEO")), kind="contacts")
    assert _counts(again) == (0, 1, 1, 0)
    assert Contact.objects.get(pk=dana.pk).title == "CEO"


def test_activities_are_matched_by_what_when_who_and_on_what(
    mary: User, alice: User, deal: Deal
) -> None:
    deal.external_id = "D-1"
    deal.save()
    text = (
        "type,at,by,deal,outcome,notes\n"
        "Phone call,2026-02-03 10:00,alice,D-1,connected,Talked budget\n"
        "Meeting,2026-02-10 14:00,alice,Acme rollout,held,\n"
        "Carrier pigeon,2026-02-11 14:00,alice,D-1,,\n"
        "Call,2026-02-12 14:00,alice,D-404,,\n"
    )
    run = import_run(by=mary, file=csv_file(text), kind="activities", skip_bad=True)
    assert _counts(run) == (2, 0, 0, 2)
    reasons = {(line, column): reason for line, column, reason in run.errors}
    assert "not an activity type" in reasons[(4, "type")]
    assert reasons[(5, "deal")] == "no deal 'D-404' in Keel"
    call = Activity.objects.get(type="call")
    assert (call.by, call.deal, call.company, call.outcome) == (
        alice,
        deal,
        deal.company,
        "connected",
    )
    again = import_run(by=mary, file=csv_file(text), kind="activities", skip_bad=True)
    assert _counts(again) == (0, 0, 2, 2)


def test_who_may_import_what(alice: User, mia: User) -> None:
    with pytest.raises(NotAllowed):
        import_run(by=alice, file=csv_file("name\nAcme\n"), kind="companies")
    with pytest.raises(NotAllowed):
        import_run(by=mia, file=csv_file("Deal Name,Deal Stage\nA,Qualify\n"), kind="deals")
    assert not ImportRun.objects.exists()


def test_a_manager_imports_only_into_their_own_teams_book(
    mary: User, sam: User, alice: User, new_business: SalesProcess
) -> None:
    from keel.crm.tests.factories import CompanyFactory
    from keel.pipeline.services import deal_create

    south = deal_create(
        by=sam, name="South deal", company=CompanyFactory(name="Southco"), process=new_business
    )
    Deal.objects.filter(pk=south.pk).update(external_id="S-1")
    file = csv_file(
        "external_id,name,company,owner,amount,stage\n"
        "S-1,South deal,Southco,mary,999,Qualify\n"  # another team's deal
        "N-1,New for Sam,Northco,sam,10,Qualify\n"  # a deal given to another team's seller
        "N-2,New for Alice,Northco,alice,10,Qualify\n"  # fine: Alice is on Mary's team
    )
    run = import_run(by=mary, file=file, kind="deals", mapping="keel", skip_bad=True)
    assert {(line, column) for line, column, _ in run.errors} == {(2, "external_id"), (3, "owner")}
    south.refresh_from_db()
    assert (south.owner, south.amount) == (sam, None)
    assert list(
        Deal.objects.filter(external_id__startswith="N-").values_list("name", flat=True)
    ) == ["New for Alice"]


def test_a_deal_saved_while_the_import_runs_is_not_overwritten(
    olivia: User, new_business: SalesProcess
) -> None:
    from django.db.models import F

    from keel.core.exceptions import StaleVersion

    import_run(
        by=olivia,
        file=csv_file("external_id,name,company,stage\nD1,Acme,Acme,Qualify\n"),
        kind="deals",
    )
    later = csv_file("external_id,name,company,stage,amount\nD1,Acme,Acme,Qualify,900\n")
    steps = import_steps(by=olivia, file=later, kind="deals")
    for step in steps:
        if step.phase.startswith("Writing"):
            break
    # Someone saves the deal after the import read it and before it writes.
    Deal.objects.filter(external_id="D1").update(version=F("version") + 1, next_step="mine")
    with pytest.raises(StaleVersion, match="changed in Keel while the import ran"):
        list(steps)
    run = ImportRun.objects.latest("pk")
    assert run.status == RunStatus.FAILED and "run it again" in run.failure
    assert Deal.objects.get(external_id="D1").amount is None  # nothing of the import landed


def test_rejected_rows_are_safe_to_open_in_a_spreadsheet(mary: User, new_business) -> None:
    file = csv_file("external_id,name,company,stage\nX1,=HYPERLINK(1),Acme,Nowhere\n")
    run = import_run(by=mary, file=file, kind="deals", mapping="keel")
    assert run.rejected == 1
    assert "'=HYPERLINK(1)" in run.rejected_csv
