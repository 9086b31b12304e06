"""Personal settings: the signed-in user's API tokens and time zone.

A token's secret is shown once, on the page that answers its creation, and never again:
only its hash is stored. Each person sees and revokes only their own tokens.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST

from keel.accounts.forms import TimeZoneForm, TokenForm
from keel.accounts.models import ApiToken, User
from keel.accounts.services import token_create, token_revoke
from keel.core.exceptions import KeelError


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    return request.user


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    """Your tokens; a POST creates one and shows its secret, this once."""
    user = _user(request)
    form = TokenForm(request.POST or None)
    secret = ""
    if request.method == "POST" and form.is_valid():
        try:
            created = token_create(
                user=user, name=form.cleaned_data["name"], scope=form.cleaned_data["scope"]
            )
        except KeelError as error:
            form.add_error(None, error.message)
        else:
            secret = created.secret
            form = TokenForm()
    tokens = ApiToken.objects.filter(user=user).order_by("revoked_at", "-created_at", "-id")
    context = {"form": form, "tokens": tokens, "secret": secret}
    response = render(request, "accounts/tokens.html", context)
    add_never_cache_headers(response)  # the secret must not linger in a cache
    return response


@login_required
@require_POST
def token_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    token = get_object_or_404(ApiToken, pk=pk, user=user)  # someone else's: 404
    token_revoke(token=token, by=user)
    messages.success(request, f"Revoked {token}. Anything using it is now refused.")
    return redirect("accounts:token_list")


@login_required
@require_http_methods(["GET", "POST"])
def time_zone_edit(request: HttpRequest) -> HttpResponse:
    """Your own time zone: the days your tactics ask work of you, and when it is due."""
    user = _user(request)
    form = TimeZoneForm(request.POST or None, initial={"time_zone": user.time_zone})
    if request.method == "POST" and form.is_valid():
        user.time_zone = form.cleaned_data["time_zone"]
        user.full_clean(validate_unique=False)
        user.save(update_fields=["time_zone"])
        messages.success(request, f"Your time zone is now {user.zone}.")
        return redirect("accounts:time_zone")
    return render(request, "accounts/time_zone.html", {"form": form})
