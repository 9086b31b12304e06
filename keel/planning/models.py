from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from keel.accounts.models import Role
from keel.activities.models import ActivityType
from keel.core.models import TimeStamped


class GoalQuery(models.TextChoices):
    """What a goal no scorecard metric measures is counted by, over Keel's records."""

    WHALES_WON = "whales_won", "Whales won (whales' first won deal)"
    WHALE_BOOKINGS = "whale_bookings", "Bookings from whales"


class Goal(TimeStamped):
    """A result of the Big Picture: a number, a unit and an end date.

    Tied to a scorecard metric where one measures it, or else to a query over Keel's
    records, so that progress is computed from `starts_on` on, never typed in.
    """

    name = models.CharField(max_length=200, unique=True)
    target = models.DecimalField(max_digits=18, decimal_places=2)
    unit = models.CharField(max_length=40, help_text="What is counted: new clients, EUR, …")
    starts_on = models.DateField()
    ends_on = models.DateField()
    metric = models.ForeignKey(
        "scorecard.Metric",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="plan_goals",
        help_text="The scorecard metric that measures it, if one does.",
    )
    query = models.CharField(
        max_length=30,
        choices=GoalQuery.choices,
        blank=True,
        help_text="Or what it is counted by, when no metric measures it.",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["ends_on", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(target__gt=0), name="plan_goal_target_gt_0"),
            models.CheckConstraint(
                condition=Q(ends_on__gt=models.F("starts_on")), name="plan_goal_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(metric__isnull=True) | Q(query=""), name="plan_goal_metric_or_query"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Strategy(TimeStamped):
    """A long-term approach to one or more goals ("pursue whales"), with its end points."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    goals = models.ManyToManyField("planning.Goal", related_name="strategies")
    starts_on = models.DateField()
    ends_on = models.DateField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "strategies"
        ordering = ["ends_on", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gt=models.F("starts_on")), name="strategy_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TacticalPlan(TimeStamped):
    """Six to eighteen months of tactics under a strategy (planning/rules.py checks the span)."""

    name = models.CharField(max_length=200, unique=True)
    strategy = models.ForeignKey(
        "planning.Strategy", on_delete=models.PROTECT, related_name="plans"
    )
    description = models.TextField(blank=True)
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="plans",
        help_text="The team whose manager keeps it; none: the owner keeps it.",
    )
    starts_on = models.DateField()
    ends_on = models.DateField()
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["starts_on", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gt=models.F("starts_on")),
                name="tactical_plan_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Shape(models.TextChoices):
    RECURRING = "recurring", "Recurring"
    TRIGGERED = "triggered", "Triggered, with a deadline"
    TARGET = "target", "A count by a date"


class Trigger(models.TextChoices):
    DOSSIER_COMPLETED = "dossier_completed", "A dossier is completed"
    DEAL_ENTERED_STAGE = "deal_entered_stage", "A deal enters a stage"
    LEAD_QUALIFIED = "lead_qualified", "A lead is qualified"
    INQUIRY_RECEIVED = "inquiry_received", "An inquiry is received"
    DEAL_WON = "deal_won", "A deal is won"


class Measure(models.TextChoices):
    """What counts as done, in Keel's records: the tactic's result is measured."""

    TASK_COMPLETED = "task_completed", "Its task is completed"
    ACTIVITY_LOGGED = "activity_logged", "An activity of a type is logged"
    RECORD_CREATED = "record_created", "A record is created"


class RecordKind(models.TextChoices):
    COMPANY = "company", "Company"
    CONTACT = "contact", "Contact"
    DEAL = "deal", "Deal"


class Tactic(TimeStamped):
    """Measurable, assignable day-to-day work in one of three shapes.

    recurring: `schedule`, an RFC 5545 RRULE ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR");
    triggered: `trigger` (and `trigger_stage` for a deal entering a stage) with a
    deadline of `deadline_days` after the event; target: `target_count` qualifying
    records or activities by `due_on`. Assigned to a role (everyone holding it) or to one
    person. `measure` says what counts as done.
    """

    plan = models.ForeignKey(
        "planning.TacticalPlan", on_delete=models.CASCADE, related_name="tactics"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    shape = models.CharField(max_length=20, choices=Shape.choices)
    role = models.CharField(max_length=30, choices=Role.choices, blank=True)
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # recurring
    schedule = models.CharField(max_length=300, blank=True, help_text="An RFC 5545 RRULE.")
    minutes = models.PositiveIntegerField(null=True, blank=True, help_text="Time it asks for.")
    # triggered
    trigger = models.CharField(max_length=30, choices=Trigger.choices, blank=True)
    trigger_stage = models.CharField(max_length=100, blank=True, help_text="The stage's name.")
    deadline_days = models.PositiveSmallIntegerField(null=True, blank=True)
    # target
    target_count = models.PositiveIntegerField(null=True, blank=True)
    due_on = models.DateField(null=True, blank=True)
    # what counts as done
    measure = models.CharField(
        max_length=20, choices=Measure.choices, default=Measure.TASK_COMPLETED
    )
    activity_type = models.CharField(max_length=20, choices=ActivityType.choices, blank=True)
    record_kind = models.CharField(max_length=20, choices=RecordKind.choices, blank=True)
    task_title = models.CharField(max_length=200, blank=True, help_text="Default: the name.")
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["plan", "position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "name"], name="tactic_name_unique_in_plan"),
            models.CheckConstraint(condition=Q(shape__in=Shape.values), name="tactic_shape_valid"),
            models.CheckConstraint(
                condition=(Q(role="") & Q(person__isnull=False))
                | (~Q(role="") & Q(person__isnull=True)),
                name="tactic_role_or_person",
            ),
            models.CheckConstraint(
                condition=~Q(shape=Shape.RECURRING) | ~Q(schedule=""),
                name="tactic_recurring_has_schedule",
            ),
            models.CheckConstraint(
                condition=~Q(shape=Shape.TRIGGERED)
                | (~Q(trigger="") & Q(deadline_days__isnull=False)),
                name="tactic_triggered_has_trigger_and_deadline",
            ),
            models.CheckConstraint(
                condition=~Q(shape=Shape.TARGET)
                | (Q(target_count__gt=0) & Q(due_on__isnull=False)),
                name="tactic_target_has_count_and_date",
            ),
            models.CheckConstraint(
                condition=~Q(measure=Measure.ACTIVITY_LOGGED) | ~Q(activity_type=""),
                name="tactic_activity_measure_has_type",
            ),
            models.CheckConstraint(
                condition=~Q(measure=Measure.RECORD_CREATED) | ~Q(record_kind=""),
                name="tactic_record_measure_has_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Occurrence(models.Model):
    """One piece of work a tactic asks of one person, due at one moment.

    `key` names it within the tactic and person: the day of a recurring tactic
    ("2026-11-24"), the event of a triggered one ("dossier:12"), "target" for a count by
    a date. Unique, so the scheduler can run again, or catch up after downtime, without
    making anything twice.

    What counts for it (planning/measure.py) is what happened from `opens_at`: for a
    recurring tactic the person's day, midnight to midnight where they are (`closes_at`);
    for a triggered one anything after its event (no `closes_at`).
    """

    tactic = models.ForeignKey(
        "planning.Tactic", on_delete=models.CASCADE, related_name="occurrences"
    )
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="occurrences"
    )
    key = models.CharField(max_length=100)
    opens_at = models.DateTimeField(help_text="From when work counts for it.")
    closes_at = models.DateTimeField(null=True, blank=True, help_text="Until when; none: open.")
    due_at = models.DateTimeField()
    # What a triggered piece of work is about: the task links to it.
    deal = models.ForeignKey(
        "pipeline.Deal", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    company = models.ForeignKey(
        "crm.Company", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    task = models.OneToOneField(
        "activities.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    done_at = models.DateTimeField(null=True, blank=True, help_text="When it counted as done.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tactic", "person", "key"], name="occurrence_once_per_key"
            ),
        ]
        indexes = [
            models.Index(fields=["person", "due_at"]),
            models.Index(fields=["tactic", "due_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.tactic} for {self.person} ({self.key})"


class DossierSection(models.TextChoices):
    DECISION_MAKERS = "decision_makers", "Decision makers"
    NEEDS = "needs", "Needs"
    NEWS = "news", "News"
    COMPETITORS = "competitors", "Competitors"
    QUESTIONS = "questions", "Good-to-great questions"


class Dossier(TimeStamped):
    """The research on a whale: a section per topic, each with its owner and state.

    Completing it (every section done) fires the tactics that wait on a completed dossier.
    """

    company = models.OneToOneField("crm.Company", on_delete=models.CASCADE, related_name="dossier")
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"Dossier on {self.company}"


class Section(models.Model):
    dossier = models.ForeignKey(
        "planning.Dossier", on_delete=models.CASCADE, related_name="sections"
    )
    kind = models.CharField(max_length=20, choices=DossierSection.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    notes = models.TextField(blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["dossier", "id"]
        constraints = [
            models.UniqueConstraint(fields=["dossier", "kind"], name="dossier_section_once"),
            models.CheckConstraint(
                condition=Q(kind__in=DossierSection.values), name="dossier_section_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.dossier}"


class CheckIn(models.Model):
    """A manager's short written assessment of a person's work, which the person answers.

    Read by the person, the manager who wrote it, whoever manages the person now and
    the owner (planning/access.py): never by another team.
    """

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="check_ins"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField(max_length=4000)
    written_at = models.DateTimeField(default=timezone.now, editable=False)
    reply = models.TextField(max_length=4000, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-written_at", "-id"]
        indexes = [models.Index(fields=["person", "-written_at"])]

    def __str__(self) -> str:
        return f"Check-in with {self.person} ({self.written_at:%Y-%m-%d})"


class TradeOffRule(models.Model):
    """How a person weighs their work when it does not all fit, as their manager put it
    ("whale dossiers before cold calls; never let a quote wait past a day")."""

    person = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trade_off_rule"
    )
    text = models.TextField(max_length=1000)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    set_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Trade-off rule for {self.person}"
