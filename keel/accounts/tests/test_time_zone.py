"""A person sets their own time zone; nobody sets anyone else's from this page."""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from keel.accounts.models import User

pytestmark = pytest.mark.django_db


def test_a_person_sets_and_clears_their_time_zone(alice: User, bob: User) -> None:
    client = Client()
    client.force_login(alice)
    url = reverse("accounts:time_zone")
    assert client.get(url).status_code == 200
    client.post(url, {"time_zone": "America/New_York"})
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert (alice.time_zone, str(alice.zone), bob.time_zone) == (
        "America/New_York", "America/New_York", ""
    )  # fmt: skip
    client.post(url, {"time_zone": ""})
    alice.refresh_from_db()
    assert alice.time_zone == "" and str(alice.zone) == settings.TIME_ZONE


def test_an_unknown_zone_is_refused_and_nothing_changes(alice: User) -> None:
    client = Client()
    client.force_login(alice)
    page = client.post(reverse("accounts:time_zone"), {"time_zone": "Mars/Olympus"})
    assert page.status_code == 200 and "Mars/Olympus" in page.content.decode()
    alice.refresh_from_db()
    assert alice.time_zone == ""


def test_signed_out_it_asks_to_sign_in(db: None) -> None:
    page = Client().post(reverse("accounts:time_zone"), {"time_zone": "Europe/Rome"})
    assert page.status_code == 302 and "/accounts/login/" in page["Location"]
