"""Check-ins and trade-off rules: what a manager tells a person about their work."""

from django.db import transaction
from django.utils import timezone

from keel.accounts.models import User
from keel.core.exceptions import InvalidInput
from keel.core.services import audit_record, validate
from keel.planning.access import (
    ensure_can_reply,
    ensure_can_set_trade_off,
    ensure_can_write_check_in,
)
from keel.planning.models import CheckIn, TradeOffRule

TEXT_LIMIT = 4000


def _text(value: str, *, what: str, limit: int = TEXT_LIMIT) -> str:
    text = value.strip()
    if not text:
        raise InvalidInput(f"Write the {what}: it is empty.")
    if len(text) > limit:
        raise InvalidInput(f"The {what} is {len(text):,} characters; keep it under {limit:,}.")
    return text


@transaction.atomic
def check_in_write(*, person: User, by: User, text: str) -> CheckIn:
    """A manager's short written assessment of `person`'s work."""
    ensure_can_write_check_in(by, person)
    check_in = CheckIn(person=person, author=by, text=_text(text, what="check-in"))
    validate(check_in)
    check_in.save()
    audit_record(actor=by, action="check_in.create", obj=check_in, summary=str(check_in))
    return check_in


@transaction.atomic
def check_in_reply(*, check_in: CheckIn, by: User, reply: str) -> CheckIn:
    """The person's answer; answering again replaces it, and the audit keeps the old one."""
    ensure_can_reply(by, check_in)
    current = CheckIn.objects.select_for_update().get(pk=check_in.pk)
    text = _text(reply, what="answer")
    changes = {"reply": [current.reply, text]} if current.reply else {}
    current.reply, current.replied_at = text, timezone.now()
    current.save(update_fields=["reply", "replied_at"])
    audit_record(
        actor=by, action="check_in.reply", obj=current, summary=str(current), changes=changes
    )
    return current


@transaction.atomic
def trade_off_set(*, person: User, by: User, text: str) -> TradeOffRule:
    """The rule `person` weighs their work by when it does not all fit."""
    ensure_can_set_trade_off(by, person)
    text = _text(text, what="trade-off rule", limit=1000)
    rule = TradeOffRule.objects.select_for_update().filter(person=person).first()
    before = rule.text if rule is not None else ""
    if rule is None:
        rule = TradeOffRule(person=person)
    rule.text, rule.set_by = text, by
    rule.save()
    audit_record(
        actor=by,
        action="trade_off.set",
        obj=rule,
        summary=f"Trade-off rule for {person}",
        changes={"text": [before, text]},
    )
    return rule
