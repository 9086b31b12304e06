"""Who may see and keep the collateral library.

Marketers, sales managers and the owner keep it: they create, edit, activate, retire and
upload versions of any piece. People who sell may submit a tool they made: it enters as
a draft with them as its submitter, which they may still edit until it is reviewed.
Everyone signed in sees the active pieces; drafts and retired pieces only the keepers,
and a draft its submitter. Pages, file downloads and services all ask here.
"""

from django.db.models import Q, QuerySet

from keel.accounts.models import Role, User
from keel.accounts.permissions import SELLING_ROLES
from keel.collateral.models import Collateral, Status
from keel.core.exceptions import NotAllowed

KEEPING_ROLES = frozenset({Role.OWNER, Role.SALES_MANAGER, Role.MARKETER})


def can_keep(user: User) -> bool:
    return user.is_active and (user.is_superuser or user.role in KEEPING_ROLES)


def ensure_can_keep(user: User) -> None:
    if not can_keep(user):
        raise NotAllowed(
            f"{user} may not change the collateral library: marketers, sales managers and "
            "the owner keep it."
        )


def can_submit(user: User) -> bool:
    """Whether `user` may add a tool they made, as a draft for marketing's review."""
    return can_keep(user) or (user.is_active and user.role in SELLING_ROLES)


def ensure_can_submit(user: User) -> None:
    if not can_submit(user):
        raise NotAllowed(f"{user} may not submit collateral: people who sell may.")


def can_change(user: User, collateral: Collateral) -> bool:
    """Edit a piece or upload a version of it: the keepers any piece, a submitter their
    own draft until it is reviewed."""
    if can_keep(user):
        return True
    return (
        can_submit(user)
        and collateral.status == Status.DRAFT
        and collateral.submitted_by_id is not None
        and collateral.submitted_by_id == user.pk
    )


def ensure_can_change(user: User, collateral: Collateral) -> None:
    if not can_change(user, collateral):
        raise NotAllowed(
            f"{user} may not change {collateral}: marketers, sales managers and the owner "
            "keep the library; a submitter may change their own draft."
        )


def collateral_visible(user: User) -> QuerySet[Collateral]:
    """The pieces `user` may see, for `.filter()`, `get_object_or_404` and the files."""
    pieces = Collateral.objects.all()
    if not user.is_active:
        return pieces.none()
    if can_keep(user):
        return pieces
    mine = Q(status=Status.DRAFT, submitted_by_id=user.pk) if can_submit(user) else Q()
    if not mine:
        return pieces.filter(status=Status.ACTIVE)
    return pieces.filter(Q(status=Status.ACTIVE) | mine)


# The library's reports cover every deal in the business: the owner, sales managers,
# marketing and viewers read them; salespeople, specialists and experts do not.
REPORT_READING_ROLES = frozenset({Role.OWNER, Role.SALES_MANAGER, Role.MARKETER, Role.VIEWER})


def can_read_reports(user: User) -> bool:
    return user.is_active and (user.is_superuser or user.role in REPORT_READING_ROLES)
