"""The win model through the database: `keel model train` and `report`, the selector
other pages call, the fallback with too little history, and who sees the report page.

`seed_history` writes closed deals whose outcome follows a known rule (channel and calls,
as in test_win_synthetic) straight into the tables, as an import would.
"""

import math
import random
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from keel.accounts.models import User
from keel.activities.models import Activity, ActivityType
from keel.core.exceptions import InvalidInput
from keel.crm.models import Company
from keel.forecast.models import WinModel
from keel.forecast.tests.test_win_synthetic import CHANNEL_EDGE, INTERCEPT, PER_CALL
from keel.forecast.win_selectors import win_probabilities
from keel.forecast.win_services import win_model_train
from keel.pipeline.models import (
    Deal,
    DealStatus,
    LostReason,
    SalesProcess,
    StageChange,
    StageKind,
)
from keel.pipeline.selectors import process_current_version, version_stages

pytestmark = pytest.mark.django_db


def seed_history(
    *, owner: User, company: Company, process: SalesProcess, closed: int = 260, seed: int = 5
) -> list[Deal]:
    """`closed` deals over the last two years, won by the rule, and three open ones.

    Each walks the open stages one every ten days, with its calls on its first day; a
    won one goes through every stage, a lost one stops at a random stage.
    """
    rng = random.Random(seed)
    version = process_current_version(process=process)
    assert version is not None
    stages = version_stages(version.pk)
    opens = [s for s in stages if s.kind == StageKind.OPEN]
    won_stage = next(s for s in stages if s.kind == StageKind.WON)
    lost_stage = next(s for s in stages if s.kind == StageKind.LOST)
    now = timezone.now()
    deals, paths, calls_of = [], [], []
    for i in range(closed + 3):
        channel = rng.choice(list(CHANNEL_EDGE))
        calls = rng.randrange(5)
        start = now - timedelta(days=730 - i * 2.5)
        is_open = i >= closed
        logit = INTERCEPT + CHANNEL_EDGE[channel] + PER_CALL * math.log1p(calls)
        won = not is_open and rng.random() < 1 / (1 + math.exp(-logit))
        steps = 2 if is_open else len(opens) if won else rng.randrange(1, len(opens) + 1)
        path = opens[:steps]
        end = start + timedelta(days=10 * len(path))
        final = path[-1] if is_open else won_stage if won else lost_stage
        deals.append(
            Deal(
                name=f"Deal {i}", company=company, owner=owner, process=process,
                process_version=version, stage=final,
                status=DealStatus.OPEN if is_open else DealStatus.WON if won else DealStatus.LOST,
                amount=10_000, channel=channel,
                lost_reason="" if is_open or won else LostReason.PRICE,
                stage_entered_at=start + timedelta(days=10 * (len(path) - 1)) if is_open else end,
                closed_at=None if is_open else end,
            )
        )  # fmt: skip
        paths.append([*path, *([] if is_open else [final])])
        calls_of.append((start, calls))
    Deal.objects.bulk_create(deals)
    changes, activities = [], []
    for deal, path, (start, calls) in zip(deals, paths, calls_of, strict=True):
        previous = None
        for k, stage in enumerate(path):
            changes.append(
                StageChange(
                    deal=deal, process_version=deal.process_version, from_stage=previous,
                    to_stage=stage, at=start + timedelta(days=10 * k),
                )
            )  # fmt: skip
            previous = stage
        activities += [
            Activity(
                type=ActivityType.CALL, at=start + timedelta(hours=1 + k), by=owner, deal=deal,
                company=company,
            )
            for k in range(calls)
        ]  # fmt: skip
    StageChange.objects.bulk_create(changes)
    Activity.objects.bulk_create(activities)
    return deals


@pytest.fixture
def history(alice: User, acme: Company, new_business: SalesProcess) -> list[Deal]:
    return seed_history(owner=alice, company=acme, process=new_business)


def _model(*args: str) -> str:
    out = StringIO()
    call_command("model", *args, stdout=out)
    return out.getvalue()


# --- the commands -------------------------------------------------------------------------


def test_train_backtests_then_stores_the_active_model(history):
    output = _model("train")
    model = WinModel.objects.get()
    assert model.is_active and model.closed_deals == 260
    assert "Brier score" in output and "Stored as the active win model" in output
    report = model.report
    assert [m["key"] for m in report["methods"]] == ["model", "stage_default", "naive_bayes"]
    assert report["train"]["deals"] + report["test"]["deals"] == 260
    assert 0.18 <= report["test"]["deals"] / 260 <= 0.27
    for method in report["methods"]:
        assert {"brier", "log_loss", "auc", "deciles"} <= set(method)
        assert len(method["deciles"]) == 10
    parameters = model.parameters
    assert len(parameters["coef"]) == len(parameters["columns"]) == len(parameters["mean"])
    assert set(report["seconds"]) >= {"read", "features", "backtest", "final", "total"}


def test_a_new_model_replaces_the_active_one(history):
    _model("train")
    _model("train", "--cutoff", (timezone.now() - timedelta(days=150)).date().isoformat())
    assert WinModel.objects.count() == 2
    assert WinModel.objects.filter(is_active=True).count() == 1
    assert WinModel.objects.get(is_active=True).report["cutoff"] == (
        (timezone.now() - timedelta(days=150)).date().isoformat()
    )


def test_report_prints_the_active_models_backtest(history):
    with pytest.raises(CommandError, match="no win model yet"):
        _model("report")
    _model("train")
    output = _model("report")
    assert "Backtest" in output and "Naive Bayes" in output and "Stage default" in output
    assert "Calibration: predicted / won" in output


def test_a_cutoff_that_leaves_too_little_before_it_is_refused(history):
    early = (timezone.now() - timedelta(days=700)).date().isoformat()
    with pytest.raises(CommandError, match="choose a later cutoff"):
        _model("train", "--cutoff", early)
    with pytest.raises(CommandError, match="not a date"):
        _model("train", "--cutoff", "last spring")
    assert not WinModel.objects.exists()


# --- the selector -------------------------------------------------------------------------


def test_open_deals_get_the_models_probability_and_factors(history, django_assert_max_num_queries):
    win_model_train()
    open_ids = [d.pk for d in history if d.status == DealStatus.OPEN]
    closed = [d for d in history if d.status != DealStatus.OPEN][:2]
    with django_assert_max_num_queries(8):
        scores = win_probabilities(deals=[*open_ids, *closed])
    for pk in open_ids:
        score = scores[pk]
        assert score.source == "model" and 0 < score.probability < 1
        assert 1 <= len(score.factors) <= 3
        assert all(f.points != 0 and "points" in str(f) for f in score.factors)
    for deal in closed:
        assert scores[deal.pk].probability == (1.0 if deal.status == DealStatus.WON else 0.0)


def test_more_calls_raise_the_chance(history, alice, acme):
    """Two open deals alike but for their calls: the one with four calls scores higher."""
    win_model_train()
    quiet, busy = [d for d in history if d.status == DealStatus.OPEN][:2]
    Deal.objects.filter(pk__in=[quiet.pk, busy.pk]).update(channel="inbound_web")
    Activity.objects.filter(deal__in=[quiet, busy]).delete()
    Activity.objects.bulk_create(
        Activity(type=ActivityType.CALL, at=timezone.now(), by=alice, deal=busy, company=acme)
        for _ in range(4)
    )
    StageChange.objects.filter(deal=busy).delete()
    StageChange.objects.bulk_create(
        StageChange(
            deal=busy, process_version=c.process_version, from_stage=c.from_stage,
            to_stage=c.to_stage, at=c.at,
        )
        for c in StageChange.objects.filter(deal=quiet)
    )  # fmt: skip
    Deal.objects.filter(pk=busy.pk).update(stage_entered_at=quiet.stage_entered_at)
    scores = win_probabilities(deals=[quiet.pk, busy.pk])
    assert scores[busy.pk].probability > scores[quiet.pk].probability + 0.1
    assert any(f.text == "4 calls in the last 30 days" for f in scores[busy.pk].factors)


def test_too_little_history_gives_the_stage_default_and_says_so(deal):
    with pytest.raises(InvalidInput, match="too little history: 0 closed deals"):
        win_model_train()
    with pytest.raises(CommandError, match="the win model needs 200"):
        _model("train")
    assert not WinModel.objects.exists()
    score = win_probabilities(deals=[deal])[deal.pk]
    assert score.source == "stage_default" and score.probability == pytest.approx(0.10)
    assert score.note.startswith("Stage default: too little history")
    assert score.factors == ()


def test_without_a_model_but_enough_history_it_says_to_train(history):
    open_deal = next(d for d in history if d.status == DealStatus.OPEN)
    score = win_probabilities(deals=[open_deal.pk])[open_deal.pk]
    assert score.source == "stage_default"
    assert "keel model train" in score.note


def test_nothing_asked_nothing_read(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert win_probabilities(deals=[]) == {}


# --- the report page ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [("olivia", 200), ("mary", 200), ("alice", 403), ("sue", 403), ("vera", 403)],
)
def test_managers_and_the_owner_read_the_report(client: Client, request, who, status):
    client.force_login(request.getfixturevalue(who))
    assert client.get("/forecast/model/").status_code == status


def test_the_report_page_asks_to_sign_in(client: Client):
    response = client.get("/forecast/model/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_report_page_without_a_model(client: Client, olivia):
    client.force_login(olivia)
    page = client.get("/forecast/model/").content.decode()
    assert "No win model yet" in page and "keel model train" in page


def test_the_report_page_shows_the_backtest_and_the_reliability_diagram(
    client: Client, olivia, history, django_assert_max_num_queries
):
    win_model_train(by=olivia)
    client.force_login(olivia)
    with django_assert_max_num_queries(6):
        page = client.get("/forecast/model/").content.decode()
    for text in ("Brier score", "Log loss", "AUC", "Stage default probability", "Naive Bayes"):
        assert text in page
    assert 'data-chart="reliability-chart"' in page and 'id="reliability-chart"' in page
    assert "Calibration by decile" in page and "by olivia" in page.lower()
    assert "What weighs most" in page and "Calls in the last 30 days (log)" in page
    assert "Channel: Referral" in page or "Channel: Cold calling" in page
