"""A person's signed-in sessions: listed with where and when, signed out one by one or all
but the current; nobody sees or ends anyone else's."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from keel.accounts.models import User, UserSession
from keel.accounts.tests.conftest import sign_in
from keel.accounts.tests.factories import PASSWORD
from keel.accounts.user_sessions import TRACKED_KEY, user_agent_short

pytestmark = pytest.mark.django_db

LIST = "/settings/sessions/"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1"


def test_signing_in_notes_the_session_with_its_browser_and_address(
    client: Client, alice: User
) -> None:
    sign_in(client, alice, ip="203.0.113.7", HTTP_USER_AGENT=FIREFOX)
    row = UserSession.objects.get(user=alice)
    assert row.session_key == client.session.session_key
    assert (row.ip, row.user_agent) == ("203.0.113.7", FIREFOX)
    html = client.get(LIST).content.decode()
    assert "203.0.113.7" in html and "Firefox/128.0" in html and "this session" in html


def test_a_person_lists_and_signs_out_their_other_sessions(client: Client, alice: User) -> None:
    phone = Client()
    sign_in(phone, alice, ip="198.51.100.2", HTTP_USER_AGENT=PHONE)
    sign_in(client, alice, ip="203.0.113.7", HTTP_USER_AGENT=FIREFOX)
    html = client.get(LIST).content.decode()
    assert "198.51.100.2" in html and "iPhone" in html and html.count("this session") == 1
    assert phone.get("/").status_code == 200

    other = UserSession.objects.get(user=alice, ip="198.51.100.2")
    done = client.post(f"/settings/sessions/{other.pk}/sign-out/")
    assert done["Location"] == LIST
    assert phone.get("/")["Location"].startswith("/accounts/login/")
    assert not Session.objects.filter(session_key=other.session_key).exists()
    assert list(UserSession.objects.filter(user=alice)) == [
        UserSession.objects.get(session_key=client.session.session_key)
    ]
    assert client.get("/").status_code == 200


def test_sign_out_everywhere_else_keeps_only_this_session(
    client: Client, alice: User, bob: User
) -> None:
    others = [Client(), Client()]
    for n, browser in enumerate(others):
        sign_in(browser, alice, ip=f"198.51.100.{n + 1}")
    bobs = Client()
    sign_in(bobs, bob)
    sign_in(client, alice)
    response = client.post("/settings/sessions/sign-out-others/", follow=True)
    assert "Signed out 2 other sessions." in response.content.decode()
    assert all(b.get("/")["Location"].startswith("/accounts/login/") for b in others)
    assert client.get("/").status_code == 200
    assert bobs.get("/").status_code == 200  # someone else's sessions are untouched
    assert UserSession.objects.filter(user=alice).count() == 1


def test_nobody_sees_or_signs_out_anyone_elses_session(
    client: Client, alice: User, bob: User
) -> None:
    alices = Client()
    sign_in(alices, alice, ip="198.51.100.9")
    sign_in(client, bob, ip="203.0.113.1")
    assert "198.51.100.9" not in client.get(LIST).content.decode()
    row = UserSession.objects.get(user=alice)
    assert client.post(f"/settings/sessions/{row.pk}/sign-out/").status_code == 404
    client.post("/settings/sessions/sign-out-others/")
    assert alices.get("/").status_code == 200
    assert UserSession.objects.filter(pk=row.pk).exists()


def test_signing_out_forgets_the_session(client: Client, alice: User) -> None:
    sign_in(client, alice)
    assert UserSession.objects.filter(user=alice).count() == 1
    client.post("/accounts/logout/")
    assert not UserSession.objects.filter(user=alice).exists()


def test_signing_out_the_current_session_from_the_list_signs_out(
    client: Client, alice: User
) -> None:
    sign_in(client, alice)
    row = UserSession.objects.get(user=alice)
    assert client.post(f"/settings/sessions/{row.pk}/sign-out/")["Location"] == "/accounts/login/"
    assert client.get("/")["Location"].startswith("/accounts/login/")
    assert not UserSession.objects.filter(user=alice).exists()


def test_a_password_change_keeps_this_session_and_ends_the_others(
    client: Client, alice: User
) -> None:
    phone = Client()
    sign_in(phone, alice, ip="198.51.100.2")
    sign_in(client, alice, ip="203.0.113.7")
    before = client.session.session_key
    new = "a much longer passphrase 42"
    changed = client.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
        REMOTE_ADDR="203.0.113.7",
    )
    assert changed.status_code == 302
    assert client.session.session_key != before  # Django gives the session a new key
    assert client.get("/").status_code == 200
    assert phone.get("/")["Location"].startswith("/accounts/login/")
    html = client.get(LIST).content.decode()
    assert "this session" in html and "198.51.100.2" not in html
    [row] = UserSession.objects.filter(user=alice)
    assert row.session_key == client.session.session_key and row.ip == "203.0.113.7"


def test_last_seen_is_noted_at_most_once_a_minute(client: Client, alice: User) -> None:
    sign_in(client, alice, ip="203.0.113.7")
    row = UserSession.objects.get(user=alice)
    long_ago = timezone.now() - timedelta(hours=2)
    UserSession.objects.filter(pk=row.pk).update(last_seen_at=long_ago)
    client.get("/", REMOTE_ADDR="203.0.113.8")
    assert UserSession.objects.get(pk=row.pk).last_seen_at == long_ago  # within the minute
    session = client.session
    session[TRACKED_KEY] = {"key": session.session_key, "seen": 0}  # a minute later
    session.save()
    client.get("/", REMOTE_ADDR="203.0.113.8")
    row.refresh_from_db()
    assert row.last_seen_at > long_ago and row.ip == "203.0.113.8"


def test_a_session_signed_in_before_it_was_noted_is_listed_at_its_next_request(
    client: Client, alice: User
) -> None:
    client.force_login(alice)
    UserSession.objects.all().delete()
    session = client.session
    del session[TRACKED_KEY]
    session.save()
    client.get("/", HTTP_USER_AGENT=FIREFOX)
    row = UserSession.objects.get(user=alice)
    assert row.session_key == client.session.session_key and row.user_agent == FIREFOX


def test_sessions_that_no_longer_sign_in_are_not_listed(client: Client, alice: User) -> None:
    stale = Client()
    sign_in(stale, alice, ip="198.51.100.3")
    sign_in(client, alice)
    Session.objects.filter(session_key=stale.session.session_key).update(
        expire_date=timezone.now() - timedelta(minutes=1)
    )
    assert "198.51.100.3" not in client.get(LIST).content.decode()
    assert UserSession.objects.filter(user=alice).count() == 1


def test_the_list_needs_a_sign_in(client: Client) -> None:
    assert client.get(LIST)["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("user_agent", "shown"),
    [
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36",
            "(X11; Linux x86_64) Chrome/131.0.0.0",
        ),
        (FIREFOX, "(X11; Linux x86_64; rv:128.0) Firefox/128.0"),
        (PHONE, "(iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1"),
        ("curl/8.5.0", "curl/8.5.0"),
        ("", ""),
    ],
)
def test_the_browser_is_shown_without_the_boilerplate(user_agent: str, shown: str) -> None:
    assert user_agent_short(user_agent) == shown
