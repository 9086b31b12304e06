"""A person's data: /contacts/<pk>/personal-data/, its export and its erasure.

Jane Doe is known to every part of Keel: a deal she is on, activities about her, marketing
events and a form submission (and an event sent before she was a contact), a
qualification and a hand-off, collateral shared with her and viewed, her audit trail, an
import's rejected rows and an uploaded file naming her, a webhook payload and a task.
"""

import json
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.db import connection, models
from django.db.models import F, Q, TextField
from django.db.models.functions import Cast
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from keel.accounts.models import Role, TokenScope, User
from keel.accounts.services import token_create
from keel.accounts.tests.factories import UserFactory
from keel.activities.models import Activity, ActivityType, Task
from keel.activities.services import activity_log
from keel.collateral.models import Collateral, CollateralUse, Kind, ShareLink, ShareView
from keel.core.exceptions import InvalidInput, NotAllowed
from keel.core.models import AuditEntry
from keel.core.services import audit_record
from keel.crm import privacy
from keel.crm.models import BuyingRole, Company, Contact
from keel.crm.services import VISITOR, contact_create, contact_update
from keel.hooks.models import WebhookDelivery
from keel.hooks.tests.factories import WebhookEndpointFactory
from keel.imports.models import ImportKind, ImportRun, RunStatus
from keel.imports.services import import_run
from keel.imports.tests.conftest import csv_file
from keel.leads.definitions import contacts_requalify
from keel.leads.models import (
    DefinitionStatus,
    EventType,
    Handoff,
    LeadDefinition,
    LeadForm,
    MarketingEvent,
    Qualification,
)
from keel.pipeline.models import Deal, DealContact, StageChange
from keel.pipeline.services import deal_contact_add, deal_move
from keel.scorecard.selectors import scorecard

pytestmark = pytest.mark.django_db

EMAIL = "jane.doe@acme.example"
NAME = "Jane Doe"
PHONE = "+44 20 7946 0958"


@pytest.fixture
def mia(db: None) -> User:
    return UserFactory(username="mia", role=Role.MARKETER)


@pytest.fixture
def definition(db: None) -> LeadDefinition:
    return LeadDefinition.objects.create(
        version=1,
        status=DefinitionStatus.ACTIVE,
        activated_at=timezone.now(),
        rules=[{"kind": "authority", "roles": ["decision_maker"]}],
    )


@pytest.fixture
def jane(alice: User, acme: Company, deal: Deal, definition: LeadDefinition) -> Contact:
    """Jane, with a record in every table that can hold something about her."""
    now = timezone.now()
    # Sent from the website before she was a contact: claimed when she is created.
    MarketingEvent.objects.create(
        type=EventType.DOWNLOAD,
        occurred_at=now - timedelta(days=2),
        email=EMAIL.upper(),
        campaign="spring",
        source="website",
        url=f"https://acme.example/guide?email={EMAIL}",
        payload={"name": NAME, "utm_medium": "email"},
    )
    contact = contact_create(
        by=alice,
        first_name="Jane",
        last_name="Doe",
        email=EMAIL,
        company=acme,
        title="Head of operations",
        buying_role=BuyingRole.DECISION_MAKER,
        consent=True,
        consent_text="Send me news",
        consent_at=now,
    )
    contact = contact_update(
        contact=contact, by=alice, expected_updated_at=contact.updated_at, data={"phone": PHONE}
    )
    Contact.objects.filter(pk=contact.pk).update(external_id="hubspot-771")
    form = LeadForm.objects.create(name="Pricing page", campaign="spring")
    MarketingEvent.objects.create(
        type=EventType.FORM_FILL,
        occurred_at=now - timedelta(days=1),
        email=EMAIL,
        contact=contact,
        company=acme,
        campaign="spring",
        url="https://acme.example/pricing",
        payload={"form": form.pk},
    )
    # Sent with her address but never claimed (the sender gave no contact): hers too.
    MarketingEvent.objects.create(
        type=EventType.VISIT, occurred_at=now, email=EMAIL, campaign="spring", source="ads"
    )
    activity_log(
        by=alice,
        type=ActivityType.CALL,
        contact=contact,
        notes="She is moving to Leeds in May; private number 07700 900123.",
    )
    activity_log(by=alice, type=ActivityType.MEETING, contact=contact, notes="Demo went well.")
    activity_log(
        by=alice, type=ActivityType.EMAIL, company=acme, notes=f"Lunch with {NAME} ({EMAIL})."
    )
    deal_contact_add(deal=deal, contact=contact, by=alice, role=BuyingRole.DECISION_MAKER)
    audit_record(actor=alice, action="deal.note", obj=deal, summary=f"{NAME} signs next week")
    # A decision maker qualifies: she was handed to sales when she was created.
    Handoff.objects.filter(contact=contact).update(note="Prefers calls after 5pm, has two kids.")
    Task.objects.create(title=f"First touch: {NAME}", owner=alice)
    piece = Collateral.objects.create(title="Price sheet", kind=Kind.PRICE_SHEET)
    use = CollateralUse.objects.create(
        collateral=piece, deal=deal, contact=contact, by=alice, at=now
    )
    link = ShareLink.objects.create(use=use, expires_at=now + timedelta(days=30))
    ShareView.objects.create(link=link, at=now, seconds=42)
    ImportRun.objects.create(
        file_name="fair-leads.csv",
        kind=ImportKind.CONTACTS,
        status=RunStatus.COMMITTED,
        errors=[[3, "email", f"{EMAIL} is taken by {NAME}"]],
        rejected_csv=f"line,column,reason,first_name,last_name,email\n3,email,taken,Jane,Doe,{EMAIL}\n",
    )
    ImportRun.objects.create(
        file_name="next-fair.csv",
        kind=ImportKind.CONTACTS,
        status=RunStatus.UPLOADED,
        source=f"first_name,last_name,email\nJane,Doe,{EMAIL}\n".encode(),
    )
    WebhookDelivery.objects.create(
        endpoint=WebhookEndpointFactory(),
        event="deal.stage_changed",
        payload={"data": {"name": f"Renewal for {NAME}", "contact": EMAIL}},
    )
    contact.refresh_from_db()
    assert contact.qualified_at is not None
    return contact


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def urls(contact: Contact) -> dict[str, str]:
    return {
        "page": reverse("crm:contact_personal_data", args=[contact.pk]),
        "export": reverse("crm:contact_personal_data_export", args=[contact.pk]),
        "erase": reverse("crm:contact_erase", args=[contact.pk]),
        "allow": reverse("crm:contact_erased_allow", args=[contact.pk]),
    }


def erase(client: Client, contact: Contact, **data: str) -> Any:
    body = {"reason": f"{NAME} asked by e-mail on 3 March", "confirm": "ERASE", **data}
    return client.post(urls(contact)["erase"], body)


def text_holding(*needles: str) -> list[str]:
    """Every row of every table whose text, JSON or binary columns hold one of `needles`."""
    found = []
    tables = set(connection.introspection.table_names())
    for model in apps.get_models():
        if model._meta.db_table not in tables:  # a model whose migration is still to come
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, models.CharField | models.TextField):
                column: Any = F(field.name)
            elif isinstance(field, models.JSONField):
                column = Cast(field.name, output_field=TextField())
            elif isinstance(field, models.BinaryField):
                rows = model._default_manager.exclude(**{f"{field.name}__isnull": True})
                for pk, data in rows.values_list("pk", field.name):
                    if any(n.lower().encode() in bytes(data).lower() for n in needles):
                        found.append(f"{model._meta.label}.{field.name} #{pk}")
                continue
            else:
                continue
            condition = Q()
            for needle in needles:
                condition |= Q(_text__icontains=needle)
            rows = model._default_manager.annotate(_text=column).filter(condition)
            found += [
                f"{model._meta.label}.{field.name} #{pk}"
                for pk in rows.values_list("pk", flat=True)
            ]
    return found


# --- export ------------------------------------------------------------------------------


def test_the_export_holds_what_every_table_keeps_about_her(olivia, jane, deal):
    response = signed_in(olivia).post(urls(jane)["export"])

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="contact-{jane.pk}.json"'
    assert response.content.decode().startswith('{\n  "exported_at"')  # indented, readable
    data = json.loads(response.content)
    assert data["contact"]["email"] == EMAIL
    assert data["contact"]["phone"] == PHONE
    assert data["contact"]["external_id"] == "hubspot-771"
    assert data["company"] == {"id": jane.company_id, "name": "Acme"}
    assert data["consent"]["wording"] == "Send me news"
    assert data["campaign_touches"]["first"] == "spring"
    assert data["deals"] == [
        {
            "id": deal.pk,
            "name": "Acme rollout",
            "company": "Acme",
            "stage": deal.stage.name,
            "status": "open",
            "amount": None,
            "currency": deal.currency,
            "role": BuyingRole.DECISION_MAKER,
        }
    ]
    notes = {a["notes"] for a in data["activities"]}
    assert "Demo went well." in notes
    assert len(data["activities"]) == 2  # hers; the company's lunch is under mentions
    assert [e["email"] for e in data["marketing_events"]] == [EMAIL.upper(), EMAIL]
    assert data["marketing_events"][0]["payload"]["name"] == NAME
    assert [s["form_name"] for s in data["form_submissions"]] == ["Pricing page"]
    assert data["qualifications"][-1]["qualified"] is True
    assert data["qualifications"][-1]["reasons"][0]["met"] is True
    assert data["handoffs"][0]["note"] == "Prefers calls after 5pm, has two kids."
    assert data["collateral_shared"] == [
        {
            "collateral": "Price sheet",
            "deal": "Acme rollout",
            "at": data["collateral_shared"][0]["at"],
            "link_views": [{"at": data["collateral_shared"][0]["at"], "seconds": 42}],
        }
    ]
    assert {a["action"] for a in data["audit_trail"]} >= {"contact.create", "contact.update"}
    elsewhere = {(m["record"], m["field"]) for m in data["mentioned_elsewhere"]}
    assert {
        ("activities.activity", "notes"),
        ("activities.task", "title"),
        ("core.auditentry", "summary"),
        ("hooks.webhookdelivery", "payload"),
        ("imports.importrun", "rejected_csv"),
        ("imports.importrun", "errors"),
        ("imports.importrun", "source"),
    } <= elsewhere
    exported = AuditEntry.objects.get(action=privacy.EXPORT_ACTION)
    assert (exported.actor, exported.object_id) == (olivia, str(jane.pk))
    assert exported.summary == f"Exported personal data of {NAME}"


# --- erasure -----------------------------------------------------------------------------


def test_after_the_erasure_her_address_and_name_are_nowhere(olivia, jane):
    assert text_holding(EMAIL, NAME)  # the scan finds her before

    response = erase(signed_in(olivia), jane)

    assert response.status_code == 302
    assert response["Location"] == reverse("crm:contact_detail", args=[jane.pk])
    assert text_holding(EMAIL, NAME, PHONE, "Leeds", "two kids", "hubspot-771") == []
    jane.refresh_from_db()
    assert str(jane) == f"Erased contact #{jane.pk}"
    assert jane.erased_at is not None
    assert (jane.email, jane.phone, jane.title, jane.external_id) == ("", "", "", None)
    assert (jane.consent, jane.consent_text, jane.consent_at) == (False, "", None)
    run = ImportRun.objects.get(file_name="next-fair.csv")
    assert (run.status, run.source) == (RunStatus.FAILED, None)
    assert "erased on request" in run.failure


def test_the_erasure_keeps_deals_activities_events_and_the_scorecard(olivia, alice, jane, deal):
    deal_move(
        deal=deal, to_stage="Lost", by=alice, expected_version=deal.version, lost_reason="price"
    )
    month = timezone.localdate()
    before = {r.key: r.this_month for r in scorecard(month=month).rows()}
    changes = StageChange.objects.filter(deal=deal).count()
    kept = Contact.objects.values(
        "company", "owner", "buying_role", "funnel_stage", "inquired_at", "qualified_at",
        "first_campaign", "last_campaign",
    ).get(pk=jane.pk)  # fmt: skip
    events = list(
        MarketingEvent.objects.order_by("pk").values_list("type", "occurred_at", "campaign")
    )

    erase(signed_in(olivia), jane)

    assert Deal.objects.filter(pk=deal.pk).exists()
    assert DealContact.objects.get(deal=deal).contact_id == jane.pk
    assert StageChange.objects.filter(deal=deal).count() == changes
    assert Activity.objects.filter(contact=jane).count() == 2
    assert set(Activity.objects.filter(contact=jane).values_list("notes", flat=True)) == {""}
    assert (
        list(MarketingEvent.objects.order_by("pk").values_list("type", "occurred_at", "campaign"))
        == events
    )
    assert MarketingEvent.objects.filter(contact=jane).count() == 2
    assert Qualification.objects.filter(contact=jane, qualified=True).exists()
    assert Handoff.objects.get(contact=jane).note == ""
    assert Contact.objects.values(*kept).get(pk=jane.pk) == kept
    assert {r.key: r.this_month for r in scorecard(month=month).rows()} == before
    assert any(v for v in before.values())  # the month counts something of hers


def test_the_erasure_is_audited_without_her_data(olivia, jane):
    erase(signed_in(olivia), jane)

    entry = AuditEntry.objects.get(action=privacy.ERASE_ACTION)
    assert (entry.actor, entry.object_id) == (olivia, str(jane.pk))
    assert entry.summary == f"Erased the personal data of contact #{jane.pk}"
    assert entry.changes["reason"] == f"Erased contact #{jane.pk} asked by e-mail on 3 March"
    update = AuditEntry.objects.get(action="contact.update", object_id=str(jane.pk))
    assert update.changes == {"phone": [privacy.ERASED, privacy.ERASED]}  # what, not the value
    assert update.actor is not None and update.at is not None


def test_her_old_address_claims_nothing_and_requalifying_leaves_her_be(olivia, alice, jane):
    qualified_at = jane.qualified_at
    judged = Qualification.objects.filter(contact=jane).count()
    erase(signed_in(olivia), jane)

    LeadDefinition.objects.filter(status=DefinitionStatus.ACTIVE).update(
        rules=[{"kind": "authority", "roles": ["champion"]}]
    )
    contacts_requalify()
    again = contact_create(by=VISITOR, last_name="Doe", first_name="Jane", email=EMAIL)

    jane.refresh_from_db()
    assert jane.qualified_at == qualified_at
    assert Qualification.objects.filter(contact=jane).count() == judged
    assert MarketingEvent.objects.filter(contact=again).count() == 0
    assert again.pk != jane.pk


def test_a_stage_change_naming_her_is_kept_and_reported(olivia, jane, deal):
    StageChange.objects.create(
        deal=deal,
        process_version=deal.process_version,
        from_stage=deal.stage,
        to_stage=deal.stage,
        at=timezone.now(),
        override_reason=f"{NAME} confirmed the budget",
    )

    client = signed_in(olivia)
    response = erase(client, jane, confirm=str(jane.pk))

    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "1 stage-change notes still name them" in page
    kept = StageChange.objects.get(override_reason__contains=NAME)
    assert text_holding(EMAIL, NAME) == [f"pipeline.StageChange.override_reason #{kept.pk}"]
    assert AuditEntry.objects.get(action=privacy.ERASE_ACTION).changes["kept_in_stage_history"] == 1


@pytest.mark.parametrize("typed", ["", "erase", "ERASED", "0"])
def test_the_erasure_needs_the_word_or_the_number(olivia, jane, typed):
    response = erase(signed_in(olivia), jane, confirm=typed)

    assert response.status_code == 400
    jane.refresh_from_db()
    assert (jane.email, jane.erased_at) == (EMAIL, None)
    assert not AuditEntry.objects.filter(action=privacy.ERASE_ACTION).exists()


def test_the_erasure_needs_a_reason(olivia, jane):
    assert erase(signed_in(olivia), jane, reason="  ").status_code == 400
    jane.refresh_from_db()
    assert jane.erased_at is None


def test_an_erased_contact_cannot_be_erased_again(olivia, jane):
    client = signed_in(olivia)
    erase(client, jane)

    response = erase(client, jane)

    assert response.status_code == 400
    assert "was erased already" in response.content.decode()
    assert AuditEntry.objects.filter(action=privacy.ERASE_ACTION).count() == 1


# --- erased stays erased ----------------------------------------------------------------


def test_she_is_not_added_again_by_hand_through_the_api_or_by_an_edit(olivia, alice, jane):
    erase(signed_in(olivia), jane)
    others = Contact.objects.count()

    with pytest.raises(InvalidInput) as refused:
        contact_create(by=alice, last_name="Doe", email=EMAIL.upper())
    assert f"erased on request (contact #{jane.pk})" in refused.value.details[0]
    page = signed_in(alice).post(reverse("crm:contact_create"), {"last_name": "D", "email": EMAIL})
    assert page.status_code == 400 and f"contact #{jane.pk}" in page.content.decode()
    secret = token_create(user=alice, name="sync", scope=TokenScope.READ_WRITE).secret
    api = Client(headers={"Authorization": f"Bearer {secret}"})
    response = api.post(
        "/api/v1/contacts", {"last_name": "Doe", "email": EMAIL}, content_type="application/json"
    )
    assert response.status_code == 422 and f"contact #{jane.pk}" in response.content.decode()
    bob = contact_create(by=alice, last_name="Other", email="bob@acme.example")
    with pytest.raises(InvalidInput):
        contact_update(
            contact=bob, by=alice, expected_updated_at=bob.updated_at, data={"email": EMAIL}
        )
    assert Contact.objects.count() == others + 1
    assert not Contact.objects.filter(email__iexact=EMAIL).exists()


def test_an_import_refuses_her_rows_by_address_or_by_id_and_takes_the_rest(olivia, mia, jane):
    erase(signed_in(olivia), jane)
    text = (
        "First Name,Last Name,Email,Record ID\n"
        f"Jane,Doe,{EMAIL.upper()},\n"
        "Jane,D.,jd@elsewhere.example,hubspot-771\n"
        "Lee,Ng,lee@acme.example,hubspot-900\n"
    )

    refused = import_run(by=mia, file=csv_file(text), kind="contacts")
    assert refused.status == RunStatus.FAILED
    assert not Contact.objects.filter(email="lee@acme.example").exists()
    taken = import_run(by=mia, file=csv_file(text), kind="contacts", skip_bad=True)

    reasons = {(line, column): reason for line, column, reason in taken.errors}
    assert reasons.keys() == {(2, "email"), (3, "external_id")}
    assert all(f"erased on request (contact #{jane.pk})" in r for r in reasons.values())
    assert (taken.created, taken.rejected) == (1, 2)
    assert list(Contact.objects.filter(last_name__in=["Doe", "D."])) == []
    assert Contact.objects.filter(email="lee@acme.example").exists()


def test_she_may_come_back_through_the_web_form_and_edits_then_pass(olivia, alice, jane):
    erase(signed_in(olivia), jane)

    back = contact_create(by=VISITOR, last_name="Doe", email=EMAIL)
    edited = contact_update(
        contact=back,
        by=alice,
        expected_updated_at=back.updated_at,
        data={"email": EMAIL, "title": "COO"},
    )

    assert (edited.title, edited.email) == ("COO", EMAIL)


def test_the_owner_allows_her_again_and_it_is_recorded(olivia, alice, jane):
    erase(signed_in(olivia), jane)
    page = signed_in(olivia).get(urls(jane)["page"]).content.decode()
    assert "Allow them to be added again" in page
    assert "e-mail address and external id" in page

    for who in (alice,):
        assert signed_in(who).post(urls(jane)["allow"]).status_code == 403
    assert jane.erased_identities.count() == 2
    response = signed_in(olivia).post(urls(jane)["allow"])

    assert response.status_code == 302
    assert jane.erased_identities.count() == 0
    entry = AuditEntry.objects.get(action=privacy.ALLOW_ACTION)
    assert (entry.actor, entry.object_id) == (olivia, str(jane.pk))
    assert entry.changes == {"blocks_lifted": 2}
    assert contact_create(by=alice, last_name="Doe", email=EMAIL).pk != jane.pk


# --- who may -----------------------------------------------------------------------------


def test_the_owner_sees_the_page_and_the_button(olivia, jane):
    page = signed_in(olivia).get(urls(jane)["page"])
    detail = signed_in(olivia).get(reverse("crm:contact_detail", args=[jane.pk]))

    assert page.status_code == 200
    assert "Type ERASE to confirm" in page.content.decode()
    assert urls(jane)["page"] in detail.content.decode()


@pytest.mark.parametrize("who", ["mary", "alice", "mia", "vera"])
def test_no_one_else_may_export_or_erase(request, jane, who):
    client = signed_in(request.getfixturevalue(who))

    assert client.get(urls(jane)["page"]).status_code == 403
    assert client.post(urls(jane)["export"]).status_code == 403
    assert erase(client, jane).status_code == 403
    assert (
        urls(jane)["page"]
        not in client.get(reverse("crm:contact_detail", args=[jane.pk])).content.decode()
    )
    jane.refresh_from_db()
    assert jane.erased_at is None
    assert not AuditEntry.objects.filter(
        action__in=[privacy.EXPORT_ACTION, privacy.ERASE_ACTION]
    ).exists()


def test_a_visitor_is_sent_to_sign_in(jane):
    client = Client()
    for response in (
        client.get(urls(jane)["page"]),
        client.post(urls(jane)["export"]),
        erase(client, jane),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    jane.refresh_from_db()
    assert jane.erased_at is None


def test_an_api_token_is_no_way_in(olivia, jane):
    secret = token_create(user=olivia, name="script", scope=TokenScope.READ_WRITE).secret
    client = Client(headers={"Authorization": f"Bearer {secret}"})

    assert client.post(urls(jane)["export"]).status_code == 302
    assert erase(client, jane).status_code == 302
    jane.refresh_from_db()
    assert jane.erased_at is None


def test_the_export_and_the_erasure_are_posts_with_csrf(olivia, jane):
    client = Client(enforce_csrf_checks=True)
    client.force_login(olivia)

    assert client.get(urls(jane)["export"]).status_code == 405
    assert client.get(urls(jane)["erase"]).status_code == 405
    assert client.post(urls(jane)["export"]).status_code == 403
    assert erase(client, jane).status_code == 403
    jane.refresh_from_db()
    assert jane.erased_at is None


def test_the_services_refuse_anyone_but_the_owner(mary, jane):
    with pytest.raises(NotAllowed):
        privacy.contact_export(contact=jane, by=mary)
    with pytest.raises(NotAllowed):
        privacy.contact_erase(contact=jane, by=mary, reason="asked")
