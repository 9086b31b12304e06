from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class InstanceSetting(models.Model):
    """Facts about this Keel installation, e.g. that its data is a generated demo."""

    key = models.CharField(max_length=100, unique=True)
    value = models.JSONField(default=dict)

    def __str__(self) -> str:
        return self.key


class AuditEntry(models.Model):
    """Who changed what, when: written for every change made by a person or a token.

    Stage moves are the exception: their append-only StageChange rows (who, when, from, to,
    evidence, override reason) are already the audit record, so they are not written twice.
    """

    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=60)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.CharField(max_length=64)
    summary = models.CharField(max_length=300, blank=True)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "audit entries"
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.summary}"
