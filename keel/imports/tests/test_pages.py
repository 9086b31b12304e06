"""The web flow end to end with the test client, and who may use it."""

from collections.abc import Mapping

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import reverse

from keel.accounts.models import User
from keel.crm.models import Company
from keel.imports.models import ImportRun, RunStatus
from keel.imports.services import import_upload
from keel.imports.tests.conftest import FILES, csv_file
from keel.pipeline.models import Deal, SalesProcess


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _upload(client: Client, name: str, kind: str) -> ImportRun:
    upload = SimpleUploadedFile(name, (FILES / name).read_bytes(), content_type="text/csv")
    response = client.post(reverse("imports:run_upload"), {"file": upload, "kind": kind})
    run = ImportRun.objects.latest("id")
    assert response.status_code == 302
    assert response["Location"] == reverse("imports:run_map", args=[run.pk])
    return run


def _streamed(client: Client, url: str, data: Mapping[str, str] | None = None) -> str:
    """POST to a page that streams an import's progress, and the page once it has run."""
    response = client.post(url, data or {})
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/html; charset=utf-8"
    return b"".join(response.streaming_content).decode()  # type: ignore[arg-type]


def _map_post(client: Client, run: ImportRun, stage_map: dict[str, str]) -> dict[str, str]:
    """The mapping page's form as shown, with the given stages chosen."""
    page = client.get(reverse("imports:run_map", args=[run.pk]))
    assert page.status_code == 200
    form = page.context["form"]
    data = {name: form[name].value() or "" for name in form.column_names}
    data["process"] = str(SalesProcess.objects.get(name="New business").pk)
    data["date_format"] = ""
    for name, stage in form.stage_fields.items():
        data[name] = stage_map.get(stage, "")
    return data


def test_upload_map_dry_run_commit_and_again(mary: User, new_business: SalesProcess) -> None:
    client = _client(mary)
    run = _upload(client, "hubspot_deals.csv", "deals")
    assert run.preset == "hubspot"
    page = client.get(reverse("imports:run_map", args=[run.pk]))
    assert "Their stage “Closed Won”" in page.content.decode()

    # Leaving one stage unmapped: the dry run rejects its rows and names it.
    stages = {
        "Appointment Scheduled": "Qualify",
        "Qualified To Buy": "1st meeting",
        "Contract Sent": "Proposal",
        "Closed Won": "Intake",
    }
    page = _streamed(
        client, reverse("imports:run_map", args=[run.pk]), _map_post(client, run, stages)
    )
    assert 'data-go="/imports/' in page
    run.refresh_from_db()
    assert (run.status, run.created, run.rejected, run.unknown_stages) == (
        RunStatus.DRY_RUN,
        3,
        1,
        ["Closed Lost"],
    )
    detail = client.get(reverse("imports:run_detail", args=[run.pk])).content.decode()
    assert "Commit, skipping 1 bad row" in detail
    assert "unknown stage &#x27;Closed Lost&#x27;" in detail
    rejected = client.get(reverse("imports:run_rejected", args=[run.pk]))
    assert rejected["Content-Type"].startswith("text/csv")
    assert b"Closed Lost" in rejected.content

    stages["Closed Lost"] = "Lost"
    _streamed(client, reverse("imports:run_map", args=[run.pk]), _map_post(client, run, stages))
    run.refresh_from_db()
    assert (run.created, run.rejected) == (4, 0)
    assert not Deal.objects.exists()
    _streamed(client, reverse("imports:run_commit", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == RunStatus.COMMITTED
    assert Deal.objects.count() == 4
    assert "Committed" in client.get(reverse("imports:run_detail", args=[run.pk])).content.decode()
    # Committed runs are not committed twice.
    response = client.post(reverse("imports:run_commit", args=[run.pk]))
    assert response.status_code == 302
    assert Deal.objects.count() == 4

    again = _upload(client, "hubspot_deals.csv", "deals")
    _streamed(client, reverse("imports:run_map", args=[again.pk]), _map_post(client, again, stages))
    _streamed(client, reverse("imports:run_commit", args=[again.pk]))
    again.refresh_from_db()
    assert (again.status, again.created, again.updated, again.unchanged) == (
        RunStatus.COMMITTED,
        0,
        0,
        4,
    )
    listing = client.get(reverse("imports:run_list")).content.decode()
    assert listing.count("hubspot_deals.csv") == 2


def test_committing_with_bad_rows_needs_the_explicit_skip(mary: User) -> None:
    client = _client(mary)
    text = "name,domain\nAcme,acme.example\nAcme again,acme.example\n"
    run = import_upload(by=mary, file=csv_file(text, "companies.csv"), kind="companies")
    data = {"column_0": "name", "column_1": "domain", "date_format": ""}
    _streamed(client, reverse("imports:run_map", args=[run.pk]), data)
    run.refresh_from_db()
    assert (run.created, run.rejected) == (1, 1)
    page = _streamed(client, reverse("imports:run_commit", args=[run.pk]))
    assert "1 bad row(s): nothing was written." in page
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and not Company.objects.exists()


def test_skip_bad_commits_the_good_rows(mary: User) -> None:
    client = _client(mary)
    text = "name,domain\nAcme,acme.example\nAcme again,acme.example\n"
    run = import_upload(by=mary, file=csv_file(text, "companies.csv"), kind="companies")
    _streamed(
        client,
        reverse("imports:run_map", args=[run.pk]),
        {"column_0": "name", "column_1": "domain", "date_format": ""},
    )
    _streamed(client, reverse("imports:run_commit", args=[run.pk]), {"skip_bad": "1"})
    run.refresh_from_db()
    assert run.status == RunStatus.COMMITTED
    assert list(Company.objects.values_list("name", flat=True)) == ["Acme"]


def test_a_column_chosen_twice_is_refused(mary: User) -> None:
    client = _client(mary)
    run = import_upload(by=mary, file=csv_file("a,b\nx,y\n"), kind="companies")
    response = client.post(
        reverse("imports:run_map", args=[run.pk]), {"column_0": "name", "column_1": "name"}
    )
    assert response.status_code == 400
    assert "already filled" in response.content.decode()


def test_a_file_that_is_not_csv_or_xlsx_is_refused(mary: User) -> None:
    client = _client(mary)
    upload = SimpleUploadedFile("deals.xlsx", b"PK\x03\x04garbage")
    response = client.post(reverse("imports:run_upload"), {"file": upload, "kind": "deals"})
    assert response.status_code == 400
    assert not ImportRun.objects.exists()


@pytest.mark.parametrize("who", ["alice", "sue", "vera"])
def test_sellers_and_viewers_may_not_import(who: str, request: pytest.FixtureRequest) -> None:
    client = _client(request.getfixturevalue(who))
    assert client.get(reverse("imports:run_list")).status_code == 403
    assert client.get(reverse("imports:run_upload")).status_code == 403
    upload = SimpleUploadedFile("c.csv", b"name\nAcme\n")
    response = client.post(reverse("imports:run_upload"), {"file": upload, "kind": "companies"})
    assert response.status_code == 403


def test_a_marketer_imports_accounts_but_not_deals(mia: User, mary: User) -> None:
    client = _client(mia)
    page = client.get(reverse("imports:run_upload")).content.decode()
    assert 'value="companies"' in page and 'value="deals"' not in page
    upload = SimpleUploadedFile("d.csv", b"Deal Name,Deal Stage\nA,Qualify\n")
    response = client.post(reverse("imports:run_upload"), {"file": upload, "kind": "deals"})
    assert response.status_code == 400  # not a choice offered to her
    deals_run = import_upload(
        by=mary, file=csv_file("Deal Name,Deal Stage\nA,Qualify\n"), kind="deals"
    )
    # Another person's run: not hers to see, map or commit.
    assert client.get(reverse("imports:run_detail", args=[deals_run.pk])).status_code == 404
    assert client.post(reverse("imports:run_commit", args=[deals_run.pk])).status_code == 404
    assert client.get(reverse("imports:run_rejected", args=[deals_run.pk])).status_code == 404


def test_a_manager_sees_every_run_but_a_marketer_only_hers(mia: User, olivia: User) -> None:
    run = import_upload(by=mia, file=csv_file("name\nAcme\n"), kind="companies")
    assert _client(olivia).get(reverse("imports:run_detail", args=[run.pk])).status_code == 200
    assert _client(mia).get(reverse("imports:run_detail", args=[run.pk])).status_code == 200
