"""The ideal customer profile on the web: its criteria, how the companies fit, and the
page that changes it.

Everyone signed in reads it; marketers, sales managers and the owner change it (icp.py
checks it again).
"""

from typing import Any

import yaml
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from keel.accounts.models import User
from keel.core.exceptions import InvalidInput, NotAllowed
from keel.crm.selectors import companies_without_decision_maker
from keel.leads.icp import (
    can_edit_icp,
    criteria_document,
    icp_distribution,
    icp_save,
    profile_read,
)

CRITERIA_HELP = (
    "One criterion per item, each with a weight from 1 to 100; a company's fit is the share "
    "of the weights of the criteria it meets, 0–100. Kinds: company (field: industry, region "
    "or tier; in: [...]), size (min, max employees)."
)
EXAMPLE = [
    {"kind": "company", "field": "industry", "in": ["Software", "Manufacturing"], "weight": 30},
    {"kind": "size", "min": 50, "max": 1000, "weight": 20},
]


class ProfileForm(forms.Form):
    criteria = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "class": "code"}),
        help_text=CRITERIA_HELP,
    )

    def clean_criteria(self) -> Any:
        try:
            return yaml.safe_load(self.cleaned_data["criteria"])
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise forms.ValidationError(f"The criteria are not valid YAML{where}.") from None


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    return request.user


def _as_yaml(document: Any) -> str:
    return str(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


@require_safe
@login_required
def icp_detail(request: HttpRequest) -> HttpResponse:
    context = {
        "criteria": profile_read(),
        "bands": icp_distribution(),
        "without_decision_maker": companies_without_decision_maker(),
        "can_edit": can_edit_icp(_user(request)),
    }
    return render(request, "leads/icp_detail.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def icp_edit(request: HttpRequest) -> HttpResponseBase:
    user = _user(request)
    if not can_edit_icp(user):
        raise PermissionDenied("Marketers, sales managers and the owner change the profile.")
    if request.method != "POST":
        saved = profile_read()
        start = criteria_document(saved) if saved else EXAMPLE
        form = ProfileForm(initial={"criteria": _as_yaml(start)})
        return render(request, "leads/icp_form.html", {"form": form})
    form = ProfileForm(request.POST)
    if form.is_valid():
        try:
            result = icp_save(by=user, criteria=form.cleaned_data["criteria"])
        except NotAllowed:
            raise PermissionDenied from None
        except InvalidInput as error:
            form.add_error("criteria", error.message)
            for detail in error.details:
                form.add_error("criteria", detail)
        else:
            messages.success(
                request,
                f"Profile saved: {result.scored:,} companies rescored, "
                f"{result.changed:,} of them to a new fit.",
            )
            return redirect("icp:detail")
    return render(request, "leads/icp_form.html", {"form": form}, status=400)
