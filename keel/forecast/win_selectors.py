"""Reads for the win model: deals' histories as arrays, the active model, deals' chances.

`win_history` reads one query per source (stages, people, deals with their company,
stage changes, activities, buying roles, and for training the audit log's deal edits),
times as epoch seconds computed by the database, and hands the rows to
`win_rules.history_build`. `win_probabilities` scores deals with the active model, or
falls back to each stage's default probability, saying why.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import numpy as np
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, FloatField, Func, Q, QuerySet
from django.utils import timezone

from keel.accounts.models import User
from keel.activities.models import Activity
from keel.core.models import AuditEntry
from keel.forecast.models import WinModel
from keel.forecast.win_rules import (
    History,
    WinParameters,
    WinScore,
    frame_at,
    history_build,
    model_scores,
    stage_default_score,
    too_little_history,
)
from keel.pipeline.models import Deal, DealContact, DealStatus, Stage, StageChange, StageKind


class Epoch(Func):
    """A timestamp as seconds since 1970 (a float): NumPy takes these without building a
    datetime per row, which is what makes reading a million activities quick."""

    output_field = FloatField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "((julianday(%(expressions)s) - 2440587.5) * 86400.0)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "EXTRACT(EPOCH FROM %(expressions)s)::double precision"
        return self.as_sql(compiler, connection, template=template, **extra)


DEAL_COLUMNS = (
    "id",
    "created",
    "closed",
    "status",
    "stage_id",
    "stage_entered",
    "amount",
    "currency",
    "channel",
    "owner_id",
    "process_id",
    "company__employees",
    "company__tier",
    "company__icp_fit",
    "company__region",
)


def win_history(*, deals: QuerySet[Deal], with_edits: bool = False) -> History:
    """`deals` and everything the win model reads about them, in seven queries at most.

    `with_edits` also reads the audit log's deal edits, to see closed deals' amount,
    channel and owner as they were at each snapshot (not needed to score deals now).
    """
    stages = [
        (pk, process, name, position, kind == StageKind.OPEN, probability, expected)
        for pk, process, name, position, kind, probability, expected in Stage.objects.values_list(
            "pk",
            "version__process_id",
            "name",
            "position",
            "kind",
            "probability",
            "expected_days",
        ).order_by()
    ]
    people = User.objects.filter(pk__in=deals.values("owner_id")).values_list(
        "pk", "first_name", "last_name", "username", "team_id"
    )
    names = {pk: f"{first} {last}".strip() or username for pk, first, last, username, _ in people}
    teams = {pk: team for pk, _, _, _, team in people if team is not None}
    rows = (
        deals.annotate(
            created=Epoch("created_at"),
            closed=Epoch("closed_at"),
            stage_entered=Epoch("stage_entered_at"),
        )
        .values_list(*DEAL_COLUMNS)
        .order_by()
    )
    deal_rows = [
        {
            "id": pk,
            "created": created,
            "closed": closed if status != DealStatus.OPEN else None,
            "won": status == DealStatus.WON,
            "stage": stage,
            "stage_entered": entered,
            "amount": amount,
            "currency": currency,
            "channel": channel,
            "owner": owner,
            "process": process,
            "employees": employees,
            "tier": tier,
            "icp": icp,
            "region": region,
        }
        for (
            pk, created, closed, status, stage, entered, amount, currency, channel, owner,
            process, employees, tier, icp, region,
        ) in rows
    ]  # fmt: skip
    ids = deals.values("pk")
    changes = (
        StageChange.objects.filter(deal__in=ids)
        .annotate(t=Epoch("at"))
        .values_list("deal_id", "from_stage_id", "to_stage_id", "t")
        .order_by()
    )
    activities = (
        Activity.objects.filter(deal__in=ids)
        .annotate(t=Epoch("at"))
        .values_list("deal_id", "type", "contact_id", "t")
        .order_by()
    )
    links = DealContact.objects.filter(deal__in=ids).values_list("deal_id", "contact_id", "role")
    edits: list[tuple[int, float, Any]] = []
    if with_edits:
        entries = (
            AuditEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(Deal), action="deal.update"
            )
            .annotate(t=Epoch("at"))
            .values_list("object_id", "t", "changes")
            .order_by()
        )
        edits = [
            (int(pk), t, changed)
            for pk, t, changed in entries
            if pk.isdigit() and isinstance(changed, dict)
        ]
    return history_build(
        stages=stages,
        deals=deal_rows,
        changes=list(changes),
        activities=list(activities),
        links=list(links.order_by()),
        edits=edits,
        names=names,
        teams=teams,
    )


def closed_deals() -> QuerySet[Deal]:
    return Deal.objects.exclude(status=DealStatus.OPEN)


def win_model_active() -> WinModel | None:
    """The newest active model, without its parameters (the report is what pages show)."""
    return WinModel.objects.filter(is_active=True).defer("parameters").first()


def _active_parameters() -> WinParameters | None:
    stored = (
        WinModel.objects.filter(is_active=True)
        .order_by("-trained_at", "-id")
        .values_list("parameters", flat=True)
        .first()
    )
    if not stored:
        return None
    try:
        return WinParameters.from_json(stored)
    except (KeyError, TypeError, ValueError):
        return None  # a model stored by another version of Keel: as if there were none


def _why_no_model() -> str:
    counts = closed_deals().aggregate(
        won=Count("pk", filter=Q(status=DealStatus.WON)),
        lost=Count("pk", filter=Q(status=DealStatus.LOST)),
    )
    reason = too_little_history(won=counts["won"], lost=counts["lost"])
    if reason is not None:
        return f"Stage default: {reason}."
    return "Stage default: no win model trained yet (keel model train)."


def _stage_defaults(ids: list[int]) -> dict[int, WinScore]:
    """Without a model: each open deal's stage default, saying why; closed deals 1 or 0."""
    rows = Deal.objects.filter(pk__in=ids).values_list("pk", "status", "stage__probability")
    scores: dict[int, WinScore] = {}
    note = ""
    for pk, status, probability in rows:
        if status != DealStatus.OPEN:
            won = status == DealStatus.WON
            scores[pk] = WinScore(
                probability=1.0 if won else 0.0, source="closed", note="Won" if won else "Lost"
            )
            continue
        note = note or _why_no_model()
        scores[pk] = WinScore(probability=probability / 100, source="stage_default", note=note)
    return scores


def win_probabilities(
    *, deals: Iterable[Deal | int], now: datetime | None = None, defaults: bool = True
) -> dict[int, WinScore]:
    """Each deal's chance to be won, by deal id, with its top contributing factors.

    Open deals: the active model's calibrated probability as of `now`, or, without a
    model (too little history) or for a stage the model never saw, the stage's default
    probability, labelled as such (with `defaults` false: nothing, in one query, for
    a view that shows the stage's probability already). Won and lost deals: 1 and 0.
    About eight queries however many deals are asked for; pass a bounded list (a page
    of cards).
    """
    ids = sorted({d if isinstance(d, int) else d.pk for d in deals})
    if not ids:
        return {}
    parameters = _active_parameters()
    if parameters is None:
        return _stage_defaults(ids) if defaults else {}
    history = win_history(deals=Deal.objects.filter(pk__in=ids))
    moment = (now or timezone.now()).timestamp()
    scores: dict[int, WinScore] = {}
    open_rows = np.flatnonzero(history.is_open)
    for i in np.flatnonzero(~history.is_open):
        won = bool(history.won[i])
        scores[int(history.deal_id[i])] = WinScore(
            probability=1.0 if won else 0.0, source="closed", note="Won" if won else "Lost"
        )
    if not len(open_rows):
        return scores
    frame = frame_at(history, deals=open_rows, moments=np.full(len(open_rows), moment))
    known = set(parameters.encoding.stages)
    keys = history.stages.keys
    modelled = np.asarray([keys[s] in known for s in frame.stage], dtype=np.bool_)
    if modelled.any():
        chosen = frame.take(modelled)
        for row, score in zip(chosen.deal, model_scores(history, chosen, parameters), strict=True):
            scores[int(history.deal_id[row])] = score
    if not modelled.all():
        note = "Stage default: the win model has not seen deals in this stage yet."
        for row, stage in zip(frame.deal[~modelled], frame.stage[~modelled], strict=True):
            scores[int(history.deal_id[row])] = stage_default_score(history, int(stage), note)
    return scores
