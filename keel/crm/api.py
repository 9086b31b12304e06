"""Companies and contacts over the API: list, read, create, update.

Neither is deleted through the API: deals keep their company (a protected reference), and
a contact is evidence of the funnel and of past deals; the admin removes the mistakes.
"""

from django.http import HttpRequest
from ninja import Query, Router, Status

from keel.api import lookups
from keel.api.auth import actor
from keel.api.pagination import Page, paginate
from keel.api.schemas import LIST_ERRORS, READ_ERRORS, WRITE_ERRORS, Id
from keel.crm import selectors, services
from keel.crm.access import company_visible, contact_visible
from keel.crm.models import Company, Contact
from keel.crm.schemas import (
    CompanyFilters,
    CompanyIn,
    CompanyOut,
    CompanyPage,
    CompanyPatch,
    ContactFilters,
    ContactIn,
    ContactOut,
    ContactPage,
    ContactPatch,
)

companies = Router(tags=["companies"])
contacts = Router(tags=["contacts"])

# The same orders as the web lists (keel/crm/views.py).
COMPANY_SORTS = {
    "name": ("name",),
    "funnel": ("funnel_rank", "name"),
    "employees": ("employees",),
    "updated": ("updated_at",),
}
CONTACT_SORTS = {
    "name": ("last_name", "first_name"),
    "company": ("company__name", "last_name"),
    "funnel": ("funnel_rank", "last_name"),
    "updated": ("updated_at",),
}


# --- companies --------------------------------------------------------------------------


@companies.get("", response={200: CompanyPage, **LIST_ERRORS})
def company_list(request: HttpRequest, filters: Query[CompanyFilters]) -> Page[Company]:
    """The companies, filtered and ordered as the web list; every active user reads them."""
    rows = selectors.company_list(
        user=actor(request),
        q=filters.q,
        tier=filters.tier or "",
        industry=filters.industry,
        funnel_stage=filters.funnel_stage or "",
    )
    if filters.owner is not None:
        rows = rows.filter(owner_id=filters.owner)
    page = paginate(
        queryset=rows,
        sorts=COMPANY_SORTS,
        ordering=filters.ordering,
        limit=filters.limit,
        offset=filters.offset,
    )
    return page


@companies.get("/{company_id}", response={200: CompanyOut, **READ_ERRORS})
def company_get(request: HttpRequest, company_id: Id) -> Company:
    return company_visible(user=actor(request), pk=company_id)


@companies.post("", response={201: CompanyOut, **WRITE_ERRORS})
def company_create(request: HttpRequest, payload: CompanyIn) -> Status[Company]:
    user = actor(request)
    data = payload.dict()
    owner_id = data.pop("owner_id")
    created = services.company_create(
        by=user, **data, owner=lookups.person(owner_id) if owner_id else None
    )
    return Status(201, company_visible(user=user, pk=created.pk))


@companies.patch("/{company_id}", response={200: CompanyOut, **WRITE_ERRORS})
def company_update(request: HttpRequest, company_id: Id, payload: CompanyPatch) -> Company:
    user = actor(request)
    current = company_visible(user=user, pk=company_id)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    services.company_update(
        company=current,
        by=user,
        expected_updated_at=version,
        data=lookups.patch_data(model=Company, data=data, user=user),
    )
    return company_visible(user=user, pk=company_id)


# --- contacts ---------------------------------------------------------------------------


@contacts.get("", response={200: ContactPage, **LIST_ERRORS})
def contact_list(request: HttpRequest, filters: Query[ContactFilters]) -> Page[Contact]:
    """The contacts, filtered and ordered as the web list; every active user reads them."""
    rows = selectors.contact_list(
        user=actor(request),
        q=filters.q,
        buying_role=filters.buying_role or "",
        funnel_stage=filters.funnel_stage or "",
    )
    if filters.owner is not None:
        rows = rows.filter(owner_id=filters.owner)
    if filters.company is not None:
        rows = rows.filter(company_id=filters.company)
    page = paginate(
        queryset=rows,
        sorts=CONTACT_SORTS,
        ordering=filters.ordering,
        limit=filters.limit,
        offset=filters.offset,
    )
    return page


@contacts.get("/{contact_id}", response={200: ContactOut, **READ_ERRORS})
def contact_get(request: HttpRequest, contact_id: Id) -> Contact:
    return contact_visible(user=actor(request), pk=contact_id)


@contacts.post("", response={201: ContactOut, **WRITE_ERRORS})
def contact_create(request: HttpRequest, payload: ContactIn) -> Status[Contact]:
    user = actor(request)
    data = lookups.patch_data(model=Contact, data=payload.dict(), user=user)
    created = services.contact_create(by=user, **data)
    return Status(201, contact_visible(user=user, pk=created.pk))


@contacts.patch("/{contact_id}", response={200: ContactOut, **WRITE_ERRORS})
def contact_update(request: HttpRequest, contact_id: Id, payload: ContactPatch) -> Contact:
    user = actor(request)
    current = contact_visible(user=user, pk=contact_id)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    services.contact_update(
        contact=current,
        by=user,
        expected_updated_at=version,
        data=lookups.patch_data(model=Contact, data=data, user=user),
    )
    return contact_visible(user=user, pk=contact_id)
