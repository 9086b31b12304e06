"""Forms of the library pages: they parse input; the services decide what is allowed."""

from typing import Any

from django import forms

from keel.accounts.models import User
from keel.collateral.models import Collateral, Kind, Status
from keel.collateral.selectors import buyer_step_names, stage_names
from keel.collateral.services import COLLATERAL_FIELDS
from keel.planning.forms import VersionField, version_token

ROLE_HELP = "A piece becomes active only with at least one buyer step or stage it serves."


def _choices(names: list[str], kept: list[str]) -> list[tuple[str, str]]:
    """The processes' names, then any a piece already holds that they no longer have."""
    return [(n, n) for n in dict.fromkeys([*names, *kept])]


def _stages_field() -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, help_text=ROLE_HELP
    )


def _steps_field() -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Buyer steps"
    )


def roles_offer(form: forms.BaseForm, instance: Collateral | None = None) -> None:
    """Offer the active processes' current stage names and buyer steps as choices."""
    stages = form.fields["stages"]
    steps = form.fields["buyer_steps"]
    assert isinstance(stages, forms.ChoiceField)  # noqa: S101 - declared by the form
    assert isinstance(steps, forms.ChoiceField)  # noqa: S101 - declared by the form
    stages.choices = _choices(stage_names(), list(instance.stages) if instance else [])
    steps.choices = _choices(buyer_step_names(), list(instance.buyer_steps) if instance else [])


class CollateralForm(forms.ModelForm[Collateral]):
    """A piece's fields, for the keepers; editing (an instance given) carries the version
    it was opened on, so an edit of a piece someone saved since is refused."""

    stages = _stages_field()
    buyer_steps = _steps_field()
    url = forms.URLField(
        required=False,
        max_length=1000,
        assume_scheme="https",
        help_text="For a link or a hosted video.",
    )

    class Meta:
        model = Collateral
        fields = COLLATERAL_FIELDS
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner = self.fields["owner"]
        assert isinstance(owner, forms.ModelChoiceField)  # noqa: S101 - the model says so
        owner.queryset = User.objects.filter(is_active=True).order_by(
            "first_name", "last_name", "username"
        )
        editing = self.instance.pk is not None
        roles_offer(self, self.instance if editing else None)
        if editing:
            self.fields["version"] = VersionField()
            self.initial.setdefault("version", version_token(self.instance))

    def _post_clean(self) -> None:
        # The service validates and saves; the instance stays as stored until then.
        pass

    def service_data(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k != "version"}


class SubmitForm(forms.Form):
    """A tool a salesperson made: what it is, the role it plays, and the file or link."""

    stages = _stages_field()
    buyer_steps = _steps_field()
    title = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=Kind.choices)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    file = forms.FileField(required=False, help_text="PDF, Office, image, video, CSV or text.")
    url = forms.URLField(required=False, max_length=1000, assume_scheme="https", label="Or a link")

    field_order = ["title", "kind", "description", "stages", "buyer_steps", "file", "url"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        roles_offer(self)


class UploadForm(forms.Form):
    file = forms.FileField(help_text="A new version; the earlier ones are kept.")


class LibraryFilterForm(forms.Form):
    """The library's search and filters, read from the URL so a search can be shared."""

    q = forms.CharField(required=False, label="Search")
    kind = forms.ChoiceField(choices=[("", "Any kind"), *Kind.choices], required=False)
    stage = forms.ChoiceField(required=False)
    buyer_step = forms.ChoiceField(required=False, label="Buyer step")
    status = forms.ChoiceField(choices=[("", "Any status"), *Status.choices], required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stage = self.fields["stage"]
        step = self.fields["buyer_step"]
        assert isinstance(stage, forms.ChoiceField)  # noqa: S101 - declared above
        assert isinstance(step, forms.ChoiceField)  # noqa: S101 - declared above
        stage.choices = [("", "Any stage"), *((n, n) for n in stage_names())]
        step.choices = [("", "Any buyer step"), *((n, n) for n in buyer_step_names())]

    def filters(self) -> dict[str, str]:
        """The filters in force: a value that is not a choice (a stage since renamed) is
        dropped alone, the search and the other filters still apply."""
        self.is_valid()
        data = self.cleaned_data
        keys = ("q", "kind", "stage", "buyer_step", "status")
        return {key: data.get(key) or "" for key in keys}
