"""The request pages: the list (filtered by status), asking for a tool, and a request's page
with the triage form for the library's keepers.

Everyone signed in reads every request; everyone but a viewer asks; marketers, sales
managers and the owner triage (collateral/requests.py), checked before a form is shown and
again by the service.
"""

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from keel.accounts.models import User
from keel.collateral.models import Collateral, CollateralRequest, RequestStatus, Status
from keel.collateral.reports import current_stages
from keel.collateral.requests import (
    NEXT_STATUSES,
    UNRESOLVED,
    can_request,
    can_triage,
    request_create,
    request_triage,
    requests_visible_to,
)
from keel.core.exceptions import InvalidInput, NotAllowed, StaleVersion
from keel.pipeline.access import deals_visible_to
from keel.pipeline.models import Deal
from keel.planning.forms import VersionField, version_token
from keel.web.forms import refusal_show
from keel.web.lists import listing

FORM_METHODS = ["GET", "HEAD", "POST"]
SORTS = {"asked": ("created_at",), "status": ("status", "created_at"), "what": ("what",)}
# The list's status filter: one status, the unanswered ones, or all.
FILTERS = [("unresolved", "Not answered yet"), *RequestStatus.choices, ("all", "All")]


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    return request.user


class RequestForm(forms.Form):
    what = forms.CharField(
        label="What do you need?",
        max_length=300,
        help_text="The tool and what it should answer, e.g. a case study of a logistics client.",
    )
    buyer_step = forms.CharField(
        label="For which buyer step",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"list": "buyer-steps"}),
    )
    example_deal = forms.IntegerField(
        label="An example deal (its number)",
        required=False,
        min_value=1,
        help_text="A deal where the tool would have helped; the number is in its address.",
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_example_deal(self) -> Deal | None:
        pk = self.cleaned_data.get("example_deal")
        if pk is None:
            return None
        deal = deals_visible_to(self.user).filter(pk=pk).first()
        if deal is None:
            raise forms.ValidationError(f"There is no deal #{pk} that you may see.")
        return deal


class TriageForm(forms.Form):
    status = forms.ChoiceField(label="New status")
    reason = forms.CharField(
        label="Reason",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Needed to decline: the asker reads it.",
    )
    answer = forms.ModelChoiceField(
        label="The piece that answers it (its number in the library)",
        queryset=Collateral.objects.exclude(status=Status.RETIRED),
        required=False,
        widget=forms.NumberInput(attrs={"min": 1}),
        help_text="Only when it is done.",
    )
    version = VersionField()

    def __init__(self, *args: Any, current: CollateralRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["status"]
        assert isinstance(field, forms.ChoiceField)  # noqa: S101 - declared above
        field.choices = [(s, RequestStatus(s).label) for s in NEXT_STATUSES[current.status]]
        self.fields["version"].initial = version_token(current)


@require_safe
@login_required
def request_list(request: HttpRequest) -> HttpResponseBase:
    user = _user(request)
    shown = request.GET.get("status", "unresolved")
    if shown not in dict(FILTERS):
        shown = "unresolved"
    rows = requests_visible_to(user)
    if shown == "unresolved":
        rows = rows.filter(status__in=UNRESOLVED)
    elif shown != "all":
        rows = rows.filter(status=shown)
    context = {
        "listing": listing(request=request, queryset=rows, sorts=SORTS, default="-asked"),
        "filters": FILTERS,
        "shown": shown,
        "may_ask": can_request(user),
    }
    return render(request, "collateral/request_list.html", context)


@require_http_methods(FORM_METHODS)
@login_required
def request_new(request: HttpRequest) -> HttpResponseBase:
    user = _user(request)
    if not can_request(user):
        raise PermissionDenied("Viewers read the requests; they do not ask.")
    initial = {"example_deal": request.GET.get("deal"), "buyer_step": request.GET.get("step")}
    form = RequestForm(request.POST or None, user=user, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                created = request_create(by=user, **form.cleaned_data)
            except NotAllowed:
                raise PermissionDenied from None
            except InvalidInput as error:
                refusal_show(form, error)
            else:
                messages.success(request, "Your request was sent to marketing.")
                return redirect("collateral_requests:detail", pk=created.pk)
    steps = sorted({s for s in current_stages().values_list("buyer_step", flat=True) if s})
    context = {"form": form, "steps": steps}
    return render(request, "collateral/request_form.html", context, status=status)


@require_http_methods(FORM_METHODS)
@login_required
def request_detail(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = _user(request)
    current = get_object_or_404(requests_visible_to(user), pk=pk)
    may_triage = can_triage(user) and bool(NEXT_STATUSES[current.status])
    if request.method == "POST" and not may_triage:
        raise PermissionDenied("Marketers, sales managers and the owner triage requests.")
    form = TriageForm(request.POST or None, current=current) if may_triage else None
    status = 200
    stale = ""
    if request.method == "POST" and form is not None:
        status = 400
        if form.is_valid():
            try:
                request_triage(
                    request=current,
                    by=user,
                    status=form.cleaned_data["status"],
                    reason=form.cleaned_data["reason"],
                    answer=form.cleaned_data["answer"],
                    expected_updated_at=form.cleaned_data["version"],
                )
            except NotAllowed:
                raise PermissionDenied from None
            except StaleVersion as error:
                # Show the request as it is now: what may come next may have changed.
                current = get_object_or_404(requests_visible_to(user), pk=pk)
                final = not NEXT_STATUSES[current.status]
                form = None if final else TriageForm(None, current=current)
                stale = f"{error.message} Look at it again and choose anew."
                status = 409
            except InvalidInput as error:
                refusal_show(form, error)
            else:
                messages.success(request, "The request was updated.")
                return redirect("collateral_requests:detail", pk=pk)
    # The example deal is named only to those who may see it.
    example = current.example_deal_id
    context = {
        "req": current,
        "form": form,
        "stale": stale,
        "example": None if example is None else deals_visible_to(user).filter(pk=example).first(),
    }
    return render(request, "collateral/request_detail.html", context, status=status)
