import secrets
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator, URLValidator
from django.db import models
from django.db.models.functions import Lower

from keel.core.models import TimeStamped
from keel.crm.models import Channel


class EventType(models.TextChoices):
    VISIT = "visit", "Website visit"
    DOWNLOAD = "download", "Download"
    INQUIRY = "inquiry", "Inquiry"
    FORM_FILL = "form_fill", "Form fill"


# Events that say a person asked for contact: the funnel's inquiry.
INQUIRY_TYPES = frozenset({EventType.INQUIRY, EventType.FORM_FILL})


class MarketingEvent(models.Model):
    """A touch marketing hears of from elsewhere (the website, a marketing tool).

    Pushed in bulk through the API; the scorecard counts them by type, campaign and
    source. `external_id` (the sender's id) makes a re-sent event a duplicate, not a
    second event.
    """

    type = models.CharField(max_length=20, choices=EventType.choices)
    occurred_at = models.DateTimeField()
    email = models.EmailField(blank=True)
    contact = models.ForeignKey(
        "crm.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="marketing_events",
        help_text="Matched by e-mail address when the event arrived.",
    )
    company = models.ForeignKey(
        "crm.Company",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="marketing_events",
    )
    campaign = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=100, blank=True)
    url = models.CharField(max_length=2000, blank=True)
    external_id = models.CharField(max_length=200, null=True, blank=True, unique=True)
    payload = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(type__in=EventType.values), name="marketing_event_type_valid"
            ),
        ]
        indexes = [
            # The scorecard's counts: by type over a period, by campaign or source.
            models.Index(fields=["type", "occurred_at"]),
            models.Index(fields=["campaign", "occurred_at"]),
            models.Index(fields=["source", "occurred_at"]),
            # The scorecard's months: every type's count over a range, from the index alone.
            models.Index(fields=["occurred_at", "type"]),
            # The events sent with an address, found by it when its person arrives
            # (leads/claims.py), whatever its case.
            models.Index(Lower("email"), name="marketing_event_email_lower"),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} at {self.occurred_at:%Y-%m-%d %H:%M}"


class DefinitionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class LeadDefinition(models.Model):
    """The rules sales and marketing agree make a contact a qualified lead, versioned.

    `rules` is a list of rule documents (leads/definition_rules.py says each kind); a
    contact qualifies when every rule holds. A draft goes live only once a marketing and
    a sales approval are recorded; one version is active at a time.
    """

    version = models.PositiveIntegerField(unique=True)
    status = models.CharField(
        max_length=10, choices=DefinitionStatus.choices, default=DefinitionStatus.DRAFT
    )
    rules = models.JSONField(default=list)
    notes = models.TextField(blank=True, help_text="What this version changes, and why.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=DefinitionStatus.values),
                name="lead_definition_status_valid",
            ),
            models.UniqueConstraint(
                fields=["status"],
                condition=models.Q(status="active"),
                name="lead_definition_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"Lead definition v{self.version} ({self.get_status_display().lower()})"


class ApprovalSide(models.TextChoices):
    MARKETING = "marketing", "Marketing"
    SALES = "sales", "Sales"


class DefinitionApproval(models.Model):
    """One side's agreement to a draft, by whom and when."""

    definition = models.ForeignKey(
        "leads.LeadDefinition", on_delete=models.CASCADE, related_name="approvals"
    )
    side = models.CharField(max_length=10, choices=ApprovalSide.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["definition", "side"], name="approval_once_per_side"),
            models.CheckConstraint(
                condition=models.Q(side__in=ApprovalSide.values), name="approval_side_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_side_display()} approval of {self.definition} by {self.by}"


class Qualification(models.Model):
    """A contact judged by a definition version: the result and each rule's, in its order.

    Written when a contact's result or the version deciding it changes, so the history
    says which version qualified (or stopped qualifying) whom, and why.
    """

    contact = models.ForeignKey(
        "crm.Contact", on_delete=models.CASCADE, related_name="qualifications"
    )
    definition = models.ForeignKey(
        "leads.LeadDefinition", on_delete=models.PROTECT, related_name="qualifications"
    )
    qualified = models.BooleanField()
    reasons = models.JSONField(default=list, help_text="Each rule's result, in the rules' order.")
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["contact", "-at"]),
            models.Index(fields=["definition", "qualified"]),
        ]

    def __str__(self) -> str:
        verdict = "qualified" if self.qualified else "not qualified"
        return f"{self.contact} {verdict} by v{self.definition.version}"


def _form_token() -> str:
    return secrets.token_urlsafe(24)


class LeadForm(models.Model):
    """A web form the business embeds on its own website; submissions post to /f/<token>/.

    The token is the form's only address: unguessable, so a form's URL says nothing about
    the others. Campaign and source are copied onto each submission's marketing event; the
    consent wording is what the person sees next to the checkbox, recorded on the contact
    when they tick it.
    """

    name = models.CharField(max_length=100)
    token = models.CharField(max_length=64, unique=True, default=_form_token, editable=False)
    campaign = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=100, blank=True)
    consent_text = models.TextField(
        blank=True,
        verbose_name="consent wording",
        help_text="Shown next to the consent checkbox; blank: the form asks for no consent.",
    )
    counts_as_inquiry = models.BooleanField(
        default=True, help_text="A submission marks the contact as having inquired."
    )
    thank_you_url = models.URLField(
        max_length=500,
        blank=True,
        validators=[URLValidator(schemes=["http", "https"])],
        verbose_name="thank-you URL",
        help_text="Where a person goes after sending it; blank: Keel's plain thank-you page.",
    )
    is_active = models.BooleanField(default=True, help_text="An inactive form answers 404.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            # A javascript: or data: address would run in the visitor's browser on our say-so.
            models.CheckConstraint(
                condition=models.Q(thank_you_url="")
                | models.Q(thank_you_url__startswith="http://")
                | models.Q(thank_you_url__startswith="https://"),
                name="lead_form_thank_you_url_http",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Campaign(TimeStamped):
    """A marketing campaign: its channel, dates, budget and what it cost.

    `code` is what the website and marketing tools tag their events with (the
    utm_campaign); events, forms and contacts carry the code, so a campaign may be
    created before or after its first events arrive.
    """

    code = models.CharField(
        max_length=100, unique=True, help_text="The tag its events carry (their utm_campaign)."
    )
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True, help_text="Blank: still running.")
    budget = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))
    cost = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        default=Decimal(0),
        help_text="Spent so far; spread evenly over the campaign's days in the reports.",
    )
    notes = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-starts_on", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(channel__in=Channel.values), name="campaign_channel_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(ends_on__isnull=True)
                | models.Q(ends_on__gte=models.F("starts_on")),
                name="campaign_ends_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(budget__gte=0) & models.Q(cost__gte=0),
                name="campaign_money_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RoutingKind(models.TextChoices):
    NAMED_ACCOUNT = "named_account", "Named accounts and whales to their owner"
    REGION = "region", "Territory or region"
    INDUSTRY = "industry", "Industry"
    ROUND_ROBIN = "round_robin", "Round robin"


class RoutingRule(TimeStamped):
    """One step of lead routing, tried in `position` order until one assigns the lead.

    A region or industry rule sends the leads whose company matches `values` to
    `assignee`, or round robin within `team`; a round-robin rule takes every lead it
    sees into `team`. `cap` bounds the leads one person is handed in a calendar month
    by this rule; a person at the cap is skipped, and a rule whose people all are lets
    the next rule try.
    """

    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=RoutingKind.choices)
    values = models.JSONField(default=list, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cap = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="The most leads one person gets a month; blank: no cap.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=RoutingKind.values), name="routing_kind_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="round_robin") | models.Q(team__isnull=False),
                name="routing_round_robin_has_team",
            ),
            models.CheckConstraint(
                condition=models.Q(cap__isnull=True) | models.Q(cap__gte=1),
                name="routing_cap_at_least_one",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.get_kind_display()}"


class HandoffStatus(models.TextChoices):
    PENDING = "pending", "Awaiting a decision"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class RejectReason(models.TextChoices):
    NOT_A_FIT = "not_a_fit", "Not a fit for what we sell"
    NO_AUTHORITY = "no_authority", "Cannot decide or influence the purchase"
    NO_NEED = "no_need", "No need or no project"
    NO_BUDGET = "no_budget", "No budget"
    BAD_TIMING = "bad_timing", "Not now: timing"
    BAD_DATA = "bad_data", "Wrong or missing contact details"
    DUPLICATE = "duplicate", "Duplicate of a lead we have"
    ALREADY_ENGAGED = "already_engaged", "Already a customer or in talks"
    SPAM = "spam", "Spam, student or competitor"


class Handoff(models.Model):
    """A qualified lead handed from marketing to sales: who got it, by which rule, the
    first-touch deadline, and sales' verdict.

    `rule_words` keeps what the rule said when it assigned the lead, so an assignment
    still explains itself after its rule is edited or deleted. `campaign` and `source`
    are the lead's last touch when it was handed over: the feedback marketing reads.
    """

    contact = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="handoffs")
    definition = models.ForeignKey(
        "leads.LeadDefinition", null=True, on_delete=models.PROTECT, related_name="+"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="handoffs",
        help_text="Blank: no rule could assign it; it waits for a manager.",
    )
    previous_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule = models.ForeignKey(
        "leads.RoutingRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule_words = models.CharField(max_length=300)
    campaign = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=100, blank=True)
    at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)
    task = models.ForeignKey(
        "activities.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=HandoffStatus.choices, default=HandoffStatus.PENDING
    )
    reason = models.CharField(max_length=20, choices=RejectReason.choices, blank=True)
    note = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=HandoffStatus.values), name="handoff_status_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="rejected") | ~models.Q(reason=""),
                name="handoff_rejection_has_reason",
            ),
            # One pending hand-off per lead, even when two requalifications race.
            models.UniqueConstraint(
                fields=["contact"],
                condition=models.Q(status="pending"),
                name="handoff_one_pending_per_contact",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "status", "at"]),
            models.Index(fields=["at"]),
            models.Index(fields=["rule", "at"]),
            models.Index(fields=["contact", "-at"]),
        ]

    def __str__(self) -> str:
        return f"{self.contact} handed to {self.owner or 'nobody yet'}"
