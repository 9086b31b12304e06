"""The library pages: search and filters, a piece's page with its versions, the forms that
keep it, a salesperson's "submit a tool I made", and the file download.

Every page fetches through collateral/access.py: a piece a person may not see is a 404
(its existence is not told), a change they may not make a 403. Files are streamed
through the storage API, never linked to where they are stored.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from keel.accounts.models import User
from keel.collateral.access import (
    can_change,
    can_keep,
    can_read_reports,
    can_submit,
    collateral_visible,
)
from keel.collateral.files import INLINE_TYPES
from keel.collateral.forms import CollateralForm, LibraryFilterForm, SubmitForm, UploadForm
from keel.collateral.models import Collateral, CollateralFile
from keel.collateral.selectors import COLLATERAL_SORTS, collateral_search
from keel.collateral.services import (
    collateral_activate,
    collateral_create,
    collateral_retire,
    collateral_submit,
    collateral_update,
    collateral_upload,
)
from keel.core.exceptions import InvalidInput, NotAllowed, StaleVersion
from keel.planning.forms import version_token
from keel.web.forms import refusal_show, stale_data, stale_show
from keel.web.lists import listing

FORM_METHODS = ["GET", "HEAD", "POST"]


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    return request.user


def _visible(user: User, pk: int) -> Collateral:
    return get_object_or_404(collateral_visible(user).select_related("owner"), pk=pk)


# --- reading ----------------------------------------------------------------------------------


@require_safe
@login_required
def library(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    filters = LibraryFilterForm(request.GET)
    chosen = filters.filters()
    pieces = collateral_search(user=user, **chosen)
    page = listing(
        request=request,
        queryset=pieces,
        sorts=COLLATERAL_SORTS if chosen["q"] else {**COLLATERAL_SORTS, "relevance": ("title",)},
        default="relevance" if chosen["q"] else "title",
    )
    context = {
        "listing": page,
        "filters": filters,
        "may_keep": can_keep(user),
        "may_submit": can_submit(user),
        "may_report": can_read_reports(user),
    }
    return render(request, "collateral/library_list.html", context)


@require_safe
@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    collateral = _visible(user, pk)
    versions = collateral.files.select_related("uploaded_by").order_by("-number")
    context = {
        "collateral": collateral,
        "versions": list(versions),
        "uses": collateral.uses.count(),
        "may_keep": can_keep(user),
        "may_change": can_change(user, collateral),
        "upload_form": UploadForm(),
    }
    return render(request, "collateral/library_detail.html", context)


@require_safe
@login_required
def file(request: HttpRequest, pk: int, number: int) -> FileResponse:
    user = _user(request)
    collateral = _visible(user, pk)
    version = get_object_or_404(CollateralFile, collateral=collateral, number=number)
    try:
        content = version.file.open("rb")
    except FileNotFoundError:
        raise Http404("This version's file is missing from storage.") from None
    inline = version.content_type in INLINE_TYPES
    response = FileResponse(
        content,
        as_attachment=not inline,
        filename=version.name,
        content_type=version.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- writing ----------------------------------------------------------------------------------


def _keeper(request: HttpRequest) -> User:
    user = _user(request)
    if not can_keep(user):
        raise PermissionDenied("Marketers, sales managers and the owner keep the library.")
    return user


@require_http_methods(FORM_METHODS)
@login_required
def new(request: HttpRequest) -> HttpResponseBase:
    user = _keeper(request)
    form = CollateralForm(request.POST or None, initial={"owner": user})
    if request.method == "POST" and form.is_valid():
        try:
            created = collateral_create(by=user, **form.service_data())
        except NotAllowed:
            raise PermissionDenied from None
        except InvalidInput as error:
            refusal_show(form, error)
        else:
            messages.success(request, f"{created} was added as a draft.")
            return redirect("collateral:detail", pk=created.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "collateral": None, "submitting": False}
    return render(request, "collateral/library_form.html", context, status=status)


@require_http_methods(FORM_METHODS)
@login_required
def submit(request: HttpRequest) -> HttpResponseBase:
    user = _user(request)
    if not can_submit(user):
        raise PermissionDenied("People who sell may submit the tools they made.")
    form = SubmitForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = collateral_submit(
                by=user,
                title=data["title"],
                kind=data["kind"],
                description=data["description"],
                stages=data["stages"],
                buyer_steps=data["buyer_steps"],
                url=data["url"],
                uploaded=data["file"],
            )
        except NotAllowed:
            raise PermissionDenied from None
        except InvalidInput as error:
            refusal_show(form, error)
        else:
            messages.success(request, f"{created} was submitted: marketing will review it.")
            return redirect("collateral:detail", pk=created.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "collateral": None, "submitting": True}
    return render(request, "collateral/library_form.html", context, status=status)


@require_http_methods(FORM_METHODS)
@login_required
def edit(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = _user(request)
    collateral = _visible(user, pk)
    if not can_change(user, collateral):
        raise PermissionDenied("Only the library's keepers, or a draft's submitter, edit it.")
    form = CollateralForm(request.POST or None, instance=collateral)
    if not can_keep(user):
        # A submitter edits what their draft is, not whose it is.
        del form.fields["owner"]
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                collateral_update(
                    collateral=collateral,
                    by=user,
                    data=form.service_data(),
                    expected_updated_at=form.cleaned_data["version"],
                )
            except NotAllowed:
                raise PermissionDenied from None
            except StaleVersion as error:
                # The input is kept, on the version now stored: saving again is a choice.
                current = Collateral.objects.get(pk=pk)
                form = CollateralForm(stale_data(request, version_token(current)), instance=current)
                form.is_valid()
                stale_show(form, error)
                status = 409
            except InvalidInput as error:
                refusal_show(form, error)
            else:
                messages.success(request, f"{form.cleaned_data['title']} was saved.")
                return redirect("collateral:detail", pk=pk)
    context = {"form": form, "collateral": Collateral.objects.get(pk=pk), "submitting": False}
    return render(request, "collateral/library_form.html", context, status=status)


@require_http_methods(FORM_METHODS)
@login_required
def upload(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = _user(request)
    collateral = _visible(user, pk)
    if not can_change(user, collateral):
        raise PermissionDenied("Only the library's keepers, or a draft's submitter, upload.")
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            version = collateral_upload(
                collateral=collateral, by=user, uploaded=form.cleaned_data["file"]
            )
        except NotAllowed:
            raise PermissionDenied from None
        except InvalidInput as error:
            refusal_show(form, error)
        else:
            messages.success(request, f"Version {version.number} of {collateral} was uploaded.")
            return redirect("collateral:detail", pk=pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "collateral": collateral}
    return render(request, "collateral/library_upload.html", context, status=status)


@require_POST
@login_required
def activate(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = _user(request)
    collateral = _visible(user, pk)
    if not can_keep(user):
        raise PermissionDenied("Marketers, sales managers and the owner activate collateral.")
    try:
        collateral_activate(collateral=collateral, by=user)
    except InvalidInput as error:
        messages.error(request, " ".join([error.message, *error.details]))
    else:
        messages.success(request, f"{collateral} is active: salespeople can find and send it.")
    return redirect("collateral:detail", pk=pk)


@require_POST
@login_required
def retire(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = _user(request)
    collateral = _visible(user, pk)
    if not can_keep(user):
        raise PermissionDenied("Marketers, sales managers and the owner retire collateral.")
    collateral_retire(collateral=collateral, by=user)
    messages.success(request, f"{collateral} was retired; its uses stay on record.")
    return redirect("collateral:detail", pk=pk)
