"""Page latency: p50 and p95 server time of Keel's pages next to bare views of the same rows.

    python -m bench.pages [--requests N] [--queries] [--rebuild] [--page /job/]
                                            (KEEL_DATABASE_URL picks the database;
                                             default: keel-bench-pages.sqlite3 in the
                                             temporary directory, kept between runs)

The pages run on the large demo (100k deals, 1M activities). Building it takes a minute on
SQLite and several on PostgreSQL, so a database that already holds a large demo is reused
(--rebuild builds a fresh one); `python -m bench` empties KEEL_DATABASE_URL's database for
the other benchmarks first, so only the default scratch file is kept there.

Each page is requested through Django's test client as a signed-in demo user (every
middleware, the templates, no HTTP server, DEBUG off; the connection handled as a WSGI
server does after each response) N times after a few warm-ups, each request followed by
one to a bare Django view under the same middleware and user: it reads the same rows with
values_list and returns them as plain text (the board's top 20 open deals per stage, the
deal with its last 30 activities and its stage changes, a list's 50 rows). The deal
workspace rotates through 40 of the salesperson's open deals. Issue 3's target is a p95 of
at most 150 ms for every page; a page that answers other than 200 (still being built) is
listed as not available. --queries lists the slowest SQL of each page that misses.
"""

import argparse
import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.test import Client

from bench._setup import django_setup

if TYPE_CHECKING:
    from keel.accounts.models import User

TARGET_MS = 150.0
WARMUP = 3  # requests per page before timing: templates compiled, caches filled
WORKSPACES = 40  # different deals the workspace rotates through
PER_PAGE = 50  # a list page's rows, as keel.web.lists
CARDS = 20  # a board column's cards, as keel.web.selectors
TIMELINE = 30  # the workspace's activities, as keel.pipeline.selectors
SEED = 42
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"

DEAL_ROW = (
    "id",
    "name",
    "amount",
    "expected_close",
    "company__name",
    "owner__first_name",
    "owner__last_name",
    "stage__name",
)


# --- the baseline: bare views of the same rows -----------------------------------------

# Each reads the rows its page shows, under the same visibility rules, as values_list
# tuples, and answers them as text: no forms, no model instances, no template.


def _rows(rows: Iterable[Sequence[object]]) -> HttpResponse:
    body = "\n".join("\t".join(str(value) for value in row) for row in rows)
    return HttpResponse(body, content_type="text/plain; charset=utf-8")


def _user(request: HttpRequest) -> "User":
    from keel.accounts.models import User

    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    return request.user


def _page(request: HttpRequest, rows: QuerySet[Any, Any]) -> QuerySet[Any, Any]:
    start = (int(request.GET.get("page", "1")) - 1) * PER_PAGE
    return rows[start : start + PER_PAGE]


@login_required
def bare_board(request: HttpRequest) -> HttpResponse:
    from keel.pipeline.access import deals_visible_to
    from keel.pipeline.models import DealStatus, SalesProcess, Stage, StageKind

    process = SalesProcess.objects.filter(is_active=True).order_by("id").first()
    version = process.versions.order_by("-number").first() if process else None
    stages = Stage.objects.filter(version=version, kind=StageKind.OPEN).order_by("position")
    deals = deals_visible_to(_user(request)).filter(process=process, status=DealStatus.OPEN)
    rows: list[Sequence[object]] = []
    for stage_id in stages.values_list("id", flat=True):
        top = deals.filter(stage_id=stage_id).order_by("-amount", "id")
        rows.extend(top.values_list(*DEAL_ROW)[:CARDS])
    return _rows(rows)


@login_required
def bare_deal(request: HttpRequest, pk: int) -> HttpResponse:
    from keel.activities.models import Activity
    from keel.pipeline.access import deals_visible_to
    from keel.pipeline.models import StageChange

    deal = deals_visible_to(_user(request)).filter(pk=pk).values_list(*DEAL_ROW).first()
    if deal is None:
        raise Http404
    activities = Activity.objects.filter(deal_id=pk).order_by("-at", "-id")
    changes = StageChange.objects.filter(deal_id=pk).order_by("at", "id")
    return _rows(
        [
            deal,
            *activities.values_list("at", "type", "outcome", "notes", "by__last_name")[:TIMELINE],
            *changes.values_list("at", "to_stage__name", "by__last_name"),
        ]
    )


@login_required
def bare_deals(request: HttpRequest) -> HttpResponse:
    from keel.pipeline.access import deals_visible_to
    from keel.pipeline.models import DealStatus

    deals = deals_visible_to(_user(request))
    if (status := request.GET.get("status", DealStatus.OPEN)) in DealStatus.values:
        deals = deals.filter(status=status)
    order = {"close": ("expected_close", "pk"), "-amount": ("-amount", "-pk")}
    deals = deals.order_by(*order[request.GET.get("sort", "close")])
    return _rows(_page(request, deals.values_list(*DEAL_ROW)))


@login_required
def bare_companies(request: HttpRequest) -> HttpResponse:
    from django.db.models import Q

    from keel.crm.models import Company

    companies = Company.objects.all()
    if q := request.GET.get("q", ""):
        companies = companies.filter(Q(name__icontains=q) | Q(domain__icontains=q))
    order = {"name": ("name", "pk"), "-employees": ("-employees", "-pk")}
    companies = companies.order_by(*order[request.GET.get("sort", "name")])
    fields = ("id", "name", "domain", "industry", "employees", "tier", "funnel_stage")
    return _rows(_page(request, companies.values_list(*fields, "owner__last_name")))


@login_required
def bare_contacts(request: HttpRequest) -> HttpResponse:
    from django.db.models import Q

    from keel.crm.models import Contact

    contacts = Contact.objects.all()
    if q := request.GET.get("q", ""):
        contacts = contacts.filter(
            Q(first_name__icontains=q)
            | Q(last_name__icontains=q)
            | Q(email__icontains=q)
            | Q(company__name__icontains=q)
        )
    contacts = contacts.order_by("last_name", "first_name", "pk")
    fields = ("id", "first_name", "last_name", "title", "email", "buying_role", "funnel_stage")
    return _rows(_page(request, contacts.values_list(*fields, "company__name", "owner__last_name")))


@login_required
def bare_tasks(request: HttpRequest) -> HttpResponse:
    from django.db.models import F, Q

    from keel.activities.models import Task

    user = _user(request)
    tasks = Task.objects.filter(done_at__isnull=True)
    if request.GET.get("scope") == "team" and user.team_id is not None:
        tasks = tasks.filter(Q(owner=user) | Q(owner__team_id=user.team_id))
    else:
        tasks = tasks.filter(owner=user)
    tasks = tasks.order_by(F("due_at").asc(nulls_last=True), "pk")
    fields = ("id", "title", "due_at", "owner__last_name", "deal__name", "company__name")
    return _rows(_page(request, tasks.values_list(*fields)))


@login_required
def bare_today(request: HttpRequest) -> HttpResponse:
    from django.db.models import F
    from django.utils import timezone

    from keel.activities.models import Activity, Task
    from keel.pipeline.models import Deal, DealStatus

    user = _user(request)
    end_of_day = timezone.localtime().replace(hour=23, minute=59, second=59)
    tasks = Task.objects.filter(owner=user, done_at__isnull=True, due_at__lte=end_of_day)
    tasks = tasks.order_by("due_at", "id")
    deals = Deal.objects.filter(owner=user, status=DealStatus.OPEN)
    deals = deals.order_by(F("expected_close").asc(nulls_last=True), "id")
    activities = Activity.objects.filter(by=user).order_by("-at", "-id")
    return _rows(
        [
            *tasks.values_list("id", "title", "due_at", "deal__name")[:25],
            *deals.values_list(*DEAL_ROW)[:25],
            *activities.values_list("at", "type", "outcome", "deal__name", "company__name")[:15],
        ]
    )


@login_required
def bare_job(request: HttpRequest) -> HttpResponse:
    """The rows My job reads, plainly: the person's tactics, the month's work, open deals."""
    from datetime import timedelta

    from django.db.models import Q
    from django.utils import timezone

    from keel.activities.models import Task, TaskSource
    from keel.pipeline.models import Deal, DealStatus
    from keel.planning.models import CheckIn, Occurrence, Tactic

    user = _user(request)
    now = timezone.now()
    tactics = Tactic.objects.filter(Q(person=user) | Q(role=user.role, person__isnull=True))
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    work = Occurrence.objects.filter(person=user, due_at__gte=month - timedelta(days=7))
    steps = Task.objects.filter(owner=user, source=TaskSource.PLAN_STEP, done_at__isnull=True)
    return _rows(
        [
            *tactics.values_list("name", "shape", "plan__name", "plan__strategy__name"),
            *work.values_list("tactic__name", "due_at", "task__done_at"),
            *steps.order_by("due_at").values_list("title", "due_at", "deal__name")[:10],
            *Deal.objects.filter(owner=user, status=DealStatus.OPEN).values_list("amount")[:200],
            *CheckIn.objects.filter(person=user).values_list("text", "reply")[:6],
        ]
    )


def __getattr__(name: str) -> Any:
    """`urlpatterns`, for ROOT_URLCONF="bench.pages": Keel's own, then the bare views'.

    Made on first use, after django.setup(), since Keel's URL modules import its models.
    """
    if name != "urlpatterns":
        raise AttributeError(name)
    from django.urls import path

    from keel import urls

    return [
        *urls.urlpatterns,
        path("bare/pipeline/", bare_board),
        path("bare/deals/<int:pk>/", bare_deal),
        path("bare/deals/", bare_deals),
        path("bare/companies/", bare_companies),
        path("bare/contacts/", bare_contacts),
        path("bare/tasks/", bare_tasks),
        path("bare/", bare_today),
        path("bare/job/", bare_job),
    ]


# --- the run ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    label: str
    username: str
    urls: tuple[str, ...]  # Keel's page, rotated through
    bare: tuple[str, ...]  # the bare view of the same rows, in step with `urls`


@dataclass(frozen=True)
class Timing:
    keel: list[float]  # seconds, one per request
    bare: list[float]


def _demo_ready(*, rebuild: bool) -> None:
    from django.utils import timezone

    from keel.demo.generate import DemoRefused, demo_build, demo_marker

    marker = demo_marker()
    if marker is not None and marker.get("size") == "large" and not rebuild:
        print(f"\nreusing the large demo built {marker.get('built_at')}")
        return
    print("\nbuilding the large demo (a minute on SQLite, several on PostgreSQL) …", flush=True)
    try:
        summary = demo_build(size="large", seed=SEED, today=timezone.localdate())
    except DemoRefused as error:
        raise SystemExit(str(error)) from None
    print(f"  {summary.rows:,} rows in {summary.seconds:.0f} s")


def _pages() -> list[Page]:
    from keel.accounts.models import Role, User
    from keel.pipeline.models import Deal, DealStatus

    seller = User.objects.filter(role=Role.SALESPERSON).order_by("id").first()
    if seller is None:
        raise SystemExit("The demo has no salesperson.")
    open_deals = Deal.objects.filter(owner=seller, status=DealStatus.OPEN).order_by("id")
    ids = list(open_deals.values_list("id", flat=True))
    deals = ids[:: max(1, len(ids) // WORKSPACES)][:WORKSPACES]  # spread over their deals
    me = seller.username

    def page(url: str, username: str = me) -> Page:
        return Page(url, username, (url,), ("/bare" + url,))

    return [
        page("/pipeline/"),
        page("/pipeline/", "owner"),
        Page(
            f"/deals/<pk>/ ({len(deals)} deals)",
            me,
            tuple(f"/deals/{pk}/" for pk in deals),
            tuple(f"/bare/deals/{pk}/" for pk in deals),
        ),
        page("/deals/"),
        page("/deals/?sort=-amount&status=all&page=50"),
        page("/deals/", "owner"),
        page("/companies/"),
        page("/companies/?q=a&sort=-employees"),
        page("/contacts/"),
        page("/contacts/?q=an"),
        page("/tasks/"),
        page("/tasks/?scope=team"),
        page("/"),
        page("/job/"),
    ]


def _get(client: Client, url: str) -> tuple[float, int]:
    """Seconds to answer `url` and the status, the connection handled as after a response."""
    from django.db import close_old_connections

    started = time.perf_counter()
    response = client.get(url, secure=True)
    # The test client skips this end-of-request step; a WSGI server does not, and on
    # SQLite (CONN_MAX_AGE 0) it closes the connection, so the next request opens one.
    close_old_connections()
    return time.perf_counter() - started, response.status_code


def _measure(page: Page, client: Client, requests: int) -> Timing | str:
    keel: list[float] = []
    bare: list[float] = []
    for i in range(WARMUP + requests):
        at = i % len(page.urls)
        keel_seconds, keel_status = _get(client, page.urls[at])
        if keel_status != 200:
            return f"not available (HTTP {keel_status})"
        bare_seconds, bare_status = _get(client, page.bare[at])
        if bare_status != 200:
            return f"bare view failed (HTTP {bare_status})"
        if i >= WARMUP:
            keel.append(keel_seconds)
            bare.append(bare_seconds)
    return Timing(keel=keel, bare=bare)


def _percentile(samples: Sequence[float], percent: float) -> float:
    """Nearest rank: the smallest sample with at least `percent` % of samples at or below."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def _slowest_queries(page: Page, client: Client, *, shown: int = 4) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        seconds, _ = _get(client, page.urls[0])
    queries = sorted(captured.captured_queries, key=lambda q: float(q["time"]), reverse=True)
    in_sql = sum(float(q["time"]) for q in queries)
    print(
        f"  {page.label} as {page.username}: {len(queries)} queries, "
        f"{in_sql * 1000:.0f} ms of {seconds * 1000:.0f} ms in SQL; the slowest:"
    )
    for query in queries[:shown]:
        # The column list says little and fills the line: what follows FROM says why.
        sql = re.sub(r"^SELECT .*? FROM ", "SELECT … FROM ", " ".join(query["sql"].split()))
        print(f"    {float(query['time']) * 1000:6.0f} ms  {sql[:300]}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pages")
    parser.add_argument("--requests", type=int, default=40, help="timed requests per page")
    parser.add_argument("--queries", action="store_true", help="the slowest SQL of each miss")
    parser.add_argument("--rebuild", action="store_true", help="build a fresh large demo")
    parser.add_argument("--page", default="", help="only the pages whose path holds this")
    args, _ = parser.parse_known_args(argv)
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    vendor = django_setup("keel-bench-pages.sqlite3", keep=True)
    _demo_ready(rebuild=args.rebuild)

    from django.test import override_settings

    from keel.accounts.models import User
    from keel.activities.models import Activity
    from keel.pipeline.models import Deal

    pages = [p for p in _pages() if args.page in p.label]
    clients: dict[str, Client] = {}
    for username in sorted({p.username for p in pages}):
        clients[username] = Client(raise_request_exception=False)
        clients[username].force_login(User.objects.get(username=username), MODEL_BACKEND)
    routes = override_settings(ROOT_URLCONF="bench.pages", ALLOWED_HOSTS=["testserver"])
    with routes:
        results = [_measure(p, clients[p.username], args.requests) for p in pages]

    deals, activities = Deal.objects.count(), Activity.objects.count()
    print(
        f"\npage server time on {vendor}, large demo ({deals:,} deals, {activities:,} "
        f"activities): {args.requests} requests each, ms"
    )
    print(
        f"  {'page':42}{'as':16}{'keel p50':>9}{'p95':>7}{'bare p50':>9}{'p95':>7}"
        f"{'keel/bare':>10}  p95 <= {TARGET_MS:.0f}"
    )
    for page, result in zip(pages, results, strict=True):
        print(_line(page, result))
    measured = [r for r in results if isinstance(r, Timing)]
    missed = [p for p, r in zip(pages, results, strict=True) if _misses(r)]
    print(
        f"  {len(measured) - len(missed)} of {len(measured)} pages measured meet the target "
        f"p95 <= {TARGET_MS:.0f} ms; {len(pages) - len(measured)} not available"
    )
    if args.queries and missed:
        print("\nthe slowest queries of each page that misses, one request each:")
        with routes:
            for page in missed:
                _slowest_queries(page, clients[page.username])


def _misses(result: Timing | str) -> bool:
    return isinstance(result, Timing) and _percentile(result.keel, 95) * 1000 > TARGET_MS


def _line(page: Page, result: Timing | str) -> str:
    start = f"  {page.label:42}{page.username:16}"
    if isinstance(result, str):
        return start + result
    keel_p50, keel_p95 = (_percentile(result.keel, p) * 1000 for p in (50, 95))
    bare_p50, bare_p95 = (_percentile(result.bare, p) * 1000 for p in (50, 95))
    verdict = "MISSES" if _misses(result) else "meets"
    return (
        f"{start}{keel_p50:>9.1f}{keel_p95:>7.1f}{bare_p50:>9.1f}{bare_p95:>7.1f}"
        f"{keel_p95 / bare_p95:>10.1f}  {verdict}"
    )


if __name__ == "__main__":
    main()
