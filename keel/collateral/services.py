"""Keeping the collateral library: pieces, their file versions, activation and retirement.

Who may do what is in collateral/access.py; what a file may be in collateral/files.py.
The rule sales and marketing agreed: a piece becomes active only with a role in the
buyer's process (a buyer step or a stage it serves) and with content (a file or a link).
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from keel.accounts.models import User
from keel.collateral.access import ensure_can_change, ensure_can_keep, ensure_can_submit
from keel.collateral.files import upload_check
from keel.collateral.models import Collateral, CollateralFile, Kind, Status
from keel.core.exceptions import InvalidInput, StaleVersion
from keel.core.services import audit_record, model_update, validate

COLLATERAL_FIELDS = ["title", "kind", "description", "owner", "buyer_steps", "stages", "url"]
NAME_MAX = 200  # a buyer step's or stage's name


def names_clean(names: Iterable[str]) -> list[str]:
    """Stage or buyer-step names stripped, blanks dropped, each once, in the given order."""
    seen: dict[str, None] = {}
    for name in names:
        text = str(name).strip()[:NAME_MAX]
        if text:
            seen.setdefault(text, None)
    return list(seen)


def _cleaned(values: dict[str, Any]) -> dict[str, Any]:
    cleaned = dict(values)
    for key in ("title", "description", "url"):
        if isinstance(cleaned.get(key), str):
            cleaned[key] = cleaned[key].strip()
    for key in ("buyer_steps", "stages"):
        if key in cleaned:
            cleaned[key] = names_clean(cleaned[key] or [])
    if "kind" in cleaned and cleaned["kind"] not in Kind.values:
        known = ", ".join(Kind.values)
        raise InvalidInput(
            "The piece was not saved.",
            details=[f"kind: {cleaned['kind']!r} is not a kind of collateral; use one of {known}."],
        )
    return cleaned


def activation_problems(*, collateral: Collateral, has_file: bool) -> list[str]:
    """Why `collateral` may not be active yet, in words to act on; empty when it may."""
    problems: list[str] = []
    if not collateral.buyer_steps and not collateral.stages:
        problems.append(
            "It serves no buyer step and no stage: no tool without a defined role in the "
            "buyer's process. Choose the stages or buyer steps it serves."
        )
    if not has_file and not collateral.url:
        problems.append("It has neither a file nor a link: upload a file or give its address.")
    return problems


@transaction.atomic
def collateral_create(
    *,
    by: User,
    title: str,
    kind: str,
    description: str = "",
    owner: User | None = None,
    buyer_steps: Iterable[str] = (),
    stages: Iterable[str] = (),
    url: str = "",
) -> Collateral:
    """A new piece, as a draft: it is activated once it has a role and content."""
    ensure_can_keep(by)
    values = _cleaned(
        {
            "title": title,
            "kind": kind,
            "description": description,
            "owner": owner if owner is not None else by,
            "buyer_steps": list(buyer_steps),
            "stages": list(stages),
            "url": url,
        }
    )
    collateral = Collateral(status=Status.DRAFT, **values)
    validate(collateral)
    collateral.save()
    audit_record(actor=by, action="collateral.create", obj=collateral, summary=str(collateral))
    return collateral


def _locked(collateral: Collateral) -> Collateral:
    return Collateral.objects.select_for_update().get(pk=collateral.pk)


@transaction.atomic
def collateral_update(
    *, collateral: Collateral, by: User, data: dict[str, Any], expected_updated_at: datetime
) -> Collateral:
    """Change a piece's fields; an edit of a version someone saved since is refused.

    An active piece keeps the activation rule: it cannot lose its last stage or step.
    """
    unknown = set(data) - set(COLLATERAL_FIELDS)
    if unknown:
        raise InvalidInput(f"These fields cannot be edited: {', '.join(sorted(unknown))}.")
    current = _locked(collateral)
    ensure_can_change(by, current)
    if current.updated_at != expected_updated_at:
        when = timezone.localtime(current.updated_at).strftime("%Y-%m-%d %H:%M")
        raise StaleVersion(
            f"{current} was changed at {when}, after you opened it. Nothing was saved."
        )
    cleaned = _cleaned(data)
    if current.status == Status.ACTIVE:
        after = Collateral(**{f: cleaned.get(f, getattr(current, f)) for f in COLLATERAL_FIELDS})
        problems = activation_problems(collateral=after, has_file=current.files.exists())
        if problems:
            raise InvalidInput(
                f"{current} is active, so it must keep a role and content. Nothing was saved.",
                details=problems,
            )
    changes = model_update(instance=current, data=cleaned, fields=COLLATERAL_FIELDS)
    if changes:
        audit_record(
            actor=by,
            action="collateral.update",
            obj=current,
            summary=str(current),
            changes=changes,
        )
    return current


def _store(*, collateral: Collateral, by: User, uploaded: UploadedFile) -> CollateralFile:
    checked = upload_check(
        name=uploaded.name or "",
        size=uploaded.size or 0,
        stream=uploaded,
        max_bytes=settings.COLLATERAL_MAX_BYTES,
    )
    latest = collateral.files.aggregate(latest=Max("number"))["latest"] or 0
    version = CollateralFile(
        collateral=collateral,
        number=latest + 1,
        name=checked.name,
        size=checked.size,
        content_type=checked.content_type,
        sha256=checked.sha256,
        uploaded_by=by,
    )
    version.file.save(checked.stored_name, uploaded, save=False)
    stored = version.file.name
    try:
        version.save()
        audit_record(
            actor=by,
            action="collateral.upload",
            obj=collateral,
            summary=f"{collateral} v{version.number}: {checked.name}",
            changes={"version": version.number, "sha256": checked.sha256},
        )
    except Exception:
        # The version was not recorded: the file it would have named must not stay behind.
        version.file.storage.delete(stored)
        raise
    return version


@transaction.atomic
def collateral_upload(
    *, collateral: Collateral, by: User, uploaded: UploadedFile
) -> CollateralFile:
    """A new version of a piece's file, numbered after the last; the old ones are kept."""
    current = _locked(collateral)
    ensure_can_change(by, current)
    return _store(collateral=current, by=by, uploaded=uploaded)


@transaction.atomic
def collateral_activate(*, collateral: Collateral, by: User) -> Collateral:
    """Make a piece active: refused while it serves no buyer step or stage, or has no
    content."""
    ensure_can_keep(by)
    current = _locked(collateral)
    if current.status == Status.ACTIVE:
        return current
    problems = activation_problems(collateral=current, has_file=current.files.exists())
    if problems:
        raise InvalidInput(f"{current} cannot be made active yet.", details=problems)
    model_update(instance=current, data={"status": Status.ACTIVE}, fields=["status"])
    audit_record(
        actor=by,
        action="collateral.activate",
        obj=current,
        summary=str(current),
        changes={"status": [collateral.status, Status.ACTIVE]},
    )
    return current


@transaction.atomic
def collateral_retire(*, collateral: Collateral, by: User) -> Collateral:
    """Take a piece out of use; it and its uses stay on record."""
    ensure_can_keep(by)
    current = _locked(collateral)
    if current.status == Status.RETIRED:
        return current
    before = current.status
    model_update(instance=current, data={"status": Status.RETIRED}, fields=["status"])
    audit_record(
        actor=by,
        action="collateral.retire",
        obj=current,
        summary=str(current),
        changes={"status": [before, Status.RETIRED]},
    )
    return current


@transaction.atomic
def collateral_submit(
    *,
    by: User,
    title: str,
    kind: str,
    description: str = "",
    buyer_steps: Iterable[str] = (),
    stages: Iterable[str] = (),
    url: str = "",
    uploaded: UploadedFile | None = None,
) -> Collateral:
    """A tool a salesperson made, entered as a draft for marketing's review, with its file."""
    ensure_can_submit(by)
    if uploaded is None and not url.strip():
        raise InvalidInput("Attach the file you made, or give the link to it.")
    values = _cleaned(
        {
            "title": title,
            "kind": kind,
            "description": description,
            "buyer_steps": list(buyer_steps),
            "stages": list(stages),
            "url": url,
        }
    )
    collateral = Collateral(status=Status.DRAFT, owner=by, submitted_by=by, **values)
    validate(collateral)
    collateral.save()
    audit_record(actor=by, action="collateral.submit", obj=collateral, summary=str(collateral))
    if uploaded is not None:
        _store(collateral=collateral, by=by, uploaded=uploaded)
    return collateral
