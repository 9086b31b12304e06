"""The webhook pages: the owner manages endpoints; everyone else is refused."""

import pytest
from django.test import Client
from django_tasks_db.models import DBTaskResult

from keel.accounts.tests.factories import UserFactory
from keel.hooks.models import WebhookDelivery, WebhookEndpoint

from .factories import WebhookEndpointFactory

pytestmark = pytest.mark.django_db


def _signed_in(client: Client, user) -> Client:
    client.force_login(user)
    return client


def test_the_owner_registers_an_endpoint_and_sees_its_secret(client: Client, olivia):
    c = _signed_in(client, olivia)
    response = c.post(
        "/webhooks/new/",
        {"url": "https://erp.example/keel", "description": "ERP", "events": ["deal.won"],
         "is_active": "on"},
    )  # fmt: skip
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/webhooks/{endpoint.pk}/"
    assert (endpoint.events, endpoint.created_by, endpoint.is_active) == (
        ["deal.won"],
        olivia,
        True,
    )
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) == 54
    page = c.get(f"/webhooks/{endpoint.pk}/").content.decode()
    assert endpoint.secret in page and "Send test event" in page
    assert "https://erp.example/keel" in c.get("/webhooks/").content.decode()


def test_plain_http_is_refused_except_for_localhost(client: Client, olivia):
    c = _signed_in(client, olivia)
    response = c.post("/webhooks/new/", {"url": "http://erp.example/keel", "events": ["deal.won"]})
    assert response.status_code == 200 and "Use an https:// URL" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()
    c.post("/webhooks/new/", {"url": "http://localhost:8001/hook", "events": ["deal.won"]})
    assert WebhookEndpoint.objects.get().url == "http://localhost:8001/hook"


def test_an_endpoint_needs_an_event(client: Client, olivia):
    response = _signed_in(client, olivia).post("/webhooks/new/", {"url": "https://a.example/"})
    assert response.status_code == 200 and not WebhookEndpoint.objects.exists()


def test_the_owner_edits_deactivates_and_rotates(client: Client, olivia):
    endpoint = WebhookEndpointFactory()
    old_secret = endpoint.secret
    c = _signed_in(client, olivia)
    c.post(
        f"/webhooks/{endpoint.pk}/edit/",
        {"url": "https://new.example/hook", "description": "New", "events": ["deal.lost"],
         "is_active": "on"},
    )  # fmt: skip
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events) == ("https://new.example/hook", ["deal.lost"])
    c.post(f"/webhooks/{endpoint.pk}/active/", {"is_active": "0"})
    endpoint.refresh_from_db()
    assert endpoint.is_active is False
    c.post(f"/webhooks/{endpoint.pk}/secret/")
    endpoint.refresh_from_db()
    assert endpoint.secret != old_secret


def test_send_test_event_and_retry_now_queue_tasks(
    client: Client, olivia, django_capture_on_commit_callbacks
):
    endpoint = WebhookEndpointFactory()
    c = _signed_in(client, olivia)
    with django_capture_on_commit_callbacks(execute=True):
        c.post(f"/webhooks/{endpoint.pk}/test/")
    delivery = WebhookDelivery.objects.get()
    assert delivery.event == "webhook.test" and DBTaskResult.objects.count() == 1

    WebhookDelivery.objects.update(status="failed", attempts=1, last_status_code=500,
                                   last_error="HTTP 500 Internal Server Error")  # fmt: skip
    page = c.get(f"/webhooks/{endpoint.pk}/").content.decode()
    assert "Retry now" in page and "HTTP 500 Internal Server Error" in page
    with django_capture_on_commit_callbacks(execute=True):
        c.post(f"/webhooks/deliveries/{delivery.pk}/retry/")
    delivery.refresh_from_db()
    assert delivery.status == "pending" and DBTaskResult.objects.count() == 2

    response = c.post(f"/webhooks/deliveries/{delivery.pk}/retry/", follow=True)
    assert "only a failed or abandoned one can be retried" in response.content.decode()


def test_the_delivery_log_shows_the_latest_100_in_few_queries(
    client: Client, olivia, django_assert_max_num_queries
):
    endpoint = WebhookEndpointFactory()
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(endpoint=endpoint, event="deal.won", payload={}) for _ in range(120)
    )
    c = _signed_in(client, olivia)
    with django_assert_max_num_queries(6):
        page = c.get(f"/webhooks/{endpoint.pk}/").content.decode()
    assert page.count("deal.won<br>") == 100
    WebhookEndpointFactory.create_batch(5)
    with django_assert_max_num_queries(5):
        assert c.get("/webhooks/").status_code == 200


@pytest.mark.parametrize("username", ["alice", "mary", "vera"])
def test_everyone_but_the_owner_is_refused(client: Client, username, alice, mary, vera):
    endpoint = WebhookEndpointFactory()
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="deal.won", payload={},
                                              status="failed")  # fmt: skip
    c = _signed_in(client, {"alice": alice, "mary": mary, "vera": vera}[username])
    for url in ["/webhooks/", "/webhooks/new/", f"/webhooks/{endpoint.pk}/",
                f"/webhooks/{endpoint.pk}/edit/"]:  # fmt: skip
        assert c.get(url).status_code == 403, url
    for url in [f"/webhooks/{endpoint.pk}/test/", f"/webhooks/{endpoint.pk}/secret/",
                f"/webhooks/{endpoint.pk}/active/", f"/webhooks/deliveries/{delivery.pk}/retry/",
                "/webhooks/new/"]:  # fmt: skip
        assert c.post(url, {"is_active": "0", "url": "https://x.example/", "events": ["deal.won"]}
                      ).status_code == 403, url  # fmt: skip
    endpoint.refresh_from_db()
    assert endpoint.is_active and WebhookEndpoint.objects.count() == 1
    assert WebhookDelivery.objects.count() == 1


def test_a_superuser_manages_webhooks(client: Client, db):
    root = UserFactory(username="root", role="viewer", is_superuser=True, is_staff=True)
    assert _signed_in(client, root).get("/webhooks/").status_code == 200


def test_signed_out_visitors_are_sent_to_sign_in(client: Client, db):
    response = client.get("/webhooks/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
