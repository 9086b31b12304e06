"""The scorecard's API: the metrics, pushing and reading a metric's monthly values, goals.

Ad spend is Alice's metric, pushed by her accounting tool; calls is computed by Keel.
"""

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from keel.accounts.models import Team, TokenScope, User
from keel.accounts.services import token_create
from keel.core.models import AuditEntry
from keel.scorecard.models import CaptureMethod, Goal, Metric, MetricValue, Unit
from keel.scorecard.services import metric_value_enter, metric_value_push
from keel.scorecard.tests.factories import MetricFactory

pytestmark = pytest.mark.django_db

OCTOBER = date(2025, 10, 1)


class Api:
    """Django's test client speaking JSON to /api/v1/scorecard with a bearer token."""

    def __init__(self, user: User, scope: str = TokenScope.READ_WRITE) -> None:
        self.client = Client()
        secret = token_create(user=user, name="tests", scope=scope).secret
        self.headers = {"Authorization": f"Bearer {secret}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api/v1/scorecard{path}", params, headers=self.headers)

    def send(self, method: str, path: str, body: Any) -> Any:
        call = getattr(self.client, method.lower())
        url = f"/api/v1/scorecard{path}"
        return call(url, body, content_type="application/json", headers=self.headers)


@pytest.fixture
def ad_spend(alice: User) -> Metric:
    return MetricFactory(
        key="ad_spend",
        name="Ad spend",
        unit=Unit.MONEY,
        owner=alice,
        stage="suspect",
        capture_method=CaptureMethod.PUSHED,
    )


# --- GET /metrics -----------------------------------------------------------------------


def test_the_metrics_are_listed_in_the_scorecards_order(ad_spend: Metric, vera: User) -> None:
    response = Api(vera, TokenScope.READ).get("/metrics", limit=100)
    assert response.status_code == 200
    body = response.json()
    stages = [m["stage"] for m in body["items"]]
    assert stages == sorted(stages, key=["suspect", "prospect", "lead", "customer"].index)
    assert body["count"] == Metric.objects.count() == 19
    mine = next(m for m in body["items"] if m["key"] == "ad_spend")
    assert mine == {
        "key": "ad_spend",
        "name": "Ad spend",
        "stage": "suspect",
        "unit": "money",
        "capture_method": "pushed",
        "owner": {"id": ad_spend.owner_id, "name": "Alice"},
        "description": "",
        "position": 0,
        "is_active": True,
    }


def test_the_metrics_are_filtered_and_paged(ad_spend: Metric, vera: User) -> None:
    api = Api(vera)
    pushed = api.get("/metrics", capture_method="pushed").json()
    assert [m["key"] for m in pushed["items"]] == ["ad_spend"]
    page = api.get("/metrics", limit=5, stage="lead").json()
    assert (page["count"], page["next_offset"], len(page["items"])) == (8, 5, 5)


# --- POST /metrics/{key}/values ---------------------------------------------------------


def test_the_owner_pushes_a_months_value(ad_spend: Metric, alice: User) -> None:
    response = Api(alice).send(
        "POST", "/metrics/ad_spend/values", {"month": "2025-10", "value": "1250.50", "note": "ERP"}
    )
    assert response.status_code == 201, response.content
    entry = MetricValue.objects.get()
    body = response.json()
    assert body == {
        "id": entry.pk,
        "metric": "ad_spend",
        "month": "2025-10",
        "value": body["value"],
        "team_id": None,
        "person_id": None,
        "source": "pushed",
        "entered_by": {"id": alice.pk, "name": "Alice"},
        "entered_at": body["entered_at"],
        "note": "ERP",
        "current": True,
    }
    assert Decimal(body["value"]) == Decimal("1250.50") == entry.value
    assert (entry.month, entry.source) == (OCTOBER, "pushed")


def test_a_manager_pushes_a_teams_value_as_a_number(
    ad_spend: Metric, mary: User, north: Team
) -> None:
    response = Api(mary).send(
        "POST", "/metrics/ad_spend/values", {"month": "2025-10", "value": 99.5, "team_id": north.pk}
    )
    assert response.status_code == 201, response.content
    assert response.json()["team_id"] == north.pk
    assert MetricValue.objects.get().value == Decimal("99.5")


@pytest.mark.parametrize(
    ("key", "body", "message"),
    [
        ("calls", {"month": "2025-10", "value": 5}, "computed from Keel's records"),
        ("ad_spend", {"month": "2999-01", "value": 5}, "has not begun"),
        ("ad_spend", {"month": "2025-10", "value": -5}, "zero or more"),
        ("ad_spend", {"month": "2025-10", "value": "1e30"}, "digits"),
        ("ad_spend", {"month": "2025-10", "value": 1, "team_id": 1, "person_id": 1}, "not both"),
        ("ad_spend", {"month": "2025-10", "value": 1, "team_id": 999999}, "no team #999999"),
    ],
)
def test_a_refused_push_says_why(
    ad_spend: Metric, mary: User, key: str, body: dict[str, Any], message: str
) -> None:
    response = Api(mary).send("POST", f"/metrics/{key}/values", body)
    assert response.status_code == 422, response.content
    assert message in str(response.json())
    assert not MetricValue.objects.exists()


def test_a_metric_entered_by_hand_takes_no_push(mary: User) -> None:
    MetricFactory(key="referrals", capture_method=CaptureMethod.MANUAL)
    response = Api(mary).send("POST", "/metrics/referrals/values", {"month": "2025-10", "value": 1})
    assert response.status_code == 422
    assert "entered by hand, not pushed" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"month": "2025-13", "value": 1},
        {"month": "October", "value": 1},
        {"month": "2025-10", "value": "lots"},
        {"month": "2025-10"},
    ],
)
def test_a_malformed_push_is_refused(ad_spend: Metric, alice: User, body: dict[str, Any]) -> None:
    response = Api(alice).send("POST", "/metrics/ad_spend/values", body)
    assert response.status_code == 422
    assert not MetricValue.objects.exists()


def test_pushing_to_an_unknown_metric_is_404(mary: User) -> None:
    response = Api(mary).send("POST", "/metrics/nothing/values", {"month": "2025-10", "value": 1})
    assert response.status_code == 404


def test_a_read_token_cannot_push(ad_spend: Metric, alice: User) -> None:
    response = Api(alice, TokenScope.READ).send(
        "POST", "/metrics/ad_spend/values", {"month": "2025-10", "value": 1}
    )
    assert response.status_code == 403 and "may only read" in response.json()["detail"]
    assert not MetricValue.objects.exists()


def test_a_salesperson_cannot_push_to_a_metric_they_do_not_own(ad_spend: Metric, bob: User) -> None:
    response = Api(bob).send("POST", "/metrics/ad_spend/values", {"month": "2025-10", "value": 1})
    assert response.status_code == 403
    assert "may not enter values for Ad spend" in response.json()["detail"]
    assert not MetricValue.objects.exists()


def test_the_owner_of_a_metric_cannot_push_a_colleagues_figure(
    ad_spend: Metric, alice: User, bob: User
) -> None:
    response = Api(alice).send(
        "POST", "/metrics/ad_spend/values", {"month": "2025-10", "value": 1, "person_id": bob.pk}
    )
    assert response.status_code == 403
    assert not MetricValue.objects.exists()


# --- GET /metrics/{key}/values ----------------------------------------------------------


@pytest.mark.usefixtures("memory_cache")
def test_the_history_lists_current_and_superseded_entries(
    ad_spend: Metric, alice: User, mary: User, vera: User, django_assert_max_num_queries
) -> None:
    first = metric_value_push(metric=ad_spend, month=OCTOBER, value=Decimal(100), by=alice)
    second = metric_value_enter(metric=ad_spend, month=OCTOBER, value=Decimal(120), by=mary)
    september = metric_value_push(
        metric=ad_spend, month=date(2025, 9, 1), value=Decimal(80), by=alice
    )
    api = Api(vera, TokenScope.READ)
    # 7: the token's first use is noted, in a savepoint of its own (a database that takes
    # no writes still answers reads).
    with django_assert_max_num_queries(7):
        body = api.get("/metrics/ad_spend/values").json()
    assert [(i["id"], i["current"], i["source"]) for i in body["items"]] == [
        (second.pk, True, "manual"),
        (first.pk, False, "pushed"),
        (september.pk, True, "pushed"),
    ]
    october = api.get("/metrics/ad_spend/values", month="2025-10").json()
    assert [i["id"] for i in october["items"]] == [second.pk, first.pk]
    assert october["count"] == 2
    paged = api.get("/metrics/ad_spend/values", limit=1, offset=1).json()
    assert ([i["id"] for i in paged["items"]], paged["next_offset"]) == ([first.pk], 2)
    assert paged["items"][0]["current"] is False  # ranked before the page is cut


def test_the_history_lists_teams_and_peoples_figures_to_who_may_read_them(
    ad_spend: Metric, olivia: User, alice: User, sam: User, south: Team
) -> None:
    metric_value_push(metric=ad_spend, month=OCTOBER, value=Decimal(1), by=olivia, team=south)
    metric_value_push(metric=ad_spend, month=OCTOBER, value=Decimal(2), by=olivia, person=sam)
    assert Api(alice).get("/metrics/ad_spend/values").json()["items"] == []
    seen = Api(sam).get("/metrics/ad_spend/values").json()["items"]
    assert {(i["team_id"], i["person_id"]) for i in seen} == {(south.pk, None), (None, sam.pk)}


def test_the_history_of_an_unknown_metric_is_404(vera: User) -> None:
    assert Api(vera).get("/metrics/nothing/values").status_code == 404


# --- PUT /metrics/{key}/goals/{year} ----------------------------------------------------


def test_a_manager_sets_and_replaces_a_goal(ad_spend: Metric, mary: User) -> None:
    api = Api(mary)
    response = api.send("PUT", "/metrics/ad_spend/goals/2026", {"target": 12000})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["metric"], body["year"], body["phasing"], body["weights"]) == (
        "ad_spend",
        2026,
        "even",
        [],
    )
    assert Decimal(body["target"]) == 12000
    seasonal = {"target": "15000", "phasing": "seasonal", "weights": [1] * 10 + [2.5, "3.5"]}
    body = api.send("PUT", "/metrics/ad_spend/goals/2026", seasonal).json()
    assert [Decimal(w) for w in body["weights"]] == [1] * 10 + [Decimal("2.5"), Decimal("3.5")]
    goal = Goal.objects.get()
    assert (goal.target, goal.phasing, goal.updated_by) == (15000, "seasonal", mary)
    assert AuditEntry.objects.filter(action="goal.set").count() == 2


@pytest.mark.parametrize(
    ("year", "body"),
    [
        ("2026", {"target": 1, "phasing": "seasonal", "weights": [1] * 11}),
        ("2026", {"target": 1, "phasing": "seasonal"}),
        ("2026", {"target": 1, "weights": [1] * 12}),  # weights need a seasonal phasing
        ("2026", {"target": -1}),
        ("1999", {"target": 1}),
        ("2026", {"target": "much"}),
    ],
)
def test_a_bad_goal_is_refused(ad_spend: Metric, mary: User, year: str, body: Any) -> None:
    response = Api(mary).send("PUT", f"/metrics/ad_spend/goals/{year}", body)
    assert response.status_code == 422, response.content
    assert not Goal.objects.exists()


def test_a_salesperson_cannot_set_a_goal_even_on_their_metric(
    ad_spend: Metric, alice: User
) -> None:
    response = Api(alice).send("PUT", "/metrics/ad_spend/goals/2026", {"target": 1})
    assert response.status_code == 403 and "sales managers and the owner" in str(response.json())
    assert not Goal.objects.exists()


# --- every operation × every role × both scopes -----------------------------------------

CAST = ["olivia", "mary", "alice", "bob", "sam", "sue", "vera"]
MAY_PUSH = {"olivia", "mary", "alice"}  # the owner, North's manager, the metric's owner
MAY_SET_GOALS = {"olivia", "mary"}


@pytest.mark.parametrize("scope", [TokenScope.READ, TokenScope.READ_WRITE])
@pytest.mark.parametrize("username", CAST)
def test_permission_matrix(
    ad_spend: Metric, scope: str, username: str, mary: User, bob: User, sam: User,
    sue: User, olivia: User, vera: User,
) -> None:  # fmt: skip
    api = Api(User.objects.get(username=username), scope)
    writes = scope == TokenScope.READ_WRITE
    assert api.get("/metrics").status_code == 200
    assert api.get("/metrics/ad_spend/values").status_code == 200

    pushed = api.send("POST", "/metrics/ad_spend/values", {"month": "2025-10", "value": 1})
    assert pushed.status_code == (201 if writes and username in MAY_PUSH else 403)
    assert MetricValue.objects.exists() == (pushed.status_code == 201)

    goal = api.send("PUT", "/metrics/ad_spend/goals/2026", {"target": 1})
    assert goal.status_code == (200 if writes and username in MAY_SET_GOALS else 403)
    assert Goal.objects.exists() == (goal.status_code == 200)


# --- GET /months/{month} ----------------------------------------------------------------


def test_a_months_scorecard_has_every_active_metric_with_string_figures(
    ad_spend: Metric, alice: User, vera: User
) -> None:
    metric_value_push(metric=ad_spend, month=OCTOBER, value=Decimal("1250.50"), by=alice)
    response = Api(vera, TokenScope.READ).get("/months/2025-10")
    assert response.status_code == 200
    body = response.json()
    assert body["month"] == "2025-10"
    assert body["scope"] == {"label": "Company", "team_id": None, "person_id": None}
    assert len(body["rows"]) == Metric.objects.filter(is_active=True).count()
    assert body["rows"][0]["stage"] == "suspect"
    [spend] = [r for r in body["rows"] if r["key"] == "ad_spend"]
    assert (spend["this_month"], spend["last_month"], spend["pace"]) == ("1250.5", None, "no_goal")


def test_a_persons_scorecard_is_theirs_and_their_managers(
    alice: User, bob: User, mary: User, north: Team
) -> None:
    path = f"/months/2025-10?person_id={alice.pk}"
    assert Api(alice).get(path).json()["scope"]["person_id"] == alice.pk
    assert Api(mary).get(path).status_code == 200
    assert Api(bob).get(path).status_code == 403
    assert Api(bob).get(f"/months/2025-10?team_id={north.pk}").status_code == 200


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/months/2025-13", 422),
        ("/months/October", 422),
        ("/months/2025-10?team_id=999999", 422),
        ("/months/2025-10?person_id=999999", 422),
    ],
)
def test_a_bad_month_or_scope_is_refused(olivia: User, path: str, status: int) -> None:
    assert Api(olivia).get(path).status_code == status


def test_a_team_and_a_person_at_once_is_refused(olivia: User, alice: User, north: Team) -> None:
    response = Api(olivia).get(f"/months/2025-10?team_id={north.pk}&person_id={alice.pk}")
    assert response.status_code == 422
    assert "not both" in response.content.decode()
