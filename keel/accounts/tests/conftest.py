"""Helpers for the sign-in tests: an authenticator app that tells the current code."""

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from keel.accounts import two_factor
from keel.accounts.models import User
from keel.accounts.tests.factories import PASSWORD


@pytest.fixture(autouse=True)
def _fresh_limits() -> None:
    """The sign-in and reset counts live in the cache: each test starts with none."""
    cache.clear()


def app_code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The code the person's app shows now (or `steps_ahead` time steps later)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def enrol(user: User) -> tuple[TOTPDevice, list[str]]:
    """Turn on two-factor sign-in for `user` as the set-up page does; its device and codes."""
    device = two_factor.app_device_pending(user=user)
    enrolment = two_factor.two_factor_enable(user=user, code=app_code(device))
    return enrolment.device, enrolment.recovery_codes


def sign_in(client: Client, user: User, ip: str = "10.0.0.1", **headers: Any) -> Any:
    return client.post(
        "/accounts/login/",
        {"username": user.username, "password": PASSWORD},
        REMOTE_ADDR=ip,
        **headers,
    )


@pytest.fixture
def no_throttle(settings: Any) -> None:
    """django-otp waits 1 s after a wrong code before checking the next: not in these tests."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def wrong_code(device: TOTPDevice) -> str:
    """Six digits the app does not show now (nor a step before or after)."""
    near = {app_code(device, steps_ahead=step) for step in (-1, 0, 1)}
    return next(f"{n:06d}" for n in range(0, 1_000_000, 7919) if f"{n:06d}" not in near)


def next_code(device: TOTPDevice) -> str:
    """The app's code once the last one used has gone by (as if half a minute passed):
    a code is taken once, and the tests sign in faster than codes change."""
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)
    return app_code(device)


def sign_in_fully(client: Client, user: User, device: TOTPDevice) -> None:
    """Password, then the app's code: a session with nothing left to do."""
    sign_in(client, user)
    response = client.post("/settings/two-factor/verify/", {"code": next_code(device)})
    assert response.status_code == 302, response
