"""Who may import what, and whose import runs they see: the one place these rules live.

An import writes many records at once, under other people's names (a deal's owner comes
from the file), so it is for the people who answer for the whole book:
- deals and activities: the owner and sales managers;
- companies and contacts: those, and marketers (lead lists, event attendees).
Salespeople, specialists, experts and viewers import nothing. A run's page and its
rejected rows are seen by the person who ran it, and by the owner and sales managers.
"""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from keel.accounts.models import Role, User
from keel.accounts.permissions import is_manager
from keel.core.exceptions import NotAllowed
from keel.imports.models import ImportKind, ImportRun

ACCOUNT_KINDS = frozenset({ImportKind.COMPANIES, ImportKind.CONTACTS})


def importable_kinds(user: User) -> list[str]:
    """The kinds `user` may import, in ImportKind's order."""
    if not user.is_active:
        return []
    if is_manager(user):
        return list(ImportKind.values)
    if user.role == Role.MARKETER:
        return [k for k in ImportKind.values if k in ACCOUNT_KINDS]
    return []


def can_import(user: User, kind: str | None = None) -> bool:
    """Whether `user` may import `kind` (any kind, when None)."""
    kinds = importable_kinds(user)
    return bool(kinds) if kind is None else kind in kinds


def ensure_can_import(user: User, kind: str) -> None:
    if not can_import(user, kind):
        raise NotAllowed(f"{user} may not import {kind}.")


def runs_visible_to(user: User) -> QuerySet[ImportRun]:
    if not can_import(user):
        return ImportRun.objects.none()
    if is_manager(user):
        return ImportRun.objects.all()
    return ImportRun.objects.filter(by=user)


def run_visible(*, user: User, pk: int) -> ImportRun:
    """The run `pk`, if `user` may see it; else Http404."""
    return get_object_or_404(runs_visible_to(user).select_related("by", "process"), pk=pk)
