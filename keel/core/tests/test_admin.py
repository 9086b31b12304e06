import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from keel.accounts.models import Role, User
from keel.accounts.tests.factories import UserFactory
from keel.pipeline.models import Deal

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser() -> User:
    return UserFactory(username="root", role=Role.OWNER, is_staff=True, is_superuser=True)


def test_every_admin_page_renders(client: Client, superuser: User, deal: Deal):
    client.force_login(superuser)
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert client.get(url).status_code == 200, url
    assert client.get(reverse("admin:pipeline_deal_change", args=[deal.pk])).status_code == 200


def test_deals_and_their_history_cannot_be_edited_in_the_admin(
    client: Client, superuser: User, deal: Deal
):
    client.force_login(superuser)
    url = reverse("admin:pipeline_deal_change", args=[deal.pk])
    client.post(url, {"name": "Renamed", "version": 99})
    deal.refresh_from_db()
    assert (deal.name, deal.version) == ("Acme rollout", 1)
    assert client.get(reverse("admin:pipeline_stagechange_add")).status_code == 403


def test_people_without_staff_status_are_kept_out(client: Client, alice: User):
    client.force_login(alice)
    assert client.get("/admin/").status_code == 302
