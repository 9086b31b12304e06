from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models, transaction
from django.utils import timezone

from keel.accounts.models import User
from keel.core.exceptions import InvalidInput, StaleVersion
from keel.core.services import audit_record, model_update, validate
from keel.crm.access import ensure_can_edit_accounts
from keel.crm.erased import erased_contact_of, refusal
from keel.crm.models import Company, Contact, FunnelStage, Tier
from keel.crm.rules import FunnelEvidence, funnel_stage_for
from keel.crm.selectors import (
    account_changes_since,
    companies_with_domain,
    company_funnel_evidence,
    contact_funnel_evidence,
    contacts_with_email,
)
from keel.leads.claims import events_claim
from keel.leads.definitions import contacts_requalify
from keel.leads.icp import COMPUTED, companies_score, profile_exists
from keel.planning.triggers import contact_fire

_CHUNK = 900  # under SQLite's limit on bound parameters


def _store(
    model: type[Contact] | type[Company], rows: Iterable[tuple[int, str, FunnelEvidence]]
) -> int:
    moved: dict[FunnelStage, list[int]] = defaultdict(list)
    for pk, stored, evidence in rows:
        stage = funnel_stage_for(evidence)
        if stage != stored:
            moved[stage].append(pk)
    now = timezone.now()
    for stage, ids in moved.items():
        for start in range(0, len(ids), _CHUNK):
            model.objects.filter(pk__in=ids[start : start + _CHUNK]).update(
                funnel_stage=stage, funnel_stage_since=now
            )
    return sum(len(ids) for ids in moved.values())


@transaction.atomic
def funnel_recompute(
    *,
    contact_ids: Collection[int] | None = None,
    company_ids: Collection[int] | None = None,
) -> int:
    """Re-derive the funnel stage of the given contacts and companies (None: all of them).

    Returns how many changed stage. Called by every service that writes funnel evidence.
    """
    changed = 0
    if contact_ids is None or contact_ids:
        contacts = Contact.objects.all()
        if contact_ids is not None:
            contacts = contacts.filter(pk__in=list(contact_ids))
        changed += _store(Contact, contact_funnel_evidence(contacts=contacts))
    if company_ids is None or company_ids:
        companies = Company.objects.all()
        if company_ids is not None:
            companies = companies.filter(pk__in=list(company_ids))
        changed += _store(Company, company_funnel_evidence(companies=companies))
    return changed


# --- companies and contacts -------------------------------------------------------------

COMPANY_FIELDS = ["name", "domain", "industry", "employees", "region", "tier", "icp_fit", "owner"]
CONTACT_FIELDS = [
    "company",
    "first_name",
    "last_name",
    "title",
    "email",
    "phone",
    "buying_role",
    "channel",
    "consent",
    "consent_text",
    "consent_at",
    "owner",
    "inquired_at",
    "qualified_at",
]
# The contact fields that are funnel evidence, for the contact and for its company.
# The company fields a lead definition may test: a change requalifies its contacts.
LEAD_FIT_FIELDS = frozenset({"industry", "employees", "region", "tier", "icp_fit"})
CONTACT_FUNNEL_FIELDS = frozenset({"company", "inquired_at", "qualified_at"})
# The company fields the ideal customer profile scores: a change rescores the company.
ICP_FIELDS = frozenset({"industry", "employees", "region", "tier"})


def _refuse(model: type[models.Model], field: str, message: str) -> InvalidInput:
    """A refusal in validate()'s shape, so forms can show it next to `field`."""
    return InvalidInput(
        f"The {model._meta.verbose_name} was not saved: 1 problem.", details=[f"{field}: {message}"]
    )


def _ensure_domain_free(domain: str, *, company: Company | None = None) -> None:
    if not domain:
        return
    others = companies_with_domain(domain)
    if company is not None:
        others = others.exclude(pk=company.pk)
    other = others.first()
    if other is not None:
        raise _refuse(Company, "domain", f"{other} already has the domain {domain}.")


def _ensure_email_free(email: str, *, by: "User | Visitor", contact: Contact | None = None) -> None:
    if not email:
        return
    # The lead form's visitor asks to be in touch; an unchanged address was allowed before.
    unchanged = contact is not None and contact.email.casefold() == email.casefold()
    erased = None if isinstance(by, Visitor) or unchanged else erased_contact_of(email=email)
    if erased is not None:
        raise _refuse(Contact, "email", f"{email} was {refusal(erased)}.")
    others = contacts_with_email(email)
    if contact is not None:
        others = others.exclude(pk=contact.pk)
    other = others.first()
    if other is not None:
        raise _refuse(Contact, "email", f"{other} already has the e-mail address {email}.")


def _ensure_known_fields(model: type[models.Model], data: dict[str, Any], known: list[str]) -> None:
    unknown = set(data) - set(known)
    if unknown:
        raise InvalidInput(
            f"These {model._meta.verbose_name} fields cannot be edited here: "
            f"{', '.join(sorted(unknown))}."
        )


def _shown(field: models.Field[Any, Any], value: Any) -> str:
    """A value as the audit log keeps it (a string for a time), as a person reads it."""
    if value is None or value == "":
        return "—"
    if isinstance(field, models.DateTimeField):
        try:
            return timezone.localtime(datetime.fromisoformat(value)).strftime("%Y-%m-%d %H:%M")
        except (TypeError, ValueError):
            return str(value)
    return str(dict(field.flatchoices).get(value, value))


def _change_line(model: type[models.Model], name: str, change: Any) -> str:
    """One change from the audit log ({field: [old, new]}) as a person reads it."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return name
    if not isinstance(field, models.Field) or field.is_relation:
        return str(getattr(field, "verbose_name", name))  # the log keeps a related row's id
    old, new = change
    return f"{field.verbose_name}: {_shown(field, old)} → {_shown(field, new)}"


def _stale(current: Company | Contact, *, since: datetime) -> StaleVersion:
    """The refusal of an edit of a version older than `current`: who changed what since."""
    entries = account_changes_since(obj=current, since=since)
    last = entries[-1] if entries else None
    who = (last.actor if last else None) or "someone"
    when = timezone.localtime(current.updated_at).strftime("%Y-%m-%d %H:%M")
    details = [
        f"{entry.actor or 'someone'} changed {_change_line(type(current), field, change)}"
        for entry in entries
        for field, change in entry.changes.items()
    ]
    return StaleVersion(
        f"{current} was changed by {who} at {when}, after you opened it. Nothing was saved.",
        details=details,
    )


class Visitor:
    """Someone outside Keel writing through the public lead form (leads/capture.py),
    which checks the form itself. Named explicitly, never implied by a missing user: a
    write with no user is refused like any other; the audit names no actor."""

    def __str__(self) -> str:
        return "a visitor (the public lead form)"


VISITOR = Visitor()


def _ensure_may_edit(by: User | Visitor) -> None:
    if not isinstance(by, Visitor):
        ensure_can_edit_accounts(by)


def _actor(by: User | Visitor) -> User | None:
    return None if isinstance(by, Visitor) else by


def _stamp(obj: Company | Contact, *, at: datetime) -> None:
    """Make the audit entry's time the record's version (updated_at).

    An edit form carries updated_at; the changes made since are the audit entries after
    it. Without this the entry of the very edit the form was opened on (written a moment
    after the row) would count as a change made since.
    """
    type(obj).objects.filter(pk=obj.pk).update(updated_at=at)
    obj.updated_at = at


@transaction.atomic
def company_create(
    *,
    by: User | Visitor,
    name: str,
    domain: str = "",
    industry: str = "",
    employees: int | None = None,
    region: str = "",
    tier: str = Tier.STANDARD,
    icp_fit: int | None = None,
    owner: User | None = None,
) -> Company:
    _ensure_may_edit(by)
    computed = profile_exists()
    if computed and icp_fit is not None:
        raise _refuse(Company, "icp_fit", COMPUTED)
    domain = domain.strip().lower()
    _ensure_domain_free(domain)
    company = Company(
        name=name.strip(),
        domain=domain,
        industry=industry.strip(),
        employees=employees,
        region=region.strip(),
        tier=tier,
        icp_fit=icp_fit,
        owner=owner,
    )
    validate(company)
    company.save()
    if computed:
        companies_score(company_ids=[company.pk], requalify=False)  # no contacts yet
        company.refresh_from_db(fields=["icp_fit"])
    entry = audit_record(
        actor=_actor(by), action="company.create", obj=company, summary=company.name
    )
    _stamp(company, at=entry.at)
    return company


@transaction.atomic
def company_update(
    *, company: Company, by: User, expected_updated_at: datetime, data: dict[str, Any]
) -> Company:
    """Edit a company's fields; an edit of a version someone changed since is refused."""
    ensure_can_edit_accounts(by)
    _ensure_known_fields(Company, data, COMPANY_FIELDS)
    current = Company.objects.select_for_update().get(pk=company.pk)
    if current.updated_at != expected_updated_at:
        raise _stale(current, since=expected_updated_at)
    computed = profile_exists()
    if computed and "icp_fit" in data and data["icp_fit"] != current.icp_fit:
        raise _refuse(Company, "icp_fit", COMPUTED)
    if "domain" in data:
        data = {**data, "domain": data["domain"].strip().lower()}
        _ensure_domain_free(data["domain"], company=current)
    changes = model_update(instance=current, data=data, fields=COMPANY_FIELDS)
    if computed and ICP_FIELDS & set(changes):
        # Scored before its people are requalified below, so they are judged on the new fit.
        fit_before = current.icp_fit
        companies_score(company_ids=[current.pk], requalify=False)
        current.refresh_from_db(fields=["icp_fit"])
        if current.icp_fit != fit_before:
            changes["icp_fit"] = [fit_before, current.icp_fit]
    if changes:
        entry = audit_record(
            actor=_actor(by),
            action="company.update",
            obj=current,
            summary=current.name,
            changes=changes,
        )
        _stamp(current, at=entry.at)
        if LEAD_FIT_FIELDS & set(changes):  # its people's fit with the lead definition
            contacts_requalify(contact_ids=current.contacts.values_list("pk", flat=True))
    return current


@transaction.atomic
def contact_create(
    *,
    by: User | Visitor,
    last_name: str,
    first_name: str = "",
    company: Company | None = None,
    title: str = "",
    email: str = "",
    phone: str = "",
    buying_role: str = "",
    channel: str = "",
    consent: bool = False,
    consent_text: str = "",
    consent_at: datetime | None = None,
    owner: User | None = None,
    inquired_at: datetime | None = None,
    qualified_at: datetime | None = None,
    requalify: bool = True,
) -> Contact:
    """A new contact, its funnel stage and its company's, judged by the lead definition.

    `requalify=False` leaves the judging to the caller, who writes more that the lead
    definition reads (the lead form's event) and then calls contacts_requalify once.
    """
    _ensure_may_edit(by)
    email = email.strip()
    _ensure_email_free(email, by=by)
    contact = Contact(
        company=company,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        title=title.strip(),
        email=email,
        phone=phone.strip(),
        buying_role=buying_role,
        channel=channel,
        consent=consent,
        consent_text=consent_text,
        consent_at=consent_at,
        owner=owner,
        inquired_at=inquired_at,
        qualified_at=qualified_at,
    )
    # An inquiry or a qualification moves the contact, and its company, up the funnel. A
    # new row is the only evidence of its own (no activity, deal or referral can name it
    # yet), so its stage is known before it is written; its company's is read back.
    contact.funnel_stage = funnel_stage_for(
        FunnelEvidence(has_inquiry=inquired_at is not None, is_qualified=qualified_at is not None)
    )
    if contact.funnel_stage != FunnelStage.SUSPECT:
        contact.funnel_stage_since = timezone.now()
    validate(contact)
    contact.save()
    inquired = contact.inquired_at
    if events_claim(contact=contact) and contact.inquired_at != inquired:
        funnel_recompute(contact_ids=[contact.pk], company_ids=[])  # an earlier inquiry
    if company is not None:
        funnel_recompute(contact_ids=[], company_ids=[company.pk])
    entry = audit_record(
        actor=_actor(by), action="contact.create", obj=contact, summary=str(contact)
    )
    _stamp(contact, at=entry.at)
    contact_fire(contact=contact, inquired_before=None, qualified_before=None)
    if requalify and contacts_requalify(contact_ids=[contact.pk]).written:
        contact.refresh_from_db()
    return contact


@transaction.atomic
def contact_update(
    *,
    contact: Contact,
    by: User | Visitor,
    expected_updated_at: datetime,
    data: dict[str, Any],
    requalify: bool = True,
) -> Contact:
    """Edit a contact's fields; an edit of a version someone changed since is refused.

    `requalify=False` leaves the judging by the lead definition to the caller, as for
    contact_create.
    """
    _ensure_may_edit(by)
    _ensure_known_fields(Contact, data, CONTACT_FIELDS)
    current = Contact.objects.select_for_update().get(pk=contact.pk)
    if current.updated_at != expected_updated_at:
        raise _stale(current, since=expected_updated_at)
    if "email" in data:
        data = {**data, "email": data["email"].strip()}
        _ensure_email_free(data["email"], by=by, contact=current)
    old_company_id = current.company_id
    inquired_before, qualified_before = current.inquired_at, current.qualified_at
    changes = model_update(instance=current, data=data, fields=CONTACT_FIELDS)
    if CONTACT_FUNNEL_FIELDS & set(changes):
        # The company that lost the contact loses its evidence, the one that gained it gains.
        companies = {pk for pk in (old_company_id, current.company_id) if pk is not None}
        funnel_recompute(contact_ids=[current.pk], company_ids=companies)
        current.refresh_from_db(fields=["funnel_stage", "funnel_stage_since"])
    if changes:
        entry = audit_record(
            actor=_actor(by),
            action="contact.update",
            obj=current,
            summary=str(current),
            changes=changes,
        )
        _stamp(current, at=entry.at)
        contact_fire(
            contact=current, inquired_before=inquired_before, qualified_before=qualified_before
        )
        if requalify and contacts_requalify(contact_ids=[current.pk]).written:
            current.refresh_from_db()
    return current
