from decimal import Decimal

import pytest
from django.test import Client

from keel.accounts.models import User
from keel.crm.tests.factories import CompanyFactory
from keel.pipeline.models import SalesProcess
from keel.pipeline.services import deal_create, deal_move

pytestmark = pytest.mark.django_db


def test_the_pipeline_needs_a_sign_in(client: Client):
    response = client.get("/pipeline/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_board_shows_open_deals_by_stage_with_totals(
    client: Client, alice: User, mary: User, vera: User, new_business: SalesProcess
):
    for n in range(3):
        deal_create(
            by=alice,
            name=f"Deal {n}",
            company=CompanyFactory(name=f"Buyer {n}"),
            process=new_business,
            amount=Decimal(1000 * (n + 1)),
        )
    lost = deal_create(by=alice, name="Gone", company=CompanyFactory(), process=new_business)
    deal_move(deal=lost, to_stage="Lost", by=alice, expected_version=1, lost_reason="price")

    client.force_login(vera)  # a viewer reads the pipeline
    response = client.get("/pipeline/")
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('class="column"') == 6  # the open stages of New business
    assert "Deal 2" in page and "Buyer 0" in page and "Gone" not in page
    assert "EUR 6,000" in page  # Qualify's total
    assert "EUR 600" in page  # weighted at Qualify's 10%


def test_the_board_runs_a_bounded_number_of_queries(
    client: Client, alice: User, new_business: SalesProcess, django_assert_max_num_queries
):
    for n in range(30):
        deal_create(by=alice, name=f"D{n}", company=CompanyFactory(), process=new_business)
    client.force_login(alice)
    with django_assert_max_num_queries(15):
        assert client.get("/pipeline/").status_code == 200


def test_another_process_is_chosen_by_the_url(client: Client, alice: User):
    renewal = SalesProcess.objects.get(name="Renewal")
    client.force_login(alice)
    page = client.get(f"/pipeline/?process={renewal.pk}").content.decode()
    assert "Review" in page and "Negotiate" in page and "Qualify" not in page
    assert client.get("/pipeline/?process=99999").status_code == 404
