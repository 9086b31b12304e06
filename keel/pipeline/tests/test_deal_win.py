"""The deal workspace's "Chance to win" panel: the model's probability and its factors,
or the stage default with the reason, for everyone who can see the deal."""

import pytest
from django.test import Client

from keel.forecast.tests.test_win_pages import seed_history
from keel.forecast.win_services import win_model_train
from keel.pipeline.models import DealStatus

pytestmark = pytest.mark.django_db


def test_without_history_the_panel_shows_the_stage_default_and_why(client: Client, alice, deal):
    client.force_login(alice)
    page = client.get(f"/deals/{deal.pk}/").content.decode()
    assert 'Chance to win <span class="muted">· 10%</span>' in page
    assert "Stage default: too little history: 0 closed deals" in page


def test_with_a_model_the_panel_shows_the_probability_and_its_factors(
    client: Client, alice, vera, acme, new_business, django_assert_max_num_queries
):
    deals = seed_history(owner=alice, company=acme, process=new_business)
    win_model_train()
    deal = next(d for d in deals if d.status == DealStatus.OPEN)
    for user in (alice, vera):  # the owner of the deal, and someone who only reads
        client.force_login(user)
        with django_assert_max_num_queries(20):  # without the panel: 12 (2 for collateral)
            page = client.get(f"/deals/{deal.pk}/").content.decode()
        assert "Chance to win" in page and " points</span>" in page
        assert "Learned from this business's closed deals" in page


def test_a_closed_deal_has_no_panel(client: Client, alice, acme, new_business):
    deals = seed_history(owner=alice, company=acme, process=new_business)
    win_model_train()
    closed = next(d for d in deals if d.status == DealStatus.WON)
    client.force_login(alice)
    assert "Chance to win" not in client.get(f"/deals/{closed.pk}/").content.decode()
