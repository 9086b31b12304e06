from collections.abc import Callable, Sequence
from datetime import datetime

from django.db.models import Max

from keel.activities.models import Activity
from keel.pipeline.models import ChecklistTick, Deal, DealContact, ProcessVersion, SalesProcess
from keel.pipeline.rules import REQUIRABLE_FIELDS, ActivityFact, DealSnapshot

# The hook for `collateral` exit criteria: each provider returns (collateral kind, sent at)
# for a deal. The collateral library registers one; with none registered nothing was sent.
CollateralProvider = Callable[[Deal], Sequence[tuple[str, datetime]]]
collateral_providers: list[CollateralProvider] = []


def process_current_version(*, process: SalesProcess) -> ProcessVersion | None:
    return process.versions.order_by("-number").first()


def deal_snapshot(*, deal: Deal) -> DealSnapshot:
    """Everything the exit criteria look at, in four queries."""
    entered_at = dict(
        deal.stage_changes.values_list("to_stage__name").annotate(last=Max("at")).order_by()
    )
    activities = [
        ActivityFact(type=t, outcome=o, at=at)
        for t, o, at in Activity.objects.filter(deal=deal).values_list("type", "outcome", "at")
    ]
    ticked = frozenset(ChecklistTick.objects.filter(deal=deal).values_list("item", flat=True))
    roles = frozenset(
        DealContact.objects.filter(deal=deal).exclude(role="").values_list("role", flat=True)
    )
    return DealSnapshot(
        fields={name: getattr(deal, _attname(name)) for name in REQUIRABLE_FIELDS},
        stage_entered_at=deal.stage_entered_at,
        entered_at=entered_at,
        activities=activities,
        ticked=ticked,
        contact_roles=roles,
        collateral_sent=[sent for provider in collateral_providers for sent in provider(deal)],
    )


def _attname(field: str) -> str:
    return "referred_by_id" if field == "referred_by" else field
