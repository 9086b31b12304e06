"""`keel stalled`: the list as a table, CSV or JSON, and the nightly record."""

import csv
import json
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO

import pytest
from django.core.cache import caches
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from keel.forecast.models import StallCount
from keel.forecast.tests.stall_factories import DAY, deal_with_history, touch

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _thresholds_uncached() -> Iterator[None]:
    """The stall thresholds are cached for the hour: each test starts and ends without."""
    caches["local"].clear()
    yield
    caches["local"].clear()


@pytest.fixture
def stuck(alice, bob):
    now = timezone.now()
    deals = [
        deal_with_history(owner=alice, name="Alpha", stints=[("Proposal", now - 30 * DAY)]),
        deal_with_history(owner=bob, name="Bravo", stints=[("Close", now - 20 * DAY)]),
        deal_with_history(owner=bob, name="Moving", stints=[("Close", now - DAY)]),
    ]
    for deal in deals:
        touch(deal, now - timedelta(hours=1))
    return deals


def _run(*args: str) -> str:
    out = StringIO()
    call_command("stalled", *args, stdout=out)
    return out.getvalue()


def test_the_table_lists_each_stalled_deal_with_its_reasons(stuck):
    table = _run()
    assert "2 stalled deals" in table
    assert "Alpha" in table and "Bravo" in table and "Moving" not in table
    assert "30 days in Proposal (too little history: the stage's expected 14" in table


def test_csv_and_json_carry_the_same_rows(stuck):
    rows = list(csv.DictReader(StringIO(_run("--format", "csv"))))
    assert [r["deal"] for r in rows] == ["Alpha", "Bravo"]  # by owner, then stage
    assert rows[0]["owner"] == "alice" and rows[0]["days_in_stage"] == "30"
    assert rows[1]["reasons"].startswith("20 days in Close (too little history")
    records = json.loads(_run("--format", "json"))
    assert [r["deal"] for r in records] == ["Alpha", "Bravo"]
    assert records[0]["reasons"][0]["why"] == "dwell"


def test_owner_stage_and_process_narrow_the_list(stuck):
    assert [r["deal"] for r in json.loads(_run("--format", "json", "--owner", "BOB"))] == ["Bravo"]
    assert [r["deal"] for r in json.loads(_run("--format", "json", "--stage", "proposal"))] == [
        "Alpha"
    ]
    assert json.loads(_run("--format", "json", "--process", "Renewal")) == []


def test_unknown_names_are_refused():
    with pytest.raises(CommandError, match="no user 'nobody'"):
        _run("--owner", "nobody")
    with pytest.raises(CommandError, match="no process 'Bogus'"):
        _run("--process", "Bogus")
    with pytest.raises(CommandError, match="--enqueue goes with --record"):
        _run("--enqueue")


def test_record_writes_todays_counts_once(stuck):
    assert _run("--record").startswith("Recorded 2 stall counts for ")
    _run("--record")
    assert StallCount.objects.filter(day=timezone.localdate()).count() == 2
    assert sum(StallCount.objects.values_list("stalled", flat=True)) == 2


def test_record_can_be_queued_for_the_worker(stuck):
    assert _run("--record", "--enqueue").startswith("Queued the stall count record")
    queued = DBTaskResult.objects.get()
    assert queued.task_path == "keel.forecast.tasks.stall_counts_nightly"
    assert not StallCount.objects.exists()
