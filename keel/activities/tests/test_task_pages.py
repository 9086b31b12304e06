"""The tasks page (/tasks/) and its in-place actions: complete, reopen, reschedule."""

import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from keel.accounts.models import Role, Team, User
from keel.accounts.tests.factories import PASSWORD, UserFactory
from keel.activities.models import Task
from keel.activities.tests.factories import TaskFactory
from keel.pipeline.models import Deal

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
CHROMIUM = Path("/usr/bin/chromium")


def days(n: int) -> datetime:
    return timezone.now() + timedelta(days=n)


def page(client: Client, url: str = "/tasks/") -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


@pytest.fixture
def steve(south: Team) -> User:
    """The manager of team South."""
    return UserFactory(username="steve", role=Role.SALES_MANAGER, team=south)


# --- signing in


def test_the_tasks_page_and_its_actions_need_a_sign_in(client: Client, alice: User):
    task = TaskFactory(owner=alice)
    response = client.get("/tasks/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    response = client.post(f"/tasks/{task.pk}/complete/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert Task.objects.get(pk=task.pk).done_at is None


# --- whose tasks


def test_mine_shows_my_open_tasks_and_my_team_adds_my_teammates_with_their_owner(
    client: Client, alice: User, bob: User, sam: User
):
    TaskFactory(owner=alice, title="Alice calls Acme")
    TaskFactory(owner=bob, title="Bob emails Initech")
    TaskFactory(owner=sam, title="Sam visits Globex")
    signed_in(client, alice)

    mine = page(client)
    assert "Alice calls Acme" in mine and "Bob emails Initech" not in mine
    assert "sort=owner" not in mine and "<td>Alice</td>" not in mine  # no owner column

    team = page(client, "/tasks/?scope=team")
    assert "Alice calls Acme" in team and "Bob emails Initech" in team
    assert "Sam visits Globex" not in team
    assert "sort=owner" in team and "<td>Bob</td>" in team
    assert 'href="/tasks/?scope=team" aria-current="page"' in team


def test_a_salesperson_of_another_team_does_not_see_norths_tasks(
    client: Client, alice: User, sam: User
):
    TaskFactory(owner=alice, title="Alice calls Acme")
    signed_in(client, sam)
    assert "Alice calls Acme" not in page(client, "/tasks/?scope=team")


def test_rows_i_may_not_change_have_no_controls(client: Client, alice: User, bob: User):
    mine, hers = TaskFactory(owner=bob), TaskFactory(owner=alice)
    team = page(signed_in(client, bob), "/tasks/?scope=team")
    assert f"/tasks/{mine.pk}/complete/" in team and f"/tasks/{mine.pk}/reschedule/" in team
    assert f'id="task-{hers.pk}"' in team
    assert f"/tasks/{hers.pk}/complete/" not in team and f"/tasks/{hers.pk}/reschedule/" not in team


def test_a_manager_gets_controls_on_the_teams_tasks(client: Client, alice: User, mary: User):
    task = TaskFactory(owner=alice)
    assert f"/tasks/{task.pk}/complete/" in page(signed_in(client, mary), "/tasks/?scope=team")


# --- when


def test_open_tasks_come_overdue_first_and_each_filter_picks_its_days(client: Client, alice: User):
    TaskFactory(owner=alice, title="Upcoming one", due_at=days(3))
    TaskFactory(owner=alice, title="Someday one", due_at=None)
    TaskFactory(owner=alice, title="Today one", due_at=timezone.now())
    TaskFactory(owner=alice, title="Overdue one", due_at=days(-2))
    TaskFactory(owner=alice, title="Done one", due_at=days(-1), done_at=timezone.now())
    signed_in(client, alice)

    everything = page(client)
    order = ["Overdue one", "Today one", "Upcoming one", "Someday one"]
    assert [everything.index(t) for t in order] == sorted(everything.index(t) for t in order)
    assert "Done one" not in everything
    assert '<span class="badge bad">Overdue</span>' in everything

    def titles(when: str) -> set[str]:
        listed = page(client, f"/tasks/?when={when}")
        return {t for t in [*order, "Done one"] if t in listed}

    assert titles("overdue") == {"Overdue one"}
    assert titles("today") == {"Today one"}
    assert titles("upcoming") == {"Upcoming one"}
    assert titles("done") == {"Done one"}


def test_a_task_links_to_its_deal_or_its_company(client: Client, alice: User, deal: Deal):
    on_company = TaskFactory(owner=alice, company=deal.company)
    listed = page(signed_in(client, alice))
    assert f'href="/deals/{deal.pk}/">Acme rollout</a>' in listed  # the deal's plan tasks
    assert f'href="/companies/{on_company.company_id}/">Acme</a>' in listed


def test_a_long_list_is_paged(client: Client, alice: User):
    Task.objects.bulk_create(
        Task(owner=alice, title=f"Chore {n:02}", due_at=days(n + 1)) for n in range(55)
    )
    signed_in(client, alice)
    first, second = page(client), page(client, "/tasks/?page=2")
    assert "Chore 00" in first and "Chore 49" in first and "Chore 50" not in first
    assert "Chore 50" in second and "Page 2 of 2" in second


def test_the_list_runs_a_bounded_number_of_queries(
    client: Client, alice: User, bob: User, mary: User, deal: Deal, django_assert_max_num_queries
):
    for n in range(30):
        TaskFactory(owner=(alice, bob)[n % 2], deal=deal, company=deal.company)
    signed_in(client, mary)
    with django_assert_max_num_queries(6):
        listed = page(client, "/tasks/?scope=team")
    assert listed.count('class="task ') == 33  # with the deal's three plan tasks


# --- completing and reopening


def test_completing_with_htmx_answers_the_row_alone(client: Client, alice: User):
    task = TaskFactory(owner=alice, title="Send the quote")
    response = signed_in(client, alice).post(
        f"/tasks/{task.pk}/complete/", {"next": "/tasks/"}, **HTMX
    )
    row = response.content.decode()
    assert response.status_code == 200
    assert row.lstrip().startswith(f'<tr id="task-{task.pk}"') and "<html" not in row
    assert f"/tasks/{task.pk}/reopen/" in row and "<s>Send the quote</s>" in row
    assert Task.objects.get(pk=task.pk).done_at is not None


def test_the_row_keeps_its_owner_column(client: Client, alice: User, mary: User):
    task = TaskFactory(owner=alice)
    response = signed_in(client, mary).post(
        f"/tasks/{task.pk}/complete/", {"show_owner": "1"}, **HTMX
    )
    assert "<td>Alice</td>" in response.content.decode()


def test_completing_without_htmx_goes_back_to_the_list(client: Client, alice: User):
    task = TaskFactory(owner=alice)
    response = signed_in(client, alice).post(
        f"/tasks/{task.pk}/complete/", {"next": "/tasks/?when=today"}
    )
    assert response.status_code == 302 and response["Location"] == "/tasks/?when=today"
    assert Task.objects.get(pk=task.pk).done_at is not None


def test_a_plain_post_never_returns_to_another_site(client: Client, alice: User):
    task = TaskFactory(owner=alice)
    response = signed_in(client, alice).post(
        f"/tasks/{task.pk}/complete/", {"next": "https://evil.example/"}
    )
    assert response["Location"] == "/tasks/"


def test_a_done_task_is_reopened_in_place(client: Client, alice: User):
    task = TaskFactory(owner=alice, done_at=timezone.now())
    response = signed_in(client, alice).post(f"/tasks/{task.pk}/reopen/", **HTMX)
    assert (
        response.status_code == 200 and f"/tasks/{task.pk}/complete/" in response.content.decode()
    )
    assert Task.objects.get(pk=task.pk).done_at is None


# --- rescheduling


def test_rescheduling_to_a_day_with_htmx_answers_the_row(client: Client, alice: User):
    task = TaskFactory(owner=alice, due_at=days(-3))
    day = (timezone.localdate() + timedelta(days=10)).isoformat()
    response = signed_in(client, alice).post(f"/tasks/{task.pk}/reschedule/", {"due": day}, **HTMX)
    row = response.content.decode()
    assert response.status_code == 200 and "<html" not in row
    assert f'value="{day}"' in row and "Overdue" not in row
    task.refresh_from_db()
    assert timezone.localdate(task.due_at).isoformat() == day


def test_a_week_later_counts_from_today_for_an_overdue_task(client: Client, alice: User):
    task = TaskFactory(owner=alice, due_at=days(-3))
    signed_in(client, alice).post(
        f"/tasks/{task.pk}/reschedule/", {"due": "", "shift": "7"}, **HTMX
    )
    task.refresh_from_db()
    assert timezone.localdate(task.due_at) == timezone.localdate() + timedelta(days=7)


def test_rescheduling_without_htmx_goes_back(client: Client, alice: User):
    task = TaskFactory(owner=alice, due_at=days(2))
    response = signed_in(client, alice).post(
        f"/tasks/{task.pk}/reschedule/", {"shift": "1", "next": "/tasks/?scope=team"}
    )
    assert response.status_code == 302 and response["Location"] == "/tasks/?scope=team"
    task.refresh_from_db()
    assert timezone.localdate(task.due_at) == timezone.localdate() + timedelta(days=3)


@pytest.mark.parametrize(
    ("due", "message"),
    [("not-a-date", "Enter a valid date"), ("", "Pick the day"), ("2020-01-01", "in the past")],
)
def test_an_invalid_day_is_refused_with_a_400_and_its_reason(
    client: Client, alice: User, due: str, message: str
):
    task = TaskFactory(owner=alice)
    due_at = task.due_at
    response = signed_in(client, alice).post(f"/tasks/{task.pk}/reschedule/", {"due": due}, **HTMX)
    assert response.status_code == 400
    row = response.content.decode()
    assert f'id="task-{task.pk}"' in row and message in row and 'role="alert"' in row
    assert Task.objects.get(pk=task.pk).due_at == due_at


def test_an_invalid_day_without_htmx_goes_back_with_the_reason(client: Client, alice: User):
    task = TaskFactory(owner=alice)
    response = signed_in(client, alice).post(
        f"/tasks/{task.pk}/reschedule/", {"due": "2020-01-01"}, follow=True
    )
    assert "cannot be due in the past" in response.content.decode()


# --- forbidden paths


@pytest.mark.parametrize("who", ["bob", "vera", "steve", "sam"])
@pytest.mark.parametrize("action", ["complete", "reschedule"])
def test_someone_who_may_not_change_a_task_gets_a_403_and_the_task_is_unchanged(
    client: Client, alice: User, who: str, action: str, request: pytest.FixtureRequest
):
    task = TaskFactory(owner=alice, title="Secret pricing call")
    due_at = task.due_at
    signed_in(client, request.getfixturevalue(who))
    response = client.post(f"/tasks/{task.pk}/{action}/", {"shift": "1"}, **HTMX)
    assert response.status_code == 403
    assert "Secret" not in response.content.decode() and "Alice" not in response.content.decode()
    task.refresh_from_db()
    assert task.done_at is None and task.due_at == due_at


def test_a_missing_task_is_a_404_and_a_get_is_not_an_action(client: Client, alice: User):
    task = TaskFactory(owner=alice)
    signed_in(client, alice)
    assert client.post("/tasks/999999/complete/").status_code == 404
    assert client.get(f"/tasks/{task.pk}/complete/").status_code == 405
    assert Task.objects.get(pk=task.pk).done_at is None


# --- adding


def test_a_new_task_is_added_from_the_list(client: Client, alice: User):
    day = (timezone.localdate() + timedelta(days=2)).isoformat()
    response = signed_in(client, alice).post(
        "/tasks/?scope=team", {"title": "Book the venue", "due": day}
    )
    assert response.status_code == 302 and response["Location"] == "/tasks/?scope=team"
    task = Task.objects.get(title="Book the venue")
    assert task.owner == alice and timezone.localdate(task.due_at).isoformat() == day
    assert "Book the venue" in page(client, "/tasks/?when=upcoming")


def test_a_new_task_without_a_title_is_shown_again_with_the_error(client: Client, alice: User):
    response = signed_in(client, alice).post("/tasks/", {"title": "", "due": "2030-01-01"})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    assert 'value="2030-01-01"' in response.content.decode()  # the input is kept
    assert not Task.objects.exists()


def test_a_viewer_has_no_new_task_form_and_may_not_post_one(client: Client, vera: User):
    signed_in(client, vera)
    assert 'name="title"' not in page(client)
    assert client.post("/tasks/", {"title": "Sneaky"}).status_code == 403
    assert not Task.objects.exists()


def test_a_task_may_not_be_added_to_an_unseen_deal(client: Client, sam: User, deal: Deal):
    response = signed_in(client, sam).post("/tasks/", {"title": "Poach", "deal": deal.pk})
    assert response.status_code == 403
    assert not Task.objects.filter(title="Poach").exists()


# --- in a browser: the row changes in place, without reloading the page


@pytest.fixture
def browser_page(monkeypatch: pytest.MonkeyPatch):
    if not CHROMIUM.exists():
        if os.environ.get("KEEL_REQUIRE_BROWSER"):
            pytest.fail("KEEL_REQUIRE_BROWSER is set but /usr/bin/chromium is missing")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop, our ORM
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        yield browser.new_page(viewport={"width": 1280, "height": 900})
        browser.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_complete_and_reschedule_in_place(browser_page, live_server, alice: User):
    call = TaskFactory(owner=alice, title="Call Acme back", due_at=days(-3))
    quote = TaskFactory(owner=alice, title="Send the quote", due_at=timezone.now())
    page = browser_page
    page.goto(live_server.url + "/tasks/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("table.tasks")
    page.evaluate("window.notReloaded = true")

    page.click(f"#task-{call.pk} button:has-text('Done')")
    page.wait_for_selector(f"#task-{call.pk} button:has-text('Reopen')")
    assert Task.objects.get(pk=call.pk).done_at is not None

    page.fill(f"#due-{quote.pk}", "2020-01-01")
    page.click(f"#task-{quote.pk} button:has-text('Move')")
    page.wait_for_selector(f"#task-{quote.pk} [role=alert]:has-text('in the past')")
    page.click(f"#task-{quote.pk} button:has-text('+1 week')")
    page.wait_for_selector(f"#task-{quote.pk} [role=alert]", state="detached")
    quote.refresh_from_db()
    assert timezone.localdate(quote.due_at) == timezone.localdate() + timedelta(days=7)
    assert page.evaluate("window.notReloaded") is True
