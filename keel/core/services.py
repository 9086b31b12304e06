from typing import Any, TypeVar

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.utils import timezone

from keel.accounts.models import User
from keel.core.exceptions import InvalidInput
from keel.core.models import AuditEntry

M = TypeVar("M", bound=models.Model)


def _plain(value: Any) -> Any:
    """A value as the audit log's JSON keeps it."""
    if isinstance(value, models.Model):
        return value.pk
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def model_update(*, instance: M, data: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """Set the given fields from `data`, validate, and save only what changed.

    Returns {field: [old, new]} for the fields that changed, for the audit log.
    """
    changes: dict[str, Any] = {}
    for field in fields:
        if field not in data:
            continue
        old, new = getattr(instance, field), data[field]
        if old != new:
            changes[field] = [_plain(old), _plain(new)]
            setattr(instance, field, new)
    if changes:
        validate(instance)
        update_fields = list(changes)
        if any(f.name == "updated_at" for f in instance._meta.get_fields()):
            update_fields.append("updated_at")
        instance.save(update_fields=update_fields)
    return changes


def validate(instance: models.Model) -> None:
    """Run the model's validation; its errors become one InvalidInput naming each field."""
    try:
        instance.full_clean()
    except ValidationError as error:
        details = [
            f"{field}: {message}" if field != NON_FIELD_ERRORS else message
            for field, messages in error.message_dict.items()
            for message in messages
        ]
        raise InvalidInput(
            f"The {instance._meta.verbose_name} was not saved: {len(details)} problem"
            f"{'s' if len(details) > 1 else ''}.",
            details=details,
        ) from None


def audit_record(
    *,
    actor: User | None,
    action: str,
    obj: models.Model,
    summary: str = "",
    changes: dict[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        at=timezone.now(),
        actor=actor,
        action=action,
        content_type=ContentType.objects.get_for_model(obj),
        object_id=str(obj.pk),
        summary=summary[:300],
        changes=changes or {},
    )
