from datetime import date, datetime, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from keel.activities.models import Task
from keel.activities.selectors import day_start
from keel.pipeline.models import Deal


class DateInput(forms.DateInput):
    input_type = "date"


def due_on(day: date, *, keep: datetime | None = None) -> datetime:
    """`day` at the local time of day of `keep` (so a moved task keeps its hour), else its start."""
    if keep is None:
        return day_start(day)
    return timezone.make_aware(datetime.combine(day, timezone.localtime(keep).time()))


class TaskCreateForm(forms.Form):
    title = forms.CharField(label="New task", max_length=Task._meta.get_field("title").max_length)
    due = forms.DateField(label="Due", required=False, widget=DateInput)
    # Set by pages that add a task to a deal (the deal workspace); the service checks access.
    deal = forms.ModelChoiceField(
        queryset=Deal.objects.all(), required=False, widget=forms.HiddenInput
    )

    def due_at(self) -> datetime | None:
        due: date | None = self.cleaned_data["due"]
        return due_on(due) if due is not None else None


class TaskRescheduleForm(forms.Form):
    """A new due day, picked or shifted: "+1 day" counts from the later of today and the
    current due day, so a shifted overdue task lands in the future."""

    due = forms.DateField(label="New due day", required=False, widget=DateInput)
    shift = forms.TypedChoiceField(
        choices=[("1", "+1 day"), ("7", "+1 week")], coerce=int, required=False
    )

    def __init__(self, *args: Any, task: Task, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.task = task

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        shift: int | None = data.get("shift")
        if shift:
            today = timezone.localdate()
            current = timezone.localdate(self.task.due_at) if self.task.due_at else today
            data["due"] = max(today, current) + timedelta(days=shift)
        elif data.get("due") is None:
            raise forms.ValidationError("Pick the day the task is due.")
        return data

    def due_at(self) -> datetime:
        due: date = self.cleaned_data["due"]
        return due_on(due, keep=self.task.due_at)
