"""Who may see and change which deals: the one place these record-level rules live."""

from django.db.models import Q, QuerySet

from keel.accounts.models import Role, User
from keel.accounts.permissions import SELLING_ROLES, manages
from keel.core.exceptions import NotAllowed
from keel.pipeline.models import Deal


def can_edit_deal(user: User, deal: Deal) -> bool:
    """A salesperson edits their own deals, a manager their team's, the owner everyone's."""
    if not user.is_active or user.role not in SELLING_ROLES:
        return False
    return deal.owner_id == user.pk or manages(user, deal.owner)


def ensure_can_edit_deal(user: User, deal: Deal) -> None:
    if not can_edit_deal(user, deal):
        raise NotAllowed(f"{user} may not change the deal {deal.name or '(new)'}.")


def deals_visible_to(user: User) -> QuerySet[Deal]:
    """Every active user reads the pipeline; writes are checked per deal."""
    if not user.is_active:
        return Deal.objects.none()
    return Deal.objects.all()


def deals_editable_by(user: User) -> QuerySet[Deal]:
    if not user.is_active or user.role not in SELLING_ROLES:
        return Deal.objects.none()
    if user.is_superuser or user.role == Role.OWNER:
        return Deal.objects.all()
    if user.role == Role.SALES_MANAGER and user.team_id is not None:
        return Deal.objects.filter(Q(owner=user) | Q(owner__team_id=user.team_id))
    return Deal.objects.filter(owner=user)
