"""Plans as YAML: the sample, upsert by name, deactivation, errors with their paths, export."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from keel.accounts.models import Role, Team, User
from keel.accounts.tests.factories import UserFactory
from keel.core.exceptions import InvalidInput, NotAllowed
from keel.core.models import AuditEntry
from keel.planning.models import Goal, Occurrence, Strategy, Tactic, TacticalPlan
from keel.planning.selectors import plan_export
from keel.planning.services import plan_import

pytestmark = pytest.mark.django_db

SAMPLE = (Path(__file__).parent.parent / "samples" / "whale-hunting.yaml").read_text()
PLAN = "Whale hunting 2026-27"


def edited(change: Any) -> str:
    """The sample with `change(document)` applied."""
    document = yaml.safe_load(SAMPLE)
    change(document)
    return yaml.safe_dump(document, sort_keys=False)


def tactic(document: dict[str, Any], index: int) -> dict[str, Any]:
    return document["plans"][0]["tactics"][index]  # type: ignore[no-any-return]


def problems(text: str, by: User) -> list[str]:
    with pytest.raises(InvalidInput) as error:
        plan_import(text=text, by=by)
    assert "nothing was imported" in error.value.message
    return error.value.details


def test_the_sample_imports_cleanly(olivia: User):
    result = plan_import(text=SAMPLE, by=olivia)
    assert len(result.created) == 9 and not result.updated and not result.deactivated
    goal = Goal.objects.get(name="EUR 2M booked from whales")
    assert (goal.target, goal.metric, goal.query) == (Decimal(2000000), None, "whale_bookings")
    assert Goal.objects.get(name="Five whales won").query == "whales_won"
    strategy = Strategy.objects.get(name="Pursue whales")
    assert set(strategy.goals.values_list("name", flat=True)) == {
        "Five whales won",
        "EUR 2M booked from whales",
    }
    plan = TacticalPlan.objects.get(name=PLAN)
    assert plan.strategy == strategy
    tactics = {t.name: t for t in plan.tactics.all()}
    research = tactics["Research dossiers"]
    assert (research.shape, research.role, research.minutes) == (
        "recurring",
        "sales_specialist",
        60,
    )
    assert research.schedule == "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    contact = tactics["Contact a decision maker"]
    assert (contact.trigger, contact.deadline_days) == ("dossier_completed", 5)
    assert tactics["Recommend three whales"].target_count == 3
    assert tactics["Good-to-great questions"].trigger_stage == "1st meeting"
    assert AuditEntry.objects.filter(action="tactic.create", actor=olivia).count() == 5


def test_importing_the_same_file_twice_changes_nothing(olivia: User):
    plan_import(text=SAMPLE, by=olivia)
    entries = AuditEntry.objects.count()
    stamps = list(Tactic.objects.order_by("pk").values_list("updated_at", flat=True))
    result = plan_import(text=SAMPLE, by=olivia)
    assert not result.changed and result.unchanged == 9
    assert AuditEntry.objects.count() == entries
    assert list(Tactic.objects.order_by("pk").values_list("updated_at", flat=True)) == stamps


def north_plan(d: dict[str, Any]) -> None:
    d["plans"][0]["team"] = "North"


def test_a_changed_field_updates_only_that_record(olivia: User, mary: User):
    plan_import(text=edited(north_plan), by=olivia)

    def longer(d: dict[str, Any]) -> None:
        north_plan(d)
        tactic(d, 1)["minutes"] = 90

    # Mary's file lists the goals and the strategy unchanged: that is not changing them.
    result = plan_import(text=edited(longer), by=mary)
    assert result.updated == [f"tactic {PLAN} / Research dossiers"] and result.unchanged == 8
    assert Tactic.objects.get(name="Research dossiers").minutes == 90
    entry = AuditEntry.objects.get(action="tactic.update")
    assert (entry.actor, entry.changes) == (mary, {"minutes": [60, 90]})


def test_a_tactic_removed_from_the_file_is_deactivated_not_deleted(olivia: User, sue: User):
    plan_import(text=SAMPLE, by=olivia)
    research = Tactic.objects.get(name="Research dossiers")
    Occurrence.objects.create(
        tactic=research,
        person=sue,
        key="2026-09-01",
        opens_at=datetime(2026, 9, 1, tzinfo=UTC),
        due_at=datetime(2026, 9, 1, 15, tzinfo=UTC),
    )
    result = plan_import(text=edited(lambda d: d["plans"][0]["tactics"].pop(1)), by=olivia)
    assert result.deactivated == [f"tactic {PLAN} / Research dossiers"]
    research.refresh_from_db()
    assert not research.is_active and research.occurrences.count() == 1
    assert AuditEntry.objects.filter(action="tactic.deactivate").count() == 1
    # Listing it again brings it back.
    plan_import(text=SAMPLE, by=olivia)
    research.refresh_from_db()
    assert research.is_active


def test_the_export_reads_back_as_the_same_plan(olivia: User, alice: User):
    def assigned(d: dict[str, Any]) -> None:
        tactic(d, 3).pop("role")
        tactic(d, 3)["person"] = "alice"
        d["goals"][0]["owner"] = "olivia"
        d["goals"][0]["target"] = 5.5

    plan_import(text=edited(assigned), by=olivia)
    exported = plan_export(name=PLAN)
    assert "person: alice" in exported and "target: 5.5" in exported
    assert not plan_import(text=exported, by=olivia).changed
    # Into an empty database: the same records, so the same export.
    Tactic.objects.all().delete()
    TacticalPlan.objects.all().delete()
    Strategy.objects.all().delete()
    Goal.objects.all().delete()
    assert len(plan_import(text=exported, by=olivia).created) == 9
    assert plan_export(name=PLAN) == exported


def test_an_inactive_tactic_is_exported_as_such(olivia: User):
    plan_import(text=SAMPLE, by=olivia)
    Tactic.objects.filter(name="Research dossiers").update(is_active=False)
    exported = plan_export(name=PLAN)
    assert tactic(yaml.safe_load(exported), 1)["is_active"] is False
    assert not plan_import(text=exported, by=olivia).changed


def test_the_export_of_an_unknown_plan_names_the_plans(olivia: User):
    plan_import(text=SAMPLE, by=olivia)
    with pytest.raises(InvalidInput, match=f"no tactical plan 'Nope'. Plans: {PLAN}"):
        plan_export(name="Nope")


def test_a_salesperson_may_not_import(alice: User):
    with pytest.raises(NotAllowed, match="owner and sales managers"):
        plan_import(text=SAMPLE, by=alice)
    assert not Goal.objects.exists()


def test_a_dry_run_writes_nothing(olivia: User):
    entries = AuditEntry.objects.count()
    result = plan_import(text=SAMPLE, by=olivia, dry_run=True)
    assert result.dry_run and len(result.created) == 9
    assert not Goal.objects.exists() and AuditEntry.objects.count() == entries


def _set(path: str, value: Any) -> Any:
    """A change that sets (or, for None, removes) the key at a dotted path."""

    def change(document: Any) -> None:
        *parents, last = path.split(".")
        target = document
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        if value is None:
            target.pop(int(last) if last.isdigit() else last)
        else:
            target[int(last) if last.isdigit() else last] = value

    return change


T = "plans.0.tactics"


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("colour", "red", "colour: unknown key (allowed: goals, strategies, plans)"),
        (f"{T}.1.colour", "red", "plans[0].tactics[1].colour: unknown key"),
        ("goals.0.target", "lots", "goals[0].target: expected a number, found text"),
        ("goals.0.target", 0, "goals[0].target: 0 is not above 0"),
        ("goals.0.unit", None, "goals[0].unit: is required"),
        ("goals.0.starts_on", "1st of May", "goals[0].starts_on: '1st of May' is not a date"),
        ("goals.0.ends_on", "2026-01-01", "goals[0].ends_on: 2026-01-01 is not after starts_on"),
        ("goals.1.metric", "whales", "goals[1].metric: there is no scorecard metric with the key"),
        ("goals.0.owner", "nobody", "goals[0].owner: there is no active user 'nobody'"),
        ("strategies.0.goals.1", "World peace", "strategies[0].goals[1]: there is no goal"),
        ("strategies.0.goals", [], "strategies[0].goals: expected a list of the names"),
        ("plans.0.strategy", "Elsewhere", "plans[0].strategy: there is no strategy 'Elsewhere'"),
        ("plans.0.team", "West", "plans[0].team: there is no team 'West' (known: North)"),
        ("plans.0.team", 7, "plans[0].team: expected text, found int"),
        ("plans.0.ends_on", "2027-01-31", "plans[0].ends_on: A tactical plan spans at least 6"),
        ("plans.0.ends_on", "2028-08-31", "plans[0].ends_on: A tactical plan spans at most 18"),
        (f"{T}.1.schedule", "EVERY DAY", "plans[0].tactics[1].schedule: 'EVERY DAY' is not an"),
        (f"{T}.1.schedule", None, "plans[0].tactics[1].schedule: is required for a recurring"),
        (f"{T}.1.shape", "sometimes", "plans[0].tactics[1].shape: 'sometimes' is not one of"),
        (f"{T}.1.shape", None, "plans[0].tactics[1].shape: is required"),
        (f"{T}.1.role", "janitor", "plans[0].tactics[1].role: 'janitor' is not one of"),
        (f"{T}.1.role", None, "plans[0].tactics[1]: assign the tactic with role:"),
        (f"{T}.1.person", "sue", "plans[0].tactics[1].person: there is no active user 'sue'"),
        (f"{T}.1.due_on", "2026-12-01", "plans[0].tactics[1].due_on: makes no sense for a rec"),
        (f"{T}.0.target_count", None, "plans[0].tactics[0].target_count: is required for a t"),
        (f"{T}.0.target_count", 0, "plans[0].tactics[0].target_count: 0 is outside at least"),
        (f"{T}.0.due_on", "2028-01-01", "plans[0].tactics[0].due_on: 2028-01-01 is outside"),
        (f"{T}.3.deadline_days", None, "plans[0].tactics[3].deadline_days: is required for a"),
        (f"{T}.3.deadline_days", "5", "plans[0].tactics[3].deadline_days: expected a whole"),
        (f"{T}.3.trigger", "full_moon", "plans[0].tactics[3].trigger: 'full_moon' is not one"),
        (f"{T}.3.trigger_stage", "Qualify", "plans[0].tactics[3].trigger_stage: makes no sense"),
        (f"{T}.4.trigger_stage", None, "plans[0].tactics[4].trigger_stage: is required when"),
        (f"{T}.4.trigger_stage", "Lunch", "plans[0].tactics[4].trigger_stage: there is no stage"),
        (f"{T}.3.activity_type", None, "plans[0].tactics[3].activity_type: is required when"),
        (f"{T}.0.activity_type", "call", "plans[0].tactics[0].activity_type: makes no sense"),
        (f"{T}.0.measure", "record_created", "plans[0].tactics[0].record_kind: is required"),
        (f"{T}.0.is_active", "yes", "plans[0].tactics[0].is_active: expected true or false"),
        (f"{T}.2.name", "Research dossiers", "plans[0].tactics[2].name: duplicate tactic name"),
        ("goals.1.name", "Five whales won", "goals[1].name: duplicate goal name"),
        ("plans.0.tactics", "all of them", "plans[0].tactics: expected a list, found text"),
    ],
)
def test_each_error_names_the_bad_keys_path(
    olivia: User, north: Team, path: str, value: Any, expected: str
):
    found = problems(edited(_set(path, value)), olivia)
    assert any(p.startswith(expected) for p in found), found
    assert not Goal.objects.exists()


def test_role_and_person_together_are_refused(olivia: User, sue: User):
    found = problems(edited(_set(f"{T}.1.person", "sue")), olivia)
    assert found == [
        "plans[0].tactics[1].person: assign the tactic to a role or to a person, not both"
    ]


def test_all_problems_are_reported_at_once(olivia: User):
    def broken(d: dict[str, Any]) -> None:
        d["goals"][0]["target"] = -1
        tactic(d, 1)["schedule"] = "FREQ=SOMETIMES"
        tactic(d, 3)["role"] = "janitor"

    found = problems(edited(broken), olivia)
    assert [p.split(":")[0] for p in found] == [
        "goals[0].target",
        "plans[0].tactics[1].schedule",
        "plans[0].tactics[3].role",
    ]


def test_an_existing_strategy_may_be_referred_to_by_name(olivia: User):
    plan_import(text=SAMPLE, by=olivia)

    def plan_only(d: dict[str, Any]) -> None:
        del d["goals"], d["strategies"]
        d["plans"][0]["name"] = "Whale hunting, second wave"

    result = plan_import(text=edited(plan_only), by=olivia)
    assert len(result.created) == 6
    assert TacticalPlan.objects.get(name="Whale hunting, second wave").strategy.name == (
        "Pursue whales"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plans: [unclosed", "plan file: not valid YAML at line 1"),
        ("- a list", "plan file: expected a mapping of keys, found a list"),
        ("goals: []", "plan file: nothing to import"),
    ],
)
def test_a_file_that_is_not_a_plan_file(olivia: User, text: str, expected: str):
    assert problems(text, olivia)[0].startswith(expected)


# --- the team of a plan, and who may import what ----------------------------------------


@pytest.fixture
def nina(south: Team) -> User:
    """South's manager."""
    user = UserFactory(username="nina", role=Role.SALES_MANAGER, team=south)
    south.manager = user
    south.save()
    return user


def refusals(text: str, by: User) -> list[str]:
    entries = AuditEntry.objects.count()
    stamps = list(TacticalPlan.objects.values_list("name", "updated_at"))
    with pytest.raises(NotAllowed) as error:
        plan_import(text=text, by=by)
    assert "nothing was imported" in error.value.message
    assert AuditEntry.objects.count() == entries
    assert list(TacticalPlan.objects.values_list("name", "updated_at")) == stamps
    return error.value.details


def test_a_plan_of_a_team_is_imported_and_exported_with_it(olivia: User, north: Team):
    plan_import(text=edited(north_plan), by=olivia)
    assert TacticalPlan.objects.get(name=PLAN).team == north
    exported = plan_export(name=PLAN)
    assert yaml.safe_load(exported)["plans"][0]["team"] == "North"
    assert not plan_import(text=exported, by=olivia).changed
    # Left out, the team is cleared: the file is the truth for the plan it lists.
    result = plan_import(text=SAMPLE, by=olivia)
    assert result.updated == [f"plan {PLAN}"]
    assert TacticalPlan.objects.get(name=PLAN).team is None
    assert "team" not in yaml.safe_load(plan_export(name=PLAN))["plans"][0]


def test_a_manager_imports_the_plans_of_their_team(olivia: User, mary: User):
    plan_import(text=edited(north_plan), by=olivia)

    def second_wave(d: dict[str, Any]) -> None:
        del d["goals"], d["strategies"]
        north_plan(d)
        d["plans"][0]["name"] = "Whale hunting, second wave"

    result = plan_import(text=edited(second_wave), by=mary)
    assert len(result.created) == 6
    assert TacticalPlan.objects.get(name="Whale hunting, second wave").team.name == "North"
    assert AuditEntry.objects.get(action="plan.create", actor=mary)


def test_a_manager_may_not_create_or_change_the_big_picture(mary: User):
    found = refusals(edited(north_plan), mary)
    assert found == [
        "goals[0]: only the owner may create the goal 'Five whales won'",
        "goals[1]: only the owner may create the goal 'EUR 2M booked from whales'",
        "strategies[0]: only the owner may create the strategy 'Pursue whales'",
    ]
    assert not Goal.objects.exists() and not Strategy.objects.exists()


def test_a_manager_may_not_change_a_goal_or_a_strategy(olivia: User, mary: User):
    plan_import(text=edited(north_plan), by=olivia)

    def bigger(d: dict[str, Any]) -> None:
        north_plan(d)
        d["goals"][0]["target"] = 6
        d["strategies"][0]["goals"] = ["Five whales won"]

    assert refusals(edited(bigger), mary) == [
        "goals[0]: only the owner may change (target) the goal 'Five whales won'",
        "strategies[0]: only the owner may change (goals) the strategy 'Pursue whales'",
    ]
    assert Goal.objects.get(name="Five whales won").target == 5
    assert Strategy.objects.get(name="Pursue whales").goals.count() == 2


def test_a_manager_may_not_write_a_plan_of_no_team(olivia: User, mary: User):
    plan_import(text=SAMPLE, by=olivia)
    assert refusals(SAMPLE, mary) == [
        f"plans[0]: Mary may not change '{PLAN}' as a plan of no team: the owner keeps those"
    ]


def test_a_manager_may_not_write_another_teams_plan(olivia: User, mary: User, nina: User):
    plan_import(text=edited(north_plan), by=olivia)

    # Nina may not change North's plan, not even by naming her own team in the file.
    def to_south(d: dict[str, Any]) -> None:
        d["plans"][0]["team"] = "South"

    assert refusals(edited(to_south), nina) == [
        f"plans[0]: Nina may not change '{PLAN}' as team North's plan: "
        "its manager and the owner keep it"
    ]
    assert refusals(edited(north_plan), nina)[0].startswith("plans[0]: Nina may not change")
    # Nor may Mary give her plan to South, or write a new plan for it.
    assert refusals(edited(to_south), mary) == [
        f"plans[0]: Mary may not write '{PLAN}' as team South's plan: "
        "its manager and the owner keep it"
    ]
    assert TacticalPlan.objects.get(name=PLAN).team.name == "North"


def test_a_refused_dry_run_is_refused_too(mary: User):
    with pytest.raises(NotAllowed):
        plan_import(text=SAMPLE, by=mary, dry_run=True)
    assert not Goal.objects.exists()


def test_a_goals_query_is_known_and_alone(olivia: User):
    def with_query(query: str, metric: str = "") -> str:
        def change(document: dict[str, Any]) -> None:
            document["goals"][0]["query"] = query
            if metric:
                document["goals"][0]["metric"] = metric

        return edited(change)

    assert problems(with_query("whales_lost"), olivia) == [
        "goals[0].query: 'whales_lost' is not one of whales_won, whale_bookings"
    ]
    assert problems(with_query("whales_won", metric="bookings"), olivia) == [
        "goals[0].query: a goal is measured by a metric or a query, not both"
    ]
