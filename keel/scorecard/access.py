"""Who may write the scorecard's figures and goals.

A hand-entered value: the metric's owner (the person who answers for the figure), sales
managers and the business's owner. An annual goal is a commitment of the business, so
only sales managers and the owner set it, not the metric's owner alone.

Reading: everyone signed in sees the company-wide scorecard. A team's is seen by its
members, its manager and the owner; a person's by that person and whoever manages them
(accounts.permissions.manages), so nobody reads a colleague's figures uninvited.
"""

from keel.accounts.models import Role, Team, User
from keel.accounts.permissions import is_manager, manages
from keel.core.exceptions import NotAllowed
from keel.scorecard.models import Metric


def can_view_scope(user: User, *, team: Team | None = None, person: User | None = None) -> bool:
    """Whether `user` may read figures for `team`, for `person`, or (neither) the company."""
    if not user.is_active:
        return False
    if person is not None:
        return person.pk == user.pk or manages(user, person)
    if team is not None:
        if user.is_superuser or user.role == Role.OWNER:
            return True
        return team.pk == user.team_id or (is_manager(user) and team.manager_id == user.pk)
    return True


def ensure_can_view_scope(
    user: User, *, team: Team | None = None, person: User | None = None
) -> None:
    if not can_view_scope(user, team=team, person=person):
        whose = f"{person}'s" if person is not None else f"team {team}'s"
        raise NotAllowed(
            f"{user} may not see {whose} figures: they are shown to the people concerned, "
            "those who manage them and the owner."
        )


def can_enter_value(user: User, metric: Metric) -> bool:
    if not user.is_active:
        return False
    return is_manager(user) or (metric.owner_id is not None and metric.owner_id == user.pk)


def ensure_can_enter_value(user: User, metric: Metric) -> None:
    if not can_enter_value(user, metric):
        raise NotAllowed(
            f"{user} may not enter values for {metric}: its owner, sales managers "
            "and the owner of the business may."
        )


def can_set_goal(user: User) -> bool:
    return is_manager(user)


def ensure_can_set_goal(user: User, metric: Metric) -> None:
    if not can_set_goal(user):
        raise NotAllowed(
            f"{user} may not set the goal for {metric}: sales managers and the owner may."
        )
