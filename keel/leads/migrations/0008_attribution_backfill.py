"""Each existing contact's first and last campaign touch, from the events already stored
(the columns arrived empty in crm 0007): what leads.campaigns.attribution_refresh keeps
up to date from then on, written here with the models as they are at this migration."""

from datetime import UTC, datetime

from django.db import migrations
from django.db.models import DateTimeField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

CHUNK = 900
NEVER = datetime(9999, 12, 31, tzinfo=UTC)


def backfill(apps, schema_editor):
    Contact = apps.get_model("crm", "Contact")
    MarketingEvent = apps.get_model("leads", "MarketingEvent")
    tagged = MarketingEvent.objects.filter(contact=OuterRef("pk")).exclude(campaign="")
    first = tagged.order_by("occurred_at", "id").values("campaign")[:1]
    cutoff = Coalesce(OuterRef("qualified_at"), Value(NEVER), output_field=DateTimeField())
    last = tagged.filter(occurred_at__lte=cutoff).order_by("-occurred_at", "-id")
    ids = sorted(
        set(
            MarketingEvent.objects.exclude(campaign="")
            .exclude(contact=None)
            .values_list("contact", flat=True)
        )
    )
    for start in range(0, len(ids), CHUNK):
        chunk = Contact.objects.filter(pk__in=ids[start : start + CHUNK])
        chunk.update(first_campaign=Coalesce(Subquery(first), Value("")))
        chunk.update(last_campaign=Coalesce(Subquery(last.values("campaign")[:1]), Value("")))


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0007_contact_campaign_touch"),
        ("leads", "0007_handoff_constraints"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
