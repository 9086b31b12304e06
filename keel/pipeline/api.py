"""Deals over the API: list, read, create, update, and the move as its own operation.

Deals are not deleted: their stage history is append-only and every pipeline statistic
is computed from it; a deal that goes nowhere is moved to its lost stage instead.
"""

from django.db.models import Q
from django.http import HttpRequest
from ninja import Query, Router, Status

from keel.api import lookups
from keel.api.auth import actor
from keel.api.pagination import Page, paginate
from keel.api.schemas import LIST_ERRORS, READ_ERRORS, WRITE_ERRORS, Id, MoveRefusedOut
from keel.core.exceptions import InvalidInput
from keel.pipeline.access import deal_visible, deals_visible_to, ensure_can_edit_deal
from keel.pipeline.models import Deal, SalesProcess
from keel.pipeline.schemas import DealFilters, DealIn, DealOut, DealPage, DealPatch, MoveIn
from keel.pipeline.services import deal_create, deal_move, deal_update

deals = Router(tags=["deals"])

# The web list's orders (keel/pipeline/views.py), the order of creation, and the id: the
# default, since walking the primary key needs no sort even over 100k deals.
DEAL_SORTS: dict[str, tuple[str, ...]] = {
    "id": (),
    "name": ("name",),
    "company": ("company__name",),
    "amount": ("amount",),
    "close": ("expected_close",),
    "stage": ("stage__position",),
    "updated": ("updated_at",),
    "created": ("created_at",),
}
DEAL_JOINS = ("company", "owner", "stage", "process")


@deals.get("", response={200: DealPage, **LIST_ERRORS})
def deal_list(request: HttpRequest, filters: Query[DealFilters]) -> Page[Deal]:
    """The deals you may read (as the web list: everyone's, your team's or your own)."""
    rows = deals_visible_to(actor(request)).select_related(*DEAL_JOINS)
    if filters.status is not None:
        rows = rows.filter(status=filters.status)
    if filters.q:
        rows = rows.filter(Q(name__icontains=filters.q) | Q(company__name__icontains=filters.q))
    if filters.owner is not None:
        rows = rows.filter(owner_id=filters.owner)
    if filters.company is not None:
        rows = rows.filter(company_id=filters.company)
    if filters.process is not None:
        rows = rows.filter(process_id=filters.process)
    if filters.stage is not None:
        rows = rows.filter(stage__name__iexact=filters.stage)
    return paginate(
        queryset=rows,
        sorts=DEAL_SORTS,
        ordering=filters.ordering,
        limit=filters.limit,
        offset=filters.offset,
    )


@deals.get("/{deal_id}", response={200: DealOut, **READ_ERRORS})
def deal_get(request: HttpRequest, deal_id: Id) -> Deal:
    return deal_visible(user=actor(request), pk=deal_id)


def _process(pk: int) -> SalesProcess:
    found = SalesProcess.objects.filter(pk=pk, is_active=True).first()
    if found is None:
        raise InvalidInput(f"There is no active sales process #{pk}.", details=["process_id"])
    return found


@deals.post("", response={201: DealOut, **WRITE_ERRORS})
def deal_create_op(request: HttpRequest, payload: DealIn) -> Status[Deal]:
    """A new deal in the first open stage of its process (or the open `stage` named)."""
    user = actor(request)
    ensure_can_edit_deal(user, Deal(owner=user))
    created = deal_create(
        by=user,
        name=payload.name,
        company=lookups.company(user=user, pk=payload.company_id),
        owner=lookups.person(payload.owner_id) if payload.owner_id else None,
        process=_process(payload.process_id) if payload.process_id else None,
        stage_name=payload.stage,
        amount=payload.amount,
        currency=payload.currency,
        expected_close=payload.expected_close,
        channel=payload.channel or "",
        source=payload.source,
        campaign=payload.campaign,
        next_step=payload.next_step,
        referred_by=lookups.contact(user=user, pk=payload.referred_by_id, field="referred_by_id")
        if payload.referred_by_id
        else None,
    )
    return Status(201, deal_visible(user=user, pk=created.pk))


@deals.patch("/{deal_id}", response={200: DealOut, **WRITE_ERRORS})
def deal_update_op(request: HttpRequest, deal_id: Id, payload: DealPatch) -> Deal:
    """Change the fields sent; a `version` other than the deal's is refused with 409."""
    user = actor(request)
    deal = deal_visible(user=user, pk=deal_id)
    ensure_can_edit_deal(user, deal)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    deal_update(
        deal=deal,
        by=user,
        expected_version=version,
        data=lookups.patch_data(model=Deal, data=data, user=user),
    )
    return deal_visible(user=user, pk=deal_id)


@deals.post(
    "/{deal_id}/move",
    response={200: DealOut, **WRITE_ERRORS, 422: MoveRefusedOut},
)
def deal_move_op(request: HttpRequest, deal_id: Id, payload: MoveIn) -> Deal:
    """Move the deal to another stage of its process, or change nothing.

    A forward move checks the exit criteria of every stage it leaves: unmet ones come
    back as a 422 listing them (`unmet`); a manager may move anyway with an
    `override_reason`. A move to a lost stage needs a `lost_reason`. A `version` other than
    the deal's is a 409.
    """
    user = actor(request)
    deal = deal_visible(user=user, pk=deal_id)
    deal_move(
        deal=deal,
        to_stage=payload.to_stage,
        by=user,
        expected_version=payload.version,
        lost_reason=payload.lost_reason or "",
        lost_note=payload.lost_note,
        override_reason=payload.override_reason,
    )
    return deal_visible(user=user, pk=deal_id)
