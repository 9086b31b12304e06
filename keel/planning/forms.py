"""Forms of the planning pages: they parse input; the services decide what is allowed.

Plain forms, not model forms: the services validate the model and name the problem. An
edit form carries the version it was opened on (`version`, the record's updated_at), so
an edit of a record someone changed since is refused, not silently overwritten.
"""

from datetime import datetime
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from keel.accounts.models import Role, Team, User
from keel.activities.models import ActivityType
from keel.core.models import TimeStamped
from keel.pipeline.models import Stage
from keel.planning.access import can_edit_plan, is_owner
from keel.planning.models import (
    Goal,
    GoalQuery,
    Measure,
    RecordKind,
    Shape,
    Strategy,
    Tactic,
    TacticalPlan,
    Trigger,
)
from keel.scorecard.forms import plain
from keel.scorecard.models import Metric

# The fields of each shape; the form of a tactic shows those of its shape only.
SHAPE_FIELDS: dict[str, tuple[str, ...]] = {
    Shape.RECURRING: ("schedule",),
    Shape.TRIGGERED: ("trigger", "trigger_stage", "deadline_days"),
    Shape.TARGET: ("target_count", "due_on"),
}
ALL_SHAPE_FIELDS = {name for names in SHAPE_FIELDS.values() for name in names}


def version_token(obj: TimeStamped) -> str:
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


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d")


def _people() -> QuerySet[User]:
    return User.objects.filter(is_active=True).order_by("first_name", "last_name", "username")


class EditableForm(forms.Form):
    """A form that edits a stored record when given `version`, and creates one without."""

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["version"] = VersionField()

    def service_data(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k != "version"}


class GoalForm(EditableForm):
    name = forms.CharField(max_length=200)
    target = forms.DecimalField(
        max_digits=18, decimal_places=2, min_value=0, help_text="The number to reach, above 0."
    )
    unit = forms.CharField(max_length=40, help_text="What is counted: new clients, EUR, …")
    starts_on = forms.DateField(widget=DateInput())
    ends_on = forms.DateField(widget=DateInput())
    metric = forms.ModelChoiceField(
        queryset=Metric.objects.none(),
        required=False,
        empty_label="None",
        help_text="The scorecard metric that measures its progress, if one does.",
    )
    query = forms.ChoiceField(
        choices=[("", "None"), *GoalQuery.choices],
        required=False,
        label="Or counted by",
        help_text="What counts its progress when no metric measures it.",
    )
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False, empty_label="—")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["metric"].queryset = Metric.objects.order_by("name")  # type: ignore[attr-defined]
        self.fields["owner"].queryset = _people()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("metric") and data.get("query"):
            self.add_error("query", "A goal is measured by a metric or a query, not both.")
        return data

    @staticmethod
    def initial_for(goal: Goal) -> dict[str, Any]:
        return {
            "name": goal.name,
            "target": plain(goal.target),
            "unit": goal.unit,
            "starts_on": goal.starts_on,
            "ends_on": goal.ends_on,
            "metric": goal.metric_id,
            "query": goal.query,
            "owner": goal.owner_id,
            "description": goal.description,
            "version": version_token(goal),
        }


class StrategyForm(EditableForm):
    name = forms.CharField(max_length=200)
    goals = forms.ModelMultipleChoiceField(
        queryset=Goal.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="The goals it serves: at least one.",
    )
    starts_on = forms.DateField(widget=DateInput())
    ends_on = forms.DateField(widget=DateInput())
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False, empty_label="—")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["goals"].queryset = Goal.objects.order_by("ends_on", "name")  # type: ignore[attr-defined]
        self.fields["owner"].queryset = _people()  # type: ignore[attr-defined]

    @staticmethod
    def initial_for(strategy: Strategy) -> dict[str, Any]:
        return {
            "name": strategy.name,
            "goals": [g.pk for g in strategy.goals.all()],
            "starts_on": strategy.starts_on,
            "ends_on": strategy.ends_on,
            "owner": strategy.owner_id,
            "description": strategy.description,
            "version": version_token(strategy),
        }


def plan_teams(user: User) -> QuerySet[Team]:
    """The teams whose plans `user` may keep: every team for the owner, a manager's own."""
    teams = [t.pk for t in Team.objects.all() if can_edit_plan(user, TacticalPlan(team=t))]
    return Team.objects.filter(pk__in=teams).order_by("name")


class PlanForm(EditableForm):
    name = forms.CharField(max_length=200)
    strategy = forms.ModelChoiceField(queryset=Strategy.objects.none(), empty_label=None)
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(),
        required=False,
        help_text="Its manager keeps the plan with the owner.",
    )
    starts_on = forms.DateField(widget=DateInput())
    ends_on = forms.DateField(widget=DateInput(), help_text="Six to eighteen months later.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    is_active = forms.BooleanField(
        label="Active", required=False, initial=True, help_text="An inactive plan asks for no work."
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["strategy"].queryset = Strategy.objects.order_by("ends_on", "name")  # type: ignore[attr-defined]
        team = self.fields["team"]
        team.queryset = plan_teams(user)  # type: ignore[attr-defined]
        if is_owner(user):
            team.empty_label = "No team: the owner keeps it"  # type: ignore[attr-defined]
        else:
            team.required = False  # the service names the refusal of a plan of no team
            team.empty_label = None  # type: ignore[attr-defined]

    @staticmethod
    def initial_for(plan: TacticalPlan) -> dict[str, Any]:
        return {
            "name": plan.name,
            "strategy": plan.strategy_id,
            "team": plan.team_id,
            "starts_on": plan.starts_on,
            "ends_on": plan.ends_on,
            "description": plan.description,
            "is_active": plan.is_active,
            "version": version_token(plan),
        }


def _assignees(plan: TacticalPlan | None) -> list[tuple[str, Any]]:
    """Roles and people a tactic of `plan` may ask: a team's plan, its team's."""
    where = "" if plan is None or plan.team is None else f" in team {plan.team}"
    roles = [
        (f"role:{value}", f"Everyone who is a {label.lower()}{where}")
        for value, label in Role.choices
    ]
    members = _people()
    if plan is not None and plan.team_id is not None:
        members = members.filter(team_id=plan.team_id)
    people = [(f"person:{u.pk}", u.get_full_name() or u.username) for u in members]
    return [("", "—"), ("Roles", roles), ("People", people)]


def _stages() -> list[tuple[str, str]]:
    names = Stage.objects.order_by("name").values_list("name", flat=True).distinct()
    return [("", "—"), *((n, n) for n in names)]


class TacticForm(EditableForm):
    """One tactic of one shape: the fields of the other shapes are not on the form, and
    reach the service empty."""

    name = forms.CharField(max_length=200)
    shape = forms.ChoiceField(choices=Shape.choices, widget=forms.HiddenInput)
    assignee = forms.ChoiceField(
        label="Assigned to",
        help_text="A role (everyone holding it) or one person.",
    )
    schedule = forms.CharField(
        max_length=300,
        required=False,
        help_text="An RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR for each weekday.",
    )
    trigger = forms.ChoiceField(choices=[("", "—"), *Trigger.choices], required=False)
    trigger_stage = forms.ChoiceField(
        label="Stage", required=False, help_text="Only when a deal entering a stage triggers it."
    )
    deadline_days = forms.IntegerField(
        label="Deadline (days)",
        min_value=0,
        max_value=365,
        required=False,
        help_text="Days after the event by which it is due.",
    )
    target_count = forms.IntegerField(
        label="Count", min_value=1, required=False, help_text="How many, by the due date."
    )
    due_on = forms.DateField(widget=DateInput(), required=False, help_text="Within the plan.")
    minutes = forms.IntegerField(
        min_value=1, max_value=24 * 60, required=False, help_text="The time it asks for."
    )
    measure = forms.ChoiceField(
        choices=Measure.choices, initial=Measure.TASK_COMPLETED, label="Done when"
    )
    activity_type = forms.ChoiceField(
        choices=[("", "—"), *ActivityType.choices],
        required=False,
        help_text="Only when done means an activity is logged.",
    )
    record_kind = forms.ChoiceField(
        choices=[("", "—"), *RecordKind.choices],
        required=False,
        help_text="Only when done means a record is created.",
    )
    task_title = forms.CharField(max_length=200, required=False, help_text="Default: the name.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    position = forms.IntegerField(
        min_value=0, max_value=32767, required=False, help_text="Order within the plan."
    )
    is_active = forms.BooleanField(label="Active", required=False, initial=True)

    ALIASES: ClassVar[dict[str, str]] = {"role": "assignee", "person": "assignee"}

    def __init__(
        self, *args: Any, shape: str, plan: TacticalPlan | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.chosen_shape = shape
        self.fields["assignee"].choices = _assignees(plan)  # type: ignore[attr-defined]
        self.fields["trigger_stage"].choices = _stages()  # type: ignore[attr-defined]
        for name in ALL_SHAPE_FIELDS - set(SHAPE_FIELDS.get(shape, ())):
            del self.fields[name]

    def clean_shape(self) -> str:
        if self.cleaned_data["shape"] != self.chosen_shape:
            raise ValidationError("This form is damaged or out of date: reload the page.")
        return self.chosen_shape

    def service_data(self) -> dict[str, Any]:
        data = super().service_data()
        kind, _, value = data.pop("assignee").partition(":")
        data["role"] = value if kind == "role" else ""
        data["person"] = User.objects.filter(pk=value).first() if kind == "person" else None
        for name in ALL_SHAPE_FIELDS:  # the other shapes' fields, emptied
            data.setdefault(
                name, None if name in ("deadline_days", "target_count", "due_on") else ""
            )
        if data.get("position") is None:
            data.pop("position", None)
        return data

    @staticmethod
    def initial_for(tactic: Tactic) -> dict[str, Any]:
        initial = {
            name: getattr(tactic, name)
            for name in (
                "name",
                "shape",
                "schedule",
                "trigger",
                "trigger_stage",
                "deadline_days",
                "target_count",
                "due_on",
                "minutes",
                "measure",
                "activity_type",
                "record_kind",
                "task_title",
                "description",
                "position",
                "is_active",
            )
        }
        initial["assignee"] = f"role:{tactic.role}" if tactic.role else f"person:{tactic.person_id}"
        initial["version"] = version_token(tactic)
        return initial


def shape_of(value: str | None, default: str = "") -> str:
    return value if value in Shape.values else default
