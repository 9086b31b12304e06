from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models

from keel.core.models import TimeStamped
from keel.core.money import default_currency, validate_currency
from keel.crm.models import BuyingRole, Channel


class ProcessKind(models.TextChoices):
    NEW_BUSINESS = "new_business", "New business"
    RENEWAL = "renewal", "Renewal"
    UPSELL = "upsell", "Upsell"


class StageKind(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class DealStatus(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class LostReason(models.TextChoices):
    PRICE = "price", "Price"
    COMPETITOR = "competitor", "Chose a competitor"
    NO_DECISION = "no_decision", "No decision"
    TIMING = "timing", "Timing"
    NO_BUDGET = "no_budget", "No budget"
    POOR_FIT = "poor_fit", "Poor fit"
    WENT_DARK = "went_dark", "Went dark"
    OTHER = "other", "Other"


class SalesProcess(TimeStamped):
    """A repeatable sales process. Its stages live in versions; deals keep the version."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(
        max_length=20, choices=ProcessKind.choices, default=ProcessKind.NEW_BUSINESS
    )
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name_plural = "sales processes"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProcessVersion(models.Model):
    """One imported definition of a process, kept as it was so history can refer to it."""

    process = models.ForeignKey(
        "pipeline.SalesProcess", on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.TextField(help_text="The YAML this version was imported from.")

    class Meta:
        ordering = ["process", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["process", "number"], name="process_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.process} v{self.number}"


class Stage(models.Model):
    version = models.ForeignKey(
        "pipeline.ProcessVersion", on_delete=models.CASCADE, related_name="stages"
    )
    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=10, choices=StageKind.choices, default=StageKind.OPEN)
    probability = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    expected_days = models.PositiveIntegerField(null=True, blank=True)
    buyer_step = models.CharField(max_length=200, blank=True)
    buyer_concerns = models.JSONField(default=list, blank=True)
    buyer_needs = models.JSONField(default=list, blank=True)
    guidance = models.TextField(blank=True)
    exit_criteria = models.JSONField(
        default=list, blank=True, help_text="Validated by pipeline/rules.py on import."
    )
    recommended_collateral = models.JSONField(default=list, blank=True)
    completion_plan = models.ForeignKey(
        "activities.CompletionPlan",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="stages",
    )

    class Meta:
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "name"], name="stage_name_unique"),
            models.UniqueConstraint(fields=["version", "position"], name="stage_position_unique"),
            models.CheckConstraint(
                condition=models.Q(probability__lte=100), name="stage_probability_0_100"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=StageKind.values), name="stage_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_closed(self) -> bool:
        return self.kind != StageKind.OPEN


class Deal(TimeStamped):
    name = models.CharField(max_length=200)
    company = models.ForeignKey("crm.Company", on_delete=models.PROTECT, related_name="deals")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="deals"
    )
    process = models.ForeignKey(
        "pipeline.SalesProcess", on_delete=models.PROTECT, related_name="deals"
    )
    process_version = models.ForeignKey(
        "pipeline.ProcessVersion", on_delete=models.PROTECT, related_name="deals"
    )
    stage = models.ForeignKey("pipeline.Stage", on_delete=models.PROTECT, related_name="deals")
    status = models.CharField(max_length=10, choices=DealStatus.choices, default=DealStatus.OPEN)
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(
        max_length=3, default=default_currency, validators=[validate_currency]
    )
    expected_close = models.DateField(null=True, blank=True)
    channel = models.CharField(max_length=20, choices=Channel.choices, blank=True)
    source = models.CharField(max_length=100, blank=True, help_text="Where the deal came from.")
    campaign = models.CharField(max_length=100, blank=True)
    referred_by = models.ForeignKey(
        "crm.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="referred"
    )
    next_step = models.CharField(max_length=300, blank=True)
    lost_reason = models.CharField(max_length=20, choices=LostReason.choices, blank=True)
    lost_note = models.TextField(blank=True)
    stage_entered_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    contacts = models.ManyToManyField(
        "crm.Contact", through="pipeline.DealContact", related_name="deals", blank=True
    )
    version = models.PositiveIntegerField(default=1, help_text="Raised by every write.")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=DealStatus.values), name="deal_status_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(status=DealStatus.LOST) | ~models.Q(lost_reason=""),
                name="deal_lost_needs_reason",
            ),
            models.CheckConstraint(
                condition=models.Q(status=DealStatus.OPEN, closed_at__isnull=True)
                | (~models.Q(status=DealStatus.OPEN) & models.Q(closed_at__isnull=False)),
                name="deal_closed_at_matches_status",
            ),
            models.CheckConstraint(
                condition=models.Q(amount__isnull=True) | models.Q(amount__gte=0),
                name="deal_amount_not_negative",
            ),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="deal_version_gte_1"),
        ]
        indexes = [
            # The board's columns: counts and totals per stage, and the largest deals first.
            models.Index(fields=["process", "status", "stage", "amount"]),
            models.Index(fields=["owner", "status"]),
            models.Index(fields=["status", "expected_close"]),
            models.Index(fields=["amount"]),  # the deal list sorted by size
            models.Index(fields=["closed_at"]),  # the scorecard: the deals closed in a month
            # A person's closed deals (their scorecard, their job page), read from the index
            # alone: when, won or lost, and the amount booked.
            models.Index(fields=["owner", "closed_at", "status", "currency", "amount"]),
            # The scorecard's new customers: whether a company won a deal before this one.
            models.Index(fields=["company", "status", "closed_at"]),
        ]

    def __str__(self) -> str:
        return self.name


class DealContact(models.Model):
    deal = models.ForeignKey(
        "pipeline.Deal", on_delete=models.CASCADE, related_name="deal_contacts"
    )
    contact = models.ForeignKey(
        "crm.Contact", on_delete=models.CASCADE, related_name="deal_contacts"
    )
    role = models.CharField(max_length=20, choices=BuyingRole.choices, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["deal", "contact"], name="deal_contact_unique")
        ]

    def __str__(self) -> str:
        return f"{self.contact} ({self.get_role_display() or 'no role'})"


class ChecklistTick(models.Model):
    """An exit-checklist item ticked on a deal: by whom and when."""

    deal = models.ForeignKey("pipeline.Deal", on_delete=models.CASCADE, related_name="ticks")
    item = models.CharField(max_length=200)
    ticked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    ticked_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["deal", "item"], name="checklist_tick_unique")
        ]

    def __str__(self) -> str:
        return self.item


class StageChange(models.Model):
    """One move of a deal. Appended, never edited: every pipeline statistic starts here.

    A database trigger (migration 0002) refuses UPDATE on this table.
    """

    deal = models.ForeignKey(  # indexed by (deal, at)
        "pipeline.Deal", on_delete=models.CASCADE, related_name="stage_changes", db_index=False
    )
    process_version = models.ForeignKey(
        "pipeline.ProcessVersion", on_delete=models.PROTECT, related_name="+"
    )
    from_stage = models.ForeignKey(
        "pipeline.Stage", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_stage = models.ForeignKey("pipeline.Stage", on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    evidence = models.JSONField(
        default=dict, blank=True, help_text="The exit criteria as evaluated at the move."
    )
    override_reason = models.TextField(blank=True)
    lost_reason = models.CharField(max_length=20, choices=LostReason.choices, blank=True)

    class Meta:
        ordering = ["deal", "at", "id"]
        indexes = [
            models.Index(fields=["deal", "at"]),
            models.Index(fields=["at"]),
        ]

    def __str__(self) -> str:
        return f"{self.deal_id}: {self.from_stage_id} → {self.to_stage_id} at {self.at:%Y-%m-%d}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise RuntimeError("Stage history is append-only; a StageChange cannot be edited.")
        super().save(*args, **kwargs)
