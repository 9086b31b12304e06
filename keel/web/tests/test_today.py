from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from keel.accounts.models import User
from keel.activities.models import Activity, Task
from keel.crm.tests.factories import CompanyFactory
from keel.pipeline.models import Deal, SalesProcess
from keel.pipeline.services import deal_create

pytestmark = pytest.mark.django_db


def test_my_day_shows_my_due_tasks_and_deals_not_others(client: Client, alice, bob, deal):
    bobs = deal_create(by=bob, name="Bob's big one", company=CompanyFactory(), process=deal.process)
    Task.objects.filter(deal=bobs).update(due_at=timezone.now() - timedelta(days=2))
    Task.objects.filter(deal=deal).update(due_at=timezone.now() - timedelta(days=1))
    Task.objects.create(title="Far away", owner=alice, due_at=timezone.now() + timedelta(days=30))
    client.force_login(alice)
    page = client.get("/").content.decode()
    assert "Research the company" in page and "Acme rollout" in page
    assert "Bob&#x27;s big one" not in page
    assert "Far away" not in page and "1 later" in page


def test_quick_log_on_my_deal(client: Client, alice, deal):
    client.force_login(alice)
    response = client.post("/", {"deal": deal.pk, "type": "call", "outcome": "connected"})
    assert response.status_code == 302
    activity = Activity.objects.get()
    assert (activity.deal, activity.by, activity.outcome) == (deal, alice, "connected")


def test_quick_log_refuses_someone_elses_deal(client: Client, alice, bob, deal):
    client.force_login(bob)
    response = client.post("/", {"deal": deal.pk, "type": "call"})
    assert response.status_code == 400
    assert not Activity.objects.exists()


def test_my_day_needs_a_sign_in(client: Client):
    assert client.get("/")["Location"].startswith("/accounts/login/")


def test_my_day_runs_a_bounded_number_of_queries(
    client: Client, alice: User, new_business: SalesProcess, django_assert_max_num_queries
):
    for n in range(30):
        d: Deal = deal_create(
            by=alice, name=f"D{n}", company=CompanyFactory(), process=new_business
        )
        Activity.objects.create(type="call", by=alice, deal=d, company=d.company, at=d.created_at)
    Task.objects.update(due_at=timezone.now() - timedelta(hours=1))
    client.force_login(alice)
    with django_assert_max_num_queries(12):
        assert client.get("/").status_code == 200
