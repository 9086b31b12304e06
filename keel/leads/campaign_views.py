"""The campaign pages: the list, a campaign's page, its form, and the campaign report.

Everyone signed in reads them; marketers, sales managers and the owner create and edit
campaigns (leads/access.py), checked before a form is shown and again by the service.
Every figure comes from one campaign_report call per page (four queries), never per row.
"""

from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from keel.accounts.models import User
from keel.core.exceptions import InvalidInput, NotAllowed, StaleVersion
from keel.core.export import csv_response
from keel.core.replica import reads_from_replica
from keel.leads.access import can_manage_campaigns
from keel.leads.campaign_report import (
    GROUPINGS,
    MAX_MONTHS,
    TOUCH_FIELDS,
    Report,
    campaign_report,
    last_months,
    months_between,
)
from keel.leads.campaigns import CAMPAIGN_SORTS, campaign_create, campaign_update
from keel.leads.forms import CampaignForm
from keel.leads.models import Campaign
from keel.planning.forms import version_token
from keel.scorecard.rules import month_parse
from keel.web.forms import refusal_show, stale_data, stale_show
from keel.web.lists import listing

FORM_METHODS = ["GET", "HEAD", "POST"]


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    return request.user


def _keeper(request: HttpRequest) -> User:
    user = _user(request)
    if not can_manage_campaigns(user):
        raise PermissionDenied("Marketers, sales managers and the owner keep the campaigns.")
    return user


class Period:
    """The months and touch a page shows, from its query (`from`, `to`, `touch`, `by`);
    a month that does not parse falls back to the default, with a note."""

    def __init__(self, query: QueryDict, *, by: str = "channel") -> None:
        self.start, self.end = last_months()
        self.problems: list[str] = []
        for key in ("from", "to"):
            text = query.get(key, "").strip()
            if not text:
                continue
            try:
                month = month_parse(text)
            except ValueError as error:
                self.problems.append(str(error))
                continue
            if key == "from":
                self.start = month
            else:
                self.end = month
        if self.end < self.start or len(months_between(self.start, self.end)) > MAX_MONTHS:
            self.problems.append(
                f"A report runs forward over at most {MAX_MONTHS} months: showing the last 12."
            )
            self.start, self.end = last_months()
        touch = query.get("touch", "first")
        self.touch = touch if touch in TOUCH_FIELDS else "first"
        chosen = query.get("by", by)
        self.by = chosen if chosen in GROUPINGS else by

    def report(self, *, codes: list[str] | None = None, by: str | None = None) -> Report:
        return campaign_report(
            start=self.start, end=self.end, touch=self.touch, by=by or self.by, codes=codes
        )

    def context(self) -> dict[str, Any]:
        return {
            "period_from": f"{self.start:%Y-%m}",
            "period_to": f"{self.end:%Y-%m}",
            "touch": self.touch,
            "by": self.by,
            "period_problems": self.problems,
        }


# --- reading ----------------------------------------------------------------------------------


@require_safe
@login_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    page = listing(
        request=request,
        queryset=Campaign.objects.select_related("owner"),
        sorts=CAMPAIGN_SORTS,
        default="-starts",
    )
    period = Period(request.GET)
    campaigns: list[Campaign] = list(page.page.object_list)
    report = period.report(codes=[c.code for c in campaigns], by="campaign")
    rows = [(c, report.group(c.code)) for c in campaigns]
    context = {
        "listing": page,
        "rows": rows,
        "may_keep": can_manage_campaigns(user),
        **period.context(),
    }
    return render(request, "leads/campaign_list.html", context)


@require_safe
@login_required
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    campaign = get_object_or_404(Campaign.objects.select_related("owner"), pk=pk)
    period = Period(request.GET)
    report = period.report(codes=[campaign.code], by="campaign")
    group = report.group(campaign.code)
    context = {
        "campaign": campaign,
        "report": report,
        "group": group,
        "months": list(zip(report.months, group.months, strict=True)) if group else [],
        "may_keep": can_manage_campaigns(user),
        **period.context(),
    }
    return render(request, "leads/campaign_detail.html", context)


CSV_COLUMNS = [
    "suspects",
    "prospects",
    "leads",
    "qualified",
    "customers",
    "bookings",
    "cost",
    "cost_per_lead",
    "cost_per_customer",
]


def _csv(report: Report) -> StreamingHttpResponse:
    """The report's table as CSV, through core.export: a campaign code is whatever a
    website sent, so a cell a spreadsheet would run as a formula is neutralised."""
    name = f"campaigns-{report.by}-{report.touch}-{report.start:%Y-%m}-{report.end:%Y-%m}.csv"

    def cells(figures: Any) -> list[Any]:
        return [getattr(figures, c) for c in CSV_COLUMNS]

    def rows() -> Iterator[list[Any]]:
        for group in report.groups:
            for month, figures in zip(report.months, group.months, strict=True):
                yield [group.label, f"{month:%Y-%m}", *cells(figures)]
            yield [group.label, "total", *cells(group.total)]
        yield ["All", "total", *cells(report.total)]

    return csv_response(filename=name, headers=[report.by, "month", *CSV_COLUMNS], rows=rows())


@require_safe
@login_required
@reads_from_replica
def campaign_report_page(request: HttpRequest) -> HttpResponseBase:
    _user(request)
    period = Period(request.GET)
    report = period.report()
    if request.GET.get("format") == "csv":
        return _csv(report)
    groups = [(g, list(zip(report.months, g.months, strict=True))) for g in report.groups]
    context = {
        "report": report,
        "groups": groups,
        "month_totals": list(zip(report.months, report.month_totals, strict=True)),
        "csv_query": _with(request.GET, format="csv"),
        **period.context(),
    }
    return render(request, "leads/campaign_report.html", context)


def _with(query: QueryDict, **changes: str) -> str:
    params = query.copy()
    for key, value in changes.items():
        params[key] = value
    return "?" + params.urlencode()


# --- writing ----------------------------------------------------------------------------------


@require_http_methods(FORM_METHODS)
@login_required
def campaign_new(request: HttpRequest) -> HttpResponseBase:
    user = _keeper(request)
    form = CampaignForm(request.POST or None, initial={"starts_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            created = campaign_create(by=user, **form.service_data())
        except NotAllowed:
            raise PermissionDenied from None
        except InvalidInput as error:
            refusal_show(form, error)
        else:
            messages.success(request, f"The campaign {created} was added.")
            return redirect("campaigns:detail", pk=created.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "campaign": None}
    return render(request, "leads/campaign_form.html", context, status=status)


@require_http_methods(FORM_METHODS)
@login_required
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = _keeper(request)
    campaign = get_object_or_404(Campaign, pk=pk)
    form = CampaignForm(request.POST or None, instance=campaign)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                campaign_update(
                    campaign=campaign,
                    by=user,
                    data=form.service_data(),
                    expected_updated_at=form.cleaned_data["version"],
                )
            except NotAllowed:
                raise PermissionDenied from None
            except StaleVersion as error:
                # The input is kept, on the version now stored: saving again is a choice.
                current = Campaign.objects.get(pk=pk)
                form = CampaignForm(stale_data(request, version_token(current)), instance=current)
                form.is_valid()
                stale_show(form, error)
                status = 409
            except InvalidInput as error:
                refusal_show(form, error)
            else:
                messages.success(request, f"The campaign {form.cleaned_data['name']} was saved.")
                return redirect("campaigns:detail", pk=pk)
    context = {"form": form, "campaign": Campaign.objects.get(pk=pk)}
    return render(request, "leads/campaign_form.html", context, status=status)
