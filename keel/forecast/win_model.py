"""Learning the win model from a History, and its honest backtest. No database access.

The model: a logistic regression (scikit-learn) on the snapshots' standardised features,
so each feature's share of a deal's score is its coefficient times its value: the "top
contributing factors" are read off the model itself, not guessed after. Its scores are
calibrated on out-of-fold predictions (folds by deal, so a deal's snapshots never sit on
both sides): isotonic regression with enough snapshots, Platt's sigmoid with fewer. What
is stored is numbers only (`WinParameters.as_json`).

The backtest is time-based: the model and the naive Bayes baseline learn from the deals
closed before the cutoff day, and are measured, next to each stage's default probability,
on snapshots of the deals closed on or after it. Then the model learns again from every
closed deal: that is the one that scores open deals.
"""

import time
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from sklearn.model_selection import GroupKFold

from keel.core.exceptions import InvalidInput
from keel.forecast.win_rules import (
    PROBABILITY_FLOOR,
    SEED,
    SNAPSHOT_DAYS,
    WINDOW_DAYS,
    BoolArray,
    Calibration,
    FloatArray,
    Frame,
    History,
    IntArray,
    Progress,
    WinParameters,
    calibration_table,
    day_start,
    default_cutoff,
    encode,
    encoding_fit,
    frame_at,
    frame_concat,
    naive_bayes_fit,
    naive_bayes_predict,
    snapshot_moments,
    too_little_history,
)

CALIBRATION_FOLDS = 3
ISOTONIC_MIN_ROWS = 5_000  # fewer out-of-fold scores than this: Platt's two numbers instead
REGULARISATION_C = 1.0  # scikit-learn's default L2 strength, on standardised features
TOP_COLUMNS = 12  # the report lists the model's strongest columns

METHODS = {
    "model": "Win model",
    "stage_default": "Stage default probability",
    "naive_bayes": "Naive Bayes (like Odoo's lead scoring)",
}


@dataclass(frozen=True)
class Trained:
    parameters: WinParameters
    report: dict[str, Any]
    closed_deals: int


def _regression() -> LogisticRegression:
    return LogisticRegression(C=REGULARISATION_C, max_iter=1_000)


def _calibrate(scores: FloatArray, won: BoolArray) -> Calibration:
    if len(scores) >= ISOTONIC_MIN_ROWS:
        iso = IsotonicRegression(
            out_of_bounds="clip", y_min=PROBABILITY_FLOOR, y_max=1 - PROBABILITY_FLOOR
        ).fit(scores, won)
        return Calibration(
            method="isotonic",
            x=tuple(float(v) for v in iso.X_thresholds_),
            y=tuple(float(v) for v in iso.y_thresholds_),
        )
    platt = LogisticRegression(C=1e6, max_iter=1_000).fit(scores[:, None], won)
    return Calibration(method="sigmoid", a=float(platt.coef_[0, 0]), b=float(platt.intercept_[0]))


def fit(history: History, frame: Frame) -> WinParameters:
    """A calibrated logistic regression on the frame's snapshots."""
    encoding = encoding_fit(history, frame)
    matrix = encode(history, frame, encoding)
    won = history.won[frame.deal]
    mean = matrix.mean(axis=0)
    scale = matrix.std(axis=0)
    scale[scale < 1e-9] = 1.0  # a constant column: its coefficient stays 0 anyway
    standard = (matrix - mean) / scale
    out_of_fold = np.empty(len(won))
    folds = GroupKFold(n_splits=CALIBRATION_FOLDS)
    for learn, check in folds.split(standard, won, groups=frame.deal):
        model = _regression().fit(standard[learn], won[learn])
        out_of_fold[check] = model.decision_function(standard[check])
    final = _regression().fit(standard, won)
    return WinParameters(
        encoding=encoding,
        mean=mean,
        scale=scale,
        coef=final.coef_[0].astype(np.float64),
        intercept=float(final.intercept_[0]),
        calibration=_calibrate(out_of_fold, won),
    )


def measure(key: str, predicted: FloatArray, won: BoolArray) -> dict[str, Any]:
    """Brier score, log loss, AUC and the calibration deciles of one method's predictions."""
    p = np.clip(predicted, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
    both = bool(won.any() and (~won).any())
    return {
        "key": key,
        "label": METHODS[key],
        "brier": round(float(brier_score_loss(won, p)), 5),
        "log_loss": round(float(log_loss(won, p, labels=[False, True])), 5),
        "auc": round(float(roc_auc_score(won, p)), 5) if both else None,
        "mean_predicted": round(float(p.mean()), 4),
        "deciles": calibration_table(p, won),
    }


def _frame(history: History, deals: IntArray) -> Frame:
    chosen, moments = snapshot_moments(history, deals=deals)
    return frame_at(history, deals=chosen, moments=moments)


def _counts(history: History, deals: IntArray, frame: Frame) -> dict[str, int]:
    won = int(history.won[deals].sum())
    return {
        "deals": len(deals),
        "won": won,
        "lost": len(deals) - won,
        "snapshots": len(frame),
    }


def _strongest(parameters: WinParameters) -> list[dict[str, Any]]:
    order = np.argsort(-np.abs(parameters.coef))[:TOP_COLUMNS]
    columns = parameters.encoding.columns
    return [{"column": columns[i], "coef": round(float(parameters.coef[i]), 4)} for i in order]


def train(
    *, history: History, cutoff: date | None = None, progress: Progress | None = None
) -> Trained:
    """Backtest at `cutoff` (default: ~22% of closed deals after it), then learn from all.

    Raises InvalidInput when the history is too small for a model, or the cutoff leaves
    too little on either side.
    """
    report_progress: Progress = progress or (lambda phase, done, total: None)
    closed = history.closed_deals()
    won_all = int(history.won[closed].sum())
    reason = too_little_history(won=won_all, lost=len(closed) - won_all)
    if reason is not None:
        raise InvalidInput(f"No win model: {reason}. Deals keep their stage's default.")
    closing = history.closed[closed]
    cutoff = cutoff or default_cutoff(closing)
    edge = day_start(cutoff)
    before, after = closed[closing < edge], closed[closing >= edge]
    won_before = int(history.won[before].sum())
    if (reason := too_little_history(won=won_before, lost=len(before) - won_before)) is not None:
        raise InvalidInput(f"The cutoff {cutoff} leaves {reason} before it: choose a later cutoff.")
    won_after = int(history.won[after].sum())
    if won_after == 0 or won_after == len(after):
        raise InvalidInput(
            f"The cutoff {cutoff} leaves {len(after)} closed deals after it, not both won and "
            "lost ones to test on: choose an earlier cutoff."
        )
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    steps = 5
    report_progress("Snapshots and features", 0, steps)
    frame_before = _frame(history, before)
    frame_after = _frame(history, after)
    seconds["features"] = time.perf_counter() - started
    for frame, side in ((frame_before, "before"), (frame_after, "after")):
        outcomes = history.won[frame.deal]
        if outcomes.all() or not outcomes.any():
            raise InvalidInput(
                f"The closed deals {side} the cutoff {cutoff} have no stage history with both "
                "won and lost deals to learn from (imported without their stage changes?)."
            )

    report_progress("Backtest: the model", 1, steps)
    mark = time.perf_counter()
    tested = fit(history, frame_before)
    won = history.won[frame_after.deal]
    predicted_model = tested.probability(encode(history, frame_after, tested.encoding))
    report_progress("Backtest: the baselines", 2, steps)
    predicted_stage = history.stages.default[frame_after.stage]
    bayes = naive_bayes_fit(history, before)
    predicted_bayes = naive_bayes_predict(bayes, history, frame_after)
    seconds["backtest"] = time.perf_counter() - mark

    report_progress("Training on every closed deal", 3, steps)
    mark = time.perf_counter()
    everything = frame_concat([frame_before, frame_after])
    parameters = fit(history, everything)
    seconds["final"] = time.perf_counter() - mark
    report_progress("Training on every closed deal", steps, steps)

    report = {
        "cutoff": cutoff.isoformat(),
        "snapshots": {"every_days": SNAPSHOT_DAYS, "window_days": WINDOW_DAYS, "seed": SEED},
        "train": _counts(history, before, frame_before),
        "test": _counts(history, after, frame_after),
        "all": _counts(history, closed, everything),
        "calibration": tested.calibration.method,
        "final_calibration": parameters.calibration.method,
        "methods": [
            measure("model", predicted_model, won),
            measure("stage_default", predicted_stage, won),
            measure("naive_bayes", predicted_bayes, won),
        ],
        "strongest": _strongest(parameters),
        "seconds": {key: round(value, 2) for key, value in seconds.items()},
    }
    return Trained(parameters=parameters, report=report, closed_deals=len(closed))
