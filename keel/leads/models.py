from django.conf import settings
from django.db import models


class EventType(models.TextChoices):
    VISIT = "visit", "Website visit"
    DOWNLOAD = "download", "Download"
    INQUIRY = "inquiry", "Inquiry"
    FORM_FILL = "form_fill", "Form fill"


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
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} at {self.occurred_at:%Y-%m-%d %H:%M}"
