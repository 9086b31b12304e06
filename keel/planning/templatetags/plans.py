"""How the planning writes its figures: shares as percentages, states as badges."""

from decimal import Decimal

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from keel.planning.rules import Sla

register = template.Library()

MISSING = "—"
SLA_BADGES = {
    Sla.OPEN: ("", "Open"),
    Sla.ON_TIME: ("good", "On time"),
    Sla.LATE: ("warn", "Late"),
    Sla.OVERDUE: ("bad", "Overdue"),
    Sla.MISSED: ("bad", "Missed"),
}


@register.filter
def share(value: Decimal | float | None) -> str:
    """0.834 → 83%; — when there is nothing to judge."""
    return MISSING if value is None else f"{Decimal(value) * 100:.0f}%"


@register.filter
def sla_badge(state: Sla) -> SafeString:
    kind, label = SLA_BADGES[Sla(state)]
    return format_html('<span class="badge {}">{}</span>', kind, label)


@register.filter
def track_badge(on_track: bool) -> SafeString:
    if on_track:
        return format_html('<span class="badge good">{}</span>', "On track")
    return format_html('<span class="badge bad">{}</span>', "Behind")
