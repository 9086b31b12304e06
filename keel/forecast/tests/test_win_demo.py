"""On the small demo business: the model beats both baselines in its own backtest.

The demo decides each stage's outcome from the seller, the channel, the company's tier
and ICP fit, and stalls (long quiet stints that mostly end lost): all of it is in the
model's features, none of it beyond the stage in the stage default, and only the channel
and tier in the naive Bayes baseline.
"""

from collections.abc import Iterator
from datetime import date

import pytest
from pytest_django import DjangoDbBlocker

from keel.demo.generate import demo_build, demo_wipe
from keel.forecast.models import WinModel
from keel.forecast.win_selectors import win_probabilities
from keel.forecast.win_services import win_model_train
from keel.pipeline.models import Deal, DealStatus

TODAY = date(2026, 3, 4)
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def model(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[WinModel]:
    with django_db_blocker.unblock():
        demo_build(size="small", seed=42, today=TODAY)
        yield win_model_train()
        WinModel.objects.all().delete()
        demo_wipe()


def test_the_model_beats_both_baselines_on_the_demo(model: WinModel):
    methods = {m["key"]: m for m in model.report["methods"]}
    assert model.report["test"]["deals"] >= 100
    for baseline in ("stage_default", "naive_bayes"):
        assert methods["model"]["brier"] < methods[baseline]["brier"], baseline
        assert methods["model"]["log_loss"] < methods[baseline]["log_loss"], baseline


def test_every_open_demo_deal_gets_a_probability(model: WinModel):
    ids = list(Deal.objects.filter(status=DealStatus.OPEN).values_list("pk", flat=True)[:100])
    scores = win_probabilities(deals=ids)
    assert set(scores) == set(ids)
    assert sum(s.source == "model" for s in scores.values()) >= 90
    assert all(s.factors for s in scores.values() if s.source == "model")
