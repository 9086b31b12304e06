from typing import Any

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest, QueryDict

from keel.accounts.models import Team, User
from keel.accounts.permissions import SELLING_ROLES
from keel.activities.models import ActivityType, Outcome
from keel.core.exceptions import InvalidInput, StaleVersion
from keel.crm.models import Channel
from keel.pipeline.models import Deal, SalesProcess

DATE = forms.DateInput(attrs={"type": "date"})


def stale_show(form: forms.BaseForm, error: StaleVersion) -> None:
    """Say on the form that someone saved the record since it was opened."""
    form.add_error(
        None,
        f"{error.message} Your input is kept below: check it and save again to replace "
        "their values.",
    )


def stale_data(request: HttpRequest, version: str) -> QueryDict:
    """The user's input again, on the version now stored: saving it again is a choice."""
    data = request.POST.copy()
    data["version"] = version
    return data


def refusal_show(
    form: forms.BaseForm, error: InvalidInput, aliases: dict[str, str] | None = None
) -> None:
    """Put a service's refusal on the form: "field: message" details next to their field
    (a service's name for a field mapped through `aliases`), the rest above the form."""
    form.add_error(None, error.message)
    for detail in error.details:
        field, _, message = detail.partition(": ")
        field = (aliases or {}).get(field, field)
        if message and field in form.fields:
            form.add_error(field, message)
        else:
            form.add_error(None, detail)


class BoardFilterForm(forms.Form):
    """The board's filters, read from the URL so a filtered board can be shared."""

    process = forms.ModelChoiceField(
        queryset=SalesProcess.objects.filter(is_active=True).order_by("id"), required=False
    )
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False, label="Owner")
    team = forms.ModelChoiceField(queryset=Team.objects.order_by("name"), required=False)
    channel = forms.ChoiceField(choices=[("", "Any channel"), *Channel.choices], required=False)
    close_from = forms.DateField(required=False, widget=DATE, label="Closing from")
    close_to = forms.DateField(required=False, widget=DATE, label="to")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        sellers = User.objects.filter(is_active=True, role__in=SELLING_ROLES)
        self.fields["owner"].queryset = sellers.order_by("first_name")  # type: ignore[attr-defined]
        self.fields["owner"].empty_label = "Anyone"  # type: ignore[attr-defined]
        self.fields["team"].empty_label = "Any team"  # type: ignore[attr-defined]

    def filter(self, deals: QuerySet[Deal]) -> QuerySet[Deal]:
        data = self.cleaned_data if self.is_valid() else {}
        if data.get("owner"):
            deals = deals.filter(owner=data["owner"])
        if data.get("team"):
            deals = deals.filter(owner__team=data["team"])
        if data.get("channel"):
            deals = deals.filter(channel=data["channel"])
        if data.get("close_from"):
            deals = deals.filter(expected_close__gte=data["close_from"])
        if data.get("close_to"):
            deals = deals.filter(expected_close__lte=data["close_to"])
        return deals


class DayLogForm(forms.Form):
    """My day's quick log: which of my deals, what kind of touch, how it went."""

    deal = forms.ModelChoiceField(queryset=Deal.objects.none(), empty_label="Which deal?")
    type = forms.ChoiceField(choices=ActivityType.choices, initial=ActivityType.CALL)
    outcome = forms.ChoiceField(choices=[("", "—"), *Outcome.choices], required=False)
    notes = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2, "placeholder": "What happened?"})
    )

    OFFERED = 100  # deals listed; any of the user's open deals is accepted

    def __init__(self, *args: Any, deals: QuerySet[Deal], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["deal"]
        field.queryset = deals  # type: ignore[attr-defined]
        field.widget.choices = [
            ("", "Which deal?"),
            *((d.pk, f"{d.company.name}: {d.name}") for d in deals[: self.OFFERED]),
        ]
