"""Deals with a made-up stage history, for the stall tests: written straight to the tables,
since the services stamp every move with the present."""

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from itertools import count, pairwise

from django.core.cache import caches

from keel.accounts.models import User
from keel.activities.models import Activity, ActivityType
from keel.crm.models import Company
from keel.crm.tests.factories import CompanyFactory
from keel.pipeline.models import (
    Deal,
    DealStatus,
    SalesProcess,
    Stage,
    StageChange,
    StageKind,
)

DAY = timedelta(days=1)
_names = count(1)


def stage(process: str, name: str) -> Stage:
    """The stage `name` of the newest version of `process`."""
    found = SalesProcess.objects.get(name=process).versions.order_by("-number").first()
    assert found is not None
    return found.stages.get(name=name)


def deal_with_history(
    *,
    owner: User,
    stints: Sequence[tuple[str, datetime]],
    process: str = "New business",
    company: Company | None = None,
    expected_close: date | None = None,
    name: str = "",
) -> Deal:
    """A deal that entered each stage of `stints` (name, when) in turn; the last one is where
    it is now, so a won or lost stage last closes it."""
    version = SalesProcess.objects.get(name=process).versions.order_by("-number").first()
    assert version is not None
    stages = {s.name: s for s in version.stages.all()}
    last_name, last_at = stints[-1]
    last = stages[last_name]
    status = {
        StageKind.OPEN: DealStatus.OPEN,
        StageKind.WON: DealStatus.WON,
        StageKind.LOST: DealStatus.LOST,
    }[StageKind(last.kind)]
    deal = Deal.objects.create(
        name=name or f"Deal {next(_names)}",
        company=company or CompanyFactory(),
        owner=owner,
        process=version.process,
        process_version=version,
        stage=last,
        status=status,
        stage_entered_at=last_at,
        closed_at=None if status == DealStatus.OPEN else last_at,
        lost_reason="other" if status == DealStatus.LOST else "",
        expected_close=expected_close,
    )
    Deal.objects.filter(pk=deal.pk).update(created_at=stints[0][1])
    changes = [StageChange(deal=deal, process_version=version, to_stage=stages[stints[0][0]],
                           at=stints[0][1])]  # fmt: skip
    for (before, _), (after, at) in pairwise(stints):
        changes.append(
            StageChange(
                deal=deal,
                process_version=version,
                from_stage=stages[before],
                to_stage=stages[after],
                at=at,
            )
        )
    StageChange.objects.bulk_create(changes)
    caches["local"].clear()  # the thresholds' cache key would not see rows written under it
    deal.refresh_from_db()
    return deal


def won_deals(
    *, owner: User, stage_name: str, days: Sequence[float], now: datetime, process: str = ""
) -> None:
    """Won deals that spent `days` in `stage_name` (and a day in each other open stage)."""
    process = process or "New business"
    version = SalesProcess.objects.get(name=process).versions.order_by("-number").first()
    assert version is not None
    ordered = list(version.stages.order_by("position"))
    opened = [s.name for s in ordered if s.kind == StageKind.OPEN]
    won = next(s.name for s in ordered if s.kind == StageKind.WON)
    for spent in days:
        at = now - timedelta(days=400)
        stints = []
        for name in opened:
            stints.append((name, at))
            at += timedelta(days=spent) if name == stage_name else DAY
        stints.append((won, at))
        deal_with_history(owner=owner, stints=stints, process=process)


def touch(deal: Deal, at: datetime) -> Activity:
    return Activity.objects.create(
        type=ActivityType.CALL, by=deal.owner, deal=deal, company=deal.company, at=at
    )
