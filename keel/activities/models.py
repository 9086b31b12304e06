from django.conf import settings
from django.db import models

from keel.accounts.models import Role
from keel.crm.models import Channel


class ActivityType(models.TextChoices):
    CALL = "call", "Call"
    EMAIL = "email", "E-mail"
    MEETING = "meeting", "Meeting"
    PRESENTATION = "presentation", "Presentation"
    PROPOSAL_SENT = "proposal_sent", "Proposal sent"
    DEMO = "demo", "Demo"
    NETWORKING_EVENT = "networking_event", "Networking event"
    SOCIAL_TOUCH = "social_touch", "Social touch"
    TRADESHOW_CONTACT = "tradeshow_contact", "Tradeshow contact"
    RESEARCH = "research", "Research"


class Outcome(models.TextChoices):
    CONNECTED = "connected", "Connected"
    NOT_CONNECTED = "not_connected", "Not connected"
    LEFT_MESSAGE = "left_message", "Left a message"
    HELD = "held", "Held"
    NO_SHOW = "no_show", "No-show"
    REPLIED = "replied", "Replied"
    NO_REPLY = "no_reply", "No reply"
    POSITIVE = "positive", "Positive"
    NEGATIVE = "negative", "Negative"
    DONE = "done", "Done"


class Activity(models.Model):
    """A logged touch with a deal, a contact or a company."""

    type = models.CharField(max_length=20, choices=ActivityType.choices)
    channel = models.CharField(max_length=20, choices=Channel.choices, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    at = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    # The foreign keys' own indexes are left out where a composite index starts with them.
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="activities",
        db_index=False,
    )
    deal = models.ForeignKey(
        "pipeline.Deal",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="activities",
        db_index=False,
    )
    contact = models.ForeignKey(
        "crm.Contact",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="activities",
        db_index=False,
    )
    company = models.ForeignKey(
        "crm.Company",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="activities",
        db_index=False,
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "activities"
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(deal__isnull=False)
                | models.Q(contact__isnull=False)
                | models.Q(company__isnull=False),
                name="activity_has_subject",
            ),
            models.CheckConstraint(
                condition=models.Q(type__in=ActivityType.values), name="activity_type_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["deal", "at"]),
            models.Index(fields=["contact", "at"]),
            models.Index(fields=["company", "at"]),
            # The scorecard's monthly counts, the company's and a person's: a range of `at`
            # (by someone) and every column they test, so SQLite reads the index alone,
            # not the rows (with their notes).
            models.Index(fields=["by", "at", "type", "channel", "outcome"]),
            models.Index(fields=["at", "type", "channel", "outcome"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} at {self.at:%Y-%m-%d %H:%M}"


class Phase(models.TextChoices):
    LEAD_GENERATION = "lead_generation", "Lead generation"
    SALES_APPOINTMENT = "sales_appointment", "Sales appointment"
    CLOSING = "closing", "Closing"
    ENROLLMENT = "enrollment", "Enrollment"
    PROGRAM_DESIGN = "program_design", "Program design"
    RENEWAL = "renewal", "Renewal"
    UPSELL = "upsell", "Upsell"


class CompletionPlan(models.Model):
    """The precise steps of a phase; entering the phase turns them into tasks."""

    name = models.CharField(max_length=200)
    phase = models.CharField(max_length=30, choices=Phase.choices, blank=True)

    def __str__(self) -> str:
        return self.name


class CompletionPlanStep(models.Model):
    plan = models.ForeignKey(
        "activities.CompletionPlan", on_delete=models.CASCADE, related_name="steps"
    )
    position = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=200)
    role = models.CharField(
        max_length=30,
        default="owner",
        help_text="'owner' (the deal's owner) or a role held by someone on the owner's team.",
    )
    due_days = models.PositiveSmallIntegerField(default=0, help_text="Days after entry.")

    class Meta:
        ordering = ["plan", "position"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "position"], name="plan_step_position_unique"),
            models.CheckConstraint(
                condition=models.Q(role__in=["owner", *Role.values]), name="plan_step_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class TaskSource(models.TextChoices):
    PLAN_STEP = "plan_step", "Completion plan"
    TACTIC = "tactic", "Tactic"
    AD_HOC = "ad_hoc", "Ad hoc"
    HANDOFF = "handoff", "Lead hand-off"


class Task(models.Model):
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tasks", db_index=False
    )
    due_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=20, choices=TaskSource.choices, default=TaskSource.AD_HOC)
    source_key = models.CharField(
        max_length=300,
        blank=True,
        help_text="What made the task, e.g. 'plan:Proposal:Send the proposal'; one open task each.",
    )
    plan_step = models.ForeignKey(
        "activities.CompletionPlanStep",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
    )
    deal = models.ForeignKey(
        "pipeline.Deal",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tasks",
        db_index=False,
    )
    company = models.ForeignKey(
        "crm.Company", null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["deal", "source_key"],
                condition=models.Q(done_at__isnull=True) & ~models.Q(source_key=""),
                name="task_one_open_per_source",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "done_at", "due_at"]),
            models.Index(fields=["deal", "done_at"]),
        ]

    def __str__(self) -> str:
        return self.title
