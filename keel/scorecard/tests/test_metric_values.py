from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from keel.accounts.models import User
from keel.core.exceptions import InvalidInput
from keel.pipeline.models import DealStatus, SalesProcess
from keel.scorecard import rules
from keel.scorecard.models import CaptureMethod, Metric
from keel.scorecard.selectors import SOURCES, metric_values, month_bounds
from keel.scorecard.services import DEFAULT_METRICS
from keel.scorecard.tests.conftest import EXPECTED_OCTOBER, OCTOBER, October, at, closed_deal


def test_every_computed_metric_by_hand(october: October) -> None:
    assert metric_values(month=OCTOBER) == EXPECTED_OCTOBER


def test_any_day_of_the_month_means_the_month(october: October) -> None:
    assert metric_values(month=date(2025, 10, 17), keys=["deals_won"]) == {"deals_won": Decimal(3)}


def test_an_empty_month_counts_zero_and_leaves_ratios_missing(october: October) -> None:
    values = metric_values(month=date(2025, 6, 1))
    assert values["calls"] == values["deals_won"] == values["bookings"] == 0
    assert values["close_rate"] is None
    assert values["average_deal_size"] is None
    assert values["sales_cycle_days"] is None


def test_a_month_not_begun_is_missing_throughout(db: None) -> None:
    today = timezone.localdate()
    future = date(today.year + 1, today.month, 1)
    assert set(metric_values(month=future).values()) == {None}


def test_deals_in_another_currency_are_left_out_of_the_money(
    october: October, alice: User, new_business: SalesProcess
) -> None:
    closed_deal(
        by=alice,
        company=october.beta,
        process=new_business,
        status=DealStatus.WON,
        amount="50000",
        currency="USD",
        created=at(10, 1),
        closed=at(10, 2),
    )
    values = metric_values(month=OCTOBER, keys=["deals_won", "bookings", "average_deal_size"])
    assert values == {
        "deals_won": Decimal(4),
        "bookings": Decimal("6000.00"),
        "average_deal_size": Decimal("2000.00"),
    }


def test_unknown_keys_are_refused(db: None) -> None:
    with pytest.raises(InvalidInput, match="'nonsense'"):
        metric_values(month=OCTOBER, keys=["calls", "nonsense"])


def test_inactive_metrics_are_left_out_unless_asked_for(october: October) -> None:
    Metric.objects.filter(key="calls").update(is_active=False)
    assert "calls" not in metric_values(month=OCTOBER)
    assert metric_values(month=OCTOBER, keys=["calls"]) == {"calls": Decimal(3)}


def test_a_computed_metric_switched_to_pushed_reads_its_entries(october: October) -> None:
    Metric.objects.filter(key="website_visitors").update(capture_method=CaptureMethod.PUSHED)
    assert metric_values(month=OCTOBER, keys=["website_visitors"]) == {"website_visitors": None}


def test_queries_are_bounded_by_the_sources_not_the_records(
    october: October, django_assert_max_num_queries
) -> None:
    with django_assert_max_num_queries(1 + len(SOURCES)):  # the metrics, one per source
        metric_values(month=OCTOBER)
    with django_assert_max_num_queries(2):
        metric_values(month=OCTOBER, keys=["calls", "connects"])


def test_each_source_defines_exactly_the_computable_metrics() -> None:
    by_sources = [key for _, keys in SOURCES.values() for key in keys]
    assert len(by_sources) == len(set(by_sources))
    assert set(by_sources) == rules.COMPUTED_KEYS == {d.key for d in DEFAULT_METRICS}
    assert set(EXPECTED_OCTOBER) == rules.COMPUTED_KEYS


# --- the same definitions in plain SQL ---------------------------------------------------


def _scalar(sql: str, params: list[object]) -> object:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _plain_sql(month: date) -> dict[str, Decimal | None]:
    start, end = (connection.ops.adapt_datetimefield_value(t) for t in month_bounds(month))
    span = [start, end]

    def count(table: str, column: str, where: str, params: list[object] = ()) -> Decimal:
        sql = f"SELECT COUNT(*) FROM {table} WHERE {column} >= %s AND {column} < %s AND {where}"  # noqa: S608
        return Decimal(_scalar(sql, [*span, *params]))

    def events(where: str) -> Decimal:
        return count("leads_marketingevent", "occurred_at", where)

    def activities(where: str) -> Decimal:
        return count("activities_activity", "at", where)

    def deals(where: str, params: list[object] = ()) -> Decimal:
        return count("pipeline_deal", "closed_at", where, params)

    def channel(name: str) -> Decimal:
        return activities(f"channel = '{name}' AND type <> 'research'")

    won, lost = deals("status = 'won'"), deals("status = 'lost'")
    money = "status = 'won' AND amount IS NOT NULL AND currency = 'EUR'"
    booked_count = deals(money)
    in_month = "closed_at >= %s AND closed_at < %s"
    bookings = _scalar(f"SELECT SUM(amount) FROM pipeline_deal WHERE {in_month} AND {money}", span)  # noqa: S608
    bookings = Decimal(str(bookings or 0)).quantize(Decimal("0.01"))
    if connection.vendor == "postgresql":
        days = "EXTRACT(EPOCH FROM closed_at - created_at) / 86400"
    else:
        days = "julianday(closed_at) - julianday(created_at)"
    won_in_month = f"{in_month} AND status = 'won'"
    cycle = _scalar(f"SELECT AVG({days}) FROM pipeline_deal WHERE {won_in_month}", span)  # noqa: S608
    new_customers = _scalar(
        "SELECT COUNT(DISTINCT d.company_id) FROM pipeline_deal d"
        " WHERE d.closed_at >= %s AND d.closed_at < %s AND d.status = 'won'"
        " AND NOT EXISTS (SELECT 1 FROM pipeline_deal e WHERE e.company_id = d.company_id"
        " AND e.status = 'won' AND e.closed_at < %s)",
        [*span, start],
    )
    tenth = Decimal("0.1")
    return {
        "website_visitors": events("type = 'visit'"),
        "downloads": events("type = 'download'"),
        "inbound_inquiries": events("type IN ('inquiry', 'form_fill')"),
        "outbound_telemarketing": channel("cold_calling"),
        "outbound_tradeshows": channel("tradeshow"),
        "outbound_networking": channel("networking"),
        "outbound_social": channel("social_selling"),
        "calls": activities("type = 'call'"),
        "connects": activities("type = 'call' AND outcome = 'connected'"),
        "qualified_conversations": Decimal(
            _scalar(
                "SELECT COUNT(*) FROM crm_contact WHERE qualified_at >= %s AND qualified_at < %s",
                span,
            )
        ),
        "presentations_given": activities("type = 'presentation' AND outcome <> 'no_show'"),
        "proposals_submitted": activities("type = 'proposal_sent'"),
        "deals_won": won,
        "close_rate": (won * 100 / (won + lost)).quantize(tenth) if won + lost else None,
        "new_customers": Decimal(new_customers),
        "bookings": bookings,
        "average_deal_size": (
            (bookings / booked_count).quantize(Decimal("0.01")) if booked_count else None
        ),
        "sales_cycle_days": None if cycle is None else Decimal(str(cycle)).quantize(tenth),
    }


@pytest.mark.parametrize("month", [OCTOBER, date(2025, 9, 1), date(2025, 11, 1)])
def test_computed_metrics_agree_with_plain_sql(october: October, month: date) -> None:
    assert metric_values(month=month) == _plain_sql(month)
