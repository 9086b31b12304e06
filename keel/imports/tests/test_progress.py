"""The page a dry run and a commit stream while they run: progress, outcome, interruption."""

from collections.abc import Iterator

import pytest
from django.core.signals import request_finished
from django.db import DatabaseError, close_old_connections
from django.http import StreamingHttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse

from keel.accounts.models import User
from keel.crm.models import Company
from keel.imports import records, services, views
from keel.imports.models import ImportRun, RunStatus
from keel.imports.services import import_run, import_upload
from keel.imports.tests.conftest import HUBSPOT_STAGES, fixture_file
from keel.pipeline.models import Deal, SalesProcess, StageChange


@pytest.fixture
def checked(mary: User, new_business: SalesProcess) -> ImportRun:
    """HubSpot's four deals, uploaded and dry-run: ready to commit."""
    file = fixture_file("hubspot_deals.csv")
    run = import_upload(by=mary, file=file, kind="deals")
    return import_run(
        by=mary, file=file, kind="deals", stage_map=HUBSPOT_STAGES, dry_run=True, run=run
    )


@pytest.fixture
def every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """Report after each row and send every report, so a four-deal file shows them all."""
    monkeypatch.setattr(records, "PROGRESS_ROWS", 1)
    monkeypatch.setattr(services, "CHUNK", 1)
    monkeypatch.setattr(views, "STEP_SECONDS", 0)


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _chunks(response: object) -> Iterator[str]:
    assert isinstance(response, StreamingHttpResponse)
    for chunk in response.streaming_content:
        assert isinstance(chunk, bytes)
        yield chunk.decode()


@pytest.mark.usefixtures("every_step")
def test_a_commit_streams_its_progress_then_sends_the_browser_to_the_run(
    mary: User, checked: ImportRun
) -> None:
    response = _client(mary).post(reverse("imports:run_commit", args=[checked.pk]))
    assert response.status_code == 200
    assert response["X-Accel-Buffering"] == "no"
    chunks = list(_chunks(response))
    page = "".join(chunks)
    top = chunks[0]
    # The page and its progress bar arrive before the import has done anything.
    assert '<label for="import-bar">Progress</label>' in top
    assert '<progress id="import-bar"' in top
    assert 'role="status" aria-live="polite"' in top
    assert "Importing hubspot_deals.csv" in top
    for step in (
        '["Reading", 0, 0]',
        '["Checking", 4, 4]',
        '["Matching", 0, 0]',
        '["Writing deals", 2, 4]',
        '["Writing stage history", 0, 10]',
        '["Finishing", 0, 0]',
    ):
        assert f'<script type="application/json" class="import-step">{step}</script>' in page
    detail = reverse("imports:run_detail", args=[checked.pk])
    assert "Imported: 4 created, 0 updated, 0 unchanged." in page
    assert f'<a class="btn primary" href="{detail}">Continue</a>' in page
    assert f'<meta http-equiv="refresh" content="1;url={detail}">' in page
    assert f'<div class="import-end" data-phase="Done" data-go="{detail}">' in page
    assert page.rstrip().endswith("</html>")
    checked.refresh_from_db()
    assert checked.status == RunStatus.COMMITTED
    assert Deal.objects.count() == 4


def test_progress_is_sent_at_most_once_a_phase_in_a_while(
    mary: User, checked: ImportRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(records, "PROGRESS_ROWS", 1)
    monkeypatch.setattr(services, "CHUNK", 1)
    response = _client(mary).post(reverse("imports:run_commit", args=[checked.pk]))
    page = "".join(_chunks(response))
    assert page.count('class="import-step">["Checking"') == 1
    assert page.count('class="import-step">["Writing deals"') == 1
    assert Deal.objects.count() == 4


@pytest.mark.usefixtures("every_step")
def test_a_dry_run_streams_its_progress_too(mary: User, new_business: SalesProcess) -> None:
    file = fixture_file("hubspot_deals.csv")
    run = import_upload(by=mary, file=file, kind="deals")
    client = _client(mary)
    form = client.get(reverse("imports:run_map", args=[run.pk])).context["form"]
    data = {name: form[name].value() or "" for name in form.column_names}
    data.update(process=str(new_business.pk), date_format="")
    data.update({name: HUBSPOT_STAGES[stage] for name, stage in form.stage_fields.items()})
    response = client.post(reverse("imports:run_map", args=[run.pk]), data)
    page = "".join(_chunks(response))
    assert "Checking hubspot_deals.csv" in page
    assert 'class="import-step">["Checking", 2, 4]</script>' in page
    assert "Writing" not in page
    assert "Checked: 4 to create, 0 to update, 0 bad." in page
    run.refresh_from_db()
    assert run.status == RunStatus.DRY_RUN
    assert not Deal.objects.exists()


def test_a_file_that_cannot_be_read_ends_the_page_with_why(mary: User, checked: ImportRun) -> None:
    checked.file_name, checked.source = "deals.xlsx", b"PK\x03\x04garbage"
    checked.save()
    response = _client(mary).post(reverse("imports:run_commit", args=[checked.pk]))
    page = "".join(_chunks(response))
    assert 'role="alert"' in page
    assert "xlsx" in page.lower()
    detail = reverse("imports:run_detail", args=[checked.pk])
    assert f'href="{detail}">Back to the import</a>' in page
    assert "data-go=" not in page  # the person reads why before going on
    assert page.rstrip().endswith("</html>")
    assert not Deal.objects.exists()


def test_a_database_failure_ends_the_page_with_why_and_writes_nothing(
    mary: User, checked: ImportRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = services.rows_load

    def failing(**kwargs: object) -> None:
        if kwargs["model"] is StageChange:
            raise DatabaseError("server closed the connection unexpectedly")
        real(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(services, "rows_load", failing)
    response = _client(mary).post(reverse("imports:run_commit", args=[checked.pk]))
    page = "".join(_chunks(response))
    assert "The database refused the batch, so none of it was written" in page
    assert f'href="{reverse("imports:run_detail", args=[checked.pk])}"' in page
    checked.refresh_from_db()
    assert checked.status == RunStatus.FAILED
    assert not Deal.objects.exists() and not Company.objects.exists()


@pytest.mark.usefixtures("every_step")
def test_leaving_the_page_midway_rolls_the_import_back(
    mary: User, checked: ImportRun, rf: RequestFactory
) -> None:
    # Called as a WSGI server would, which closes the response when the browser goes away
    # (the test client's stand-in for that would close the test's own connection too).
    request = rf.post(reverse("imports:run_commit", args=[checked.pk]))
    request.user = mary
    response = views.run_commit(request, pk=checked.pk)
    chunks = _chunks(response)
    seen = ""
    while '"Writing deals", 2, 4' not in seen:
        seen += next(chunks)
    assert Deal.objects.count() == 2  # half the batch is in, not yet committed
    request_finished.disconnect(close_old_connections)  # the test's transaction stays open
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)
    assert not Deal.objects.exists()
    assert not Company.objects.exists()
    assert not StageChange.objects.exists()
    checked.refresh_from_db()
    assert checked.status == RunStatus.FAILED
    assert "interrupted" in checked.failure


def test_the_commit_still_needs_the_csrf_token(mary: User, checked: ImportRun) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(mary)
    url = reverse("imports:run_commit", args=[checked.pk])
    assert client.post(url).status_code == 403
    detail = client.get(reverse("imports:run_detail", args=[checked.pk]))
    token = detail.context["csrf_token"]
    response = client.post(url, {"csrfmiddlewaretoken": str(token)})
    assert response.status_code == 200
    "".join(_chunks(response))
    assert Deal.objects.count() == 4
