"""Turn the ids an API payload names into the objects the services take.

A reference to something that does not exist (or that the caller may not read) is a bad
input, 422, naming the field; the resource in the path is what answers 404.
"""

from typing import Any

from django.db import models

from keel.accounts.models import User
from keel.core.exceptions import InvalidInput
from keel.crm.access import companies_visible_to, contacts_visible_to
from keel.crm.models import Company, Contact


def _missing(field: str, what: str, pk: int) -> InvalidInput:
    return InvalidInput(f"There is no {what} #{pk}.", details=[f"{field}: no {what} #{pk}"])


def person(pk: int, *, field: str = "owner_id") -> User:
    found = User.objects.filter(pk=pk, is_active=True).first()
    if found is None:
        raise _missing(field, "active user", pk)
    return found


def company(*, user: User, pk: int, field: str = "company_id") -> Company:
    found = companies_visible_to(user).filter(pk=pk).first()
    if found is None:
        raise _missing(field, "company", pk)
    return found


def contact(*, user: User, pk: int, field: str = "contact_id") -> Contact:
    found = contacts_visible_to(user).filter(pk=pk).first()
    if found is None:
        raise _missing(field, "contact", pk)
    return found


def patch_data(*, model: type[models.Model], data: dict[str, Any], user: User) -> dict[str, Any]:
    """A PATCH payload (only the fields sent) as a service's `data`: ids become objects,
    and null clears a text or choice field (stored as "")."""
    result: dict[str, Any] = {}
    for key, value in data.items():
        if key == "owner_id":
            result["owner"] = None if value is None else person(value)
        elif key == "company_id":
            result["company"] = None if value is None else company(user=user, pk=value)
        elif key == "referred_by_id":
            result["referred_by"] = None if value is None else contact(user=user, pk=value)
        else:
            field = model._meta.get_field(key)
            blank_text = isinstance(field, models.CharField | models.TextField) and not field.null
            result[key] = "" if value is None and blank_text else value
    return result
