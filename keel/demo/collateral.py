"""The demo's collateral library: about 60 sales tools, each mapped to the stages and
buyer steps it serves, used in the deals as they moved, shared with buyers who opened
some of the links, and a few requests from sales in each state.

Like most libraries, it is used unevenly: a few pieces carry most of the uses, a
realistic share is never used at all, some are retired or still drafts, and three buyer
steps have no piece (starting to use it, looking back on the results, seeing a further
need): the gaps report has something true to say.

Uses are written as history from the deals' stage changes: when a deal entered a stage,
its owner sent some of the pieces that serve that stage. The stage an open deal is in
now has no use yet, so its salesperson finds the recommended pieces still to send.
Random choices come from one `random.Random` seeded from the demo's seed.
"""

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import yaml
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from keel.accounts.models import Role, User
from keel.collateral.models import (
    Collateral,
    CollateralFile,
    CollateralRequest,
    CollateralUse,
    Kind,
    RequestStatus,
    ShareLink,
    ShareView,
    Status,
)
from keel.core.bulk import ids_reserve, rows_load
from keel.demo import names
from keel.pipeline.models import Deal, DealStatus, ProcessVersion, SalesProcess, StageChange
from keel.pipeline.services import process_import

# (title, kind, stages, buyer steps, status, how often it is reached for: 0 never)
P = tuple[str, str, tuple[str, ...], tuple[str, ...], str, float]
A, R, D = Status.ACTIVE, Status.RETIRED, Status.DRAFT
LIBRARY: tuple[P, ...] = (
    ("Company overview deck", Kind.DECK, ("Qualify", "1st meeting"), ("Recognise a need",), A, 0.5),
    (
        "Why sales training fails (and what works)",
        Kind.ONE_PAGER,
        ("Qualify",),
        ("Recognise a need",),
        A,
        0.35,
    ),
    ("Sales maturity self-assessment", Kind.OTHER, ("Qualify",), ("Recognise a need",), A, 0.08),
    (
        "Industry benchmark report 2026",
        Kind.OTHER,
        ("Qualify", "Discover"),
        ("Recognise a need",),
        A,
        0.0,
    ),
    ("Intro video: how we work", Kind.VIDEO, ("Qualify",), ("Recognise a need",), A, 0.04),
    ("First meeting agenda", Kind.ONE_PAGER, ("1st meeting",), ("Explore options",), A, 0.45),
    ("Discovery questions", Kind.ONE_PAGER, ("1st meeting",), ("Explore options",), A, 0.3),
    ("Our approach in ten slides", Kind.DECK, ("1st meeting",), ("Explore options",), A, 0.2),
    ("Capabilities brochure 2024", Kind.DECK, ("1st meeting",), ("Explore options",), R, 0.0),
    ("Webinar recording: pipeline reviews that work", Kind.VIDEO, (), ("Explore options",), A, 0.0),
    ("Demo script: Sales Accelerator", Kind.OTHER, ("Proof",), ("Validate the solution",), A, 0.4),
    (
        "Reference list",
        Kind.ONE_PAGER,
        ("Proof", "2nd meeting"),
        ("Validate the solution",),
        A,
        0.25,
    ),
    ("Pilot plan template", Kind.OTHER, ("Proof",), ("Validate the solution",), A, 0.06),
    ("ROI calculator", Kind.LINK, ("2nd meeting",), ("Build consensus",), A, 0.3),
    ("Objection handling guide", Kind.ONE_PAGER, ("2nd meeting",), ("Build consensus",), A, 0.15),
    (
        "Executive summary for the board",
        Kind.ONE_PAGER,
        ("2nd meeting",),
        ("Build consensus",),
        A,
        0.0,
    ),
    ("CFO business case", Kind.DECK, ("2nd meeting", "Proposal"), ("Build consensus",), A, 0.05),
    (
        "Proposal template",
        Kind.PROPOSAL_TEMPLATE,
        ("Proposal", "Propose"),
        ("Evaluate the offer",),
        A,
        0.6,
    ),
    (
        "Price sheet 2026",
        Kind.PRICE_SHEET,
        ("Proposal", "Propose", "Negotiate"),
        ("Evaluate the offer",),
        A,
        0.55,
    ),
    ("Price sheet 2025", Kind.PRICE_SHEET, ("Proposal",), ("Evaluate the offer",), R, 0.0),
    ("Price sheet 2024", Kind.PRICE_SHEET, ("Proposal",), ("Evaluate the offer",), R, 0.0),
    (
        "Terms and conditions",
        Kind.OTHER,
        ("Proposal", "Close"),
        ("Evaluate the offer", "Commit"),
        A,
        0.2,
    ),
    ("Contract template", Kind.OTHER, ("Close",), ("Commit",), A, 0.5),
    ("Data processing agreement", Kind.OTHER, ("Close",), ("Commit",), A, 0.1),
    ("Onboarding plan", Kind.ONE_PAGER, ("Close",), ("Commit",), A, 0.12),
    ("Results review template", Kind.DECK, ("Review",), (), A, 0.0),
    (
        "Renewal price sheet",
        Kind.PRICE_SHEET,
        ("Proposal", "Negotiate"),
        ("Decide to continue", "Agree terms"),
        A,
        0.3,
    ),
    (
        "Upsell options one-pager",
        Kind.ONE_PAGER,
        ("Discover", "Propose"),
        ("Evaluate the extension",),
        A,
        0.25,
    ),
    (
        "Channel partner programme deck",
        Kind.DECK,
        ("Propose",),
        ("Evaluate the extension",),
        A,
        0.02,
    ),
    ("Old logo deck", Kind.DECK, ("1st meeting",), (), R, 0.0),
    (
        "Competitor comparison (draft)",
        Kind.ONE_PAGER,
        ("2nd meeting",),
        ("Build consensus",),
        D,
        0.0,
    ),
    ("Security questionnaire answers", Kind.OTHER, (), (), D, 0.0),
    ("Proposal walk-through video", Kind.VIDEO, ("Proposal",), ("Evaluate the offer",), A, 0.0),
    ("Case study library index", Kind.LINK, ("Proof",), ("Validate the solution",), A, 0.02),
)
# A case study per industry: sent in Proof and Proposal, some far more than others.
CASE_STUDIES: tuple[tuple[str, str, float], ...] = (
    ("Software", "A SaaS scale-up doubles its win rate", 0.35),
    ("Manufacturing", "A machine builder cuts its sales cycle by a third", 0.3),
    ("Logistics", "A freight forwarder fills its pipeline for the year", 0.25),
    ("Professional services", "A consultancy stops discounting", 0.2),
    ("Wholesale", "A wholesaler wins back lapsed accounts", 0.08),
    ("Healthcare", "A medical supplier trains 40 field reps", 0.05),
    ("Financial services", "An insurer's broker channel grows 18%", 0.03),
    ("Construction", "A builder's merchant wins public tenders", 0.0),
    ("Energy", "A solar installer turns leads into contracts", 0.0),
    ("Retail", "A retail chain's B2B desk", 0.0),
    ("Hospitality", "A hotel group sells more events", 0.0),
    ("Education", "A training college fills its courses", 0.0),
)
# One-pagers per product, the rest of the library.
ONE_PAGER_USE = (0.2, 0.15, 0.1, 0.05, 0.03, 0.02, 0.0, 0.0, 0.0, 0.0)
P_SHARED = 0.35  # a use sent as a share link
VIEWS = (0, 1, 1, 1, 2, 2, 3, 5)  # how often a buyer opened a link
REQUESTS = (
    ("A case study from the energy sector", "Validate the solution", RequestStatus.OPEN, ""),
    ("An onboarding checklist the customer can share internally", "Start using it",
     RequestStatus.OPEN, ""),
    ("A one-page answer to 'we already did a training'", "Build consensus",
     RequestStatus.ACCEPTED, ""),
    ("Price sheet in Swiss francs", "Evaluate the offer", RequestStatus.IN_PROGRESS, ""),
    ("A results review for renewals", "Look back on the results", RequestStatus.IN_PROGRESS, ""),
    ("A short video of a real coaching session", "Explore options", RequestStatus.DONE, ""),
    ("Case study for manufacturing", "Validate the solution", RequestStatus.DONE, ""),
    ("A competitor price comparison", "Evaluate the offer", RequestStatus.DECLINED,
     "We do not publish competitors' prices: use the objection handling guide instead."),
)  # fmt: skip


@dataclass(frozen=True)
class CollateralSummary:
    pieces: int
    active: int
    never_used: int  # active pieces with no use
    uses: int
    links: int
    views: int
    requests: int
    process_versions: list[int]  # the versions the demo imported: a rebuild deletes them


def _pdf(title: str) -> bytes:
    """A small, valid one-page PDF with the title on it."""
    text = title.replace("\\", "").replace("(", "").replace(")", "")
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _catalogue() -> list[P]:
    pieces = list(LIBRARY)
    for industry, story, weight in CASE_STUDIES:
        pieces.append((f"Case study ({industry}): {story}", Kind.CASE_STUDY, ("Proof", "Proposal"),
                       ("Validate the solution",), A, weight))  # fmt: skip
    for (product, _), weight in zip(names.PRODUCTS, ONE_PAGER_USE, strict=True):
        pieces.append((f"{product}: one-pager", Kind.ONE_PAGER, ("1st meeting", "Proof"),
                       ("Explore options",), A, weight))  # fmt: skip
    return pieces


def library_write(
    *, rng: random.Random, marketer: User, seller: User, start: datetime
) -> list[tuple[Collateral, float]]:
    """The pieces with their files (a PDF each; links and videos have an address)."""
    made: list[tuple[Collateral, float]] = []
    for n, (title, kind, stages, steps, status, weight) in enumerate(_catalogue()):
        created = start + timedelta(days=rng.uniform(0, 120) if weight else rng.uniform(0, 700))
        piece = Collateral.objects.create(
            title=title,
            kind=kind,
            description=f"{title}. For the buyer who is at: {', '.join(steps) or 'any step'}.",
            owner=marketer,
            status=status,
            stages=list(stages),
            buyer_steps=list(steps),
            url=f"https://videos.keel-demo.example/{n}" if kind in (Kind.VIDEO, Kind.LINK) else "",
            submitted_by=seller if title.startswith("Competitor") else None,
        )
        Collateral.objects.filter(pk=piece.pk).update(created_at=created, updated_at=created)
        if kind not in (Kind.VIDEO, Kind.LINK):
            content = _pdf(title)
            stored = default_storage.save(f"{FOLDER}/{piece.pk}.pdf", ContentFile(content))
            CollateralFile.objects.create(
                collateral=piece,
                number=1,
                file=stored,
                name=f"{title[:180]}.pdf",
                size=len(content),
                content_type="application/pdf",
                sha256=hashlib.sha256(content).hexdigest(),
                uploaded_by=marketer,
            )
        made.append((piece, weight))
    return made


def uses_write(
    *, rng: random.Random, pieces: list[tuple[Collateral, float]], now: datetime
) -> tuple[int, int, int]:
    """Each stage a deal entered and left, its owner sent some of the pieces serving it."""
    serving: dict[tuple[str, str], list[tuple[Collateral, float]]] = {}
    active = [(p, w) for p, w in pieces if p.status == Status.ACTIVE and w > 0]
    versions = dict(CollateralFile.objects.values_list("collateral", "pk"))
    changes = StageChange.objects.order_by("deal", "at").values_list(
        "deal", "to_stage__name", "to_stage__buyer_step", "at", "deal__owner"
    )
    current = dict(Deal.objects.filter(status=DealStatus.OPEN).values_list("pk", "stage__name"))
    uses: list[tuple[int, int | None, int, str, int, datetime]] = []
    for deal, stage, step, at, owner in changes.iterator(chunk_size=5000):
        if owner is None or current.get(deal) == stage:
            continue  # the stage an open deal is in now: nothing sent yet
        key = (stage, step)
        if key not in serving:
            serving[key] = [(p, w) for p, w in active if stage in p.stages or step in p.buyer_steps]
        for piece, weight in serving[key]:
            if rng.random() < weight:
                when = min(at + timedelta(hours=rng.uniform(2, 72)), now - timedelta(hours=1))
                uses.append((piece.pk, versions.get(piece.pk), deal, stage, owner, when))
    ids = ids_reserve(CollateralUse, len(uses))
    rows_load(
        model=CollateralUse,
        fields=("id", "collateral_id", "version_id", "deal_id", "stage", "by_id", "at"),
        rows=((pk, *use) for pk, use in zip(ids, uses, strict=True)),
    )
    links, views = [], []
    for pk, use in zip(ids, uses, strict=True):
        if rng.random() >= P_SHARED:
            continue
        when = use[-1]
        link = ShareLink(use_id=pk, expires_at=when + timedelta(days=30))
        links.append(link)
        for _ in range(rng.choice(VIEWS)):
            seen = when + timedelta(hours=rng.uniform(1, 24 * 10))
            if seen < now:
                seconds = int(rng.lognormvariate(4, 1)) if rng.random() < 0.8 else None
                views.append((link, seen, seconds))
    ShareLink.objects.bulk_create(links, batch_size=1000)
    ShareView.objects.bulk_create(
        (ShareView(link=link, at=seen, seconds=seconds) for link, seen, seconds in views),
        batch_size=1000,
    )
    return len(uses), len(links), len(views)


def requests_write(*, sellers: list[User], marketer: User, pieces: list[Collateral]) -> int:
    answers = {p.title: p for p in pieces}
    for n, (what, step, status, reason) in enumerate(REQUESTS):
        answer = None
        if status == RequestStatus.DONE:
            answer = next((p for t, p in answers.items() if "one-pager" in t or "Case" in t), None)
        CollateralRequest.objects.create(
            what=what,
            buyer_step=step,
            requested_by=sellers[n % len(sellers)],
            status=status,
            reason=reason,
            answer=answer,
            decided_by=None if status == RequestStatus.OPEN else marketer,
        )
    return len(REQUESTS)


FOLDER = "collateral/demo"


def demo_files_delete() -> None:
    """The demo library's files, before a rebuild writes them again."""
    try:
        _, files = default_storage.listdir(FOLDER)
    except FileNotFoundError:
        return
    for name in files:
        default_storage.delete(f"{FOLDER}/{name}")


def process_revise(*, by: User) -> ProcessVersion | None:
    """New business, revised with the library: a case study goes to the buyer before a
    proposal leaves. The history stays under the version it moved under; open deals move
    onto this one, so one in Proposal shows the case study still to send."""
    process = SalesProcess.objects.get(name="New business")
    current = ProcessVersion.objects.filter(process=process).order_by("-number").first()
    if current is None:
        return None
    document = yaml.safe_load(current.source)
    for stage in document["stages"]:
        if stage["name"] == "Proposal":
            stage["exit_criteria"].append({"kind": "collateral", "collateral": "case_study"})
            stage["recommended_collateral"] = ["case_study", *stage["recommended_collateral"]]
    return process_import(
        source=yaml.safe_dump(document, sort_keys=False, allow_unicode=True), by=by
    )


def demo_collateral_build(*, today: date, seed: int) -> CollateralSummary:
    rng = random.Random(f"collateral-{seed}")
    now = datetime.combine(today, time(), UTC)
    marketer = User.objects.get(role=Role.MARKETER, username="chloe.dubois")
    sellers = list(User.objects.filter(role=Role.SALESPERSON).order_by("pk"))
    start = now - timedelta(days=730)
    made = library_write(rng=rng, marketer=marketer, seller=sellers[0], start=start)
    uses, links, views = uses_write(rng=rng, pieces=made, now=now)
    requests = requests_write(sellers=sellers, marketer=marketer, pieces=[p for p, _ in made])
    revised = process_revise(by=User.objects.get(role=Role.OWNER, username="owner"))
    active = [p for p, _ in made if p.status == Status.ACTIVE]
    used = set(CollateralUse.objects.values_list("collateral", flat=True).distinct())
    return CollateralSummary(
        pieces=len(made),
        active=len(active),
        never_used=sum(p.pk not in used for p in active),
        uses=uses,
        links=links,
        views=views,
        requests=requests,
        process_versions=[revised.pk] if revised is not None else [],
    )
