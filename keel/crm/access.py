"""Who may read and change companies and contacts: the one place these rules live.

Companies and contacts are shared across the business: every active user reads them.
Changing them is for the people who work them (the selling roles and marketing); a viewer
only reads.
"""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from keel.accounts.models import Role, User
from keel.accounts.permissions import SELLING_ROLES
from keel.core.exceptions import NotAllowed
from keel.crm.models import Company, Contact

EDITING_ROLES = SELLING_ROLES | {Role.MARKETER}


def can_edit_accounts(user: User) -> bool:
    """Whether `user` may create and edit companies and contacts."""
    return user.is_active and (user.is_superuser or user.role in EDITING_ROLES)


def ensure_can_edit_accounts(user: User) -> None:
    if not can_edit_accounts(user):
        raise NotAllowed(f"{user} may read companies and contacts but not change them.")


def companies_visible_to(user: User) -> QuerySet[Company]:
    return Company.objects.all() if user.is_active else Company.objects.none()


def contacts_visible_to(user: User) -> QuerySet[Contact]:
    return Contact.objects.all() if user.is_active else Contact.objects.none()


def company_visible(*, user: User, pk: int) -> Company:
    """The company `pk` with its owner, if `user` may read it; else Http404."""
    return get_object_or_404(companies_visible_to(user).select_related("owner"), pk=pk)


def contact_visible(*, user: User, pk: int) -> Contact:
    """The contact `pk` with its company, owner and referrer, if `user` may read it; else
    Http404."""
    contacts = contacts_visible_to(user).select_related("company", "owner", "referred_by")
    return get_object_or_404(contacts, pk=pk)
