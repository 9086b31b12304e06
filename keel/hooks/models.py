"""Outgoing webhooks: the endpoints the owner registers and every delivery made to them."""

import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from keel.core.models import TimeStamped

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class WebhookEvent(models.TextChoices):
    DEAL_STAGE_CHANGED = "deal.stage_changed", "Deal stage changed"
    DEAL_WON = "deal.won", "Deal won"
    DEAL_LOST = "deal.lost", "Deal lost"
    # Sent only by the "send test event" button, whatever the endpoint subscribes to.
    TEST = "webhook.test", "Test event"


SUBSCRIBABLE_EVENTS = [
    WebhookEvent.DEAL_STAGE_CHANGED,
    WebhookEvent.DEAL_WON,
    WebhookEvent.DEAL_LOST,
]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed, will retry"
    ABANDONED = "abandoned", "Abandoned"


def new_secret() -> str:
    """A signing secret: 192 random bits, prefixed so it is recognisable in a config file."""
    return f"whsec_{secrets.token_hex(24)}"


def validate_endpoint_url(url: str) -> None:
    """https, except for a receiver on this machine or in a development run (KEEL_DEBUG=1)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise ValidationError("Use an https:// URL.", code="scheme")
    if parts.scheme == "http" and not settings.DEBUG and parts.hostname not in LOCAL_HOSTS:
        raise ValidationError(
            "Use an https:// URL: deal data must not cross the network unencrypted "
            "(plain http is accepted only for localhost).",
            code="https",
        )


def validate_events(events: object) -> None:
    if not isinstance(events, list) or not events:
        raise ValidationError("Choose at least one event.", code="empty")
    unknown = [e for e in events if e not in SUBSCRIBABLE_EVENTS]
    if unknown:
        known = ", ".join(SUBSCRIBABLE_EVENTS)
        raise ValidationError(
            f"Unknown events: {', '.join(map(str, unknown))}; the events are: {known}.",
            code="unknown",
        )


class WebhookEndpoint(TimeStamped):
    url = models.URLField("URL", max_length=500, validators=[validate_endpoint_url])
    description = models.CharField(max_length=200, blank=True)
    secret = models.CharField(
        max_length=64,
        default=new_secret,
        editable=False,
        help_text="Signs every payload (Keel-Signature); the receiver verifies with it.",
    )
    events = models.JSONField(default=list, validators=[validate_events])
    is_active = models.BooleanField("active", default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-is_active", "url", "id"]

    def __str__(self) -> str:
        return self.description or self.url


class WebhookDelivery(models.Model):
    """One event sent (or to be sent) to one endpoint, with the outcome of its last attempt.

    Retries reuse the row: `attempts` counts them, `next_attempt_at` is when the queued
    task may try again (None while an attempt is in flight or when no more are planned).
    """

    endpoint = models.ForeignKey(
        "hooks.WebhookEndpoint", on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["endpoint", "-created_at", "-id"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=DeliveryStatus.values),
                name="webhook_delivery_status_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=DeliveryStatus.SUCCEEDED)
                | models.Q(delivered_at__isnull=False),
                name="webhook_delivery_succeeded_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.status})"

    @property
    def can_retry(self) -> bool:
        return self.status in {DeliveryStatus.FAILED, DeliveryStatus.ABANDONED}
