"""The lead definition on the web: its versions, a draft's rules and preview, both sides'
approvals, publishing.

Everyone signed in reads them (sales and marketing measure themselves against the same
definition); marketers, sales managers and the owner draft, approve and publish
(definitions.py checks it again).
"""

from datetime import datetime
from typing import Any

import yaml
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from keel.accounts.models import Role, User
from keel.core.exceptions import KeelError
from keel.crm.models import Contact
from keel.leads.definition_rules import Rule, parse_rules
from keel.leads.definitions import (
    DEFINING_ROLES,
    active_definition,
    definition_approve,
    definition_draft,
    definition_preview,
    definition_publish,
    definition_update,
)
from keel.leads.models import ApprovalSide, DefinitionStatus, LeadDefinition

RULES_HELP = (
    "One rule per item; a contact qualifies when every rule holds. Kinds: company (field: "
    "industry, region or tier; in: [...]), size (min, max employees), icp (min 0–100), "
    "authority (roles: decision_maker, influencer, champion, user, blocker), seniority "
    "(words in the title), engagement (events: visit, download, inquiry, form_fill; "
    "at_least; days), inquiry (days, optional), meeting (days)."
)
EXAMPLE = [
    {"kind": "authority", "roles": ["decision_maker", "champion"]},
    {"kind": "engagement", "events": ["download", "inquiry"], "at_least": 1, "days": 90},
]


class DefinitionForm(forms.Form):
    rules = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "class": "code"}),
        help_text=RULES_HELP,
    )
    notes = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What this version changes, and why.",
    )
    version = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean_rules(self) -> Any:
        try:
            return yaml.safe_load(self.cleaned_data["rules"])
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise forms.ValidationError(f"The rules are not valid YAML{where}.") from None


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    return request.user


def may_define(user: User) -> bool:
    return user.is_active and (user.is_superuser or user.role in DEFINING_ROLES)


def _ensure_may_define(user: User) -> None:
    if not may_define(user):
        raise PermissionDenied("Marketers, sales managers and the owner write lead definitions.")


def _as_yaml(rules: Any) -> str:
    return str(yaml.safe_dump(rules, sort_keys=False, allow_unicode=True))


def _rules(definition: LeadDefinition) -> list[Rule]:
    return parse_rules(definition.rules)


@require_safe
@login_required
def definition_list(request: HttpRequest) -> HttpResponse:
    definitions = LeadDefinition.objects.select_related("created_by").annotate(
        judged=Count("qualifications"),
        qualified=Count("qualifications", filter=Q(qualifications__qualified=True)),
    )
    active = active_definition()
    context = {
        "definitions": list(definitions.prefetch_related("approvals__by")),
        "active": active,
        "active_rules": _rules(active) if active else [],
        "qualified_now": Contact.objects.filter(qualified_at__isnull=False).count(),
        "may_define": may_define(_user(request)),
    }
    return render(request, "leads/definition_list.html", context)


def _form_page(
    request: HttpRequest, form: DefinitionForm, definition: LeadDefinition | None, status: int
) -> HttpResponse:
    context = {"form": form, "definition": definition}
    return render(request, "leads/definition_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def definition_new(request: HttpRequest) -> HttpResponseBase:
    user = _user(request)
    _ensure_may_define(user)
    if request.method != "POST":
        active = active_definition()
        start = active.rules if active else EXAMPLE
        return _form_page(request, DefinitionForm(initial={"rules": _as_yaml(start)}), None, 200)
    form = DefinitionForm(request.POST)
    if form.is_valid():
        try:
            draft = definition_draft(
                by=user, rules=form.cleaned_data["rules"], notes=form.cleaned_data["notes"]
            )
        except KeelError as error:
            form.add_error("rules", error.message)
            for detail in error.details:
                form.add_error("rules", detail)
        else:
            messages.success(request, f"Draft v{draft.version} saved: check its preview.")
            return redirect("lead_definitions:detail", version=draft.version)
    return _form_page(request, form, None, 400)


@require_safe
@login_required
def definition_detail(request: HttpRequest, version: int) -> HttpResponse:
    definition = get_object_or_404(LeadDefinition, version=version)
    user = _user(request)
    draft = definition.status == DefinitionStatus.DRAFT
    approvals = {a.side: a for a in definition.approvals.select_related("by")}
    context = {
        "definition": definition,
        "rules": _rules(definition),
        "approvals": [(side, approvals.get(side.value)) for side in ApprovalSide],
        "may_define": may_define(user),
        "owner": user.is_superuser or user.role == Role.OWNER,
        "preview": definition_preview(draft=definition) if draft else None,
        "ready": draft and len(approvals) == len(ApprovalSide),
        "form": DefinitionForm(
            initial={
                "rules": _as_yaml(definition.rules),
                "notes": definition.notes,
                "version": definition.updated_at.isoformat(),
            }
        ),
    }
    return render(request, "leads/definition_detail.html", context)


def _draft_of(request: HttpRequest, version: int) -> tuple[User, LeadDefinition]:
    user = _user(request)
    _ensure_may_define(user)
    return user, get_object_or_404(LeadDefinition, version=version)


@require_POST
@login_required
def definition_edit(request: HttpRequest, version: int) -> HttpResponseBase:
    user, definition = _draft_of(request, version)
    form = DefinitionForm(request.POST)
    if form.is_valid():
        seen = form.cleaned_data["version"]
        try:
            expected = datetime.fromisoformat(seen) if seen else definition.updated_at
            definition_update(
                definition=definition, by=user, expected_updated_at=expected,
                rules=form.cleaned_data["rules"], notes=form.cleaned_data["notes"],
            )  # fmt: skip
        except KeelError as error:
            form.add_error("rules", error.message)
            for detail in error.details:
                form.add_error("rules", detail)
        else:
            messages.success(request, f"Draft v{version} changed; approvals must be given again.")
            return redirect("lead_definitions:detail", version=version)
    return _form_page(request, form, definition, 400)


@require_POST
@login_required
def definition_approve_view(request: HttpRequest, version: int) -> HttpResponseBase:
    user, definition = _draft_of(request, version)
    try:
        approval = definition_approve(
            definition=definition, by=user, side=request.POST.get("side", "")
        )
    except KeelError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Approved v{version} for {approval.get_side_display()}.")
    return redirect("lead_definitions:detail", version=version)


@require_POST
@login_required
def definition_publish_view(request: HttpRequest, version: int) -> HttpResponseBase:
    user, definition = _draft_of(request, version)
    try:
        result = definition_publish(definition=definition, by=user)
    except KeelError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            f"v{version} is live: {result.judged:,} contacts judged, {result.gained:,} newly "
            f"qualified, {result.lost:,} no longer qualified.",
        )
    return redirect("lead_definitions:detail", version=version)
