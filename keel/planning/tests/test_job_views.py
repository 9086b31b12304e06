"""My job, the team view, check-ins, trade-off rules and the plan view: who sees what.

North: Mary manages Alice, Bob and Sue. South: Steve manages Sam. Olivia owns the
business; Vera only views.
"""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from keel.accounts.models import Role, Team, User
from keel.accounts.tests.factories import UserFactory
from keel.activities.models import Task
from keel.core.models import AuditEntry
from keel.crm.models import Company
from keel.planning.dossier_services import dossier_complete, dossier_open, section_done
from keel.planning.job import job
from keel.planning.models import (
    CheckIn,
    Goal,
    Occurrence,
    Shape,
    Strategy,
    Tactic,
    TacticalPlan,
    TradeOffRule,
    Trigger,
)
from keel.planning.scheduler import tactics_tick

pytestmark = pytest.mark.django_db


@pytest.fixture
def steve(south: Team) -> User:
    user = UserFactory(username="steve", role=Role.SALES_MANAGER, team=south)
    south.manager = user
    south.save()
    return user


@pytest.fixture
def plan(db: None) -> TacticalPlan:
    today = timezone.localdate()
    start, end = today - timedelta(days=40), today + timedelta(days=300)
    goal = Goal.objects.create(name="Five whales", target=5, unit="whales", starts_on=start,
                               ends_on=end)  # fmt: skip
    strategy = Strategy.objects.create(name="Pursue whales", starts_on=start, ends_on=end)
    strategy.goals.add(goal)
    plan = TacticalPlan.objects.create(
        name="Whale hunting", strategy=strategy, starts_on=start, ends_on=end
    )
    Tactic.objects.create(plan=plan, name="Ten calls", shape=Shape.RECURRING,
                          role=Role.SALESPERSON, schedule="FREQ=DAILY")  # fmt: skip
    Tactic.objects.create(plan=plan, name="Contact the whale", shape=Shape.TRIGGERED,
                          role=Role.SALESPERSON, trigger=Trigger.DOSSIER_COMPLETED,
                          deadline_days=5)  # fmt: skip
    return plan


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def job_url(person: User | None = None) -> str:
    return (
        reverse("planning:job") if person is None else reverse("planning:job_of", args=[person.pk])
    )


def test_a_salesperson_sees_the_three_questions(plan: TacticalPlan, alice: User) -> None:
    tactics_tick()
    page = client_for(alice).get(job_url())
    assert page.status_code == 200
    text = page.content.decode()
    for seen in ("What's my job?", "What counts?", "How am I doing?", "Check-ins",
                 "Ten calls", "every day", "within 5 days after a whale&#x27;s dossier",
                 "Pursue whales", "Five whales", "Late now", "Pipeline:"):  # fmt: skip
        assert seen in text, seen


@pytest.mark.parametrize(
    ("viewer", "status"),
    [("alice", 200), ("mary", 200), ("olivia", 200), ("bob", 403), ("sam", 403),
     ("steve", 403), ("vera", 403)],
)  # fmt: skip
def test_whose_job_page_one_may_open(
    request: pytest.FixtureRequest, alice: User, bob: User, sam: User, steve: User,
    olivia: User, vera: User, viewer: str, status: int,
) -> None:  # fmt: skip
    user = request.getfixturevalue(viewer)
    assert client_for(user).get(job_url(alice)).status_code == status


def test_anonymous_is_sent_to_sign_in(alice: User) -> None:
    page = Client().get(job_url(alice))
    assert page.status_code == 302 and "/accounts/login/" in page["Location"]
    post = Client().post(reverse("planning:check_in_new", args=[alice.pk]), {"check_in-text": "x"})
    assert post.status_code == 302 and not CheckIn.objects.exists()


def test_a_manager_writes_a_check_in_the_person_reads_and_answers(alice: User, mary: User) -> None:
    url = reverse("planning:check_in_new", args=[alice.pk])
    client_for(mary).post(url, {"check_in-text": "Good month; keep the whale calls inside 5 days."})
    check_in = CheckIn.objects.get()
    assert (check_in.person, check_in.author) == (alice, mary)
    alices = client_for(alice)
    assert "keep the whale calls inside 5 days" in alices.get(job_url()).content.decode()
    answer = reverse("planning:check_in_answer", args=[check_in.pk])
    alices.post(answer, {"reply": "Will do."})
    check_in.refresh_from_db()
    assert check_in.reply == "Will do." and check_in.replied_at is not None
    assert AuditEntry.objects.filter(action__in=["check_in.create", "check_in.reply"]).count() == 2


def test_the_forbidden_check_in_paths(
    alice: User, bob: User, mary: User, sam: User, steve: User, olivia: User
) -> None:
    check_in = CheckIn.objects.create(person=alice, author=mary, text="Private to North.")
    url = reverse("planning:check_in_new", args=[alice.pk])
    # Another team's manager, a colleague, oneself: no check-in written.
    for user in (steve, bob, alice):
        assert client_for(user).post(url, {"check_in-text": "x"}).status_code == 403
    assert CheckIn.objects.count() == 1
    # Nobody reads another team's check-ins: not on her page, not on their team view.
    for user in (steve, sam, bob):
        assert client_for(user).get(job_url(alice)).status_code == 403
    team_view = client_for(steve).get(reverse("planning:team")).content.decode()
    assert "Alice" not in team_view and "Private to North." not in team_view
    answer = reverse("planning:check_in_answer", args=[check_in.pk])
    assert client_for(steve).post(answer, {"reply": "x"}).status_code == 404
    assert client_for(bob).post(answer, {"reply": "x"}).status_code == 404
    # Her manager reads it but may not answer in her name.
    assert client_for(mary).post(answer, {"reply": "x"}).status_code == 403
    check_in.refresh_from_db()
    assert check_in.reply == ""
    # The owner reads it on her page.
    assert "Private to North." in client_for(olivia).get(job_url(alice)).content.decode()


def test_an_empty_check_in_is_refused_and_nothing_is_kept(alice: User, mary: User) -> None:
    url = reverse("planning:check_in_new", args=[alice.pk])
    page = client_for(mary).post(url, {"check_in-text": "   "}, follow=True)
    assert "not saved" in page.content.decode()
    assert not CheckIn.objects.exists()


def test_the_trade_off_rule_is_the_managers_to_set(alice: User, mary: User, steve: User) -> None:
    url = reverse("planning:trade_off", args=[alice.pk])
    for user in (alice, steve):
        assert client_for(user).post(url, {"trade_off-text": "Mine"}).status_code == 403
    client_for(mary).post(url, {"trade_off-text": "Whales before cold calls."})
    client_for(mary).post(url, {"trade_off-text": "Whales first, then quotes."})
    rule = TradeOffRule.objects.get()
    assert (rule.person, rule.set_by, rule.text) == (alice, mary, "Whales first, then quotes.")
    assert "Whales first, then quotes." in client_for(alice).get(job_url()).content.decode()


def test_the_team_view_lists_the_managers_team_only(
    plan: TacticalPlan, alice: User, bob: User, mary: User, sam: User, steve: User,
    olivia: User,
) -> None:  # fmt: skip
    tactics_tick()
    team = client_for(mary).get(reverse("planning:team")).content.decode()
    assert "alice" in team.lower() and "bob" in team.lower() and "sam" not in team.lower()
    everyone = client_for(olivia).get(reverse("planning:team")).content.decode()
    assert "sam" in everyone.lower()
    assert client_for(alice).get(reverse("planning:team")).status_code == 403


def test_the_plan_shows_who_is_behind_to_those_who_may_see_them(
    plan: TacticalPlan, alice: User, bob: User, sam: User, olivia: User
) -> None:
    # Two weeks ago every salesperson had calls due; only Bob made his.
    tactics_tick(now=timezone.now() - timedelta(days=14))
    Task.objects.filter(owner=bob).update(done_at=F("due_at"))

    def behind_panel(user: User) -> str:
        page = client_for(user).get(reverse("planning:plans")).content.decode()
        return page.split("Behind now")[1].split("</section>")[0]

    owners = behind_panel(olivia)
    assert "Alice" in owners and "Sam" in owners and "Bob" not in owners
    # Alice sees herself; Bob and Sam are two people she may not see: their results, even
    # as a total or a count of who is behind, would show, so none is.
    alices = behind_panel(alice)
    assert "Alice" in alices and "Sam" not in alices and "on time" not in alices
    assert "you may not see" not in alices


def test_one_persons_tactic_shows_nothing_of_them_to_others(
    plan: TacticalPlan, alice: User, sam: User, olivia: User
) -> None:
    """Sam's own tactic: Alice (another team) sees that it exists, not whose or how."""
    tactic = Tactic.objects.create(plan=plan, name="Whale calls", shape=Shape.RECURRING,
                                   person=sam, schedule="FREQ=DAILY")  # fmt: skip
    tactics_tick(now=timezone.now() - timedelta(days=3))  # three days of work, none done
    plans = client_for(alice).get(reverse("planning:plans")).content.decode()
    row = plans.split("Whale calls")[1].split("</tr>")[0]
    page = client_for(alice).get(reverse("planning:tactic", args=[tactic.pk])).content.decode()
    for seen in (row, page.split('id="main"')[1]):
        assert "Sam" not in seen and "0%" not in seen and "Behind" not in seen
        assert "one person" in seen
    owners = client_for(olivia).get(reverse("planning:tactic", args=[tactic.pk])).content.decode()
    assert "Sam" in owners and "0%" in owners and "Behind" in owners


def test_the_job_page_reads_a_bounded_number_of_queries(plan: TacticalPlan, alice: User) -> None:
    client = client_for(alice)
    tactics_tick()
    with CaptureQueriesContext(connection) as few:
        client.get(job_url())
    for n in range(6):
        Tactic.objects.create(plan=plan, name=f"Extra {n}", shape=Shape.RECURRING,
                              role=Role.SALESPERSON, schedule="FREQ=DAILY")  # fmt: skip
    tactics_tick()
    with CaptureQueriesContext(connection) as many:
        client.get(job_url())
    assert Occurrence.objects.filter(person=alice).count() > 40
    assert len(many) == len(few)


def test_a_completed_dossier_shows_on_my_job_due_in_5_days_and_late_on_day_6(
    plan: TacticalPlan, alice: User, sue: User, acme: Company
) -> None:
    Company.objects.filter(pk=acme.pk).update(owner=alice)
    acme.refresh_from_db()
    dossier = dossier_open(company=acme, by=sue)
    for section in dossier.sections.all():
        section_done(section=section, by=sue, notes="researched")
    dossier_complete(dossier=dossier, by=sue)
    completed = dossier.__class__.objects.get(pk=dossier.pk).completed_at
    assert completed is not None
    day_5, day_6 = completed + timedelta(days=4, hours=23), completed + timedelta(days=6)
    soon = job(person=alice, month=date.today(), now=day_5)
    assert [(w.tactic, w.due_at) for w in soon.due if w.tactic == "Contact the whale"] == [
        ("Contact the whale", completed + timedelta(days=5))
    ]
    late = job(person=alice, month=date.today(), now=day_6)
    assert [w.tactic for w in late.late] == ["Contact the whale"]
    assert not [w for w in late.due if w.tactic == "Contact the whale"]


def test_my_job_in_another_month_and_a_bad_month(plan: TacticalPlan, alice: User) -> None:
    client = client_for(alice)
    assert client.get(job_url(), {"month": "2026-01"}).status_code == 200
    page = client.get(job_url(), {"month": "January"}, follow=True)
    assert page.status_code == 200 and "Showing this month" in page.content.decode()


def test_a_person_in_another_time_zone_sees_their_days_and_due_times(
    plan: TacticalPlan, alice: User
) -> None:
    User.objects.filter(pk=alice.pk).update(time_zone="America/New_York")
    alice.refresh_from_db()
    tactics_tick()
    page = client_for(alice).get(job_url()).content.decode()
    assert "America/New_York" in page
    counts = page.split('id="counts-h"')[1].split("</section>")[0]
    assert "17:00" in counts  # late or due: at the end of her working day, where she is
    assert "22:00" not in counts and "21:00" not in counts  # not in the business's UTC


def test_a_manager_does_not_oversee_a_fellow_manager_or_the_owner(
    mary: User, north: Team, alice: User
) -> None:
    """Two managers in North, and the owner in it too: neither manager reads or writes the
    other's (or the owner's) check-ins, nor lists them on the team view."""
    max_ = UserFactory(username="max", role=Role.SALES_MANAGER, team=north)
    boss = UserFactory(username="boss", role=Role.OWNER, team=north)
    CheckIn.objects.create(person=max_, author=boss, text="Between the owner and Max.")
    marys = client_for(mary)
    for person in (max_, boss):
        assert marys.get(job_url(person)).status_code == 403
        post = marys.post(
            reverse("planning:check_in_new", args=[person.pk]), {"check_in-text": "x"}
        )
        assert post.status_code == 403
    team = marys.get(reverse("planning:team")).content.decode()
    assert "Max" not in team and "Boss" not in team
    assert "Between the owner and Max." in client_for(boss).get(job_url(max_)).content.decode()
    assert client_for(mary).get(job_url(alice)).status_code == 200


def test_the_months_of_my_work_are_my_months(plan: TacticalPlan, alice: User) -> None:
    """Work due at 17:00 on 30 November in Los Angeles (01:00 on 1 December in UTC) is
    November's work on her page."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    User.objects.filter(pk=alice.pk).update(time_zone="America/Los_Angeles")
    alice.refresh_from_db()
    la = ZoneInfo("America/Los_Angeles")
    tactic = Tactic.objects.get(name="Ten calls")
    due = datetime(2026, 11, 30, 17, tzinfo=la)
    Occurrence.objects.create(tactic=tactic, person=alice, key="2026-11-30",
                              opens_at=datetime(2026, 11, 30, tzinfo=la), due_at=due)  # fmt: skip
    found = job(person=alice, month=date(2026, 11, 1), now=due + timedelta(days=30))
    assert found.trend[date(2026, 11, 1)].missed == 1
    assert [row.tactic.name for row in found.sla] == ["Ten calls"]


def test_who_a_role_tactic_asks_names_each_holder_once(plan: TacticalPlan, olivia: User) -> None:
    Tactic.objects.create(plan=plan, name="Workshop", shape=Shape.TARGET, role=Role.OWNER,
                          target_count=1, due_on=plan.ends_on)  # fmt: skip
    page = client_for(olivia).get(reverse("planning:plans")).content.decode()
    row = page.split("Workshop")[1].split("</tr>")[0]
    assert row.count("Olivia") == 1
