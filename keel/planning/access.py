"""Who may do what in the planning.

- Goals and strategies (the Big Picture) are the owner's to write.
- A tactical plan and its tactics are kept by the manager of the plan's team, and by the
  owner; a plan of no team only by the owner.
- A person's "My job" page is theirs to read, and their manager's and the owner's
  (`oversees`: a sales manager oversees the people of their team who manage nobody, the
  owner everyone): nobody reads a colleague's uninvited, nor a fellow manager's.
- Check-ins: written by whoever manages the person; read by the person, their manager,
  the owner and the check-in's author; answered by the person alone. Nobody reads
  another team's.
- The trade-off rule of a person is set by whoever manages them.
"""

from django.db.models import Q, QuerySet

from keel.accounts.models import Role, User
from keel.accounts.permissions import MANAGING_ROLES
from keel.core.exceptions import NotAllowed
from keel.planning.models import CheckIn, TacticalPlan


def is_owner(user: User) -> bool:
    return user.is_active and (user.is_superuser or user.role == Role.OWNER)


def can_edit_big_picture(user: User) -> bool:
    """Goals and strategies: the owner's."""
    return is_owner(user)


def ensure_can_edit_big_picture(user: User) -> None:
    if not can_edit_big_picture(user):
        raise NotAllowed(f"{user} may not change goals or strategies: only the owner may.")


def can_edit_plan(user: User, plan: TacticalPlan) -> bool:
    """A plan's team's manager, or the owner."""
    if is_owner(user):
        return True
    if not user.is_active or user.role != Role.SALES_MANAGER or plan.team is None:
        return False
    return plan.team_id == user.team_id or plan.team.manager_id == user.pk


def ensure_can_edit_plan(user: User, plan: TacticalPlan) -> None:
    if not can_edit_plan(user, plan):
        whose = f"team {plan.team}'s" if plan.team_id else "the business's"
        raise NotAllowed(
            f"{user} may not change {plan}: it is {whose} plan, kept by "
            + ("its manager and the owner." if plan.team_id else "the owner.")
        )


def oversees(user: User, person: User) -> bool:
    """Whether `user` answers for `person`'s work: the owner for everyone else; a sales
    manager for the people of their team who are not managers themselves."""
    if not user.is_active or user.pk == person.pk:
        return False
    if is_owner(user):
        return True
    return (
        user.role == Role.SALES_MANAGER
        and user.team_id is not None
        and person.team_id == user.team_id
        and person.role not in MANAGING_ROLES
        and not person.is_superuser
    )


def can_view_job(user: User, person: User) -> bool:
    """A person's My job page: theirs, their manager's and the owner's."""
    return user.is_active and (user.pk == person.pk or oversees(user, person))


def ensure_can_view_job(user: User, person: User) -> None:
    if not can_view_job(user, person):
        raise NotAllowed(
            f"{user} may not see {person}'s job page: it is shown to them, "
            "whoever manages them and the owner."
        )


def can_write_check_in(user: User, person: User) -> bool:
    return oversees(user, person)


def ensure_can_write_check_in(user: User, person: User) -> None:
    if not can_write_check_in(user, person):
        raise NotAllowed(f"{user} may not write check-ins for {person}: their manager does.")


def check_ins_visible(user: User) -> QuerySet[CheckIn]:
    """The check-ins `user` may read: their own, those they wrote, those of people they
    manage (the owner: everyone's; a manager: their team's)."""
    if not user.is_active:
        return CheckIn.objects.none()
    if is_owner(user):
        return CheckIn.objects.all()
    mine = Q(person=user) | Q(author=user)
    if user.role == Role.SALES_MANAGER and user.team_id is not None:
        team = Q(person__team_id=user.team_id) & ~Q(person__role__in=MANAGING_ROLES)
        mine |= team & Q(person__is_superuser=False)
    return CheckIn.objects.filter(mine)


def ensure_can_reply(user: User, check_in: CheckIn) -> None:
    if check_in.person_id != user.pk:
        raise NotAllowed(f"Only {check_in.person} may answer a check-in written for them.")


def ensure_can_set_trade_off(user: User, person: User) -> None:
    if not can_write_check_in(user, person):
        raise NotAllowed(f"{user} may not set {person}'s trade-off rule: their manager does.")


def people_managed(user: User) -> QuerySet[User]:
    """Whose job pages `user` may open besides their own: everyone for the owner, a
    manager's team (themselves left out), nobody else's."""
    people = User.objects.filter(is_active=True).exclude(pk=user.pk)
    if is_owner(user):
        return people
    if user.is_active and user.role == Role.SALES_MANAGER and user.team_id is not None:
        return people.filter(team_id=user.team_id, is_superuser=False).exclude(
            role__in=MANAGING_ROLES
        )
    return people.none()
