"""Stalled marks on the board's cards and columns, and my stalled deals on my day."""

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from keel.forecast.tests.stall_factories import DAY, deal_with_history, touch
from keel.forecast.tests.test_win_pages import seed_history
from keel.forecast.win_selectors import win_probabilities
from keel.forecast.win_services import win_model_train

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _thresholds_uncached() -> Iterator[None]:
    """The stall thresholds are cached for the hour: each test starts and ends without."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def deals(alice, bob):
    now = timezone.now()
    stuck = deal_with_history(owner=alice, name="Stuck one", stints=[("Proposal", now - 40 * DAY)])
    touch(stuck, now - timedelta(hours=3))
    moving = deal_with_history(owner=alice, name="Moving one", stints=[("Proposal", now - DAY)])
    touch(moving, now)
    bobs = deal_with_history(owner=bob, name="Bob stuck", stints=[("Close", now - 50 * DAY)])
    return {"stuck": stuck, "moving": moving, "bobs": bobs}


def _card(page: str, pk: int) -> str:
    match = re.search(rf'<article class="card[^"]*"\s+id="card-{pk}".*?</article>', page, re.S)
    assert match, f"no card for deal {pk}"
    return match.group(0)


def test_a_stalled_card_carries_a_badge_with_its_reason(client: Client, alice, deals):
    client.force_login(alice)
    page = client.get("/pipeline/").content.decode()
    stuck = _card(page, deals["stuck"].pk)
    assert 'class="card stale' in stuck
    reason = "40 days in Proposal (too little history: the stage&#x27;s expected 14 days)"
    assert f'<span class="badge stalled" title="{reason}">stalled</span>' in stuck
    assert "badge stalled" not in _card(page, deals["moving"].pk)


def test_the_board_loads_each_columns_stalled_count_after_itself(
    client: Client, alice, sam, deals, new_business
):
    client.force_login(alice)
    page = client.get("/pipeline/").content.decode()
    proposal = deals["stuck"].stage_id
    assert f'<div class="stalled-count" id="stalled-count-{proposal}"></div>' in page
    assert f'hx-get="/pipeline/stalled/counts/?process={new_business.pk}"' not in page  # no filter
    assert 'hx-get="/pipeline/stalled/counts/?"' in page and 'hx-trigger="load"' in page
    counts = client.get("/pipeline/stalled/counts/").content.decode()
    link = f"/pipeline/stalled/?process={new_business.pk}&amp;stage=Proposal"
    assert (
        f'<div class="stalled-count" id="stalled-count-{proposal}" hx-swap-oob="true">'
        f'<a href="{link}">1 stalled</a></div>'
    ) in counts
    close = deals["bobs"].stage_id
    assert f'id="stalled-count-{close}" hx-swap-oob="true"><a ' in counts  # Bob's, a teammate
    client.force_login(sam)  # team South sees none of North's
    assert "stalled</a>" not in client.get("/pipeline/stalled/counts/").content.decode()


def test_the_counts_follow_the_boards_filters(client: Client, olivia, bob, deals):
    client.force_login(olivia)
    counts = client.get("/pipeline/stalled/counts/", {"owner": bob.pk}).content.decode()
    assert counts.count("1 stalled</a>") == 1  # Bob's in Close, not Alice's in Proposal
    assert client.get("/pipeline/stalled/counts/").status_code == 200
    assert client.post("/pipeline/stalled/counts/").status_code == 405


def test_the_counts_need_a_sign_in(client: Client):
    assert client.get("/pipeline/stalled/counts/")["Location"].startswith("/accounts/login/")


def test_my_day_lists_my_stalled_deals_with_the_reason(client: Client, alice, deals):
    client.force_login(alice)
    page = client.get("/").content.decode()
    assert 'My stalled deals <span class="muted">· 1</span>' in page
    assert "Stuck one" in page and "40 days in Proposal" in page
    assert "Bob stuck" not in page
    assert f'href="/pipeline/stalled/?owner={alice.pk}"' in page


def test_my_day_without_stalled_deals_shows_no_panel(client: Client, bob, alice):
    now = timezone.now()
    touch(deal_with_history(owner=bob, stints=[("Proposal", now - DAY)]), now)
    client.force_login(bob)
    assert "My stalled deals" not in client.get("/").content.decode()


def test_the_marks_keep_the_board_bounded(
    client: Client, alice, bob, django_assert_max_num_queries
):
    now = timezone.now()
    for n in range(40):
        deal = deal_with_history(
            owner=alice if n % 2 else bob,
            stints=[("Qualify", now - (60 + n) * DAY), ("Proposal", now - (30 + n % 10) * DAY)],
        )
        touch(deal, now - n * DAY)
    client.force_login(alice)
    cache.clear()
    # With the thresholds computed: two reads; and whether a win model exists.
    with django_assert_max_num_queries(16):
        page = client.get("/pipeline/").content.decode()
    assert page.count('class="badge stalled"') == 20  # every card shown in Proposal
    with django_assert_max_num_queries(12):  # then cached, with the stages
        client.get("/pipeline/")
    with django_assert_max_num_queries(10):
        assert "stalled</a>" in client.get("/pipeline/stalled/counts/").content.decode()


def test_a_card_shows_its_learned_chance_to_win_and_why(client: Client, alice, acme, new_business):
    client.force_login(alice)
    assert 'class="win' not in client.get("/pipeline/").content.decode()  # no model yet
    deals = seed_history(owner=alice, company=acme, process=new_business)
    win_model_train()
    page = client.get("/pipeline/").content.decode()
    deal = next(d for d in deals if d.status == "open")
    score = win_probabilities(deals=[deal])[deal.pk]
    assert f'title="{score.percent}% chance to win: ' in page
    assert f">{score.percent}%</span>" in page
