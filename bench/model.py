"""Win-model training time on the large demo's closed deals, next to its floor.

    python -m bench.model [--runs N] [--rebuild]
                                            (KEEL_DATABASE_URL picks the database;
                                             default: keel-bench-pages.sqlite3 in the
                                             temporary directory, shared with bench.pages)

Runs on the large demo (100k deals, about 80k of them closed), reused from bench.pages
when its database holds one. Each run times `win_model_train()` as `keel model train`
calls it: the reads (seven queries), the snapshots and their features, the backtest (the
model, calibrated, and both baselines) and the final model on every closed deal, stored
as a new active WinModel row (of the rows a run writes, only the newest is kept). After
it, the baseline: the same rows read by hand-written SQL through the connection's cursor
(fetchall, nothing built from them), plus a single scikit-learn LogisticRegression fit
on the final model's own matrix (no folds, no calibration, no baselines): what any
training on these rows must at least spend.

Issue 6's target: training on 100k closed deals at most 60 s, reads included. The ratio
is Keel's median over the baseline's.
"""

import argparse
import statistics
import time
from collections.abc import Sequence
from typing import Any

from bench._setup import django_setup
from bench.pages import _demo_ready

TARGET_S = 60.0

EPOCH = {
    "sqlite": "((julianday({}) - 2440587.5) * 86400.0)",
    "postgresql": "EXTRACT(EPOCH FROM {})::double precision",
}

# The rows win_history reads, as one statement each: {e} turns a column into epoch seconds.
STATEMENTS = (
    "SELECT s.id, v.process_id, s.name, s.position, s.kind, s.probability, s.expected_days "
    "FROM pipeline_stage s JOIN pipeline_processversion v ON v.id = s.version_id",
    "SELECT u.id, u.first_name, u.last_name, u.username, u.team_id FROM accounts_user u "
    "WHERE u.id IN (SELECT owner_id FROM pipeline_deal WHERE status <> 'open')",
    "SELECT d.id, {created}, {closed}, d.status, d.stage_id, {entered}, d.amount, d.currency, "
    "d.channel, d.owner_id, d.process_id, c.employees, c.tier, c.icp_fit, c.region "
    "FROM pipeline_deal d JOIN crm_company c ON c.id = d.company_id WHERE d.status <> 'open'",
    "SELECT x.deal_id, x.from_stage_id, x.to_stage_id, {at} FROM pipeline_stagechange x "
    "WHERE x.deal_id IN (SELECT id FROM pipeline_deal WHERE status <> 'open')",
    "SELECT a.deal_id, a.type, a.contact_id, {activity_at} FROM activities_activity a "
    "WHERE a.deal_id IN (SELECT id FROM pipeline_deal WHERE status <> 'open')",
    "SELECT l.deal_id, l.contact_id, l.role FROM pipeline_dealcontact l "
    "WHERE l.deal_id IN (SELECT id FROM pipeline_deal WHERE status <> 'open')",
    "SELECT e.object_id, {audit_at}, e.changes FROM core_auditentry e "
    "WHERE e.action = 'deal.update'",
)


def _read_by_hand() -> int:
    from django.db import connection

    epoch = EPOCH[connection.vendor]
    columns = {
        "created": epoch.format("d.created_at"),
        "closed": epoch.format("d.closed_at"),
        "entered": epoch.format("d.stage_entered_at"),
        "at": epoch.format("x.at"),
        "activity_at": epoch.format("a.at"),
        "audit_at": epoch.format("e.at"),
    }
    rows = 0
    with connection.cursor() as cursor:
        for statement in STATEMENTS:
            cursor.execute(statement.format(**columns))
            rows += len(cursor.fetchall())
    return rows


def _fit_alone() -> float:
    """One plain logistic regression on the final model's matrix: the seconds of the fit."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from keel.forecast.win_rules import encode, encoding_fit, frame_at, snapshot_moments
    from keel.forecast.win_selectors import closed_deals, win_history

    history = win_history(deals=closed_deals(), with_edits=True)
    deals, moments = snapshot_moments(history, deals=history.closed_deals())
    frame = frame_at(history, deals=deals, moments=moments)
    matrix = encode(history, frame, encoding_fit(history, frame))
    scale = matrix.std(axis=0)
    standard = (matrix - matrix.mean(axis=0)) / np.where(scale < 1e-9, 1.0, scale)
    won = history.won[frame.deal]
    started = time.perf_counter()
    LogisticRegression(max_iter=1_000).fit(standard, won)
    return time.perf_counter() - started


def _run() -> tuple[float, dict[str, Any]]:
    from keel.forecast.win_services import win_model_train

    started = time.perf_counter()
    model = win_model_train()
    return time.perf_counter() - started, model.report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.model")
    parser.add_argument("--runs", type=int, default=1, help="timed trainings (each ~20 s)")
    parser.add_argument("--rebuild", action="store_true", help="build a fresh large demo")
    args, _ = parser.parse_known_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    vendor = django_setup("keel-bench-pages.sqlite3", keep=True)
    _demo_ready(rebuild=args.rebuild)

    from keel.forecast.models import WinModel
    from keel.pipeline.models import Deal, DealStatus

    _read_by_hand()  # a warm-up: the database's pages in its cache, as for every run after
    before = set(WinModel.objects.values_list("pk", flat=True))
    keel: list[float] = []
    reads: list[float] = []
    report: dict[str, Any] = {}
    rows = 0
    for _ in range(args.runs):
        seconds, report = _run()
        keel.append(seconds)
        started = time.perf_counter()
        rows = _read_by_hand()
        reads.append(time.perf_counter() - started)
    fit = _fit_alone()
    # Keep the newest model this run trained (the active one, which the pages now use).
    made = WinModel.objects.exclude(pk__in=before).order_by("-trained_at", "-pk")
    WinModel.objects.filter(pk__in=list(made.values_list("pk", flat=True)[1:])).delete()

    closed = Deal.objects.exclude(status=DealStatus.OPEN).count()
    baseline = statistics.median(reads) + fit
    median = statistics.median(keel)
    print(
        f"\nwin-model training on {vendor}, large demo ({closed:,} closed deals, "
        f"{report['all']['snapshots']:,} snapshots): {args.runs} run(s), seconds"
    )
    steps = ", ".join(f"{step} {value:.1f}" for step, value in report["seconds"].items())
    print(f"  keel model train     {median:7.1f}   ({steps})")
    print(f"  baseline             {baseline:7.1f}   (SQL read of the same {rows:,} rows "
          f"{statistics.median(reads):.1f}, one LogisticRegression fit {fit:.1f})")  # fmt: skip
    verdict = "meets" if max(keel) <= TARGET_S else "MISSES"
    print(
        f"  keel/baseline        {median / baseline:7.1f}   target <= {TARGET_S:.0f} s: {verdict}"
    )
    train, test = report["train"], report["test"]
    print(
        f"\nbacktest at {report['cutoff']} ({train['deals']:,} deals before, "
        f"{test['deals']:,} after; {test['snapshots']:,} test snapshots):"
    )
    print(f"  {'method':40}{'Brier':>8}{'log loss':>10}{'AUC':>7}")
    for method in report["methods"]:
        auc = "—" if method["auc"] is None else f"{method['auc']:.3f}"
        print(f"  {method['label']:40}{method['brier']:>8.4f}{method['log_loss']:>10.4f}{auc:>7}")


if __name__ == "__main__":
    main()
