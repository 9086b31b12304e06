"""Password reset mails are limited per mail address and per client address; past the
limit the page answers exactly as before, so it tells nobody whether an account exists."""

import os
import subprocess
import sys
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from keel.accounts.models import User

pytestmark = pytest.mark.django_db

URL = "/accounts/password_reset/"
DONE = "/accounts/password_reset/done/"


def ask(client: Client, email: str, ip: str = "10.0.0.1") -> Any:
    return client.post(URL, {"email": email}, REMOTE_ADDR=ip)


def test_one_address_gets_at_most_the_limit_of_mails_an_hour(
    client: Client, alice: User, settings: Any
) -> None:
    settings.KEEL_PASSWORD_RESET_LIMIT = 3
    answers = [ask(client, "alice@example.com", ip=f"10.0.0.{n}") for n in range(1, 6)]
    assert {(a.status_code, a["Location"]) for a in answers} == {(302, DONE)}
    assert len(mail.outbox) == 3
    # Written differently, it is the same mailbox.
    ask(client, " ALICE@example.com", ip="10.0.0.99")
    assert len(mail.outbox) == 3


def test_one_client_address_gets_at_most_the_limit(
    client: Client, alice: User, bob: User, settings: Any
) -> None:
    settings.KEEL_PASSWORD_RESET_LIMIT = 2
    ask(client, "nobody@example.com")
    ask(client, "bob@example.com")
    refused = ask(client, "alice@example.com")
    assert (refused.status_code, refused["Location"]) == (302, DONE)
    assert [m.to for m in mail.outbox] == [["bob@example.com"]]
    # Another client address still may ask for Alice's.
    ask(client, "alice@example.com", ip="10.0.0.2")
    assert mail.outbox[-1].to == ["alice@example.com"]


def test_known_and_unknown_addresses_get_the_same_answer(client: Client, alice: User) -> None:
    known = ask(client, "alice@example.com", ip="10.0.0.1")
    unknown = ask(client, "nobody@example.com", ip="10.0.0.2")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    page = client.get(DONE).content.decode()
    assert "If an account has that address" in page


def test_the_default_limit_is_five_an_hour(client: Client, alice: User) -> None:
    for n in range(7):
        ask(client, "alice@example.com", ip=f"10.0.1.{n}")
    assert len(mail.outbox) == 5


def test_a_malformed_address_is_refused_on_the_form_and_not_counted(
    client: Client, alice: User, settings: Any
) -> None:
    settings.KEEL_PASSWORD_RESET_LIMIT = 1
    bad = ask(client, "not an address")
    assert bad.status_code == 200
    ask(client, "alice@example.com")
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "KEEL_PASSWORD_RESET_LIMIT=0 is not a count of at least 1"),
        ("five", "KEEL_PASSWORD_RESET_LIMIT='five' is not a whole number"),
    ],
)
def test_a_bad_limit_stops_start_up(value: str, message: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    result = subprocess.run(
        [sys.executable, "-c", "import keel.settings"],
        env={**clean, "KEEL_DEBUG": "1", "KEEL_PASSWORD_RESET_LIMIT": value},
        capture_output=True,
        text=True,
        check=False,
    )
    assert message in result.stderr
