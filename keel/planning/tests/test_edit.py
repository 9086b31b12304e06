"""Writing the planning on the web: the services, the pages, and everyone they refuse.

The owner writes goals and strategies; a plan and its tactics are kept by its team's
manager and the owner, a plan of no team by the owner alone; everyone else gets 403.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from django.conf import settings
from django.test import Client
from django.urls import reverse

from keel.accounts.models import Role, Team, User
from keel.accounts.tests.factories import UserFactory
from keel.core.exceptions import InvalidInput, NotAllowed, StaleVersion
from keel.core.models import AuditEntry
from keel.planning.models import Goal, Strategy, Tactic, TacticalPlan
from keel.planning.services import (
    goal_create,
    goal_update,
    plan_create,
    plan_update,
    strategy_create,
    strategy_update,
    tactic_create,
    tactic_update,
)

pytestmark = pytest.mark.django_db

START, END = date(2026, 9, 1), date(2027, 8, 31)


@pytest.fixture
def nina(south: Team) -> User:
    """South's manager."""
    user = UserFactory(username="nina", role=Role.SALES_MANAGER, team=south)
    south.manager = user
    south.save()
    return user


@pytest.fixture
def goal(olivia: User) -> Goal:
    return goal_create(
        by=olivia, name="Five whales won", target=Decimal(5), unit="whales",
        starts_on=START, ends_on=END,
    )  # fmt: skip


@pytest.fixture
def strategy(olivia: User, goal: Goal) -> Strategy:
    return strategy_create(
        by=olivia, name="Pursue whales", goals=[goal], starts_on=START, ends_on=END
    )


@pytest.fixture
def north_plan(olivia: User, strategy: Strategy, north: Team, mary: User) -> TacticalPlan:
    return plan_create(
        by=olivia, name="North whales", strategy=strategy, team=north,
        starts_on=START, ends_on=END,
    )  # fmt: skip


@pytest.fixture
def owners_plan(olivia: User, strategy: Strategy) -> TacticalPlan:
    """A plan of no team: the owner's alone."""
    return plan_create(
        by=olivia, name="The owner's plan", strategy=strategy, team=None,
        starts_on=START, ends_on=END,
    )  # fmt: skip


RECURRING: dict[str, Any] = {
    "name": "Research dossiers",
    "shape": "recurring",
    "role": "sales_specialist",
    "schedule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
    "minutes": 60,
}


def tactic_data(**changes: Any) -> dict[str, Any]:
    return {**RECURRING, **changes}


@pytest.fixture
def research(north_plan: TacticalPlan, mary: User) -> Tactic:
    return tactic_create(plan=north_plan, by=mary, data=tactic_data())


# --- services: allowed ------------------------------------------------------------------


def test_the_owner_writes_goals_and_strategies(olivia: User, goal: Goal, strategy: Strategy):
    assert AuditEntry.objects.get(action="goal.create").actor == olivia
    created = AuditEntry.objects.get(action="strategy.create")
    assert created.changes == {"goals": [[], ["Five whales won"]]}

    goal = goal_update(
        goal=goal, by=olivia, expected_updated_at=goal.updated_at, data={"target": Decimal(6)}
    )
    assert Goal.objects.get().target == 6
    assert AuditEntry.objects.get(action="goal.update").changes == {"target": ["5.00", "6"]}

    bookings = goal_create(
        by=olivia, name="EUR 2M", target=Decimal(2000000), unit="EUR",
        starts_on=START, ends_on=END,
    )  # fmt: skip
    before = strategy.updated_at
    strategy = strategy_update(
        strategy=strategy, by=olivia, expected_updated_at=before, data={"goals": [goal, bookings]}
    )
    assert set(strategy.goals.values_list("name", flat=True)) == {"Five whales won", "EUR 2M"}
    assert strategy.updated_at > before  # a new version: an edit opened before is stale
    entry = AuditEntry.objects.get(action="strategy.update")
    assert entry.changes == {"goals": [["Five whales won"], ["EUR 2M", "Five whales won"]]}


def test_a_manager_keeps_their_teams_plan_and_its_tactics(
    mary: User, north: Team, strategy: Strategy
):
    plan = plan_create(
        by=mary, name="North whales", strategy=strategy, team=north, starts_on=START, ends_on=END
    )
    plan = plan_update(
        plan=plan, by=mary, expected_updated_at=plan.updated_at, data={"description": "Ours"}
    )
    tactic = tactic_create(plan=plan, by=mary, data=tactic_data())
    tactic = tactic_update(
        tactic=tactic,
        by=mary,
        expected_updated_at=tactic.updated_at,
        data={"shape": "target", "schedule": "", "target_count": 3, "due_on": date(2026, 10, 31)},
    )
    assert (tactic.shape, tactic.target_count, tactic.schedule) == ("target", 3, "")
    actions = list(
        AuditEntry.objects.filter(actor=mary).order_by("pk").values_list("action", flat=True)
    )
    assert actions == ["plan.create", "plan.update", "tactic.create", "tactic.update"]


def test_the_owner_keeps_any_plan(olivia: User, north_plan: TacticalPlan, owners_plan: Any):
    for plan in (north_plan, owners_plan):
        tactic_create(plan=plan, by=olivia, data=tactic_data())
        plan_update(
            plan=plan, by=olivia, expected_updated_at=plan.updated_at, data={"is_active": False}
        )
    assert not TacticalPlan.objects.filter(is_active=True).exists()
    assert Tactic.objects.count() == 2


# --- services: refused ------------------------------------------------------------------


@pytest.mark.parametrize("who", ["mary", "alice", "vera"])
def test_only_the_owner_writes_goals_and_strategies(
    request: pytest.FixtureRequest, who: str, goal: Goal, strategy: Strategy
):
    user = request.getfixturevalue(who)
    entries = AuditEntry.objects.count()
    with pytest.raises(NotAllowed, match="only the owner may"):
        goal_create(by=user, name="More", target=Decimal(1), unit="x", starts_on=START, ends_on=END)
    with pytest.raises(NotAllowed):
        goal_update(goal=goal, by=user, expected_updated_at=goal.updated_at, data={"unit": "y"})
    with pytest.raises(NotAllowed):
        strategy_create(by=user, name="Other", goals=[goal], starts_on=START, ends_on=END)
    with pytest.raises(NotAllowed):
        strategy_update(
            strategy=strategy, by=user, expected_updated_at=strategy.updated_at, data={"name": "Z"}
        )
    assert Goal.objects.get().unit == "whales" and Strategy.objects.get().name == "Pursue whales"
    assert AuditEntry.objects.count() == entries


@pytest.mark.parametrize("who", ["alice", "vera", "nina"])
def test_only_its_teams_manager_and_the_owner_keep_a_plan(
    request: pytest.FixtureRequest, who: str, north_plan: TacticalPlan, research: Tactic
):
    user = request.getfixturevalue(who)
    entries = AuditEntry.objects.count()
    with pytest.raises(NotAllowed, match="team North's plan, kept by its manager and the owner"):
        plan_update(
            plan=north_plan, by=user, expected_updated_at=north_plan.updated_at, data={"name": "X"}
        )
    with pytest.raises(NotAllowed):
        tactic_create(plan=north_plan, by=user, data=tactic_data(name="Another"))
    with pytest.raises(NotAllowed):
        tactic_update(
            tactic=research, by=user, expected_updated_at=research.updated_at, data={"minutes": 5}
        )
    assert TacticalPlan.objects.get(pk=north_plan.pk).name == "North whales"
    assert Tactic.objects.get().minutes == 60 and AuditEntry.objects.count() == entries


def test_a_manager_may_not_keep_a_plan_of_no_team(mary: User, owners_plan: TacticalPlan):
    with pytest.raises(NotAllowed, match="the business's plan, kept by the owner"):
        plan_update(
            plan=owners_plan, by=mary, expected_updated_at=owners_plan.updated_at,
            data={"description": "mine"},
        )  # fmt: skip
    with pytest.raises(NotAllowed):
        tactic_create(plan=owners_plan, by=mary, data=tactic_data())
    with pytest.raises(NotAllowed):
        plan_create(
            by=mary, name="Nobody's", strategy=owners_plan.strategy, team=None,
            starts_on=START, ends_on=END,
        )  # fmt: skip
    assert not Tactic.objects.exists() and TacticalPlan.objects.count() == 1


def test_a_manager_may_not_give_a_plan_to_another_team_nor_write_one(
    mary: User, south: Team, north_plan: TacticalPlan
):
    with pytest.raises(NotAllowed, match="team South's plan"):
        plan_update(
            plan=north_plan, by=mary, expected_updated_at=north_plan.updated_at,
            data={"team": south},
        )  # fmt: skip
    with pytest.raises(NotAllowed, match="team South's plan"):
        plan_create(
            by=mary, name="South whales", strategy=north_plan.strategy, team=south,
            starts_on=START, ends_on=END,
        )  # fmt: skip
    assert TacticalPlan.objects.get().team.name == "North"


# --- services: stale edits and bad input -----------------------------------------------


def test_an_edit_of_an_old_version_is_refused(olivia: User, mary: User, research: Tactic):
    opened = research.updated_at
    tactic_update(tactic=research, by=olivia, expected_updated_at=opened, data={"minutes": 45})
    with pytest.raises(StaleVersion, match=r"changed by Olivia .* after you opened it"):
        tactic_update(tactic=research, by=mary, expected_updated_at=opened, data={"minutes": 90})
    assert Tactic.objects.get().minutes == 45
    assert AuditEntry.objects.filter(action="tactic.update").count() == 1


@pytest.mark.parametrize("kind", ["goal", "strategy", "plan"])
def test_a_stale_edit_of_each_record_is_refused(
    olivia: User, goal: Goal, strategy: Strategy, north_plan: TacticalPlan, kind: str
):
    record = {"goal": goal, "strategy": strategy, "plan": north_plan}[kind]
    update = {"goal": goal_update, "strategy": strategy_update, "plan": plan_update}[kind]
    opened = record.updated_at
    update(**{kind: record}, by=olivia, expected_updated_at=opened, data={"description": "A"})
    with pytest.raises(StaleVersion, match="Nothing was saved"):
        update(**{kind: record}, by=olivia, expected_updated_at=opened, data={"description": "B"})
    assert type(record).objects.get(pk=record.pk).description == "A"


def test_a_stale_check_does_not_depend_on_what_changed(olivia: User, goal: Goal):
    earlier = goal.updated_at - timedelta(seconds=1)
    with pytest.raises(StaleVersion):
        goal_update(goal=goal, by=olivia, expected_updated_at=earlier, data={})


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"schedule": ""}, "schedule: is required for a recurring tactic"),
        ({"schedule": "EVERY DAY"}, "schedule: 'EVERY DAY' is not an RFC 5545 RRULE"),
        ({"trigger": "deal_won"}, "trigger: makes no sense for a recurring tactic"),
        ({"due_on": date(2026, 10, 1)}, "due_on: makes no sense for a recurring tactic"),
        (
            {"shape": "triggered", "schedule": "", "trigger": "deal_won"},
            "deadline_days: is required for a triggered tactic",
        ),
        (
            {
                "shape": "triggered",
                "schedule": "",
                "trigger": "deal_entered_stage",
                "deadline_days": 2,
            },
            "trigger_stage: is required when the trigger is a deal entering a stage",
        ),
        (
            {
                "shape": "triggered",
                "schedule": "",
                "trigger": "deal_entered_stage",
                "trigger_stage": "Lunch",
                "deadline_days": 2,
            },
            "trigger_stage: there is no stage 'Lunch' in any sales process",
        ),
        (
            {"shape": "target", "schedule": "", "target_count": 3, "due_on": date(2028, 1, 1)},
            "due_on: 2028-01-01 is outside the plan (2026-09-01 to 2027-08-31)",
        ),
        ({"shape": "target", "schedule": ""}, "target_count: is required for a target tactic"),
        ({"shape": "sometimes"}, "shape: choose one of: recurring, triggered, target"),
        ({"role": ""}, "role: assign the tactic to a role (everyone holding it) or a person"),
        ({"measure": "activity_logged"}, "activity_type: is required when the measure is"),
        ({"record_kind": "deal"}, "record_kind: makes no sense unless the measure is record_c"),
    ],
)
def test_a_tactic_of_a_bad_shape_is_refused_with_what_to_fix(
    mary: User, north_plan: TacticalPlan, changes: dict[str, Any], expected: str
):
    with pytest.raises(InvalidInput, match="The tactic was not saved") as error:
        tactic_create(plan=north_plan, by=mary, data=tactic_data(**changes))
    assert any(d.startswith(expected) for d in error.value.details), error.value.details
    assert not Tactic.objects.exists() and not AuditEntry.objects.filter(actor=mary).exists()


def test_a_tactic_for_a_role_and_a_person_is_refused(mary: User, alice: User, research: Tactic):
    with pytest.raises(InvalidInput) as error:
        tactic_update(
            tactic=research, by=mary, expected_updated_at=research.updated_at,
            data={"person": alice},
        )  # fmt: skip
    assert error.value.details == ["person: assign the tactic to a role or to a person, not both"]


def test_a_plan_spans_six_to_eighteen_months(mary: User, north: Team, strategy: Strategy):
    with pytest.raises(InvalidInput) as error:
        plan_create(
            by=mary, name="Short", strategy=strategy, team=north,
            starts_on=START, ends_on=date(2026, 12, 1),
        )  # fmt: skip
    assert error.value.details[0].startswith("ends_on: A tactical plan spans at least 6 months")
    assert not TacticalPlan.objects.exists()


def test_a_plan_may_not_end_before_its_tactics_are_due(
    mary: User, north_plan: TacticalPlan, research: Tactic
):
    tactic_update(
        tactic=research, by=mary, expected_updated_at=research.updated_at,
        data={"shape": "target", "schedule": "", "target_count": 3, "due_on": END},
    )  # fmt: skip
    with pytest.raises(InvalidInput) as error:
        plan_update(
            plan=north_plan, by=mary, expected_updated_at=north_plan.updated_at,
            data={"ends_on": date(2027, 6, 30)},
        )  # fmt: skip
    assert "Research dossiers are due outside these dates" in error.value.details[0]


def test_a_strategy_serves_at_least_one_goal(olivia: User):
    with pytest.raises(InvalidInput) as error:
        strategy_create(by=olivia, name="Aimless", goals=[], starts_on=START, ends_on=END)
    assert error.value.details[0].startswith("goals: a strategy serves at least one goal")


def test_a_goal_ends_after_it_starts(olivia: User):
    with pytest.raises(InvalidInput) as error:
        goal_create(
            by=olivia, name="Back", target=Decimal(1), unit="x", starts_on=END, ends_on=START
        )
    assert error.value.details == ["ends_on: 2026-09-01 is not after the start (2027-08-31)."]


# --- the pages --------------------------------------------------------------------------


def client_of(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def iso(value: date) -> str:
    return value.isoformat()


def version(record: Goal | Strategy | TacticalPlan | Tactic) -> str:
    stamp: datetime = type(record).objects.get(pk=record.pk).updated_at
    return stamp.isoformat()


def test_the_owner_adds_and_edits_a_goal_and_a_strategy(olivia: User):
    client = client_of(olivia)
    assert client.get(reverse("planning:goal_new")).status_code == 200
    response = client.post(
        reverse("planning:goal_new"),
        {"name": "Five whales won", "target": "5", "unit": "whales",
         "starts_on": iso(START), "ends_on": iso(END)},
    )  # fmt: skip
    goal = Goal.objects.get()
    assert response.url == reverse("planning:goal_edit", args=[goal.pk])  # type: ignore[attr-defined]
    page = client.get(reverse("planning:goal_edit", args=[goal.pk]))
    assert page.status_code == 200 and b'value="Five whales won"' in page.content
    response = client.post(
        reverse("planning:goal_edit", args=[goal.pk]),
        {"name": "Five whales won", "target": "6", "unit": "whales",
         "starts_on": iso(START), "ends_on": iso(END), "version": version(goal)},
    )  # fmt: skip
    assert response.status_code == 302 and Goal.objects.get().target == 6

    response = client.post(
        reverse("planning:strategy_new"),
        {"name": "Pursue whales", "goals": [goal.pk], "starts_on": iso(START),
         "ends_on": iso(END)},
    )  # fmt: skip
    strategy = Strategy.objects.get()
    assert response.status_code == 302 and list(strategy.goals.all()) == [goal]
    page = client.get(reverse("planning:strategy_edit", args=[strategy.pk]))
    assert page.status_code == 200
    assert {e.action for e in AuditEntry.objects.filter(actor=olivia)} == {
        "goal.create",
        "goal.update",
        "strategy.create",
    }


def big_picture_urls(goal: Goal, strategy: Strategy) -> list[str]:
    return [
        reverse("planning:goal_new"),
        reverse("planning:goal_edit", args=[goal.pk]),
        reverse("planning:strategy_new"),
        reverse("planning:strategy_edit", args=[strategy.pk]),
    ]


@pytest.mark.parametrize("who", ["mary", "alice", "vera"])
def test_only_the_owner_opens_the_goal_and_strategy_pages(
    request: pytest.FixtureRequest, who: str, goal: Goal, strategy: Strategy
):
    client = client_of(request.getfixturevalue(who))
    for url in big_picture_urls(goal, strategy):
        assert client.get(url).status_code == 403, url
        data = {"name": "Mine", "target": "1", "unit": "x", "goals": [goal.pk],
                "starts_on": iso(START), "ends_on": iso(END), "version": version(goal)}  # fmt: skip
        assert client.post(url, data).status_code == 403, url
    assert Goal.objects.get().name == "Five whales won"
    assert Strategy.objects.get().name == "Pursue whales"


def plan_urls(plan: TacticalPlan, tactic: Tactic | None = None) -> list[str]:
    urls = [
        reverse("planning:plan_edit", args=[plan.pk]),
        reverse("planning:tactic_new", args=[plan.pk]),
    ]
    if tactic is not None:
        urls.append(reverse("planning:tactic_edit", args=[plan.pk, tactic.pk]))
    return urls


def test_anonymous_visitors_are_sent_to_sign_in(
    goal: Goal, strategy: Strategy, north_plan: TacticalPlan, research: Tactic
):
    client = client_of(None)
    urls = [*big_picture_urls(goal, strategy), reverse("planning:plan_new")]
    for url in [*urls, *plan_urls(north_plan, research)]:
        for response in (client.get(url), client.post(url, {"name": "X"})):
            assert response.status_code == 302, url
            assert response.url.startswith(reverse("login")), url  # type: ignore[attr-defined]
    assert Goal.objects.count() == 1 and TacticalPlan.objects.count() == 1


def test_a_manager_writes_a_plan_of_their_team(mary: User, north: Team, strategy: Strategy):
    client = client_of(mary)
    page = client.get(reverse("planning:plan_new"))
    assert page.status_code == 200
    teams = list(page.context["form"].fields["team"].queryset)
    assert teams == [north]  # South is not offered, nor "no team"
    response = client.post(
        reverse("planning:plan_new"),
        {"name": "North whales", "strategy": strategy.pk, "team": north.pk,
         "starts_on": iso(START), "ends_on": iso(END), "is_active": "on"},
    )  # fmt: skip
    plan = TacticalPlan.objects.get()
    assert response.url == reverse("planning:plan_edit", args=[plan.pk])  # type: ignore[attr-defined]
    assert plan.team == north
    assert client.get(reverse("planning:plan_edit", args=[plan.pk])).status_code == 200


def test_a_manager_may_not_write_a_plan_of_no_team_on_the_page(mary: User, strategy: Strategy):
    response = client_of(mary).post(
        reverse("planning:plan_new"),
        {"name": "Nobody's", "strategy": strategy.pk, "team": "",
         "starts_on": iso(START), "ends_on": iso(END)},
    )  # fmt: skip
    assert response.status_code == 403 and not TacticalPlan.objects.exists()


@pytest.mark.parametrize(
    ("who", "plan"),
    [
        ("alice", "north_plan"),
        ("vera", "north_plan"),
        ("sue", "north_plan"),
        ("nina", "north_plan"),  # another team's manager
        ("mary", "owners_plan"),  # a manager on a plan of no team
    ],
)
def test_the_plan_pages_refuse_everyone_else(
    request: pytest.FixtureRequest, who: str, plan: str, olivia: User
):
    user = request.getfixturevalue(who)
    the_plan: TacticalPlan = request.getfixturevalue(plan)
    tactic = tactic_create(plan=the_plan, by=olivia, data=tactic_data())
    client = client_of(user)
    for url in plan_urls(the_plan, tactic):
        assert client.get(url).status_code == 403, url
        data = {**tactic_data(name="Mine"), "assignee": "role:salesperson",
                "measure": "task_completed", "version": version(tactic)}  # fmt: skip
        assert client.post(url, data).status_code == 403, url
    assert Tactic.objects.get().name == "Research dossiers"
    assert TacticalPlan.objects.get(pk=the_plan.pk).name == the_plan.name


@pytest.mark.parametrize("who", ["alice", "vera"])
def test_only_managers_and_the_owner_open_the_new_plan_page(
    request: pytest.FixtureRequest, who: str, strategy: Strategy, north: Team
):
    client = client_of(request.getfixturevalue(who))
    assert client.get(reverse("planning:plan_new")).status_code == 403
    data = {"name": "Mine", "strategy": strategy.pk, "team": north.pk,
            "starts_on": iso(START), "ends_on": iso(END)}  # fmt: skip
    assert client.post(reverse("planning:plan_new"), data).status_code == 403
    assert not TacticalPlan.objects.exists()


def test_the_tactic_form_shows_the_fields_of_its_shape(mary: User, north_plan: TacticalPlan):
    client = client_of(mary)
    url = reverse("planning:tactic_new", args=[north_plan.pk])
    recurring = client.get(url).content.decode()
    assert 'name="schedule"' in recurring and 'name="trigger"' not in recurring
    triggered = client.get(url + "?shape=triggered").content.decode()
    assert 'name="trigger"' in triggered and 'name="deadline_days"' in triggered
    assert 'name="schedule"' not in triggered and 'name="due_on"' not in triggered
    assert (
        "Everyone who is a sales specialist" in triggered
        and "<script" not in triggered.split("</head>")[1]
    )


def test_a_manager_adds_and_edits_a_tactic_on_the_page(
    mary: User, alice: User, north_plan: TacticalPlan
):
    client = client_of(mary)
    url = reverse("planning:tactic_new", args=[north_plan.pk])
    response = client.post(
        url + "?shape=triggered",
        {"name": "Call the whale", "shape": "triggered", "assignee": f"person:{alice.pk}",
         "trigger": "dossier_completed", "deadline_days": "5", "measure": "activity_logged",
         "activity_type": "call", "is_active": "on"},
    )  # fmt: skip
    assert response.url == reverse("planning:plan_edit", args=[north_plan.pk])  # type: ignore[attr-defined]
    tactic = Tactic.objects.get()
    assert (tactic.person, tactic.role, tactic.trigger, tactic.deadline_days) == (
        alice,
        "",
        "dossier_completed",
        5,
    )
    assert tactic.position == 0
    # As a target now: the triggered fields are emptied.
    edit = reverse("planning:tactic_edit", args=[north_plan.pk, tactic.pk])
    assert b'name="target_count"' in client.get(edit + "?shape=target").content
    response = client.post(
        edit,
        {"name": "Call the whale", "shape": "target", "assignee": "role:salesperson",
         "target_count": "3", "due_on": "2026-12-01", "measure": "task_completed",
         "is_active": "on", "version": version(tactic)},
    )  # fmt: skip
    assert response.status_code == 302
    tactic.refresh_from_db()
    assert (tactic.shape, tactic.trigger, tactic.deadline_days, tactic.role) == (
        "target",
        "",
        None,
        "salesperson",
    )
    entry = AuditEntry.objects.get(action="tactic.update")
    assert entry.actor == mary and entry.changes["shape"] == ["triggered", "target"]


def test_bad_input_comes_back_with_the_error_next_to_its_field(
    mary: User, north_plan: TacticalPlan
):
    client = client_of(mary)
    url = reverse("planning:tactic_new", args=[north_plan.pk])
    response = client.post(
        url,
        {"name": "Research", "shape": "recurring", "assignee": "role:sales_specialist",
         "schedule": "EVERY DAY", "measure": "activity_logged"},
    )  # fmt: skip
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "is not an RFC 5545 RRULE" in errors["schedule"][0]
    assert errors["activity_type"] == ["is required when the measure is activity_logged"]
    assert b'value="EVERY DAY"' in response.content
    assert not Tactic.objects.exists() and not AuditEntry.objects.filter(actor=mary).exists()


def test_a_stale_edit_on_the_page_is_refused_and_the_input_kept(
    olivia: User, mary: User, north_plan: TacticalPlan
):
    opened = version(north_plan)
    plan_update(
        plan=north_plan, by=olivia, expected_updated_at=north_plan.updated_at,
        data={"description": "Olivia's words"},
    )  # fmt: skip
    data = {"name": "North whales", "strategy": north_plan.strategy_id, "team": north_plan.team_id,
            "starts_on": iso(START), "ends_on": iso(END), "description": "Mary's words",
            "is_active": "on", "version": opened}  # fmt: skip
    client = client_of(mary)
    url = reverse("planning:plan_edit", args=[north_plan.pk])
    response = client.post(url, data)
    assert response.status_code == 409
    assert "was changed by Olivia" in response.context["form"].non_field_errors()[0]
    assert b"Mary&#x27;s words" in response.content
    assert TacticalPlan.objects.get().description == "Olivia's words"
    # Saving again, on the version now shown, is a choice made knowingly.
    data["version"] = version(north_plan)
    assert client.post(url, data).status_code == 302
    assert TacticalPlan.objects.get().description == "Mary's words"


def test_the_plan_page_lists_its_tactics(mary: User, north_plan: TacticalPlan, research: Tactic):
    page = client_of(mary).get(reverse("planning:plan_edit", args=[north_plan.pk]))
    assert (
        reverse("planning:tactic_edit", args=[north_plan.pk, research.pk]) in page.content.decode()
    )


# --- a team's plan asks its own team only -------------------------------------------------


def test_a_manager_may_not_assign_another_teams_person(
    north_plan: TacticalPlan, mary: User, sam: User, olivia: User
) -> None:
    data = {**RECURRING, "role": "", "person": sam}
    with pytest.raises(NotAllowed, match="Sam is not in it"):
        tactic_create(plan=north_plan, by=mary, data=data)
    with pytest.raises(NotAllowed, match="not in it"):  # not even the owner, on a team's plan
        tactic_create(plan=north_plan, by=olivia, data=data)
    assert not Tactic.objects.exists()


def test_a_teams_role_tactic_asks_that_team_only(
    north_plan: TacticalPlan, mary: User, alice: User, bob: User, sam: User
) -> None:
    from keel.planning.job import tactics_of
    from keel.planning.models import Occurrence
    from keel.planning.scheduler import tactics_tick

    tactic_create(plan=north_plan, by=mary, data={**RECURRING, "role": "salesperson"})
    tactics_tick(now=datetime(2026, 9, 1, 9, tzinfo=ZoneInfo(settings.TIME_ZONE)))
    asked = set(Occurrence.objects.values_list("person__username", flat=True))
    assert asked == {"alice", "bob"}
    assert tactics_of(sam) == [] and len(tactics_of(alice)) == 1


def test_an_import_may_not_assign_another_teams_person(
    north_plan: TacticalPlan, mary: User, sam: User
) -> None:
    from keel.planning.selectors import plan_export
    from keel.planning.services import plan_import

    document = yaml.safe_load(plan_export(name=north_plan.name))
    document["plans"][0]["tactics"] = [
        {"name": "Call the whales", "shape": "recurring", "person": "sam",
         "schedule": "FREQ=DAILY"}
    ]  # fmt: skip
    text = yaml.safe_dump(document)
    with pytest.raises(NotAllowed) as refused:
        plan_import(text=text, by=mary)
    assert refused.value.details == [
        "plans[0].tactics[0].person: sam is not in team North, whose plan this is"
    ]
    assert not Tactic.objects.exists()
