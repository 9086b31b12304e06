"""Marketing events that arrived before their person was in Keel: an anonymous download
or form fill pushed with an address no contact had yet. When a contact with that address
is created, the events become theirs, so their story as a lead starts where it began."""

from django.db.models import IntegerField, Value
from django.db.models.functions import Coalesce, Lower

from keel.crm.models import Contact
from keel.leads.campaigns import attribution_refresh
from keel.leads.models import INQUIRY_TYPES, MarketingEvent


def events_claim(*, contact: Contact) -> int:
    """Give `contact` the unclaimed events sent with its address; return how many.

    One read through the events' address index, and an UPDATE when some were unclaimed;
    then the contact's campaign touches follow, and its first inquiry if it had none.
    """
    if not contact.email:
        return 0
    # By address alone, then the unclaimed among them: SQLite's statistics would take the
    # contact index for "no contact", which holds every anonymous visit.
    sent = MarketingEvent.objects.annotate(address=Lower("email")).filter(
        address=contact.email.lower()
    )
    unclaimed = [pk for pk, owner in sent.values_list("pk", "contact_id") if owner is None]
    if not unclaimed:
        return 0
    # An event keeps the company it was sent with; the rest take the contact's.
    company = Coalesce("company", Value(contact.company_id, output_field=IntegerField()))
    claimed = MarketingEvent.objects.filter(pk__in=unclaimed, contact__isnull=True).update(
        contact=contact, company=company
    )
    if not claimed:
        return 0
    attribution_refresh(contact_ids=[contact.pk])
    if contact.inquired_at is None:
        first = (
            MarketingEvent.objects.filter(contact=contact, type__in=INQUIRY_TYPES)
            .order_by("occurred_at")
            .values_list("occurred_at", flat=True)
            .first()
        )
        if first is not None:
            Contact.objects.filter(pk=contact.pk).update(inquired_at=first)
            contact.inquired_at = first
    return claimed
