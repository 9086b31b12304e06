"""Two-factor sign-in: an authenticator app (TOTP) and one-time recovery codes.

django-otp keeps the devices and checks the codes: a TOTP code is accepted once (its time
step is remembered), and each wrong code doubles the wait before the device checks another
(1 s, 2 s, 4 s …, per device, whatever the address). On top of that, wrong codes at the
sign-in step count against the same limit as wrong passwords (KEEL_SIGNIN_FAILURE_LIMIT in
KEEL_SIGNIN_LOCKOUT_MINUTES), per account: that count lives in the cache rather than in
django-axes, because axes forgets an account's failures at each correct password, which
would let someone who knows the password reset the count by signing in again.

A session owes a second step after the password: "verify" when its user has a confirmed
device, "enrol" when the owner requires two-factor sign-in and its user has none. The step
is worked out at sign-in and again at most once a minute (so a requirement switched on, or
a device set up in another browser, reaches every session within a minute); it is kept in
the session so that an ordinary request costs no query.
"""

import time
from base64 import b32encode
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import django_otp
import segno
from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.db import transaction
from django.http import HttpRequest
from django_otp.models import Device
from django_otp.plugins.otp_static.models import (
    StaticDevice,
    StaticToken,
)
from django_otp.plugins.otp_totp.models import TOTPDevice

from keel.accounts.limits import limit_clear, limit_count, limit_hit, limit_key
from keel.accounts.models import Role, User
from keel.core.exceptions import InvalidInput, NotAllowed
from keel.core.models import InstanceSetting
from keel.core.services import audit_record

REQUIRED_KEY = "two_factor_required"  # the InstanceSetting: {"required": true}
RECOVERY_CODE_COUNT = 10
APP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"

# What a session still owes after the password, kept in the session.
DUE_KEY = "keel_2fa_due"
CHECKED_KEY = "keel_2fa_checked"  # when DUE_KEY was last worked out (seconds since epoch)
RECHECK_SECONDS = 60
VERIFY = "verify"
ENROL = "enrol"


# --- the owner's requirement


def may_require_two_factor(user: User) -> bool:
    return user.is_active and (user.is_superuser or user.role == Role.OWNER)


def two_factor_required() -> bool:
    setting = InstanceSetting.objects.filter(key=REQUIRED_KEY).first()
    return setting is not None and _required_in(setting.value)


def _required_in(value: Any) -> bool:
    return isinstance(value, dict) and value.get("required") is True


@transaction.atomic
def two_factor_require(*, by: User, required: bool) -> InstanceSetting:
    """Require two-factor sign-in of everyone (or stop requiring it)."""
    if not may_require_two_factor(by):
        raise NotAllowed(f"{by} may not change the sign-in rules: only the owner may.")
    if required and not has_two_factor(by):
        raise InvalidInput(
            "Set up two-factor sign-in for yourself first, then require it of everyone."
        )
    setting, _ = InstanceSetting.objects.select_for_update().get_or_create(
        key=REQUIRED_KEY, defaults={"value": {"required": False}}
    )
    if _required_in(setting.value) is not required:
        setting.value = {"required": required}
        setting.save(update_fields=["value"])
        audit_record(
            actor=by,
            action="two_factor.require" if required else "two_factor.unrequire",
            obj=setting,
            summary="Two-factor sign-in required of everyone"
            if required
            else "Two-factor sign-in no longer required",
            changes={"required": required},
        )
    return setting


# --- a person's devices


def has_two_factor(user: User) -> bool:
    """Whether `user` signs in with a second factor (a confirmed device of any kind)."""
    return bool(django_otp.user_has_device(user, confirmed=True))


def app_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).first()


def recovery_codes_left(user: User) -> int:
    count: int = StaticToken.objects.filter(device__user=user, device__confirmed=True).count()
    return count


def app_device_pending(*, user: User) -> TOTPDevice:
    """The authenticator being set up: the same secret until it is confirmed."""
    if TOTPDevice.objects.devices_for_user(user, confirmed=True).exists():
        raise InvalidInput("Two-factor sign-in is already on. Turn it off to set up another app.")
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).order_by("id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=APP_DEVICE_NAME, confirmed=False)
    return device


@dataclass(frozen=True)
class Enrolment:
    device: TOTPDevice
    recovery_codes: list[str]  # shown once, at enrolment


def two_factor_enable(*, user: User, code: str) -> Enrolment:
    """Confirm the pending authenticator with a code from it; make the recovery codes."""
    device = app_device_pending(user=user)
    # Its own transaction, so that a wrong code's throttling is kept.
    if not django_otp.verify_token(user, device.persistent_id, _normalise(code)):
        raise InvalidInput(
            "That code didn't match. Check the app shows Keel's entry and type its current "
            "six digits (wait a few seconds after a wrong one)."
        )
    with transaction.atomic():
        device.refresh_from_db()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        codes = _recovery_codes_make(user)
        audit_record(
            actor=user, action="two_factor.enable", obj=user, summary=f"{user} turned on 2FA"
        )
    return Enrolment(device=device, recovery_codes=codes)


@transaction.atomic
def recovery_codes_replace(*, user: User) -> list[str]:
    """New recovery codes for `user`; the old ones stop working."""
    if not TOTPDevice.objects.devices_for_user(user, confirmed=True).exists():
        raise InvalidInput("Turn on two-factor sign-in first: recovery codes back up the app.")
    codes = _recovery_codes_make(user)
    audit_record(
        actor=user,
        action="two_factor.recovery_codes",
        obj=user,
        summary=f"{user} made new recovery codes",
    )
    return codes


def _recovery_codes_make(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()  # and with it every old code
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes: set[str] = set()
    while len(codes) < RECOVERY_CODE_COUNT:
        codes.add(StaticToken.random_token())
    ordered = sorted(codes)
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in ordered)
    return ordered


@transaction.atomic
def two_factor_disable(*, user: User) -> None:
    """Turn off two-factor sign-in for `user`: the app and the recovery codes go."""
    if two_factor_required():
        raise NotAllowed(
            "The owner requires two-factor sign-in of everyone, so it cannot be turned off."
        )
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    audit_record(
        actor=user, action="two_factor.disable", obj=user, summary=f"{user} turned off 2FA"
    )


def app_qr_code(device: TOTPDevice) -> str:
    """A data: URI of the QR code an authenticator app scans (an SVG image)."""
    qr = segno.make(device.config_url, error="m")
    return str(qr.svg_data_uri(scale=5, border=4, dark="#000", light="#fff"))


def app_secret(device: TOTPDevice) -> str:
    """The secret in the base-32 letters an app takes when typed, in groups of four."""
    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


# --- checking a code


@dataclass(frozen=True)
class CodeCheck:
    device: Device | None  # the device that took the code (a recovery code is used up)
    wait_until: datetime | None = None  # the device refuses codes until then


def _normalise(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def code_check(*, user: User, code: str) -> CodeCheck:
    """Which of `user`'s confirmed devices takes `code`: six digits from the app, or a
    recovery code. A TOTP code taken is refused next time; so is a recovery code."""
    code = _normalise(code)
    if not code:
        return CodeCheck(device=None)
    model = TOTPDevice if code.isdigit() and len(code) == 6 else StaticDevice  # codes: 8 letters
    wait_until = None
    for device in model.objects.devices_for_user(user, confirmed=True).order_by("id"):
        allowed, details = device.verify_is_allowed()
        if not allowed:
            wait_until = (details or {}).get("locked_until")
            continue
        found = django_otp.verify_token(user, device.persistent_id, code)
        if found is not None:
            return CodeCheck(device=found)
    return CodeCheck(device=None, wait_until=wait_until)


def password_check(*, user: User, password: str) -> bool:
    return bool(password) and check_password(password, user.password)


# --- wrong codes at the sign-in step, counted per account


def _failures_key(user: User) -> str:
    return limit_key("second-step", str(user.pk))


def second_step_paused(user: User) -> bool:
    limit: int = settings.AXES_FAILURE_LIMIT
    return limit_count(_failures_key(user)) >= limit


def second_step_failed(user: User) -> bool:
    """Count a wrong code (or password); whether the account is now paused."""
    limit: int = settings.AXES_FAILURE_LIMIT
    return limit_hit(_failures_key(user), window=settings.AXES_COOLOFF_TIME) >= limit


def second_step_passed(user: User) -> None:
    limit_clear(_failures_key(user))


# --- what a session owes


def second_step_due(*, user: User, verified: bool) -> str | None:
    if verified:
        return None
    if has_two_factor(user):
        return VERIFY
    if two_factor_required():
        return ENROL
    return None


def second_step_start(request: HttpRequest, user: User) -> None:
    """After the password: every sign-in asks for a code again, if the person has a device."""
    session = request.session
    session.pop(django_otp.DEVICE_ID_SESSION_KEY, None)
    _session_set_due(session, second_step_due(user=user, verified=False))


def session_recheck(request: HttpRequest) -> str | None:
    """Work out again what this signed-in session owes; at most once a minute."""
    session = request.session
    if time.time() - float(session.get(CHECKED_KEY, 0)) < RECHECK_SECONDS:
        return session.get(DUE_KEY)
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        return None
    verified = getattr(user, "otp_device", None) is not None  # set by OTPMiddleware
    due = second_step_due(user=user, verified=verified)
    _session_set_due(session, due)
    return due


def session_verified(request: HttpRequest, device: Device) -> None:
    """The session passed its second step with `device`."""
    django_otp.login(request, device)
    _session_set_due(request.session, None)


def _session_set_due(session: Any, due: str | None) -> None:
    if due is None:
        session.pop(DUE_KEY, None)
    else:
        session[DUE_KEY] = due
    session[CHECKED_KEY] = time.time()
