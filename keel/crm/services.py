from collections import defaultdict
from collections.abc import Collection, Iterable

from django.db import transaction
from django.utils import timezone

from keel.crm.models import Company, Contact, FunnelStage
from keel.crm.rules import FunnelEvidence, funnel_stage_for
from keel.crm.selectors import company_funnel_evidence, contact_funnel_evidence

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
