"""The company and contact pages: lists, detail pages, create and edit.

Everyone signed in reads; creating and editing is checked by crm/access.py, on the GET of
a form as on its POST, and again by the service.
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from keel.accounts.models import User
from keel.core.exceptions import InvalidInput, NotAllowed, StaleVersion
from keel.core.export import Cell, export_format, export_response
from keel.crm import selectors, services
from keel.crm.access import can_edit_accounts, company_visible, contact_visible
from keel.crm.forms import (
    CompanyEditForm,
    CompanyFilterForm,
    CompanyForm,
    ContactEditForm,
    ContactFilterForm,
    ContactForm,
    company_label,
    version_token,
)
from keel.crm.models import Company, Contact
from keel.crm.privacy import can_manage_personal_data
from keel.leads import icp
from keel.leads.selectors import lead_story
from keel.web.forms import refusal_show
from keel.web.lists import listing, sorted_rows

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


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    return request.user


def _editor(request: HttpRequest) -> User:
    """The signed-in user, if they may create and edit companies and contacts; else 403."""
    user = _user(request)
    if not can_edit_accounts(user):
        raise PermissionDenied
    return user


def _stale_data(request: HttpRequest, current: Company | Contact) -> QueryDict:
    """The user's input again, on the version now stored.

    Saving it again replaces the other person's values with the ones shown: the user has
    been shown that change (_show_stale), so it is no longer overwritten silently.
    """
    data = request.POST.copy()
    data["version"] = version_token(current)
    return data


def _show_stale(form: Form, error: StaleVersion) -> None:
    form.add_error(
        None,
        f"{error.message} Your input is kept below: check it and save again to replace "
        "their values.",
    )
    for detail in error.details:
        form.add_error(None, detail)


# --- companies --------------------------------------------------------------------------


def _companies(request: HttpRequest, user: User) -> tuple[CompanyFilterForm, QuerySet[Company]]:
    """The companies the list shows `user` for the request's filters: page and export alike."""
    filters = CompanyFilterForm(request.GET, industries=selectors.company_industries())
    return filters, selectors.company_list(user=user, **filters.filters())


@require_safe
@login_required
def company_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    filters, companies = _companies(request, user)
    page = listing(request=request, queryset=companies, sorts=COMPANY_SORTS, default="name")
    context = {"listing": page, "filters": filters, "can_edit": can_edit_accounts(user)}
    return render(request, "crm/company_list.html", context)


COMPANY_COLUMNS = (
    "id", "name", "domain", "industry", "employees", "region", "tier", "icp_fit",
    "funnel_stage", "owner", "external_id", "created_at", "updated_at",
)  # fmt: skip


def _company_row(c: Company) -> tuple[Cell, ...]:
    owner = c.owner.username if c.owner else None
    return (
        c.pk, c.name, c.domain, c.industry, c.employees, c.region, c.tier, c.icp_fit,
        c.funnel_stage, owner, c.external_id, c.created_at, c.updated_at,
    )  # fmt: skip


@require_safe
@login_required
def company_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """Every company the list shows for these filters, in its order, as CSV or XLSX."""
    file_format = export_format(fmt)
    if file_format is None:
        raise Http404
    _, companies = _companies(request, _user(request))
    rows = sorted_rows(queryset=companies, query=request.GET, sorts=COMPANY_SORTS, default="name")
    return export_response(
        fmt=file_format,
        name="companies",
        headers=COMPANY_COLUMNS,
        rows=(_company_row(c) for c in rows),
    )


@require_safe
@login_required
def company_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    company = company_visible(user=user, pk=pk)
    contacts = selectors.company_contacts(company=company)
    context = {
        "company": company,
        "contacts": contacts,
        "deals": selectors.company_deals(user=user, company=company),
        "activities": selectors.company_activities(user=user, company=company),
        "has_decision_maker": selectors.company_has_decision_maker(company=company, shown=contacts),
        "contributions": icp.icp_contributions(company=company),
        "can_edit": can_edit_accounts(user),
    }
    return render(request, "crm/company_detail.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def company_create(request: HttpRequest) -> HttpResponse:
    user = _editor(request)
    computed = icp.profile_exists()
    if request.method != "POST":
        form = CompanyForm(initial={"owner": user.pk}, icp_computed=computed)
        return render(request, "crm/company_form.html", {"form": form, "company": None})
    form = CompanyForm(request.POST, icp_computed=computed)
    if form.is_valid():
        try:
            company = services.company_create(by=user, **form.service_data())
        except NotAllowed:
            raise PermissionDenied from None
        except InvalidInput as error:
            refusal_show(form, error)
        else:
            messages.success(request, f"{company} was created.")
            return redirect("crm:company_detail", pk=company.pk)
    return render(request, "crm/company_form.html", {"form": form, "company": None}, status=400)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def company_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _editor(request)
    company = company_visible(user=user, pk=pk)
    computed = icp.profile_exists()
    if request.method != "POST":
        initial = CompanyForm.initial_for(company)
        form = CompanyEditForm(initial=initial, icp_computed=computed)
        return render(request, "crm/company_form.html", {"form": form, "company": company})
    shown = {"icp_fit": company.icp_fit}  # a computed fit is shown again, never posted
    form = CompanyEditForm(request.POST, initial=shown, icp_computed=computed)
    status = 400
    if form.is_valid():
        try:
            company = services.company_update(
                company=company,
                by=user,
                expected_updated_at=form.cleaned_data["version"],
                data=form.service_data(),
            )
        except NotAllowed:
            raise PermissionDenied from None
        except StaleVersion as error:
            current = company_visible(user=user, pk=pk)
            form = CompanyEditForm(
                _stale_data(request, current),
                initial={"icp_fit": current.icp_fit},
                icp_computed=computed,
            )
            _show_stale(form, error)
            status = 409
        except InvalidInput as error:
            refusal_show(form, error)
        else:
            messages.success(request, f"{company.name} was saved.")
            return redirect("crm:company_detail", pk=company.pk)
    context = {"form": form, "company": company}
    return render(request, "crm/company_form.html", context, status=status)


# --- contacts ---------------------------------------------------------------------------


def _contacts(request: HttpRequest, user: User) -> tuple[ContactFilterForm, QuerySet[Contact]]:
    """The contacts the list shows `user` for the request's filters: page and export alike."""
    filters = ContactFilterForm(request.GET)
    return filters, selectors.contact_list(user=user, **filters.filters())


@require_safe
@login_required
def contact_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    filters, contacts = _contacts(request, user)
    page = listing(request=request, queryset=contacts, sorts=CONTACT_SORTS, default="name")
    context = {"listing": page, "filters": filters, "can_edit": can_edit_accounts(user)}
    return render(request, "crm/contact_list.html", context)


CONTACT_COLUMNS = (
    "id", "first_name", "last_name", "email", "phone", "title", "company_id", "company",
    "buying_role", "channel", "consent", "funnel_stage", "owner", "inquired_at",
    "qualified_at", "external_id", "created_at", "updated_at",
)  # fmt: skip


def _contact_row(c: Contact) -> tuple[Cell, ...]:
    company = c.company.name if c.company else None
    owner = c.owner.username if c.owner else None
    return (
        c.pk, c.first_name, c.last_name, c.email, c.phone, c.title, c.company_id, company,
        c.buying_role, c.channel, c.consent, c.funnel_stage, owner, c.inquired_at,
        c.qualified_at, c.external_id, c.created_at, c.updated_at,
    )  # fmt: skip


@require_safe
@login_required
def contact_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """Every contact the list shows for these filters, in its order, as CSV or XLSX."""
    file_format = export_format(fmt)
    if file_format is None:
        raise Http404
    _, contacts = _contacts(request, _user(request))
    rows = sorted_rows(queryset=contacts, query=request.GET, sorts=CONTACT_SORTS, default="name")
    return export_response(
        fmt=file_format,
        name="contacts",
        headers=CONTACT_COLUMNS,
        rows=(_contact_row(c) for c in rows),
    )


@require_safe
@login_required
def contact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    contact = contact_visible(user=user, pk=pk)
    context = {
        "contact": contact,
        "deals": selectors.contact_deals(user=user, contact=contact),
        "activities": selectors.contact_activities(user=user, contact=contact),
        "lead": lead_story(user=user, contact=contact, now=timezone.now()),
        "can_edit": can_edit_accounts(user),
        "can_manage_personal_data": can_manage_personal_data(user),
    }
    return render(request, "crm/contact_detail.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def contact_create(request: HttpRequest) -> HttpResponse:
    user = _editor(request)
    company: Company | None = None
    if (chosen := request.GET.get("company", "")).isdigit():
        company = company_visible(user=user, pk=int(chosen))
    if request.method != "POST":
        initial: dict[str, Any] = {"owner": user.pk}
        if company is not None:
            initial["company"] = company_label(company)
        form = ContactForm(initial=initial)
        return render(request, "crm/contact_form.html", {"form": form, "company": company})
    form = ContactForm(request.POST)
    if form.is_valid():
        try:
            contact = services.contact_create(by=user, **form.service_data())
        except NotAllowed:
            raise PermissionDenied from None
        except InvalidInput as error:
            refusal_show(form, error)
        else:
            messages.success(request, f"{contact} was created.")
            return redirect("crm:contact_detail", pk=contact.pk)
    context = {"form": form, "company": company}
    return render(request, "crm/contact_form.html", context, status=400)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _editor(request)
    contact = contact_visible(user=user, pk=pk)
    if request.method != "POST":
        form = ContactEditForm(initial=ContactForm.initial_for(contact))
        return render(request, "crm/contact_form.html", {"form": form, "contact": contact})
    form = ContactEditForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            contact = services.contact_update(
                contact=contact,
                by=user,
                expected_updated_at=form.cleaned_data["version"],
                data=form.service_data(),
            )
        except NotAllowed:
            raise PermissionDenied from None
        except StaleVersion as error:
            form = ContactEditForm(_stale_data(request, contact_visible(user=user, pk=pk)))
            _show_stale(form, error)
            status = 409
        except InvalidInput as error:
            refusal_show(form, error)
        else:
            messages.success(request, f"{contact} was saved.")
            return redirect("crm:contact_detail", pk=contact.pk)
    context = {"form": form, "contact": contact}
    return render(request, "crm/contact_form.html", context, status=status)


@require_safe
@login_required
def company_suggest(request: HttpRequest) -> HttpResponse:
    """Company names starting with what was typed, as <option>s for a form's datalist."""
    typed = next((request.GET[k] for k in ("company", "company_name", "q") if k in request.GET), "")
    names = selectors.company_names_starting(prefix=typed.strip()) if typed.strip() else []
    return render(request, "crm/company_options.html", {"names": names})
