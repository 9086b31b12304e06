"""`keel demo`: it builds, rebuilds a demo, and never silently destroys other data."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from keel.crm.models import Company
from keel.demo.generate import demo_marker
from keel.leads.models import EventType, MarketingEvent
from keel.pipeline.models import Deal
from keel.scorecard.models import Goal, Metric

pytestmark = pytest.mark.django_db
SMALL = ("--size", "small", "--today", "2026-03-04")


def _demo(*args: str) -> str:
    out = StringIO()
    call_command("demo", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_it_builds_and_prints_the_summary_and_the_login() -> None:
    output = _demo(*SMALL, "--seed", "3")
    assert "deals" in output and "800" in output
    assert "username owner password keel-demo" in output
    assert "rows/s" in output
    assert "Set 11 goals for 2026 from 2025's figures" in output
    assert "Seconds per phase:" in output and "website visits" in output and "goals" in output
    marker = demo_marker()
    assert marker is not None and marker["seed"] == 3 and marker["size"] == "small"


def test_it_refuses_a_database_with_other_data() -> None:
    Company.objects.create(name="A real customer")
    with pytest.raises(CommandError, match=r"no demo made: 1 company\. .*--force"):
        _demo(*SMALL)
    assert list(Company.objects.values_list("name", flat=True)) == ["A real customer"]
    assert demo_marker() is None


def test_it_refuses_marketing_events_goals_and_metrics_it_did_not_make() -> None:
    MarketingEvent.objects.create(type=EventType.VISIT, occurred_at=timezone.now())
    Goal.objects.create(metric=Metric.objects.get(key="deals_won"), year=2026, target=40)
    Metric.objects.create(key="newsletter_signups", name="Sign-ups", stage="suspect")
    with pytest.raises(CommandError) as refused:
        _demo(*SMALL)
    message = str(refused.value)
    assert "1 marketing event" in message and "1 goal" in message
    assert "metrics keyed like the demo's (newsletter_signups)" in message
    assert MarketingEvent.objects.count() == Goal.objects.count() == 1


def test_force_replaces_the_other_data() -> None:
    Company.objects.create(name="A real customer")
    _demo(*SMALL, "--force")
    assert Company.objects.count() == 300
    assert not Company.objects.filter(name="A real customer").exists()
    assert demo_marker() is not None


def test_a_demo_is_rebuilt_without_force() -> None:
    _demo(*SMALL, "--seed", "3")
    first = list(Deal.objects.order_by("id").values_list("name", flat=True)[:5])
    _demo(*SMALL, "--seed", "4")
    marker = demo_marker()
    assert marker is not None and marker["seed"] == 4
    assert Deal.objects.count() == 800
    assert list(Deal.objects.order_by("id").values_list("name", flat=True)[:5]) != first


def test_if_missing_keeps_a_built_demo() -> None:
    _demo(*SMALL, "--seed", "3")
    built = demo_marker()
    deals = list(Deal.objects.values_list("id", "name", "amount"))
    output = _demo(*SMALL, "--seed", "9", "--if-missing")
    assert "already built" in output and "keel-demo" in output
    assert demo_marker() == built
    assert list(Deal.objects.values_list("id", "name", "amount")) == deals


def test_if_missing_builds_when_there_is_none() -> None:
    _demo(*SMALL, "--if-missing")
    assert Deal.objects.count() == 800


def test_a_bad_date_is_refused_with_a_clear_message() -> None:
    with pytest.raises(CommandError, match="not a date like"):
        _demo("--today", "04/03/2026")
