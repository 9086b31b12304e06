from django.conf import settings
from django.db import models


class ImportKind(models.TextChoices):
    COMPANIES = "companies", "Companies"
    CONTACTS = "contacts", "Contacts"
    DEALS = "deals", "Deals"
    ACTIVITIES = "activities", "Activities"


class RunStatus(models.TextChoices):
    UPLOADED = "uploaded", "Uploaded"  # the web flow: mapped and checked before a commit
    DRY_RUN = "dry_run", "Dry run"
    COMMITTED = "committed", "Committed"
    FAILED = "failed", "Failed"


class ImportRun(models.Model):
    """One import of one file: who, when, what it did, and the rows it turned away."""

    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    file_name = models.CharField(max_length=255)
    kind = models.CharField(max_length=20, choices=ImportKind.choices)
    preset = models.CharField(max_length=20, blank=True)
    process = models.ForeignKey(
        "pipeline.SalesProcess", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    mapping = models.JSONField(default=dict, blank=True, help_text="Keel field → file column.")
    stage_map = models.JSONField(default=dict, blank=True, help_text="Their stage → Keel's.")
    date_format = models.CharField(max_length=50, blank=True)
    skip_bad = models.BooleanField(default=False)
    status = models.CharField(max_length=20, choices=RunStatus.choices)
    rows = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text="[line, column, reason] of each problem found."
    )
    unknown_stages = models.JSONField(default=list, blank=True)
    failure = models.TextField(blank=True, help_text="Why a commit failed, if it did.")
    rejected_csv = models.TextField(
        blank=True, help_text="The rejected rows with line, column, reason."
    )
    source = models.BinaryField(
        null=True, blank=True, editable=False, help_text="The uploaded file, until committed."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["by", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=RunStatus.values), name="import_run_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=ImportKind.values), name="import_run_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_kind_display()}, {self.get_status_display()})"
