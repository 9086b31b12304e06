"""Whale dossiers: opened per company, researched section by section, then completed.

Completing one (every section done) fires the tactics that wait on a completed dossier,
once: the dossier is its own event.
"""

from django.db import transaction
from django.utils import timezone

from keel.accounts.models import User
from keel.core.exceptions import InvalidInput
from keel.core.services import audit_record
from keel.crm.access import ensure_can_edit_accounts
from keel.crm.models import Company
from keel.planning.models import Dossier, DossierSection, Section, Trigger
from keel.planning.triggers import trigger_fire


@transaction.atomic
def dossier_open(*, company: Company, by: User, owner: User | None = None) -> Dossier:
    """The company's dossier with a section per topic, each owned by `owner` (or `by`)."""
    ensure_can_edit_accounts(by)
    dossier, created = Dossier.objects.get_or_create(company=company)
    if created:
        Section.objects.bulk_create(
            Section(dossier=dossier, kind=kind, owner=owner or by) for kind in DossierSection
        )
        audit_record(actor=by, action="dossier.open", obj=dossier, summary=str(dossier))
    return dossier


@transaction.atomic
def section_done(*, section: Section, by: User, notes: str = "") -> Section:
    ensure_can_edit_accounts(by)
    section.notes = notes.strip() or section.notes
    section.done_at = section.done_at or timezone.now()
    section.save(update_fields=["notes", "done_at"])
    return section


@transaction.atomic
def dossier_complete(*, dossier: Dossier, by: User) -> int:
    """Mark the dossier complete and fire the tactics waiting on it; how many tasks it made.

    Refused while a section is not done. Completing it again fires nothing more.
    """
    ensure_can_edit_accounts(by)
    dossier = (
        Dossier.objects.select_for_update(of=("self",))
        .select_related("company__owner")
        .get(pk=dossier.pk)
    )
    open_sections = [s.get_kind_display() for s in dossier.sections.filter(done_at__isnull=True)]
    if open_sections:
        raise InvalidInput(
            f"{dossier} is not complete: {', '.join(open_sections)} still to research.",
            details=[f"{name}: not done" for name in open_sections],
        )
    if dossier.completed_at is None:
        dossier.completed_at, dossier.completed_by = timezone.now(), by
        dossier.save(update_fields=["completed_at", "completed_by", "updated_at"])
        audit_record(actor=by, action="dossier.complete", obj=dossier, summary=str(dossier))
    return trigger_fire(
        trigger=Trigger.DOSSIER_COMPLETED,
        event=f"dossier:{dossier.pk}",
        at=dossier.completed_at,
        owner=dossier.company.owner,
        company=dossier.company,
    )
