"""The audit trail: the owner reads who changed what, filtered and exported; nobody else
reads it."""

import csv
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from keel.accounts.models import User
from keel.core.models import AuditEntry
from keel.crm.models import Company
from keel.crm.services import company_update
from keel.web.audit_views import change_lines

pytestmark = pytest.mark.django_db


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def trail(acme: Company, alice: User, mary: User) -> None:
    """Alice renames Acme's industry; Mary's older change is ten days back."""
    company_update(
        company=acme, by=alice, expected_updated_at=acme.updated_at, data={"industry": "Rockets"}
    )
    acme.refresh_from_db()
    company_update(
        company=acme, by=mary, expected_updated_at=acme.updated_at, data={"region": "EU"}
    )
    AuditEntry.objects.filter(actor=mary).update(at=timezone.now() - timedelta(days=10))


def test_only_the_owner_reads_the_trail(
    trail: None, olivia: User, mary: User, alice: User, vera: User
) -> None:
    for user in (mary, alice, vera):
        assert client_for(user).get("/audit/").status_code == 403
        assert client_for(user).get("/audit/export/csv/").status_code == 403
    assert Client().get("/audit/")["Location"].startswith("/accounts/login/")
    page = client_for(olivia).get("/audit/").content.decode()
    assert "industry: — → Rockets" in page and "region: — → EU" in page


def test_filters_keep_what_they_say(trail: None, olivia: User, alice: User) -> None:
    owner = client_for(olivia)
    mine = owner.get("/audit/", {"actor": alice.pk}).content.decode()
    assert "Rockets" in mine and "region:" not in mine
    recent = owner.get("/audit/", {"since": timezone.localdate().isoformat()}).content.decode()
    assert "Rockets" in recent and "region:" not in recent
    none = owner.get("/audit/", {"action": "lead_definition"}).content.decode()
    assert "No entries with these filters." in none


def test_the_export_writes_the_filtered_entries(
    trail: None, olivia: User, alice: User, django_assert_max_num_queries: Any
) -> None:
    response = client_for(olivia).get("/audit/export/csv/", {"actor": alice.pk})
    text = b"".join(response.streaming_content).decode().removeprefix("\ufeff")
    rows = list(csv.reader(text.splitlines()))
    assert rows[0] == ["at", "actor", "action", "record type", "record id", "summary", "changes"]
    assert [r[2] for r in rows[1:]] == ["company.update"]
    assert rows[1][6] == "industry: — → Rockets"
    owner = client_for(olivia)
    with django_assert_max_num_queries(8):
        assert owner.get("/audit/").status_code == 200


def test_changes_read_as_words_not_as_stored_values() -> None:
    """Nothing reads "—"; amounts lose the database's trailing zeros; a field that went
    from nothing to nothing is no change at all."""
    changes = {
        "target": [None, "2176.0000"],
        "rate": ["16.1000", "15.25"],
        "weights": [None, []],
        "phasing": ["", "even"],
        "note": "kept",
        "version": ["v1.10", "v2"],
    }
    assert change_lines(changes) == [
        "target: — → 2176",
        "rate: 16.1 → 15.25",
        "phasing: — → even",
        "note: kept",
        "version: v1.10 → v2",
    ]
