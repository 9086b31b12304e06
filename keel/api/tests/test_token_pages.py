"""/settings/tokens/: list, create (the secret shown once), revoke; one's own tokens only."""

import re

import pytest

from keel.accounts.models import ApiToken, TokenScope
from keel.accounts.services import token_create

pytestmark = pytest.mark.django_db


def test_sign_in_is_required(client):
    response = client.get("/settings/tokens/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_creating_a_token_shows_its_secret_once(client, alice):
    client.force_login(alice)
    response = client.post("/settings/tokens/", {"name": "website", "scope": "read_write"})
    assert response.status_code == 200
    html = response.content.decode()
    secret = re.search(r'<code id="new-token">([^<]+)</code>', html).group(1)
    token = ApiToken.objects.get(user=alice)
    assert token.scope == TokenScope.READ_WRITE
    assert secret.startswith(token.prefix)
    assert "no-store" in response["Cache-Control"]
    again = client.get("/settings/tokens/").content.decode()
    assert secret not in again
    assert token.prefix in again and "never" in again


def test_a_person_sees_only_their_own_tokens(client, alice, bob):
    token_create(user=bob, name="bobs-script", scope=TokenScope.READ)
    client.force_login(alice)
    assert "bobs-script" not in client.get("/settings/tokens/").content.decode()


def test_revoking(client, alice):
    created = token_create(user=alice, name="old", scope=TokenScope.READ)
    client.force_login(alice)
    response = client.post(f"/settings/tokens/{created.token.pk}/revoke/")
    assert response.status_code == 302
    created.token.refresh_from_db()
    assert created.token.revoked_at is not None


def test_someone_elses_token_cannot_be_revoked(client, alice, bob):
    created = token_create(user=bob, name="bobs", scope=TokenScope.READ)
    client.force_login(alice)
    assert client.post(f"/settings/tokens/{created.token.pk}/revoke/").status_code == 404
    created.token.refresh_from_db()
    assert created.token.revoked_at is None


def test_a_token_needs_a_name(client, alice):
    client.force_login(alice)
    response = client.post("/settings/tokens/", {"name": "", "scope": "read"})
    assert response.status_code == 200
    assert not ApiToken.objects.exists()
