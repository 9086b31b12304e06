"""Lead forms on the web: the public endpoint a business's website posts to, and the
marketers' pages that set a form up and hand out its HTML snippet.

The public endpoint answers every accepted-looking submission the same way (capture.py
says why); the marketers' pages are for marketers, sales managers and the owner.
"""

from urllib.parse import urlsplit

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from keel.accounts.models import User
from keel.core.exceptions import InvalidInput, KeelError
from keel.leads.access import can_manage_forms
from keel.leads.capture import (
    FORM_FIELDS,
    HONEYPOT,
    lead_form_create,
    lead_form_update,
    submission_receive,
)
from keel.leads.models import LeadForm


class LeadFormForm(forms.ModelForm[LeadForm]):
    thank_you_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        label="Thank-you URL",
        help_text=LeadForm._meta.get_field("thank_you_url").help_text,
    )

    class Meta:
        model = LeadForm
        fields = FORM_FIELDS
        widgets = {"consent_text": forms.Textarea(attrs={"rows": 3})}


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    return request.user


def _manager(request: HttpRequest) -> User:
    user = _user(request)
    if not can_manage_forms(user):
        raise PermissionDenied("Marketers, sales managers and the owner run the lead forms.")
    return user


def _public_form(token: str) -> LeadForm:
    return get_object_or_404(LeadForm, token=token, is_active=True)


# --- the public endpoint -----------------------------------------------------------------


# csrf_exempt: the form is posted from the business's own website, which has no Keel CSRF
# token. This is the only unauthenticated write in Keel; capture.py guards it (honeypot,
# rate limits, no enumeration, nothing overwritten). Every other POST keeps CSRF.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def form_submit(request: HttpRequest, token: str) -> HttpResponseBase:
    """GET: a bare page with the form, to try it; POST: take a submission."""
    form = _public_form(token)
    if request.method != "POST":
        page = render(request, "leads/form_public.html", {"form": form, **_snippet(request, form)})
        if form.thank_you_url:
            # Sent, this form goes on to the business's own thank-you page, and the Content
            # Security Policy's form-action ('self') covers that redirect too: allow its site.
            thanks = urlsplit(form.thank_you_url)
            page._csp_update = {"form-action": [f"{thanks.scheme}://{thanks.netloc}"]}  # type: ignore[attr-defined]
        return page
    try:
        submission_receive(
            form=form,
            data=request.POST,
            remote_addr=request.META.get("REMOTE_ADDR", ""),
            now=timezone.now(),
            referer=request.headers.get("referer", ""),
        )
    except InvalidInput as error:
        return render(request, "leads/form_invalid.html", {"error": error}, status=400)
    # The same answer whatever became of it: known or new, stored or dropped.
    target = form.thank_you_url or reverse("leads:form_thanks", args=[form.token])
    return HttpResponseRedirect(target, status=303)


@require_safe
def form_thanks(request: HttpRequest, token: str) -> HttpResponse:
    return render(request, "leads/form_thanks.html", {"form": _public_form(token)})


# --- the marketers' pages ----------------------------------------------------------------


def _snippet(request: HttpRequest, form: LeadForm) -> dict[str, str]:
    action = request.build_absolute_uri(reverse("leads:form_submit", args=[form.token]))
    context = {"form": form, "action": action, "honeypot": HONEYPOT}
    return {"snippet": render_to_string("leads/form_snippet.html", context).strip()}


@require_safe
@login_required
def form_list(request: HttpRequest) -> HttpResponse:
    _manager(request)
    forms_ = LeadForm.objects.select_related("created_by")[:200]
    return render(request, "leads/form_list.html", {"forms": forms_})


def _errors_to(form: LeadFormForm, error: KeelError) -> None:
    for detail in error.details or [error.message]:
        field, _, message = detail.partition(": ")
        if field in form.fields and message:
            form.add_error(field, message)
        else:
            form.add_error(None, detail)


@require_http_methods(["GET", "POST"])
@login_required
def form_new(request: HttpRequest) -> HttpResponseBase:
    user = _manager(request)
    form = LeadFormForm(request.POST or None)
    del form.fields["is_active"]  # a new form is live: that is what it is made for
    if request.method == "POST" and form.is_valid():
        try:
            created = lead_form_create(by=user, **form.cleaned_data)
        except KeelError as error:
            _errors_to(form, error)
        else:
            messages.success(request, f"{created} created: put its snippet on your website.")
            return redirect("leads:form_detail", pk=created.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "leads/form_form.html", {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def form_detail(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = _manager(request)
    lead_form = get_object_or_404(LeadForm, pk=pk)
    form = LeadFormForm(request.POST or None, instance=lead_form)
    if request.method == "POST" and form.is_valid():
        try:
            lead_form_update(form=lead_form, by=user, data=form.cleaned_data)
        except KeelError as error:
            _errors_to(form, error)
        else:
            messages.success(request, f"{lead_form} saved.")
            return redirect("leads:form_detail", pk=lead_form.pk)
    lead_form.refresh_from_db()  # the bound form set the posted values on it
    context = {"form": form, "lead_form": lead_form, **_snippet(request, lead_form)}
    status = 400 if request.method == "POST" else 200
    return render(request, "leads/form_detail.html", context, status=status)
