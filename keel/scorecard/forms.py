"""Forms of the metric pages: they parse input; the services decide what is allowed.

Plain forms, not model forms: the services validate the model and name the problem.
"""

import calendar
import re
from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from keel.accounts.models import Team, User
from keel.scorecard.access import can_view_scope
from keel.scorecard.models import CaptureMethod, Goal, Metric, MetricStage, Phasing, Unit


def plain(value: Decimal) -> str:
    """A stored figure (4 decimal places) as a person writes it: 120.5, not 120.5000."""
    return f"{value.normalize():f}" if value.is_finite() else str(value)


def _people() -> QuerySet[User]:
    return User.objects.filter(is_active=True).order_by("first_name", "last_name", "username")


class MetricForm(forms.Form):
    key = forms.SlugField(
        max_length=60,
        help_text="Letters, digits, - and _, e.g. ad_spend. It names the metric in the API "
        "and does not change once saved.",
    )
    name = forms.CharField(max_length=100)
    stage = forms.ChoiceField(choices=MetricStage.choices, label="Funnel stage")
    unit = forms.ChoiceField(choices=Unit.choices, initial=Unit.COUNT)
    owner = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        empty_label="Nobody",
        help_text="Who answers for this figure, and may enter it by hand.",
    )
    capture_method = forms.ChoiceField(
        choices=CaptureMethod.choices,
        initial=CaptureMethod.MANUAL,
        help_text="Computed only for the metrics Keel knows how to count.",
    )
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Exactly what is counted.",
    )
    position = forms.IntegerField(
        min_value=0, max_value=32767, initial=0, help_text="Order within its stage."
    )
    is_active = forms.BooleanField(
        label="Active",
        required=False,
        initial=True,
        help_text="Inactive metrics leave the scorecard.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _people()  # type: ignore[attr-defined]

    @staticmethod
    def initial_for(metric: Metric) -> dict[str, Any]:
        return {
            "key": metric.key,
            "name": metric.name,
            "stage": metric.stage,
            "unit": metric.unit,
            "owner": metric.owner_id,
            "capture_method": metric.capture_method,
            "description": metric.description,
            "position": metric.position,
            "is_active": metric.is_active,
        }


class MetricEditForm(MetricForm):
    """The key is shown on the page, not edited: the systems that push values name it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["key"]


MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")


class MonthField(forms.CharField):
    """A calendar month typed as YYYY-MM (the browser's month picker), as its first day."""

    widget = forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"})

    def to_python(self, value: Any) -> date | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        match = MONTH_PATTERN.match(text)
        try:
            if match is None:
                raise ValueError
            return date(int(match[1]), int(match[2]), 1)
        except ValueError:
            raise ValidationError(f"{text!r} is not a month: write it as YYYY-MM.") from None


class ValueForm(forms.Form):
    month = MonthField(help_text="This month or an earlier one.")
    value = forms.DecimalField()
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), required=False, empty_label="—", label="For a team"
    )
    person = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        empty_label="—",
        label="Or for a person",
        help_text="Leave both empty for the company-wide figure.",
    )
    note = forms.CharField(max_length=300, required=False, help_text="Where the figure comes from.")

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["month"].widget.attrs["max"] = f"{timezone.localdate():%Y-%m}"
        # Only the scopes whose figures `user` may read: a figure they could not see again
        # is not theirs to enter (the service checks the same).
        teams = [t.pk for t in Team.objects.all() if can_view_scope(user, team=t)]
        people = [p.pk for p in _people().only("pk", "team_id") if can_view_scope(user, person=p)]
        self.fields["team"].queryset = Team.objects.filter(pk__in=teams)  # type: ignore[attr-defined]
        self.fields["person"].queryset = _people().filter(pk__in=people)  # type: ignore[attr-defined]


MONTH_NAMES = calendar.month_abbr[1:]


class GoalForm(forms.Form):
    year = forms.IntegerField(min_value=2000, max_value=2200)
    target = forms.DecimalField(help_text="The figure for the whole year.")
    phasing = forms.ChoiceField(
        choices=Phasing.choices,
        initial=Phasing.EVEN,
        help_text="Seasonal: each month's share of the year follows the weights below.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for number, name in enumerate(MONTH_NAMES, start=1):
            self.fields[f"weight_{number}"] = forms.DecimalField(
                label=name, required=False, min_value=0
            )

    def weight_fields(self) -> list[forms.BoundField]:
        return [self[f"weight_{number}"] for number in range(1, 13)]

    def weight_rows(self) -> list[list[forms.BoundField]]:
        """January to June, July to December: two rows of six inputs."""
        fields = self.weight_fields()
        return [fields[:6], fields[6:]]

    def main_fields(self) -> list[forms.BoundField]:
        return [self["year"], self["target"], self["phasing"]]

    def weights(self) -> list[object]:
        """The seasonal weights typed (an empty month is missing, for the service to name);
        none for an even phasing, whatever was typed."""
        if self.cleaned_data["phasing"] != Phasing.SEASONAL:
            return []
        typed: list[Decimal | None] = [
            self.cleaned_data.get(f"weight_{number}") for number in range(1, 13)
        ]
        return [w for w in typed if w is not None]

    @staticmethod
    def initial_for(goal: Goal | None, *, year: int) -> dict[str, Any]:
        if goal is None:
            return {"year": year, "phasing": Phasing.EVEN}
        initial: dict[str, Any] = {
            "year": goal.year,
            "target": plain(Decimal(goal.target)),
            "phasing": goal.phasing,
        }
        for number, weight in enumerate(goal.weights or [], start=1):
            initial[f"weight_{number}"] = weight
        return initial
