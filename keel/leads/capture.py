"""Lead capture: the web forms a business embeds on its own site, and what a submission does.

A submission is the only write in Keel nobody signs in for, so it is careful in three ways:

- spam: a honeypot field (hidden from people, filled by bots) and a rate limit per e-mail
  address and per remote address; either drops the submission without saying so;
- no enumeration: the caller answers the same whatever happened (known or new person,
  dropped or stored), so the form cannot be used to learn who is in the CRM;
- no overwriting: a known contact gains only what was blank; what sales entered stays.

The contact and company are written through crm.services with no acting user (`by=VISITOR`):
the audit then shows the change as nobody's, which is the truth — a visitor made it.
"""

import enum
import hashlib
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django import forms
from django.core.cache import cache
from django.db import IntegrityError, transaction

from keel.accounts.models import User
from keel.core.exceptions import InvalidInput
from keel.core.services import model_update, validate
from keel.crm.models import Company, Contact
from keel.crm.selectors import companies_with_domain, contacts_with_email
from keel.crm.services import VISITOR, company_create, contact_create, contact_update
from keel.leads.access import ensure_can_manage_forms
from keel.leads.campaigns import attribution_refresh
from keel.leads.definitions import contacts_requalify
from keel.leads.models import EventType, LeadForm, MarketingEvent

logger = logging.getLogger(__name__)

# Addresses at these domains say nothing about the employer: their people are never merged
# into one company by domain. Short on purpose (the largest providers in Keel's markets);
# a domain missing here only costs a company named after it, which a person can merge.
FREE_MAIL_DOMAINS = frozenset(
    {
        "aol.com",
        "gmail.com",
        "googlemail.com",
        "gmx.de",
        "gmx.net",
        "hotmail.com",
        "icloud.com",
        "live.com",
        "mail.com",
        "me.com",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "t-online.de",
        "web.de",
        "yahoo.com",
    }
)
RATE_LIMIT = 5  # submissions per e-mail address, and per remote address, per window
RATE_WINDOW = 3600  # seconds; a fixed window (at most twice the limit across a boundary)
HONEYPOT = "website"  # the field's name: one a form-filling bot is keen to fill
FORM_FIELDS = ["name", "campaign", "source", "consent_text", "counts_as_inquiry"]
FORM_FIELDS += ["thank_you_url", "is_active"]


class Outcome(enum.StrEnum):
    """What became of a submission: for the log and the tests, never for the answer."""

    STORED = "stored"
    HONEYPOT = "honeypot"
    LIMITED = "limited"
    DROPPED = "dropped"  # the records refused it twice (see _store): logged, not stored


class SubmissionFields(forms.Form):
    """The fields a lead form posts (the snippet's names); lengths as the contact's."""

    email = forms.EmailField(max_length=254)
    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)
    company = forms.CharField(max_length=200, required=False)
    title = forms.CharField(max_length=150, required=False)
    phone = forms.CharField(max_length=50, required=False)
    consent = forms.BooleanField(required=False)
    page = forms.CharField(max_length=2000, required=False)


# --- the forms ---------------------------------------------------------------------------


@transaction.atomic
def lead_form_create(
    *,
    by: User,
    name: str,
    campaign: str = "",
    source: str = "",
    consent_text: str = "",
    counts_as_inquiry: bool = True,
    thank_you_url: str = "",
) -> LeadForm:
    ensure_can_manage_forms(by)
    form = LeadForm(
        name=name.strip(),
        campaign=campaign.strip(),
        source=source.strip(),
        consent_text=consent_text.strip(),
        counts_as_inquiry=counts_as_inquiry,
        thank_you_url=thank_you_url.strip(),
        created_by=by,
    )
    validate(form)
    form.save()
    return form


@transaction.atomic
def lead_form_update(*, form: LeadForm, by: User, data: dict[str, Any]) -> LeadForm:
    """Change a form's settings; the token (its address on the business's site) stays."""
    ensure_can_manage_forms(by)
    unknown = set(data) - set(FORM_FIELDS)
    if unknown:
        raise InvalidInput(f"These form fields cannot be edited: {', '.join(sorted(unknown))}.")
    current = LeadForm.objects.select_for_update().get(pk=form.pk)
    model_update(instance=current, data=data, fields=FORM_FIELDS)
    return current


# --- a submission ------------------------------------------------------------------------


def _over_limit(kind: str, value: str, now: datetime) -> bool:
    """Count one submission for `value`; True once it is past the limit in this window.

    Keys hold a hash, not the address: the cache may be shared, and its keys listed.
    """
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]
    key = f"keel:lead-form:{kind}:{digest}:{int(now.timestamp()) // RATE_WINDOW}"
    cache.add(key, 0, timeout=RATE_WINDOW)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr: this is the window's first
        cache.set(key, 1, timeout=RATE_WINDOW)
        count = 1
    return count > RATE_LIMIT


def _domain(email: str) -> str:
    return email.rsplit("@", 1)[1].lower()


def _business(email: str) -> bool:
    return _domain(email) not in FREE_MAIL_DOMAINS


def _company_for(*, email: str, name: str) -> Company | None:
    """The company a new person belongs to: by the address's domain (unless it is free
    mail), else by the name given; created when neither finds one."""
    domain = _domain(email)
    if _business(email):
        company = companies_with_domain(domain).first()
        if company is None and name:
            company = Company.objects.filter(name__iexact=name, domain="").order_by("id").first()
        return company or company_create(by=VISITOR, name=name or domain, domain=domain)
    if not name:
        return None
    company = Company.objects.filter(name__iexact=name).order_by("id").first()
    return company or company_create(by=VISITOR, name=name)


def _consent(form: LeadForm, given: bool, now: datetime) -> dict[str, Any]:
    # A form with no wording shows no checkbox: a "consent" sent to it agreed to nothing.
    # An unticked box is no withdrawal: an earlier consent stays.
    if not (given and form.consent_text):
        return {}
    return {"consent": True, "consent_text": form.consent_text, "consent_at": now}


def _event_save(event: MarketingEvent, contact: Contact, company: Company | None = None) -> None:
    event.contact = contact
    event.company_id = company.pk if company is not None else contact.company_id
    event.save()


def _attribute(event: MarketingEvent, contact: Contact) -> None:
    # Only a tagged event can change a first or last touch, and not one whose campaign
    # both already are (earlier or later, it can only name that campaign again).
    touches = {contact.first_campaign, contact.last_campaign}
    if event.campaign and touches != {event.campaign}:
        attribution_refresh(contact_ids=[contact.pk])


def submission_receive(
    *,
    form: LeadForm,
    data: Mapping[str, Any],
    remote_addr: str,
    now: datetime,
    referer: str = "",
) -> Outcome:
    """Take one submission of `form`: the contact (found by e-mail or created), its company,
    consent, a form-fill event and, for an inquiry form, the contact's first inquiry.

    Raises InvalidInput only for a missing or malformed e-mail address (it says nothing
    about who is known); a honeypot or rate-limited submission is dropped and logged.
    """
    if str(data.get(HONEYPOT, "")).strip():
        logger.info("lead form %s: honeypot filled from %s; dropped", form.pk, remote_addr)
        return Outcome.HONEYPOT
    fields = SubmissionFields(data)
    if not fields.is_valid():
        problems = [
            f"{name}: {' '.join(map(str, errors))}" for name, errors in fields.errors.items()
        ]
        raise InvalidInput("The form was not sent: please check it.", details=problems)
    sent = fields.cleaned_data
    email: str = sent["email"].strip()
    # Both counters move on every submission: a burst from one address spends its quota
    # whichever e-mail addresses it sends.
    over_address = _over_limit("ip", remote_addr, now)
    over_email = _over_limit("email", email.lower(), now)
    if over_address or over_email:
        logger.warning(
            "lead form %s: rate limit (%s) reached from %s; dropped",
            form.pk,
            "address" if over_address else "e-mail",
            remote_addr,
        )
        return Outcome.LIMITED

    # Twice at most: a submission racing another for the same new person finds them the
    # second time. What the records still refuse is logged, never told: the answer is the
    # same whatever happened, so it says nothing of who is known. Each try is a
    # transaction of its own (a savepoint inside a caller's).
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                return _store(form=form, sent=sent, email=email, referer=referer, now=now)
        except (InvalidInput, IntegrityError) as error:
            logger.warning("lead form %s: attempt %s refused: %s", form.pk, attempt, error)
    return Outcome.DROPPED


def _store(
    *, form: LeadForm, sent: dict[str, Any], email: str, referer: str, now: datetime
) -> Outcome:
    inquired = now if form.counts_as_inquiry else None
    event = MarketingEvent(
        type=EventType.FORM_FILL,
        occurred_at=now,
        email=email,
        campaign=form.campaign,
        source=form.source,
        url=(sent["page"] or referer)[:2000],
        payload={"form": form.pk},
    )
    # Locked: a salesperson's edit between our read and write would refuse ours as stale.
    contact = contacts_with_email(email).select_for_update().first()
    if contact is None:
        contact = contact_create(
            by=VISITOR,
            email=email,
            first_name=sent["first_name"],
            # A contact needs a last name; the address stands in until someone learns it.
            last_name=sent["last_name"] or email[:100],
            company=_company_for(email=email, name=sent["company"].strip()),
            title=sent["title"],
            phone=sent["phone"],
            inquired_at=inquired,
            **_consent(form, sent["consent"], now),
            requalify=False,  # once, below, with the event
        )
        _event_save(event, contact)
        _attribute(event, contact)
        # Engagement is what a lead definition may ask for: judged with this event.
        contacts_requalify(contact_ids=[contact.pk])
        return Outcome.STORED
    blanks: dict[str, Any] = {
        name: sent[name].strip()
        for name in ("first_name", "last_name", "title", "phone")
        if not getattr(contact, name) and sent[name].strip()
    }
    if contact.company_id is None and (sent["company"].strip() or _business(email)):
        blanks["company"] = _company_for(email=email, name=sent["company"].strip())
    if inquired is not None and contact.inquired_at is None:
        blanks["inquired_at"] = inquired
    blanks.update(_consent(form, sent["consent"], now))
    _event_save(event, contact, company=blanks.get("company"))
    _attribute(event, contact)
    if blanks:
        contact_update(
            contact=contact,
            by=VISITOR,
            expected_updated_at=contact.updated_at,
            data=blanks,
            requalify=False,  # once, below
        )
    contacts_requalify(contact_ids=[contact.pk])
    return Outcome.STORED
