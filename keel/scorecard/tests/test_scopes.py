"""A team's and a person's scorecard, and the 12-month trend, on top of conftest's October.

Added here: Sam (team South) wins one deal of 500 for Zeta in October (its first), logs
two calls, qualifies one contact of his, and one of that contact's visits is recorded.
Everything of conftest's October that has a person belongs to Alice (team North); its
marketing events are anonymous and its four contacts have no owner.
"""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from keel.accounts.models import Team, User
from keel.activities.models import Activity, ActivityType, Outcome
from keel.core.exceptions import InvalidInput
from keel.crm.models import Channel
from keel.crm.tests.factories import CompanyFactory, ContactFactory
from keel.leads.models import EventType, MarketingEvent
from keel.pipeline.models import Deal, DealStatus, SalesProcess
from keel.scorecard import rules
from keel.scorecard.access import can_view_scope
from keel.scorecard.models import Goal, Metric, MetricValue, ValueSource
from keel.scorecard.selectors import (
    COMPANY,
    Scope,
    by_person,
    metric_values,
    scorecard,
    trend,
)
from keel.scorecard.tests.conftest import EXPECTED_OCTOBER, OCTOBER, October, at, closed_deal


@pytest.fixture
def sam_october(october: October, sam: User, olivia: User, new_business: SalesProcess) -> User:
    zeta = CompanyFactory(name="Zeta")
    closed_deal(by=olivia, company=zeta, process=new_business, status=DealStatus.WON,
                amount="500", created=at(10, 1), closed=at(10, 21))  # fmt: skip
    Deal.objects.filter(company=zeta).update(owner=sam)
    for day in (2, 3):
        Activity.objects.create(
            type=ActivityType.CALL,
            at=at(10, day),
            channel=Channel.COLD_CALLING,
            outcome=Outcome.CONNECTED,
            by=sam,
            company=zeta,
        )
    mine = ContactFactory(company=zeta, owner=sam, qualified_at=at(10, 12))
    MarketingEvent.objects.create(type=EventType.VISIT, occurred_at=at(10, 13), contact=mine)
    return sam


def additive_keys() -> list[str]:
    """The metrics whose figures add up; rates and means are no share of the company's."""
    return [
        m.key
        for m in Metric.objects.filter(key__in=rules.COMPUTED_KEYS)
        if rules.accumulates(key=m.key, unit=m.unit)
    ]


def test_a_persons_figures_are_their_own_records(sam_october: User) -> None:
    sam = metric_values(month=OCTOBER, scope=Scope(person=sam_october))
    assert (sam["deals_won"], sam["bookings"], sam["new_customers"]) == (1, 500, 1)
    assert (sam["calls"], sam["connects"], sam["outbound_telemarketing"]) == (2, 2, 2)
    assert (sam["qualified_conversations"], sam["website_visitors"]) == (1, 1)
    assert (sam["close_rate"], sam["average_deal_size"]) == (Decimal("100.0"), 500)
    assert sam["sales_cycle_days"] == Decimal("20.0")
    assert sam["proposals_submitted"] == 0


def test_a_team_is_its_members(sam_october: User, alice: User, north: Team, south: Team) -> None:
    assert metric_values(month=OCTOBER, scope=Scope(team=south)) == metric_values(
        month=OCTOBER, scope=Scope(person=sam_october)
    )
    assert metric_values(month=OCTOBER, scope=Scope(team=north)) == metric_values(
        month=OCTOBER, scope=Scope(person=alice)
    )


def test_teams_add_up_to_the_company_but_for_what_has_nobody(
    sam_october: User, north: Team, south: Team
) -> None:
    company = metric_values(month=OCTOBER)
    teams = [metric_values(month=OCTOBER, scope=Scope(team=t)) for t in (north, south)]
    # See the docstring: October's marketing events are anonymous, its contacts unowned.
    unattributed = {
        "website_visitors": 3,
        "downloads": 1,
        "inbound_inquiries": 2,
        "qualified_conversations": 2,
    }
    for key in additive_keys():
        total = sum((t[key] or Decimal(0) for t in teams), Decimal(0))
        assert company[key] == total + unattributed.get(key, 0), key


def test_the_company_is_unchanged_by_scopes(october: October) -> None:
    assert metric_values(month=OCTOBER, scope=COMPANY) == EXPECTED_OCTOBER


def test_a_team_or_a_person_not_both(alice: User, north: Team) -> None:
    with pytest.raises(InvalidInput, match="not both"):
        Scope(team=north, person=alice)


def test_entered_values_belong_to_their_scope(october: October, alice: User) -> None:
    tours = Metric.objects.create(key="site_tours", name="Site tours", stage="prospect")
    now = timezone.now()
    for value, person in ((Decimal(7), None), (Decimal(3), alice)):
        MetricValue.objects.create(metric=tours, month=OCTOBER, value=value, person=person,
                                   source=ValueSource.MANUAL, entered_at=now)  # fmt: skip
    assert metric_values(month=OCTOBER, keys=["site_tours"]) == {"site_tours": 7}
    mine = metric_values(month=OCTOBER, keys=["site_tours"], scope=Scope(person=alice))
    assert mine == {"site_tours": 3}


def test_a_scoped_scorecard_has_no_goal(october: October, alice: User) -> None:
    Goal.objects.create(metric=Metric.objects.get(key="deals_won"), year=2025, target=24)
    [company] = [r for r in scorecard(month=OCTOBER).rows() if r.key == "deals_won"]
    [mine] = [r for r in scorecard(month=OCTOBER, scope=Scope(person=alice)).rows()
              if r.key == "deals_won"]  # fmt: skip
    assert company.pace == rules.Pace.BEHIND
    assert (mine.this_month, mine.month_target, mine.pace) == (3, None, rules.Pace.NO_GOAL)


def test_two_first_wins_in_one_month_make_one_new_customer(
    october: October, alice: User, new_business: SalesProcess
) -> None:
    eta = CompanyFactory(name="Eta")
    for day in (3, 4):
        closed_deal(by=alice, company=eta, process=new_business, status=DealStatus.WON,
                    amount="10", created=at(9, 1), closed=at(10, day))  # fmt: skip
    assert metric_values(month=OCTOBER, keys=["new_customers"]) == {"new_customers": 3}


def test_the_trend_is_each_months_figures(sam_october: User) -> None:
    months = trend(through=date(2025, 11, 30), months=3, scope=Scope(person=sam_october))
    assert list(months) == [date(2025, 9, 1), OCTOBER, date(2025, 11, 1)]
    for month, figures in months.items():
        assert figures == metric_values(month=month, scope=Scope(person=sam_october)), month
    company = trend(through=date(2025, 11, 1), months=3)
    for month, figures in company.items():
        assert figures == metric_values(month=month), month


def test_the_trend_reads_each_source_once(october: October, django_assert_max_num_queries) -> None:
    with django_assert_max_num_queries(1 + 4):  # the metrics, one query per source
        trend(through=date(2025, 12, 1), months=12)


def test_the_trend_leaves_months_not_begun_missing(october: October) -> None:
    today = timezone.localdate()
    ahead = trend(through=rules.next_month(rules.month_start(today)), months=2)
    future = ahead[rules.next_month(rules.month_start(today))]
    assert set(future.values()) == {None}
    assert ahead[rules.month_start(today)]["calls"] is not None


@pytest.mark.parametrize(
    ("viewer", "scope", "allowed"),
    [
        ("alice", "company", True),
        ("alice", "person:alice", True),
        ("alice", "person:bob", False),
        ("alice", "team:north", True),
        ("alice", "team:south", False),
        ("mary", "person:bob", True),
        ("mary", "person:sam", False),
        ("mary", "team:north", True),
        ("mary", "team:south", False),
        ("olivia", "person:sam", True),
        ("olivia", "team:south", True),
        ("vera", "company", True),
        ("vera", "person:alice", False),
    ],
)
def test_who_may_see_whose_figures(
    request: pytest.FixtureRequest, viewer: str, scope: str, allowed: bool
) -> None:
    user = request.getfixturevalue(viewer)
    kind, _, name = scope.partition(":")
    target = request.getfixturevalue(name) if name else None
    if kind == "person":
        assert can_view_scope(user, person=target) is allowed
    elif kind == "team":
        assert can_view_scope(user, team=target) is allowed
    else:
        assert can_view_scope(user) is allowed


def test_by_person_over_a_span(sam_october: User, alice: User, bob: User) -> None:
    keys = ["deals_won", "bookings", "calls", "close_rate", "website_visitors"]
    rows = {r.person.username: r.figures for r in by_person(first=OCTOBER, last=OCTOBER, keys=keys)}
    assert rows["alice"] == {
        "deals_won": 3,
        "bookings": Decimal("6000.00"),
        "calls": 3,
        "close_rate": Decimal("75.0"),
        "website_visitors": 0,
    }
    assert rows["sam"]["bookings"] == 500 and rows["sam"]["website_visitors"] == 1
    # Bob sells and did nothing: zeros for what adds up, nothing for a rate.
    assert rows["bob"] == dict.fromkeys(keys, Decimal(0)) | {"close_rate": None}
    assert "olivia" not in rows  # the owner holds no record of October and does not sell
    company = metric_values(month=OCTOBER, keys=keys)
    for key in ("deals_won", "bookings", "calls"):
        assert sum(r[key] for r in rows.values()) == company[key], key


def test_by_person_within_a_team(sam_october: User, alice: User, south: Team) -> None:
    rows = by_person(first=date(2025, 1, 1), last=OCTOBER, keys=["deals_won"],
                     scope=Scope(team=south))  # fmt: skip
    assert [(r.person.username, r.figures["deals_won"]) for r in rows] == [("sam", 1)]
