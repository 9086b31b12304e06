"""Forms of the deal pages: they parse input; the services decide what is allowed."""

from typing import Any

from django import forms

from keel.accounts.models import User
from keel.accounts.permissions import SELLING_ROLES
from keel.activities.models import ActivityType, Outcome
from keel.crm.forms import COMPANY_INPUT
from keel.crm.models import BuyingRole, Company, Contact
from keel.pipeline.models import Deal, LostReason, SalesProcess

DATE = forms.DateInput(attrs={"type": "date"})


def _sellers() -> Any:
    return User.objects.filter(is_active=True, role__in=SELLING_ROLES).order_by(
        "first_name", "last_name"
    )


class DealForm(forms.ModelForm[Deal]):
    """The editable fields of a deal, with the version the user saw for the stale check."""

    version = forms.IntegerField(widget=forms.HiddenInput)

    class Meta:
        model = Deal
        fields = [
            "name",
            "amount",
            "expected_close",
            "next_step",
            "owner",
            "channel",
            "source",
            "campaign",
        ]
        widgets = {"expected_close": DATE}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _sellers()  # type: ignore[attr-defined]


class DealCreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    company = forms.ModelChoiceField(
        queryset=Company.objects.all(),
        widget=forms.HiddenInput,
        required=False,
    )
    company_name = forms.CharField(
        label="Company",
        max_length=200,
        widget=COMPANY_INPUT,
        help_text="An existing company: start typing its name.",
    )
    process = forms.ModelChoiceField(
        queryset=SalesProcess.objects.filter(is_active=True).order_by("id"),
        empty_label=None,
    )
    amount = forms.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)
    expected_close = forms.DateField(required=False, widget=DATE)
    next_step = forms.CharField(max_length=300, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("company") is None and data.get("company_name"):
            name = data["company_name"].strip()
            found = list(Company.objects.filter(name__iexact=name)[:2])
            if not found:
                self.add_error(
                    "company_name",
                    f"No company is named “{name}”: pick one from the suggestions, "
                    "or add it under Companies first.",
                )
            elif len(found) > 1:
                self.add_error("company_name", f"More than one company is named “{name}”.")
            else:
                data["company"] = found[0]
        return data


class QuickLogForm(forms.Form):
    """A touch logged in seconds: only the type is required."""

    type = forms.ChoiceField(choices=ActivityType.choices, initial=ActivityType.CALL)
    outcome = forms.ChoiceField(choices=[("", "—"), *Outcome.choices], required=False)
    notes = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2, "placeholder": "What happened?"})
    )
    contact = forms.ModelChoiceField(
        queryset=Contact.objects.none(), required=False, empty_label="—"
    )

    def __init__(self, *args: Any, deal: Deal, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        contacts = Contact.objects.filter(company_id=deal.company_id).order_by("last_name")
        self.fields["contact"].queryset = contacts  # type: ignore[attr-defined]


class MoveForm(forms.Form):
    to_stage = forms.CharField(max_length=100)
    version = forms.IntegerField(min_value=1)
    lost_reason = forms.ChoiceField(choices=[("", "—"), *LostReason.choices], required=False)
    lost_note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    override_reason = forms.CharField(required=False, max_length=500)


class ContactAttachForm(forms.Form):
    contact = forms.ModelChoiceField(queryset=Contact.objects.none())
    role = forms.ChoiceField(
        choices=[("", "Their usual role"), *BuyingRole.choices], required=False
    )

    def __init__(self, *args: Any, deal: Deal, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        contacts = Contact.objects.filter(company_id=deal.company_id).order_by("last_name")
        self.fields["contact"].queryset = contacts  # type: ignore[attr-defined]


class TickForm(forms.Form):
    item = forms.CharField(max_length=200)
    untick = forms.BooleanField(required=False)
