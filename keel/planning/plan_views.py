"""The plan: goal → strategy → tactics → who → on track or not.

/plans/ shows every goal with its computed progress, each strategy with the goals it
serves, its tactical plans and their tactics; for each tactic the work due in the last
WINDOW_DAYS days, its on-time share, and who is behind (the people the viewer may see:
themselves, and whoever they manage). /plans/tactics/<id>/ lists each person's work.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_safe

from keel.accounts.models import User
from keel.accounts.permissions import is_manager
from keel.planning import rules
from keel.planning.access import can_edit_big_picture, can_edit_plan, can_view_job
from keel.planning.job import sum_counts, tactic_words
from keel.planning.measure import target_counts
from keel.planning.models import Goal, Shape, Strategy, Tactic, TacticalPlan
from keel.planning.scheduler import assignees
from keel.planning.sla import GoalProgress, SlaCounts, goal_progress, sla_by_person

WINDOW_DAYS = 30
BEHIND_NAMED = 6  # the people behind named on the plan page; the tactic's page has all
# A tactic's totals are shown to someone who may not see everyone they count only when
# at least this many of those are hidden: one or two hidden people's results would show.
HIDDEN_AT_LEAST = 3


@dataclass(frozen=True)
class PersonRow:
    person: User
    counts: SlaCounts
    on_track: bool
    count: int | None = None  # a target tactic's count so far


@dataclass
class TacticRow:
    tactic: Tactic
    words: str
    who: str
    counts: SlaCounts = field(default_factory=SlaCounts)
    people: list[PersonRow] = field(default_factory=list)  # those the viewer may see
    hidden_behind: int = 0  # behind, but not the viewer's to see by name
    private: bool = False  # the totals would show one or two hidden people's results

    @property
    def on_track(self) -> bool:
        """On track by the totals and nobody behind; when the totals are private, by the
        people the viewer may see alone."""
        if self.private:
            return not self.behind
        return rules.on_track(on_time_rate=self.counts.on_time_rate) and not self.behind_count

    @property
    def behind(self) -> list[PersonRow]:
        return [row for row in self.people if not row.on_track]

    @property
    def behind_count(self) -> int:
        return len(self.behind) + self.hidden_behind

    @property
    def progress(self) -> tuple[int, int] | None:
        """A target tactic: the counts reached (each person's up to the target) of all asked."""
        target = self.tactic.target_count
        if self.tactic.shape != Shape.TARGET or not target:
            return None
        reached = sum(min(row.count or 0, target) for row in self.people)
        return reached, target * len(self.people)


def _people_rows(
    viewer: User, tactic: Tactic, by_person: dict[int, tuple[User, SlaCounts]]
) -> tuple[list[PersonRow], int, int]:
    """Each person's row on `tactic` the viewer may see, sorted behind first; how many
    hidden are behind, and how many are hidden."""
    counts: dict[int, int] = {}
    if tactic.shape == Shape.TARGET and tactic.due_on is not None:
        asked = list(assignees(tactic))
        by_person = {p.pk: by_person.get(p.pk, (p, SlaCounts())) for p in asked}
        counts = target_counts(tactic=tactic, people=asked)
    rows, hidden_behind = [], 0
    for pk, (person, c) in by_person.items():
        on_track = rules.on_track(on_time_rate=c.on_time_rate)
        count = counts.get(pk)
        if count is not None and tactic.target_count:
            on_track = on_track and count >= _expected(tactic)
        if can_view_job(viewer, person):
            rows.append(PersonRow(person, c, on_track, count))
        elif not on_track:
            hidden_behind += 1
    rows.sort(key=lambda r: (r.on_track, r.counts.on_time_rate or 0, str(r.person)))
    return rows, hidden_behind, len(by_person) - len(rows)


def _expected(tactic: Tactic) -> float:
    """What a steady pace from the plan's start would have counted by today."""
    assert tactic.due_on is not None and tactic.target_count  # noqa: S101 - callers check
    first, last = tactic.plan.starts_on, tactic.due_on
    today = min(max(timezone.localdate(), first), last)
    return tactic.target_count * (today - first).days / max((last - first).days, 1)


NAMED_HOLDERS = 3  # a role held by this many people or fewer is shown by their names


def _holders() -> dict[tuple[str, int | None], list[User]]:
    """The active people by role and team, for saying who a tactic asks."""
    holders: dict[tuple[str, int | None], list[User]] = {}
    for person in User.objects.filter(is_active=True).select_related("team"):
        holders.setdefault((person.role, None), []).append(person)
        if person.team_id is not None:
            holders.setdefault((person.role, person.team_id), []).append(person)
    return holders


def _who(viewer: User, tactic: Tactic, holders: dict[tuple[str, int | None], list[User]]) -> str:
    """Who a tactic asks, naming only the people the viewer may see."""
    if tactic.person is not None:
        return str(tactic.person) if can_view_job(viewer, tactic.person) else "one person"
    people = holders.get((tactic.role, tactic.plan.team_id), [])
    role = tactic.get_role_display().lower()
    where = f" in team {tactic.plan.team}" if tactic.plan.team_id else ""
    if not people:
        return f"every {role}{where} (nobody holds the role)"
    if len(people) <= NAMED_HOLDERS and all(can_view_job(viewer, p) for p in people):
        return ", ".join(str(p) for p in people)
    return f"every {role}{where} ({len(people)} people)"


def tactic_rows(viewer: User, tactics: list[Tactic]) -> list[TacticRow]:
    """Each tactic's work due in the window, one query for all of them."""
    now = timezone.now()
    holders = _holders()
    one = tactics[0] if len(tactics) == 1 else None  # a tactic's page reads its own only
    found = sla_by_person(start=now - timedelta(days=WINDOW_DAYS), end=now, now=now, tactic=one)
    per_tactic: dict[int, dict[int, tuple[User, SlaCounts]]] = {}
    for row in found:
        if row.person is not None:
            per_tactic.setdefault(row.tactic.pk, {})[row.person.pk] = (row.person, row.counts)
    rows = []
    for tactic in tactics:
        by_person = per_tactic.get(tactic.pk, {})
        people, hidden_behind, hidden = _people_rows(viewer, tactic, by_person)
        total = sum_counts(c for _, c in by_person.values())
        words, who = tactic_words(tactic), _who(viewer, tactic, holders)
        if 0 < hidden < HIDDEN_AT_LEAST:  # the totals and who is behind would name them
            total, hidden_behind, private = SlaCounts(), 0, True
        else:
            private = False
        rows.append(TacticRow(tactic, words, who, total, people, hidden_behind, private))
    return rows


@dataclass(frozen=True)
class PlanBlock:
    plan: TacticalPlan
    tactics: list[TacticRow]
    editable: bool


@dataclass(frozen=True)
class StrategyBlock:
    strategy: Strategy
    goals: list[GoalProgress]
    plans: list[PlanBlock]


@require_safe
@login_required
def plans_page(request: HttpRequest) -> HttpResponse:
    viewer: User = request.user  # type: ignore[assignment]
    today = timezone.localdate()
    goals = {
        g.pk: goal_progress(goal=g, today=today) for g in Goal.objects.select_related("metric")
    }
    tactics = Tactic.objects.filter(is_active=True).select_related(
        "person__team", "plan__strategy", "plan__team"
    )
    plans = TacticalPlan.objects.filter(is_active=True).select_related("team", "strategy")
    strategies = Strategy.objects.prefetch_related(
        "goals", Prefetch("plans", queryset=plans.prefetch_related(Prefetch("tactics", tactics)))
    ).order_by("ends_on", "name")
    all_tactics = [t for s in strategies for p in s.plans.all() for t in p.tactics.all()]
    rows = {row.tactic.pk: row for row in tactic_rows(viewer, all_tactics)}
    blocks = [
        StrategyBlock(
            strategy=s,
            goals=[goals[g.pk] for g in s.goals.all()],
            plans=[
                PlanBlock(p, [rows[t.pk] for t in p.tactics.all()], can_edit_plan(viewer, p))
                for p in s.plans.all()
            ],
        )
        for s in strategies
    ]
    behind = [row for block in blocks for p in block.plans for row in p.tactics if not row.on_track]
    return render(
        request,
        "planning/plans.html",
        {
            "section": "plans",
            "goals": list(goals.values()),
            "blocks": blocks,
            "behind": behind,
            "window_days": WINDOW_DAYS,
            "on_time_target": rules.ON_TIME_TARGET,
            "may_edit_big_picture": can_edit_big_picture(viewer),
            "may_add_plan": is_manager(viewer),
        },
    )


@require_safe
@login_required
def tactic_page(request: HttpRequest, pk: int) -> HttpResponse:
    viewer: User = request.user  # type: ignore[assignment]
    tactic = get_object_or_404(
        Tactic.objects.select_related("plan__strategy", "plan__team", "person"), pk=pk
    )
    [row] = tactic_rows(viewer, [tactic])
    return render(
        request,
        "planning/tactic.html",
        {
            "section": "plans",
            "row": row,
            "tactic": tactic,
            "window_days": WINDOW_DAYS,
            "on_time_target": rules.ON_TIME_TARGET,
            "editable": can_edit_plan(viewer, tactic.plan),
        },
    )
