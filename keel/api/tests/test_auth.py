"""Who may call the API: tokens (scopes, revocation, inactive users) and the session."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from keel.accounts.models import ApiToken, TokenScope
from keel.accounts.services import token_create, token_revoke
from keel.api.tests.conftest import Api
from keel.crm.models import Company

pytestmark = pytest.mark.django_db


def test_without_credentials_every_operation_is_401(acme):
    api = Api()
    assert api.get("/deals").status_code == 401
    assert api.post("/companies", {"name": "Globex"}).status_code == 401
    assert api.get("/deals").json() == {"detail": "Unauthorized"}


def test_a_bearer_token_acts_as_its_user(alice, deal):
    api = Api(token_create(user=alice, name="sync", scope=TokenScope.READ).secret)
    response = api.get(f"/deals/{deal.pk}")
    assert response.status_code == 200
    assert response.json()["owner"]["id"] == alice.pk


@pytest.mark.parametrize("secret", ["nonsense", "keel_", "keel_" + "x" * 43])
def test_an_unknown_token_is_401(alice, secret):
    assert Api(secret).get("/deals").status_code == 401


def test_a_token_is_refused_once_revoked(alice):
    created = token_create(user=alice, name="sync", scope=TokenScope.READ)
    api = Api(created.secret)
    assert api.get("/deals").status_code == 200
    token_revoke(token=created.token, by=alice)
    assert api.get("/deals").status_code == 401


def test_a_token_of_an_inactive_user_is_401(alice):
    api = Api(token_create(user=alice, name="sync", scope=TokenScope.READ_WRITE).secret)
    alice.is_active = False
    alice.save()
    assert api.get("/deals").status_code == 401


def test_a_bad_token_is_401_even_with_a_session(alice):
    api = Api("keel_wrong")
    api.client.force_login(alice)
    assert api.get("/deals").status_code == 401


def test_a_read_token_may_not_write(alice, acme):
    api = Api(token_create(user=alice, name="sync", scope=TokenScope.READ).secret)
    response = api.post("/companies", {"name": "Globex"})
    assert response.status_code == 403
    assert "may only read" in response.json()["detail"]
    assert not Company.objects.filter(name="Globex").exists()


def test_only_a_hash_of_the_secret_is_stored(alice):
    created = token_create(user=alice, name="sync", scope=TokenScope.READ)
    stored = ApiToken.objects.get(pk=created.token.pk)
    assert created.secret.startswith(stored.prefix)
    assert created.secret not in {stored.hashed_secret, stored.prefix, stored.name}
    assert len(stored.hashed_secret) == 64


def test_last_used_is_written_at_most_once_a_minute(alice, django_assert_num_queries):
    created = token_create(user=alice, name="sync", scope=TokenScope.READ)
    api = Api(created.secret)
    api.get("/tasks")
    first = ApiToken.objects.get(pk=created.token.pk).last_used_at
    assert first is not None
    api.get("/tasks")
    assert ApiToken.objects.get(pk=created.token.pk).last_used_at == first
    ApiToken.objects.filter(pk=created.token.pk).update(last_used_at=first - timedelta(minutes=2))
    api.get("/tasks")
    assert ApiToken.objects.get(pk=created.token.pk).last_used_at > first - timedelta(seconds=1)


def test_a_database_that_takes_no_writes_still_answers_a_tokens_reads(alice, monkeypatch):
    """Noting the token's use is bookkeeping: a read-only or full database must not turn
    every API read into an error."""
    from django.db import OperationalError
    from django.db.models import QuerySet

    created = token_create(user=alice, name="sync", scope=TokenScope.READ)

    def refused(self: QuerySet, **values: object) -> int:
        raise OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(QuerySet, "update", refused)
    response = Api(created.secret).get("/tasks")
    assert response.status_code == 200
    monkeypatch.undo()
    assert ApiToken.objects.get(pk=created.token.pk).last_used_at is None


def test_the_session_reads_and_writes_with_the_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.get("/api/v1/deals").status_code == 200
    refused = client.post("/api/v1/companies", {"name": "Globex"}, content_type="application/json")
    assert refused.status_code == 403
    assert not Company.objects.filter(name="Globex").exists()
    client.get("/settings/tokens/")  # any page with a form sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value
    accepted = client.post(
        "/api/v1/companies",
        {"name": "Globex"},
        content_type="application/json",
        headers={"X-CSRFToken": csrf},
    )
    assert accepted.status_code == 201, accepted.content


def test_the_schema_and_docs_are_served(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["components"]["securitySchemes"].keys() >= {"TokenAuth", "SessionAuth"}
    assert client.get("/api/v1/docs").status_code == 200


def test_tokens_expire_nothing_silently(alice):
    """A token has no expiry: it works until revoked (revocation is the person's lever)."""
    created = token_create(user=alice, name="sync", scope=TokenScope.READ)
    ApiToken.objects.filter(pk=created.token.pk).update(
        created_at=timezone.now() - timedelta(days=400)
    )
    assert Api(created.secret).get("/deals").status_code == 200
