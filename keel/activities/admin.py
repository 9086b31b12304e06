from django.contrib import admin

from keel.activities.models import Activity, CompletionPlan, CompletionPlanStep, Task
from keel.core.admin import ReadOnlyAdmin, ReadOnlyInline


@admin.register(Activity)
class ActivityAdmin(ReadOnlyAdmin):
    list_display = ["at", "type", "outcome", "channel", "by", "deal", "contact", "company"]
    list_filter = ["type", "outcome", "channel"]
    list_select_related = ["by", "deal", "contact", "company"]
    date_hierarchy = "at"


@admin.register(Task)
class TaskAdmin(ReadOnlyAdmin):
    list_display = ["title", "owner", "due_at", "done_at", "source", "deal"]
    list_filter = ["source", "owner"]
    search_fields = ["title"]
    list_select_related = ["owner", "deal"]


class StepInline(ReadOnlyInline):
    model = CompletionPlanStep
    fields = ["position", "title", "role", "due_days"]


@admin.register(CompletionPlan)
class CompletionPlanAdmin(ReadOnlyAdmin):
    """Plans come with their process version (its YAML); a new version brings new plans."""

    list_display = ["name", "phase"]
    list_filter = ["phase"]
    inlines = [StepInline]
