import zoneinfo
from functools import cache

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value and value not in _zone_names():
        raise ValidationError(f"{value!r} is not a known time zone (e.g. Europe/Berlin, UTC).")


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    SALES_MANAGER = "sales_manager", "Sales manager"
    SALESPERSON = "salesperson", "Salesperson"
    SALES_SPECIALIST = "sales_specialist", "Sales specialist"
    SUBJECT_MATTER_EXPERT = "subject_matter_expert", "Subject-matter expert"
    MARKETER = "marketer", "Marketer"
    VIEWER = "viewer", "Viewer"


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    manager = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_teams",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    role = models.CharField(max_length=30, choices=Role.choices, default=Role.SALESPERSON)
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text="Where they work (e.g. Europe/Rome); blank: the business's time zone.",
    )

    class Meta:
        ordering = ["first_name", "last_name", "username"]
        constraints = [
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="user_role_valid")
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """Their time zone: their days, "each weekday", and when a day's work is due."""
        return zoneinfo.ZoneInfo(self.time_zone or settings.TIME_ZONE)


class TokenScope(models.TextChoices):
    READ = "read", "Read"
    READ_WRITE = "read_write", "Read and write"


class ApiToken(models.Model):
    """A personal API token: it acts as its user, within its scope.

    Only a hash of the secret is stored; the secret itself is shown once, at creation.
    The prefix (the secret's first characters) is kept in clear to find the row and to let
    a person tell their tokens apart.
    """

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, db_index=True)
    hashed_secret = models.CharField(max_length=64)
    scope = models.CharField(max_length=20, choices=TokenScope.choices, default=TokenScope.READ)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scope__in=TokenScope.values), name="api_token_scope_valid"
            ),
            models.UniqueConstraint(fields=["hashed_secret"], name="api_token_secret_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def can_write(self) -> bool:
        return self.scope == TokenScope.READ_WRITE


class UserSession(models.Model):
    """One signed-in browser session of a user, so that they can list and end their own.

    Django's session table cannot be searched by user (its data is encoded), so each sign-in
    writes a row here keyed by the session's key. Ending the Django session signs the browser
    out; the row goes with it.
    """

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="sessions")
    session_key = models.CharField(max_length=40, unique=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        indexes = [models.Index(fields=["user", "-last_seen_at"])]

    def __str__(self) -> str:
        return f"{self.user} from {self.ip or 'an unknown address'}"
