from django.contrib import admin

from keel.core.admin import ReadOnlyAdmin
from keel.scorecard.models import Goal, Metric, MetricValue


# Metrics, their values and goals change only through services, which check who may and
# keep the audit: metrics on /scorecard/metrics/ (deactivated there, never deleted, so
# their history stays).
@admin.register(Metric)
class MetricAdmin(ReadOnlyAdmin):
    list_display = ["name", "key", "stage", "unit", "capture_method", "owner", "is_active"]
    list_filter = ["stage", "capture_method", "is_active"]
    search_fields = ["name", "key", "description"]
    list_select_related = ["owner"]


@admin.register(MetricValue)
class MetricValueAdmin(ReadOnlyAdmin):
    list_display = ["metric", "month", "value", "source", "entered_by", "entered_at"]
    list_filter = ["source", "metric"]
    list_select_related = ["metric", "entered_by"]
    date_hierarchy = "month"


@admin.register(Goal)
class GoalAdmin(ReadOnlyAdmin):
    list_display = ["metric", "year", "target", "phasing", "updated_by", "updated_at"]
    list_filter = ["year", "phasing"]
    list_select_related = ["metric", "updated_by"]
