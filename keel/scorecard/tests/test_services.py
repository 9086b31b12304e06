from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from keel.accounts.models import Team, User
from keel.accounts.tests.factories import UserFactory
from keel.core.exceptions import InvalidInput, NotAllowed
from keel.core.models import AuditEntry
from keel.scorecard.access import can_view_scope, values_visible_to
from keel.scorecard.models import CaptureMethod, Goal, Metric, MetricValue, Unit
from keel.scorecard.selectors import metric_value_history, metric_values
from keel.scorecard.services import (
    DEFAULT_METRICS,
    goal_set,
    metric_create,
    metric_install_defaults,
    metric_update,
    metric_value_enter,
    metric_value_push,
)
from keel.scorecard.tests.factories import MetricFactory

OCTOBER = date(2025, 10, 1)


@pytest.fixture
def ad_spend(db: None, alice: User) -> Metric:
    return MetricFactory(key="ad_spend", name="Ad spend", unit=Unit.MONEY, owner=alice)


# --- defaults ---------------------------------------------------------------------------


def test_the_default_metrics_are_installed_and_computed(db: None) -> None:
    metrics = Metric.objects.all()
    assert {m.key for m in metrics} == {d.key for d in DEFAULT_METRICS}
    assert {m.capture_method for m in metrics} == {CaptureMethod.COMPUTED}


def test_installing_again_adds_only_the_missing_and_keeps_edits(db: None, mary: User) -> None:
    Metric.objects.filter(key="calls").update(name="Dials", owner=mary)
    Metric.objects.filter(key="downloads").delete()
    [added] = metric_install_defaults()
    assert added.key == "downloads"
    assert Metric.objects.get(key="calls").name == "Dials"


def test_only_known_metrics_can_be_computed(db: None) -> None:
    metric = MetricFactory.build(key="churn", capture_method=CaptureMethod.COMPUTED)
    with pytest.raises(ValidationError, match="cannot compute 'churn'"):
        metric.full_clean()


# --- hand-entered values ----------------------------------------------------------------


def test_a_missing_value_is_missing_not_zero(ad_spend: Metric) -> None:
    assert metric_values(month=OCTOBER, keys=["ad_spend"]) == {"ad_spend": None}


def test_a_new_entry_supersedes_and_history_is_kept(
    ad_spend: Metric, alice: User, mary: User
) -> None:
    first = metric_value_enter(metric=ad_spend, month=OCTOBER, value=Decimal("100"), by=alice)
    metric_value_enter(metric=ad_spend, month=date(2025, 9, 1), value=Decimal("7"), by=alice)
    second = metric_value_enter(
        metric=ad_spend, month=date(2025, 10, 20), value=Decimal("120.50"), by=mary
    )
    assert metric_values(month=OCTOBER, keys=["ad_spend"]) == {"ad_spend": Decimal("120.50")}
    history = list(MetricValue.objects.filter(metric=ad_spend, month=OCTOBER))
    assert history == [second, first]
    assert (second.entered_by, second.month, second.source) == (mary, OCTOBER, "manual")
    assert AuditEntry.objects.filter(action="metric_value.enter").count() == 3


def test_a_computed_metric_is_not_entered_by_hand(db: None, mary: User) -> None:
    calls = Metric.objects.get(key="calls")
    with pytest.raises(InvalidInput, match="computed"):
        metric_value_enter(metric=calls, month=OCTOBER, value=Decimal(5), by=mary)
    assert not MetricValue.objects.exists()


def test_a_pushed_metric_can_be_corrected_by_hand(db: None, mary: User) -> None:
    metric = MetricFactory(key="visitors_ga", capture_method=CaptureMethod.PUSHED)
    metric_value_enter(metric=metric, month=OCTOBER, value=Decimal(4200), by=mary)
    assert metric_values(month=OCTOBER, keys=["visitors_ga"]) == {"visitors_ga": Decimal(4200)}


@pytest.mark.parametrize(
    ("value", "month", "message"),
    [
        (Decimal("-1"), OCTOBER, "zero or more"),
        (Decimal("1"), date(2999, 1, 1), "has not begun"),
    ],
)
def test_bad_values_are_refused(
    ad_spend: Metric, alice: User, value: Decimal, month: date, message: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        metric_value_enter(metric=ad_spend, month=month, value=value, by=alice)
    assert message in str(refused.value)
    assert not MetricValue.objects.exists()


def test_who_may_enter_a_value(ad_spend: Metric, olivia: User, bob: User, vera: User) -> None:
    metric_value_enter(metric=ad_spend, month=OCTOBER, value=Decimal(1), by=olivia)  # the owner
    for person in (bob, vera):  # neither the metric's owner nor a manager
        with pytest.raises(NotAllowed, match="may not enter values for Ad spend"):
            metric_value_enter(metric=ad_spend, month=OCTOBER, value=Decimal(2), by=person)
    assert MetricValue.objects.count() == 1


# --- goals ------------------------------------------------------------------------------


def test_a_goal_is_set_and_replaced(ad_spend: Metric, mary: User, olivia: User) -> None:
    goal = goal_set(metric=ad_spend, year=2025, target=Decimal(12000), by=mary)
    assert (goal.phasing, goal.weights) == ("even", [])
    again = goal_set(
        metric=ad_spend,
        year=2025,
        target=Decimal(16000),
        phasing="seasonal",
        weights=[1] * 10 + [3, 3],
        by=olivia,
    )
    assert again.pk == goal.pk
    assert Goal.objects.get().target == 16000
    last = AuditEntry.objects.filter(action="goal.set").first()
    assert last.changes["target"] == ["12000.0000", "16000.0000"]


def test_seasonal_weights_must_add_up(ad_spend: Metric, mary: User) -> None:
    with pytest.raises(InvalidInput) as refused:
        goal_set(
            metric=ad_spend,
            year=2025,
            target=Decimal(1),
            phasing="seasonal",
            weights=[0] * 12,
            by=mary,
        )
    assert "above zero" in str(refused.value)
    assert not Goal.objects.exists()


def test_only_managers_set_goals(ad_spend: Metric, alice: User) -> None:
    with pytest.raises(NotAllowed, match="sales managers and the owner may"):
        goal_set(metric=ad_spend, year=2025, target=Decimal(1), by=alice)  # even its owner
    assert not Goal.objects.exists()


def test_a_negative_goal_is_refused(ad_spend: Metric, mary: User) -> None:
    with pytest.raises(InvalidInput, match="zero or more"):
        goal_set(metric=ad_spend, year=2025, target=Decimal(-1), by=mary)
    assert not Goal.objects.exists()


def test_typed_weights_are_kept_as_json_numbers(ad_spend: Metric, mary: User) -> None:
    weights = [Decimal(8)] * 10 + [Decimal("10.5"), Decimal("9.5")]
    goal = goal_set(
        metric=ad_spend,
        year=2026,
        target=Decimal(100),
        phasing="seasonal",
        weights=weights,
        by=mary,
    )
    goal.refresh_from_db()
    assert goal.weights == [8] * 10 + [10.5, 9.5]
    with pytest.raises(InvalidInput, match="out of proportion"):
        goal_set(
            metric=ad_spend,
            year=2027,
            target=Decimal(1),
            phasing="seasonal",
            weights=[Decimal("1e400")] * 12,
            by=mary,
        )


# --- metrics ----------------------------------------------------------------------------


def test_a_manager_adds_a_metric(mary: User, alice: User) -> None:
    metric = metric_create(
        by=mary,
        key="ad_spend",
        name=" Ad spend ",
        stage="suspect",
        unit=Unit.MONEY,
        owner=alice,
        capture_method=CaptureMethod.PUSHED,
        description="Paid search and social.",
    )
    metric.refresh_from_db()
    assert (metric.name, metric.owner, metric.capture_method, metric.is_active) == (
        "Ad spend",
        alice,
        "pushed",
        True,
    )
    entry = AuditEntry.objects.get(action="metric.create")
    assert (entry.actor, entry.object_id) == (mary, str(metric.pk))


@pytest.mark.parametrize(
    ("key", "capture_method", "message"),
    [
        ("calls", CaptureMethod.MANUAL, "already exists"),
        ("ad spend!", CaptureMethod.MANUAL, "slug"),
        ("churn", CaptureMethod.COMPUTED, "cannot compute 'churn'"),
    ],
)
def test_a_metric_is_refused(mary: User, key: str, capture_method: str, message: str) -> None:
    before = Metric.objects.count()
    with pytest.raises(InvalidInput) as refused:
        metric_create(by=mary, key=key, name="X", stage="lead", capture_method=capture_method)
    assert message in str(refused.value)
    assert Metric.objects.count() == before
    assert not AuditEntry.objects.filter(action="metric.create").exists()


def test_only_managers_add_and_edit_metrics(alice: User, olivia: User) -> None:
    with pytest.raises(NotAllowed, match="may not add or change metrics"):
        metric_create(by=alice, key="mine", name="Mine", stage="lead")
    calls = Metric.objects.get(key="calls")
    with pytest.raises(NotAllowed, match="may not add or change metrics"):
        metric_update(metric=calls, by=alice, data={"name": "Dials"})
    assert Metric.objects.get(key="calls").name == "Calls"
    metric_create(by=olivia, key="mine", name="Mine", stage="lead")  # the owner may


def test_editing_a_metric_saves_and_audits_only_what_changed(mary: User, bob: User) -> None:
    calls = Metric.objects.get(key="calls")
    metric_update(
        metric=calls,
        by=mary,
        data={"name": "Dials ", "owner": bob, "capture_method": "manual", "stage": "lead"},
    )
    calls.refresh_from_db()
    assert (calls.name, calls.owner, calls.capture_method) == ("Dials", bob, "manual")
    entry = AuditEntry.objects.get(action="metric.update")
    assert entry.changes == {
        "name": ["Calls", "Dials"],
        "owner": [None, bob.pk],
        "capture_method": ["computed", "manual"],
    }
    metric_update(metric=calls, by=mary, data={"name": "Dials"})
    assert AuditEntry.objects.filter(action="metric.update").count() == 1


def test_a_metric_keeps_its_key_and_computes_only_what_keel_knows(mary: User) -> None:
    metric = MetricFactory(key="churn")
    with pytest.raises(InvalidInput, match="stays 'churn'"):
        metric_update(metric=metric, by=mary, data={"key": "churn_rate"})
    with pytest.raises(InvalidInput) as refused:
        metric_update(metric=metric, by=mary, data={"capture_method": "computed"})
    assert "cannot compute 'churn'" in str(refused.value)
    assert Metric.objects.get(pk=metric.pk).capture_method == "manual"


# --- a team's or a person's figure ------------------------------------------------------


def test_a_team_or_a_persons_figure_leaves_the_companys_alone(
    ad_spend: Metric, mary: User, alice: User, north: Team
) -> None:
    metric_value_enter(metric=ad_spend, month=OCTOBER, value=Decimal(10), by=mary, team=north)
    metric_value_enter(metric=ad_spend, month=OCTOBER, value=Decimal(4), by=mary, person=alice)
    assert metric_values(month=OCTOBER, keys=["ad_spend"]) == {"ad_spend": None}
    metric_value_enter(metric=ad_spend, month=OCTOBER, value=Decimal(30), by=mary)
    assert metric_values(month=OCTOBER, keys=["ad_spend"]) == {"ad_spend": Decimal(30)}
    team_entry = MetricValue.objects.get(team=north)
    assert (team_entry.person, team_entry.value) == (None, Decimal(10))


def test_a_figure_is_a_teams_or_a_persons_not_both(
    ad_spend: Metric, mary: User, alice: User, north: Team
) -> None:
    with pytest.raises(InvalidInput, match="not both"):
        metric_value_enter(
            metric=ad_spend, month=OCTOBER, value=Decimal(1), by=mary, team=north, person=alice
        )
    assert not MetricValue.objects.exists()


def test_only_whoever_may_read_a_scope_enters_its_figure(
    ad_spend: Metric, alice: User, bob: User, mary: User, sam: User, south: Team, north: Team
) -> None:
    # Alice owns the metric: her own figure, not her teammate's.
    metric_value_enter(metric=ad_spend, month=OCTOBER, value=Decimal(1), by=alice, person=alice)
    with pytest.raises(NotAllowed, match="may not enter Bob"):
        metric_value_enter(metric=ad_spend, month=OCTOBER, value=Decimal(1), by=alice, person=bob)
    # Mary manages North: its people and the team, not South's.
    metric_value_enter(metric=ad_spend, month=OCTOBER, value=Decimal(2), by=mary, person=bob)
    metric_value_enter(metric=ad_spend, month=OCTOBER, value=Decimal(3), by=mary, team=north)
    for scope in ({"person": sam}, {"team": south}):
        with pytest.raises(NotAllowed, match="may not enter"):
            metric_value_enter(metric=ad_spend, month=OCTOBER, value=Decimal(9), by=mary, **scope)
    assert MetricValue.objects.count() == 3


# --- pushed values ----------------------------------------------------------------------


@pytest.fixture
def visitors(db: None, alice: User) -> Metric:
    return MetricFactory(key="visitors_ga", capture_method=CaptureMethod.PUSHED, owner=alice)


def test_a_pushed_value_is_stored_as_pushed(visitors: Metric, alice: User, north: Team) -> None:
    entry = metric_value_push(
        metric=visitors, month=date(2025, 10, 9), value=Decimal(4200), by=alice, note=" GA4 "
    )
    assert (entry.month, entry.source, entry.entered_by, entry.note) == (
        OCTOBER,
        "pushed",
        alice,
        "GA4",
    )
    assert metric_values(month=OCTOBER, keys=["visitors_ga"]) == {"visitors_ga": Decimal(4200)}
    assert AuditEntry.objects.get(action__startswith="metric_value.").action == "metric_value.push"


@pytest.mark.parametrize(
    ("capture_method", "message"),
    [
        (CaptureMethod.MANUAL, "entered by hand, not pushed"),
        (CaptureMethod.COMPUTED, "computed from Keel's records; nothing is pushed"),
    ],
)
def test_only_pushed_metrics_take_pushes(mary: User, capture_method: str, message: str) -> None:
    metric = Metric.objects.get(key="calls")
    metric.capture_method = capture_method
    metric.save()
    with pytest.raises(InvalidInput, match=message):
        metric_value_push(metric=metric, month=OCTOBER, value=Decimal(1), by=mary)
    assert not MetricValue.objects.exists()


@pytest.mark.parametrize(
    ("value", "month", "message"),
    [
        (Decimal("1.5"), OCTOBER, "A count is a whole number"),
        (Decimal("-3"), OCTOBER, "zero or more"),
        (Decimal("1e30"), OCTOBER, "digits"),
        (Decimal(1), date(2999, 1, 1), "has not begun"),
    ],
)
def test_pushes_are_checked_as_entries_are(
    visitors: Metric, alice: User, value: Decimal, month: date, message: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        metric_value_push(metric=visitors, month=month, value=value, by=alice)
    assert message in str(refused.value)
    assert not MetricValue.objects.exists()


def test_who_may_push(visitors: Metric, bob: User, olivia: User) -> None:
    with pytest.raises(NotAllowed, match="may not enter values"):
        metric_value_push(metric=visitors, month=OCTOBER, value=Decimal(1), by=bob)
    metric_value_push(metric=visitors, month=OCTOBER, value=Decimal(1), by=olivia)
    assert MetricValue.objects.count() == 1


# --- who reads which figures ------------------------------------------------------------


def test_the_values_listed_are_the_scopes_each_person_may_read(
    ad_spend: Metric, olivia: User, mary: User, alice: User, bob: User, sam: User, vera: User,
    north: Team, south: Team,
) -> None:  # fmt: skip
    scopes: list[dict[str, object]] = [
        {}, {"team": north}, {"team": south}, {"person": alice}, {"person": bob}, {"person": sam},
        {"person": mary}, {"person": olivia},
    ]  # fmt: skip
    for scope in scopes:
        metric_value_enter(metric=ad_spend, month=OCTOBER, value=Decimal(1), by=olivia, **scope)
    lonely = UserFactory(username="lonely", role="sales_manager", team=None)
    for user in (olivia, mary, alice, bob, sam, vera, lonely):
        listed = set(values_visible_to(user, metric=ad_spend).values_list("team", "person"))
        readable = {
            (e.team_id, e.person_id)
            for e in MetricValue.objects.select_related("team", "person")
            if can_view_scope(user, team=e.team, person=e.person)
        }
        assert listed == readable, user


def test_each_month_and_scope_has_one_current_entry(
    ad_spend: Metric, mary: User, north: Team
) -> None:
    def enter(month: date, value: int, **scope: object) -> MetricValue:
        return metric_value_enter(
            metric=ad_spend, month=month, value=Decimal(value), by=mary, **scope
        )

    first, second = enter(OCTOBER, 1), enter(OCTOBER, 2)
    team_first, team_second = enter(OCTOBER, 3, team=north), enter(OCTOBER, 4, team=north)
    september = enter(date(2025, 9, 1), 5)
    ranked = [(e, e.rank) for e in metric_value_history(entries=MetricValue.objects.all())]
    assert ranked == [
        (second, 1), (first, 2), (team_second, 1), (team_first, 2), (september, 1),
    ]  # fmt: skip
