"""Collateral from the deal page: send a piece, revoke a share link. Both answer with a
redirect back to the deal and a message (the panel is in keel/pipeline's deal page)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_POST

from keel.accounts.models import User
from keel.collateral.models import Collateral, ShareLink, Status
from keel.collateral.sharing import (
    SHARE_DAYS_MAX,
    SHARE_DAYS_MIN,
    collateral_send,
    share_link_revoke,
)
from keel.core.exceptions import KeelError, NotAllowed
from keel.crm.models import Contact
from keel.pipeline.access import can_edit_deal, deal_visible
from keel.pipeline.models import Deal
from keel.web.http import safe_next


class SendForm(forms.Form):
    collateral = forms.IntegerField(min_value=1)
    contact = forms.IntegerField(min_value=1, required=False)
    share = forms.BooleanField(required=False)
    expires_in_days = forms.IntegerField(
        min_value=SHARE_DAYS_MIN, max_value=SHARE_DAYS_MAX, required=False
    )


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    return request.user


def _back(request: HttpRequest, deal: Deal) -> HttpResponse:
    default = reverse("pipeline:deal_detail", kwargs={"pk": deal.pk})
    return HttpResponseRedirect(safe_next(request, default))


@require_POST
@login_required
def send(request: HttpRequest, deal_pk: int) -> HttpResponse:
    user = _user(request)
    deal = deal_visible(user=user, pk=deal_pk)  # a deal out of sight is a 404
    if not can_edit_deal(user, deal):
        raise PermissionDenied(f"{user} may not change {deal.name}.")
    form = SendForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
        messages.error(request, f"Nothing was sent: {errors}")
        return _back(request, deal)
    data = form.cleaned_data
    piece = Collateral.objects.filter(pk=data["collateral"], status=Status.ACTIVE).first()
    if piece is None:
        messages.error(request, "Nothing was sent: that piece is not active in the library.")
        return _back(request, deal)
    contact = None
    if data["contact"]:
        contact = Contact.objects.filter(pk=data["contact"]).first()
        if contact is None:
            messages.error(request, "Nothing was sent: choose one of the deal's contacts.")
            return _back(request, deal)
    try:
        use = collateral_send(
            collateral=piece,
            deal=deal,
            by=user,
            contact=contact,
            share=data["share"],
            expires_in_days=data["expires_in_days"] or 30,
        )
    except NotAllowed as error:
        raise PermissionDenied(str(error)) from error
    except KeelError as error:
        messages.error(request, f"Nothing was sent: {error}")
        return _back(request, deal)
    done = f"“{piece.title}” sent" + (f" to {contact}" if contact else "") + "."
    if data["share"]:
        url = request.build_absolute_uri(reverse("share:open", args=[use.link.token]))
        done += f" The buyer's link: {url}"
    messages.success(request, done)
    return _back(request, deal)


@require_POST
@login_required
def revoke(request: HttpRequest, deal_pk: int, link_pk: int) -> HttpResponse:
    user = _user(request)
    deal = deal_visible(user=user, pk=deal_pk)
    link = get_object_or_404(ShareLink.objects.select_related("use"), pk=link_pk, use__deal=deal)
    was_revoked = link.revoked_at is not None
    try:
        share_link_revoke(link=link, by=user)
    except NotAllowed as error:
        raise PermissionDenied(str(error)) from error
    if was_revoked:
        messages.info(request, "That link was already revoked.")
    else:
        messages.success(request, "The link is revoked: the buyer can no longer open it.")
    return _back(request, deal)
