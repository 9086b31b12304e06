import re

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.core import mail
from django.test import Client

from keel.accounts.models import User
from keel.accounts.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(client: Client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_sign_in_and_out(client: Client, alice: User):
    response = sign_in(client, "alice", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


def test_a_wrong_password_says_so(client: Client, alice: User):
    response = sign_in(client, "alice", "wrong")
    assert response.status_code == 200
    assert "didn't match" in response.content.decode()


def test_repeated_failures_lock_the_account_from_that_address(client: Client, alice: User):
    for _ in range(5):
        sign_in(client, "alice", "guess")
    locked = sign_in(client, "alice", PASSWORD)
    assert locked.status_code == 429
    assert "Signing in is paused" in locked.content.decode()
    # Another address is not locked out, nor is another account from the first address.
    assert sign_in(Client(), "alice", PASSWORD, ip="10.0.0.2").status_code == 302


def test_passwords_are_hashed_with_argon2(client: Client, alice: User):
    client.force_login(alice)
    new = "a much longer passphrase 42"
    response = client.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert identify_hasher(alice.password).algorithm == "argon2"
    assert alice.check_password(new)


def test_password_reset_by_mail(client: Client, alice: User):
    client.post("/accounts/password_reset/", {"email": "alice@example.com"})
    [message] = mail.outbox
    link = re.search(r"http://testserver(/accounts/reset/\S+)", message.body).group(1)
    form = client.get(link, follow=True)
    assert "Choose a new password" in form.content.decode()
    new = "another long passphrase 7"
    done = client.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert done.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(new)


def test_a_used_reset_link_is_refused(client: Client, alice: User):
    page = client.get("/accounts/reset/MQ/set-password/")
    assert "no longer valid" in page.content.decode()
