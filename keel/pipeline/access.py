"""Who may see and change which deals: the one place these record-level rules live."""

from django.conf import settings
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from keel.accounts.models import Role, User
from keel.accounts.permissions import SELLING_ROLES, manages, team_members
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


# Roles that read every deal: the owner runs the business, a viewer (an accountant, an
# investor) reads it, marketing follows what its leads became.
READ_ALL_ROLES = frozenset({Role.OWNER, Role.VIEWER, Role.MARKETER})


def deals_visible_to(user: User) -> QuerySet[Deal]:
    """The deals `user` may read: everyone's, their team's, or (by setting) their own.

    Salespeople see their team's pipeline unless KEEL_PIPELINE_VISIBILITY=own; a manager
    always sees their team's. Writes are checked per deal by can_edit_deal.
    """
    if not user.is_active:
        return Deal.objects.none()
    if user.is_superuser or user.role in READ_ALL_ROLES:
        return Deal.objects.all()
    team_wide = user.role == Role.SALES_MANAGER or settings.KEEL_PIPELINE_VISIBILITY == "team"
    if team_wide and user.team_id is not None:
        return Deal.objects.filter(owner_id__in=team_members(user))
    return Deal.objects.filter(owner=user)


def deal_visible(*, user: User, pk: int) -> Deal:
    """The deal `pk` with its company, owner and stage, if `user` may read it; else Http404
    (an unseen deal and a missing one look the same from outside)."""
    queryset = deals_visible_to(user).select_related(
        "company", "owner", "stage", "process", "updated_by"
    )
    return get_object_or_404(queryset, pk=pk)


def deals_editable_by(user: User) -> QuerySet[Deal]:
    if not user.is_active or user.role not in SELLING_ROLES:
        return Deal.objects.none()
    if user.is_superuser or user.role == Role.OWNER:
        return Deal.objects.all()
    if user.role == Role.SALES_MANAGER and user.team_id is not None:
        return Deal.objects.filter(owner_id__in=team_members(user))
    return Deal.objects.filter(owner=user)
