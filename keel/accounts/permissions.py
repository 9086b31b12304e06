"""Who may do what, by role. Record-level rules (whose deal is this?) live with the records."""

from django.db.models import QuerySet

from keel.accounts.models import Role, User

MANAGING_ROLES = frozenset({Role.OWNER, Role.SALES_MANAGER})
SELLING_ROLES = frozenset(
    {
        Role.OWNER,
        Role.SALES_MANAGER,
        Role.SALESPERSON,
        Role.SALES_SPECIALIST,
        Role.SUBJECT_MATTER_EXPERT,
    }
)


def is_manager(user: User) -> bool:
    return user.is_active and (user.is_superuser or user.role in MANAGING_ROLES)


def manages(manager: User, person: User | None) -> bool:
    """Whether `manager` oversees `person`'s work: the owner everyone's, a manager their team's."""
    if not is_manager(manager):
        return False
    if manager.is_superuser or manager.role == Role.OWNER:
        return True
    return person is not None and person.team_id is not None and person.team_id == manager.team_id


def can_override_exit_criteria(user: User) -> bool:
    return is_manager(user)


def team_members(user: User) -> QuerySet[User, int]:
    """The ids of `user`'s team (themselves included), for `owner_id__in=` in one query.

    `owner_id IN (SELECT …)` lets the database use an index on owner, where the equivalent
    join (`owner = me OR owner.team = my team`) makes it read every row and filter after.
    """
    if user.team_id is None:
        return User.objects.filter(pk=user.pk).values_list("pk", flat=True)
    return User.objects.filter(team_id=user.team_id).values_list("pk", flat=True)
