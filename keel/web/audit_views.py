"""The audit trail (/audit/): who changed what and when, for records and configuration
(processes, lead definitions, plans, routing, people), filtered and exported.

Only the owner reads it: it spans every team, every person's work and the configuration.
"""

import re
from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from keel.accounts.models import Role, User
from keel.core.export import Cell, export_format, export_response
from keel.core.models import AuditEntry
from keel.web.lists import listing, sorted_rows

SORTS = {"at": ("at",)}
COLUMNS = ("at", "actor", "action", "record type", "record id", "summary", "changes")
DATE = forms.DateInput(attrs={"type": "date"})


def _owner(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 - login_required guarantees it
    if not (user.is_active and (user.is_superuser or user.role == Role.OWNER)):
        raise PermissionDenied("Only the owner reads the audit trail.")
    return user


class AuditFilterForm(forms.Form):
    actor = forms.ModelChoiceField(queryset=User.objects.none(), required=False, label="Who")
    action = forms.CharField(
        required=False, max_length=60, help_text="An action or its start, e.g. lead_definition."
    )
    record = forms.ModelChoiceField(
        queryset=ContentType.objects.none(), required=False, label="Record type"
    )
    since = forms.DateField(required=False, widget=DATE, label="From")
    until = forms.DateField(required=False, widget=DATE, label="To")
    q = forms.CharField(required=False, max_length=100, label="Summary holds")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["actor"].queryset = User.objects.order_by(  # type: ignore[attr-defined]
            "first_name", "last_name", "username"
        )
        kinds = AuditEntry.objects.values("content_type").distinct()
        self.fields["record"].queryset = ContentType.objects.filter(  # type: ignore[attr-defined]
            pk__in=kinds
        ).order_by("app_label", "model")

    def entries(self) -> QuerySet[AuditEntry]:
        """The entries these filters keep; a filter that does not parse is ignored."""
        rows = AuditEntry.objects.select_related("actor", "content_type")
        if not self.is_valid():
            return rows
        data = self.cleaned_data
        zone = timezone.get_current_timezone()
        if data["actor"] is not None:
            rows = rows.filter(actor=data["actor"])
        if data["action"]:
            rows = rows.filter(action__startswith=data["action"].strip())
        if data["record"] is not None:
            rows = rows.filter(content_type=data["record"])
        if data["since"] is not None:
            rows = rows.filter(at__gte=datetime.combine(data["since"], time(), zone))
        if data["until"] is not None:
            end = datetime.combine(data["until"] + timedelta(days=1), time(), zone)
            rows = rows.filter(at__lt=end)
        if data["q"]:
            rows = rows.filter(summary__icontains=data["q"].strip())
        return rows


@require_safe
@login_required
def audit_trail(request: HttpRequest) -> HttpResponse:
    _owner(request)
    filters = AuditFilterForm(request.GET or None)
    page = listing(request=request, queryset=filters.entries(), sorts=SORTS, default="-at")
    rows = [(entry, change_lines(entry.changes)) for entry in page.page.object_list]
    return render(request, "web/audit.html", {"listing": page, "filters": filters, "rows": rows})


def change_lines(changes: dict[str, Any]) -> list[str]:
    """An entry's changes in words: "stage: Proof → Proposal" for a [before, after] pair,
    "field: value" for anything else; a pair that is empty on both sides is left out."""
    lines = []
    for field, value in changes.items():
        if isinstance(value, list) and len(value) == 2:
            before, after = (_shown(side) for side in value)
            if before != after:
                lines.append(f"{field}: {before} → {after}")
        else:
            lines.append(f"{field}: {_shown(value)}")
    return lines


_DECIMAL = re.compile(r"-?\d+\.\d+")


def _shown(value: Any) -> str:
    """A stored value as a person reads it: "—" for nothing, 2176 for "2176.0000"."""
    if value is None or value == "" or value == []:
        return "—"
    text = str(value)
    if _DECIMAL.fullmatch(text):
        text = text.rstrip("0").rstrip(".")
    return text


def _row(entry: AuditEntry) -> list[Cell]:
    return [
        entry.at,
        str(entry.actor) if entry.actor else "",
        entry.action,
        f"{entry.content_type.app_label}.{entry.content_type.model}",
        entry.object_id,
        entry.summary,
        "; ".join(change_lines(entry.changes)),
    ]


@require_safe
@login_required
def audit_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """The entries the page's filters keep, newest first, as CSV or XLSX."""
    _owner(request)
    file_format = export_format(fmt)
    if file_format is None:
        raise Http404
    entries = AuditFilterForm(request.GET or None).entries()
    rows = sorted_rows(queryset=entries, query=request.GET, sorts=SORTS, default="-at")
    return export_response(
        fmt=file_format, name="audit", headers=COLUMNS, rows=(_row(e) for e in rows)
    )
