"""API latency: p50 and p95 of GET /api/v1/deals?limit=50 next to a bare JSON view.

    python -m bench.api [--requests N] [--rebuild]
                                            (KEEL_DATABASE_URL picks the database;
                                             default: keel-bench-pages.sqlite3 in the
                                             temporary directory, shared with bench.pages)

Runs on the large demo (100k deals), reused from bench.pages when its database holds one.
Each list is requested through Django's test client with a personal token (every
middleware, token auth, the schemas, DEBUG off; the connection handled as a WSGI server
does after each response) N times after a few warm-ups, each request followed by one to a
bare Django view under the same middleware: it finds the same token, reads the same 50
rows (same visibility, same order; ids first, then their rows) with values_list and
answers them with JsonResponse: no django-ninja, no schemas, no model instances.
The API's answer also counts the matching rows (up to 10,000) and nests company, owner,
process and stage. Issue 4's target is a p95 of at most 50 ms.
"""

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import Client

from bench._setup import django_setup
from bench.pages import _demo_ready, _percentile

TARGET_MS = 50.0
WARMUP = 5
LIMIT = 50

DEAL_ROW = (
    "id",
    "name",
    "company_id",
    "company__name",
    "owner_id",
    "owner__first_name",
    "owner__last_name",
    "process_id",
    "process__name",
    "stage_id",
    "stage__name",
    "stage__kind",
    "status",
    "amount",
    "currency",
    "expected_close",
    "channel",
    "source",
    "campaign",
    "next_step",
    "referred_by_id",
    "lost_reason",
    "lost_note",
    "stage_entered_at",
    "closed_at",
    "external_id",
    "created_at",
    "updated_at",
    "version",
)


# --- the baseline: a bare JSON view of the same rows ------------------------------------


def bare_deals(request: HttpRequest) -> HttpResponse:
    from keel.accounts.services import token_authenticate
    from keel.pipeline.access import deals_visible_to
    from keel.pipeline.models import Deal, DealStatus

    secret = request.headers.get("Authorization", "").removeprefix("Bearer ")
    token = token_authenticate(secret=secret)
    if token is None:
        return JsonResponse({"detail": "Unauthorized"}, status=401)
    deals = deals_visible_to(token.user)
    if (status := request.GET.get("status")) in DealStatus.values:
        deals = deals.filter(status=status)
    order = {"id": ("pk",), "close": ("expected_close", "pk"), "-amount": ("-amount", "-pk")}
    ordered = deals.order_by(*order[request.GET.get("ordering", "id")])
    # Ids first, then their rows, as the API does: in one query with the four joins,
    # SQLite's planner walks the joined tables first and takes ten times longer.
    ids = list(ordered.values_list("pk", flat=True)[:LIMIT])
    found = {row[0]: row for row in Deal.objects.filter(pk__in=ids).values_list(*DEAL_ROW)}
    rows = [dict(zip(DEAL_ROW, found[pk], strict=True)) for pk in ids]
    return JsonResponse({"items": rows})


def __getattr__(name: str) -> Any:
    """`urlpatterns`, for ROOT_URLCONF="bench.api": Keel's own, then the bare view."""
    if name != "urlpatterns":
        raise AttributeError(name)
    from django.urls import path

    from keel import urls

    return [*urls.urlpatterns, path("bare/deals", bare_deals)]


# --- the run ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    label: str
    username: str
    query: str


@dataclass(frozen=True)
class Timing:
    keel: list[float]
    bare: list[float]


def _get(client: Client, url: str, secret: str) -> tuple[float, int]:
    from django.db import close_old_connections

    started = time.perf_counter()
    response = client.get(url, secure=True, headers={"Authorization": f"Bearer {secret}"})
    close_old_connections()  # as a WSGI server does after each response
    return time.perf_counter() - started, response.status_code


def _measure(case: Case, client: Client, secret: str, requests: int) -> Timing | str:
    keel: list[float] = []
    bare: list[float] = []
    for i in range(WARMUP + requests):
        keel_seconds, keel_status = _get(client, f"/api/v1/deals?{case.query}", secret)
        if keel_status != 200:
            return f"failed (HTTP {keel_status})"
        bare_seconds, bare_status = _get(client, f"/bare/deals?{case.query}", secret)
        if bare_status != 200:
            return f"bare view failed (HTTP {bare_status})"
        if i >= WARMUP:
            keel.append(keel_seconds)
            bare.append(bare_seconds)
    return Timing(keel=keel, bare=bare)


def _line(case: Case, result: Timing | str) -> str:
    start = f"  {case.label:44}{case.username:16}"
    if isinstance(result, str):
        return start + result
    keel_p50, keel_p95 = (_percentile(result.keel, p) * 1000 for p in (50, 95))
    bare_p50, bare_p95 = (_percentile(result.bare, p) * 1000 for p in (50, 95))
    verdict = "MISSES" if keel_p95 > TARGET_MS else "meets"
    return (
        f"{start}{keel_p50:>9.1f}{keel_p95:>7.1f}{bare_p50:>9.1f}{bare_p95:>7.1f}"
        f"{keel_p95 / bare_p95:>10.1f}  {verdict}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.api")
    parser.add_argument("--requests", type=int, default=100, help="timed requests per list")
    parser.add_argument("--rebuild", action="store_true", help="build a fresh large demo")
    args, _ = parser.parse_known_args(argv)
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    vendor = django_setup("keel-bench-pages.sqlite3", keep=True)
    _demo_ready(rebuild=args.rebuild)

    from django.test import override_settings

    from keel.accounts.models import ApiToken, Role, TokenScope, User
    from keel.accounts.services import token_create
    from keel.pipeline.models import Deal

    seller = User.objects.filter(role=Role.SALESPERSON, is_active=True).order_by("id").first()
    if seller is None:
        raise SystemExit("The demo has no salesperson.")
    owner = User.objects.get(username="owner")
    cases = [
        Case(f"?limit={LIMIT}", seller.username, f"limit={LIMIT}"),
        Case(f"?limit={LIMIT}", owner.username, f"limit={LIMIT}"),
        Case(
            f"?limit={LIMIT}&status=open&ordering=close",
            seller.username,
            f"limit={LIMIT}&status=open&ordering=close",
        ),
        Case(
            f"?limit={LIMIT}&status=open&ordering=-amount",
            owner.username,
            f"limit={LIMIT}&status=open&ordering=-amount",
        ),
    ]
    secrets: dict[str, str] = {}
    made: list[int] = []
    for user in (seller, owner):
        new = token_create(user=user, name="bench.api", scope=TokenScope.READ)
        secrets[user.username] = new.secret
        made.append(new.token.pk)
    client = Client(raise_request_exception=False)
    try:
        with override_settings(ROOT_URLCONF="bench.api", ALLOWED_HOSTS=["testserver"]):
            results = [_measure(c, client, secrets[c.username], args.requests) for c in cases]
    finally:
        ApiToken.objects.filter(pk__in=made).delete()  # leave the demo's users as they were

    print(
        f"\nAPI server time on {vendor}, large demo ({Deal.objects.count():,} deals): "
        f"{args.requests} requests each, ms"
    )
    print(
        f"  {'GET /api/v1/deals':44}{'as':16}{'keel p50':>9}{'p95':>7}{'bare p50':>9}"
        f"{'p95':>7}{'keel/bare':>10}  p95 <= {TARGET_MS:.0f}"
    )
    for case, result in zip(cases, results, strict=True):
        print(_line(case, result))


if __name__ == "__main__":
    main()
