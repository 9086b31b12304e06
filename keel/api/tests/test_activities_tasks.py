"""/api/v1/activities and /api/v1/tasks."""

from datetime import timedelta

import pytest
from django.utils import timezone

from keel.activities.models import Activity, Task
from keel.activities.services import activity_log
from keel.activities.tests.factories import TaskFactory
from keel.core.models import AuditEntry
from keel.crm.tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def test_log_an_activity_on_a_deal(api_as, alice, deal):
    response = api_as(alice).post(
        "/activities",
        {"type": "call", "outcome": "connected", "deal_id": deal.pk, "duration_minutes": 15},
    )
    assert response.status_code == 201, response.content
    logged = Activity.objects.get(pk=response.json()["id"])
    assert (logged.deal_id, logged.company_id, logged.by_id) == (deal.pk, deal.company_id, alice.pk)


def test_an_activity_needs_a_subject(api_as, alice):
    response = api_as(alice).post("/activities", {"type": "call"})
    assert response.status_code == 422
    assert "deal, a contact or a company" in response.json()["detail"]


def test_activities_on_hidden_deals_are_not_listed(api_as, alice, sam, deal):
    activity_log(by=alice, type="call", deal=deal)
    contact = ContactFactory()
    activity_log(by=sam, type="email", contact=contact)
    assert api_as(alice).get("/activities").json()["count"] == 2
    seen = api_as(sam).get("/activities").json()["items"]
    assert [a["contact_id"] for a in seen] == [contact.pk]
    by_deal = api_as(alice).get("/activities", deal=deal.pk).json()["items"]
    assert [a["deal_id"] for a in by_deal] == [deal.pk]


def test_task_create_list_complete_reopen_reschedule(api_as, alice):
    api = api_as(alice)
    due = (timezone.now() + timedelta(days=1)).isoformat()
    created = api.post("/tasks", {"title": "Send the proposal", "due_at": due})
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert [t["id"] for t in api.get("/tasks").json()["items"]] == [pk]
    done = api.patch(f"/tasks/{pk}", {"done": True})
    assert done.json()["done_at"] is not None
    assert api.get("/tasks", when="done").json()["count"] == 1
    assert api.patch(f"/tasks/{pk}", {"done": False}).json()["done_at"] is None
    later = timezone.now() + timedelta(days=7)
    moved = api.patch(f"/tasks/{pk}", {"due_at": later.isoformat()})
    assert moved.status_code == 200
    assert Task.objects.get(pk=pk).due_at == later


def test_complete_and_reschedule_together_is_all_or_nothing(api_as, alice):
    task = TaskFactory(owner=alice)
    past = (timezone.now() - timedelta(days=3)).isoformat()
    response = api_as(alice).patch(f"/tasks/{task.pk}", {"done": True, "due_at": past})
    assert response.status_code == 422
    task.refresh_from_db()
    assert task.done_at is None


def test_a_manager_gives_a_task(api_as, mary, alice, sam):
    api = api_as(mary)
    given = api.post("/tasks", {"title": "Call Acme", "owner_id": alice.pk})
    assert given.status_code == 201, given.content
    assert given.json()["owner"]["id"] == alice.pk
    refused = api.post("/tasks", {"title": "Call Acme", "owner_id": sam.pk})
    assert refused.status_code == 403


def test_a_task_made_by_hand_is_deleted_a_plan_task_is_not(api_as, alice, deal) -> None:
    api = api_as(alice)
    plan_task = deal.tasks.filter(owner=alice).first()
    response = api.delete(f"/tasks/{plan_task.pk}")
    assert response.status_code == 422 and "completion plan" in response.json()["detail"]
    assert Task.objects.filter(pk=plan_task.pk).exists()
    made = api.post("/tasks", {"title": "Send the brochure", "due_at": "2030-01-02T09:00:00Z"})
    task_id = made.json()["id"]
    assert api.delete(f"/tasks/{task_id}").status_code == 204
    assert not Task.objects.filter(pk=task_id).exists()
    assert AuditEntry.objects.filter(action="task.delete", object_id=str(task_id)).exists()
