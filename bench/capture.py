"""The public lead form: p50 and p95 of POST /f/<token>/ next to a bare view inserting one row.

    python -m bench.capture [--requests N] [--contacts N]
                                            (KEEL_DATABASE_URL picks the database;
                                             default: a scratch SQLite file)

The book: N contacts in N/2 companies (each with a domain), loaded with bulk_create, and a
live lead definition asking for a buying role and a form fill or inquiry in 90 days, so
every submission is judged again as it would be in production, and a known decision
maker's qualifies and is routed round robin with its first-touch task. The submissions, each
from its own remote address (the rate limit is not what is measured), rotate through four
kinds: a new person at a known company's domain, a new person at a new domain, a new
person on free mail naming a company, and a known contact (who gains blanks and an
inquiry). All tick the consent box.

Each goes through Django's test client without a CSRF token (every middleware, DEBUG off,
the connection handled as a WSGI server does after each response), followed by one POST to
a bare csrf-exempt Django view under the same middleware that stores the address as one
MarketingEvent row and answers the same redirect. Issue 9's target: a p95 of at most 50 ms.
"""

import argparse
import time
from collections.abc import Sequence

from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.test import Client
from django.views.decorators.csrf import csrf_exempt

from bench._setup import django_setup
from bench.pages import _percentile

TARGET_MS = 50.0
WARMUP = 8
KINDS = 4


@csrf_exempt
def bare_submit(request: HttpRequest) -> HttpResponse:
    from django.utils import timezone

    from keel.leads.models import EventType, MarketingEvent

    MarketingEvent.objects.create(
        type=EventType.FORM_FILL, occurred_at=timezone.now(), email=request.POST["email"]
    )
    return HttpResponseRedirect("/thanks/", status=303)


def __getattr__(name: str) -> object:
    """`urlpatterns`, for ROOT_URLCONF="bench.capture": Keel's own, then the bare view."""
    if name != "urlpatterns":
        raise AttributeError(name)
    from django.urls import path

    from keel import urls

    return [*urls.urlpatterns, path("bare/submit/", bare_submit)]


def _book(contacts: int) -> list[str]:
    """Companies and contacts in bulk, a live definition; the known contacts' addresses."""
    from django.utils import timezone

    from keel.accounts.models import Role, Team, User
    from keel.crm.models import Company, Contact
    from keel.leads.models import DefinitionStatus, LeadDefinition, RoutingKind, RoutingRule

    companies = Company.objects.bulk_create(
        Company(name=f"Company {i}", domain=f"company{i}.example") for i in range(contacts // 2)
    )
    Contact.objects.bulk_create(
        (
            Contact(
                company=companies[i % len(companies)],
                first_name="" if i % 3 else "Dana",
                last_name=f"Buyer{i}",
                email=f"buyer{i}@company{i % len(companies)}.example",
                buying_role="decision_maker" if i % 4 == 0 else "user",
            )
            for i in range(contacts)
        ),
        batch_size=2000,
    )
    LeadDefinition.objects.create(
        version=1,
        status=DefinitionStatus.ACTIVE,
        activated_at=timezone.now(),
        rules=[
            {"kind": "authority", "roles": ["decision_maker", "champion"]},
            {"kind": "engagement", "events": ["form_fill", "inquiry"], "days": 90},
        ],
    )
    # A known decision maker who sends the form qualifies: routed round robin in a team of
    # five, with a first-touch task, inside the request as in production.
    team = Team.objects.create(name="Inside sales")
    for n in range(5):
        User.objects.create(username=f"seller{n}", role=Role.SALESPERSON, team=team)
    RoutingRule.objects.create(position=1, kind=RoutingKind.ROUND_ROBIN, team=team)
    return list(Contact.objects.order_by("id").values_list("email", flat=True)[:5000])


def _submission(i: int, known: Sequence[str], companies: int) -> dict[str, str]:
    kind = i % KINDS
    if kind == 0:
        email = f"new{i}@company{i % companies}.example"
    elif kind == 1:
        email = f"someone{i}@fresh{i}.example"
    elif kind == 2:
        email = f"person{i}@gmail.com"
    else:
        email = known[(i // KINDS) % len(known)]
    return {
        "email": email,
        "first_name": "Pat",
        "last_name": f"Visitor{i}",
        "company": f"Named {i % 50}",
        "title": "Head of Operations",
        "phone": "+1 555 0100",
        "consent": "1",
        "page": "https://business.example/pricing",
    }


def _post(client: Client, url: str, data: dict[str, str], ip: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.post(url, data, REMOTE_ADDR=ip, secure=True)
    close_old_connections()  # as a WSGI server does after each response
    return time.perf_counter() - started, response.status_code


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.capture")
    parser.add_argument("--requests", type=int, default=400, help="timed submissions")
    parser.add_argument("--contacts", type=int, default=20_000, help="contacts in the book")
    args, _ = parser.parse_known_args(argv)
    if args.requests < 1 or args.contacts < 2:
        parser.error("--requests must be at least 1 and --contacts at least 2")
    vendor = django_setup("keel-bench-capture.sqlite3")

    from django.test import override_settings

    from keel.accounts.models import Role, User
    from keel.crm.models import Contact
    from keel.leads.capture import lead_form_create
    from keel.leads.models import MarketingEvent

    started = time.perf_counter()
    known = _book(args.contacts)
    print(f"\nbook: {args.contacts:,} contacts in {time.perf_counter() - started:.1f} s")
    marketer = User.objects.create(username="bench-marketer", role=Role.MARKETER)
    form = lead_form_create(
        by=marketer, name="Bench", campaign="bench", source="website", consent_text="Yes."
    )
    url = f"/f/{form.token}/"
    client = Client(enforce_csrf_checks=True)
    keel: list[float] = []
    bare: list[float] = []
    with override_settings(ROOT_URLCONF="bench.capture", ALLOWED_HOSTS=["testserver"]):
        for i in range(WARMUP + args.requests):
            data = _submission(i, known, args.contacts // 2)
            ip = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
            keel_seconds, keel_status = _post(client, url, data, ip)
            bare_seconds, bare_status = _post(client, "/bare/submit/", data, ip)
            if keel_status != 303 or bare_status != 303:
                raise SystemExit(f"submission {i}: HTTP {keel_status} (bare {bare_status})")
            if i >= WARMUP:
                keel.append(keel_seconds)
                bare.append(bare_seconds)

    stored = MarketingEvent.objects.filter(campaign="bench").count()
    if stored != WARMUP + args.requests:
        raise SystemExit(f"{stored} form fills stored of {WARMUP + args.requests} sent")
    keel_p50, keel_p95 = (_percentile(keel, p) * 1000 for p in (50, 95))
    bare_p50, bare_p95 = (_percentile(bare, p) * 1000 for p in (50, 95))
    verdict = "meets" if keel_p95 <= TARGET_MS else "MISSES"
    print(
        f"public lead form on {vendor}, {Contact.objects.count():,} contacts after the run: "
        f"{args.requests} submissions, ms"
    )
    print(f"  {'':26}{'p50':>7}{'p95':>7}")
    print(f"  {'POST /f/<token>/':26}{keel_p50:>7.1f}{keel_p95:>7.1f}")
    print(f"  {'bare view, one INSERT':26}{bare_p50:>7.1f}{bare_p95:>7.1f}")
    print(
        f"  keel/bare p95 {keel_p95 / bare_p95:.1f}x; target p95 <= {TARGET_MS:.0f} ms: {verdict}"
    )


if __name__ == "__main__":
    main()
