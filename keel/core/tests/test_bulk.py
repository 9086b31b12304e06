from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db.models import Max

from keel.core.bulk import rows_load
from keel.core.models import AuditEntry
from keel.pipeline.models import Deal


def _next_id(model: type[Deal] | type[AuditEntry]) -> int:
    return (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1


def test_rows_load_stores_what_the_orm_reads_back(deal: Deal) -> None:
    """Decimals, dates, aware times in any zone and defaults arrive as the ORM would store them."""
    first = _next_id(Deal)
    at = datetime(2026, 3, 4, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    fields = (
        "id", "created_at", "updated_at", "name", "company_id", "owner_id", "process_id",
        "process_version_id", "stage_id", "amount", "expected_close", "stage_entered_at",
    )  # fmt: skip
    rows = [
        (
            first + i,
            at,
            at,
            f"Loaded {i}",
            deal.company_id,
            deal.owner_id,
            deal.process_id,
            deal.process_version_id,
            deal.stage_id,
            Decimal("1234.50") * (i + 1),
            date(2026, 6, 30),
            at,
        )
        for i in range(3)
    ]

    rows_load(model=Deal, fields=fields, rows=rows)

    loaded = list(Deal.objects.filter(pk__gte=first).order_by("pk"))
    assert [d.name for d in loaded] == ["Loaded 0", "Loaded 1", "Loaded 2"]
    assert [d.amount for d in loaded] == [
        Decimal("1234.50"),
        Decimal("2469.00"),
        Decimal("3703.50"),
    ]
    assert {d.expected_close for d in loaded} == {date(2026, 6, 30)}
    assert {d.stage_entered_at for d in loaded} == {datetime(2026, 3, 4, 7, 30, tzinfo=UTC)}
    # Fields left out get the model's defaults, not NULL.
    assert {(d.status, d.version, d.currency, d.next_step) for d in loaded} == {
        (Deal._meta.get_field("status").get_default(), 1, deal.currency, "")
    }


def test_rows_load_stores_json(db: None) -> None:
    first = _next_id(AuditEntry)
    content_type = ContentType.objects.get_for_model(Deal)
    changes = {"amount": ["10.00", "12.00"], "note": "ünïcode"}
    rows_load(
        model=AuditEntry,
        fields=("id", "at", "action", "content_type_id", "object_id", "changes"),
        rows=[
            (first, datetime(2026, 1, 2, tzinfo=UTC), "deal.update", content_type.pk, "7", changes)
        ],
    )

    entry = AuditEntry.objects.get(pk=first)
    assert entry.changes == changes
    assert entry.summary == ""


def test_rows_load_refuses_unknown_fields(db: None) -> None:
    with pytest.raises(ValueError, match="no field"):
        rows_load(model=AuditEntry, fields=("id", "colour"), rows=[(1, "red")])
