"""Who may write the scorecard's figures and goals.

A hand-entered value: the metric's owner (the person who answers for the figure), sales
managers and the business's owner. An annual goal is a commitment of the business, so
only sales managers and the owner set it, not the metric's owner alone. The metrics
themselves (what the scorecard measures) are added and changed by the same people.
A value for a team's or a person's scorecard is entered only by someone who may read it.

Reading: everyone signed in sees the company-wide scorecard. A team's is seen by its
members, its manager and the owner; a person's by that person and whoever manages them
(accounts.permissions.manages), so nobody reads a colleague's figures uninvited.
"""

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from keel.accounts.models import Role, Team, User
from keel.accounts.permissions import is_manager, manages
from keel.core.exceptions import NotAllowed
from keel.scorecard.models import Metric, MetricValue


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


def can_enter_value(
    user: User, metric: Metric, *, team: Team | None = None, person: User | None = None
) -> bool:
    """The metric's owner or a manager; for a team's or a person's figure, one who may read it."""
    if not user.is_active:
        return False
    if not (is_manager(user) or (metric.owner_id is not None and metric.owner_id == user.pk)):
        return False
    return can_view_scope(user, team=team, person=person)


def ensure_can_enter_value(
    user: User, metric: Metric, *, team: Team | None = None, person: User | None = None
) -> None:
    if not can_enter_value(user, metric):
        raise NotAllowed(
            f"{user} may not enter values for {metric}: its owner, sales managers "
            "and the owner of the business may."
        )
    if not can_enter_value(user, metric, team=team, person=person):
        whose = f"{person}'s" if person is not None else f"team {team}'s"
        raise NotAllowed(
            f"{user} may not enter {whose} figure for {metric}: only the people concerned, "
            "those who manage them and the owner may."
        )


def can_set_goal(user: User) -> bool:
    return is_manager(user)


def ensure_can_set_goal(user: User, metric: Metric) -> None:
    if not can_set_goal(user):
        raise NotAllowed(
            f"{user} may not set the goal for {metric}: sales managers and the owner may."
        )


def can_manage_metrics(user: User) -> bool:
    return is_manager(user)


def ensure_can_manage_metrics(user: User) -> None:
    if not can_manage_metrics(user):
        raise NotAllowed(f"{user} may not add or change metrics: sales managers and the owner may.")


def metric_visible(*, key: str) -> Metric:
    """The metric `key` with its owner; Http404 if there is none. Every metric is read by
    everyone signed in: what is measured is no secret, only some scopes' figures are."""
    return get_object_or_404(Metric.objects.select_related("owner"), key=key)


def values_visible_to(user: User, *, metric: Metric) -> QuerySet[MetricValue]:
    """The entries of `metric` whose scope `user` may read: can_view_scope, as a query."""
    entries = MetricValue.objects.filter(metric=metric)
    if not user.is_active:
        entries = entries.none()
    elif not (user.is_superuser or user.role == Role.OWNER):
        company = Q(team__isnull=True, person__isnull=True)
        mine = Q(person=user)
        if user.team_id is not None:
            mine |= Q(team_id=user.team_id)
        if is_manager(user):  # a manager reads their team's people and the teams they lead
            mine |= Q(team__manager=user)
            if user.team_id is not None:
                mine |= Q(person__team_id=user.team_id)
        entries = entries.filter(company | mine)
    return entries
