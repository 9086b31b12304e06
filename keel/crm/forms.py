"""Forms of the company and contact pages: they parse input; the services decide the rest."""

from datetime import datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from keel.accounts.models import User
from keel.crm.models import BuyingRole, Channel, Company, Contact, FunnelStage, Tier

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _people() -> QuerySet[User]:
    return User.objects.filter(is_active=True).order_by("first_name", "last_name", "username")


def version_token(obj: Company | Contact) -> str:
    """The version an edit form was opened on: the record's last change."""
    return obj.updated_at.isoformat()


class VersionField(forms.CharField):
    """The hidden version of an edit form, as the aware datetime it stands for."""

    widget = forms.HiddenInput

    def to_python(self, value: Any) -> datetime | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        try:
            version = datetime.fromisoformat(text)
        except ValueError:
            version = None
        if version is None or version.tzinfo is None:
            raise ValidationError("This form is damaged or out of date: reload the page.")
        return version


# --- lists ------------------------------------------------------------------------------


class ListFilterForm(forms.Form):
    """Filters read from the URL; one a stale link gets wrong is left out, not refused."""

    def filters(self) -> dict[str, Any]:
        self.is_valid()
        return {k: v for k, v in self.cleaned_data.items() if v not in ("", None)}


class CompanyFilterForm(ListFilterForm):
    q = forms.CharField(
        required=False,
        label="Search",
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or domain"}),
    )
    tier = forms.ChoiceField(choices=[("", "Any tier"), *Tier.choices], required=False)
    industry = forms.ChoiceField(choices=[], required=False)
    funnel_stage = forms.ChoiceField(
        choices=[("", "Any stage"), *FunnelStage.choices], required=False, label="Funnel stage"
    )
    owner = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Anyone"
    )
    no_decision_maker = forms.BooleanField(required=False, label="No known decision maker")

    def __init__(self, *args: Any, industries: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        industry = self.fields["industry"]
        industry.choices = [("", "Any industry"), *((i, i) for i in industries)]  # type: ignore[attr-defined]
        self.fields["owner"].queryset = _people()  # type: ignore[attr-defined]


class ContactFilterForm(ListFilterForm):
    q = forms.CharField(
        required=False,
        label="Search",
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name, e-mail or company"}),
    )
    buying_role = forms.ChoiceField(
        choices=[("", "Any role"), *BuyingRole.choices], required=False, label="Buying role"
    )
    funnel_stage = forms.ChoiceField(
        choices=[("", "Any stage"), *FunnelStage.choices], required=False, label="Funnel stage"
    )
    owner = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Anyone"
    )
    # Set by the "all contacts" link of a company page, kept as a hidden input.
    company = forms.ModelChoiceField(
        queryset=Company.objects.all(), required=False, widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _people()  # type: ignore[attr-defined]


# --- create and edit --------------------------------------------------------------------


# Plain forms, not model forms: a model form checks the unique constraints itself with
# a message naming the constraint; the services' refusals name the record in the way.


class CompanyForm(forms.Form):
    name = forms.CharField(max_length=200)
    domain = forms.CharField(
        max_length=200, required=False, help_text="The web address without www, e.g. acme.example."
    )
    industry = forms.CharField(max_length=100, required=False)
    employees = forms.IntegerField(min_value=0, required=False)
    region = forms.CharField(max_length=100, required=False)
    tier = forms.ChoiceField(choices=Tier.choices, initial=Tier.STANDARD)
    icp_fit = forms.IntegerField(
        min_value=0,
        max_value=100,
        required=False,
        label="ICP fit",
        help_text="Ideal-customer-profile fit score, 0–100.",
    )
    owner = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Nobody"
    )

    def __init__(self, *args: Any, icp_computed: bool = False, **kwargs: Any) -> None:
        """`icp_computed`: a profile is saved, so the fit is computed and shown, not typed."""
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _people()  # type: ignore[attr-defined]
        if icp_computed:
            fit = self.fields["icp_fit"]
            fit.disabled = True
            fit.help_text = "Computed from the ideal customer profile."

    @staticmethod
    def initial_for(company: Company) -> dict[str, Any]:
        return {
            "name": company.name,
            "domain": company.domain,
            "industry": company.industry,
            "employees": company.employees,
            "region": company.region,
            "tier": company.tier,
            "icp_fit": company.icp_fit,
            "owner": company.owner_id,
            "version": version_token(company),
        }

    def service_data(self) -> dict[str, Any]:
        left_out = {"version"} | {name for name, f in self.fields.items() if f.disabled}
        return {k: v for k, v in self.cleaned_data.items() if k not in left_out}


class CompanyEditForm(CompanyForm):
    version = VersionField()


def company_label(company: Company) -> str:
    """What the contact form's company box shows: the domain, unique, else the name."""
    return company.domain or company.name


# A text box that suggests company names as they are typed (the datalist is in base.html).
COMPANY_INPUT = forms.TextInput(
    attrs={
        "list": "company-options",
        "autocomplete": "off",
        "hx-get": "/companies/suggest/",
        "hx-trigger": "input changed delay:200ms",
        "hx-target": "#company-options",
    }
)


class ContactForm(forms.Form):
    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100)
    title = forms.CharField(max_length=150, required=False, label="Job title")
    # A text box, not a list of every company: there may be tens of thousands.
    company = forms.CharField(
        required=False,
        max_length=200,
        widget=COMPANY_INPUT,
        help_text="The company's exact name or its web domain; empty for none.",
    )
    email = forms.EmailField(required=False, label="E-mail")
    phone = forms.CharField(max_length=50, required=False)
    buying_role = forms.ChoiceField(choices=[("", "—"), *BuyingRole.choices], required=False)
    channel = forms.ChoiceField(
        choices=[("", "—"), *Channel.choices], required=False, help_text="How they found us."
    )
    owner = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Nobody"
    )
    consent = forms.BooleanField(required=False, label="Agreed to receive marketing")
    inquired_at = forms.DateTimeField(
        required=False,
        widget=DATETIME,
        label="Inquired at",
        help_text="When they first expressed interest: makes them a lead.",
    )
    qualified_at = forms.DateTimeField(
        required=False,
        widget=DATETIME,
        label="Qualified at",
        help_text="When they met the lead definition: makes them a qualified lead.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _people()  # type: ignore[attr-defined]

    @staticmethod
    def initial_for(contact: Contact) -> dict[str, Any]:
        return {
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "title": contact.title,
            "company": company_label(contact.company) if contact.company else "",
            "email": contact.email,
            "phone": contact.phone,
            "buying_role": contact.buying_role,
            "channel": contact.channel,
            "owner": contact.owner_id,
            "consent": contact.consent,
            "inquired_at": contact.inquired_at,
            "qualified_at": contact.qualified_at,
            "version": version_token(contact),
        }

    def clean_company(self) -> Company | None:
        text = self.cleaned_data["company"].strip()
        if not text:
            return None
        by_domain = Company.objects.filter(domain__iexact=text).first()
        if by_domain is not None:
            return by_domain
        found = list(Company.objects.filter(name__iexact=text)[:2])
        if not found:
            raise ValidationError(f"No company is named “{text}” or has that domain.")
        if len(found) > 1:
            raise ValidationError(
                f"More than one company is named “{text}”: type its domain instead."
            )
        return found[0]

    def service_data(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k != "version"}


class ContactEditForm(ContactForm):
    version = VersionField()
