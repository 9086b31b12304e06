"""Writes for the win model: train one from every closed deal and make it the active one."""

import time
from datetime import date

from django.db import transaction
from django.utils import timezone

from keel.accounts.models import User
from keel.forecast.models import WinModel
from keel.forecast.win_model import train
from keel.forecast.win_rules import Progress
from keel.forecast.win_selectors import closed_deals, win_history


def win_model_train(
    *, by: User | None = None, cutoff: date | None = None, progress: Progress | None = None
) -> WinModel:
    """Backtest at `cutoff`, learn from every closed deal, store it as the active model.

    Raises InvalidInput (nothing stored) with too little history or a cutoff that leaves
    too little on either side.
    """
    report = progress or (lambda phase, done, total: None)
    started = time.perf_counter()
    report("Reading closed deals", 0, 1)
    history = win_history(deals=closed_deals(), with_edits=True)
    read = time.perf_counter() - started
    report("Reading closed deals", 1, 1)
    trained = train(history=history, cutoff=cutoff, progress=progress)
    seconds = {"read": round(read, 2), **trained.report["seconds"]}
    seconds["total"] = round(time.perf_counter() - started, 2)
    with transaction.atomic():
        WinModel.objects.filter(is_active=True).update(is_active=False)
        return WinModel.objects.create(
            trained_at=timezone.now(),
            trained_by=by,
            closed_deals=trained.closed_deals,
            parameters=trained.parameters.as_json(),
            report={**trained.report, "seconds": seconds},
            is_active=True,
        )
