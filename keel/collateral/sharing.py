"""Collateral in the deal: what to send at this stage, the send itself (a use and its
activity), the buyer's share link, and each view of it.

A share link is the only way to a piece without signing in, so everything that opens it
answers an unknown, a revoked and an expired token alike (`LinkGone`): from outside, a
link that never existed and one that stopped working cannot be told apart.
"""

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import BooleanField, Count, F, Max, Q, QuerySet, Sum, Value
from django.db.models.expressions import RawSQL
from django.utils import timezone

from keel.accounts.models import User
from keel.activities.models import ActivityType
from keel.activities.services import activity_log
from keel.collateral.access import can_keep
from keel.collateral.models import (
    Collateral,
    CollateralUse,
    ShareLink,
    ShareView,
    Status,
)
from keel.core.exceptions import InvalidInput, KeelError, NotAllowed
from keel.core.services import audit_record
from keel.crm.models import Contact
from keel.pipeline.access import can_edit_deal, ensure_can_edit_deal
from keel.pipeline.models import Deal, DealStatus

RECOMMENDED_LIMIT = 12
SENT_LIMIT = 50
SHARE_DAYS_MIN, SHARE_DAYS_MAX = 1, 365
VIEW_SECONDS_MAX = 86_400


class LinkGone(KeelError):
    """A share link that does not lead anywhere (unknown, revoked or expired): one message
    for all three, so a token cannot be probed."""

    def __init__(self) -> None:
        super().__init__("This link is not available. Ask the person who sent it for a new one.")


# --- who may do what ----------------------------------------------------------------------


def _sendable() -> QuerySet[Collateral]:
    # Only active pieces go to a buyer: drafts wait for marketing's review, retired are gone
    # (whoever may see a draft in the library still may not send it).
    return Collateral.objects.filter(status=Status.ACTIVE)


def can_revoke(*, user: User, link: ShareLink) -> bool:
    """Who sent it, those who may edit the deal, and the library's keepers."""
    if not user.is_active:
        return False
    use = link.use
    if use.by_id == user.pk or can_keep(user):
        return True
    return use.deal is not None and can_edit_deal(user, use.deal)


# --- recommendations ------------------------------------------------------------------------


def _json_list_has(column: str, value: str) -> RawSQL:
    """Whether the JSON list in `column` holds `value`, on either database.

    Django's `__contains` on a JSONField does not run on SQLite, so this asks each database
    in its own words; only the model's own table and column names are formatted in.
    """
    table = connection.ops.quote_name(Collateral._meta.db_table)
    field = f"{table}.{connection.ops.quote_name(column)}"
    if connection.vendor == "postgresql":
        return RawSQL(f"{field} @> %s::jsonb", [json.dumps([value])], BooleanField())  # noqa: S611
    sql = f"EXISTS (SELECT 1 FROM json_each({field}) WHERE json_each.value = %s)"  # noqa: S608
    return RawSQL(sql, [value], BooleanField())  # noqa: S611


def recommended_for(*, deal: Deal, limit: int = RECOMMENDED_LIMIT) -> list[Collateral]:
    """The active pieces for the deal's current stage or its buyer step, best first: those
    that serve both, then the stage, then the step; then by title."""
    stage = deal.stage
    pieces = _sendable().annotate(for_stage=_json_list_has("stages", stage.name))
    if stage.buyer_step:
        pieces = pieces.annotate(for_step=_json_list_has("buyer_steps", stage.buyer_step))
        pieces = pieces.filter(Q(for_stage=True) | Q(for_step=True))
    else:
        pieces = pieces.annotate(for_step=Value(False, output_field=BooleanField()))
        pieces = pieces.filter(for_stage=True)
    ordered = pieces.order_by(F("for_stage").desc(), F("for_step").desc(), "title", "id")
    return list(ordered[:limit])


# --- sending ------------------------------------------------------------------------------


def _contact_belongs(*, contact: Contact, deal: Deal) -> bool:
    return (
        contact.company_id == deal.company_id
        or deal.deal_contacts.filter(contact_id=contact.pk).exists()
    )


@transaction.atomic
def collateral_send(
    *,
    collateral: Collateral,
    deal: Deal,
    by: User,
    contact: Contact | None = None,
    share: bool = False,
    expires_in_days: int = 30,
    now: datetime | None = None,
) -> CollateralUse:
    """Record that `by` sent `collateral` in `deal` (to `contact`), log it as an e-mail on
    the deal, and with `share` open a share link for the buyer that expires after
    `expires_in_days` days. Returns the use (its link as `use.link`)."""
    ensure_can_edit_deal(by, deal)
    piece = _sendable().filter(pk=collateral.pk).first()
    if piece is None:
        raise InvalidInput(
            f"“{collateral}” is not active in the library: only active pieces go out."
        )
    if contact is not None and not _contact_belongs(contact=contact, deal=deal):
        raise InvalidInput(f"{contact} is not a contact of {deal.name}.")
    if share and not SHARE_DAYS_MIN <= expires_in_days <= SHARE_DAYS_MAX:
        raise InvalidInput(
            f"A share link lasts {SHARE_DAYS_MIN} to {SHARE_DAYS_MAX} days, not {expires_in_days}."
        )
    version = piece.files.order_by("-number").first()
    if version is None and not piece.url:
        raise InvalidInput(f"“{piece}” has neither a file nor a link to send.")
    now = now or timezone.now()
    expires_at = now + timedelta(days=expires_in_days)
    what = f"{piece.get_kind_display()} “{piece.title}”"
    if version is not None:
        what += f" (version {version.number})"
    note = f"Sent {what}"
    if share:
        note += f", with a share link until {expires_at:%Y-%m-%d}"
    # No activity type says "collateral sent"; an e-mail is the touch that carries it.
    activity = activity_log(
        by=by, type=ActivityType.EMAIL, deal=deal, contact=contact, at=now, notes=note + "."
    )
    use = CollateralUse.objects.create(
        collateral=piece,
        version=version,
        deal=deal,
        contact=contact,
        stage=deal.stage.name,
        by=by,
        at=now,
        activity=activity,
    )
    if share:
        ShareLink.objects.create(use=use, expires_at=expires_at)
    audit_record(
        actor=by,
        action="collateral.send",
        obj=use,
        summary=f"{note} in {deal.name}" + (f" to {contact}" if contact else ""),
    )
    return use


@transaction.atomic
def share_link_revoke(*, link: ShareLink, by: User, now: datetime | None = None) -> ShareLink:
    """Stop the link. A link already revoked stays as it was (who and when, the first
    time): revoking twice is a no-op, not an error."""
    current = ShareLink.objects.select_for_update().get(pk=link.pk)
    current.use = CollateralUse.objects.select_related("deal__owner", "collateral").get(
        pk=current.use_id
    )
    if not can_revoke(user=by, link=current):
        raise NotAllowed(f"{by} may not revoke the link to {current.use.collateral}.")
    if current.revoked_at is not None:
        return current
    current.revoked_at, current.revoked_by = now or timezone.now(), by
    current.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(actor=by, action="collateral.share_revoke", obj=current, summary=str(current))
    return current


# --- the buyer's side ---------------------------------------------------------------------


def share_link_valid(*, token: str, now: datetime) -> ShareLink:
    """The live link for `token`, with its piece and file version; else LinkGone."""
    link = (
        ShareLink.objects.select_related("use__collateral", "use__version")
        .filter(token=token)
        .first()
    )
    if (
        link is None
        or link.revoked_at is not None
        or link.expires_at <= now
        or link.use.collateral.status != Status.ACTIVE  # a retired piece is no longer sent
    ):
        raise LinkGone
    return link


@transaction.atomic
def share_view_open(*, token: str, now: datetime) -> tuple[ShareLink, ShareView]:
    """The buyer opened the link: record the view; LinkGone if the link leads nowhere."""
    link = share_link_valid(token=token, now=now)
    view = ShareView.objects.create(link=link, at=now)
    return link, view


@transaction.atomic
def share_view_close(
    *, beacon: str, seconds: int, token: str | None = None, now: datetime | None = None
) -> bool:
    """How long the page stayed open, as the browser said when it was left. Set once:
    later calls change nothing. The figure is kept within 0–86,400 and never more than the
    time since the view began. Returns whether it was set."""
    views = ShareView.objects.filter(beacon=beacon, seconds__isnull=True)
    if token is not None:
        views = views.filter(link__token=token)
    view = views.select_for_update().first()
    if view is None:
        return False
    elapsed = math.ceil(((now or timezone.now()) - view.at).total_seconds())
    bounded = max(0, min(seconds, VIEW_SECONDS_MAX, max(elapsed, 0)))
    return views.filter(pk=view.pk).update(seconds=bounded) == 1


# --- the deal page's panel ------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """A piece sent in the deal, with its link's views."""

    use: CollateralUse
    views: int
    last_view: datetime | None
    seconds: int | None
    revocable: bool

    @property
    def link(self) -> ShareLink | None:
        return getattr(self.use, "link", None)

    @property
    def live(self) -> bool:
        link = self.link
        return link is not None and link.revoked_at is None and link.expires_at > timezone.now()

    @property
    def spent(self) -> str:
        if not self.seconds:
            return "—"
        minutes, seconds = divmod(self.seconds, 60)
        hours, minutes = divmod(minutes, 60)
        if hours:
            return f"{hours} h {minutes} min"
        return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


@dataclass(frozen=True)
class DealCollateral:
    recommended: list[Collateral]
    sent: list[Sent]
    sent_ids: frozenset[int]
    can_send: bool


def deal_collateral(*, deal: Deal, user: User) -> DealCollateral:
    """The deal page's collateral panel, in two queries: the recommended pieces for the
    current stage (open deals only) and the latest pieces sent, with their links' views."""
    uses = (
        CollateralUse.objects.filter(deal=deal)
        .select_related("collateral", "contact", "by", "link")
        .annotate(
            view_count=Count("link__views"),
            last_view=Max("link__views__at"),
            view_seconds=Sum("link__views__seconds"),
        )
        .order_by("-at", "-id")[:SENT_LIMIT]
    )
    editable = can_edit_deal(user, deal)
    keeper = can_keep(user)
    sent = []
    for use in uses:
        use.deal = deal  # the deal is the page's: no query to fetch it again
        sent.append(
            Sent(
                use=use,
                views=use.view_count,
                last_view=use.last_view,
                seconds=use.view_seconds,
                revocable=user.is_active and (editable or keeper or use.by_id == user.pk),
            )
        )
    is_open = deal.status == DealStatus.OPEN
    return DealCollateral(
        recommended=recommended_for(deal=deal) if is_open else [],
        sent=sent,
        sent_ids=frozenset(s.use.collateral_id for s in sent),
        can_send=editable and is_open,
    )
