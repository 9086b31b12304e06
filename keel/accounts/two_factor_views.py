"""Two-factor sign-in pages: set it up, the code step after the password, recovery codes,
turning it off, and the owner's requirement of it (see keel.accounts.two_factor)."""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from keel.accounts import two_factor
from keel.accounts.forms import AppCodeForm, CodeForm, DisableForm, RequirementForm
from keel.accounts.models import User
from keel.core.exceptions import KeelError


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    return request.user


def _next(request: HttpRequest) -> str:
    """Where to go once the step is done: the page asked for, if it is one of Keel's."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return str(resolve_url(settings.LOGIN_REDIRECT_URL))


def _posted(request: HttpRequest) -> Any:
    # An empty POST (an unticked box, nothing else) is still a POST: bind the form to it.
    return request.POST if request.method == "POST" else None


def _private(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)  # secrets and codes must not linger in a cache
    return response


def _paused(request: HttpRequest) -> HttpResponse:
    """Too many wrong codes: sign the session out and say when to try again."""
    logout(request)
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "accounts/two_factor_paused.html", {"minutes": minutes}, status=429)


def _verified(request: HttpRequest) -> bool:
    return getattr(request.user, "otp_device", None) is not None


@login_required
@require_http_methods(["GET"])
def two_factor_overview(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    context = {
        "device": two_factor.app_device(user),
        "codes_left": two_factor.recovery_codes_left(user),
        "required": two_factor.two_factor_required(),
        "may_require": two_factor.may_require_two_factor(user),
    }
    return render(request, "accounts/two_factor.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_enrol(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: scan, then confirm with a code from it."""
    user = _user(request)
    try:
        device = two_factor.app_device_pending(user=user)
    except KeelError as error:
        messages.info(request, error.message)
        return redirect("accounts:two_factor")
    form = AppCodeForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            enrolment = two_factor.two_factor_enable(user=user, code=form.cleaned_data["code"])
        except KeelError as error:
            form.add_error("code", error.message)
        else:
            two_factor.session_verified(request, enrolment.device)
            shown = {"codes": enrolment.recovery_codes, "next": _next(request), "new": True}
            return _private(render(request, "accounts/two_factor_codes.html", shown))
    context: dict[str, Any] = {
        "form": form,
        "qr_code": two_factor.app_qr_code(device),
        "secret": two_factor.app_secret(device),
        "next": request.POST.get("next") or request.GET.get("next", ""),
        "required": two_factor.two_factor_required(),
    }
    return _private(render(request, "accounts/two_factor_enrol.html", context))


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """The step after the password, for whoever has two-factor sign-in on."""
    user = _user(request)
    if request.session.get(two_factor.DUE_KEY) != two_factor.VERIFY:
        return redirect(_next(request))
    if two_factor.second_step_paused(user):
        return _paused(request)
    form = CodeForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        check = two_factor.code_check(user=user, code=form.cleaned_data["code"])
        if check.device is not None:
            two_factor.second_step_passed(user)
            two_factor.session_verified(request, check.device)
            if isinstance(check.device, TOTPDevice):
                return redirect(_next(request))
            left = two_factor.recovery_codes_left(user)
            messages.warning(
                request,
                f"You signed in with a recovery code; {left} left. Each works once: make new "
                "ones on the two-factor page if you run low.",
            )
            return redirect(_next(request))
        if two_factor.second_step_failed(user):
            return _paused(request)
        if check.wait_until is not None:
            form.add_error("code", "Too many wrong codes in a row: wait a little, then try again.")
        else:
            form.add_error("code", "That code didn't work. Try the app's current code.")
    context = {"form": form, "next": request.POST.get("next") or request.GET.get("next", "")}
    return _private(render(request, "accounts/two_factor_verify.html", context))


@login_required
@require_POST
def recovery_codes_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not _verified(request):
        return redirect("accounts:two_factor")
    try:
        codes = two_factor.recovery_codes_replace(user=user)
    except KeelError as error:
        messages.error(request, error.message)
        return redirect("accounts:two_factor")
    context = {"codes": codes, "next": resolve_url("accounts:two_factor"), "new": False}
    return _private(render(request, "accounts/two_factor_codes.html", context))


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_disable(request: HttpRequest) -> HttpResponse:
    """Turn it off, with a current code or the password: a borrowed session alone cannot."""
    user = _user(request)
    if two_factor.app_device(user) is None:
        return redirect("accounts:two_factor")
    required = two_factor.two_factor_required()
    form = DisableForm(_posted(request))
    if request.method == "POST" and not required:
        if two_factor.second_step_paused(user):
            return _paused(request)
        if form.is_valid():
            code = form.cleaned_data["code"].strip()
            if code:
                ok = two_factor.code_check(user=user, code=code).device is not None
            else:
                ok = two_factor.password_check(user=user, password=form.cleaned_data["password"])
            if ok:
                try:
                    two_factor.two_factor_disable(user=user)
                except KeelError as error:
                    form.add_error(None, error.message)
                else:
                    two_factor.second_step_passed(user)
                    messages.success(request, "Two-factor sign-in is off.")
                    return redirect("accounts:two_factor")
            elif two_factor.second_step_failed(user):
                return _paused(request)
            else:
                form.add_error(None, "That code or password didn't match.")
    return render(request, "accounts/two_factor_disable.html", {"form": form, "required": required})


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_requirement(request: HttpRequest) -> HttpResponse:
    """The owner's switch: require two-factor sign-in of everyone."""
    user = _user(request)
    if not two_factor.may_require_two_factor(user):
        raise PermissionDenied("Only the owner may change the sign-in rules.")
    required = two_factor.two_factor_required()
    form = RequirementForm(_posted(request), initial={"required": required})
    if request.method == "POST" and form.is_valid():
        try:
            two_factor.two_factor_require(by=user, required=form.cleaned_data["required"])
        except KeelError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                "Two-factor sign-in is now required of everyone."
                if form.cleaned_data["required"]
                else "Two-factor sign-in is now up to each person.",
            )
            return redirect("accounts:two_factor_required")
    active = User.objects.filter(is_active=True)
    context = {
        "form": form,
        "people": active.count(),
        "with_two_factor": active.filter(totpdevice__confirmed=True).distinct().count(),
    }
    return render(request, "accounts/two_factor_required.html", context)
