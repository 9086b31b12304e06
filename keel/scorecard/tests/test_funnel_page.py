"""The funnel analytics page on test_funnel's October 2025 (the Trial process).

Team North: Mary manages Alice and Bob; Sam is in team South; Olivia owns the business.
"""

import json
import re

import pytest
from django.test import Client

from keel.accounts.models import User
from keel.crm.tests.factories import CompanyFactory
from keel.pipeline.models import SalesProcess
from keel.pipeline.services import deal_create
from keel.scorecard.tests.test_funnel import Trial, noon, trial_build, walked

URL = "/scorecard/funnel/"


@pytest.fixture
def trial(alice: User, bob: User, sam: User, new_business: SalesProcess, settings) -> Trial:
    settings.KEEL_CURRENCY = "EUR"
    settings.KEEL_CONCENTRATION_WARNING = 0.5
    return trial_build(alice=alice, bob=bob, sam=sam, new_business=new_business)


def october(client: Client, trial: Trial) -> str:
    response = client.get(URL, {"month": "2025-10", "process": trial.process.pk})
    assert response.status_code == 200
    return response.content.decode()


def chart(page: str, name: str) -> dict:
    found = re.search(rf'<script id="{name}" type="application/json">(.*?)</script>', page, re.S)
    assert found is not None and f'data-chart="{name}"' in page
    return json.loads(found[1])


def test_the_page_needs_a_sign_in(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_owner_sees_every_section_and_every_person(
    client: Client, trial: Trial, olivia: User
) -> None:
    client.force_login(olivia)
    page = october(client, trial)
    assert "deals created in October 2025" in page
    assert "Offer: 60% go on, the lowest, and deals stay 14 days against 10 expected" in page
    assert page.count('class="badge bad">bottleneck') == 1
    for figure in ("88.9%", "85.7%", "60.0%", "3.5", "1.40×"):
        assert figure in page
    # channel by salesperson: Alice's referral cell, Bob's cold calling, the totals
    assert '60.0% <span class="muted">· 2 of 2 (100.0%)' in page
    assert '80.0% <span class="muted">· 1 of 3 (33.3%)' in page
    assert "3 of 7 (42.9%)" in page
    # velocity: October's row
    assert "EUR 263" in page and "50.0%" in page and "19.0" in page
    # key-person dependence
    assert "Alice holds 70.0% of bookings, more than 50.0%." in page
    assert "0.5800 (5800 points)" in page
    assert "(none)" in page and "Cold list" in page
    conversion = chart(page, "conversion-chart")
    assert conversion["type"] == "bar"
    assert conversion["data"]["labels"] == ["Talk", "Demo", "Offer"]
    assert conversion["data"]["datasets"][0]["data"] == [88.9, 85.7, 60.0]
    velocity = chart(page, "velocity-chart")
    assert velocity["type"] == "line" and velocity["data"]["labels"][-1] == "Oct 2025"
    assert velocity["data"]["datasets"][0]["data"][-1] == 263.16
    assert 'src="/static/vendor/chartjs/chart.umd.min.js" defer' in page


def test_a_salesperson_sees_their_own_row_and_the_totals_only(
    client: Client, trial: Trial, bob: User
) -> None:
    client.force_login(bob)
    page = october(client, trial)
    assert "Alice" not in page and "Sam" not in page
    assert '<th scope="row">Bob</th>' in page
    assert "1 other person&#x27;s row is shown to them" in page
    assert "3 of 7 (42.9%)" in page  # the company's totals
    # the warning names nobody Bob may not see; the shares of others are summed
    assert "One person holds 70.0% of bookings, more than 50.0%." in page
    assert "1 other person" in page and "2 other people" in page


def test_a_manager_sees_their_team_not_the_other_one(
    client: Client, trial: Trial, mary: User
) -> None:
    client.force_login(mary)
    page = october(client, trial)
    assert '<th scope="row">Alice</th>' in page and '<th scope="row">Bob</th>' in page
    assert "Alice holds 70.0% of bookings" in page
    assert "Sam" not in page  # team South's: in the pipeline as "1 other person"


def test_a_viewer_sees_the_company_s_figures_and_nobody_s_row(
    client: Client, trial: Trial, vera: User
) -> None:
    client.force_login(vera)
    page = october(client, trial)
    assert "Offer: 60% go on" in page and "3 of 7 (42.9%)" in page
    assert "Alice" not in page and "Bob" not in page
    assert "2 other people&#x27;s rows are shown" in page


def test_a_period_of_months_and_the_default(client: Client, trial: Trial, olivia: User) -> None:
    client.force_login(olivia)
    page = client.get(
        URL, {"from": "2025-09", "to": "2025-10", "process": trial.process.pk}
    ).content.decode()
    assert "September 2025 – October 2025" in page
    assert "the 11 deals created in" in page
    response = client.get(URL)
    assert response.status_code == 200
    assert response.context["process"].name == "New business"
    assert response.context["period"].months == 12


def test_a_bad_period_says_why_and_shows_the_default(
    client: Client, trial: Trial, olivia: User
) -> None:
    client.force_login(olivia)
    response = client.get(URL, {"from": "2025-10", "to": "2025-01"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "The period ends (2025-01) before it begins (2025-10). Showing" in page
    assert response.context["period"].months == 12
    assert client.get(URL, {"month": "October"}).status_code == 400


def test_an_unknown_or_inactive_process_is_not_found(
    client: Client, trial: Trial, olivia: User
) -> None:
    client.force_login(olivia)
    assert client.get(URL, {"process": "99999"}).status_code == 404
    assert client.get(URL, {"process": "x"}).status_code == 404
    SalesProcess.objects.filter(pk=trial.process.pk).update(is_active=False)
    assert client.get(URL, {"process": trial.process.pk}).status_code == 404


def test_the_page_runs_a_bounded_number_of_queries(
    client: Client, trial: Trial, olivia: User, alice: User, django_assert_max_num_queries
) -> None:
    client.force_login(olivia)
    with django_assert_max_num_queries(16) as before:
        october(client, trial)
    for n in range(20):
        path = [("Talk", noon(10, 1 + n)), ("Signed", noon(10, 2 + n))]
        walked(owner=alice, process=trial.process, channel="partner", path=path, amount="100")
        deal_create(by=alice, name=f"More {n}", company=CompanyFactory(), process=trial.process)
    with django_assert_max_num_queries(len(before.captured_queries)):
        october(client, trial)
