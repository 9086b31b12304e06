from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from django.contrib.contenttypes.models import ContentType
from django.db.models import Case, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Lower

from keel.accounts.models import User
from keel.activities.access import activities_visible_to
from keel.activities.models import Activity
from keel.core.models import AuditEntry
from keel.crm.access import companies_visible_to, contacts_visible_to
from keel.crm.models import BuyingRole, Company, Contact, FunnelStage
from keel.crm.rules import FunnelEvidence
from keel.pipeline.access import deals_visible_to
from keel.pipeline.models import Deal, DealContact, DealStatus, ProcessKind

T = TypeVar("T")

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


# --- pages ------------------------------------------------------------------------------

# The funnel's order, for sorting by stage (its stored values sort alphabetically).
FUNNEL_RANK = Case(
    *(When(funnel_stage=stage, then=Value(rank)) for rank, stage in enumerate(FunnelStage)),
    output_field=IntegerField(),
)


@dataclass(frozen=True)
class Latest(Generic[T]):
    """The first rows of a bounded list, and whether more were left out."""

    rows: list[T]
    more: bool


def _latest(queryset: QuerySet[Any], limit: int) -> Latest[Any]:
    rows = list(queryset[: limit + 1])
    return Latest(rows=rows[:limit], more=len(rows) > limit)


def _words(q: str) -> list[str]:
    return q.split()[:5]  # a handful of words is a search; more is a paste


def decision_maker_known() -> Exists:
    """Whether a company has a contact whose buying role is decision maker."""
    return Exists(
        Contact.objects.filter(company=OuterRef("pk"), buying_role=BuyingRole.DECISION_MAKER)
    )


def company_has_decision_maker(*, company: Company, shown: Latest[Contact] | None = None) -> bool:
    """Whether the company has a known decision maker; read from `shown` (its contacts as
    its page lists them) when that settles it, so the page asks the database only when
    the list was cut short."""
    if shown is not None:
        if any(c.buying_role == BuyingRole.DECISION_MAKER for c in shown.rows):
            return True
        if not shown.more:
            return False
    return company.contacts.filter(buying_role=BuyingRole.DECISION_MAKER).exists()


def companies_without_decision_maker() -> int:
    """How many companies have no known decision maker."""
    return Company.objects.filter(~decision_maker_known()).count()


def company_list(
    *,
    user: User,
    q: str = "",
    tier: str = "",
    industry: str = "",
    funnel_stage: str = "",
    owner: User | None = None,
    no_decision_maker: bool = False,
) -> QuerySet[Company]:
    """The companies `user` reads that match every filter given; each word of `q` must
    appear in the name or the domain. Each is marked `has_decision_maker`."""
    companies = companies_visible_to(user).select_related("owner")
    if no_decision_maker:
        companies = companies.filter(~decision_maker_known())
    for word in _words(q):
        companies = companies.filter(Q(name__icontains=word) | Q(domain__icontains=word))
    if tier:
        companies = companies.filter(tier=tier)
    if industry:
        companies = companies.filter(industry=industry)
    if funnel_stage:
        companies = companies.filter(funnel_stage=funnel_stage)
    if owner is not None:
        companies = companies.filter(owner=owner)
    return companies.annotate(funnel_rank=FUNNEL_RANK, has_decision_maker=decision_maker_known())


def company_industries() -> list[str]:
    industries = Company.objects.exclude(industry="").values_list("industry", flat=True)
    return list(industries.distinct().order_by("industry"))


def company_contacts(*, company: Company, limit: int = 100) -> Latest[Contact]:
    contacts = company.contacts.select_related("owner").order_by("last_name", "first_name", "pk")
    return _latest(contacts, limit)


def company_deals(*, user: User, company: Company, limit: int = 50) -> Latest[Deal]:
    """The company's latest deals that `user` may read."""
    deals = deals_visible_to(user).filter(company=company).select_related("stage", "owner")
    return _latest(deals.order_by("-created_at", "-id"), limit)


def company_activities(*, user: User, company: Company, limit: int = 20) -> Latest[Activity]:
    activities = activities_visible_to(user).filter(company=company)
    return _latest(activities.order_by("-at", "-id"), limit)


# Up to this many companies whose names match a word are looked up first and named by id.
COMPANIES_NAMED_MAX = 1000


def _of_companies_named(word: str) -> Q:
    """Contacts at a company whose name holds `word`, as a condition on the contact alone.

    The companies are looked up first (their trigram index, migration 0009) and named by
    id: every condition of the search is then on the contact's own columns, and
    PostgreSQL combines their indexes instead of reading all contacts (84 ms → 16 ms for
    90,000). A word that matches more companies than that is left to a subquery.
    """
    companies = Company.objects.filter(name__icontains=word).values_list("pk", flat=True)
    ids = list(companies[: COMPANIES_NAMED_MAX + 1])
    return Q(company_id__in=ids if len(ids) <= COMPANIES_NAMED_MAX else companies)


def contact_list(
    *,
    user: User,
    q: str = "",
    buying_role: str = "",
    funnel_stage: str = "",
    owner: User | None = None,
    company: Company | None = None,
) -> QuerySet[Contact]:
    """The contacts `user` reads that match every filter given; each word of `q` must
    appear in the first or last name, the e-mail address or the company's name."""
    contacts = contacts_visible_to(user).select_related("company", "owner")
    for word in _words(q):
        contacts = contacts.filter(
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(email__icontains=word)
            | _of_companies_named(word)
        )
    if buying_role:
        contacts = contacts.filter(buying_role=buying_role)
    if funnel_stage:
        contacts = contacts.filter(funnel_stage=funnel_stage)
    if owner is not None:
        contacts = contacts.filter(owner=owner)
    if company is not None:
        contacts = contacts.filter(company=company)
    return contacts.annotate(funnel_rank=FUNNEL_RANK)


def contact_deals(*, user: User, contact: Contact, limit: int = 50) -> Latest[DealContact]:
    """The deals the contact is on that `user` may read, with the contact's role on each."""
    visible = Exists(deals_visible_to(user).filter(pk=OuterRef("deal_id")))
    links = DealContact.objects.filter(visible, contact=contact).select_related(
        "deal__stage", "deal__owner", "deal__company"
    )
    return _latest(links.order_by("-deal__created_at", "-deal_id"), limit)


def contact_activities(*, user: User, contact: Contact, limit: int = 20) -> Latest[Activity]:
    activities = activities_visible_to(user).filter(contact=contact)
    return _latest(activities.order_by("-at", "-id"), limit)


def account_changes_since(*, obj: Company | Contact, since: datetime) -> list[AuditEntry]:
    """The audit entries of `obj` written after `since`, oldest first, with their actors."""
    entries = AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk), at__gt=since
    )
    return list(entries.select_related("actor").order_by("at", "id"))


def company_names_starting(*, prefix: str, limit: int = 10) -> list[tuple[str, str]]:
    """(name, domain) of the companies whose name starts with `prefix`, for suggestions."""
    companies = Company.objects.filter(name__istartswith=prefix).order_by("name")
    return list(companies.values_list("name", "domain")[:limit])


def contacts_with_email(email: str) -> QuerySet[Contact]:
    """The contacts with `email` whatever its case, through the index on its lower case."""
    return Contact.objects.annotate(email_lower=Lower("email")).filter(email_lower=email.lower())


def companies_with_domain(domain: str) -> QuerySet[Company]:
    """The companies with `domain` whatever its case, through the index on its lower case."""
    found = Company.objects.annotate(domain_lower=Lower("domain"))
    return found.filter(domain_lower=domain.lower())
