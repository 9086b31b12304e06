"""Campaigns: keeping them (services, pages, API), first- and last-touch attribution, and
the campaign report checked against a hand count."""

import csv
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from keel.accounts.models import Role, TokenScope, User
from keel.accounts.services import token_create
from keel.accounts.tests.factories import UserFactory
from keel.api.tests.conftest import Api
from keel.core.exceptions import InvalidInput, NotAllowed, StaleVersion
from keel.core.models import AuditEntry
from keel.crm.models import Channel, Company, Contact
from keel.crm.tests.factories import CompanyFactory, ContactFactory
from keel.leads.campaign_report import Figures, Report, campaign_report, cost_by_month
from keel.leads.campaigns import attribution_refresh, campaign_create, campaign_update
from keel.leads.capture import Outcome, submission_receive
from keel.leads.definitions import contacts_requalify
from keel.leads.models import (
    Campaign,
    DefinitionStatus,
    EventType,
    LeadDefinition,
    LeadForm,
    MarketingEvent,
)
from keel.leads.services import EventData, events_ingest
from keel.pipeline.models import Deal, DealStatus, LostReason, SalesProcess
from keel.pipeline.services import deal_create

pytestmark = pytest.mark.django_db

JAN, FEB = date(2026, 1, 1), date(2026, 2, 1)
TODAY = date(2026, 3, 1)


def at(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture
def mia(db: None) -> User:
    return UserFactory(username="mia", role=Role.MARKETER)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_campaign(by: User, code: str = "spring-ads", **fields: Any) -> Campaign:
    values: dict[str, Any] = {
        "name": code.replace("-", " ").title(),
        "channel": Channel.ADVERTISING,
        "starts_on": date(2026, 1, 17),
        "ends_on": date(2026, 2, 15),
        "cost": Decimal("300.00"),
        **fields,
    }
    return campaign_create(by=by, code=code, **values)


# --- keeping campaigns ---------------------------------------------------------------------


def test_a_marketer_creates_a_campaign_and_it_is_audited(mia: User) -> None:
    campaign = make_campaign(mia, budget=Decimal("500"), notes="  banners  ")
    assert (campaign.code, campaign.channel, campaign.notes) == (
        "spring-ads",
        "advertising",
        "banners",
    )
    entry = AuditEntry.objects.get(action="campaign.create")
    assert (entry.actor, entry.object_id) == (mia, str(campaign.pk))


def test_the_manager_and_the_owner_may_keep_campaigns_salespeople_and_viewers_not(
    mary: User, olivia: User, alice: User, vera: User
) -> None:
    make_campaign(mary, "by-mary")
    make_campaign(olivia, "by-olivia")
    for user in (alice, vera):
        with pytest.raises(NotAllowed, match="marketers, sales managers and the owner"):
            make_campaign(user, f"by-{user.username}")
    assert sorted(Campaign.objects.values_list("code", flat=True)) == ["by-mary", "by-olivia"]


def test_bad_campaigns_are_refused_with_messages_that_say_what_to_fix(mia: User) -> None:
    with pytest.raises(InvalidInput) as refused:
        make_campaign(
            mia,
            channel="billboards",
            starts_on=date(2026, 3, 1),
            ends_on=date(2026, 2, 1),
            cost=Decimal("-1"),
        )
    assert refused.value.details == [
        "channel: 'billboards' is not a channel; use one of social_selling, networking, "
        "cold_calling, referral, inbound_web, advertising, direct_mail, tradeshow, partner.",
        "ends_on: the campaign cannot end (2026-02-01) before it starts (2026-03-01).",
        "cost: the cost cannot be negative (-1).",
    ]
    make_campaign(mia)
    with pytest.raises(InvalidInput) as taken:
        make_campaign(mia)
    assert any(d.startswith("code: ") and "already exists" in d for d in taken.value.details)
    assert Campaign.objects.count() == 1


def test_an_edit_saves_what_changed_and_a_stale_one_is_refused(mia: User, mary: User) -> None:
    campaign = make_campaign(mia)
    opened = campaign.updated_at
    campaign_update(
        campaign=campaign, by=mary, data={"cost": Decimal("350.00")}, expected_updated_at=opened
    )
    campaign.refresh_from_db()
    assert campaign.cost == Decimal("350.00")
    entry = AuditEntry.objects.get(action="campaign.update")
    assert entry.changes == {"cost": ["300.00", "350.00"]}
    with pytest.raises(StaleVersion, match="after you opened it"):
        campaign_update(
            campaign=campaign, by=mia, data={"cost": Decimal("1")}, expected_updated_at=opened
        )
    with pytest.raises(InvalidInput, match="cannot end"):
        campaign_update(
            campaign=campaign,
            by=mia,
            data={"ends_on": date(2026, 1, 1)},
            expected_updated_at=campaign.updated_at,
        )
    with pytest.raises(NotAllowed):
        campaign_update(
            campaign=campaign, by=UserFactory(role=Role.SALESPERSON), data={},
            expected_updated_at=campaign.updated_at,
        )  # fmt: skip
    campaign.refresh_from_db()
    assert (campaign.cost, campaign.ends_on) == (Decimal("350.00"), date(2026, 2, 15))


# --- attribution ----------------------------------------------------------------------------


def ingest(by: User, email: str, *events: tuple[str, datetime, str]) -> None:
    events_ingest(
        by=by,
        events=[
            EventData(type=kind, occurred_at=when, email=email, campaign=code)
            for kind, when, code in events
        ],
    )


def touches(contact: Contact) -> tuple[str, str]:
    contact.refresh_from_db()
    return contact.first_campaign, contact.last_campaign


def test_first_and_last_touch_follow_the_events_and_stop_at_qualification(mia: User) -> None:
    dana = ContactFactory(email="dana@acme.example")
    ingest(mia, dana.email, ("visit", at(2, 1), "a"), ("download", at(2, 5), "b"))
    ingest(mia, dana.email, ("visit", at(2, 7), ""))  # untagged: no touch
    assert touches(dana) == ("a", "b")
    # Qualified on 10 February: what comes after does not take the credit.
    Contact.objects.filter(pk=dana.pk).update(qualified_at=at(2, 10))
    ingest(mia, dana.email, ("inquiry", at(2, 12), "c"))
    assert touches(dana) == ("a", "b")
    # An event that arrives late but happened first is the first touch, and one before
    # the qualification becomes the last.
    ingest(mia, dana.email, ("visit", at(1, 3), "z"), ("visit", at(2, 9), "d"))
    assert touches(dana) == ("z", "d")
    # Not qualified any more: the latest touch counts, whenever it was.
    Contact.objects.filter(pk=dana.pk).update(qualified_at=None)
    attribution_refresh(contact_ids=[dana.pk])
    assert touches(dana) == ("z", "c")


def test_a_lead_that_stops_qualifying_gets_its_latest_touch_back(mia: User) -> None:
    LeadDefinition.objects.create(
        version=1,
        status=DefinitionStatus.ACTIVE,
        rules=[{"kind": "authority", "roles": ["champion"]}],
    )
    dana = ContactFactory(email="dana@acme.example", buying_role="champion")
    ingest(mia, dana.email, ("visit", at(2, 1), "a"))
    contacts_requalify(contact_ids=[dana.pk])
    ingest(mia, dana.email, ("visit", timezone.now(), "after"))  # she had qualified by then
    assert touches(dana) == ("a", "a")
    Contact.objects.filter(pk=dana.pk).update(buying_role="user")
    contacts_requalify(contact_ids=[dana.pk])
    assert touches(dana) == ("a", "after")


def test_attribution_is_two_updates_per_chunk(mia: User, django_assert_num_queries: Any) -> None:
    people = [ContactFactory() for _ in range(3)]
    for person in people:
        MarketingEvent.objects.create(
            type=EventType.VISIT, occurred_at=at(1, 5), contact=person, campaign="x"
        )
    with django_assert_num_queries(2):
        attribution_refresh(contact_ids=[p.pk for p in people])
    assert {touches(p) for p in people} == {("x", "x")}


def test_a_form_submission_attributes_its_campaign(acme: Company) -> None:
    form = LeadForm.objects.create(name="Guide", campaign="guide-2026", source="site")
    outcome = submission_receive(
        form=form,
        data={"email": "new@acme.example", "last_name": "New"},
        remote_addr="192.0.2.1",
        now=at(3, 1),
    )
    assert outcome == Outcome.STORED
    assert touches(Contact.objects.get(email="new@acme.example")) == ("guide-2026", "guide-2026")


# --- the report against a hand count --------------------------------------------------------


def won(
    company: Company, process: SalesProcess, by: User, closed: datetime, amount: str,
    campaign: str = "", currency: str = "EUR", status: str = DealStatus.WON,
) -> Deal:  # fmt: skip
    deal = deal_create(by=by, name=f"{company} deal", company=company, process=process)
    Deal.objects.filter(pk=deal.pk).update(
        status=status,
        closed_at=closed,
        amount=Decimal(amount),
        currency=currency,
        campaign=campaign,
        lost_reason=LostReason.PRICE if status == DealStatus.LOST else "",
    )
    return deal


def person(company: Company, created: datetime, **dates: datetime) -> Contact:
    contact = ContactFactory(company=company)
    Contact.objects.filter(pk=contact.pk).update(created_at=created, **dates)
    return contact


def event(kind: str, when: datetime, code: str, contact: Contact | None = None) -> None:
    MarketingEvent.objects.create(type=kind, occurred_at=when, campaign=code, contact=contact)


@pytest.fixture
def market(mia: User, alice: User, new_business: SalesProcess, settings: Any) -> None:
    """January and February 2026 (the hand count is in the test below each figure).

    spring-ads  advertising  17 Jan – 15 Feb, cost 300: 15 days in each month, 150 + 150
    autumn-ads  advertising  20 Feb – running, cost 100; today 1 Mar: 10 days, Feb 90
    webinar     inbound web  1 – 28 Feb, cost 280: all in February
    stray       a code with events and no campaign
    """
    settings.KEEL_CURRENCY = "EUR"
    make_campaign(mia)
    make_campaign(mia, "autumn-ads", starts_on=date(2026, 2, 20), ends_on=None, cost=Decimal(100))
    make_campaign(
        mia, "webinar", channel=Channel.INBOUND_WEB, starts_on=date(2026, 2, 1),
        ends_on=date(2026, 2, 28), cost=Decimal(280),
    )  # fmt: skip
    a, b, c = CompanyFactory(name="A"), CompanyFactory(name="B"), CompanyFactory(name="C")
    c1 = person(a, at(1, 22), inquired_at=at(2, 11), qualified_at=at(2, 20))
    c2 = person(b, at(2, 2), inquired_at=at(2, 5))
    c3 = person(a, at(2, 15))
    c4 = person(c, at(1, 10), inquired_at=at(1, 12))
    event("visit", at(1, 5), "")  # untagged: nobody's suspect
    event("visit", at(1, 20), "spring-ads")
    event("download", at(1, 25), "spring-ads", c1)
    event("visit", at(2, 3), "spring-ads")
    event("inquiry", at(2, 4), "spring-ads")  # an inquiry is no suspect
    event("download", at(2, 10), "webinar", c1)
    event("form_fill", at(2, 5), "webinar", c2)
    event("visit", at(2, 16), "spring-ads", c3)
    event("visit", at(2, 12), "stray", c4)
    event("visit", at(2, 21), "spring-ads", c1)  # after c1 qualified: not their last touch
    event("visit", at(3, 2), "spring-ads")  # after the report's months
    attribution_refresh(contact_ids=[c1.pk, c2.pk, c3.pk, c4.pk])
    # c1: first spring-ads, last webinar; c2: webinar; c3: spring-ads; c4: stray.
    won(a, new_business, alice, at(2, 25), "1000")  # A's first win: through c1
    won(a, new_business, alice, at(2, 27), "500", campaign="webinar")  # not a first win
    won(b, new_business, alice, at(2, 26), "2000")  # through c2
    won(b, new_business, alice, at(2, 26, 13), "0", status=DealStatus.LOST)  # lost: nothing
    won(c, new_business, alice, at(1, 28), "300", currency="USD")  # a customer, no bookings
    won(CompanyFactory(name="D"), new_business, alice, at(2, 3), "700")  # nobody's campaign


def figures(
    suspects: int = 0, prospects: int = 0, leads: int = 0, qualified: int = 0,
    customers: int = 0, bookings: str = "0", cost: str | None = None,
) -> Figures:  # fmt: skip
    return Figures(
        suspects=suspects,
        prospects=prospects,
        leads=leads,
        qualified=qualified,
        customers=customers,
        bookings=Decimal(bookings),
        cost=None if cost is None else Decimal(cost),
    )


def rows(report: Report) -> dict[str, list[Figures]]:
    return {g.key: [*g.months, g.total] for g in report.groups}


def test_the_report_by_campaign_first_touch_matches_the_hand_count(
    market: None, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(4):
        report = campaign_report(start=JAN, end=FEB, touch="first", by="campaign", today=TODAY)
    assert report.months == [JAN, FEB]
    assert [g.label for g in report.groups] == ["Autumn Ads", "Spring Ads", "Webinar", "stray"]
    assert rows(report) == {
        #                    Jan                              Feb                    total
        "spring-ads": [
            figures(2, 1, cost="150"),
            figures(3, 1, 1, 1, 1, "1000", "150"),
            figures(5, 2, 1, 1, 1, "1000", "300"),
        ],
        "autumn-ads": [figures(cost="0"), figures(cost="90"), figures(cost="90")],
        "webinar": [
            figures(cost="0"),
            figures(1, 1, 1, 0, 1, "2500", "280"),
            figures(1, 1, 1, 0, 1, "2500", "280"),
        ],
        "stray": [figures(0, 1, 1, 0, 1), figures(1), figures(1, 1, 1, 0, 1)],
    }
    spring = report.group("spring-ads")
    assert spring is not None
    assert (spring.months[0].cost_per_lead, spring.months[1].cost_per_lead) == (None, 150)
    assert (spring.total.cost_per_lead, spring.total.cost_per_customer) == (300, 300)
    stray = report.group("stray")
    assert stray is not None and stray.total.cost_per_customer is None  # no campaign, no cost
    assert report.total == figures(7, 4, 3, 1, 3, "3500", "670")
    assert report.total.cost_per_lead == Decimal("223.33")
    assert report.total.cost_per_customer == Decimal("223.33")
    assert report.month_totals == [figures(2, 2, 1, 0, 1, cost="150"),
                                   figures(5, 2, 2, 1, 2, "3500", "520")]  # fmt: skip


def test_the_report_by_campaign_last_touch_moves_the_credit(market: None) -> None:
    report = campaign_report(start=JAN, end=FEB, touch="last", by="campaign", today=TODAY)
    found = rows(report)
    assert found["spring-ads"] == [
        figures(2, 0, cost="150"),
        figures(3, 1, cost="150"),  # c3 only: c1's last touch was the webinar
        figures(5, 1, cost="300"),
    ]
    assert found["webinar"] == [
        figures(0, 1, cost="0"),  # c1, created in January
        figures(1, 1, 2, 1, 2, "3500", "280"),
        figures(1, 2, 2, 1, 2, "3500", "280"),
    ]
    webinar = report.group("webinar")
    assert webinar is not None
    assert (webinar.total.cost_per_lead, webinar.total.cost_per_customer) == (140, 140)
    spring = report.group("spring-ads")
    assert spring is not None and spring.total.cost_per_customer is None  # no customers


def test_the_report_by_channel_folds_campaigns_and_untracked_codes(market: None) -> None:
    report = campaign_report(start=JAN, end=FEB, touch="first", by="channel", today=TODAY)
    assert [(g.key, g.label) for g in report.groups] == [
        ("inbound_web", "Inbound web"),
        ("advertising", "Advertising"),
        ("untracked", "Untracked"),
    ]
    assert rows(report) == {
        "advertising": [
            figures(2, 1, cost="150"),
            figures(3, 1, 1, 1, 1, "1000", "240"),
            figures(5, 2, 1, 1, 1, "1000", "390"),
        ],
        "inbound_web": [
            figures(cost="0"),
            figures(1, 1, 1, 0, 1, "2500", "280"),
            figures(1, 1, 1, 0, 1, "2500", "280"),
        ],
        "untracked": [figures(0, 1, 1, 0, 1), figures(1), figures(1, 1, 1, 0, 1)],
    }
    advertising = report.group("advertising")
    assert advertising is not None
    assert advertising.months[1].cost_per_customer == 240
    assert report.total == figures(7, 4, 3, 1, 3, "3500", "670")


def test_a_customer_of_a_campaign_that_ended_before_the_period_keeps_its_channel(
    mia: User, alice: User, new_business: SalesProcess
) -> None:
    make_campaign(
        mia, "old-fair", channel=Channel.TRADESHOW, starts_on=date(2025, 9, 1),
        ends_on=date(2025, 9, 30), cost=Decimal(900),
    )  # fmt: skip
    company = CompanyFactory(name="Late")
    buyer = person(company, at(1, 5))
    event("visit", datetime(2025, 9, 10, tzinfo=UTC), "old-fair", buyer)
    attribution_refresh(contact_ids=[buyer.pk])
    won(company, new_business, alice, at(2, 10), "800")
    report = campaign_report(start=JAN, end=FEB, touch="first", by="channel", today=TODAY)
    fair = report.group("tradeshow")
    assert fair is not None and fair.total.customers == 1 and fair.total.bookings == 800
    assert fair.total.cost == 0  # its cost fell in September, outside the period
    assert report.group("untracked") is None


def test_cost_is_spread_over_the_days_and_adds_up_to_the_cost() -> None:
    months = [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    # 31 Jan to 2 Mar: 1 + 28 + 2 = 31 days of 10.00
    shares = cost_by_month(
        cost=Decimal("10.00"),
        starts_on=date(2026, 1, 31),
        ends_on=date(2026, 3, 2),
        months=months,
        today=TODAY,
    )
    assert shares == [Decimal("0.32"), Decimal("9.03"), Decimal("0.65")]
    assert sum(shares) == Decimal("10.00")
    # Running: to today (1 March), 1 + 28 + 1 days.
    running = cost_by_month(
        cost=Decimal("300"), starts_on=date(2026, 1, 31), ends_on=None, months=months, today=TODAY
    )
    assert running == [Decimal("10.00"), Decimal("280.00"), Decimal("10.00")]


def test_a_report_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(InvalidInput, match="ends"):
        campaign_report(start=FEB, end=JAN)
    with pytest.raises(InvalidInput, match="touch"):
        campaign_report(start=JAN, end=FEB, touch="middle")


# --- the pages ------------------------------------------------------------------------------


def test_everyone_signed_in_reads_the_pages_in_bounded_queries(
    market: None, alice: User, django_assert_max_num_queries: Any
) -> None:
    reader = client_for(alice)
    spring = Campaign.objects.get(code="spring-ads")
    pages = {
        reverse("campaigns:list") + "?from=2026-01&to=2026-02": "Spring Ads",
        reverse("campaigns:detail", args=[spring.pk]) + "?from=2026-01&to=2026-02": "Feb 2026",
        reverse("campaigns:report") + "?from=2026-01&to=2026-02": "Untracked",
        reverse("campaigns:report") + "?from=2026-01&to=2026-02&by=campaign&touch=last": "stray",
    }
    for url, words in pages.items():
        with django_assert_max_num_queries(12):
            page = reader.get(url)
        assert page.status_code == 200, url
        assert words in page.content.decode(), url
    listing = reader.get(reverse("campaigns:list") + "?from=2026-01&to=2026-02").content.decode()
    assert "New campaign" not in listing  # alice may not keep campaigns


def test_the_list_stays_bounded_with_many_campaigns(
    mia: User, django_assert_max_num_queries: Any
) -> None:
    for i in range(30):
        make_campaign(mia, f"c-{i}", owner=mia)
    reader = client_for(mia)
    with django_assert_max_num_queries(12):
        page = reader.get(reverse("campaigns:list"))
    assert page.status_code == 200 and "C 29" in page.content.decode()


def test_the_report_downloads_as_csv(market: None, alice: User) -> None:
    # The page spreads a running campaign to the real today: end it where the count did.
    Campaign.objects.filter(code="autumn-ads").update(ends_on=TODAY)
    page = client_for(alice).get(
        reverse("campaigns:report"), {"from": "2026-01", "to": "2026-02", "format": "csv"}
    )
    assert page.status_code == 200 and page["Content-Type"].startswith("text/csv")
    lines = b"".join(page.streaming_content).decode().removeprefix("\ufeff").splitlines()
    assert lines[0] == (
        "channel,month,suspects,prospects,leads,qualified,customers,bookings,cost,"
        "cost_per_lead,cost_per_customer"
    )
    assert "Advertising,2026-02,3,1,1,1,1,1000.00,240.00,240.00,240.00" in lines
    assert lines[-1] == "All,total,7,4,3,1,3,3500.00,670.00,223.33,223.33"


def test_a_code_a_spreadsheet_would_run_is_neutralised_in_the_csv(alice: User) -> None:
    event("visit", at(1, 5), '=HYPERLINK("https://evil.example")')
    page = client_for(alice).get(
        reverse("campaigns:report"),
        {"from": "2026-01", "to": "2026-01", "format": "csv", "by": "campaign"},
    )
    rows = list(csv.reader(b"".join(page.streaming_content).decode().splitlines()))
    labels = {row[0] for row in rows[1:]}
    assert '\'=HYPERLINK("https://evil.example")' in labels
    assert not any(label.startswith("=") for label in labels)


def test_anonymous_is_sent_to_sign_in_and_salespeople_may_not_write(
    client: Client, alice: User, mia: User
) -> None:
    campaign = make_campaign(mia)
    for url in (reverse("campaigns:list"), reverse("campaigns:report")):
        page = client.get(url)
        assert page.status_code == 302 and page["Location"].startswith(f"{reverse('login')}?")
    seller = client_for(alice)
    assert seller.get(reverse("campaigns:new")).status_code == 403
    assert seller.post(reverse("campaigns:edit", args=[campaign.pk]), {}).status_code == 403


def form_data(campaign: Campaign | None = None, **changes: Any) -> dict[str, Any]:
    data = {
        "code": "webinar",
        "name": "Webinar",
        "channel": "inbound_web",
        "starts_on": "2026-02-01",
        "ends_on": "2026-02-28",
        "budget": "300",
        "cost": "280",
        "notes": "",
        "owner": "",
    }
    if campaign is not None:
        data["version"] = campaign.updated_at.isoformat()
    return {**data, **changes}


def test_a_marketer_creates_and_edits_on_the_pages(mia: User, mary: User) -> None:
    pages = client_for(mia)
    assert pages.get(reverse("campaigns:new")).status_code == 200
    refused = pages.post(reverse("campaigns:new"), form_data(ends_on="2026-01-01"))
    assert refused.status_code == 400
    assert "the campaign cannot end (2026-01-01) before it starts" in refused.content.decode()
    created = pages.post(reverse("campaigns:new"), form_data())
    campaign = Campaign.objects.get(code="webinar")
    assert created.status_code == 302 and created["Location"] == reverse(
        "campaigns:detail", args=[campaign.pk]
    )
    opened = form_data(campaign, cost="290")
    assert pages.get(reverse("campaigns:edit", args=[campaign.pk])).status_code == 200
    saved = client_for(mary).post(reverse("campaigns:edit", args=[campaign.pk]), opened)
    assert saved.status_code == 302
    stale = pages.post(reverse("campaigns:edit", args=[campaign.pk]), {**opened, "cost": "1"})
    assert stale.status_code == 409
    assert "after you opened it" in stale.content.decode()
    campaign.refresh_from_db()
    assert campaign.cost == Decimal("290.00")


# --- the API --------------------------------------------------------------------------------


def api_for(user: User, scope: str = TokenScope.READ_WRITE) -> Api:
    return Api(token_create(user=user, name="tests", scope=scope).secret)


def payload(**changes: Any) -> dict[str, Any]:
    return {
        "code": "webinar",
        "name": "Webinar",
        "channel": "inbound_web",
        "starts_on": "2026-02-01",
        "ends_on": "2026-02-28",
        "budget": "300.00",
        "cost": "280.00",
        **changes,
    }


def test_the_api_lists_creates_and_patches(mia: User, vera: User) -> None:
    writer = api_for(mia)
    created = writer.post("/campaigns", payload(owner_id=mia.pk))
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["code"], body["cost"], body["owner"]["id"]) == ("webinar", "280.00", mia.pk)
    for i in range(3):
        make_campaign(mia, f"c-{i}", starts_on=date(2025, 1, 1 + i), ends_on=None)
    listed = api_for(vera, TokenScope.READ).get("/campaigns", limit=2)
    assert listed.status_code == 200
    assert [c["code"] for c in listed.json()["items"]] == ["webinar", "c-2"]
    assert (listed.json()["count"], listed.json()["next_offset"]) == (4, 2)
    patched = writer.patch(
        f"/campaigns/{body['id']}", {"version": body["version"], "cost": "290.00"}
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["cost"] == "290.00"
    stale = writer.patch(f"/campaigns/{body['id']}", {"version": body["version"], "cost": "1"})
    assert stale.status_code == 409
    assert "after you opened it" in stale.json()["detail"]


def test_the_api_refuses_what_a_person_may_not_do_or_gets_wrong(mia: User, alice: User) -> None:
    assert api_for(alice).post("/campaigns", payload()).status_code == 403
    campaign = make_campaign(mia)
    version = campaign.updated_at.isoformat()
    assert (
        api_for(alice)
        .patch(f"/campaigns/{campaign.pk}", {"version": version, "cost": "1"})
        .status_code
        == 403
    )
    wrong = api_for(mia).post("/campaigns", payload(ends_on="2026-01-01"))
    assert wrong.status_code == 422
    assert "cannot end" in wrong.json()["errors"][0]
    assert api_for(mia).patch("/campaigns/999999", {"version": version}).status_code == 404
    assert api_for(mia, TokenScope.READ).post("/campaigns", payload()).status_code == 403
    assert Campaign.objects.count() == 1


def test_contacts_created_after_attribution_count_in_the_right_month(mia: User) -> None:
    """A prospect counts in the month the contact was created, by first touch."""
    make_campaign(mia, "solo", starts_on=date(2026, 1, 1), ends_on=date(2026, 1, 31))
    solo = person(CompanyFactory(), at(1, 31, 23))
    event("visit", at(1, 31, 22), "solo", solo)
    attribution_refresh(contact_ids=[solo.pk])
    report = campaign_report(start=JAN, end=FEB, by="campaign", today=TODAY)
    group = report.group("solo")
    assert group is not None
    assert [m.prospects for m in group.months] == [1, 0]
    assert group.total.cost == Decimal("300.00")
    assert group.total.cost_per_lead is None  # no leads
