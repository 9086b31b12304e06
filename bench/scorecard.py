"""Scorecard time: one month's company-wide scorecard and the 12-month trend next to one
hand-written SQL statement computing the same figures.

    python -m bench.scorecard [--runs N] [--queries] [--rebuild]
                                            (KEEL_DATABASE_URL picks the database;
                                             default: keel-bench-pages.sqlite3 in the
                                             temporary directory, shared with bench.pages)

Runs on the large demo (100k deals, 1M activities), reused from bench.pages when its
database holds one. The month is the demo's last complete one: the month before its
latest activity's. `scorecard(month=M)` reads every computed metric for each month from
January through M (and last December in January), the same month last year, and the rates
and means afresh over the year to date; `trend(through=M, months=12)` reads the twelve
months ending with M. Each runs N times after a warm-up, each run followed by its
baseline: one SQL statement through the Django connection's cursor that computes, per
month, every figure those metrics need (month bounds in Keel's time zone, conditional
counts over activities, marketing events and qualified contacts, each company's first
win, bookings in KEEL_CURRENCY, the cycle's total) and, for the scorecard, their sums
over the year to date; Python only divides and rounds, as the selector does. The
baseline's figures are checked against the selector's before anything is timed.

Issue 5's targets: the scorecard at most 1 s (p95) and within 2x of the baseline (the
ratio of the medians); the trend at most 3 s (p95). --queries lists each SQL query of one
scorecard and one trend with its time.
"""

import argparse
import statistics
import time
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from bench._setup import django_setup
from bench.pages import _demo_ready, _percentile

SCORECARD_TARGET_S = 1.0
SCORECARD_RATIO_TARGET = 2.0
TREND_TARGET_S = 3.0
TREND_MONTHS = 12
WARMUP = 1  # runs of each before timing: the database's pages in its cache

TENTH = Decimal("0.1")
CENT = Decimal("0.01")


# --- the baseline: one SQL statement -----------------------------------------------------

# The figures each month's row holds, in the statement's column order.
COLUMNS = (
    "website_visitors",
    "downloads",
    "inbound_inquiries",
    "outbound_telemarketing",
    "outbound_tradeshows",
    "outbound_networking",
    "outbound_social",
    "calls",
    "connects",
    "presentations_given",
    "proposals_submitted",
    "qualified_conversations",
    "new_customers",
    "won",
    "lost",
    "booked",
    "bookings",
    "cycle_seconds",
)

# The days from created_at to closed_at of a deal, in seconds.
CYCLE_SECONDS = {
    "sqlite": "(julianday(d.closed_at) - julianday(d.created_at)) * 86400",
    "postgresql": "EXTRACT(EPOCH FROM d.closed_at - d.created_at)",
}

# {months}: a VALUES row (index, start, end, whether it counts in the year to date) per
# month; {events} and the like: that source's rows in the months (`source` below);
# {cycle}: CYCLE_SECONDS; %(currency)s: KEEL_CURRENCY. Each source is read once; a
# company's first purchase is the month of its first won deal.
STATEMENT = """
WITH months (i, start, stop, in_year) AS (VALUES {months}),
events AS (
    SELECT m.i,
        COUNT(*) FILTER (WHERE e.type = 'visit') AS website_visitors,
        COUNT(*) FILTER (WHERE e.type = 'download') AS downloads,
        COUNT(*) FILTER (WHERE e.type IN ('inquiry', 'form_fill')) AS inbound_inquiries
    {events}
    GROUP BY m.i
),
activities AS (
    SELECT m.i,
        COUNT(*) FILTER (WHERE a.channel = 'cold_calling' AND a.type <> 'research')
            AS outbound_telemarketing,
        COUNT(*) FILTER (WHERE a.channel = 'tradeshow' AND a.type <> 'research')
            AS outbound_tradeshows,
        COUNT(*) FILTER (WHERE a.channel = 'networking' AND a.type <> 'research')
            AS outbound_networking,
        COUNT(*) FILTER (WHERE a.channel = 'social_selling' AND a.type <> 'research')
            AS outbound_social,
        COUNT(*) FILTER (WHERE a.type = 'call') AS calls,
        COUNT(*) FILTER (WHERE a.type = 'call' AND a.outcome = 'connected') AS connects,
        COUNT(*) FILTER (WHERE a.type = 'presentation' AND a.outcome <> 'no_show')
            AS presentations_given,
        COUNT(*) FILTER (WHERE a.type = 'proposal_sent') AS proposals_submitted
    {activities}
    GROUP BY m.i
),
contacts AS (
    SELECT m.i, COUNT(*) AS qualified_conversations
    {contacts}
    GROUP BY m.i
),
first_wins AS (
    SELECT company_id, MIN(closed_at) AS closed_at
    FROM pipeline_deal WHERE status = 'won' GROUP BY company_id
),
customers AS (
    SELECT m.i, COUNT(*) AS new_customers
    {customers}
    GROUP BY m.i
),
deals AS (
    SELECT m.i,
        COUNT(*) FILTER (WHERE d.status = 'won') AS won,
        COUNT(*) FILTER (WHERE d.status = 'lost') AS lost,
        COUNT(*) FILTER (
            WHERE d.status = 'won' AND d.amount IS NOT NULL AND d.currency = %(currency)s
        ) AS booked,
        SUM(d.amount) FILTER (WHERE d.status = 'won' AND d.currency = %(currency)s)
            AS bookings,
        SUM({cycle}) FILTER (WHERE d.status = 'won') AS cycle_seconds
    {deals}
    GROUP BY m.i
),
monthly AS (
    SELECT m.i, m.in_year,
        COALESCE(e.website_visitors, 0) AS website_visitors,
        COALESCE(e.downloads, 0) AS downloads,
        COALESCE(e.inbound_inquiries, 0) AS inbound_inquiries,
        COALESCE(a.outbound_telemarketing, 0) AS outbound_telemarketing,
        COALESCE(a.outbound_tradeshows, 0) AS outbound_tradeshows,
        COALESCE(a.outbound_networking, 0) AS outbound_networking,
        COALESCE(a.outbound_social, 0) AS outbound_social,
        COALESCE(a.calls, 0) AS calls,
        COALESCE(a.connects, 0) AS connects,
        COALESCE(a.presentations_given, 0) AS presentations_given,
        COALESCE(a.proposals_submitted, 0) AS proposals_submitted,
        COALESCE(c.qualified_conversations, 0) AS qualified_conversations,
        COALESCE(f.new_customers, 0) AS new_customers,
        COALESCE(d.won, 0) AS won,
        COALESCE(d.lost, 0) AS lost,
        COALESCE(d.booked, 0) AS booked,
        d.bookings,
        d.cycle_seconds
    FROM months m
    LEFT JOIN events e ON e.i = m.i
    LEFT JOIN activities a ON a.i = m.i
    LEFT JOIN contacts c ON c.i = m.i
    LEFT JOIN customers f ON f.i = m.i
    LEFT JOIN deals d ON d.i = m.i
)
SELECT i, {columns} FROM monthly
UNION ALL
SELECT -1, {sums} FROM monthly WHERE in_year = 1
ORDER BY 1
"""

Figures = dict[str, Decimal | None]


@dataclass(frozen=True)
class Baseline:
    months: dict[date, Figures]
    year_to_date: Figures  # over the months flagged in the year; empty if none is


def _bounds(month: date) -> tuple[datetime, datetime]:
    """The month's first instant and the next month's, in Keel's time zone."""
    from django.conf import settings

    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    start = datetime(month.year, month.month, 1, tzinfo=zone)
    stop = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=zone)
    return start, stop


def _figures(row: dict[str, Any]) -> Figures:
    """A month's (or the year's) metrics from the statement's sums, rounded as Keel rounds."""

    def rounded(value: Decimal, step: Decimal) -> Decimal:
        return value.quantize(step, rounding=ROUND_HALF_EVEN)

    counts = COLUMNS[: COLUMNS.index("new_customers") + 1]
    figures: Figures = {key: Decimal(row[key] or 0) for key in counts}
    won, lost, booked = (int(row[key] or 0) for key in ("won", "lost", "booked"))
    bookings = Decimal(str(row["bookings"] or 0))  # SQLite answers a float
    seconds = row["cycle_seconds"]
    figures["deals_won"] = Decimal(won)
    figures["close_rate"] = (
        rounded(Decimal(100 * won) / (won + lost), TENTH) if won + lost else None
    )
    figures["bookings"] = rounded(bookings, CENT)
    figures["average_deal_size"] = rounded(bookings / booked, CENT) if booked else None
    figures["sales_cycle_days"] = (
        rounded(Decimal(str(seconds)) / won / 86400, TENTH) if won and seconds is not None else None
    )
    return figures


def _spans(months: Sequence[date]) -> list[tuple[date, date]]:
    """The months as runs of consecutive months: (first, last) each."""
    runs: list[tuple[date, date]] = []
    for month in sorted(months):
        if runs and _previous(month) == runs[-1][1]:
            runs[-1] = (runs[-1][0], month)
        else:
            runs.append((month, month))
    return runs


def baseline(months: Sequence[date], *, in_year: Sequence[date] = ()) -> Baseline:
    """Every computed metric for each of `months`, and over `in_year` (a subset) together."""
    from django.conf import settings
    from django.db import connection

    adapt = connection.ops.adapt_datetimefield_value
    params: dict[str, Any] = {"currency": settings.KEEL_CURRENCY}
    rows: list[str] = []
    for i, month in enumerate(months):
        start, stop = _bounds(month)
        params |= {f"start{i}": adapt(start), f"stop{i}": adapt(stop)}
        rows.append(f"({i}, %(start{i})s, %(stop{i})s, {int(month in in_year)})")
    runs = _spans(months)
    for n, (first, last) in enumerate(runs):
        params |= {f"from{n}": adapt(_bounds(first)[0]), f"to{n}": adapt(_bounds(last)[1])}
    in_order = sorted(range(len(months)), key=months.__getitem__)

    def source(table: str, x: str, at: str) -> str:
        """FROM …: the rows of `table` in the months, each with its month `m`."""
        column = f"{x}.{at}"
        if connection.vendor == "sqlite":
            # SQLite walks the months and reads an index range for each.
            return f"FROM months m JOIN {table} {x} ON {column} >= m.start AND {column} < m.stop"
        # PostgreSQL, asked the same, compares every row with every month (1.5 s for the
        # activities alone): it reads the months' spans once and finds each row's month
        # by the months' ends in order (date_trunc in the time zone takes twice as long).
        whens = " ".join(f"WHEN {column} < %(stop{i})s THEN {i}" for i in in_order)
        spans = " OR ".join(
            f"({column} >= %(from{n})s AND {column} < %(to{n})s)" for n in range(len(runs))
        )
        return f"FROM {table} {x} JOIN months m ON m.i = CASE {whens} END WHERE {spans}"

    sql = STATEMENT.format(
        months=", ".join(rows),
        events=source("leads_marketingevent", "e", "occurred_at"),
        activities=source("activities_activity", "a", "at"),
        contacts=source("crm_contact", "c", "qualified_at"),
        customers=source("first_wins", "f", "closed_at"),
        deals=source("pipeline_deal", "d", "closed_at"),
        cycle=CYCLE_SECONDS[connection.vendor],
        columns=", ".join(COLUMNS),
        sums=", ".join(f"SUM({column})" for column in COLUMNS),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = {row[0]: dict(zip(COLUMNS, row[1:], strict=True)) for row in cursor.fetchall()}
    return Baseline(
        months={month: _figures(found[i]) for i, month in enumerate(months)},
        year_to_date=_figures(found[-1]) if in_year else {},
    )


# --- what the scorecard and the trend read -----------------------------------------------


def _previous(month: date) -> date:
    return date(month.year - 1, 12, 1) if month.month == 1 else date(month.year, month.month - 1, 1)


def _scorecard_months(month: date) -> tuple[list[date], list[date]]:
    """The months scorecard() reads, and those of them in the year to date."""
    year = [date(month.year, n, 1) for n in range(1, month.month + 1)]
    before = [_previous(month)] if month.month == 1 else []
    return [*before, *year, date(month.year - 1, month.month, 1)], year


def _trend_months(through: date) -> list[date]:
    months = [through]
    while len(months) < TREND_MONTHS:
        months.insert(0, _previous(months[0]))
    return months


def _last_complete_month() -> date:
    from django.db.models import Max
    from django.utils import timezone

    from keel.activities.models import Activity

    latest = Activity.objects.aggregate(latest=Max("at"))["latest"]
    if latest is None:
        raise SystemExit("The demo has no activities.")
    day = timezone.localtime(latest).date()
    return _previous(date(day.year, day.month, 1))


def _check(month: date) -> None:
    """The baseline's figures are the selector's, or the timings below compare nothing."""
    from keel.scorecard.models import CaptureMethod, Metric
    from keel.scorecard.selectors import scorecard, trend

    computed = set(
        Metric.objects.filter(is_active=True, capture_method=CaptureMethod.COMPUTED).values_list(
            "key", flat=True
        )
    )
    months, year = _scorecard_months(month)
    base = baseline(months, in_year=year)
    last_year = date(month.year - 1, month.month, 1)
    mismatches = []
    for row in scorecard(month=month).rows():
        if row.key not in computed:
            continue
        pairs = {
            "this month": (row.this_month, base.months[month][row.key]),
            "last month": (row.last_month, base.months[_previous(month)][row.key]),
            "last year": (row.last_year, base.months[last_year][row.key]),
            "year to date": (row.ytd, base.year_to_date[row.key]),
        }
        mismatches += [
            f"scorecard {row.key}, {what}: Keel {keel}, SQL {sql}"
            for what, (keel, sql) in pairs.items()
            if keel != sql
        ]
    base_trend = baseline(_trend_months(month)).months
    for at, figures in trend(through=month, months=TREND_MONTHS).items():
        mismatches += [
            f"trend {at:%Y-%m} {key}: Keel {value}, SQL {base_trend[at][key]}"
            for key, value in figures.items()
            if key in computed and value != base_trend[at][key]
        ]
    if mismatches:
        raise SystemExit("The baseline disagrees with Keel:\n  " + "\n  ".join(mismatches))


# --- the run ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    label: str
    keel: Callable[[], object]
    sql: Callable[[], object]
    target_s: float
    ratio_target: float | None  # keel ÷ SQL, of the medians


@dataclass(frozen=True)
class Timing:
    keel: list[float]  # seconds, one per run
    sql: list[float]


def _seconds(read: Callable[[], object]) -> float:
    started = time.perf_counter()
    read()
    return time.perf_counter() - started


def _measure(case: Case, runs: int) -> Timing:
    keel: list[float] = []
    sql: list[float] = []
    for i in range(WARMUP + runs):
        keel_seconds, sql_seconds = _seconds(case.keel), _seconds(case.sql)
        if i >= WARMUP:
            keel.append(keel_seconds)
            sql.append(sql_seconds)
    return Timing(keel=keel, sql=sql)


def _verdict(case: Case, timing: Timing) -> str:
    target = f"p95 <= {case.target_s * 1000:.0f} ms"
    misses = _percentile(timing.keel, 95) > case.target_s
    if case.ratio_target is not None:
        target += f", keel/sql <= {case.ratio_target:.0f}"
        misses |= _ratio(timing) > case.ratio_target
    return f"{target}: {'MISSES' if misses else 'meets'}"


def _ratio(timing: Timing) -> float:
    return statistics.median(timing.keel) / statistics.median(timing.sql)


def _line(case: Case, timing: Timing) -> str:
    keel_p50, sql_p50 = (statistics.median(t) * 1000 for t in (timing.keel, timing.sql))
    keel_p95, sql_p95 = (_percentile(t, 95) * 1000 for t in (timing.keel, timing.sql))
    return (
        f"  {case.label:36}{keel_p50:>9.0f}{keel_p95:>7.0f}{sql_p50:>9.0f}{sql_p95:>7.0f}"
        f"{_ratio(timing):>10.1f}  {_verdict(case, timing)}"
    )


def _from(sql: str) -> str:
    """The statement from its outermost FROM on: the select list says little and is long."""
    depth = 0
    for at, char in enumerate(sql):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and sql.startswith(" FROM ", at):
            return "SELECT … FROM " + sql[at + len(" FROM ") :]
    return sql


def _queries(case: Case) -> None:
    """Each query of one run, re-run alone with its rows fetched (SQLite aggregates as the
    rows are fetched, so the time of execute() alone says too little)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        seconds = _seconds(case.keel)
    timed = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            started = time.perf_counter()
            cursor.execute(query["sql"])
            cursor.fetchall()
            timed.append((time.perf_counter() - started, " ".join(query["sql"].split())))
    print(
        f"  {case.label}: {seconds * 1000:.0f} ms, {len(timed)} queries; each re-run alone "
        f"({sum(t for t, _ in timed) * 1000:.0f} ms in all):"
    )
    for query_seconds, sql in timed:
        print(f"    {query_seconds * 1000:6.0f} ms  {_from(sql)[:200]}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scorecard")
    parser.add_argument("--runs", type=int, default=10, help="timed runs of each read")
    parser.add_argument("--queries", action="store_true", help="each read's SQL with its time")
    parser.add_argument("--rebuild", action="store_true", help="build a fresh large demo")
    args, _ = parser.parse_known_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    vendor = django_setup("keel-bench-pages.sqlite3", keep=True)
    _demo_ready(rebuild=args.rebuild)

    from keel.activities.models import Activity
    from keel.leads.models import MarketingEvent
    from keel.pipeline.models import Deal
    from keel.scorecard.selectors import scorecard, trend

    month = _last_complete_month()
    _check(month)
    months, year = _scorecard_months(month)
    trend_months = _trend_months(month)
    cases = [
        Case(
            f"scorecard(month={month:%Y-%m})",
            lambda: scorecard(month=month),
            lambda: baseline(months, in_year=year),
            SCORECARD_TARGET_S,
            SCORECARD_RATIO_TARGET,
        ),
        Case(
            f"trend(through={month:%Y-%m}, months={TREND_MONTHS})",
            lambda: trend(through=month, months=TREND_MONTHS),
            lambda: baseline(trend_months),
            TREND_TARGET_S,
            None,
        ),
    ]
    results = [_measure(case, args.runs) for case in cases]

    deals, activities = Deal.objects.count(), Activity.objects.count()
    events = MarketingEvent.objects.count()
    print(
        f"\nscorecard time on {vendor}, large demo ({deals:,} deals, {activities:,} activities,"
        f" {events:,} marketing events), company-wide: {args.runs} runs each, ms"
    )
    print(f"  {'':36}{'keel p50':>9}{'p95':>7}{'sql p50':>9}{'p95':>7}{'keel/sql':>10}  target")
    for case, timing in zip(cases, results, strict=True):
        print(_line(case, timing))
    print(
        f"  the baseline's figures equal Keel's for {len(months)} and {len(trend_months)} "
        "months (checked first)"
    )
    if args.queries:
        print("\neach read's queries, one run:")
        for case in cases:
            _queries(case)


if __name__ == "__main__":
    main()
