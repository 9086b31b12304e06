"""Who may manage webhooks: the business owner and superusers, nobody else.

An endpoint receives every deal's data whoever owns it, so it is the owner's decision.
"""

from keel.accounts.models import Role, User
from keel.core.exceptions import NotAllowed


def can_manage_webhooks(user: User) -> bool:
    return user.is_active and (user.is_superuser or user.role == Role.OWNER)


def ensure_can_manage_webhooks(user: User) -> None:
    if not can_manage_webhooks(user):
        raise NotAllowed("Only the owner of the business manages webhooks.")
