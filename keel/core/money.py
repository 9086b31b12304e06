"""Money is a Decimal amount with an ISO 4217 currency, never a float."""

import re
from decimal import ROUND_HALF_EVEN, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError

CENT = Decimal("0.01")


def default_currency() -> str:
    return str(settings.KEEL_CURRENCY)


def validate_currency(value: str) -> None:
    if not re.fullmatch(r"[A-Z]{3}", value or ""):
        raise ValidationError(f"{value!r} is not an ISO 4217 currency code (e.g. EUR, USD).")


def quantize(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def format_money(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return "—"
    return f"{currency} {quantize(amount):,.2f}"
