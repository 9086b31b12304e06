"""On the demo business, the cleanup lists the deals the demo seeded as stalled, with reasons.

The demo stalls some stints (keel/demo/simulate.py, P_STALL): the deal sits far past its
stage's expected days with its activity only at the start. Those still open are found
the way keel/demo/tests/test_demo.py does (over three times the expected days in the
stage, nothing logged for 30 days), and each must be on the cleanup page with its reasons.
"""

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.core.cache import caches
from django.db.models import Max
from django.test import Client
from pytest_django import DjangoDbBlocker

from keel.accounts.models import User
from keel.demo.generate import DemoSummary, demo_build, demo_wipe
from keel.forecast.stall_rules import Why
from keel.forecast.stall_selectors import stall_thresholds, stalled_rows, stalled_visible
from keel.pipeline.models import Deal, DealStatus

TODAY = date(2026, 3, 4)
NOW = datetime.combine(TODAY, time(20), UTC)  # after the demo's working day
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _thresholds_uncached() -> Iterator[None]:
    """The stall thresholds are cached for the hour: each test starts and ends without."""
    caches["local"].clear()
    yield
    caches["local"].clear()


@pytest.fixture(scope="module")
def demo(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[DemoSummary]:
    with django_db_blocker.unblock():
        summary = demo_build(size="small", seed=7, today=TODAY)
        yield summary
        demo_wipe()


def _seeded() -> list[Deal]:
    deals = Deal.objects.filter(status=DealStatus.OPEN).select_related("stage")
    last = dict(deals.values("pk").annotate(last=Max("activities__at")).values_list("pk", "last"))
    seeded = []
    for deal in deals:
        expected = timedelta(days=deal.stage.expected_days or 14)
        quiet = last[deal.pk] is None or NOW - last[deal.pk] > timedelta(days=30)
        if NOW - deal.stage_entered_at > 3 * expected and quiet:
            seeded.append(deal)
    return seeded


def test_the_cleanup_finds_every_seeded_stall_with_its_reasons(demo: DemoSummary) -> None:
    seeded = _seeded()
    assert len(seeded) >= 5
    owner = User.objects.get(username="owner")
    thresholds = stall_thresholds(now=NOW)
    listed = list(stalled_visible(user=owner, thresholds=thresholds, now=NOW))
    rows = {row.deal.pk: row for row in stalled_rows(deals=listed, thresholds=thresholds, now=NOW)}
    assert {d.pk for d in seeded} <= set(rows)
    for deal in seeded:
        assert Why.IDLE in {r.why for r in rows[deal.pk].reasons}
        assert all(r.text for r in rows[deal.pk].reasons)
    dwelling = [d for d in seeded if Why.DWELL in {r.why for r in rows[d.pk].reasons}]
    assert len(dwelling) >= len(seeded) // 2  # most sat past their stage's learned threshold
    # Nearly all open deals that are not stalled have moved or been touched lately.
    assert len(listed) < Deal.objects.filter(status=DealStatus.OPEN).count() / 2


def test_the_cleanup_page_shows_them_to_the_owner(
    demo: DemoSummary, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    seeded = _seeded()
    client.force_login(User.objects.get(username="owner"))
    page = client.get("/pipeline/stalled/").content.decode()
    for deal in seeded:
        assert f'id="stalled-{deal.pk}"' in page
    assert "80% of won deals left it within" in page
    assert "no activity for " in page
