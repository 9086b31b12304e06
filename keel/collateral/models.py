"""The collateral library: sales tools mapped to the buyer's steps they serve, their files
and versions, every use in a deal, the buyer's share links and their views, and what
sales asks marketing to make."""

import secrets

from django.conf import settings
from django.db import models

from keel.core.models import TimeStamped


class Kind(models.TextChoices):
    DECK = "deck", "Deck"
    CASE_STUDY = "case_study", "Case study"
    ONE_PAGER = "one_pager", "One-pager"
    PRICE_SHEET = "price_sheet", "Price sheet"
    PROPOSAL_TEMPLATE = "proposal_template", "Proposal template"
    VIDEO = "video", "Video"
    LINK = "link", "Link"
    OTHER = "other", "Other"


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class Collateral(TimeStamped):
    """A sales tool with a defined role: the buyer steps and sales stages it serves.

    `buyer_steps` and `stages` hold names (a stage is named alike in every version of its
    process). An active piece serves at least one of either: no tool without a role in
    the buyer's process. Its content is its latest file version, or `url` for a link.
    """

    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    buyer_steps = models.JSONField(default=list, blank=True)
    stages = models.JSONField(default=list, blank=True)
    url = models.URLField(max_length=1000, blank=True, help_text="For a link or a hosted video.")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="A salesperson who made it: it waits as a draft for marketing's review.",
    )

    class Meta:
        ordering = ["title", "id"]
        verbose_name_plural = "collateral"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=Kind.values), name="collateral_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=Status.values), name="collateral_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(url="")
                | models.Q(url__startswith="http://")
                | models.Q(url__startswith="https://"),
                name="collateral_url_http",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "kind"]),
            models.Index(fields=["title", "id"]),
        ]

    def __str__(self) -> str:
        return self.title


class CollateralFile(models.Model):
    """One uploaded version of a piece; a new upload keeps the old ones."""

    collateral = models.ForeignKey(
        "collateral.Collateral", on_delete=models.CASCADE, related_name="files"
    )
    number = models.PositiveIntegerField()
    file = models.FileField(upload_to="collateral/%Y/%m/", max_length=300)
    name = models.CharField(max_length=200, help_text="The name it was uploaded with.")
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100, help_text="As read from its content.")
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["collateral", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["collateral", "number"], name="collateral_file_number"),
        ]

    def __str__(self) -> str:
        return f"{self.collateral} v{self.number}"


class CollateralUse(models.Model):
    """A piece sent or shown in a deal: who, to whom, when (and the activity it logged)."""

    collateral = models.ForeignKey(
        "collateral.Collateral", on_delete=models.PROTECT, related_name="uses"
    )
    version = models.ForeignKey(
        "collateral.CollateralFile",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    deal = models.ForeignKey(
        "pipeline.Deal",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="collateral_uses",
    )
    contact = models.ForeignKey(
        "crm.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    stage = models.CharField(max_length=100, blank=True, help_text="The deal's stage then.")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    activity = models.ForeignKey(
        "activities.Activity", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["collateral", "at"]),
            models.Index(fields=["deal", "at"]),
            models.Index(fields=["at", "collateral"]),
            models.Index(fields=["by", "at"]),
        ]

    def __str__(self) -> str:
        return f"{self.collateral} used {self.at:%Y-%m-%d}"


def _share_token() -> str:
    return secrets.token_urlsafe(24)


class ShareLink(models.Model):
    """A buyer's way to one piece, with no sign-in: unguessable, revocable, expiring."""

    use = models.OneToOneField(
        "collateral.CollateralUse", on_delete=models.CASCADE, related_name="link"
    )
    token = models.CharField(max_length=64, unique=True, default=_share_token, editable=False)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"Link to {self.use.collateral}"


class ShareView(models.Model):
    """One opening of a share link; `seconds` is how long the page stayed open, when the
    browser tells (a beacon as the page is left)."""

    link = models.ForeignKey("collateral.ShareLink", on_delete=models.CASCADE, related_name="views")
    at = models.DateTimeField()
    seconds = models.PositiveIntegerField(null=True, blank=True)
    beacon = models.CharField(max_length=64, unique=True, default=_share_token, editable=False)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["link", "at"])]

    def __str__(self) -> str:
        return f"{self.link} viewed {self.at:%Y-%m-%d %H:%M}"


class RequestStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    DECLINED = "declined", "Declined"


class CollateralRequest(TimeStamped):
    """A tool sales asked for: what, for which buyer step, an example deal; marketing's
    triage and, when done, the piece that answers it."""

    what = models.CharField(max_length=300)
    buyer_step = models.CharField(max_length=200, blank=True)
    example_deal = models.ForeignKey(
        "pipeline.Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=12, choices=RequestStatus.choices, default=RequestStatus.OPEN
    )
    reason = models.TextField(blank=True, help_text="Why it was declined.")
    answer = models.ForeignKey(
        "collateral.Collateral", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=RequestStatus.values),
                name="collateral_request_status_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="declined") | ~models.Q(reason=""),
                name="collateral_request_declined_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["status", "buyer_step"])]

    def __str__(self) -> str:
        return self.what
