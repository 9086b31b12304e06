"""The scorecard page, the monthly review and the export, on conftest's October 2025.

Added here: a goal of 24 deals won in 2025 (October is behind it: 4 won by October),
and Sam of team South, who won nothing.
"""

import csv
import json
from io import BytesIO, StringIO

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from keel.accounts.models import Team, User
from keel.scorecard.models import Goal, Metric
from keel.scorecard.tests.conftest import October

MONTH = {"month": "2025-10"}


@pytest.fixture
def goals(october: October, sam: User) -> None:
    Goal.objects.create(metric=Metric.objects.get(key="deals_won"), year=2025, target=24)


def signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def name(user: User) -> str:
    return user.get_full_name() or user.username


URLS = [
    reverse("scorecard:scorecard"),
    reverse("scorecard:review"),
    reverse("scorecard:export", args=["csv"]),
]


@pytest.mark.parametrize("url", URLS)
def test_anonymous_is_sent_to_sign_in(client: Client, url: str, db: None) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_page_shows_every_step_the_pace_and_the_charts(
    client: Client, goals: None, olivia: User, django_assert_max_num_queries
) -> None:
    client = signed_in(client, olivia)
    # Each source thrice for the scorecard and once for the trend; session, user, metrics,
    # goals, and whose figures the menu offers.
    with django_assert_max_num_queries(20):
        response = client.get(reverse("scorecard:scorecard"), MONTH)
    assert response.status_code == 200
    page = response.content.decode()
    for step in ("Suspect", "Prospect", "Lead", "Customer"):
        assert f">{step}</h2>" in page
    assert "October 2025 · Company" in page
    assert 'class="badge bad">behind</span>' in page
    assert "EUR 6,000" in page  # October's bookings
    for chart in ("funnel-chart", "ytd-chart", "trend-chart"):
        assert f'data-chart="{chart}"' in page
        assert f'<script id="{chart}" type="application/json">' in page
    funnel = json.loads(page.split('<script id="funnel-chart" type="application/json">')[1].split(
        "</script>")[0])  # fmt: skip
    assert funnel["data"]["labels"] == ["Suspect", "Prospect", "Lead", "Customer"]
    assert funnel["data"]["datasets"][0]["data"] == [3, 2, 2, 2]


def test_the_charts_follow_the_chosen_metric(client: Client, goals: None, olivia: User) -> None:
    response = signed_in(client, olivia).get(
        reverse("scorecard:scorecard"), MONTH | {"metric": "calls"}
    )
    assert "Calls: the last 12 months" in response.content.decode()


def test_a_month_that_is_not_one_is_said_and_last_month_shown(
    client: Client, goals: None, olivia: User
) -> None:
    response = signed_in(client, olivia).get(reverse("scorecard:scorecard"), {"month": "2025-13"})
    assert response.status_code == 200
    assert "is not a month Keel can show" in response.content.decode()


def test_a_person_sees_their_own_scorecard_not_a_colleagues(
    client: Client, goals: None, alice: User, bob: User, south: Team
) -> None:
    client = signed_in(client, alice)
    url = reverse("scorecard:scorecard")
    mine = client.get(url, MONTH | {"person": alice.pk})
    assert mine.status_code == 200
    assert f"October 2025 · {name(alice)}" in mine.content.decode()
    assert client.get(url, MONTH | {"person": bob.pk}).status_code == 403
    assert client.get(url, MONTH | {"who": f"person:{bob.pk}"}).status_code == 403
    assert client.get(url, MONTH | {"team": south.pk}).status_code == 403
    assert client.get(reverse("scorecard:review"), MONTH | {"person": bob.pk}).status_code == 403
    export = reverse("scorecard:export", args=["csv"])
    assert client.get(export, MONTH | {"person": bob.pk}).status_code == 403


def test_a_manager_opens_their_teams_scorecard(
    client: Client, goals: None, mary: User, north: Team, south: Team
) -> None:
    client = signed_in(client, mary)
    url = reverse("scorecard:scorecard")
    response = client.get(url, MONTH | {"who": f"team:{north.pk}"})
    assert response.status_code == 200
    assert "Team North" in response.content.decode()
    assert client.get(url, MONTH | {"who": f"team:{south.pk}"}).status_code == 403


@pytest.mark.parametrize("query", [{"team": "x"}, {"person": "999999"}, {"team": "999999"}])
def test_unknown_scopes_are_not_found(client: Client, olivia: User, query: dict[str, str]) -> None:
    response = signed_in(client, olivia).get(reverse("scorecard:scorecard"), query)
    assert response.status_code == 404


def test_the_review_names_what_is_behind_and_who_holds_it(
    client: Client, goals: None, olivia: User, alice: User, sam: User
) -> None:
    response = signed_in(client, olivia).get(reverse("scorecard:review"), MONTH)
    assert response.status_code == 200
    page = response.content.decode()
    behind = page.split('id="behind-h"')[1].split("</section>")[0]
    assert "Deals won" in behind and "Bookings" not in behind
    who = page.split('id="who-h"')[1].split("</section>")[0]
    assert name(alice) in who
    assert "(100.0%)" in who  # Alice won every deal of the year
    assert name(sam) in who  # he sells, and won none


def test_the_review_shows_a_salesperson_only_their_own_row(
    client: Client, goals: None, sam: User, alice: User
) -> None:
    page = signed_in(client, sam).get(reverse("scorecard:review"), MONTH).content.decode()
    who = page.split('id="who-h"')[1].split("</section>")[0]
    assert name(alice) not in who
    assert name(sam) in who


def test_the_csv_has_a_row_per_metric_with_plain_numbers(
    client: Client, goals: None, olivia: User
) -> None:
    response = signed_in(client, olivia).get(reverse("scorecard:export", args=["csv"]), MONTH)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "keel-scorecard-2025-10-" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(StringIO(text)))
    assert len(rows) == Metric.objects.filter(is_active=True).count()
    [won] = [r for r in rows if r["Metric"] == "Deals won"]
    assert won["This month"] == "3"
    assert won["Pace"] == "behind"


def test_the_xlsx_opens(client: Client, goals: None, olivia: User) -> None:
    response = signed_in(client, olivia).get(reverse("scorecard:export", args=["xlsx"]), MONTH)
    sheet = load_workbook(BytesIO(b"".join(response.streaming_content))).active
    assert sheet is not None
    header = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
    assert header[:3] == ["Step", "Metric", "Unit"]


def test_an_unknown_export_format_is_not_found(client: Client, olivia: User) -> None:
    response = signed_in(client, olivia).get(reverse("scorecard:export", args=["pdf"]))
    assert response.status_code == 404
