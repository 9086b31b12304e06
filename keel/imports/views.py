"""The import pages: upload → map columns and stages → dry run → commit → the run's page.

Who may import what is decided by imports/access.py, on every page and again in the
service. The commit runs in the request: an import of tens of thousands of rows takes
seconds (see bench/imports.py), and the run's page shows the outcome when it returns.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from keel.accounts.models import User
from keel.core.exceptions import InvalidInput, NotAllowed
from keel.imports.access import can_import, importable_kinds, run_visible, runs_visible_to
from keel.imports.forms import MappingForm, UploadForm
from keel.imports.models import ImportRun, RunStatus
from keel.imports.presets import field_specs
from keel.imports.selectors import process_stage_names, run_preview
from keel.imports.services import ImportFile, import_run, import_upload
from keel.pipeline.models import SalesProcess
from keel.web.lists import listing

SORTS = {"created": ("created_at", "id"), "file": ("file_name", "id")}
SHOWN_PROBLEMS = 200


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
def run_map(request: HttpRequest, pk: int) -> HttpResponse:
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
        try:
            import_run(
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
        except NotAllowed:
            raise PermissionDenied from None
        except InvalidInput as error:
            form.add_error(None, error.message)
        else:
            return redirect("imports:run_detail", pk=run.pk)
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
def run_commit(request: HttpRequest, pk: int) -> HttpResponse:
    run = run_visible(user=_user(request), pk=pk)
    user = _importer(request, run.kind)
    if run.status != RunStatus.DRY_RUN or not run.source:
        messages.error(request, "Only a checked import that has not been committed can be.")
        return redirect("imports:run_detail", pk=run.pk)
    skip_bad = request.POST.get("skip_bad") == "1"
    mapping = {name: run.mapping.get(name, "") for name in field_specs(run.kind)}
    try:
        run = import_run(
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
    except NotAllowed:
        raise PermissionDenied from None
    except InvalidInput as error:
        messages.error(request, error.message)
        return redirect("imports:run_detail", pk=run.pk)
    if run.status == RunStatus.COMMITTED:
        messages.success(request, f"Imported: {run.created} created, {run.updated} updated.")
    else:
        messages.error(request, run.failure)
    return redirect("imports:run_detail", pk=run.pk)


@require_safe
@login_required
def run_rejected(request: HttpRequest, pk: int) -> HttpResponse:
    run = run_visible(user=_user(request), pk=pk)
    response = HttpResponse(run.rejected_csv, content_type="text/csv; charset=utf-8")
    name = run.file_name.rsplit(".", 1)[0].replace('"', "")
    response["Content-Disposition"] = f'attachment; filename="{name}-rejected.csv"'
    return response
