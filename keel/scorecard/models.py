from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from keel.scorecard import rules


class MetricStage(models.TextChoices):
    """The scorecard's funnel steps: the values of crm.FunnelStage it groups metrics by.

    Qualified leads count with leads and raving fans with customers, so four steps.
    """

    SUSPECT = "suspect", "Suspect"
    PROSPECT = "prospect", "Prospect"
    LEAD = "lead", "Lead"
    CUSTOMER = "customer", "Customer"


class Unit(models.TextChoices):
    COUNT = rules.Unit.COUNT.value, "Count"
    MONEY = rules.Unit.MONEY.value, "Money"
    PERCENT = rules.Unit.PERCENT.value, "Percent"
    DAYS = rules.Unit.DAYS.value, "Days"


class CaptureMethod(models.TextChoices):
    COMPUTED = "computed", "Computed from Keel's records"
    PUSHED = "pushed", "Pushed through the API"
    MANUAL = "manual", "Entered by hand"


class Phasing(models.TextChoices):
    EVEN = rules.Phasing.EVEN.value, "Even"
    SEASONAL = rules.Phasing.SEASONAL.value, "Seasonal weights"


class Metric(models.Model):
    """A line of the scorecard: what is measured, at which funnel step, by whom, how."""

    key = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=100)
    stage = models.CharField(max_length=20, choices=MetricStage.choices)
    unit = models.CharField(max_length=10, choices=Unit.choices, default=Unit.COUNT)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="metrics",
        help_text="Who answers for this figure, and may enter it by hand.",
    )
    capture_method = models.CharField(
        max_length=10, choices=CaptureMethod.choices, default=CaptureMethod.MANUAL
    )
    description = models.TextField(blank=True, help_text="Exactly what is counted.")
    position = models.PositiveSmallIntegerField(default=0, help_text="Order within its stage.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["stage", "position", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(stage__in=MetricStage.values), name="metric_stage_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(unit__in=Unit.values), name="metric_unit_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(capture_method__in=CaptureMethod.values),
                name="metric_capture_method_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.capture_method == CaptureMethod.COMPUTED and self.key not in rules.COMPUTED_KEYS:
            raise ValidationError(
                {
                    "capture_method": f"Keel cannot compute {self.key!r}: "
                    "enter it by hand or have another system push it."
                }
            )


class ValueSource(models.TextChoices):
    MANUAL = "manual", "Entered by hand"
    PUSHED = "pushed", "Pushed through the API"
    COMPUTED = "computed", "Computed snapshot"


class MetricValue(models.Model):
    """One month's figure for a metric, as entered or pushed at one moment.

    Appended, never edited: a new entry for the same metric, month and scope supersedes
    the earlier ones (the latest by `entered_at`, then id, is current), which stay as its
    history. A month with no entry has no value: missing, never zero.
    """

    metric = models.ForeignKey("scorecard.Metric", on_delete=models.CASCADE, related_name="values")
    month = models.DateField(help_text="The first day of the month.")
    # Both empty: company-wide. Teams and people come with the scorecard's scopes.
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    value = models.DecimalField(max_digits=18, decimal_places=4)
    source = models.CharField(max_length=10, choices=ValueSource.choices)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    entered_at = models.DateTimeField()
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["metric", "-month", "-entered_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(team__isnull=True) | models.Q(person__isnull=True),
                name="metric_value_one_scope",
            ),
            models.CheckConstraint(
                condition=models.Q(source__in=ValueSource.values),
                name="metric_value_source_valid",
            ),
        ]
        indexes = [models.Index(fields=["metric", "month", "entered_at"])]

    def __str__(self) -> str:
        return f"{self.metric_id} {self.month:%Y-%m}: {self.value}"

    def clean(self) -> None:
        if self.month is not None and self.month.day != 1:
            raise ValidationError({"month": "A month is stored as its first day."})


class Goal(models.Model):
    """A metric's annual target, spread over the months evenly or by seasonal weights."""

    metric = models.ForeignKey("scorecard.Metric", on_delete=models.CASCADE, related_name="goals")
    year = models.PositiveSmallIntegerField()
    target = models.DecimalField(max_digits=18, decimal_places=4)
    phasing = models.CharField(max_length=10, choices=Phasing.choices, default=Phasing.EVEN)
    weights = models.JSONField(
        default=list, blank=True, help_text="Seasonal phasing: 12 weights, January to December."
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["metric", "-year"]
        constraints = [
            models.UniqueConstraint(fields=["metric", "year"], name="goal_metric_year_unique"),
            models.CheckConstraint(
                condition=models.Q(phasing__in=Phasing.values), name="goal_phasing_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(year__gte=2000, year__lte=2200), name="goal_year_sensible"
            ),
            models.CheckConstraint(condition=models.Q(target__gte=0), name="goal_target_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.year}: {self.target}"

    def clean(self) -> None:
        problems = rules.weights_problems(self.phasing, self.weights)
        if problems:
            raise ValidationError({"weights": problems})
