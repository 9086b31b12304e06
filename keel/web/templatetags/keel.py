from decimal import Decimal

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.html import format_html

from keel.accounts.models import User
from keel.imports.access import can_import
from keel.pipeline.models import Deal
from keel.web.lists import Listing

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


@register.filter
def page_url(listing: Listing, number: int) -> str:
    return listing.url(page=str(number))


@register.simple_tag
def sort_header(listing: Listing, key: str, label: str) -> str:
    """A column header that sorts the list by `key`, marked for screen readers when in force."""
    state = listing.sorted_by(key)
    arrow = {"ascending": " ▲", "descending": " ▼"}.get(state, "")
    aria = format_html(' aria-sort="{}"', state) if state else ""
    return format_html('<a href="{}"{}>{}{}</a>', listing.sort_url(key), aria, label, arrow)


@register.filter
def may_import(user: User) -> bool:
    """Whether the navigation shows Imports to `user`."""
    return can_import(user)
