"""How the scorecard writes its figures: by unit, and missing as a dash, never as zero."""

from decimal import Decimal

from django import template
from django.conf import settings
from django.utils.html import format_html
from django.utils.safestring import SafeString

from keel.scorecard import rules

register = template.Library()

MISSING = "—"


@register.filter
def figure(value: Decimal | None, unit: str) -> str:
    """1,234 · EUR 12,500 · 75.0% · 20.0 d; — when there is no figure.

    Money and counts in whole units: the scorecard shows sizes; the export keeps cents.
    """
    if value is None:
        return MISSING
    if unit == rules.Unit.MONEY:
        return f"{settings.KEEL_CURRENCY} {value:,.0f}"
    if unit == rules.Unit.PERCENT:
        return f"{value:,.1f}%"
    if unit == rules.Unit.DAYS:
        return f"{value:,.1f} d"
    if unit == rules.Unit.COUNT or value == value.to_integral_value():
        return f"{value:,.0f}"  # a projected count of 933.6 reads as 934
    return f"{value:,}"


@register.filter
def signed(value: Decimal | None, unit: str) -> str:
    """A change, with its sign: +3, −EUR 1,200, +2.5%."""
    if value is None:
        return MISSING
    text = figure(abs(value), unit)
    return f"+{text}" if value > 0 else f"−{text}" if value < 0 else text


PACE_BADGES = {
    rules.Pace.ON_TRACK: "good",
    rules.Pace.BEHIND: "bad",
    rules.Pace.NO_DATA: "warn",
    rules.Pace.NO_GOAL: "",
}


@register.filter
def pace_badge(pace: rules.Pace) -> SafeString:
    return format_html('<span class="badge {}">{}</span>', PACE_BADGES[pace], pace.label)
