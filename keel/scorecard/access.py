"""Who may write the scorecard's figures and goals.

A hand-entered value: the metric's owner (the person who answers for the figure), sales
managers and the business's owner. An annual goal is a commitment of the business, so
only sales managers and the owner set it, not the metric's owner alone. Everyone may
read the scorecard.
"""

from keel.accounts.models import User
from keel.accounts.permissions import is_manager
from keel.core.exceptions import NotAllowed
from keel.scorecard.models import Metric


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
