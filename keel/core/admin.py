from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from keel.core.models import AuditEntry, InstanceSetting


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """For records that change only through Keel's services (history, deals): look, don't touch."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline[Any, Any]):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        return [f for f in self.fields or [] if isinstance(f, str)]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor", "action", "content_type", "object_id", "summary"]
    list_filter = ["action", "content_type"]
    search_fields = ["summary", "object_id"]
    list_select_related = ["actor", "content_type"]
    date_hierarchy = "at"


admin.site.register(InstanceSetting)
admin.site.site_header = "Keel administration"
admin.site.site_title = "Keel"
