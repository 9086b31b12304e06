"""Who may push marketing events and run lead forms: the people who own what marketing
measures.

Marketers run the campaigns the events belong to; managers and the owner may wire up the
website or a marketing tool for them. Salespeople, specialists and viewers may not: an
event moves contacts up the funnel, which is evidence the scorecard counts.
"""

from keel.accounts.models import Role, User
from keel.core.exceptions import NotAllowed

EVENT_PUSHING_ROLES = frozenset({Role.OWNER, Role.SALES_MANAGER, Role.MARKETER})


def can_push_events(user: User) -> bool:
    return user.is_active and (user.is_superuser or user.role in EVENT_PUSHING_ROLES)


def ensure_can_push_events(user: User) -> None:
    if not can_push_events(user):
        raise NotAllowed(
            f"{user} may not push marketing events: marketers, sales managers and the owner may."
        )


# The same people run the web forms that capture leads: the forms feed their campaigns.
FORM_MANAGING_ROLES = EVENT_PUSHING_ROLES


def can_manage_forms(user: User) -> bool:
    return user.is_active and (user.is_superuser or user.role in FORM_MANAGING_ROLES)


def ensure_can_manage_forms(user: User) -> None:
    if not can_manage_forms(user):
        raise NotAllowed(
            f"{user} may not create or change lead forms: marketers, sales managers and the "
            "owner may."
        )


# Campaigns are marketing's spend: the people who run the forms and push the events keep
# them. Everyone signed in reads them and their report.
CAMPAIGN_MANAGING_ROLES = EVENT_PUSHING_ROLES


def can_manage_campaigns(user: User) -> bool:
    return user.is_active and (user.is_superuser or user.role in CAMPAIGN_MANAGING_ROLES)


def ensure_can_manage_campaigns(user: User) -> None:
    if not can_manage_campaigns(user):
        raise NotAllowed(
            f"{user} may not create or change campaigns: marketers, sales managers and the "
            "owner may."
        )
