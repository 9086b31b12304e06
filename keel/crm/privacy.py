"""A person's data protection rights: everything held about a contact, and its erasure.

`contact_export` gathers what Keel holds about one contact; `contact_erase` removes what
identifies them while the business's history stays true: the contact row, its activities,
marketing events, hand-offs and qualifications are kept (the scorecard counts them, deals
and stage histories refer to them), emptied of the person. Text elsewhere that names them
(another record's notes, an audit summary, a webhook payload, an import's rejected rows)
is found by their e-mail address, full name and phone number across every table and
rewritten to "Erased contact #<id>".

Only the owner may do either: an export hands over everything about a person in one
file, and an erasure cannot be undone.
"""

import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.apps import apps
from django.db import models, transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast, Lower
from django.utils import timezone

from keel.accounts.models import Role, User
from keel.activities.models import Activity
from keel.collateral.models import CollateralUse, ShareView
from keel.core.exceptions import InvalidInput, NotAllowed
from keel.core.models import AuditEntry
from keel.core.services import audit_record
from keel.crm.erased import identities_of
from keel.crm.models import Contact, ErasedIdentity
from keel.imports.models import ImportRun, RunStatus
from keel.leads.definition_rules import RulesError, parse_rules
from keel.leads.models import EventType, Handoff, LeadForm, MarketingEvent, Qualification
from keel.pipeline.models import DealContact, StageChange

EXPORT_ACTION = "contact.personal_data_export"
ERASE_ACTION = "contact.erase"
ALLOW_ACTION = "contact.erasure_block_lift"
ERASED = "[erased]"
# The contact fields that say who the person is, blanked by an erasure and in the audit
# trail of their changes. The rest (company, owner, role, channel, funnel dates, campaign
# touches) are the business's facts about the sale, kept so its history adds up.
PERSONAL_FIELDS = frozenset(
    {
        "first_name", "last_name", "email", "phone", "title", "consent_text",
        "external_id",
    }
)  # fmt: skip
# Keel's own users and sign-in records: never a contact's data, even when a name matches.
STAFF_APPS = frozenset({"accounts", "auth", "axes", "contenttypes", "sessions"})
# Written once and never edited (a database trigger refuses UPDATE): reported, not changed.
APPEND_ONLY: tuple[type[models.Model], ...] = (StageChange,)
# A shorter word would match other people's text too ("Li", "Smith", "1234").
MIN_TERM = 5
MIN_PHONE_DIGITS = 6


def can_manage_personal_data(user: User) -> bool:
    """Whether `user` may export or erase a person's data: the owner (or an administrator)."""
    return user.is_active and (user.is_superuser or user.role == Role.OWNER)


def ensure_can_manage_personal_data(user: User) -> None:
    if not can_manage_personal_data(user):
        raise NotAllowed("Only the owner may export or erase a person's data.")


# --- finding the person ----------------------------------------------------------------


def identifying_terms(contact: Contact) -> list[str]:
    """The strings that identify `contact` in free text: e-mail, full name, phone.

    A last name alone is left out: "Erased contact #7" must not become every other
    mention of "Smith".
    """
    terms = [contact.email.strip()]
    full = f"{contact.first_name.strip()} {contact.last_name.strip()}".strip()
    if contact.first_name.strip() or "@" in full:
        terms.append(full)
    phone = contact.phone.strip()
    if sum(ch.isdigit() for ch in phone) >= MIN_PHONE_DIGITS:
        terms.append(phone)
    unique = {t.lower(): t for t in terms if len(t) >= MIN_TERM}
    return sorted(unique.values(), key=len, reverse=True)  # the longest replaced first


@dataclass(frozen=True)
class Mention:
    """A text column of one row that names the person."""

    model: type[models.Model]
    pk: Any
    field: str
    value: Any

    @property
    def label(self) -> str:
        return self.model._meta.label_lower


def _text_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return [
        f
        for f in model._meta.concrete_fields
        if isinstance(f, models.CharField | models.TextField | models.JSONField)
        and not f.primary_key
        and not f.is_relation
    ]


def _searched_models() -> Iterator[type[models.Model]]:
    for model in apps.get_models():
        if model._meta.app_label in STAFF_APPS or model._meta.proxy or not model._meta.managed:
            continue
        if _text_fields(model):
            yield model


def _json_variants(term: str) -> list[str]:
    # SQLite stores JSON with non-ASCII letters escaped ("Jos\u00e9"); PostgreSQL does not.
    escaped = json.dumps(term)[1:-1]
    return [term] if escaped == term else [term, escaped]


def mentions(terms: list[str], *, exclude: Contact | None = None) -> Iterator[Mention]:
    """Every text or JSON column of every table (but Keel's users) holding one of `terms`,
    whatever its case; the `exclude` contact's own row is left out.

    One query per table: a full scan, acceptable for a request a person makes rarely.
    """
    if not terms:
        return
    for model in _searched_models():
        fields = _text_fields(model)
        annotations: dict[str, Any] = {}
        condition = Q()
        for field in fields:
            if isinstance(field, models.JSONField):
                alias = f"_text_{field.name}"
                annotations[alias] = Cast(field.name, output_field=TextField())
                for term in terms:
                    for variant in _json_variants(term):
                        condition |= Q(**{f"{alias}__icontains": variant})
            else:
                for term in terms:
                    condition |= Q(**{f"{field.name}__icontains": term})
        rows = model._default_manager.annotate(**annotations).filter(condition)
        if exclude is not None and model is Contact:
            rows = rows.exclude(pk=exclude.pk)
        for row in rows.order_by("pk").iterator():
            for field in fields:
                value = getattr(row, field.attname)
                if _holds(value, terms):
                    yield Mention(model, row.pk, field.name, value)


def _holds(value: Any, terms: list[str]) -> bool:
    if isinstance(value, str):
        return any(t.lower() in value.lower() for t in terms)
    if isinstance(value, dict):
        return any(_holds(k, terms) or _holds(v, terms) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds(v, terms) for v in value)
    return False


def _replaced(value: Any, terms: list[str], label: str) -> Any:
    if isinstance(value, str):
        for term in terms:
            value = re.sub(re.escape(term), label, value, flags=re.IGNORECASE)
        return value
    if isinstance(value, dict):
        return {_replaced(k, terms, label): _replaced(v, terms, label) for k, v in value.items()}
    if isinstance(value, list):
        return [_replaced(v, terms, label) for v in value]
    return value


def _file_mentions(source: bytes, terms: list[str]) -> bool:
    """Whether an uploaded CSV or XLSX file holds one of `terms`."""
    texts = [source]
    if zipfile.is_zipfile(io.BytesIO(source)):  # an XLSX: its cells are XML inside
        with zipfile.ZipFile(io.BytesIO(source)) as book:
            texts = [book.read(name) for name in book.namelist() if name.endswith(".xml")]
    for text in texts:
        lowered = text.decode("utf-8", errors="replace").lower()
        if any(t.lower() in lowered for t in terms):
            return True
    return False


def _held_uploads(terms: list[str]) -> list[ImportRun]:
    """The import runs still keeping an uploaded file (not yet committed) that names them."""
    runs = ImportRun.objects.filter(source__isnull=False).only("pk", "file_name", "source")
    return [r for r in runs if r.source and _file_mentions(bytes(r.source), terms)]


def _events_of(contact: Contact) -> models.QuerySet[MarketingEvent]:
    """The contact's marketing events and those sent with their address but never claimed."""
    held = Q(contact=contact)
    if contact.email:
        held |= Q(contact__isnull=True, address=contact.email.lower())
    return MarketingEvent.objects.annotate(address=Lower("email")).filter(held)


def _own_audit(contact: Contact) -> models.QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(
        content_type__app_label="crm", content_type__model="contact", object_id=str(contact.pk)
    )


# --- export ----------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return f"<{len(value)} bytes>"
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    return str(value)


def _row(obj: models.Model, *, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every stored field of `obj`: a related row as its id, the rest as JSON values."""
    return {
        f.attname: _plain(getattr(obj, f.attname))
        for f in obj._meta.concrete_fields
        if f.name not in skip
    }


def _person(user: User | None) -> str | None:
    return None if user is None else str(user)


def _qualification(q: Qualification) -> dict[str, Any]:
    try:
        rules = [r.words for r in parse_rules(q.definition.rules)]
    except RulesError:
        rules = []
    reasons = [
        {"rule": rules[i] if i < len(rules) else f"rule {i + 1}", "met": bool(ok)}
        for i, ok in enumerate(q.reasons)
    ]
    return {
        "at": _plain(q.at),
        "definition_version": q.definition.version,
        "qualified": q.qualified,
        "reasons": reasons,
    }


def _event(e: MarketingEvent, forms: dict[int, str]) -> dict[str, Any]:
    row = _row(e, skip=frozenset({"received_by"}))
    form = e.payload.get("form") if isinstance(e.payload, dict) else None
    if e.type == EventType.FORM_FILL and isinstance(form, int):
        row["form_name"] = forms.get(form)
    return row


def contact_export(*, contact: Contact, by: User) -> dict[str, Any]:
    """Everything Keel holds about `contact`, as JSON values, recorded in the audit trail.

    The deals they are on are the business's: only the deal's name, stage and value are
    given, with the person's role in it.
    """
    ensure_can_manage_personal_data(by)
    contact = Contact.objects.select_related("company", "owner", "referred_by").get(pk=contact.pk)
    events = list(_events_of(contact).order_by("occurred_at", "id"))
    form_ids = {
        e.payload["form"]
        for e in events
        if isinstance(e.payload, dict) and isinstance(e.payload.get("form"), int)
    }
    forms = dict(LeadForm.objects.filter(pk__in=form_ids).values_list("pk", "name"))
    deal_roles = DealContact.objects.filter(contact=contact).select_related(
        "deal__stage", "deal__company"
    )
    uses = list(
        CollateralUse.objects.filter(contact=contact)
        .select_related("collateral", "deal")
        .order_by("at", "id")
    )
    views: dict[int, list[dict[str, Any]]] = {}
    for view in ShareView.objects.filter(link__use__in=uses).select_related("link"):
        views.setdefault(view.link.use_id, []).append(
            {"at": _plain(view.at), "seconds": view.seconds}
        )
    terms = identifying_terms(contact)
    own_audit = set(_own_audit(contact).values_list("pk", flat=True))
    data: dict[str, Any] = {
        "exported_at": _plain(timezone.now()),
        "contact": _row(contact),
        "company": None
        if contact.company is None
        else {"id": contact.company.pk, "name": contact.company.name},
        "owner": _person(contact.owner),
        "referred_by": None
        if contact.referred_by is None
        else {"id": contact.referred_by.pk, "name": str(contact.referred_by)},
        "consent": {
            "given": contact.consent,
            "wording": contact.consent_text,
            "at": _plain(contact.consent_at),
        },
        "campaign_touches": {
            "first": contact.first_campaign,
            "last_before_qualifying": contact.last_campaign,
        },
        "deals": [
            {
                "id": dc.deal.pk,
                "name": dc.deal.name,
                "company": dc.deal.company.name,
                "stage": dc.deal.stage.name,
                "status": dc.deal.status,
                "amount": _plain(dc.deal.amount),
                "currency": dc.deal.currency,
                "role": dc.role,
            }
            for dc in deal_roles.order_by("deal_id")
        ],
        "deals_referred": list(contact.referred.order_by("pk").values_list("pk", flat=True)),
        "activities": [
            _row(a, skip=frozenset({"by", "contact"})) | {"by": _person(a.by)}
            for a in Activity.objects.filter(contact=contact)
            .select_related("by")
            .order_by("at", "id")
        ],
        "marketing_events": [_event(e, forms) for e in events if e.type != EventType.FORM_FILL],
        "form_submissions": [_event(e, forms) for e in events if e.type == EventType.FORM_FILL],
        "qualifications": [
            _qualification(q)
            for q in Qualification.objects.filter(contact=contact)
            .select_related("definition")
            .order_by("at", "id")
        ],
        "handoffs": [
            _row(h, skip=frozenset({"contact", "task", "rule", "definition"}))
            | {"owner": _person(h.owner), "decided_by": _person(h.decided_by)}
            for h in Handoff.objects.filter(contact=contact)
            .select_related("owner", "decided_by")
            .order_by("at", "id")
        ],
        "collateral_shared": [
            {
                "collateral": u.collateral.title,
                "deal": u.deal.name if u.deal is not None else None,
                "at": _plain(u.at),
                "link_views": views.get(u.pk, []),
            }
            for u in uses
        ],
        "audit_trail": [
            {
                "at": _plain(a.at),
                "by": _person(a.actor),
                "action": a.action,
                "summary": a.summary,
                "changes": a.changes,
            }
            for a in _own_audit(contact).select_related("actor").order_by("at", "id")
        ],
        "mentioned_elsewhere": [
            {"record": m.label, "id": _plain(m.pk), "field": m.field, "value": _plain(m.value)}
            for m in mentions(terms, exclude=contact)
            if not (m.model is AuditEntry and m.pk in own_audit)  # given above
        ]
        + [
            {"record": "imports.importrun", "id": r.pk, "field": "source", "value": r.file_name}
            for r in _held_uploads(terms)
        ],
    }
    audit_record(
        actor=by,
        action=EXPORT_ACTION,
        obj=contact,
        summary=f"Exported personal data of {contact}",
    )
    return data


def export_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False)


# --- erasure ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Erasure:
    """What an erasure changed, and the mentions it had to leave (append-only history)."""

    contact: Contact
    rewritten: int
    kept: list[Mention]


def _without_query(url: str) -> str:
    """A page address without its query and fragment, where forms put e-mail addresses."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _scrub_audit(contact: Contact, label: str) -> None:
    for entry in _own_audit(contact).select_for_update():
        changes = entry.changes if isinstance(entry.changes, dict) else {}
        entry.changes = {
            field: ([ERASED, ERASED] if field in PERSONAL_FIELDS else change)
            for field, change in changes.items()
        }
        entry.summary = label
        entry.save(update_fields=["changes", "summary"])


def _scrub_events(contact: Contact) -> None:
    for event in _events_of(contact).select_for_update():
        form = event.payload.get("form") if isinstance(event.payload, dict) else None
        event.payload = {"form": form} if isinstance(form, int) else {}
        event.email = ""
        event.url = _without_query(event.url)
        event.save(update_fields=["payload", "email", "url"])


def _rewrite(mention: Mention, terms: list[str], label: str, now: datetime) -> None:
    field = mention.model._meta.get_field(mention.field)
    assert isinstance(field, models.Field)  # noqa: S101 - _text_fields gave only fields
    value = _replaced(mention.value, terms, label)
    if isinstance(field, models.EmailField | models.URLField) and field.blank:
        value = ""  # "Erased contact #7" is no address
    if isinstance(value, str) and field.max_length is not None:
        value = value[: field.max_length]
    update: dict[str, Any] = {field.attname: value}
    stamp = next((f for f in mention.model._meta.concrete_fields if f.name == "updated_at"), None)
    if isinstance(stamp, models.DateTimeField) and stamp.auto_now:
        update["updated_at"] = now  # an edit form opened before is stale now
    mention.model._default_manager.filter(pk=mention.pk).update(**update)


def _discard_uploads(runs: list[ImportRun]) -> None:
    for run in runs:
        ImportRun.objects.filter(pk=run.pk).update(
            source=None,
            status=RunStatus.FAILED,
            finished_at=timezone.now(),
            failure="The uploaded file was discarded: it held the personal data of a "
            "contact erased on request. Upload the file again without them.",
        )


@transaction.atomic
def contact_erase(*, contact: Contact, by: User, reason: str) -> Erasure:
    """Erase what identifies `contact`, everywhere, for good; keep what the business's
    figures and histories count.

    Kept: the contact row (as "Erased contact #<id>", with company, owner, funnel dates and
    campaign touches), its activities (without notes), events (type, time, campaign,
    source), qualifications, hand-offs (without the note), deal roles, and every deal and
    stage change; its e-mail address and external id as digests only, so that they are not
    added again (crm/erased.py). Blanked: name, e-mail, phone, title, consent wording,
    external id, the events' address, payload and page query. Rewritten: every other text
    naming them. An uploaded import file not yet committed that names them is discarded (a
    file cannot be edited cell by cell here). Stage changes are append-only: a mention
    there is left and reported. Their own audit trail keeps who did what when, without the values.
    """
    ensure_can_manage_personal_data(by)
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Say why the data is erased (e.g. the person's request and its date).")
    current = Contact.objects.select_for_update().get(pk=contact.pk)
    if current.erased_at is not None:
        raise InvalidInput(f"Contact #{current.pk} was erased already.")
    label = f"Erased contact #{current.pk}"
    terms = identifying_terms(current)
    now = timezone.now()
    uploads = _held_uploads(terms)

    ErasedIdentity.objects.bulk_create(identities_of(current), ignore_conflicts=True)
    _scrub_events(current)
    Activity.objects.filter(contact=current).exclude(notes="").update(notes="")
    Handoff.objects.filter(contact=current).exclude(note="").update(note="")
    _scrub_audit(current, label)
    Contact.objects.filter(pk=current.pk).update(
        first_name="",
        last_name=label,
        email="",
        phone="",
        title="",
        consent=False,
        consent_text="",
        consent_at=None,
        external_id=None,
        erased_at=now,
        updated_at=now,
    )
    rewritten, kept = 0, []
    for mention in list(mentions(terms, exclude=current)):
        if issubclass(mention.model, APPEND_ONLY):
            kept.append(mention)
            continue
        _rewrite(mention, terms, label, now)
        rewritten += 1
    _discard_uploads(uploads)
    current.refresh_from_db()
    audit_record(
        actor=by,
        action=ERASE_ACTION,
        obj=current,
        summary=f"Erased the personal data of contact #{current.pk}",
        changes={
            "reason": _replaced(reason, terms, label),
            "rewritten_elsewhere": rewritten + len(uploads),
            "kept_in_stage_history": len(kept),
        },
    )
    return Erasure(contact=current, rewritten=rewritten + len(uploads), kept=kept)


@transaction.atomic
def erased_allow(*, contact: Contact, by: User) -> int:
    """Let an erased contact's address and external id be added again (the person came
    back and asked to be in touch); how many blocks were lifted."""
    ensure_can_manage_personal_data(by)
    lifted, _ = ErasedIdentity.objects.filter(contact=contact).delete()
    if lifted:
        audit_record(
            actor=by,
            action=ALLOW_ACTION,
            obj=contact,
            summary=f"Allowed the address and id of erased contact #{contact.pk} again",
            changes={"blocks_lifted": lifted},
        )
    return lifted
