"""Two-factor sign-in: setting it up, the code step after the password, recovery codes,
turning it off, and what a session may reach before its code."""

from urllib.parse import quote

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from keel.accounts import two_factor
from keel.accounts.models import User
from keel.accounts.services import token_create
from keel.accounts.tests.conftest import (
    app_code,
    enrol,
    next_code,
    sign_in,
    sign_in_fully,
    wrong_code,
)
from keel.accounts.tests.factories import PASSWORD
from keel.core.models import AuditEntry

pytestmark = pytest.mark.django_db

VERIFY = "/settings/two-factor/verify/"
ENROL = "/settings/two-factor/set-up/"


# --- setting it up


def test_setting_up_shows_a_qr_code_and_the_key_and_needs_a_code_to_count(
    client: Client, alice: User
) -> None:
    client.force_login(alice)
    page = client.get(ENROL)
    html = page.content.decode()
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert 'src="data:image/svg+xml' in html
    device = TOTPDevice.objects.get(user=alice)
    assert not device.confirmed
    assert two_factor.app_secret(device) in html
    assert "otpauth://totp/Keel%3Aalice" in device.config_url
    # Reloading keeps the same secret: the app scanned may still be typed into.
    client.get(ENROL)
    assert TOTPDevice.objects.filter(user=alice).count() == 1

    wrong = client.post(ENROL, {"code": wrong_code(device)})
    assert wrong.status_code == 200 and "didn&#x27;t match" in wrong.content.decode()
    assert not two_factor.has_two_factor(alice)


def test_a_right_code_turns_it_on_and_shows_ten_recovery_codes_once(
    client: Client, alice: User
) -> None:
    client.force_login(alice)
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=alice)
    done = client.post(ENROL, {"code": app_code(device)})
    html = done.content.decode()
    assert done.status_code == 200 and "no-store" in done["Cache-Control"]
    codes = list(StaticToken.objects.filter(device__user=alice).values_list("token", flat=True))
    assert len(codes) == 10 and all(code in html for code in codes)
    assert two_factor.has_two_factor(alice)
    assert AuditEntry.objects.filter(action="two_factor.enable", actor=alice).exists()
    # This session counts as verified: it goes on without a second code.
    assert client.get("/").status_code == 200
    overview = client.get("/settings/two-factor/").content.decode()
    assert "10 unused recovery codes left" in overview
    assert not any(code in overview for code in codes)
    # Set up once: the set-up page now sends back to the overview.
    assert client.get(ENROL)["Location"] == "/settings/two-factor/"


# --- the step after the password


def test_after_the_password_only_the_code_page_is_reachable(client: Client, alice: User) -> None:
    device, _ = enrol(alice)
    signed = sign_in(client, alice)
    assert signed.status_code == 302
    for path in ("/", "/deals/", "/settings/tokens/", "/settings/two-factor/", ENROL):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == f"{VERIFY}?next={quote(path, safe='')}"
    assert client.post("/settings/time-zone/", {"time_zone": "Europe/Rome"})["Location"] == VERIFY
    alice.refresh_from_db()
    assert alice.time_zone == ""
    # The health checks and the code page itself answer; htmx is told to load the code page.
    assert client.get("/healthz").status_code == 200
    code_page = client.get(VERIFY).content.decode()
    # Nothing on it leads elsewhere than back to it, but signing out does.
    assert 'aria-label="Main"' not in code_page and "Sign out" in code_page
    htmx = client.get("/deals/", headers={"HX-Request": "true"})
    assert htmx.status_code == 204 and htmx["HX-Redirect"] == VERIFY

    page = client.post(VERIFY, {"code": next_code(device), "next": "/deals/"})
    assert page.status_code == 302 and page["Location"] == "/deals/"
    assert 'aria-label="Main"' in client.get("/").content.decode()


def test_the_api_treats_a_session_without_its_code_as_signed_out(
    client: Client, alice: User
) -> None:
    enrol(alice)
    sign_in(client, alice)
    assert client.get("/api/v1/deals").status_code == 401
    # A token is a credential of its own, and still works next to that cookie.
    token = token_create(user=alice, name="script", scope="read")
    bearer = client.get("/api/v1/deals", headers={"Authorization": f"Bearer {token.secret}"})
    assert bearer.status_code == 200


def test_a_wrong_code_is_refused_and_a_used_code_cannot_be_used_again(
    client: Client, alice: User, no_throttle: None
) -> None:
    device, _ = enrol(alice)
    sign_in(client, alice)
    code = next_code(device)
    wrong = client.post(VERIFY, {"code": wrong_code(device)})
    assert wrong.status_code == 200 and "didn&#x27;t work" in wrong.content.decode()
    assert client.get("/")["Location"].startswith(VERIFY)
    assert client.post(VERIFY, {"code": code}).status_code == 302
    assert client.get("/").status_code == 200

    # Someone who saw that code over the shoulder, with the password, is refused.
    other = Client()
    sign_in(other, alice, ip="10.0.0.9")
    replay = other.post(VERIFY, {"code": code})
    assert replay.status_code == 200
    assert other.get("/")["Location"].startswith(VERIFY)
    # The app's next code works.
    assert other.post(VERIFY, {"code": app_code(device, steps_ahead=1)}).status_code == 302


def test_a_wrong_code_makes_the_device_wait_before_the_next(client: Client, alice: User) -> None:
    device, _ = enrol(alice)
    sign_in(client, alice)
    client.post(VERIFY, {"code": wrong_code(device)})
    throttled = client.post(VERIFY, {"code": next_code(device)})
    assert throttled.status_code == 200 and "wait a little" in throttled.content.decode()
    device.refresh_from_db()
    assert device.throttling_failure_count == 1


def test_every_sign_in_asks_for_a_code_again(client: Client, alice: User) -> None:
    device, _ = enrol(alice)
    sign_in(client, alice)
    client.post(VERIFY, {"code": next_code(device)})
    assert client.get("/").status_code == 200
    client.post("/accounts/logout/")
    sign_in(client, alice)
    assert client.get("/")["Location"].startswith(VERIFY)


def test_a_recovery_code_signs_in_once(client: Client, alice: User, no_throttle: None) -> None:
    _, codes = enrol(alice)
    sign_in(client, alice)
    used = client.post(VERIFY, {"code": codes[0].upper()[:4] + " " + codes[0].upper()[4:]})
    assert used.status_code == 302
    assert "9 left" in client.get("/").content.decode()
    client.post("/accounts/logout/")

    sign_in(client, alice)
    again = client.post(VERIFY, {"code": codes[0]})
    assert again.status_code == 200 and client.get("/")["Location"].startswith(VERIFY)
    assert client.post(VERIFY, {"code": codes[1]}).status_code == 302
    assert two_factor.recovery_codes_left(alice) == 8


def test_wrong_codes_pause_the_account_like_wrong_passwords(
    client: Client, alice: User, no_throttle: None, settings
) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    _, codes = enrol(alice)
    sign_in(client, alice)
    for _ in range(2):
        assert client.post(VERIFY, {"code": "not-a-code"}).status_code == 200
    paused = client.post(VERIFY, {"code": "still-wrong"})
    assert paused.status_code == 429 and "Signing in is paused" in paused.content.decode()
    # Signed out: the session is gone.
    assert client.get("/")["Location"].startswith("/accounts/login/")
    # From another address, with the password, the code step stays paused, right code or not.
    other = Client()
    assert sign_in(other, alice, ip="10.9.9.9").status_code == 302
    assert other.get(VERIFY).status_code == 429
    sign_in(other, alice, ip="10.9.9.9")
    assert other.post(VERIFY, {"code": codes[0]}).status_code == 429
    assert two_factor.recovery_codes_left(alice) == 10


def test_a_right_code_clears_the_count_of_wrong_ones(
    client: Client, alice: User, no_throttle: None, settings
) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    device, _ = enrol(alice)
    for _ in range(2):
        sign_in(client, alice)
        client.post(VERIFY, {"code": "nope"})
        client.post(VERIFY, {"code": "nope"})
        assert client.post(VERIFY, {"code": next_code(device)}).status_code == 302
        client.post("/accounts/logout/")


def test_without_a_device_sign_in_goes_straight_through(
    client: Client, alice: User, django_assert_max_num_queries
) -> None:
    assert sign_in(client, alice).status_code == 302
    assert client.get("/").status_code == 200
    # An ordinary request asks nothing of the device or session tables.
    with CaptureQueriesContext(connection) as queries:
        client.get("/settings/time-zone/")
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "otp_" not in sql and "usersession" not in sql and "instancesetting" not in sql


def test_the_code_page_sends_on_whoever_owes_no_code(client: Client, alice: User) -> None:
    client.force_login(alice)
    assert client.get(VERIFY)["Location"] == "/"
    assert client.get(VERIFY + "?next=https://evil.example/")["Location"] == "/"


# --- recovery codes and turning it off


def test_new_recovery_codes_replace_the_old(client: Client, alice: User, no_throttle) -> None:
    _, old = enrol(alice)
    sign_in(client, alice)
    client.post(VERIFY, {"code": old[0]})
    page = client.post("/settings/two-factor/recovery-codes/")
    new = list(StaticToken.objects.filter(device__user=alice).values_list("token", flat=True))
    assert page.status_code == 200 and len(new) == 10
    assert all(code in page.content.decode() for code in new)
    assert not set(old) & set(new)
    client.post("/accounts/logout/")
    sign_in(client, alice)
    assert client.post(VERIFY, {"code": old[1]}).status_code == 200
    assert client.post(VERIFY, {"code": new[0]}).status_code == 302


def test_turning_it_off_needs_a_code_or_the_password(
    client: Client, alice: User, no_throttle
) -> None:
    device, _ = enrol(alice)
    sign_in(client, alice)
    client.post(VERIFY, {"code": next_code(device)})
    url = "/settings/two-factor/turn-off/"
    assert "Give a current code" in client.post(url, {}).content.decode()
    refused = client.post(url, {"password": "not my password"})
    assert "didn&#x27;t match" in refused.content.decode()
    assert two_factor.has_two_factor(alice)
    assert client.post(url, {"password": PASSWORD})["Location"] == "/settings/two-factor/"
    assert not two_factor.has_two_factor(alice)
    assert not StaticToken.objects.filter(device__user=alice).exists()
    assert AuditEntry.objects.filter(action="two_factor.disable", actor=alice).exists()
    client.post("/accounts/logout/")
    sign_in(client, alice)
    assert client.get("/").status_code == 200


def test_turning_it_off_with_a_code(client: Client, alice: User, no_throttle) -> None:
    device, codes = enrol(alice)
    sign_in(client, alice)
    client.post(VERIFY, {"code": codes[0]})
    client.post("/settings/two-factor/turn-off/", {"code": next_code(device)})
    assert not two_factor.has_two_factor(alice)


# --- the owner's requirement


def test_only_the_owner_may_require_it(
    client: Client, olivia: User, mary: User, alice: User, vera: User
) -> None:
    url = "/settings/two-factor/required/"
    for person in (mary, alice, vera):
        client.force_login(person)
        assert client.get(url).status_code == 403
        assert client.post(url, {"required": "on"}).status_code == 403
    assert not two_factor.two_factor_required()
    assert "Change</a>" not in client.get("/settings/two-factor/").content.decode()


def test_the_owner_sets_it_up_first_then_requires_it(client: Client, olivia: User) -> None:
    client.force_login(olivia)
    url = "/settings/two-factor/required/"
    first = client.post(url, {"required": "on"})
    assert "Set up two-factor sign-in for yourself first" in first.content.decode()
    assert not two_factor.two_factor_required()
    device, _ = enrol(olivia)
    sign_in_fully(client, olivia, device)
    assert "1 of 1 active people" in client.get(url).content.decode()
    assert client.post(url, {"required": "on"}).status_code == 302
    assert two_factor.two_factor_required()
    entry = AuditEntry.objects.get(action="two_factor.require")
    assert entry.actor == olivia and entry.changes == {"required": True}
    client.post(url, {})  # the box unticked
    assert not two_factor.two_factor_required()
    assert AuditEntry.objects.filter(action="two_factor.unrequire").count() == 1


def test_when_required_people_without_a_device_must_set_one_up(
    client: Client, olivia: User, bob: User
) -> None:
    enrol(olivia)
    two_factor.two_factor_require(by=olivia, required=True)
    sign_in(client, bob)
    for path in ("/", "/settings/tokens/", VERIFY):
        assert client.get(path)["Location"] == f"{ENROL}?next={quote(path, safe='')}"
    page = client.get(ENROL + "?next=/deals/")
    assert page.status_code == 200 and "requires two-factor" in page.content.decode()
    assert 'aria-label="Main"' not in page.content.decode()
    device = TOTPDevice.objects.get(user=bob)
    done = client.post(ENROL, {"code": app_code(device), "next": "/deals/"})
    assert done.status_code == 200 and 'href="/deals/"' in done.content.decode()
    assert client.get("/deals/").status_code == 200
    # Required: it cannot be turned off.
    client.post("/settings/two-factor/turn-off/", {"password": PASSWORD})
    assert two_factor.has_two_factor(bob)


def test_a_requirement_reaches_signed_in_sessions_within_a_minute(
    client: Client, olivia: User, bob: User
) -> None:
    client.force_login(bob)
    assert client.get("/").status_code == 200
    enrol(olivia)
    two_factor.two_factor_require(by=olivia, required=True)
    assert client.get("/").status_code == 200  # checked less than a minute ago
    session = client.session
    session[two_factor.CHECKED_KEY] = 0  # a minute later
    session.save()
    assert client.get("/")["Location"].startswith(ENROL)


def test_a_device_set_up_in_one_browser_is_asked_for_in_the_others(
    client: Client, alice: User
) -> None:
    other = Client()
    other.force_login(alice)
    client.force_login(alice)
    client.get(ENROL)
    client.post(ENROL, {"code": app_code(TOTPDevice.objects.get(user=alice))})
    session = other.session
    session[two_factor.CHECKED_KEY] = 0
    session.save()
    assert other.get("/")["Location"].startswith(VERIFY)
    assert client.get("/").status_code == 200
