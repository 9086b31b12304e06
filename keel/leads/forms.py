"""Forms of the leads pages: they parse input; the services decide what is allowed."""

from typing import Any

from django import forms

from keel.accounts.models import User
from keel.leads.campaigns import CAMPAIGN_FIELDS
from keel.leads.models import Campaign
from keel.planning.forms import DateInput, VersionField, version_token


class CampaignForm(forms.ModelForm[Campaign]):
    """A campaign's fields; editing (an instance given), with the version it was opened on,
    so an edit of a campaign someone saved since is refused rather than overwriting theirs."""

    class Meta:
        model = Campaign
        fields = CAMPAIGN_FIELDS
        widgets = {
            "starts_on": DateInput(),
            "ends_on": DateInput(),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner = self.fields["owner"]
        assert isinstance(owner, forms.ModelChoiceField)  # noqa: S101 - the model says so
        owner.queryset = User.objects.filter(is_active=True).order_by(
            "first_name", "last_name", "username"
        )
        if self.instance.pk is not None:
            self.fields["version"] = VersionField()
            self.initial.setdefault("version", version_token(self.instance))

    def _post_clean(self) -> None:
        # The service validates the model (with messages that say what to do) and saves;
        # the form only parses, so the instance being edited stays as stored until then.
        pass

    def service_data(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k != "version"}
