from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from keel.accounts.models import Team, User


@admin.register(User)
class UserAdmin(BaseUserAdmin[User]):
    list_display = ["username", "first_name", "last_name", "email", "role", "team", "is_active"]
    list_filter = ["role", "team", "is_active"]
    fieldsets = [
        *(BaseUserAdmin.fieldsets or []),
        ("Keel", {"fields": ["role", "team"]}),
    ]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin[Team]):
    list_display = ["name", "manager"]
