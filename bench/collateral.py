"""The collateral library: p50 and p95 of the library page, a search, and a buyer's share
link, next to a bare view reading one row in the same run.

    python -m bench.collateral [--pieces N] [--uses N] [--requests N]
                                            (KEEL_DATABASE_URL picks the database;
                                             default: a scratch SQLite file)

The library: N pieces (default 5,000; four in five active) with titles and descriptions
drawn from a sales vocabulary, each serving a stage and a buyer step, and N uses (default
1,000,000) spread over two years and the pieces, loaded in bulk. A marketer reads the
library's first page, then searches for a word found in a few hundred pieces; a buyer
opens one of 1,000 share links (each opening is recorded, as in production). Issue 10's
targets: the library and search at most 150 ms at p95, a share-link view at most 30 ms.
"""

import argparse
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse
from django.test import Client

from bench._setup import django_setup
from bench.pages import _percentile

WARMUP = 5
LIBRARY_MS, SHARE_MS = 150.0, 30.0
WORDS = (
    "pipeline", "forecast", "pricing", "coaching", "negotiation", "onboarding", "renewal",
    "proposal", "discovery", "objection", "benchmark", "playbook", "territory", "quota",
    "prospecting", "referral", "webinar", "partner", "enterprise", "retail", "logistics",
    "software", "manufacturing", "healthcare", "finance", "energy", "education", "security",
)  # fmt: skip
STAGES = ("Qualify", "1st meeting", "Proof", "2nd meeting", "Proposal", "Close")
STEPS = ("Recognise a need", "Explore options", "Validate the solution", "Build consensus",
         "Evaluate the offer", "Commit")  # fmt: skip
LINKS = 1000


def bare_view(request: HttpRequest) -> HttpResponse:
    from keel.collateral.models import Collateral

    piece = Collateral.objects.order_by("pk").values_list("title", flat=True).first()
    return HttpResponse(f"<p>{piece}</p>")


def __getattr__(name: str) -> object:
    """`urlpatterns`, for ROOT_URLCONF="bench.collateral": Keel's own, then the bare view."""
    if name != "urlpatterns":
        raise AttributeError(name)
    from django.urls import path

    from keel import urls

    return [*urls.urlpatterns, path("bare/", bare_view)]


def _library(pieces: int, uses: int, rng: random.Random) -> list[str]:
    """The pieces, the uses and the share links, in bulk; the links' tokens."""
    from keel.accounts.models import Role, User
    from keel.collateral.models import Collateral, CollateralUse, ShareLink, Status
    from keel.core.bulk import ids_reserve, rows_load

    seller = User.objects.create(username="bench-seller", role=Role.SALESPERSON)
    kinds = ("deck", "case_study", "one_pager", "price_sheet", "proposal_template", "other")
    rows = []
    for n in range(pieces):
        words = rng.sample(WORDS, 4)
        status = Status.ACTIVE if n % 5 else rng.choice((Status.DRAFT, Status.RETIRED))
        rows.append(
            Collateral(
                title=f"{words[0].title()} {words[1]} guide {n}",
                kind=kinds[n % len(kinds)],
                description=f"How to use {words[2]} and {words[3]} with the buyer.",
                status=status,
                stages=[STAGES[n % len(STAGES)]],
                buyer_steps=[STEPS[n % len(STEPS)]],
                url=f"https://files.bench.example/{n}",
            )
        )
    Collateral.objects.bulk_create(rows, batch_size=2000)
    piece_ids = list(Collateral.objects.values_list("pk", flat=True))
    start = datetime.now(UTC) - timedelta(days=730)
    # On the hour: a moment is converted for the database once, however many uses share it.
    hours = [start + timedelta(hours=h) for h in range(730 * 24)]
    ids = ids_reserve(CollateralUse, uses)
    # Uses follow a long tail: a few pieces carry most of them.
    weights = [1 / (i + 1) for i in range(len(piece_ids))]
    chosen = rng.choices(piece_ids, weights=weights, k=uses)
    rows_load(
        model=CollateralUse,
        fields=("id", "collateral_id", "stage", "by_id", "at"),
        rows=(
            (pk, piece, "Proposal", seller.pk, hours[rng.randrange(len(hours))])
            for pk, piece in zip(ids, chosen, strict=True)
        ),
    )
    # The buyers' links are to active pieces: a retired piece's links are dead.
    shareable = CollateralUse.objects.filter(collateral__status=Status.ACTIVE)
    chosen_uses = shareable.order_by("?").values_list("pk", flat=True)[:LINKS]
    links = ShareLink.objects.bulk_create(
        ShareLink(use_id=pk, expires_at=datetime.now(UTC) + timedelta(days=30))
        for pk in chosen_uses
    )
    return [link.token for link in links]


def _get(client: Client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url, secure=True)
    close_old_connections()  # as a WSGI server does after each response
    if response.status_code != 200:
        raise SystemExit(f"GET {url}: HTTP {response.status_code}")
    return time.perf_counter() - started


def _row(label: str, seconds: list[float]) -> tuple[float, float]:
    p50, p95 = (_percentile(seconds, p) * 1000 for p in (50, 95))
    print(f"  {label:34}{p50:>7.1f}{p95:>7.1f}")
    return p50, p95


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.collateral")
    parser.add_argument("--pieces", type=int, default=5_000)
    parser.add_argument("--uses", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests of each")
    args, _ = parser.parse_known_args(argv)
    if args.pieces < 10 or args.uses < LINKS or args.requests < 1:
        parser.error(f"--pieces at least 10, --uses at least {LINKS}, --requests at least 1")
    vendor = django_setup("keel-bench-collateral.sqlite3")

    from django.test import override_settings

    from keel.accounts.models import Role, User

    rng = random.Random(7)
    started = time.perf_counter()
    tokens = _library(args.pieces, args.uses, rng)
    print(
        f"\ncollateral on {vendor}: {args.pieces:,} pieces, {args.uses:,} uses, "
        f"built in {time.perf_counter() - started:.1f} s; {args.requests} requests each, ms"
    )
    marketer = User.objects.create(username="bench-marketer", role=Role.MARKETER)
    reader = Client()
    reader.force_login(marketer)
    buyer = Client()
    pages = {"library": "/collateral/", "search": "/collateral/?q=negotiation"}
    timings: dict[str, list[float]] = {key: [] for key in (*pages, "share", "bare")}
    with override_settings(ROOT_URLCONF="bench.collateral", ALLOWED_HOSTS=["testserver"]):
        for i in range(WARMUP + args.requests):
            measured = {key: _get(reader, url) for key, url in pages.items()}
            measured["share"] = _get(buyer, f"/s/{tokens[i % len(tokens)]}/")
            measured["bare"] = _get(reader, "/bare/")
            if i >= WARMUP:
                for key, seconds in measured.items():
                    timings[key].append(seconds)
    print(f"  {'':34}{'p50':>7}{'p95':>7}")
    _, library = _row("GET /collateral/ (first page)", timings["library"])
    _, search = _row("GET /collateral/?q=negotiation", timings["search"])
    _, share = _row("GET /s/<token>/ (a buyer's view)", timings["share"])
    _, bare = _row("bare view, one row", timings["bare"])
    for label, p95, target in (
        ("library", library, LIBRARY_MS),
        ("search", search, LIBRARY_MS),
        ("share link", share, SHARE_MS),
    ):
        verdict = "meets" if p95 <= target else "MISSES"
        print(f"  {label}/bare p95 {p95 / bare:.1f}x; target p95 <= {target:.0f} ms: {verdict}")


if __name__ == "__main__":
    main()
