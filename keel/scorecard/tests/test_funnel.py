"""Funnel analytics on October 2025, by hand.

The process "Trial": Talk (10 days expected), Demo (5), Offer (10), then Signed (won) or
Dropped (lost). Every move at noon; days between moves in brackets. Created in October:

    deal  owner  channel     source     path                                        end
    W1    alice  referral    Ann        Talk 1 (5) Demo 6 (3) Offer 9 (10) Signed 19    won 1,000
    W2    bob    cold call   Cold list  Talk 2 (10) Demo 12 (2) Offer 14 (14) Signed 28 won 3,000
    W3    alice  referral    Ann        Talk 3 (2) Offer 5 (20) Signed 25 (skips Demo) won 2,000
    L1    bob    cold call              Talk 4 (20) Dropped 24                       lost
    L2    alice  social                 Talk 5 (4) Demo 9 (6) Dropped 15             lost
    L3    bob    cold call              Talk 6 (2) Demo 8 (8) Offer 16 (14) Dropped 30  lost
    L4    bob    networking             Talk 10 (2) Demo 12 (1) Offer 13 (18) Dropped 31 lost
    O1    alice  referral               Talk 7 (3) Demo 10 …                         open, 500
    O2    bob    cold call              Talk 8 …                                     open
    B1    alice  social                 Talk 9 (2) Demo 11 (2) Talk 13 (7) Demo 20 (2)
                                        Offer 22 …                                   open, 1,500

Around it: S (alice, created 30 September, Signed 10 October, 4,000, no source), E (bob,
created 1 August, Dropped 5 November, 2,000), N (bob, created at the first instant of
November, open), Sam's open New-business deal created 15 October (1,000, no channel),
and Sam's win of 50,000 USD in October (another currency: left out of the money).
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from keel.accounts.models import User
from keel.crm.tests.factories import CompanyFactory, ContactFactory
from keel.pipeline.models import (
    Deal,
    DealStatus,
    LostReason,
    SalesProcess,
    StageChange,
    StageKind,
)
from keel.pipeline.selectors import version_stages
from keel.pipeline.services import deal_create, process_import
from keel.scorecard.funnel import (
    ChannelMix,
    StageRow,
    channel_mix,
    channel_mix_for_viewer,
    dependence_for_viewer,
    funnel_default_process,
    key_person_dependence,
    stage_funnel,
    velocity_trend,
)
from keel.scorecard.funnel_rules import BottleneckReason, Period
from keel.scorecard.tests.conftest import at

D = Decimal
OCTOBER = Period(first=date(2025, 10, 1), last=date(2025, 10, 1))

TRIAL = """
name: Trial
kind: new_business
stages:
  - {name: Talk, probability: 20, expected_days: 10}
  - {name: Demo, probability: 40, expected_days: 5}
  - {name: Offer, probability: 70, expected_days: 10}
  - {name: Signed, kind: won}
  - {name: Dropped, kind: lost}
"""


def noon(month: int, day: int, year: int = 2025) -> datetime:
    return datetime(year, month, day, 12, tzinfo=timezone.get_default_timezone())


def walked(
    *,
    owner: User,
    process: SalesProcess,
    path: list[tuple[str, datetime]],
    amount: str | None = None,
    currency: str = "EUR",
    channel: str = "",
    source: str = "",
    name: str = "",
) -> Deal:
    """A deal created at its first step's time that took `path` (stage, when)."""
    deal = deal_create(
        by=owner,
        name=name or f"{owner} {path[0][1]:%m-%d}",
        company=CompanyFactory(),
        process=process,
        channel=channel,
        source=source,
    )
    stages = {s.name: s for s in version_stages(deal.process_version_id)}
    StageChange.objects.filter(deal=deal).delete()  # history is append-only, not undeletable
    previous = None
    for stage_name, when in path:
        stage = stages[stage_name]
        StageChange.objects.create(
            deal=deal,
            process_version_id=deal.process_version_id,
            from_stage=previous,
            to_stage=stage,
            at=when,
            by=owner,
        )
        previous = stage
    assert previous is not None
    status = {StageKind.OPEN: DealStatus.OPEN, StageKind.WON: DealStatus.WON}.get(
        StageKind(previous.kind), DealStatus.LOST
    )
    last = path[-1][1]
    Deal.objects.filter(pk=deal.pk).update(
        created_at=path[0][1],
        stage=previous,
        stage_entered_at=last,
        status=status,
        closed_at=None if status == DealStatus.OPEN else last,
        lost_reason=LostReason.PRICE if status == DealStatus.LOST else "",
        amount=None if amount is None else D(amount),
        currency=currency,
    )
    deal.refresh_from_db()
    return deal


@dataclass
class Trial:
    process: SalesProcess
    deals: dict[str, Deal]


@pytest.fixture
def trial(alice: User, bob: User, sam: User, new_business: SalesProcess, settings) -> Trial:
    settings.KEEL_CURRENCY = "EUR"
    settings.KEEL_CONCENTRATION_WARNING = 0.5
    return trial_build(alice=alice, bob=bob, sam=sam, new_business=new_business)


def trial_build(*, alice: User, bob: User, sam: User, new_business: SalesProcess) -> Trial:
    """The deals of the module's docstring (the page's tests use them too)."""
    process = process_import(source=TRIAL, by=None).process
    cold, ref, social = "cold_calling", "referral", "social_selling"
    specs: dict[str, tuple[User, str, str, str | None, list[tuple[str, int, int]]]] = {
        "W1": (alice, ref, "Ann", "1000",
               [("Talk", 10, 1), ("Demo", 10, 6), ("Offer", 10, 9), ("Signed", 10, 19)]),
        "W2": (bob, cold, "Cold list", "3000",
               [("Talk", 10, 2), ("Demo", 10, 12), ("Offer", 10, 14), ("Signed", 10, 28)]),
        "W3": (alice, ref, "Ann", "2000", [("Talk", 10, 3), ("Offer", 10, 5), ("Signed", 10, 25)]),
        "L1": (bob, cold, "", None, [("Talk", 10, 4), ("Dropped", 10, 24)]),
        "L2": (alice, social, "", None, [("Talk", 10, 5), ("Demo", 10, 9), ("Dropped", 10, 15)]),
        "L3": (bob, cold, "", None,
               [("Talk", 10, 6), ("Demo", 10, 8), ("Offer", 10, 16), ("Dropped", 10, 30)]),
        "L4": (bob, "networking", "", None,
               [("Talk", 10, 10), ("Demo", 10, 12), ("Offer", 10, 13), ("Dropped", 10, 31)]),
        "O1": (alice, ref, "", "500", [("Talk", 10, 7), ("Demo", 10, 10)]),
        "O2": (bob, cold, "", None, [("Talk", 10, 8)]),
        "B1": (alice, social, "", "1500",
               [("Talk", 10, 9), ("Demo", 10, 11), ("Talk", 10, 13), ("Demo", 10, 20),
                ("Offer", 10, 22)]),
        "S": (alice, ref, "", "4000", [("Talk", 9, 30), ("Signed", 10, 10)]),
        "E": (bob, cold, "", "2000", [("Talk", 8, 1), ("Dropped", 11, 5)]),
    }  # fmt: skip
    deals = {
        key: walked(
            owner=owner,
            process=process,
            path=[(stage, noon(month, day)) for stage, month, day in path],
            amount=amount,
            channel=channel,
            source=source,
            name=key,
        )
        for key, (owner, channel, source, amount, path) in specs.items()
    }
    deals["N"] = walked(owner=bob, process=process, path=[("Talk", at(11, 1, 0))], name="N")
    deals["sam"] = walked(
        owner=sam, process=new_business, path=[("Qualify", noon(10, 15))], amount="1000"
    )
    deals["usd"] = walked(
        owner=sam,
        process=new_business,
        path=[("Qualify", noon(10, 1)), ("Intake", noon(10, 20))],
        amount="50000",
        currency="USD",
    )
    return Trial(process=process, deals=deals)


# --- stage to stage -----------------------------------------------------------------------


def by_name(rows: list[StageRow]) -> dict[str, StageRow]:
    return {row.name: row for row in rows}


def test_stage_to_stage_by_hand(trial: Trial) -> None:
    funnel = stage_funnel(period=OCTOBER, process=trial.process)
    assert funnel.deals == 10  # W1–W3, L1–L4, O1, O2, B1
    talk, demo, offer = funnel.stages
    assert [s.name for s in funnel.stages] == ["Talk", "Demo", "Offer"]
    # Talk: all 10; 8 went on; O2 is still there; L1 dropped: 8 of 9 decided
    assert (talk.reached, talk.went_on, talk.still_open, talk.dropped) == (10, 8, 1, 1)
    assert talk.conversion == D("88.9")
    # Demo: W3 skipped it and counts as passed; O1 still there; L2 dropped: 6 of 7
    assert (demo.reached, demo.went_on, demo.still_open, demo.dropped) == (8, 6, 1, 1)
    assert demo.conversion == D("85.7")
    # Offer: W1–W3 won; B1 still there; L3 and L4 dropped: 3 of 5
    assert (offer.reached, offer.went_on, offer.still_open, offer.dropped) == (6, 3, 1, 2)
    assert offer.conversion == D("60.0")


def test_median_days_in_stage_by_hand(trial: Trial) -> None:
    talk, demo, offer = stage_funnel(period=OCTOBER, process=trial.process).stages
    # Talk's ended stints: 5 10 2 20 4 2 3 2 2, and B1's second stay of 7 (O2 is still
    # there): 2 2 2 2 3 | 4 5 7 10 20 → (3 + 4) ÷ 2
    assert (talk.median_days, talk.stints, talk.expected_days) == (D("3.5"), 10, 10)
    assert talk.dwell_ratio == D("0.35")
    # Demo: 3 2 6 8 1 and B1's two stays of 2 (O1 is still there): 1 2 2 [2] 3 6 8
    assert (demo.median_days, demo.stints, demo.dwell_ratio) == (D("2.0"), 7, D("0.40"))
    # Offer: 10 14 20 14 18 (B1 is still there): 10 14 [14] 18 20
    assert (offer.median_days, offer.stints, offer.dwell_ratio) == (D("14.0"), 5, D("1.40"))


def test_the_bottleneck_is_named_with_its_reason(trial: Trial) -> None:
    funnel = stage_funnel(period=OCTOBER, process=trial.process)
    assert funnel.bottleneck is not None
    assert funnel.bottleneck.stage == "Offer"
    assert funnel.bottleneck.reason == BottleneckReason.CONVERSION  # 1.4× is under 2×
    assert funnel.bottleneck.text == (
        "Offer: 60% go on, the lowest, and deals stay 14 days against 10 expected (1.4×), "
        "the longest dwell"
    )
    assert [s.is_bottleneck for s in funnel.stages] == [False, False, True]
    assert not funnel.median_capped


def test_a_salesperson_s_own_funnel(trial: Trial, bob: User) -> None:
    funnel = stage_funnel(period=OCTOBER, process=trial.process, owner_ids=[bob.pk])
    talk, demo, offer = funnel.stages
    assert funnel.deals == 5  # W2, L1, L3, L4, O2
    assert (talk.reached, talk.went_on, talk.still_open, talk.conversion) == (5, 3, 1, D("75.0"))
    assert (demo.reached, demo.went_on, demo.conversion) == (3, 3, D("100.0"))
    assert (offer.reached, offer.went_on, offer.dropped, offer.conversion) == (3, 1, 2, D("33.3"))
    assert funnel.bottleneck is None  # no stage has 5 decided deals


def test_a_longer_period_takes_in_more_of_the_cohort(trial: Trial) -> None:
    period = Period(first=date(2025, 9, 1), last=date(2025, 10, 1))
    talk, _, offer = stage_funnel(period=period, process=trial.process).stages
    assert (talk.reached, talk.went_on) == (11, 9)  # S went straight from Talk to Signed
    assert (offer.reached, offer.went_on) == (7, 4)


def test_stages_are_matched_across_versions_by_name(trial: Trial, alice: User) -> None:
    v2 = TRIAL.replace(
        "  - {name: Offer, probability: 70, expected_days: 10}",
        "  - {name: Pilot, probability: 55, expected_days: 7}\n"
        "  - {name: Offer, probability: 70, expected_days: 12}",
    )
    process_import(source=v2, by=None)
    steps = ["Talk", "Demo", "Pilot", "Offer", "Signed"]
    walked(owner=alice, process=trial.process,
           path=[(s, noon(10, 1 + 3 * i)) for i, s in enumerate(steps)])  # fmt: skip
    funnel = stage_funnel(period=OCTOBER, process=trial.process)
    rows = by_name(funnel.stages)
    assert list(rows) == ["Talk", "Demo", "Pilot", "Offer"]
    assert rows["Offer"].expected_days == 12  # the newest version's
    assert funnel.deals == 11
    # the old deals that reached Offer passed where Pilot now stands
    assert (rows["Pilot"].reached, rows["Pilot"].went_on, rows["Pilot"].stints) == (7, 7, 1)
    assert rows["Pilot"].median_days == D("3.0")


def test_the_default_process_is_the_active_new_business_one(trial: Trial) -> None:
    assert funnel_default_process() == SalesProcess.objects.get(name="New business")
    SalesProcess.objects.filter(name="New business").update(is_active=False)
    assert funnel_default_process() == trial.process  # the next new-business one
    SalesProcess.objects.filter(kind="new_business").update(is_active=False)
    assert funnel_default_process() == SalesProcess.objects.filter(is_active=True).order_by("id")[0]
    funnel = stage_funnel(period=OCTOBER)
    assert funnel.process is not None and funnel.process.kind != "new_business"


def test_an_empty_period(trial: Trial) -> None:
    funnel = stage_funnel(period=Period(date(2024, 1, 1), date(2024, 1, 1)), process=trial.process)
    assert funnel.deals == 0
    assert [(s.reached, s.conversion, s.median_days) for s in funnel.stages] == [
        (0, None, None)
    ] * 3
    assert funnel.bottleneck is None


def test_the_stage_funnel_runs_three_queries(trial: Trial, django_assert_num_queries) -> None:
    with django_assert_num_queries(3):
        stage_funnel(period=OCTOBER, process=trial.process)


# --- channel by salesperson ---------------------------------------------------------------


def cells(mix: ChannelMix, name: str) -> dict[str, tuple[int, D | None, int, int, D | None]]:
    row = mix.totals if name == "All" else next(r for r in mix.people if r.name == name)
    return {c.channel: (c.deals, c.share, c.won, c.lost, c.conversion) for c in row.cells}


def test_each_person_s_channel_mix_and_conversion_by_hand(trial: Trial) -> None:
    mix = channel_mix(period=OCTOBER, process=trial.process)
    assert mix.channels == [
        ("social_selling", "Social selling"),
        ("networking", "In-person networking"),
        ("cold_calling", "Cold calling"),
        ("referral", "Referral"),
    ]
    assert [(r.name, r.deals, r.won, r.lost, r.conversion) for r in mix.people] == [
        ("Alice", 5, 2, 1, D("66.7")),
        ("Bob", 5, 1, 3, D("25.0")),
    ]
    # Alice: referral 3 (W1, W3 won, O1 open), social 2 (L2 lost, B1 open)
    assert cells(mix, "Alice") == {
        "social_selling": (2, D("40.0"), 0, 1, D("0.0")),
        "networking": (0, D("0.0"), 0, 0, None),
        "cold_calling": (0, D("0.0"), 0, 0, None),
        "referral": (3, D("60.0"), 2, 0, D("100.0")),
    }
    # Bob: cold calling 4 (W2 won, L1 L3 lost, O2 open), networking 1 (L4 lost)
    assert cells(mix, "Bob")["cold_calling"] == (4, D("80.0"), 1, 2, D("33.3"))
    assert cells(mix, "Bob")["networking"] == (1, D("20.0"), 0, 1, D("0.0"))
    assert cells(mix, "All") == {
        "social_selling": (2, D("20.0"), 0, 1, D("0.0")),
        "networking": (1, D("10.0"), 0, 1, D("0.0")),
        "cold_calling": (4, D("40.0"), 1, 2, D("33.3")),
        "referral": (3, D("30.0"), 2, 0, D("100.0")),
    }
    assert (mix.totals.deals, mix.totals.won, mix.totals.lost) == (10, 3, 4)
    assert mix.totals.conversion == D("42.9")


def test_every_process_and_no_channel(trial: Trial, alice: User, sam: User) -> None:
    mix = channel_mix(period=OCTOBER)
    assert mix.channels[-1] == ("", "(none)")
    assert [r.name for r in mix.people] == ["Alice", "Bob", "Sam"]
    assert cells(mix, "Sam")[""] == (2, D("100.0"), 1, 0, D("100.0"))  # open, and won in USD
    only_alice = channel_mix(period=OCTOBER, owner_ids=[alice.pk])
    assert [r.name for r in only_alice.people] == ["Alice"]
    assert only_alice.totals.deals == 5


def test_the_channel_mix_is_one_query(trial: Trial, django_assert_num_queries) -> None:
    with django_assert_num_queries(1):
        channel_mix(period=OCTOBER, process=trial.process)


# --- sales velocity ---------------------------------------------------------------------


def test_velocity_win_rate_and_cycle_by_hand(trial: Trial) -> None:
    september, october, november = velocity_trend(
        last_month=date(2025, 11, 1), months=3, process=trial.process
    )
    assert [m.month for m in (september, october, november)] == [
        date(2025, 9, 1),
        date(2025, 10, 1),
        date(2025, 11, 1),
    ]
    # October closed W1 (18 days), W2 (26), W3 (22), S (10): won 4; L1–L4 lost
    assert (october.won, october.lost, october.win_rate) == (4, 4, D("50.0"))
    assert october.average_deal_size == D("2500.00")  # 10,000 ÷ 4
    assert october.cycle_days == D("19.0")  # 76 ÷ 4
    # open at the end of October: O1, O2, B1 and E (closed in November); N came after
    assert october.open_deals == 4
    assert october.velocity == D("263.16")  # 4 × 0.5 × 2,500 ÷ 19
    # September: S and E open at its end, nothing closed
    assert (september.open_deals, september.won, september.lost) == (2, 0, 0)
    assert september.win_rate is None and september.velocity is None
    # November: E lost, nothing won; N joined the open deals
    assert (november.open_deals, november.win_rate, november.cycle_days) == (4, D("0.0"), None)
    assert november.average_deal_size is None and november.velocity is None


def test_a_person_s_velocity(trial: Trial, alice: User) -> None:
    [october] = velocity_trend(
        last_month=date(2025, 10, 1), months=1, process=trial.process, owner_ids=[alice.pk]
    )
    # won W1 1,000 (18 days), W3 2,000 (22), S 4,000 (10); lost L2; open O1, B1
    assert (october.won, october.lost, october.win_rate, october.open_deals) == (3, 1, D("75.0"), 2)
    assert (october.average_deal_size, october.cycle_days) == (D("2333.33"), D("16.7"))
    assert october.velocity == D("210.00")  # 2 × 0.75 × 7,000/3 ÷ 50/3


def test_every_process_counts_only_the_business_currency(trial: Trial) -> None:
    [october] = velocity_trend(last_month=date(2025, 10, 1), months=1)
    assert (october.won, october.average_deal_size) == (5, D("2500.00"))  # USD win: no size


def test_months_not_begun_are_missing(trial: Trial, django_assert_num_queries) -> None:
    this_month = timezone.localdate().replace(day=1)
    with django_assert_num_queries(1):
        trend = velocity_trend(last_month=date(this_month.year + 1, 1, 1), months=24)
    assert len(trend) == 24
    assert trend[-1].month == date(this_month.year + 1, 1, 1)
    assert trend[-1].open_deals is None and trend[-1].win_rate is None
    begun = [m for m in trend if m.month <= this_month]
    assert begun and all(m.open_deals is not None for m in begun)
    with django_assert_num_queries(0):
        velocity_trend(last_month=date(this_month.year + 2, 1, 1), months=3)


# --- key-person dependence --------------------------------------------------------------


def test_key_person_dependence_by_hand(trial: Trial, alice: User, bob: User, sam: User) -> None:
    for when, owner in [
        (noon(10, 1), alice),
        (noon(10, 31), alice),
        (noon(10, 15), bob),
        (noon(10, 20), None),
        (noon(9, 30), alice),  # September
        (at(11, 1, 0), bob),  # November
    ]:
        ContactFactory(owner=owner, qualified_at=when)
    found = key_person_dependence(period=OCTOBER)

    # bookings: alice W1 1,000 + W3 2,000 + S 4,000, bob W2 3,000 (Sam's USD win is out)
    bookings = found.bookings
    assert [(r.key, r.label, r.value, r.percent) for r in bookings.rows] == [
        (alice.pk, "Alice", D("7000.00"), D("70.0")),
        (bob.pk, "Bob", D("3000.00"), D("30.0")),
    ]
    assert (bookings.total, bookings.hhi, bookings.hhi_points) == (D("10000.00"), D("0.58"), 5800)
    assert bookings.over and bookings.top is not None and bookings.top.label == "Alice"
    assert bookings.threshold == D("50.0")
    assert bookings.warning == "Alice holds 70.0% of bookings, more than 50.0%."

    # pipeline at the end of October: alice O1 500 + B1 1,500, bob E 2,000, sam 1,000
    pipeline = found.pipeline
    assert [(r.label, r.percent) for r in pipeline.rows] == [
        ("Alice", D("40.0")),
        ("Bob", D("40.0")),
        ("Sam", D("20.0")),
    ]
    assert (pipeline.total, pipeline.hhi, pipeline.over) == (D("5000.00"), D("0.36"), False)
    assert found.pipeline_at == at(11, 1, 0)

    # new leads: alice 2, bob 1, nobody 1; a half is not *more* than half
    leads = found.leads
    assert [(r.label, r.value, r.percent) for r in leads.rows] == [
        ("Alice", D(2), D("50.0")),
        ("(no owner)", D(1), D("25.0")),
        ("Bob", D(1), D("25.0")),
    ]
    assert (leads.hhi, leads.hhi_points, leads.over, leads.top) == (D("0.375"), 3750, False, None)

    # sources of the bookings: S had none 4,000, Ann 3,000 (W1, W3), Cold list 3,000 (W2)
    sources = found.sources
    assert [(r.key, r.label, r.percent) for r in sources.rows] == [
        ("", "(none)", D("40.0")),
        ("Ann", "Ann", D("30.0")),
        ("Cold list", "Cold list", D("30.0")),
    ]
    assert (sources.hhi, sources.over) == (D("0.34"), False)


def test_many_sources_list_the_largest_and_sum_the_rest(
    trial: Trial, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("keel.scorecard.funnel.SOURCE_ROWS", 2)
    sources = key_person_dependence(period=OCTOBER).sources
    assert [(r.label, r.value, r.percent, r.is_others) for r in sources.rows] == [
        ("(none)", D("4000.00"), D("40.0"), False),
        ("Ann", D("3000.00"), D("30.0"), False),
        ("1 other source", D("3000.00"), D("30.0"), True),
    ]
    assert sources.hhi == D("0.34")  # of every source


def test_the_threshold_is_the_setting_or_given(trial: Trial, settings) -> None:
    settings.KEEL_CONCENTRATION_WARNING = 0.75
    found = key_person_dependence(period=OCTOBER)
    assert not found.bookings.over and found.bookings.threshold == D("75.0")
    sources = key_person_dependence(period=OCTOBER, threshold=D("0.35")).sources
    assert sources.over
    assert sources.warning == "Deals with no source bring 40.0% of bookings, more than 35.0%."


def test_a_viewer_sees_the_people_they_may_and_the_rest_together(
    trial: Trial, bob: User, sam: User
) -> None:
    bookings = key_person_dependence(period=OCTOBER).bookings
    seen = dependence_for_viewer(bookings, visible={bob.pk})
    assert [(r.label, r.value, r.percent, r.is_others) for r in seen.rows] == [
        ("Bob", D("3000.00"), D("30.0"), False),
        ("1 other person", D("7000.00"), D("70.0"), True),
    ]
    assert (seen.total, seen.hhi, seen.over) == (bookings.total, bookings.hhi, True)
    assert seen.warning == "One person holds 70.0% of bookings, more than 50.0%."
    assert (
        dependence_for_viewer(bookings, visible={bob.pk, sam.pk, *[r.key for r in bookings.rows]})
        == bookings
    )
    pipeline = dependence_for_viewer(key_person_dependence(period=OCTOBER).pipeline, visible=set())
    assert [(r.label, r.percent) for r in pipeline.rows] == [("3 other people", D("100.0"))]

    mix = channel_mix_for_viewer(
        channel_mix(period=OCTOBER, process=trial.process), visible={bob.pk}
    )
    assert [r.name for r in mix.people] == ["Bob"] and mix.hidden == 1
    assert mix.totals.deals == 10


def test_one_person_s_dependence_and_an_empty_one(
    trial: Trial, alice: User, django_assert_num_queries
) -> None:
    with django_assert_num_queries(4):
        found = key_person_dependence(period=OCTOBER, owner_ids=[alice.pk])
    assert [(r.label, r.percent) for r in found.bookings.rows] == [("Alice", D("100.0"))]
    assert (found.bookings.hhi, found.bookings.hhi_points, found.bookings.over) == (
        D("1.0000"),
        10000,
        True,
    )
    empty = key_person_dependence(period=Period(date(2024, 1, 1), date(2024, 1, 1)))
    assert empty.bookings.rows == [] and empty.bookings.hhi is None and not empty.bookings.over
