from django.contrib import admin
from django.http import HttpRequest

from keel.core.models import AuditEntry, InstanceSetting


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin[AuditEntry]):
    list_display = ["at", "actor", "action", "content_type", "object_id", "summary"]
    list_filter = ["action", "content_type"]
    search_fields = ["summary", "object_id"]
    list_select_related = ["actor", "content_type"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False


admin.site.register(InstanceSetting)
