"""On the demo business: people add up to their team, teams (and those in none) to the
company, month by month, for every metric whose figures add up.

What nobody answers for (an anonymous website visit, a contact with no owner) is the
company's alone: the test counts it directly and adds it to the people's share.
"""

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from pytest_django import DjangoDbBlocker

from keel.accounts.models import Team, User
from keel.crm.models import Contact
from keel.demo.generate import demo_build, demo_wipe
from keel.leads.models import INQUIRY_TYPES, EventType, MarketingEvent
from keel.scorecard import rules
from keel.scorecard.models import Metric
from keel.scorecard.selectors import Figures, Scope, month_bounds, trend

TODAY = date(2026, 3, 4)
THROUGH = date(2026, 2, 1)
MONTHS = 6
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def demo(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[None]:
    with django_db_blocker.unblock():
        demo_build(size="small", seed=11, today=TODAY)
        yield
        demo_wipe()


def additive() -> list[str]:
    return [
        m.key
        for m in Metric.objects.filter(key__in=rules.COMPUTED_KEYS)
        if rules.accumulates(key=m.key, unit=m.unit)
    ]


def total(trends: list[dict[date, Figures]], month: date, key: str) -> Decimal:
    return sum((t[month][key] or Decimal(0) for t in trends), Decimal(0))


def nobodys(month: date) -> dict[str, int]:
    """The month's records that count for the company and no person."""
    start, end = month_bounds(month)
    events = MarketingEvent.objects.filter(
        occurred_at__gte=start, occurred_at__lt=end, contact__owner__isnull=True
    )
    return {
        "website_visitors": events.filter(type=EventType.VISIT).count(),
        "downloads": events.filter(type=EventType.DOWNLOAD).count(),
        "inbound_inquiries": events.filter(type__in=INQUIRY_TYPES).count(),
        "qualified_conversations": Contact.objects.filter(
            qualified_at__gte=start, qualified_at__lt=end, owner__isnull=True
        ).count(),
    }


def test_people_add_up_to_teams_and_teams_to_the_company(demo: None) -> None:
    keys = additive()
    company = trend(through=THROUGH, months=MONTHS, keys=keys)
    assert any(company[THROUGH][key] for key in keys)  # the demo has figures to add up
    teams = list(Team.objects.all())
    assert teams
    team_trends = []
    for team in teams:
        whole = trend(through=THROUGH, months=MONTHS, keys=keys, scope=Scope(team=team))
        people = [
            trend(through=THROUGH, months=MONTHS, keys=keys, scope=Scope(person=p))
            for p in User.objects.filter(team=team)
        ]
        for month in whole:
            for key in keys:
                assert whole[month][key] == total(people, month, key), (team, month, key)
        team_trends.append(whole)
    outside = [
        trend(through=THROUGH, months=MONTHS, keys=keys, scope=Scope(person=p))
        for p in User.objects.filter(team=None)
    ]
    for month in company:
        unowned = nobodys(month)
        for key in keys:
            parts = total(team_trends, month, key) + total(outside, month, key)
            assert company[month][key] == parts + unowned.get(key, 0), (month, key)
