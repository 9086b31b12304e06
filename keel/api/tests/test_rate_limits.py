"""Rate limits: each token its own budget of KEEL_API_RATE_LIMIT calls per window."""

import os
import subprocess
import sys

import pytest
from django.test import Client, RequestFactory, override_settings

from keel.accounts.models import TokenScope
from keel.accounts.services import token_create
from keel.api.tests.conftest import Api
from keel.api.throttling import AddressRateThrottle, CallerRateThrottle
from keel.leads.capture import lead_form_create

pytestmark = pytest.mark.django_db


class Clock:
    """The throttles' clock, moved by hand."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 1_000_000.0
        for throttle in (CallerRateThrottle, AddressRateThrottle):
            monkeypatch.setattr(throttle, "timer", staticmethod(lambda: self.now))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


@override_settings(KEEL_API_RATE_LIMIT="3/min")
def test_a_token_gets_its_budget_then_429_with_retry_after(alice, clock):
    api = Api(token_create(user=alice, name="sync", scope=TokenScope.READ).secret)
    for _ in range(3):
        assert api.get("/tasks").status_code == 200
        clock.now += 1
    refused = api.get("/tasks")
    assert refused.status_code == 429
    # The first call (3 s ago) leaves the one-minute window in 57 s.
    assert refused["Retry-After"] == "57"
    assert refused.json() == {
        "detail": "Too many calls: the limit is 3/min per token; try again in 57 s."
    }


@override_settings(KEEL_API_RATE_LIMIT="2/min")
def test_the_budget_comes_back_as_calls_leave_the_window(alice, clock):
    api = Api(token_create(user=alice, name="sync", scope=TokenScope.READ).secret)
    assert api.get("/tasks").status_code == 200
    clock.now += 30
    assert api.get("/tasks").status_code == 200
    assert api.get("/tasks").status_code == 429
    clock.now += 30  # the first call has left the window, the second has not
    assert api.get("/tasks").status_code == 200
    assert api.get("/tasks").status_code == 429
    clock.now += 61
    assert api.get("/tasks").status_code == 200


@override_settings(KEEL_API_RATE_LIMIT="2/min")
def test_refused_calls_do_not_count(alice, clock):
    api = Api(token_create(user=alice, name="sync", scope=TokenScope.READ).secret)
    api.get("/tasks")
    api.get("/tasks")
    for _ in range(5):
        assert api.get("/tasks").status_code == 429
    clock.now += 61
    assert api.get("/tasks").status_code == 200


@override_settings(KEEL_API_RATE_LIMIT="2/min")
def test_each_token_of_a_user_has_its_own_budget(alice, bob, clock):
    first = Api(token_create(user=alice, name="sync", scope=TokenScope.READ).secret)
    second = Api(token_create(user=alice, name="reports", scope=TokenScope.READ_WRITE).secret)
    for _ in range(2):
        assert first.get("/tasks").status_code == 200
    assert first.get("/tasks").status_code == 429
    for _ in range(2):
        assert second.get("/tasks").status_code == 200
    assert second.get("/tasks").status_code == 429
    # Nor does it cost the user's session, nor another user from the same address.
    browser = Client()
    browser.force_login(alice)
    assert browser.get("/api/v1/tasks").status_code == 200
    assert (
        Api(token_create(user=bob, name="sync", scope=TokenScope.READ).secret)
        .get("/tasks")
        .status_code
        == 200
    )


@override_settings(KEEL_API_RATE_LIMIT="2/min")
def test_a_session_has_a_budget_too(alice, clock):
    browser = Client()
    browser.force_login(alice)
    for _ in range(2):
        assert browser.get("/api/v1/tasks").status_code == 200
    assert browser.get("/api/v1/tasks").status_code == 429


@override_settings(KEEL_API_RATE_LIMIT="1/min")
def test_schema_docs_and_the_public_lead_form_are_not_counted(alice, mia, clock):
    api = Api(token_create(user=alice, name="sync", scope=TokenScope.READ).secret)
    assert api.get("/tasks").status_code == 200
    assert api.get("/tasks").status_code == 429
    client = Client()
    for _ in range(3):
        assert client.get("/api/v1/openapi.json").status_code == 200
        assert client.get("/api/v1/docs").status_code == 200
    form = lead_form_create(
        by=mia, name="Demo", campaign="spring", source="website", consent_text="Yes, news."
    )
    submitted = client.post(f"/f/{form.token}/", {"email": "dana@acme.example"})
    assert submitted.status_code == 303
    assert submitted["Location"] == f"/f/{form.token}/thanks/"


def test_429_is_documented_on_every_operation(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert "429" in operation["responses"], (method, path)


@override_settings(KEEL_API_RATE_LIMIT="2/min")
def test_calls_without_credentials_are_counted_per_address(clock):
    """No operation is open today; the throttle waits for the first that is."""
    throttle = AddressRateThrottle()
    factory = RequestFactory()

    def call(address: str, forwarded: str = "") -> bool:
        request = factory.get("/api/v1/anything", REMOTE_ADDR=address)
        if forwarded:
            request.META["HTTP_X_FORWARDED_FOR"] = forwarded
        return throttle.allow_request(request)

    assert call("198.51.100.1")
    assert call("198.51.100.1", forwarded="203.0.113.9")
    # A forged X-Forwarded-For buys no new budget.
    assert not call("198.51.100.1", forwarded="203.0.113.10")
    assert throttle.wait() == 60
    assert call("198.51.100.2")


def _load_settings(value: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env = {**clean, "KEEL_DEBUG": "1", "KEEL_API_RATE_LIMIT": value}
    return subprocess.run(
        [sys.executable, "-c", "import keel.settings as s; print(s.KEEL_API_RATE_LIMIT)"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("value", ["600/min", "20/s", "100/5min", "5000/hour", "1/day"])
def test_a_rate_is_a_count_per_window(value):
    assert _load_settings(value).stdout.strip() == value


def test_the_rate_is_600_a_minute_unless_set():
    assert _load_settings("").stdout.strip() == "600/min"


@pytest.mark.parametrize(
    "value", ["600", "0/min", "10/0min", "ten/min", "600/minutes", "600 per minute"]
)
def test_a_bad_rate_stops_start_up(value):
    loaded = _load_settings(value)
    assert loaded.returncode != 0
    assert f"ImproperlyConfigured: KEEL_API_RATE_LIMIT={value!r} is not a rate" in loaded.stderr
