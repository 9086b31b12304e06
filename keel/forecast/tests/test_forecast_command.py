"""`keel forecast`: a period's forecast as a table or JSON, a team's or a person's, and
the backtest."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from keel.forecast.simulate import period_of
from keel.forecast.tests.test_forecast_history import history_deal

pytestmark = pytest.mark.django_db


@pytest.fixture
def pipeline(alice, sam, new_business):
    now = timezone.now()
    for owner in (alice, sam):
        history_deal(
            owner=owner,
            process=new_business,
            steps=[("Qualify", now - timedelta(days=40)), ("Close", now - timedelta(days=3))],
            amount="5000",
            expected_close=(now + timedelta(days=5)).date(),
        )


def run(*args: str) -> str:
    out = StringIO()
    call_command("forecast", *args, stdout=out)
    return out.getvalue()


def test_json_gives_the_figures_months_and_rows(pipeline):
    found = json.loads(run("--period", "2027Q1", "--simulations", "300", "--format", "json"))
    assert found["period"] == "2027Q1"
    assert found["scope"] == "Company"
    assert found["simulations"] == 300
    assert found["open_deals"] == 2
    assert set(found["forecast"]) == {
        "booked_so_far", "weighted_pipeline", "p10", "p50", "p90", "expected", "goal",
    }  # fmt: skip
    assert [m["month"] for m in found["months"]][:3] == ["2027-01", "2027-02", "2027-03"]
    assert [m["in_period"] for m in found["months"]][:4] == [True, True, True, False]
    assert {row.get("team") or row.get("person") for row in found["rows"]} == {
        "Team North", "Team South", "Alice", "Sam",
    }  # fmt: skip


def test_the_same_seed_gives_the_same_forecast(pipeline):
    args = ("--simulations", "300", "--format", "json", "--seed", "4")
    first, second = json.loads(run(*args)), json.loads(run(*args))
    assert first["forecast"] == second["forecast"]
    assert first["period"] == period_of(timezone.localdate()).code


def test_a_team_or_a_person(pipeline, sam):
    found = json.loads(run("--team", "south", "--simulations", "200", "--format", "json"))
    assert found["scope"] == "Team South"
    assert [row["person"] for row in found["rows"]] == ["Sam"]
    assert found["forecast"]["goal"] is None
    table = run("--person", "sam", "--simulations", "200", "--learned")
    assert "Sam" in table
    assert "Learned from the stage history" in table
    assert "stage defaults" in table  # two deals are too little history


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--period", "2027Q9"), "--period: A period is a month"),
        (("--team", "Nowhere"), "There is no team 'Nowhere'"),
        (("--person", "nobody"), "There is no user 'nobody'"),
        (("--team", "North", "--person", "alice"), "--team or --person, not both"),
        (("--simulations", "0"), "--simulations: from 1"),
    ],
)
def test_bad_arguments_say_what_to_give(pipeline, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_the_backtest(pipeline):
    table = run("--backtest", "--simulations", "200", "--months", "2", "--quarters", "1")
    assert "Forecast backtest" in table
    found = json.loads(run("--backtest", "--simulations", "200", "--format", "json"))
    assert found["simulations"] == 200
    assert {s["kind"] for s in found["summary"]} == {"month", "quarter"}
