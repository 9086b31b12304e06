"""The whale-hunting plan in the demo: four months of it, worked through the real services.

The sample plan file is imported with its dates moved so the plan started PLAN_DAYS
before the demo's today; the scheduler then ticks once for each of those days (its
catch-up is only a week), dossiers on a few whales are opened, researched and some
completed at past moments (the completion fires the salesperson's "contact a decision
maker" task), whale deals entering their first meeting fire the expert's questions task,
and each piece of work is then done on time, late or never, by one `random.Random`.
Little work, few rows: this runs in well under a second at every demo size.
"""

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

from keel.accounts.models import Role, User
from keel.activities.models import Activity, Task
from keel.crm.models import Company, Tier
from keel.pipeline.models import StageChange
from keel.planning import rules
from keel.planning.dossier_services import dossier_complete, dossier_open, section_done
from keel.planning.models import (
    CheckIn,
    Dossier,
    Measure,
    Occurrence,
    TacticalPlan,
    TradeOffRule,
)
from keel.planning.scheduler import tactics_tick
from keel.planning.services import plan_import
from keel.planning.sla import sla_counts
from keel.planning.triggers import stage_change_fire

SAMPLE = Path(__file__).resolve().parents[1] / "planning" / "samples" / "whale-hunting.yaml"
PLAN_DAYS = 120  # the plan started this long before today: there is history to see
DOSSIERS = 8  # whales researched, at most (one specialist, an hour a day)
# How past-due work was done: on time, late (within the grace), or missed.
P_ON_TIME, P_LATE = 0.62, 0.24
P_EARLY = 0.15  # work not due yet that is already done
SECTION_NOTES = "Researched from the annual report, press and LinkedIn."


@dataclass(frozen=True)
class PlanSummary:
    tactics: int
    dossiers: int
    completed: int
    work: dict[str, int]  # pieces of work by SLA state as of the demo's now (rules.Sla)


def plan_text(*, today: date) -> str:
    """The sample plan file with every date moved by the same days: it starts PLAN_DAYS ago."""
    data = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    shift = today - timedelta(days=PLAN_DAYS) - data["plans"][0]["starts_on"]

    def moved(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: moved(value) for key, value in node.items()}
        if isinstance(node, list):
            return [moved(value) for value in node]
        return node + shift if isinstance(node, date) else node

    return str(yaml.safe_dump(moved(data), sort_keys=False, allow_unicode=True))


def demo_plan_build(*, today: date, seed: int, by: User) -> PlanSummary:
    """Import the plan, tick the scheduler over its past, research whales, do the work."""
    rng = random.Random(f"plan-{seed}")
    now = datetime.combine(today, time(), UTC)  # the simulation's now: today 00:00 UTC
    plan_import(text=plan_text(today=today), by=by)
    plan = TacticalPlan.objects.get(starts_on=today - timedelta(days=PLAN_DAYS))
    day = plan.starts_on
    while day <= today:
        tactics_tick(now=datetime.combine(day, time(), UTC))
        day += timedelta(days=1)
    dossiers, completed = _dossiers_research(plan=plan, now=now, by=by, rng=rng)
    _meetings_fire(plan=plan, now=now)
    work = _work_done(plan=plan, now=now, rng=rng)
    _check_ins_write(plan=plan, now=now, rng=rng)
    return PlanSummary(
        tactics=plan.tactics.count(), dossiers=dossiers, completed=completed, work=work
    )


def _dossiers_research(
    *, plan: TacticalPlan, now: datetime, by: User, rng: random.Random
) -> tuple[int, int]:
    """Dossiers on the first whales (owned ones first): the first half completed at dates
    spread over the plan, the rest partly researched. Returns (opened, completed)."""
    specialist = User.objects.filter(role=Role.SALES_SPECIALIST, is_active=True).first()
    whales = sorted(
        Company.objects.filter(tier=Tier.WHALE).select_related("owner"),
        key=lambda company: (company.owner_id is None, company.pk),
    )[:DOSSIERS]
    start = datetime.combine(plan.starts_on, time(9), UTC)
    opened_at = start + timedelta(days=14)  # after the workshop
    finishing = (len(whales) + 1) // 2
    # Completions spread from a month into the plan to three days ago: the latest one's
    # contact task is not due yet.
    first, last = start + timedelta(days=35), now - timedelta(days=3)
    step = (last - first) / max(1, finishing - 1)
    completed = 0
    for n, company in enumerate(whales):
        dossier = dossier_open(company=company, by=by, owner=specialist)
        opened = opened_at + timedelta(days=3 * n)
        Dossier.objects.filter(pk=dossier.pk).update(created_at=opened, updated_at=opened)
        sections = list(dossier.sections.order_by("id"))
        if n < finishing:
            ends, done = first + step * n, len(sections)
        else:  # partly researched: some sections done, none for the last one opened
            ends, done = now - timedelta(days=1), max(0, len(sections) - 2 - (n - finishing))
        for i, section in enumerate(sections[:done]):
            section.done_at = opened + (ends - opened) * (i + 1) / (done + 1)
            section.done_at += timedelta(minutes=rng.randint(0, 240))
            section_done(section=section, by=by, notes=SECTION_NOTES)
        if n < finishing:
            # dossier_complete stamps the time it runs: record the past moment first, and
            # it fires the tactics at that moment (the dossier is its own event, once).
            Dossier.objects.filter(pk=dossier.pk).update(completed_at=ends, completed_by=by)
            dossier_complete(dossier=dossier, by=by)
            completed += 1
    return len(whales), completed


def _meetings_fire(*, plan: TacticalPlan, now: datetime) -> None:
    """Whale deals that entered their first meeting while the plan ran ask for questions."""
    start = datetime.combine(plan.starts_on, time(), UTC)
    changes = (
        StageChange.objects.filter(
            deal__company__tier=Tier.WHALE,
            to_stage__name__iexact="1st meeting",
            at__gte=start,
            at__lt=now,
        )
        .select_related("deal__owner", "deal__company", "to_stage")
        .order_by("at", "id")
    )
    for change in changes:
        stage_change_fire(change=change)


def _work_done(*, plan: TacticalPlan, now: datetime, rng: random.Random) -> dict[str, int]:
    """Each piece of work done on time, late or not at all; created when it was asked for.

    Tasks and occurrences were stamped with the real clock: they get the moment the
    scheduler (or the event) asked for them. Returns the pieces by SLA state as of `now`.
    """
    occurrences = list(
        Occurrence.objects.filter(tactic__plan=plan, task__isnull=False)
        .select_related("tactic", "task")
        .order_by("id")
    )
    tasks: list[Task] = []
    logged: list[Activity] = []
    states = {state.value: 0 for state in rules.Sla}
    # Research is logged on the whale researched: the dossiers' companies, in turn.
    researched = list(Dossier.objects.order_by("id").values_list("company_id", flat=True))
    for o in occurrences:
        task = o.task
        assert task is not None  # noqa: S101 - filtered above
        o.created_at = o.opens_at
        task.created_at = o.created_at
        done = _done_at(due=o.due_at, asked=o.created_at, now=now, rng=rng)
        if done is not None and o.closes_at is not None:
            done = min(done, o.closes_at - timedelta(minutes=rng.randint(5, 90)))  # that day
        o.done_at = task.done_at = done
        tasks.append(task)
        states[rules.sla(due=o.due_at, done=o.done_at, now=now)] += 1
        company_id = o.company_id or (researched[len(logged) % len(researched)]
                                      if researched and not o.deal_id else None)  # fmt: skip
        measured = o.tactic.measure == Measure.ACTIVITY_LOGGED
        if done is not None and measured and (o.deal_id or company_id):
            # The work is measured by what was logged, not by the ticked task: log it.
            logged.append(
                Activity(type=o.tactic.activity_type, at=done, by_id=o.person_id,
                         deal_id=o.deal_id, company_id=company_id,
                         duration_minutes=o.tactic.minutes, notes=f"{o.tactic.name}: done.")
            )  # fmt: skip
    Occurrence.objects.bulk_update(occurrences, ["created_at", "done_at"], batch_size=1000)
    Task.objects.bulk_update(tasks, ["created_at", "done_at"], batch_size=1000)
    Activity.objects.bulk_create(logged, batch_size=1000)
    return states


def _done_at(
    *, due: datetime, asked: datetime, now: datetime, rng: random.Random
) -> datetime | None:
    """When a piece of work was done, if it was: never after `now`, never before it was asked."""
    if due > now:
        if rng.random() >= P_EARLY:
            return None
        return max(asked, min(now, due) - timedelta(hours=rng.uniform(1, 24)))
    draw = rng.random()
    if draw < P_ON_TIME:
        done = due - timedelta(hours=rng.uniform(0.5, 8))
    elif draw < P_ON_TIME + P_LATE:
        done = due + timedelta(hours=rng.uniform(2, 24 * 6))
    else:
        return None  # missed, or still overdue if it was due this past week
    return min(max(asked, done), now - timedelta(minutes=5))


TRADE_OFFS: dict[str, str] = {
    Role.SALESPERSON: "A whale's decision maker first, within the 5 days; then quotes and "
    "follow-ups on deals past proposal; cold calls fill what is left, never the other way.",
    Role.SALES_SPECIALIST: "Finish the dossier a salesperson is waiting on before opening a "
    "new one; the research hour is not given up for ad hoc requests.",
    Role.SUBJECT_MATTER_EXPERT: "Questions for a whale meeting this week come before "
    "everything except a customer's open issue.",
}
ASSESSMENTS = {
    "good": [
        "Steady month: the work was done when it was due. Keep the whale contacts inside "
        "the 5 days and bring one of them to a first meeting next month.",
        "On time nearly everywhere. Next step: write down what made it work, so the others "
        "can reuse it.",
    ],
    "fair": [
        "Most work done, but late too often in the second half of the month. Block the "
        "first hour of the day for the plan's work and tell me when deals crowd it out.",
        "Good research, slow follow-up: two whales waited past their 5 days. Let's look "
        "at your calendar together on Monday.",
    ],
    "poor": [
        "The plan's work slipped this month: more missed than done on time. What got in "
        "the way? Bring the list of what took the time and we'll decide what to drop.",
        "Several whale contacts missed. We agreed they come first; I'd like a plan for "
        "the open ones by Friday.",
    ],
}
REPLIES = [
    "Agreed. Two renewals took most of the week; I have blocked the mornings now.",
    "Thanks. The whale at the top of my list has a meeting booked for next Tuesday.",
    "Fair. I'll bring the list on Monday; the inbound inquiries ate the afternoons.",
]


def _check_ins_write(*, plan: TacticalPlan, now: datetime, rng: random.Random) -> None:
    """Each manager's monthly check-ins with the people on the plan, judged on their work
    in that month, most answered; and a rule for trade-offs for each of them."""
    people = User.objects.filter(
        is_active=True, team__manager__isnull=False, role__in=list(TRADE_OFFS)
    ).select_related("team__manager")
    check_ins, rules_set = [], []
    for person in people:
        manager = person.team.manager if person.team else None
        if manager is None:
            continue
        rules_set.append(TradeOffRule(person=person, text=TRADE_OFFS[person.role], set_by=manager))
        month_end = datetime.combine(plan.starts_on, time(16), UTC) + timedelta(days=30)
        while month_end < now:
            start = month_end - timedelta(days=30)
            # Judged as the person's page judges it, as of the day it was written.
            month_work = Occurrence.objects.filter(
                tactic__plan=plan, person=person, due_at__gte=start, due_at__lt=month_end
            )
            [counts] = sla_counts(occurrences=month_work, now=month_end).values()
            if counts.on_time_rate is not None:
                share = counts.on_time_rate
                grade = "good" if share >= 0.8 else "fair" if share >= 0.55 else "poor"
                answered = rng.random() < 0.7
                check_ins.append(
                    CheckIn(
                        person=person,
                        author=manager,
                        text=rng.choice(ASSESSMENTS[grade]),
                        written_at=month_end,
                        reply=rng.choice(REPLIES) if answered else "",
                        replied_at=month_end + timedelta(hours=rng.uniform(2, 48))
                        if answered
                        else None,
                    )
                )
            month_end += timedelta(days=30)
    TradeOffRule.objects.bulk_create(rules_set)
    CheckIn.objects.bulk_create(check_ins)
