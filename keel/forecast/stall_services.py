"""The pipeline cleanup's writes: bulk actions on stalled deals, and the nightly record.

A bulk action runs in one transaction and goes through the pipeline's own services deal
by deal (deal_move to close as lost, deal_update to reschedule or reassign), so every rule
of a single edit holds: who may change the deal, the version the person saw (a deal
changed since is refused, not overwritten), the stage history, the audit log.

What is allowed is done and what is not is refused and named: each deal is checked first
(can the person change it, is it the version they saw), then changed inside a savepoint,
so one refusal leaves the others' changes standing and rolls back only its own. The
outcome lists both. Invalid input for the whole action (no reason, a date in the past, a
new owner the person may not hand deals to) refuses everything before anything is written.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from keel.accounts.models import User
from keel.accounts.permissions import SELLING_ROLES
from keel.core.exceptions import InvalidInput, KeelError, NotAllowed
from keel.forecast.models import StallCount
from keel.forecast.stall_selectors import StallThresholds, stall_tally
from keel.pipeline.access import can_edit_deal, deals_visible_to
from keel.pipeline.models import Deal, DealStatus, LostReason, StageKind
from keel.pipeline.selectors import version_stages
from keel.pipeline.services import deal_move, deal_update

MAX_DEALS = 200  # per action: a page of the cleanup, with room to spare


@dataclass(frozen=True)
class Picked:
    """A deal chosen on the page, with the version the person saw."""

    deal_id: int
    version: int


@dataclass
class Outcome:
    """What a bulk action did: the deals changed, and those refused with the reason."""

    action: str
    done: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        done = len(self.done)
        text = f"{self.action}: {done} deal{'s' if done != 1 else ''}"
        if self.refused:
            text += f"; {len(self.refused)} refused"
        return text + "."


def _pick_check(*, by: User, picked: Sequence[Picked]) -> None:
    if not picked:
        raise InvalidInput("Choose at least one deal.")
    if len(picked) > MAX_DEALS:
        raise InvalidInput(f"Choose at most {MAX_DEALS} deals at a time.")
    if not by.is_active or by.role not in SELLING_ROLES:
        raise NotAllowed(f"{by} may not change deals.")


def _each(
    *, by: User, picked: Sequence[Picked], action: str, change: Callable[[Deal, int], object]
) -> Outcome:
    """Check each picked deal, then `change` it in a savepoint; name every refusal."""
    _pick_check(by=by, picked=picked)
    outcome = Outcome(action=action)
    found = deals_visible_to(by).select_related("owner").in_bulk([p.deal_id for p in picked])
    for pick in picked:
        deal = found.get(pick.deal_id)
        if deal is None:
            outcome.refused.append(f"deal #{pick.deal_id}: not found, or not yours to see")
            continue
        if not can_edit_deal(by, deal):
            outcome.refused.append(f"{deal.name}: {by} may not change {deal.owner}'s deal")
            continue
        if deal.status != DealStatus.OPEN:
            outcome.refused.append(f"{deal.name}: already {deal.get_status_display().lower()}")
            continue
        try:
            with transaction.atomic():
                change(deal, pick.version)
        except KeelError as error:
            outcome.refused.append(f"{deal.name}: {error.message}")
        else:
            outcome.done.append(deal.name)
    return outcome


@transaction.atomic
def stalled_close_lost(
    *, by: User, picked: Sequence[Picked], lost_reason: str, note: str = ""
) -> Outcome:
    """Close the picked deals as lost, with the reason (and note) each lost deal records."""
    if lost_reason not in LostReason.values:
        choices = ", ".join(label for _, label in LostReason.choices)
        raise InvalidInput(f"Say why these deals were lost: one of {choices}.")

    def close(deal: Deal, version: int) -> None:
        lost = next(s for s in version_stages(deal.process_version_id) if s.kind == StageKind.LOST)
        deal_move(
            deal=deal,
            to_stage=lost.name,
            by=by,
            expected_version=version,
            lost_reason=lost_reason,
            lost_note=note,
        )

    return _each(by=by, picked=picked, action="Closed as lost", change=close)


@transaction.atomic
def stalled_reschedule(
    *, by: User, picked: Sequence[Picked], expected_close: date, next_step: str
) -> Outcome:
    """Give the picked deals a new expected close date and the next step that earns it."""
    next_step = next_step.strip()
    if not next_step:
        raise InvalidInput("Say what the next step is: a new date needs a plan to meet it.")
    if expected_close < timezone.localdate():
        raise InvalidInput(f"The new close date {expected_close:%Y-%m-%d} is in the past.")

    def reschedule(deal: Deal, version: int) -> None:
        data = {"expected_close": expected_close, "next_step": next_step}
        deal_update(deal=deal, by=by, expected_version=version, data=data)

    return _each(by=by, picked=picked, action="Rescheduled", change=reschedule)


@transaction.atomic
def stalled_reassign(*, by: User, picked: Sequence[Picked], owner: User) -> Outcome:
    """Hand the picked deals to `owner`."""
    if not owner.is_active or owner.role not in SELLING_ROLES:
        raise InvalidInput(f"{owner} does not sell: choose a person who can own deals.")
    if not can_edit_deal(by, Deal(owner=owner)):
        raise NotAllowed(f"{by} may not hand deals to {owner}.")

    def reassign(deal: Deal, version: int) -> None:
        deal_update(deal=deal, by=by, expected_version=version, data={"owner": owner})

    return _each(by=by, picked=picked, action=f"Reassigned to {owner}", change=reassign)


@transaction.atomic
def stall_counts_record(*, day: date, thresholds: StallThresholds, now: datetime) -> int:
    """Write `day`'s open and stalled deals per stage and owner, replacing any rows the day
    already had (running twice on a day records it once). Returns the rows written."""
    tallies = stall_tally(thresholds=thresholds, now=now)
    StallCount.objects.filter(day=day).delete()
    StallCount.objects.bulk_create(
        StallCount(
            day=day,
            stage_id=t.stage_id,
            owner_id=t.owner_id,
            open_deals=t.open_deals,
            stalled=t.stalled,
            by_reason=t.by_reason,
        )
        for t in tallies
    )
    return len(tallies)
