"""The pipeline cleanup: stalled deals by owner and stage, with bulk actions and a trend.

GET lists the stalled deals the person may read (filtered by ?owner=ID, ?stage=NAME,
?process=ID, paged by ?page=N). POST takes one bulk action on the ticked deals (each box
carries "id:version", the version the page showed) and answers with the page again,
saying what was done and naming what was refused.
"""

from dataclasses import dataclass
from datetime import timedelta
from itertools import groupby
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

from keel.accounts.models import User
from keel.accounts.permissions import SELLING_ROLES
from keel.core.exceptions import InvalidInput, NotAllowed
from keel.forecast.stall_selectors import (
    StalledDeal,
    TrendPoint,
    stall_thresholds,
    stall_trend,
    stalled_by_stage,
    stalled_rows,
    stalled_visible,
)
from keel.forecast.stall_services import (
    Outcome,
    Picked,
    stalled_close_lost,
    stalled_reassign,
    stalled_reschedule,
)
from keel.pipeline.access import can_edit_deal, deals_visible_to
from keel.pipeline.models import Deal, LostReason, SalesProcess, Stage, StageKind
from keel.pipeline.selectors import process_current_version, version_stages
from keel.web.forms import BoardFilterForm
from keel.web.lists import Listing

PER_PAGE = 100
TREND_DAYS = 90
ORDER = (
    "owner__first_name",
    "owner__last_name",
    "owner_id",
    "process_id",
    "stage__position",
    "stage_entered_at",
)
DATE = forms.DateInput(attrs={"type": "date"})
STALLED_COLOR, OPEN_COLOR = "#c2410c", "#9aa5b8"


class StalledFilterForm(forms.Form):
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False)
    stage = forms.ChoiceField(choices=(), required=False)
    process = forms.ModelChoiceField(
        queryset=SalesProcess.objects.filter(is_active=True).order_by("id"),
        required=False,
        empty_label="Any process",
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        visible = deals_visible_to(user)
        owners = User.objects.filter(pk__in=visible.values("owner_id")).order_by("first_name")
        self.fields["owner"].queryset = owners  # type: ignore[attr-defined]
        self.fields["owner"].empty_label = "Anyone"  # type: ignore[attr-defined]
        names = Stage.objects.filter(kind=StageKind.OPEN, version__process__is_active=True)
        stages = sorted(set(names.values_list("name", flat=True)))
        self.fields["stage"].choices = [("", "Any stage"), *((n, n) for n in stages)]  # type: ignore[attr-defined]


class BulkForm(forms.Form):
    """One bulk action and what it needs; the deals come as "id:version" boxes."""

    action = forms.ChoiceField(
        choices=[("lost", "Close as lost"), ("reschedule", "Reschedule"), ("reassign", "Reassign")]
    )
    lost_reason = forms.ChoiceField(
        choices=[("", "Why lost?"), *LostReason.choices], required=False, label="Reason"
    )
    note = forms.CharField(required=False, max_length=500, label="Note")
    expected_close = forms.DateField(required=False, widget=DATE, label="New close date")
    next_step = forms.CharField(required=False, max_length=300, label="Next step")
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False, label="To")

    NEEDS = {
        "lost": ("lost_reason",),
        "reschedule": ("expected_close", "next_step"),
        "reassign": ("owner",),
    }

    def __init__(self, *args: Any, targets: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["owner"]
        field.queryset = User.objects.filter(pk__in=[u.pk for u in targets])  # type: ignore[attr-defined]
        field.widget.choices = [("", "Whom?"), *((u.pk, str(u)) for u in targets)]
        self.picked: list[Picked] = []

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in self.NEEDS.get(data.get("action", ""), ()):
            if not data.get(name) and name not in self.errors:
                self.add_error(name, "Needed for this action.")
        picked = []
        for value in self.data.getlist("deal") if isinstance(self.data, QueryDict) else []:
            pk, _, version = value.partition(":")
            if not (pk.isdigit() and version.isdigit()):
                raise forms.ValidationError("The chosen deals could not be read; reload the page.")
            picked.append(Picked(deal_id=int(pk), version=int(version)))
        if not picked:
            raise forms.ValidationError("Tick the deals to act on.")
        self.picked = picked
        return data


@dataclass(frozen=True)
class Group:
    """The page's rows of one owner in one stage."""

    owner: User
    stage: str
    process: str
    rows: list[StalledDeal]


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    return request.user


def _may_act(user: User) -> bool:
    return user.is_active and user.role in SELLING_ROLES


def _targets(user: User) -> list[User]:
    """Whom `user` may hand a deal to: the sellers whose deals they may change."""
    sellers = User.objects.filter(is_active=True, role__in=SELLING_ROLES).order_by("first_name")
    return [u for u in sellers if can_edit_deal(user, Deal(owner=u))]


def _trend_chart(points: list[TrendPoint]) -> dict[str, Any]:
    return {
        "type": "line",
        "data": {
            "labels": [f"{p.day:%d %b}" for p in points],
            "datasets": [
                {
                    "label": "Stalled",
                    "data": [p.stalled for p in points],
                    "borderColor": STALLED_COLOR,
                    "backgroundColor": STALLED_COLOR,
                },
                {
                    "label": "Open",
                    "data": [p.open_deals for p in points],
                    "borderColor": OPEN_COLOR,
                    "backgroundColor": OPEN_COLOR,
                    "borderDash": [4, 4],
                },
            ],
        },
        "options": {"scales": {"y": {"beginAtZero": True}}, "elements": {"point": {"radius": 2}}},
    }


def _outcome_report(request: HttpRequest, outcome: Outcome) -> None:
    if outcome.done:
        messages.success(request, outcome.summary)
    else:
        messages.warning(request, outcome.summary)
    if outcome.refused:
        messages.warning(request, "Refused: " + "; ".join(outcome.refused) + ".")


def _act(request: HttpRequest, user: User, form: BulkForm) -> Outcome:
    data = form.cleaned_data
    action = data["action"]
    if action == "lost":
        return stalled_close_lost(
            by=user, picked=form.picked, lost_reason=data["lost_reason"], note=data["note"]
        )
    if action == "reschedule":
        return stalled_reschedule(
            by=user,
            picked=form.picked,
            expected_close=data["expected_close"],
            next_step=data["next_step"],
        )
    return stalled_reassign(by=user, picked=form.picked, owner=data["owner"])


def _query(query: QueryDict) -> str:
    """The page's own filters from `query`, re-encoded: where a bulk action returns to."""
    kept = {k: query[k] for k in ("owner", "stage", "process", "page") if query.get(k)}
    return urlencode(kept)


def _paged(request: HttpRequest, deals: QuerySet[Deal]) -> Listing:
    """A page of `deals` in owner and stage order. The ids are read in one go, so the
    stall rules run once in the database for the count and the page alike (a paginator
    would count, then sort, running them twice); the page's rows come with their joins."""
    ids = list(deals.order_by(*ORDER, "pk").values_list("pk", flat=True))
    pages: Paginator[Any] = Paginator(ids, PER_PAGE)
    page = pages.get_page(request.GET.get("page"))
    shown = deals.order_by().in_bulk(list(page.object_list))
    page.object_list = [shown[pk] for pk in page.object_list if pk in shown]
    params = request.GET.copy()
    params.pop("page", None)
    return Listing(page=page, sort="owner", params=params)


@login_required
def stalled(request: HttpRequest) -> HttpResponseBase:
    user = _user(request)
    targets = _targets(user) if _may_act(user) else []
    bulk = BulkForm(targets=targets)
    status = 200
    if request.method == "POST":
        if not _may_act(user):
            raise PermissionDenied(f"{user} may not change deals.")
        bulk = BulkForm(request.POST, targets=targets)
        if bulk.is_valid():
            try:
                outcome = _act(request, user, bulk)
            except NotAllowed as error:
                raise PermissionDenied(error.message) from None
            except InvalidInput as error:
                bulk.add_error(None, error.message)
            else:
                _outcome_report(request, outcome)
                back = _query(QueryDict(request.POST.get("back", "")))
                return redirect(reverse("forecast:stalled") + (f"?{back}" if back else ""))
        status = 400
    return _page(request, user=user, bulk=bulk, status=status)


def _page(request: HttpRequest, *, user: User, bulk: BulkForm, status: int) -> HttpResponse:
    now = timezone.now()
    thresholds = stall_thresholds(now=now)
    filters = StalledFilterForm(request.GET, user=user)
    chosen = filters.cleaned_data if filters.is_valid() else {}
    owner, process = chosen.get("owner"), chosen.get("process")
    criteria = {
        "owner_id": owner.pk if owner else None,
        "stage": chosen.get("stage", ""),
        "process_id": process.pk if process else None,
    }
    deals = stalled_visible(user=user, thresholds=thresholds, now=now, **criteria)
    page = _paged(request, deals)
    rows = stalled_rows(deals=list(page.page.object_list), thresholds=thresholds, now=now)
    groups = [
        Group(owner=key[0], stage=key[1], process=key[2], rows=list(members))
        for key, members in groupby(
            rows, key=lambda r: (r.deal.owner, r.deal.stage.name, r.deal.process.name)
        )
    ]
    since = timezone.localdate(now) - timedelta(days=TREND_DAYS)
    trend = stall_trend(user=user, since=since, **criteria)
    picked = {p.deal_id for p in bulk.picked}
    context = {
        "filters": filters,
        "listing": page,
        "groups": groups,
        "editable": {r.deal.pk for r in rows if can_edit_deal(user, r.deal)},
        "picked": picked,
        "may_act": _may_act(user),
        "bulk": bulk,
        "trend": trend,
        "trend_chart": _trend_chart(trend),
        "thresholds": thresholds,
        "idle_days": settings.KEEL_STALL_IDLE_DAYS,
        "percentile": settings.KEEL_STALL_PERCENTILE,
        "query": _query(request.GET),
        "now": now,
    }
    return render(request, "forecast/stalled.html", context, status=status)


@login_required
@require_safe
def stalled_counts(request: HttpRequest) -> HttpResponse:
    """How many deals of each board column are stalled, under the board's own filters.

    The board asks for these after it has shown itself (htmx, on load): counting them looks
    up every open deal's latest activity, which the board's own answer should not wait for.
    Each count replaces its column's placeholder out of band.
    """
    user = _user(request)
    filters = BoardFilterForm(request.GET)
    filters.is_valid()
    process = filters.cleaned_data.get("process")
    if process is None:
        process = SalesProcess.objects.filter(is_active=True).order_by("id").first()
    version = process_current_version(process=process) if process is not None else None
    columns: list[tuple[Stage, int]] = []
    if process is not None and version is not None:
        now = timezone.now()
        deals = filters.filter(deals_visible_to(user)).filter(process=process)
        counts = stalled_by_stage(deals=deals, thresholds=stall_thresholds(now=now), now=now)
        stages = version_stages(version.pk)
        columns = [(s, counts.get(s.pk, 0)) for s in stages if s.kind == StageKind.OPEN]
    context = {"process": process, "columns": columns}
    return render(request, "forecast/stalled_counts.html", context)
