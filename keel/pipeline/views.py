"""The deal pages: the list, the workspace and the actions taken on a deal.

Actions answer in one of two ways. Posted from the pipeline board (the form carries the
board's query as `board`), they answer with the board re-rendered in place, a refused move
with its missing evidence next to the card. Posted from anywhere else, they redirect to
where the form came from (`next`) or to the deal, with a message.
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    QueryDict,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from keel.accounts.models import User
from keel.accounts.permissions import SELLING_ROLES
from keel.activities.selectors import task_rows
from keel.activities.services import activity_log
from keel.collateral.sharing import deal_collateral
from keel.core.exceptions import InvalidInput, KeelError, NotAllowed, StaleVersion
from keel.core.export import Cell, export_format, export_response
from keel.crm.models import BuyingRole, Company
from keel.pipeline.access import can_edit_deal, deal_visible, deals_visible_to
from keel.pipeline.forms import (
    ContactAttachForm,
    DealCreateForm,
    DealForm,
    MoveForm,
    QuickLogForm,
    TickForm,
)
from keel.pipeline.models import Deal, DealStatus, LostReason
from keel.pipeline.selectors import deal_workspace, version_stages
from keel.pipeline.services import (
    MoveBlocked,
    checklist_tick,
    checklist_untick,
    deal_contact_add,
    deal_create,
    deal_move,
    deal_move_check,
    deal_update,
)
from keel.web.board import Blocked, blocked_for, board_response
from keel.web.http import safe_next
from keel.web.lists import listing, sorted_rows

DEAL_SORTS = {
    "name": ("name",),
    "company": ("company__name",),
    "amount": ("amount",),
    "close": ("expected_close",),
    "stage": ("stage__position",),
    "updated": ("updated_at",),
}


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    return request.user


def _deals(request: HttpRequest, user: User) -> tuple[dict[str, str], QuerySet[Deal]]:
    """The deals the list shows `user` for the request's filters (status, q, owner), with
    the filters as read: the page and its export alike."""
    deals = deals_visible_to(user).select_related("company", "owner", "stage")
    status = request.GET.get("status", DealStatus.OPEN)
    if status in DealStatus.values:
        deals = deals.filter(status=status)
    q = request.GET.get("q", "").strip()
    if q:
        deals = deals.filter(Q(name__icontains=q) | Q(company__name__icontains=q))
    if (owner := request.GET.get("owner", "")).isdigit():
        deals = deals.filter(owner_id=int(owner))
    return {"status": status, "q": q, "owner": owner}, deals


@login_required
def deal_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    filters, deals = _deals(request, user)
    status, q, owner = filters["status"], filters["q"], filters["owner"]
    page = listing(request=request, queryset=deals, sorts=DEAL_SORTS, default="close")
    owners = User.objects.filter(is_active=True, role__in=SELLING_ROLES).order_by("first_name")
    context = {
        "listing": page,
        "q": q,
        "status": status,
        "statuses": DealStatus.choices,
        "owners": owners,
        "owner": owner,
    }
    return render(request, "pipeline/deal_list.html", context)


DEAL_COLUMNS = (
    "id", "name", "company_id", "company", "process", "stage", "status", "amount", "currency",
    "expected_close", "owner", "channel", "source", "campaign", "next_step", "lost_reason",
    "stage_entered_at", "closed_at", "external_id", "created_at", "updated_at",
)  # fmt: skip


def _deal_row(d: Deal) -> tuple[Cell, ...]:
    return (
        d.pk, d.name, d.company_id, d.company.name, d.process.name, d.stage.name, d.status,
        d.amount, d.currency, d.expected_close, d.owner.username, d.channel, d.source,
        d.campaign, d.next_step, d.lost_reason, d.stage_entered_at, d.closed_at,
        d.external_id, d.created_at, d.updated_at,
    )  # fmt: skip


@require_safe
@login_required
def deal_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """Every deal the list shows for these filters, in its order, as CSV or XLSX."""
    file_format = export_format(fmt)
    if file_format is None:
        raise Http404
    _, deals = _deals(request, _user(request))
    rows = sorted_rows(
        queryset=deals.select_related("process"),
        query=request.GET,
        sorts=DEAL_SORTS,
        default="close",
    )
    return export_response(
        fmt=file_format, name="deals", headers=DEAL_COLUMNS, rows=(_deal_row(d) for d in rows)
    )


@login_required
def deal_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not can_edit_deal(user, Deal(owner=user)):
        raise PermissionDenied("Your role does not create deals.")
    initial: dict[str, Any] = {}
    if (company := request.GET.get("company", "")).isdigit():
        found = Company.objects.filter(pk=company).first()
        if found is not None:
            initial = {"company": found, "company_name": found.name}
    form = DealCreateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            deal = deal_create(
                by=user,
                name=data["name"],
                company=data["company"],
                process=data["process"],
                amount=data["amount"],
                expected_close=data["expected_close"],
                next_step=data["next_step"],
            )
        except KeelError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"{deal.name} is in {deal.stage.name}.")
            return redirect("pipeline:deal_detail", pk=deal.pk)
    return render(request, "pipeline/deal_new.html", {"form": form})


def _workspace_context(user: User, deal: Deal, **extra: Any) -> dict[str, Any]:
    workspace = deal_workspace(deal=deal)
    return {
        "w": workspace,
        "task_rows": task_rows(user=user, tasks=workspace.tasks),
        "deal": deal,
        "editable": can_edit_deal(user, deal),
        "log_form": QuickLogForm(deal=deal),
        "lost_reasons": LostReason.choices,
        "roles": BuyingRole.choices,
        "collateral": deal_collateral(deal=deal, user=user),
        **extra,
    }


@login_required
def deal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    deal = deal_visible(user=user, pk=pk)
    return render(request, "pipeline/deal_detail.html", _workspace_context(user, deal))


@login_required
def deal_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    deal = deal_visible(user=user, pk=pk)
    if not can_edit_deal(user, deal):
        raise PermissionDenied(f"{user} may not change {deal.name}.")
    form = DealForm(request.POST or None, instance=deal, initial={"version": deal.version})
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "version"}
        fresh = Deal.objects.get(pk=deal.pk)  # the form wrote its input onto `deal`
        try:
            deal_update(
                deal=fresh, by=user, expected_version=form.cleaned_data["version"], data=data
            )
        except StaleVersion:
            current = Deal.objects.select_related("updated_by").get(pk=deal.pk)
            # Keep the input; saving it again now knowingly replaces the other change.
            kept = request.POST.copy()
            kept["version"] = str(current.version)
            form.data = kept
            context = {
                "form": form,
                "deal": current,
                "stale": True,
                "changes": _differences(form, current),
            }
            return render(request, "pipeline/deal_edit.html", context, status=409)
        except KeelError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"{fresh.name} saved.")
            return redirect("pipeline:deal_detail", pk=deal.pk)
    return render(request, "pipeline/deal_edit.html", {"form": form, "deal": deal})


def _differences(form: DealForm, current: Deal) -> list[tuple[str, Any, Any]]:
    """Fields where the saved deal now differs from the user's input: (label, theirs, yours)."""
    rows = []
    for name, field in form.fields.items():
        if name == "version":
            continue
        theirs = getattr(current, name)
        yours = form.cleaned_data.get(name)
        if (theirs or None) != (yours or None):
            rows.append((str(field.label), theirs, yours))
    return rows


# --- actions ----------------------------------------------------------------------------


def _board_query(request: HttpRequest) -> QueryDict | None:
    """The board's filters, when the action was posted from the board."""
    if "board" not in request.POST:
        return None
    return QueryDict(request.POST["board"])


def _after(
    request: HttpRequest,
    user: User,
    deal: Deal,
    *,
    done: str = "",
    error: str = "",
    blocked: Blocked | None = None,
) -> HttpResponse:
    query = _board_query(request)
    if query is not None:
        if blocked is None and "retry" in request.POST:
            # A fix made from the blocked panel: show the panel again, re-evaluated.
            blocked = _recheck(deal, user, request.POST["retry"])
        return board_response(request, user=user, query=query, blocked=blocked, error=error)
    if blocked is not None:
        context = _workspace_context(user, deal, blocked=blocked)
        return render(request, "pipeline/deal_detail.html", context, status=409)
    if error:
        messages.error(request, error)
    elif done:
        messages.success(request, done)
    default = reverse("pipeline:deal_detail", kwargs={"pk": deal.pk})
    return HttpResponseRedirect(safe_next(request, default))


def _recheck(deal: Deal, user: User, to_stage: str) -> Blocked:
    """The refused move's panel after a fix: what the move still lacks, perhaps nothing."""
    fresh = Deal.objects.select_related("company", "owner", "stage").get(pk=deal.pk)
    stages = list(version_stages(fresh.process_version_id))
    try:
        deal_move_check(deal=fresh, stages=stages, to_stage=to_stage, by=user)
    except MoveBlocked as blocked:
        message = f"Still missing before {fresh.name} can move to {to_stage}:"
        return blocked_for(deal=fresh, to_stage=to_stage, message=message, unmet=blocked.unmet)
    except InvalidInput as error:  # the deal moved meanwhile: say so in the panel
        return blocked_for(deal=fresh, to_stage=to_stage, message=error.message, unmet=[])
    message = f"{fresh.name} has what the move to {to_stage} asks for."
    return blocked_for(deal=fresh, to_stage=to_stage, message=message, unmet=[])


def _editable(request: HttpRequest, pk: int) -> tuple[User, Deal]:
    user = _user(request)
    deal = deal_visible(user=user, pk=pk)
    if not can_edit_deal(user, deal):
        raise PermissionDenied(f"{user} may not change {deal.name}.")
    return user, deal


@require_POST
@login_required
def deal_move_view(request: HttpRequest, pk: int) -> HttpResponse:
    user, deal = _editable(request, pk)
    form = MoveForm(request.POST)
    if not form.is_valid():
        return _after(request, user, deal, error="The move was not understood: try again.")
    data = form.cleaned_data
    try:
        deal_move(
            deal=deal,
            to_stage=data["to_stage"],
            by=user,
            expected_version=data["version"],
            lost_reason=data["lost_reason"],
            lost_note=data["lost_note"],
            override_reason=data["override_reason"],
        )
    except MoveBlocked as error:
        blocked = blocked_for(
            deal=deal, to_stage=data["to_stage"], message=error.message, unmet=error.unmet
        )
        return _after(request, user, deal, blocked=blocked)
    except (InvalidInput, StaleVersion, NotAllowed) as error:
        return _after(request, user, deal, error=str(error))
    return _after(request, user, deal, done=f"{deal.name} moved to {deal.stage.name}.")


@require_POST
@login_required
def deal_tick(request: HttpRequest, pk: int) -> HttpResponse:
    user, deal = _editable(request, pk)
    form = TickForm(request.POST)
    if not form.is_valid():
        return _after(request, user, deal, error="Name the checklist item.")
    if form.cleaned_data["untick"]:
        checklist_untick(deal=deal, item=form.cleaned_data["item"], by=user)
        return _after(request, user, deal, done=f"Unticked “{form.cleaned_data['item']}”.")
    checklist_tick(deal=deal, item=form.cleaned_data["item"], by=user)
    return _after(request, user, deal, done=f"Ticked “{form.cleaned_data['item']}”.")


@require_POST
@login_required
def deal_log(request: HttpRequest, pk: int) -> HttpResponse:
    user, deal = _editable(request, pk)
    form = QuickLogForm(request.POST, deal=deal)
    if not form.is_valid():
        errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
        return _after(request, user, deal, error=f"Nothing was logged: {errors}")
    data = form.cleaned_data
    try:
        activity = activity_log(
            by=user,
            type=data["type"],
            outcome=data["outcome"],
            deal=deal,
            contact=data["contact"],
            notes=data["notes"],
        )
    except KeelError as error:
        return _after(request, user, deal, error=str(error))
    return _after(request, user, deal, done=f"{activity.get_type_display()} logged.")


@require_POST
@login_required
def deal_contact(request: HttpRequest, pk: int) -> HttpResponse:
    user, deal = _editable(request, pk)
    form = ContactAttachForm(request.POST, deal=deal)
    if not form.is_valid():
        return _after(request, user, deal, error="Choose a contact of this company.")
    link = deal_contact_add(
        deal=deal, contact=form.cleaned_data["contact"], by=user, role=form.cleaned_data["role"]
    )
    return _after(request, user, deal, done=f"{link} attached.")
