"""What counts as done, measured at read time on a frozen clock.

The plan runs from Monday 2 November 2026; the tick and every record get their moment
by hand, so nothing depends on today.
"""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from keel.accounts.models import Role, User
from keel.activities.models import Activity, ActivityType, Task
from keel.crm.models import Company
from keel.crm.tests.factories import CompanyFactory
from keel.pipeline.models import Deal
from keel.planning.measure import done_moments, target_progress
from keel.planning.models import (
    Goal,
    Measure,
    Occurrence,
    RecordKind,
    Shape,
    Strategy,
    Tactic,
    TacticalPlan,
    Trigger,
)
from keel.planning.scheduler import tactics_tick
from keel.planning.triggers import trigger_fire
from keel.scorecard.rules import Pace

pytestmark = pytest.mark.django_db
MONDAY = date(2026, 11, 2)


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo(settings.TIME_ZONE))


@pytest.fixture
def plan(olivia: User) -> TacticalPlan:
    goal = Goal.objects.create(
        name="Five whales",
        target=5,
        unit="whales",
        starts_on=date(2026, 11, 1),
        ends_on=date(2027, 12, 31),
    )
    strategy = Strategy.objects.create(
        name="Pursue whales", starts_on=date(2026, 11, 1), ends_on=date(2027, 12, 31)
    )
    strategy.goals.add(goal)
    return TacticalPlan.objects.create(
        name="Whale hunting", strategy=strategy, starts_on=MONDAY, ends_on=date(2027, 5, 2)
    )


def daily(plan: TacticalPlan, name: str, **measure: str) -> Tactic:
    return Tactic.objects.create(
        plan=plan,
        name=name,
        shape=Shape.RECURRING,
        role=Role.SALESPERSON,
        schedule="FREQ=DAILY",
        **measure,
    )


def occurrence(tactic: Tactic, person: User, day: date = MONDAY) -> Occurrence:
    return Occurrence.objects.get(tactic=tactic, person=person, key=day.isoformat())


def log(person: User, kind: str, when: datetime, company: Company, **subject: object) -> None:
    Activity.objects.create(by=person, type=kind, at=when, company=company, **subject)


def test_a_task_completed_late_counts_when_it_was_ticked(plan: TacticalPlan, alice: User) -> None:
    tactic = daily(plan, "Plan the day")
    tactics_tick(now=at(MONDAY))
    work = occurrence(tactic, alice)
    assert work.task is not None
    assert done_moments(occurrences=Occurrence.objects.all()) == {work.pk: None}
    ticked = work.due_at + timedelta(days=2)
    Task.objects.filter(pk=work.task.pk).update(done_at=ticked)
    assert done_moments(occurrences=Occurrence.objects.all()) == {work.pk: ticked}


def test_a_call_on_the_day_counts_another_type_or_day_does_not(
    plan: TacticalPlan, alice: User, bob: User, acme: Company
) -> None:
    tactic = daily(
        plan, "Five calls", measure=Measure.ACTIVITY_LOGGED, activity_type=ActivityType.CALL
    )
    tactics_tick(now=at(MONDAY + timedelta(days=1)))
    log(alice, ActivityType.EMAIL, at(MONDAY, 8), acme)  # wrong type
    log(alice, ActivityType.CALL, at(MONDAY - timedelta(days=1), 20), acme)  # the day before
    log(bob, ActivityType.CALL, at(MONDAY, 9), acme)  # someone else's
    log(alice, ActivityType.CALL, at(MONDAY, 15), acme)
    log(alice, ActivityType.CALL, at(MONDAY, 11), acme)  # the first on the day
    moments = done_moments(occurrences=Occurrence.objects.filter(person=alice))
    assert moments == {
        occurrence(tactic, alice).pk: at(MONDAY, 11),
        occurrence(tactic, alice, MONDAY + timedelta(days=1)).pk: None,
    }


def test_a_ticked_task_alone_does_not_count_what_is_measured_by_records(
    plan: TacticalPlan, alice: User, acme: Company
) -> None:
    """Measured, not self-reported: ticking "Five calls" off logs no call."""
    calls = daily(
        plan, "Five calls", measure=Measure.ACTIVITY_LOGGED, activity_type=ActivityType.CALL
    )
    leads = daily(plan, "New leads", measure=Measure.RECORD_CREATED, record_kind=RecordKind.CONTACT)
    tactics_tick(now=at(MONDAY))
    work = [occurrence(calls, alice), occurrence(leads, alice)]
    Task.objects.filter(pk__in=[w.task_id for w in work]).update(done_at=at(MONDAY, 16))
    assert done_moments(occurrences=Occurrence.objects.filter(person=alice)) == {
        work[0].pk: None,
        work[1].pk: None,
    }
    log(alice, ActivityType.CALL, at(MONDAY, 17), acme)
    assert done_moments(occurrences=Occurrence.objects.filter(pk=work[0].pk)) == {
        work[0].pk: at(MONDAY, 17)
    }


def test_a_triggered_meeting_counts_after_the_event_and_on_its_company(
    plan: TacticalPlan, alice: User, acme: Company
) -> None:
    Tactic.objects.create(
        plan=plan,
        name="Meet the whale",
        shape=Shape.TRIGGERED,
        person=alice,
        trigger=Trigger.DOSSIER_COMPLETED,
        deadline_days=5,
        measure=Measure.ACTIVITY_LOGGED,
        activity_type=ActivityType.MEETING,
    )
    event = at(MONDAY + timedelta(days=3), 10)
    trigger_fire(trigger=Trigger.DOSSIER_COMPLETED, event="dossier:1", at=event, company=acme)
    Occurrence.objects.update(created_at=event)
    other = CompanyFactory(name="Other")
    log(alice, ActivityType.MEETING, event - timedelta(hours=1), acme)  # before the event
    log(alice, ActivityType.MEETING, event + timedelta(hours=1), other)  # another company
    work = Occurrence.objects.get()
    assert done_moments(occurrences=Occurrence.objects.all()) == {work.pk: None}
    log(alice, ActivityType.MEETING, event + timedelta(days=2), acme)
    assert done_moments(occurrences=Occurrence.objects.all()) == {
        work.pk: event + timedelta(days=2)
    }


def test_a_record_created_on_the_day_counts(plan: TacticalPlan, alice: User, bob: User) -> None:
    tactic = daily(
        plan, "Add a prospect", measure=Measure.RECORD_CREATED, record_kind=RecordKind.COMPANY
    )
    tactics_tick(now=at(MONDAY + timedelta(days=1)))
    mine, theirs, late = (
        CompanyFactory(name=n, owner=o)
        for n, o in (("Mine", alice), ("Theirs", bob), ("Late", alice))
    )
    Company.objects.filter(pk=mine.pk).update(created_at=at(MONDAY, 13))
    Company.objects.filter(pk=theirs.pk).update(created_at=at(MONDAY, 10))
    Company.objects.filter(pk=late.pk).update(created_at=at(MONDAY + timedelta(days=3), 10))
    moments = done_moments(occurrences=Occurrence.objects.filter(person=alice))
    assert moments == {
        occurrence(tactic, alice).pk: at(MONDAY, 13),
        occurrence(tactic, alice, MONDAY + timedelta(days=1)).pk: None,
    }
    assert Deal.objects.count() == 0


def test_every_measure_is_read_in_one_query_after_the_measures_in_use(
    plan: TacticalPlan, alice: User, bob: User, sam: User
) -> None:
    daily(plan, "Plan the day")
    daily(plan, "Calls", measure=Measure.ACTIVITY_LOGGED, activity_type=ActivityType.CALL)
    daily(plan, "Prospects", measure=Measure.RECORD_CREATED, record_kind=RecordKind.CONTACT)
    tactics_tick(now=at(MONDAY + timedelta(days=6)))
    with CaptureQueriesContext(connection) as queries:
        moments = done_moments(occurrences=Occurrence.objects.all())
    assert len(moments) == 3 * 3 * 7 and len(queries) == 2
    assert "crm_company" not in queries[1]["sql"]  # no tactic counts companies created
    assert "crm_contact" in queries[1]["sql"] and "activities_activity" in queries[1]["sql"]


def test_a_target_counts_from_the_plans_start_against_a_linear_pace(
    plan: TacticalPlan, mary: User, acme: Company
) -> None:
    tactic = Tactic.objects.create(
        plan=plan,
        name="Demo to whales",
        shape=Shape.TARGET,
        person=mary,
        target_count=4,
        due_on=MONDAY + timedelta(days=40),
        measure=Measure.ACTIVITY_LOGGED,
        activity_type=ActivityType.DEMO,
    )
    log(mary, ActivityType.DEMO, at(MONDAY - timedelta(days=1)), acme)  # before the plan
    log(mary, ActivityType.DEMO, at(MONDAY + timedelta(days=3)), acme)
    log(mary, ActivityType.CALL, at(MONDAY + timedelta(days=3)), acme)
    progress = target_progress(tactic=tactic, person=mary, now=at(MONDAY + timedelta(days=20)))
    assert (progress.count, progress.target, progress.expected) == (1, 4, Decimal(2))
    assert progress.pace == Pace.BEHIND
    log(mary, ActivityType.DEMO, at(MONDAY + timedelta(days=40), 20), acme)  # on the due day
    progress = target_progress(tactic=tactic, person=mary, now=at(MONDAY + timedelta(days=20)))
    assert progress.count == 2 and progress.pace == Pace.ON_TRACK


def test_a_call_counts_on_the_persons_own_day(
    plan: TacticalPlan, alice: User, acme: Company
) -> None:
    """Alice works in New York: a call at 02:00 UTC on Tuesday is Monday evening for her."""
    User.objects.filter(pk=alice.pk).update(time_zone="America/New_York")
    alice.refresh_from_db()
    tactic = daily(
        plan, "Five calls", measure=Measure.ACTIVITY_LOGGED, activity_type=ActivityType.CALL
    )
    new_york = ZoneInfo("America/New_York")
    tactics_tick(now=datetime.combine(MONDAY, time(12), tzinfo=new_york))
    late_call = datetime.combine(MONDAY + timedelta(days=1), time(2), tzinfo=ZoneInfo("UTC"))
    log(alice, ActivityType.CALL, late_call, acme)
    work = Occurrence.objects.get(person=alice, tactic=tactic)
    assert done_moments(occurrences=Occurrence.objects.filter(pk=work.pk)) == {work.pk: late_call}
