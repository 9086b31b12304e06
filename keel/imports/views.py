"""The import pages: upload → map columns and stages → dry run → commit → the run's page.

Who may import what is decided by imports/access.py, on every page and again in the
service. The dry run and the commit run in the request: an import of tens of thousands of
rows takes seconds (see bench/imports.py), so their answer is a streamed page that shows
the service's steps as they happen and then sends the browser on to the next page. No
worker is involved; closing the page stops the import, and then nothing of it is written.
"""

import json
import logging
import time
from collections.abc import Generator, Iterator

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from keel.accounts.models import User
from keel.core.exceptions import InvalidInput, KeelError, NotAllowed
from keel.imports.access import can_import, importable_kinds, run_visible, runs_visible_to
from keel.imports.forms import MappingForm, UploadForm
from keel.imports.models import ImportRun, RunStatus
from keel.imports.presets import field_specs
from keel.imports.selectors import process_stage_names, run_preview
from keel.imports.services import ImportFile, Step, import_steps, import_upload
from keel.pipeline.models import SalesProcess
from keel.web.lists import listing

SORTS = {"created": ("created_at", "id"), "file": ("file_name", "id")}
SHOWN_PROBLEMS = 200
STEP_SECONDS = 0.3  # at most one progress update a phase in this time
STEPS_MARK = "<!-- steps -->"

# Where Django reports a view's exception (and mails the admins): past the 200, ours to do.
request_logger = logging.getLogger("django.request")


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    return request.user


def _importer(request: HttpRequest, kind: str | None = None) -> User:
    user = _user(request)
    if not can_import(user, kind):
        raise PermissionDenied
    return user


@require_safe
@login_required
def run_list(request: HttpRequest) -> HttpResponse:
    user = _importer(request)
    runs = runs_visible_to(user).select_related("by")
    page = listing(request=request, queryset=runs, sorts=SORTS, default="-created")
    return render(request, "imports/run_list.html", {"listing": page})


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def run_upload(request: HttpRequest) -> HttpResponse:
    user = _importer(request)
    kinds = importable_kinds(user)
    if request.method != "POST":
        form = UploadForm(kinds=kinds)
        return render(request, "imports/upload.html", {"form": form})
    form = UploadForm(request.POST, request.FILES, kinds=kinds)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        file = ImportFile(name=upload.name or "upload", data=upload.read())
        try:
            run = import_upload(by=user, file=file, kind=form.cleaned_data["kind"])
        except NotAllowed:
            raise PermissionDenied from None
        except InvalidInput as error:
            form.add_error("file", error.message)
        else:
            return redirect("imports:run_map", pk=run.pk)
    return render(request, "imports/upload.html", {"form": form}, status=400)


def _mapping_form(request: HttpRequest, run: ImportRun) -> MappingForm:
    preview = run_preview(run=run)
    process = run.process or SalesProcess.objects.filter(name="New business").first()
    if request.method == "POST" and run.kind == "deals":
        chosen = request.POST.get("process", "")
        if chosen.isdigit():
            process = SalesProcess.objects.filter(pk=int(chosen)).first() or process
    by_header = {header: field for field, header in run.mapping.items()}
    initial = {f"column_{i}": by_header.get(h, "") for i, h in enumerate(preview.headers)}
    initial.update(process=process, date_format=run.date_format)
    form = MappingForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        kind=run.kind,
        headers=preview.headers,
        samples=preview.samples,
        stage_names=preview.stage_names,
        process_stages=process_stage_names(process=process),
    )
    for name, stage in form.stage_fields.items():
        form.initial[name] = run.stage_map.get(stage, "")
    return form


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def run_map(request: HttpRequest, pk: int) -> HttpResponseBase:
    run = run_visible(user=_user(request), pk=pk)
    user = _importer(request, run.kind)
    if run.status not in (RunStatus.UPLOADED, RunStatus.DRY_RUN) or not run.source:
        messages.info(request, "This import is finished; upload the file again to redo it.")
        return redirect("imports:run_detail", pk=run.pk)
    form = _mapping_form(request, run)
    if request.method == "POST" and form.is_valid():
        mapping = {
            name: form.cleaned_data["mapping"].get(name, "") for name in field_specs(run.kind)
        }
        steps = import_steps(
            by=user,
            file=ImportFile(name=run.file_name, data=bytes(run.source)),
            kind=run.kind,
            mapping=mapping,
            stage_map=form.cleaned_data["stage_map"],
            process=form.cleaned_data.get("process"),
            date_format=form.cleaned_data["date_format"],
            dry_run=True,
            run=run,
        )
        back = reverse("imports:run_map", args=[run.pk])
        heading = f"Checking {run.file_name}"
        return _progress_page(request, run=run, heading=heading, steps=steps, back=back)
    status = 400 if request.method == "POST" else 200
    return render(request, "imports/map.html", {"run": run, "form": form}, status=status)


@require_safe
@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    run = run_visible(user=user, pk=pk)
    context = {
        "run": run,
        "problems": run.errors[:SHOWN_PROBLEMS],
        "more_problems": max(0, len(run.errors) - SHOWN_PROBLEMS),
        "can_commit": run.status == RunStatus.DRY_RUN
        and bool(run.source)
        and can_import(user, run.kind),
    }
    return render(request, "imports/run_detail.html", context)


@require_POST
@login_required
def run_commit(request: HttpRequest, pk: int) -> HttpResponseBase:
    run = run_visible(user=_user(request), pk=pk)
    user = _importer(request, run.kind)
    if run.status != RunStatus.DRY_RUN or not run.source:
        messages.error(request, "Only a checked import that has not been committed can be.")
        return redirect("imports:run_detail", pk=run.pk)
    skip_bad = request.POST.get("skip_bad") == "1"
    mapping = {name: run.mapping.get(name, "") for name in field_specs(run.kind)}
    steps = import_steps(
        by=user,
        file=ImportFile(name=run.file_name, data=bytes(run.source)),
        kind=run.kind,
        mapping=mapping,
        stage_map=run.stage_map,
        process=run.process,
        date_format=run.date_format,
        skip_bad=skip_bad,
        run=run,
    )
    back = reverse("imports:run_detail", args=[run.pk])
    heading = f"Importing {run.file_name}"
    return _progress_page(request, run=run, heading=heading, steps=steps, back=back)


def _progress_page(
    request: HttpRequest,
    *,
    run: ImportRun,
    heading: str,
    steps: Generator[Step, None, ImportRun],
    back: str,
) -> StreamingHttpResponse:
    """A page that shows `steps` as the import takes them, then sends the browser on.

    The page around the steps is rendered here, in the request, so the CSRF token and the
    session are settled before the middleware sees the response; the import itself runs as
    the body is sent. `back` is where a refused import sends the person to put it right.
    """
    page = render_to_string(
        "imports/progress.html", {"run": run, "heading": heading}, request=request
    )
    top, bottom = page.split(STEPS_MARK, 1)
    # One generator, so that closing the response (the page was left) closes the import.
    body = _progress_body(request, run=run, steps=steps, top=top, bottom=bottom, back=back)
    response = StreamingHttpResponse(body, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # a proxy such as nginx passes each step on at once
    return response


def _progress_body(
    request: HttpRequest,
    *,
    run: ImportRun,
    steps: Generator[Step, None, ImportRun],
    top: str,
    bottom: str,
    back: str,
) -> Iterator[str]:
    """The steps, then the outcome; closed early (the page was left), the import rolls back."""
    done_url = reverse("imports:run_detail", args=[run.pk])
    yield top
    try:
        run = yield from _step_scripts(steps)
    except KeelError as error:
        yield _progress_end(error.message, back, failed=True)
    except DatabaseError:
        yield _progress_end(run.failure, done_url, failed=True)
    except Exception:
        request_logger.exception(
            "Import run %s stopped while its page was streamed",
            run.pk,
            extra={"status_code": 500, "request": request},
        )
        message = "Something went wrong and the import stopped; nothing of it was written."
        yield _progress_end(message, done_url, failed=True)
    else:
        yield _progress_end(_outcome(run), done_url)
    finally:
        steps.close()  # now, not when collected: a half-done import must roll back at once
    yield bottom


def _step_scripts(steps: Generator[Step, None, ImportRun]) -> Generator[str, None, ImportRun]:
    """A JSON data block per step, at most one a phase each STEP_SECONDS; returns the run.

    Data, not a script to run: web/import-progress.js shows each as it arrives, and the
    Content Security Policy allows no inline script.
    """
    phase, sent = "", 0.0
    while True:
        try:
            step = next(steps)
        except StopIteration as finished:
            run: ImportRun = finished.value
            return run
        now = time.monotonic()
        if step.phase != phase or now - sent >= STEP_SECONDS:
            phase, sent = step.phase, now
            data = json.dumps(list(step)).replace("<", "\\u003c")
            yield f'<script type="application/json" class="import-step">{data}</script>\n'


def _outcome(run: ImportRun) -> str:
    if run.status == RunStatus.COMMITTED:
        return f"Imported: {run.created} created, {run.updated} updated, {run.unchanged} unchanged."
    if run.status == RunStatus.DRY_RUN:
        return f"Checked: {run.created} to create, {run.updated} to update, {run.rejected} bad."
    return run.failure


def _progress_end(message: str, url: str, *, failed: bool = False) -> str:
    link = "Back to the import" if failed else "Continue"
    context = {"message": message, "url": url, "link": link, "failed": failed}
    return render_to_string("imports/progress_end.html", context)


@require_safe
@login_required
def run_rejected(request: HttpRequest, pk: int) -> HttpResponse:
    run = run_visible(user=_user(request), pk=pk)
    response = HttpResponse(run.rejected_csv, content_type="text/csv; charset=utf-8")
    name = run.file_name.rsplit(".", 1)[0]
    disposition = content_disposition_header(True, f"{name}-rejected.csv")
    response["Content-Disposition"] = disposition or "attachment"
    return response
