"""Requests: the tools sales asks marketing to make, and marketing's triage of them.

Who may do what (kept here, apart from the library's own access rules):

- everyone signed in who works (every role but the viewer, who only reads) may ask;
- everyone signed in reads every request: a request is not personal, and seeing what
  others already asked for saves asking twice;
- the keepers of the library (marketers, sales managers and the owner) triage.

The life cycle: open → accepted → in_progress → done, and declined (with a reason) from
open, accepted or in progress. Done and declined are final. When a request ends, its
asker gets an ad-hoc task due at once, so the answer shows on their My day.
"""

from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from keel.accounts.models import Role, User
from keel.activities.models import Task, TaskSource
from keel.collateral.models import Collateral, CollateralRequest, RequestStatus, Status
from keel.core.exceptions import InvalidInput, NotAllowed, StaleVersion
from keel.core.services import audit_record, validate
from keel.pipeline.access import deals_visible_to
from keel.pipeline.models import Deal

KEEPING_ROLES = frozenset({Role.OWNER, Role.SALES_MANAGER, Role.MARKETER})

# Where each status may go next; done and declined are final.
NEXT_STATUSES: dict[str, tuple[str, ...]] = {
    RequestStatus.OPEN: (RequestStatus.ACCEPTED, RequestStatus.DECLINED),
    RequestStatus.ACCEPTED: (RequestStatus.IN_PROGRESS, RequestStatus.DECLINED),
    RequestStatus.IN_PROGRESS: (RequestStatus.DONE, RequestStatus.DECLINED),
    RequestStatus.DONE: (),
    RequestStatus.DECLINED: (),
}
# Not yet answered: what the gaps report counts as asked for.
UNRESOLVED = (RequestStatus.OPEN, RequestStatus.ACCEPTED, RequestStatus.IN_PROGRESS)
TITLE_LENGTH = 200  # Task.title


def can_request(user: User) -> bool:
    return user.is_active and (user.is_superuser or user.role != Role.VIEWER)


def can_triage(user: User) -> bool:
    return user.is_active and (user.is_superuser or user.role in KEEPING_ROLES)


def ensure_can_triage(user: User) -> None:
    if not can_triage(user):
        raise NotAllowed(
            f"{user} may not triage collateral requests: marketers, sales managers and the "
            "owner may."
        )


def requests_visible_to(user: User) -> QuerySet[CollateralRequest]:
    """Every request, for anyone signed in and active, with who asked and decided."""
    if not user.is_active:
        return CollateralRequest.objects.none()
    return CollateralRequest.objects.select_related("requested_by", "decided_by", "answer")


def status_label(status: str) -> str:
    return str(RequestStatus(status).label).lower()


def _allowed_words(status: str) -> str:
    allowed = NEXT_STATUSES[status]
    if not allowed:
        return f"a {status_label(status)} request is final"
    return "it may become " + " or ".join(status_label(s) for s in allowed)


@transaction.atomic
def request_create(
    *, by: User, what: str, buyer_step: str = "", example_deal: Deal | None = None
) -> CollateralRequest:
    """Ask marketing for a missing tool: what, for which buyer step, and a deal it would help."""
    if not can_request(by):
        raise NotAllowed(f"{by} may not ask for collateral: viewers only read.")
    if example_deal is not None and not deals_visible_to(by).filter(pk=example_deal.pk).exists():
        raise NotAllowed(f"{by} may not name deal #{example_deal.pk} as an example.")
    what = what.strip()
    if not what:
        raise InvalidInput("Say what you need.", details=["what: Say what you need."])
    request = CollateralRequest(
        what=what, buyer_step=buyer_step.strip(), example_deal=example_deal, requested_by=by
    )
    validate(request)
    request.save()
    audit_record(actor=by, action="collateral_request.create", obj=request, summary=what)
    return request


@transaction.atomic
def request_triage(
    *,
    request: CollateralRequest,
    by: User,
    status: str,
    reason: str = "",
    answer: Collateral | None = None,
    expected_updated_at: datetime,
) -> CollateralRequest:
    """Move a request on in its life cycle; ending it (done, declined) tells the asker.

    A decline needs a reason; `answer`, the piece that answers the request, goes only with
    done and may not be a retired piece. An edit of a version someone saved since is
    refused with StaleVersion; nothing is written.
    """
    ensure_can_triage(by)
    current = CollateralRequest.objects.select_for_update().get(pk=request.pk)
    if current.updated_at != expected_updated_at:
        when = timezone.localtime(current.updated_at).strftime("%Y-%m-%d %H:%M")
        raise StaleVersion(
            f"The request “{current}” was changed at {when}, after you opened it. "
            "Nothing was saved."
        )
    if status not in RequestStatus.values:
        raise InvalidInput(f"{status!r} is not a request status.")
    if status not in NEXT_STATUSES[current.status]:
        raise InvalidInput(
            f"A {status_label(current.status)} request cannot become {status_label(status)}: "
            f"{_allowed_words(current.status)}.",
            details=[f"status: {_allowed_words(current.status)}."],
        )
    reason = reason.strip()
    if status == RequestStatus.DECLINED and not reason:
        raise InvalidInput(
            "Say why the request is declined: the asker will read it.",
            details=["reason: Say why the request is declined."],
        )
    if answer is not None:
        if status != RequestStatus.DONE:
            raise InvalidInput(
                "Name the answering piece only when the request is done.",
                details=["answer: Only a done request has an answering piece."],
            )
        if answer.status == Status.RETIRED:
            raise InvalidInput(
                f"{answer} is retired: it cannot answer a request.",
                details=[f"answer: {answer} is retired."],
            )
    old = current.status
    current.status = status
    current.reason = reason if status == RequestStatus.DECLINED else ""
    current.answer = answer if status == RequestStatus.DONE else None
    current.decided_by = by
    validate(current)
    current.save()
    audit_record(
        actor=by,
        action="collateral_request.triage",
        obj=current,
        summary=f"{current.what}: {old} → {status}",
        changes={"status": [old, status], **({"reason": ["", reason]} if reason else {})},
    )
    if status in (RequestStatus.DONE, RequestStatus.DECLINED):
        _tell_the_asker(current)
    return current


def _tell_the_asker(request: CollateralRequest) -> Task | None:
    """An ad-hoc task for the asker, due now, so the answer is on their My day."""
    asker = request.requested_by
    if not asker.is_active:
        return None
    if request.status == RequestStatus.DONE:
        title = f"Your request “{request.what}” is done"
        if request.answer is not None:
            title += f": {request.answer.title}"
    else:
        title = f"Your request “{request.what}” was declined: {request.reason}"
    if len(title) > TITLE_LENGTH:
        title = title[: TITLE_LENGTH - 1] + "…"
    task = Task.objects.create(
        title=title,
        owner=asker,
        due_at=timezone.now(),
        source=TaskSource.AD_HOC,
        source_key=f"collateral_request:{request.pk}",
    )
    audit_record(actor=request.decided_by, action="task.create", obj=task, summary=task.title)
    return task
