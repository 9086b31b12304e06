from decimal import Decimal

from django import template
from django.conf import settings
from django.utils import timezone

from keel.pipeline.models import Deal

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str = "") -> str:
    """Whole units with thousands separators: the board shows sizes, not cents."""
    if amount is None:
        return "—"
    return f"{currency or settings.KEEL_CURRENCY} {amount:,.0f}"


@register.filter
def days_in_stage(deal: Deal) -> int:
    return (timezone.now() - deal.stage_entered_at).days
