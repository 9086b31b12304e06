"""The library's reports, each checked against a hand count on a small fixture, and the page."""

from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from keel.accounts.models import Role, User
from keel.accounts.tests.factories import UserFactory
from keel.collateral.models import (
    Collateral,
    CollateralRequest,
    CollateralUse,
    Kind,
    RequestStatus,
    Status,
)
from keel.collateral.reports import (
    ASSOCIATION_WARNING,
    Cohort,
    collateral_effectiveness,
    collateral_gaps,
    collateral_unused,
    collateral_usage,
)
from keel.crm.models import Company
from keel.pipeline.models import Deal, DealStatus, SalesProcess, StageChange
from keel.pipeline.services import deal_create

pytestmark = pytest.mark.django_db

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


def make(title: str, status: str = Status.ACTIVE, **fields: Any) -> Collateral:
    return Collateral.objects.create(title=title, kind=Kind.DECK, status=status, **fields)


def use(piece: Collateral, by: User, when: datetime, stage: str, deal: Deal | None = None) -> None:
    CollateralUse.objects.create(collateral=piece, by=by, at=when, stage=stage, deal=deal)


@pytest.fixture
def library(alice: User, bob: User, sam: User, new_business: SalesProcess) -> dict[str, Any]:
    """Five active-or-not pieces, and seven uses around the period January–March 2026.

    pieces   A Case study   active   stages Proof            steps "validate the solution "
             B Price sheet  active   stages Proposal         steps Evaluate the offer
             C Intro deck   active   stages Qualify, 1st meeting   steps Recognise a need
             F One-pager    active   stages Close            steps (none)
             D Old deck     retired  stages 2nd meeting      steps Build consensus
             E Video        draft                            steps Commit
    uses     A alice 10 Jan Proof · A alice 5 Feb Proof · A bob 20 Feb Proof
             B bob 21 Feb Proposal · C alice 5 Mar Qualify
             outside: C alice 31 Dec 2025 Qualify · D sam 1 Apr 2026 2nd meeting

    Hand count, the period [1 Jan, 1 Apr):
      usage  total 5; by piece A 3, B 1, C 1; by stage Proof 3, Proposal 1, Qualify 1;
             by person Alice 3, Bob 2; by month Jan 1, Feb 3, Mar 1.
    Unused at noon on 1 April (active: A B C F = 4):
      90 days (since noon 1 Jan): F only → 1 of 4 (25%);
      30 days (since noon 2 Mar): F, A, B → 3 of 4 (75%), never used first, then the
      longest unused (A last 20 Feb, B last 21 Feb).
    Gaps (only New business active; its stages but Lost):
      stages without an active piece: 2nd meeting (D is retired), Intake;
      buyer steps without: Explore options, Build consensus (D retired), Commit (E is a
      draft), Start using it; "Validate the solution" is served by A despite its case.
      Unanswered requests: Build consensus open 1 + accepted 1, Evaluate the offer open 1,
      Start using it in progress 1; the done and declined ones do not count.
    """
    SalesProcess.objects.exclude(pk=new_business.pk).update(is_active=False)
    a = make("Case study", stages=["Proof"], buyer_steps=["validate the solution "])
    b = make("Price sheet", stages=["Proposal"], buyer_steps=["Evaluate the offer"])
    c = make("Intro deck", stages=["Qualify", "1st meeting"], buyer_steps=["Recognise a need"])
    f = make("One-pager", stages=["Close"])
    d = make("Old deck", Status.RETIRED, stages=["2nd meeting"], buyer_steps=["Build consensus"])
    make("Video", Status.DRAFT, buyer_steps=["Commit"])
    use(a, alice, at(2026, 1, 10), "Proof")
    use(a, alice, at(2026, 2, 5), "Proof")
    use(a, bob, at(2026, 2, 20), "Proof")
    use(b, bob, at(2026, 2, 21), "Proposal")
    use(c, alice, at(2026, 3, 5), "Qualify")
    use(c, alice, at(2025, 12, 31), "Qualify")
    use(d, sam, datetime(2026, 4, 1, tzinfo=UTC), "2nd meeting")
    for what, step, status in [
        ("ROI calculator", "Evaluate the offer", RequestStatus.OPEN),
        ("Consensus deck", "Build consensus", RequestStatus.OPEN),
        ("Stakeholder map", "Build consensus", RequestStatus.ACCEPTED),
        ("Onboarding guide", "Start using it", RequestStatus.IN_PROGRESS),
        ("Board memo", "Build consensus", RequestStatus.DONE),
        ("Poster", "Build consensus", RequestStatus.DECLINED),
    ]:
        CollateralRequest.objects.create(
            what=what,
            buyer_step=step,
            status=status,
            requested_by=alice,
            reason="Not now" if status == RequestStatus.DECLINED else "",
        )
    return {"A": a, "B": b, "C": c, "F": f}


def test_usage_by_piece_stage_person_and_month(
    library: dict[str, Any], django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(4):
        usage = collateral_usage(start=START, end=END)
    assert usage.total == 5
    assert [(r.label, r.count) for r in usage.by_piece] == [
        ("Case study", 3),
        ("Intro deck", 1),
        ("Price sheet", 1),
    ]
    assert [(r.label, r.count) for r in usage.by_stage] == [
        ("Proof", 3),
        ("Proposal", 1),
        ("Qualify", 1),
    ]
    assert [(r.label, r.count) for r in usage.by_person] == [("Alice", 3), ("Bob", 2)]
    assert usage.by_month == [(date(2026, 1, 1), 1), (date(2026, 2, 1), 3), (date(2026, 3, 1), 1)]


def test_unused_pieces_and_their_share(
    library: dict[str, Any], django_assert_num_queries: Any
) -> None:
    now = at(2026, 4, 1)
    with django_assert_num_queries(3):
        ninety = collateral_unused(now=now)
    assert (ninety.active, ninety.unused, ninety.percent) == (4, 1, 25)
    assert [p.title for p in ninety.pieces] == ["One-pager"]
    assert ninety.sentence == "1 of 4 active pieces (25%) were not used in the last 90 days."
    thirty = collateral_unused(now=now, days=30)
    assert [p.title for p in thirty.pieces] == ["One-pager", "Case study", "Price sheet"]
    assert [p.last_used_at for p in thirty.pieces] == [None, at(2026, 2, 20), at(2026, 2, 21)]  # type: ignore[attr-defined]
    assert thirty.sentence == "3 of 4 active pieces (75%) were not used in the last 30 days."


def test_unused_with_no_active_piece_says_so(db: None) -> None:
    assert collateral_unused().sentence == "There are no active pieces in the library."


def test_gaps_in_stages_and_buyer_steps_and_requests_by_step(
    library: dict[str, Any], django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(3):
        gaps = collateral_gaps()
    assert [(n.name, n.pieces) for n in gaps.stages] == [
        ("Qualify", 1),
        ("1st meeting", 1),
        ("Proof", 1),
        ("2nd meeting", 0),
        ("Proposal", 1),
        ("Close", 1),
        ("Intake", 0),
    ]
    assert [n.name for n in gaps.stage_gaps] == ["2nd meeting", "Intake"]
    assert [n.name for n in gaps.buyer_step_gaps] == [
        "Explore options",
        "Build consensus",
        "Commit",
        "Start using it",
    ]
    assert {n.name: (n.pieces, n.requests) for n in gaps.buyer_steps} == {
        "Recognise a need": (1, 0),
        "Explore options": (0, 0),
        "Validate the solution": (1, 0),
        "Build consensus": (0, 2),
        "Evaluate the offer": (1, 1),
        "Commit": (0, 0),
        "Start using it": (0, 1),
    }
    assert all(n.processes == ("New business",) for n in gaps.stages)
    assert [(r.buyer_step, r.open, r.accepted, r.in_progress) for r in gaps.requests] == [
        ("Build consensus", 1, 1, 0),
        ("Evaluate the offer", 1, 0, 0),
        ("Start using it", 0, 0, 1),
    ]


# --- effectiveness -------------------------------------------------------------------------


@pytest.fixture
def outcomes(alice: User, acme: Company, new_business: SalesProcess) -> dict[str, Any]:
    """Six deals through Proof, and where the Case study (A) and Price sheet (B) were sent.

    d1  Proof 1 Feb → Proposal 10 Feb → Intake 1 Mar, won      A sent in Proof
    d2  Proof 2 Feb → Lost 20 Feb, lost                         A sent in Proof
    d3  Proof 3 Feb, still open                                 A sent in Proof
    d4  Proof 4 Feb → Proposal 15 Feb → Lost 1 Mar, lost        A and B sent in Proposal
    d5  Proof 5 Feb → Intake 10 Mar, won                        nothing sent
    d6  Proof 1 Dec 2025 → Intake 20 Dec 2025, won              A sent in Proof (before
        the period: it does not count anywhere)
    (Each deal also starts in Qualify when created, today: outside the period.)

    Hand count, period [1 Jan, 1 Apr):
      reached Proof: d1–d5 = 5 deals; closed d1 d2 d4 d5 = 4; won d1 d5 = 2; progressed
        past Proof (a later stage, not Lost): d1 d4 d5 = 3.
      A in Proof, used: d1 d2 d3 → 3 deals, 2 closed, 1 won (50%), 1 progressed (33%);
        not used: d4 d5 → 2 deals, 2 closed, 1 won (50%), 2 progressed (100%).
      reached Proposal: d1 d4 = 2 deals; 2 closed; 1 won; progressed d1 = 1.
      A in Proposal, used: d4 → 1 deal, 1 closed, 0 won (0%), 0 progressed (0%);
        not used: d1 → 1, 1, 1 won (100%), 1 progressed (100%). B in Proposal: the same.
    """
    version = new_business.versions.order_by("-number").first()
    assert version is not None
    stages = {s.name: s for s in version.stages.all()}
    a = make("Case study", stages=["Proof"])
    b = make("Price sheet", stages=["Proposal"])
    deals: dict[str, Deal] = {}

    def deal(key: str, path: list[tuple[str, datetime]], status: str) -> Deal:
        made = deal_create(by=alice, name=key, company=acme, process=new_business)
        for name, when in path:
            StageChange.objects.create(
                deal=made, process_version=version, to_stage=stages[name], at=when, by=alice
            )
        last = path[-1]
        closed = {} if status == DealStatus.OPEN else {"closed_at": last[1]}
        lost = {"lost_reason": "price"} if status == DealStatus.LOST else {}
        Deal.objects.filter(pk=made.pk).update(
            stage=stages[last[0]], status=status, **closed, **lost
        )
        deals[key] = made
        return made

    d1 = deal(
        "d1",
        [("Proof", at(2026, 2, 1)), ("Proposal", at(2026, 2, 10)), ("Intake", at(2026, 3, 1))],
        DealStatus.WON,
    )
    d2 = deal("d2", [("Proof", at(2026, 2, 2)), ("Lost", at(2026, 2, 20))], DealStatus.LOST)
    d3 = deal("d3", [("Proof", at(2026, 2, 3))], DealStatus.OPEN)
    d4 = deal(
        "d4",
        [("Proof", at(2026, 2, 4)), ("Proposal", at(2026, 2, 15)), ("Lost", at(2026, 3, 1))],
        DealStatus.LOST,
    )
    deal("d5", [("Proof", at(2026, 2, 5)), ("Intake", at(2026, 3, 10))], DealStatus.WON)
    d6 = deal("d6", [("Proof", at(2025, 12, 1)), ("Intake", at(2025, 12, 20))], DealStatus.WON)
    for d, when in ((d1, at(2026, 2, 2)), (d2, at(2026, 2, 3)), (d3, at(2026, 2, 4))):
        use(a, alice, when, "Proof", d)
    use(a, alice, at(2026, 2, 16), "Proposal", d4)
    use(b, alice, at(2026, 2, 17), "Proposal", d4)
    use(a, alice, at(2025, 12, 2), "Proof", d6)
    return {"A": a, "B": b, **deals}


def test_effectiveness_against_the_hand_count(
    outcomes: dict[str, Any], django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(2):
        report = collateral_effectiveness(start=START, end=END)
    rows = [(e.title, e.stage, e.used, e.not_used) for e in report.rows]
    assert rows == [
        ("Case study", "Proof", Cohort(3, 2, 1, 1), Cohort(2, 2, 1, 2)),
        ("Case study", "Proposal", Cohort(1, 1, 0, 0), Cohort(1, 1, 1, 1)),
        ("Price sheet", "Proposal", Cohort(1, 1, 0, 0), Cohort(1, 1, 1, 1)),
    ]
    proof = report.rows[0]
    assert (proof.used.win_rate, proof.used.progress_rate) == (50, 33)
    assert (proof.not_used.win_rate, proof.not_used.progress_rate) == (50, 100)
    assert proof.small_sample  # 3 and 2 deals: far too few to read anything into
    assert report.warning == ASSOCIATION_WARNING
    assert "association, not proof" in report.warning


def test_effectiveness_of_an_open_deal_only_has_no_win_rate() -> None:
    assert Cohort(deals=1, closed=0, won=0, progressed=0).win_rate is None


def test_effectiveness_outside_the_period_is_empty(outcomes: dict[str, Any]) -> None:
    later = collateral_effectiveness(start=END, end=datetime(2026, 7, 1, tzinfo=UTC))
    assert later.rows == []


# --- the page ------------------------------------------------------------------------------


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_page_shows_the_four_reports_in_bounded_queries(
    library: dict[str, Any], outcomes: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    marketer = UserFactory(username="mia", role=Role.MARKETER)
    client = client_for(marketer)
    with django_assert_max_num_queries(16):
        response = client.get(reverse("collateral_reports:overview"), {"months": "12"})
    assert response.status_code == 200
    body = response.content.decode()
    for text in ("Usage", "Unused", "were not used in the last 90 days", "Gaps", "Effectiveness"):
        assert text in body
    assert "Association, not proof." in body


@pytest.mark.parametrize("who", ["mary", "olivia", "vera"])
def test_managers_the_owner_and_viewers_read_the_reports(
    request: pytest.FixtureRequest, who: str
) -> None:
    user = request.getfixturevalue(who)
    assert client_for(user).get(reverse("collateral_reports:overview")).status_code == 200


@pytest.mark.parametrize("who", ["alice", "sam"])
def test_salespeople_get_403(request: pytest.FixtureRequest, who: str) -> None:
    user = request.getfixturevalue(who)
    assert client_for(user).get(reverse("collateral_reports:overview")).status_code == 403


def test_anonymous_people_are_sent_to_sign_in(db: None) -> None:
    response = Client().get(reverse("collateral_reports:overview"))
    assert response.status_code == 302 and "login" in response["Location"]
