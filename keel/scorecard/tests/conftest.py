"""October 2025 by hand, with records just outside it on either side.

Deals closed in October: won 1,000 (Acme, 10 days from creation), 2,000 (Beta, 20
days), 3,000 (Gamma, 30 days; Gamma already won a deal in September), and one lost
(Acme). Not October: Gamma's September win, a win at the first instant of November, an
open deal.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from keel.accounts.models import User
from keel.activities.models import Activity, ActivityType, Outcome
from keel.crm.models import Channel, Company
from keel.crm.tests.factories import CompanyFactory, ContactFactory
from keel.leads.models import EventType, MarketingEvent
from keel.pipeline.models import Deal, DealStatus, LostReason, SalesProcess
from keel.pipeline.services import deal_create

OCTOBER = date(2025, 10, 1)


def at(month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2025, month, day, hour, minute, second, tzinfo=timezone.get_default_timezone())


@dataclass
class October:
    acme: Company
    beta: Company
    gamma: Company


def closed_deal(
    *,
    by: User,
    company: Company,
    process: SalesProcess,
    status: str,
    created: datetime,
    closed: datetime | None,
    amount: str | None = None,
    currency: str = "EUR",
) -> Deal:
    deal = deal_create(by=by, name=f"{company} {status}", company=company, process=process)
    Deal.objects.filter(pk=deal.pk).update(
        status=status,
        created_at=created,
        closed_at=closed,
        amount=None if amount is None else Decimal(amount),
        currency=currency,
        lost_reason=LostReason.PRICE if status == DealStatus.LOST else "",
    )
    return deal


@pytest.fixture
def october(alice: User, new_business: SalesProcess, settings) -> October:
    settings.KEEL_CURRENCY = "EUR"
    acme, beta, gamma = (CompanyFactory(name=n) for n in ("Acme", "Beta", "Gamma"))
    won, lost = DealStatus.WON, DealStatus.LOST
    common = {"by": alice, "process": new_business}
    closed_deal(**common, company=acme, status=won, amount="1000",
                created=at(10, 1, 0), closed=at(10, 11, 0))  # fmt: skip
    closed_deal(**common, company=beta, status=won, amount="2000",
                created=at(9, 21, 0), closed=at(10, 11, 0))  # fmt: skip
    closed_deal(**common, company=gamma, status=won, amount="3000",
                created=at(9, 30, 23, 59, 59), closed=at(10, 30, 23, 59, 59))  # fmt: skip
    closed_deal(**common, company=acme, status=lost, created=at(9, 1), closed=at(10, 31, 23, 59))
    closed_deal(**common, company=gamma, status=won, amount="500",
                created=at(8, 1), closed=at(9, 15))  # fmt: skip
    closed_deal(**common, company=beta, status=won, amount="700",
                created=at(10, 1), closed=at(11, 1, 0))  # fmt: skip
    closed_deal(**common, company=beta, status=DealStatus.OPEN, amount="9999",
                created=at(10, 5), closed=None)  # fmt: skip

    def activity(kind: str, when: datetime, channel: str = "", outcome: str = "") -> None:
        Activity.objects.create(
            type=kind, at=when, channel=channel, outcome=outcome, by=alice, company=acme
        )

    cold = Channel.COLD_CALLING
    activity(ActivityType.CALL, at(10, 1, 0), cold, Outcome.CONNECTED)
    activity(ActivityType.CALL, at(10, 2), cold, Outcome.NOT_CONNECTED)
    activity(ActivityType.CALL, at(10, 31, 23, 59, 59), cold, Outcome.LEFT_MESSAGE)
    activity(ActivityType.CALL, at(11, 1, 0), cold, Outcome.CONNECTED)  # November
    activity(ActivityType.CALL, at(9, 30, 23, 59, 59), cold, Outcome.CONNECTED)  # September
    activity(ActivityType.PRESENTATION, at(10, 3), outcome=Outcome.HELD)
    activity(ActivityType.PRESENTATION, at(10, 4), outcome=Outcome.NO_SHOW)
    activity(ActivityType.PROPOSAL_SENT, at(10, 5), outcome=Outcome.DONE)
    activity(ActivityType.PROPOSAL_SENT, at(10, 6), outcome=Outcome.DONE)
    activity(ActivityType.TRADESHOW_CONTACT, at(10, 7), Channel.TRADESHOW, Outcome.DONE)
    activity(ActivityType.RESEARCH, at(10, 8), Channel.NETWORKING, Outcome.DONE)
    activity(ActivityType.SOCIAL_TOUCH, at(10, 9), Channel.SOCIAL_SELLING, Outcome.POSITIVE)

    def event(kind: str, when: datetime) -> None:
        MarketingEvent.objects.create(type=kind, occurred_at=when)

    for day in (1, 2, 3):
        event(EventType.VISIT, at(10, day))
    event(EventType.VISIT, at(9, 30, 23, 59, 59))  # September
    event(EventType.DOWNLOAD, at(10, 4))
    event(EventType.INQUIRY, at(10, 5))
    event(EventType.FORM_FILL, at(10, 6))

    for when in (at(10, 1, 0), at(10, 20), at(11, 1, 0), at(9, 3)):
        ContactFactory(company=acme, qualified_at=when)
    return October(acme=acme, beta=beta, gamma=gamma)


# What the docstring above adds up to, by hand.
EXPECTED_OCTOBER = {
    "website_visitors": Decimal(3),
    "downloads": Decimal(1),
    "inbound_inquiries": Decimal(2),  # an inquiry and a form fill
    "outbound_telemarketing": Decimal(3),  # the three October calls, all cold calling
    "outbound_tradeshows": Decimal(1),
    "outbound_networking": Decimal(0),  # research is no touch
    "outbound_social": Decimal(1),
    "calls": Decimal(3),
    "connects": Decimal(1),
    "qualified_conversations": Decimal(2),
    "presentations_given": Decimal(1),  # the no-show is not one
    "proposals_submitted": Decimal(2),
    "deals_won": Decimal(3),
    "close_rate": Decimal("75.0"),  # 3 ÷ (3 + 1)
    "new_customers": Decimal(2),  # Acme and Beta; Gamma bought in September
    "bookings": Decimal("6000.00"),  # 1,000 + 2,000 + 3,000
    "average_deal_size": Decimal("2000.00"),  # 6,000 ÷ 3
    "sales_cycle_days": Decimal("20.0"),  # (10 + 20 + 30) ÷ 3
}
