"""The cleanup page, /pipeline/stalled/: who sees what, the bulk actions, the trend."""

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.test import Client
from django.utils import timezone

from keel.forecast.models import StallCount
from keel.forecast.tests.stall_factories import DAY, deal_with_history, stage, touch
from keel.pipeline.models import Deal, DealStatus

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _thresholds_uncached() -> Iterator[None]:
    """The stall thresholds are cached for the hour: each test starts and ends without."""
    caches["local"].clear()
    yield
    caches["local"].clear()


URL = "/pipeline/stalled/"
ALICES = "Alice's"


@pytest.fixture
def stuck(alice, bob, sam):
    """One stalled deal each for Alice and Bob (team North) and Sam (South), and a moving one."""
    now = timezone.now()
    deals = {}
    for owner, name in ((alice, "Alice's"), (bob, "Bob's"), (sam, "Sam's")):
        deals[name] = deal_with_history(
            owner=owner,
            name=name,
            stints=[("Qualify", now - 70 * DAY), ("Proposal", now - 60 * DAY)],
        )
        touch(deals[name], now - timedelta(hours=2))
    deals["moving"] = deal_with_history(
        owner=alice, name="Moving", stints=[("Proposal", now - DAY)]
    )
    touch(deals["moving"], now)
    return deals


def _checkboxes(page: str) -> set[str]:
    return set(re.findall(r'name="deal" value="(\d+:\d+)"', page))


def test_anonymous_is_sent_to_sign_in(client: Client):
    for response in (client.get(URL), client.post(URL, {"action": "lost"})):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_the_page_lists_visible_stalled_deals_with_their_reasons(client: Client, alice, stuck):
    client.force_login(alice)
    response = client.get(URL)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Alice&#x27;s" in page and "Bob&#x27;s" in page
    assert "Sam&#x27;s" not in page and "Moving" not in page
    assert "60 days in Proposal (too little history: the stage&#x27;s expected 14 days)" in page
    assert "Alice · Proposal" in page and "Bob · Proposal" in page  # grouped by owner and stage
    # Alice may tick only her own: Bob's is shown but has no box.
    assert _checkboxes(page) == {f"{stuck[ALICES].pk}:1"}


def test_a_viewer_reads_but_may_not_act(client: Client, vera, stuck):
    client.force_login(vera)
    page = client.get(URL).content.decode()
    assert "Sam&#x27;s" in page and _checkboxes(page) == set()
    assert "Close as lost" not in page
    alices = stuck["Alice's"]
    response = client.post(
        URL, {"action": "lost", "lost_reason": "timing", "deal": f"{alices.pk}:1"}
    )
    assert response.status_code == 403
    assert Deal.objects.get(pk=alices.pk).status == DealStatus.OPEN


def test_a_salesperson_closing_a_colleagues_deal_is_refused_by_name(client: Client, alice, stuck):
    alices, bobs = stuck["Alice's"], stuck["Bob's"]
    client.force_login(alice)
    response = client.post(
        URL,
        {
            "action": "lost",
            "lost_reason": "went_dark",
            "deal": [f"{alices.pk}:1", f"{bobs.pk}:1"],
            "back": "stage=Proposal",
        },
        follow=True,
    )
    assert response.redirect_chain == [(f"{URL}?stage=Proposal", 302)]
    page = response.content.decode()
    assert "Closed as lost: 1 deal; 1 refused." in page
    assert "Refused: Bob&#x27;s: Alice may not change Bob&#x27;s deal." in page
    assert Deal.objects.get(pk=alices.pk).status == DealStatus.LOST
    assert Deal.objects.get(pk=bobs.pk).status == DealStatus.OPEN


def test_a_manager_reschedules_and_reassigns(client: Client, mary, bob, stuck):
    alices = stuck["Alice's"]
    client.force_login(mary)
    day = timezone.localdate() + timedelta(days=20)
    client.post(
        URL,
        {
            "action": "reschedule",
            "expected_close": day.isoformat(),
            "next_step": "Meet the CFO",
            "deal": f"{alices.pk}:1",
        },
    )
    deal = Deal.objects.get(pk=alices.pk)
    assert (deal.expected_close, deal.next_step, deal.version) == (day, "Meet the CFO", 2)
    client.post(URL, {"action": "reassign", "owner": bob.pk, "deal": f"{alices.pk}:1"})
    assert Deal.objects.get(pk=alices.pk).owner.username == "alice"  # version 1 is stale
    client.post(URL, {"action": "reassign", "owner": bob.pk, "deal": f"{alices.pk}:2"})
    assert Deal.objects.get(pk=alices.pk).owner == bob


def test_an_action_missing_what_it_needs_is_refused_with_the_ticks_kept(
    client: Client, mary, stuck
):
    alices = stuck["Alice's"]
    client.force_login(mary)
    response = client.post(URL, {"action": "reschedule", "deal": f"{alices.pk}:1"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Needed for this action." in page
    assert (
        f'value="{alices.pk}:1" id="pick-{alices.pk}" aria-label="Choose Alice&#x27;s" checked'
        in page
    )
    response = client.post(
        URL,
        {
            "action": "reschedule",
            "deal": f"{alices.pk}:1",
            "next_step": "Call",
            "expected_close": (timezone.localdate() - DAY).isoformat(),
        },
    )
    assert response.status_code == 400 and "is in the past" in response.content.decode()
    assert client.post(URL, {"action": "lost", "lost_reason": "timing"}).status_code == 400
    assert Deal.objects.get(pk=alices.pk).version == 1


def test_filters_narrow_the_list(client: Client, olivia, bob, stuck):
    client.force_login(olivia)
    page = client.get(URL, {"owner": bob.pk}).content.decode()
    assert "Bob&#x27;s" in page and "Alice&#x27;s" not in page
    page = client.get(URL, {"stage": "Close"}).content.decode()
    assert "No stalled deals match these filters" in page


def test_the_trend_is_charted_from_the_nightly_records(client: Client, olivia, alice, stuck):
    today = timezone.localdate()
    proposal = stage("New business", "Proposal")
    for back, stalled in ((2, 5), (1, 3)):
        StallCount.objects.create(
            day=today - timedelta(days=back),
            stage=proposal,
            owner=alice,
            open_deals=9,
            stalled=stalled,
        )
    client.force_login(olivia)
    page = client.get(URL).content.decode()
    assert 'data-chart="stall-trend"' in page
    assert '"data": [5, 3]' in page
    assert "3 of 9 open deals stalled" in page


def test_without_records_the_page_says_how_the_trend_starts(client: Client, olivia):
    client.force_login(olivia)
    page = client.get(URL).content.decode()
    assert "keel stalled --record" in page and 'data-chart="stall-trend"' not in page


def test_the_page_runs_a_bounded_number_of_queries(
    client: Client, mary, alice, bob, django_assert_max_num_queries
):
    now = timezone.now()
    for n in range(40):
        owner = alice if n % 2 else bob
        deal = deal_with_history(owner=owner, stints=[("Proposal", now - (30 + n) * DAY)])
        touch(deal, now - 25 * DAY)
    StallCount.objects.create(
        day=timezone.localdate(), stage=stage("New business", "Proposal"), owner=alice,
        open_deals=20, stalled=20,
    )  # fmt: skip
    client.force_login(mary)
    client.get(URL)  # the thresholds computed once, then cached
    with django_assert_max_num_queries(13):
        page = client.get(URL).content.decode()
    assert len(_checkboxes(page)) == 40


def test_the_list_is_paged(client: Client, olivia, alice, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("keel.forecast.stall_views.PER_PAGE", 10)
    now = timezone.now()
    for n in range(25):
        deal_with_history(
            owner=alice, name=f"Old {n:02}", stints=[("Proposal", now - (90 - n) * DAY)]
        )
    client.force_login(olivia)
    first = client.get(URL).content.decode()
    assert "Page 1 of 3" in first and "25 in all" in first
    assert "Old 00" in first and "Old 10" not in first  # the longest in the stage first
    last = client.get(URL, {"page": 3}).content.decode()
    assert "Old 24" in last and "Old 00" not in last
