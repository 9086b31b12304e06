"""A contact's personal data page: download everything held about them, or erase them.

Only the owner reaches these pages (crm/privacy.py says why); the export and the erasure
are POSTs, so a link or a prefetch can neither write the audit entry nor erase anyone.
"""

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from keel.accounts.models import User
from keel.core.exceptions import InvalidInput, NotAllowed
from keel.crm import privacy
from keel.crm.access import contact_visible
from keel.crm.models import Contact
from keel.web.forms import refusal_show

CONFIRM_WORD = "ERASE"


class ErasureForm(forms.Form):
    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why, and on whose request (e.g. their e-mail of 3 March). "
        "Kept in the audit trail; their name or address is taken out of it.",
    )
    confirm = forms.CharField(
        max_length=20,
        label="Type ERASE to confirm",
        help_text="Or the contact's number. The erasure cannot be undone.",
    )

    def __init__(self, *args: Any, contact: Contact, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.contact = contact

    def clean_confirm(self) -> str:
        typed: str = self.cleaned_data["confirm"].strip()
        if typed not in {CONFIRM_WORD, str(self.contact.pk)}:
            raise forms.ValidationError(
                f"Type {CONFIRM_WORD} (in capitals) or {self.contact.pk} to erase this contact."
            )
        return typed


def _owner(request: HttpRequest) -> User:
    """The signed-in user, if they may export and erase personal data; else 403."""
    user = request.user
    assert isinstance(user, User)  # noqa: S101 - login_required guarantees it
    if not privacy.can_manage_personal_data(user):
        raise PermissionDenied
    return user


def _page(
    request: HttpRequest, contact: Contact, form: ErasureForm, *, status: int = 200
) -> HttpResponse:
    context = {
        "contact": contact,
        "form": form,
        "confirm_word": CONFIRM_WORD,
        "blocked": contact.erased_identities.order_by("kind").values_list("kind", flat=True),
    }
    return render(request, "crm/privacy_contact.html", context, status=status)


@require_safe
@login_required
def contact_personal_data(request: HttpRequest, pk: int) -> HttpResponse:
    contact = contact_visible(user=_owner(request), pk=pk)
    return _page(request, contact, ErasureForm(contact=contact))


@require_POST
@login_required
def contact_personal_data_export(request: HttpRequest, pk: int) -> HttpResponse:
    user = _owner(request)
    contact = contact_visible(user=user, pk=pk)
    try:
        data = privacy.contact_export(contact=contact, by=user)
    except NotAllowed:
        raise PermissionDenied from None
    response = HttpResponse(
        privacy.export_json(data), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="contact-{contact.pk}.json"'
    response["Cache-Control"] = "no-store"  # a person's data stays out of shared caches
    return response


@require_POST
@login_required
def contact_erase(request: HttpRequest, pk: int) -> HttpResponse:
    user = _owner(request)
    contact = contact_visible(user=user, pk=pk)
    form = ErasureForm(request.POST, contact=contact)
    if form.is_valid():
        try:
            erasure = privacy.contact_erase(
                contact=contact, by=user, reason=form.cleaned_data["reason"]
            )
        except NotAllowed:
            raise PermissionDenied from None
        except InvalidInput as error:
            refusal_show(form, error)
        else:
            note = f"{erasure.contact} was erased."
            if erasure.rewritten:
                note += f" {erasure.rewritten} other records naming them were rewritten."
            messages.success(request, note)
            if erasure.kept:
                messages.warning(
                    request,
                    f"{len(erasure.kept)} stage-change notes still name them: the stage "
                    "history is append-only and was kept as it is.",
                )
            return redirect("crm:contact_detail", pk=contact.pk)
    return _page(request, contact, form, status=400)


@require_POST
@login_required
def contact_erased_allow(request: HttpRequest, pk: int) -> HttpResponse:
    """Lift the block on an erased contact's address and id: they came back themselves."""
    user = _owner(request)
    contact = contact_visible(user=user, pk=pk)
    if privacy.erased_allow(contact=contact, by=user):
        messages.success(
            request,
            f"The address and id of erased contact #{contact.pk} may be added again.",
        )
    return redirect("crm:contact_personal_data", pk=contact.pk)
