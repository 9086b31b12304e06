from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from keel.core.models import TimeStamped


class FunnelStage(models.TextChoices):
    """Where a person or company stands, from stranger to raving fan (see crm/rules.py)."""

    SUSPECT = "suspect", "Suspect"
    PROSPECT = "prospect", "Prospect"
    LEAD = "lead", "Lead"
    QUALIFIED_LEAD = "qualified_lead", "Qualified lead"
    CUSTOMER = "customer", "Customer"
    RAVING_FAN = "raving_fan", "Raving fan"


class BuyingRole(models.TextChoices):
    DECISION_MAKER = "decision_maker", "Decision maker"
    INFLUENCER = "influencer", "Influencer"
    CHAMPION = "champion", "Champion"
    USER = "user", "User"
    BLOCKER = "blocker", "Blocker"


class Channel(models.TextChoices):
    SOCIAL_SELLING = "social_selling", "Social selling"
    NETWORKING = "networking", "In-person networking"
    COLD_CALLING = "cold_calling", "Cold calling"
    REFERRAL = "referral", "Referral"
    INBOUND_WEB = "inbound_web", "Inbound web"
    ADVERTISING = "advertising", "Advertising"
    DIRECT_MAIL = "direct_mail", "Direct mail"
    TRADESHOW = "tradeshow", "Tradeshow"
    PARTNER = "partner", "Partner"


class Tier(models.TextChoices):
    STANDARD = "standard", "Standard"
    KEY = "key", "Key account"
    WHALE = "whale", "Whale"


class Company(TimeStamped):
    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=200, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    employees = models.PositiveIntegerField(null=True, blank=True)
    region = models.CharField(max_length=100, blank=True)
    tier = models.CharField(max_length=20, choices=Tier.choices, default=Tier.STANDARD)
    icp_fit = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Ideal-customer-profile fit score, 0–100."
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="companies",
    )
    funnel_stage = models.CharField(
        max_length=20, choices=FunnelStage.choices, default=FunnelStage.SUSPECT, editable=False
    )
    funnel_stage_since = models.DateTimeField(null=True, blank=True, editable=False)
    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True)

    class Meta:
        verbose_name_plural = "companies"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["domain"], condition=~models.Q(domain=""), name="company_domain_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(icp_fit__isnull=True) | models.Q(icp_fit__lte=100),
                name="company_icp_fit_0_100",
            ),
            models.CheckConstraint(
                condition=models.Q(funnel_stage__in=FunnelStage.values),
                name="company_funnel_stage_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["funnel_stage"]),
            models.Index(fields=["owner"]),
            models.Index(fields=["name", "id"]),  # the list's default order, paged
            # A domain is unique whatever its case: found by its lower case (crm.selectors).
            models.Index(Lower("domain"), name="company_domain_lower"),
        ]

    def __str__(self) -> str:
        return self.name


class Contact(TimeStamped):
    company = models.ForeignKey(
        "crm.Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=50, blank=True)
    title = models.CharField(max_length=150, blank=True)
    buying_role = models.CharField(max_length=20, choices=BuyingRole.choices, blank=True)
    channel = models.CharField(max_length=20, choices=Channel.choices, blank=True)
    consent = models.BooleanField(default=False, help_text="Agreed to receive marketing.")
    consent_text = models.TextField(blank=True, help_text="The wording they agreed to.")
    consent_at = models.DateTimeField(null=True, blank=True, help_text="When they agreed.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contacts",
    )
    inquired_at = models.DateTimeField(
        null=True, blank=True, help_text="When the contact first expressed interest."
    )
    qualified_at = models.DateTimeField(
        null=True, blank=True, help_text="Since when the contact meets the lead definition."
    )
    qualified_by = models.ForeignKey(
        "leads.LeadDefinition",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The definition version that last made it qualify or stop; none: by hand.",
    )
    referred_by = models.ForeignKey(
        "crm.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="referrals"
    )
    funnel_stage = models.CharField(
        max_length=20, choices=FunnelStage.choices, default=FunnelStage.SUSPECT, editable=False
    )
    funnel_stage_since = models.DateTimeField(null=True, blank=True, editable=False)
    first_campaign = models.CharField(
        max_length=100,
        blank=True,
        editable=False,
        help_text="The campaign that first touched them.",
    )
    last_campaign = models.CharField(
        max_length=100,
        blank=True,
        editable=False,
        help_text="The last campaign that touched them before they qualified.",
    )
    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    erased_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When their personal data was erased on request (crm/privacy.py).",
    )

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["email"], condition=~models.Q(email=""), name="contact_email_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(funnel_stage__in=FunnelStage.values),
                name="contact_funnel_stage_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(referred_by=models.F("pk")), name="contact_not_self_referred"
            ),
        ]
        indexes = [
            models.Index(fields=["funnel_stage"]),
            models.Index(fields=["last_name", "first_name", "id"]),  # the list's default order
            models.Index(fields=["qualified_at"]),  # the scorecard: the leads qualified in a month
            # The campaign report: a campaign's people, by first or last touch.
            models.Index(fields=["first_campaign"]),
            models.Index(fields=["last_campaign"]),
            # An address is unique whatever its case: found by its lower case (crm.selectors).
            models.Index(Lower("email"), name="contact_email_lower"),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class ErasedIdentity(models.Model):
    """An e-mail address or external id of a contact erased on request, kept only as a
    digest (crm/erased.py): a new contact or an imported row with it is refused, so an old
    list does not bring the person back, until the owner allows it again."""

    class Kind(models.TextChoices):
        EMAIL = "email", "E-mail address"
        EXTERNAL_ID = "external_id", "External id"

    contact = models.ForeignKey(
        "crm.Contact", on_delete=models.CASCADE, related_name="erased_identities"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of erased contact #{self.contact_id}"
