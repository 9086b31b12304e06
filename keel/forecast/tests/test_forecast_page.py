"""/forecast/: who may see which forecast, the period asked, the rows shown, the backtest."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from keel.forecast.simulate import period_of
from keel.forecast.tests.test_forecast_history import history_deal

pytestmark = pytest.mark.django_db

URL = reverse("forecast:forecast")


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()


@pytest.fixture
def pipeline(alice, bob, sam, mary, olivia, new_business):
    """An open deal each for Alice, Bob and Sam, and one Alice won last week."""
    now = timezone.now()
    for owner in (alice, bob, sam):
        history_deal(
            owner=owner,
            process=new_business,
            steps=[("Qualify", now - timedelta(days=40)), ("Close", now - timedelta(days=3))],
            amount="5000",
            expected_close=(now + timedelta(days=5)).date(),
        )
    history_deal(
        owner=alice,
        process=new_business,
        steps=[("Qualify", now - timedelta(days=60)), ("Intake", now - timedelta(days=1))],
        amount="2000",
    )


def signed_in(client, user):
    client.force_login(user)
    return client


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert reverse("login") in response["Location"]
    assert client.get(reverse("forecast:forecast_backtest")).status_code == 302


@pytest.mark.parametrize(
    ("user", "query", "status"),
    [
        ("alice", "", 200),
        ("alice", "team=north", 200),
        ("alice", "person=alice", 200),
        ("alice", "team=south", 403),
        ("alice", "person=bob", 403),
        ("alice", "person=sam", 403),
        ("mary", "person=bob", 200),
        ("mary", "team=north", 200),
        ("mary", "person=sam", 403),
        ("mary", "team=south", 403),
        ("olivia", "team=south", 200),
        ("olivia", "person=sam", 200),
        ("vera", "", 200),
        ("vera", "team=north", 403),
    ],
)
def test_a_team_or_a_person_is_shown_only_to_those_allowed(
    client, pipeline, request, user, query, status
):
    viewer = request.getfixturevalue(user)
    if query:
        kind, name = query.split("=")
        target = request.getfixturevalue(name)
        query = f"{kind}={target.pk}"
    response = signed_in(client, viewer).get(f"{URL}?{query}")
    assert response.status_code == status


def test_the_who_menu_picks_the_same_scope(client, pipeline, alice, sam):
    assert signed_in(client, alice).get(f"{URL}?who=person:{sam.pk}").status_code == 403
    response = client.get(f"{URL}?who=person:{alice.pk}")
    assert response.status_code == 200
    assert "Alice" in response.context["asked"].scope.label


def test_unknown_team_or_person_is_not_found(client, pipeline, olivia):
    signed_in(client, olivia)
    assert client.get(f"{URL}?team=9999").status_code == 404
    assert client.get(f"{URL}?person=x").status_code == 404


def test_the_current_quarter_by_default_and_a_period_when_asked(client, pipeline, olivia):
    signed_in(client, olivia)
    response = client.get(URL)
    this_quarter = period_of(timezone.localdate())
    assert response.context["result"].period == this_quarter
    assert this_quarter.label in response.content.decode()
    for text in ("2027Q1", "2026-12", "2027"):
        response = client.get(f"{URL}?period={text}")
        assert response.status_code == 200
        assert response.context["result"].period.code == text


def test_a_bad_period_says_so_and_shows_the_current_quarter(client, pipeline, olivia):
    response = signed_in(client, olivia).get(f"{URL}?period=2027Q5")
    assert response.status_code == 200
    assert response.context["result"].period == period_of(timezone.localdate())
    assert "A period is a month (2026-12), a quarter (2027Q1) or a year" in (
        response.content.decode()
    )


def test_the_table_has_rows_only_for_people_the_viewer_may_see(
    client, pipeline, alice, bob, sam, olivia
):
    rows = signed_in(client, alice).get(URL).context["rows"]
    assert [row.label for row in rows] == ["Team North", "Alice"]
    client.logout()
    rows = signed_in(client, olivia).get(URL).context["rows"]
    labels = [row.label for row in rows]
    assert labels[:2] == ["Team North", "Team South"]
    assert {"Alice", "Bob", "Sam"} <= set(labels)
    alice_row = next(row for row in rows if row.label == "Alice")
    won_in_period = period_of(timezone.localdate()).first <= timezone.localdate(
        timezone.now() - timedelta(days=1)
    )
    assert alice_row.booked == (2000 if won_in_period else 0)
    assert alice_row.weighted == 4000  # 5,000 in Close at 80%


def test_the_page_shows_the_figures_the_chart_and_the_goal_column(client, pipeline, olivia):
    response = signed_in(client, olivia).get(URL)
    page = response.content.decode()
    assert 'data-chart="fan-chart"' in page
    assert 'id="fan-chart"' in page  # the configuration, by json_script
    chart = response.context["chart"]
    assert [d["label"] for d in chart["data"]["datasets"]][:2] == [
        "P10",
        "P90 (the band: P10–P90)",
    ]
    assert len(chart["data"]["labels"]) == 12
    assert "simulations" in page
    assert "Goals are the company's" not in page


def test_the_page_reads_a_bounded_number_of_queries(
    client, pipeline, olivia, django_assert_max_num_queries
):
    signed_in(client, olivia)
    with django_assert_max_num_queries(25):
        assert client.get(URL).status_code == 200


def test_the_backtest_loads_as_a_fragment_and_on_its_own(client, pipeline, alice):
    signed_in(client, alice)
    url = reverse("forecast:forecast_backtest")
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.content.decode()
    assert "How well it forecast before" in fragment.content.decode()
    page = client.get(url)
    assert "<html" in page.content.decode()


def test_the_page_works_without_any_deal(client, olivia):
    response = signed_in(client, olivia).get(URL)
    assert response.status_code == 200
    assert response.context["total"].p90 == 0
    assert response.context["rows"] == []
