"""The API's test helpers: tokens for the cast in keel/conftest.py, and a JSON client.

Mia, a marketer, joins the cast here: the API is where marketing pushes its events.
"""

from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from keel.accounts.models import Role, TokenScope, User
from keel.accounts.services import token_create
from keel.accounts.tests.factories import UserFactory


class Api:
    """Django's test client speaking JSON to /api/v1 with a bearer token."""

    def __init__(self, secret: str = "") -> None:
        self.client = Client()
        self.secret = secret

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"} if self.secret else {}

    def request(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        url = f"/api/v1{path}"
        call = getattr(self.client, method.lower())
        if method.upper() == "GET":
            return call(url, params, headers=self._headers())
        return call(url, body, content_type="application/json", headers=self._headers())

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, **params)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """Every test starts with the whole budget of calls (the counts live in the cache)."""
    cache.clear()


@pytest.fixture
def mia(db: None) -> User:
    return UserFactory(username="mia", role=Role.MARKETER)


@pytest.fixture
def api_as() -> Callable[..., Api]:
    """An API client acting as `user` through a new token of `scope` (default read-write)."""

    def make(user: User, scope: str = TokenScope.READ_WRITE) -> Api:
        return Api(token_create(user=user, name="tests", scope=scope).secret)

    return make
