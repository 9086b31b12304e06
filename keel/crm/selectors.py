from collections.abc import Iterable

from django.db.models import Exists, OuterRef, QuerySet

from keel.activities.models import Activity
from keel.crm.models import Company, Contact
from keel.crm.rules import FunnelEvidence
from keel.pipeline.models import Deal, DealContact, DealStatus, ProcessKind

REPEAT_KINDS = (ProcessKind.RENEWAL, ProcessKind.UPSELL)


def contact_funnel_evidence(
    *, contacts: QuerySet[Contact]
) -> Iterable[tuple[int, str, FunnelEvidence]]:
    """(id, stored stage, evidence) for each contact, in one query."""
    on_deal = DealContact.objects.filter(contact=OuterRef("pk"))
    rows = contacts.annotate(
        has_activity=Exists(Activity.objects.filter(contact=OuterRef("pk"))),
        has_deal=Exists(on_deal),
        has_won_deal=Exists(on_deal.filter(deal__status=DealStatus.WON)),
        has_won_repeat_deal=Exists(
            on_deal.filter(deal__status=DealStatus.WON, deal__process__kind__in=REPEAT_KINDS)
        ),
        has_referred=Exists(Contact.objects.filter(referred_by=OuterRef("pk")))
        | Exists(Deal.objects.filter(referred_by=OuterRef("pk"))),
    ).values_list(
        "pk",
        "funnel_stage",
        "has_activity",
        "inquired_at",
        "qualified_at",
        "has_deal",
        "has_won_deal",
        "has_won_repeat_deal",
        "has_referred",
    )
    for pk, stage, activity, inquired, qualified, deal, won, repeat, referred in rows.iterator(
        chunk_size=5000
    ):
        yield (
            pk,
            stage,
            FunnelEvidence(
                has_activity=activity,
                has_inquiry=inquired is not None,
                is_qualified=qualified is not None,
                has_deal=deal,
                has_won_deal=won,
                has_won_repeat_deal=repeat,
                has_referred=referred,
            ),
        )


def company_funnel_evidence(
    *, companies: QuerySet[Company]
) -> Iterable[tuple[int, str, FunnelEvidence]]:
    """(id, stored stage, evidence) for each company, its contacts' records included."""
    deals = Deal.objects.filter(company=OuterRef("pk"))
    people = Contact.objects.filter(company=OuterRef("pk"))
    rows = companies.annotate(
        # Two EXISTS, not one with OR: SQLite cannot use an index for the OR and scans
        # every activity once per company.
        has_activity=Exists(Activity.objects.filter(company=OuterRef("pk")))
        | Exists(Activity.objects.filter(contact__company=OuterRef("pk"))),
        has_inquiry=Exists(people.filter(inquired_at__isnull=False)),
        is_qualified=Exists(people.filter(qualified_at__isnull=False)),
        has_deal=Exists(deals),
        has_won_deal=Exists(deals.filter(status=DealStatus.WON)),
        has_won_repeat_deal=Exists(
            deals.filter(status=DealStatus.WON, process__kind__in=REPEAT_KINDS)
        ),
        has_referred=Exists(Contact.objects.filter(referred_by__company=OuterRef("pk")))
        | Exists(Deal.objects.filter(referred_by__company=OuterRef("pk"))),
    ).values_list(
        "pk",
        "funnel_stage",
        "has_activity",
        "has_inquiry",
        "is_qualified",
        "has_deal",
        "has_won_deal",
        "has_won_repeat_deal",
        "has_referred",
    )
    for pk, stage, *flags in rows.iterator(chunk_size=5000):
        yield pk, stage, FunnelEvidence(*flags)
