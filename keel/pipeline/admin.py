from django.contrib import admin

from keel.core.admin import ReadOnlyAdmin, ReadOnlyInline
from keel.pipeline.models import (
    ChecklistTick,
    Deal,
    DealContact,
    ProcessVersion,
    SalesProcess,
    Stage,
    StageChange,
)


class VersionInline(ReadOnlyInline):
    model = ProcessVersion
    fields = ["number", "created_at", "created_by"]
    show_change_link = True


@admin.register(SalesProcess)
class SalesProcessAdmin(admin.ModelAdmin[SalesProcess]):
    """Name, description and whether it is in use; stages change by importing a new version
    (`keel process import FILE.yaml`), so history keeps the version each deal moved under."""

    list_display = ["name", "kind", "is_active"]
    fields = ["name", "kind", "description", "is_active"]
    readonly_fields = ["name", "kind"]
    inlines = [VersionInline]

    def has_add_permission(self, request: object) -> bool:
        return False


class StageInline(ReadOnlyInline):
    model = Stage
    fields = ["position", "name", "kind", "probability", "expected_days", "buyer_step"]


@admin.register(ProcessVersion)
class ProcessVersionAdmin(ReadOnlyAdmin):
    list_display = ["process", "number", "created_at", "created_by"]
    list_filter = ["process"]
    readonly_fields = ["process", "number", "created_at", "created_by", "source"]
    inlines = [StageInline]


class DealContactInline(ReadOnlyInline):
    model = DealContact
    fields = ["contact", "role"]


class TickInline(ReadOnlyInline):
    model = ChecklistTick
    fields = ["item", "ticked_by", "ticked_at"]


class StageChangeInline(ReadOnlyInline):
    model = StageChange
    fields = ["at", "from_stage", "to_stage", "by", "override_reason", "lost_reason"]


@admin.register(Deal)
class DealAdmin(ReadOnlyAdmin):
    """Deals change through the app and the API, which check exit criteria and versions."""

    list_display = ["name", "company", "owner", "process", "stage", "status", "amount"]
    list_filter = ["status", "process", "owner", "channel"]
    search_fields = ["name", "company__name", "external_id"]
    list_select_related = ["company", "owner", "process", "stage"]
    date_hierarchy = "created_at"
    inlines = [DealContactInline, TickInline, StageChangeInline]


@admin.register(StageChange)
class StageChangeAdmin(ReadOnlyAdmin):
    list_display = ["at", "deal", "from_stage", "to_stage", "by", "override_reason"]
    list_filter = ["to_stage__version__process", "to_stage__name"]
    list_select_related = ["deal", "from_stage", "to_stage", "by"]
    date_hierarchy = "at"
