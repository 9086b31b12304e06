"""The metric pages: everyone reads; managers add and edit metrics and set goals; a
metric's owner and managers enter its values. Bad input comes back as a 400 page with
everything typed; a forbidden write is 403 and changes nothing.
"""

from datetime import date
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from keel.accounts.models import Team, User
from keel.scorecard.models import CaptureMethod, Goal, Metric, MetricValue, Unit
from keel.scorecard.services import goal_set, metric_value_enter
from keel.scorecard.tests.factories import MetricFactory

pytestmark = pytest.mark.django_db

OCTOBER = date(2025, 10, 1)


@pytest.fixture
def ad_spend(alice: User) -> Metric:
    """Alice's metric, entered by hand."""
    return MetricFactory(
        key="ad_spend", name="Ad spend", unit=Unit.MONEY, owner=alice, stage="suspect"
    )


def _as(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def _page(response) -> str:
    return response.content.decode()


# --- reading ----------------------------------------------------------------------------


def test_the_list_groups_metrics_by_stage_with_this_years_goal(
    client: Client, ad_spend: Metric, alice: User, mary: User, django_assert_max_num_queries
) -> None:
    goal_set(metric=ad_spend, year=timezone.localdate().year, target=Decimal(12000), by=mary)
    MetricFactory.create_batch(10, owner=mary)
    c = _as(client, alice)
    with django_assert_max_num_queries(6):
        page = _page(c.get("/scorecard/metrics/"))
    headings = [
        page.index(f">{stage}</h2>") for stage in ("Suspect", "Prospect", "Lead", "Customer")
    ]
    assert headings == sorted(headings)
    assert page.index("Ad spend") < headings[1]  # under Suspect
    assert "12,000" in page and "Entered by hand" in page and "Alice" in page
    assert "New metric" not in page  # only managers add metrics


def test_a_metrics_page_shows_its_history_with_superseded_entries_struck(
    client: Client, ad_spend: Metric, alice: User, mary: User
) -> None:
    metric_value_enter(metric=ad_spend, month=OCTOBER, value=Decimal("100"), by=alice)
    metric_value_enter(
        metric=ad_spend, month=OCTOBER, value=Decimal("120.50"), by=mary, note="Invoice fixed"
    )
    page = _page(_as(client, alice).get("/scorecard/metrics/ad_spend/"))
    assert "<del>100</del>" in page and "<b>120.5</b>" in page
    assert page.index("120.5") < page.index("<del>100</del>")  # the current figure first
    assert "Invoice fixed" in page and "Mary" in page and "Oct 2025" in page


def test_history_shows_a_teams_and_a_persons_figures_only_to_who_may_read_them(
    client: Client, ad_spend: Metric, olivia: User, sam: User, south: Team, alice: User
) -> None:
    metric_value_enter(metric=ad_spend, month=OCTOBER, value=Decimal(777), by=olivia, team=south)
    metric_value_enter(metric=ad_spend, month=OCTOBER, value=Decimal(555), by=olivia, person=sam)
    assert "777" not in _page(_as(client, alice).get("/scorecard/metrics/ad_spend/"))
    page = _page(_as(Client(), sam).get("/scorecard/metrics/ad_spend/"))
    assert "Team South" in page and "777" in page and "555" in page


def test_history_is_paged_by_month(client: Client, ad_spend: Metric, alice: User) -> None:
    for number in range(1, 13):
        metric_value_enter(metric=ad_spend, month=date(2024, number, 1), value=Decimal(1), by=alice)
    metric_value_enter(metric=ad_spend, month=OCTOBER, value=Decimal(2), by=alice)
    c = _as(client, alice)
    first = _page(c.get("/scorecard/metrics/ad_spend/"))
    assert "Oct 2025" in first and "Jan 2024" not in first and "Older months" in first
    assert "Jan 2024" in _page(c.get("/scorecard/metrics/ad_spend/?page=2"))


def test_a_metrics_page_takes_the_same_queries_however_long_its_history(
    client: Client, ad_spend: Metric, mary: User, north: Team, django_assert_max_num_queries
) -> None:
    for number in range(1, 13):
        for value in (1, 2, 3):
            metric_value_enter(
                metric=ad_spend, month=date(2024, number, 1), value=Decimal(value), by=mary
            )
            metric_value_enter(
                metric=ad_spend, month=date(2024, number, 1), value=Decimal(value), by=mary,
                team=north,
            )  # fmt: skip
    c = _as(client, mary)
    with django_assert_max_num_queries(11):
        page = _page(c.get("/scorecard/metrics/ad_spend/"))
    assert page.count("<del>") == 12 * 2 * 2


def test_an_unknown_metric_is_404(client: Client, alice: User) -> None:
    assert _as(client, alice).get("/scorecard/metrics/nothing/").status_code == 404


# --- adding and editing metrics ---------------------------------------------------------


def test_a_manager_adds_a_metric(client: Client, mary: User, alice: User) -> None:
    response = _as(client, mary).post(
        "/scorecard/metrics/new/",
        {"key": "ad_spend", "name": "Ad spend", "stage": "suspect", "unit": "money",
         "owner": alice.pk, "capture_method": "pushed", "description": "", "position": "3",
         "is_active": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    assert response["Location"] == "/scorecard/metrics/ad_spend/"
    metric = Metric.objects.get(key="ad_spend")
    assert (metric.owner, metric.capture_method, metric.position) == (alice, "pushed", 3)


def test_a_refused_metric_comes_back_with_what_was_typed(client: Client, mary: User) -> None:
    response = _as(client, mary).post(
        "/scorecard/metrics/new/",
        {"key": "churn", "name": "Churned customers", "stage": "customer", "unit": "count",
         "capture_method": "computed", "description": "Lost accounts", "position": "0"},
    )  # fmt: skip
    page = _page(response)
    assert response.status_code == 400
    assert "Keel cannot compute" in page
    assert 'value="Churned customers"' in page and "Lost accounts" in page
    assert not Metric.objects.filter(key="churn").exists()


def test_a_manager_edits_a_metric_but_not_its_key(client: Client, mary: User, bob: User) -> None:
    c = _as(client, mary)
    form = _page(c.get("/scorecard/metrics/calls/edit/"))
    assert 'name="key"' not in form and "<code>calls</code>" in form
    response = c.post(
        "/scorecard/metrics/calls/edit/",
        {"key": "dials", "name": "Dials", "stage": "lead", "unit": "count", "owner": bob.pk,
         "capture_method": "computed", "position": "8", "is_active": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    calls = Metric.objects.get(key="calls")
    assert (calls.name, calls.owner) == ("Dials", bob)


def test_a_bad_edit_is_400_and_keeps_the_typing(client: Client, mary: User) -> None:
    response = _as(client, mary).post(
        "/scorecard/metrics/calls/edit/",
        {"name": "", "stage": "lead", "unit": "count", "capture_method": "computed",
         "position": "-1", "description": "Every dial"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "Every dial" in _page(response) and "<h1>Edit Calls</h1>" in _page(response)
    assert Metric.objects.get(key="calls").description != "Every dial"


# --- entering a value -------------------------------------------------------------------


def test_the_owner_enters_a_months_value(client: Client, ad_spend: Metric, alice: User) -> None:
    c = _as(client, alice)
    page = _page(c.get("/scorecard/metrics/ad_spend/"))
    assert 'type="month"' in page and f'value="{timezone.localdate():%Y-%m}"' in page
    response = c.post(
        "/scorecard/metrics/ad_spend/values/",
        {"month": "2025-10", "value": "1250.50", "note": "From the bank statement"},
    )
    assert response.status_code == 302
    entry = MetricValue.objects.get()
    assert (entry.month, entry.value, entry.source, entry.entered_by, entry.note) == (
        OCTOBER,
        Decimal("1250.50"),
        "manual",
        alice,
        "From the bank statement",
    )
    assert "now 1250.5" in _page(c.get(response["Location"]))


def test_a_manager_enters_a_teams_figure(
    client: Client, ad_spend: Metric, mary: User, north: Team
) -> None:
    _as(client, mary).post(
        "/scorecard/metrics/ad_spend/values/", {"month": "2025-10", "value": "7", "team": north.pk}
    )
    assert MetricValue.objects.get().team == north


@pytest.mark.parametrize(
    ("month", "value", "message"),
    [
        ("2025-13", "5", "not a month: write it as YYYY-MM"),
        ("October", "5", "not a month"),
        ("2999-01", "5", "has not begun"),
        ("2025-10", "-5", "zero or more"),
        ("2025-10", "lots", "Enter a number"),
    ],
)
def test_a_bad_value_is_400_and_keeps_the_typing(
    client: Client, ad_spend: Metric, alice: User, month: str, value: str, message: str
) -> None:
    response = _as(client, alice).post(
        "/scorecard/metrics/ad_spend/values/",
        {"month": month, "value": value, "note": "Typed with care"},
    )
    assert response.status_code == 400
    page = _page(response)
    assert message in page and 'value="Typed with care"' in page
    assert not MetricValue.objects.exists()


def test_a_computed_metric_has_no_value_form(client: Client, mary: User) -> None:
    c = _as(client, mary)
    assert "Enter a month" not in _page(c.get("/scorecard/metrics/calls/"))
    response = c.post("/scorecard/metrics/calls/values/", {"month": "2025-10", "value": "5"})
    assert response.status_code == 400 and "computed from Keel" in _page(response)
    assert not MetricValue.objects.exists()


# --- goals ------------------------------------------------------------------------------


def test_a_manager_sets_a_seasonal_goal(client: Client, ad_spend: Metric, mary: User) -> None:
    weights = {f"weight_{n}": "5" for n in range(1, 11)} | {"weight_11": "20", "weight_12": "30"}
    c = _as(client, mary)
    response = c.post(
        "/scorecard/metrics/ad_spend/goal/",
        {"year": "2026", "target": "12000", "phasing": "seasonal", **weights},
    )
    assert response.status_code == 302
    assert response["Location"] == "/scorecard/metrics/ad_spend/?year=2026"
    goal = Goal.objects.get()
    assert (goal.year, goal.target, goal.weights) == (2026, 12000, [5] * 10 + [20, 30])
    page = _page(c.get(response["Location"]))
    assert 'name="weight_12" value="30"' in page and "2026</a>: 12000 (seasonal" in page


def test_an_even_goal_ignores_typed_weights(client: Client, ad_spend: Metric, mary: User) -> None:
    _as(client, mary).post(
        "/scorecard/metrics/ad_spend/goal/",
        {"year": "2026", "target": "100", "phasing": "even", "weight_1": "3"},
    )
    assert Goal.objects.get().weights == []


def test_a_bad_goal_is_400_and_keeps_the_typing(
    client: Client, ad_spend: Metric, mary: User
) -> None:
    weights = {f"weight_{n}": "0" for n in range(1, 12)}  # 11 months, all zero
    response = _as(client, mary).post(
        "/scorecard/metrics/ad_spend/goal/",
        {"year": "2026", "target": "4321", "phasing": "seasonal", **weights},
    )
    assert response.status_code == 400
    page = _page(response)
    assert "12 monthly weights" in page
    assert 'name="target" value="4321"' in page and 'name="weight_11" value="0"' in page
    assert not Goal.objects.exists()


# --- what is refused --------------------------------------------------------------------


def test_a_salesperson_cannot_add_or_edit_metrics(client: Client, alice: User) -> None:
    c = _as(client, alice)
    for url in ("/scorecard/metrics/new/", "/scorecard/metrics/calls/edit/"):
        assert c.get(url).status_code == 403, url
    data = {"key": "x", "name": "Dials", "stage": "lead", "unit": "count",
            "capture_method": "manual", "position": "0"}  # fmt: skip
    assert c.post("/scorecard/metrics/new/", data).status_code == 403
    assert c.post("/scorecard/metrics/calls/edit/", data).status_code == 403
    assert not Metric.objects.filter(key="x").exists()
    assert Metric.objects.get(key="calls").name == "Calls"
    assert "Edit</a>" not in _page(c.get("/scorecard/metrics/calls/"))


def test_a_salesperson_cannot_enter_a_value_for_a_metric_they_do_not_own(
    client: Client, ad_spend: Metric, bob: User
) -> None:
    c = _as(client, bob)
    assert "Enter a month" not in _page(c.get("/scorecard/metrics/ad_spend/"))
    response = c.post("/scorecard/metrics/ad_spend/values/", {"month": "2025-10", "value": "1"})
    assert response.status_code == 403
    assert not MetricValue.objects.exists()


def test_the_owner_of_a_metric_cannot_enter_a_colleagues_figure(
    client: Client, ad_spend: Metric, alice: User, bob: User
) -> None:
    response = _as(client, alice).post(
        "/scorecard/metrics/ad_spend/values/", {"month": "2025-10", "value": "1", "person": bob.pk}
    )
    assert response.status_code == 400  # Bob is not among the people she may choose
    assert not MetricValue.objects.exists()


def test_a_salesperson_cannot_set_a_goal(client: Client, ad_spend: Metric, alice: User) -> None:
    c = _as(client, alice)
    assert "Set a year" not in _page(c.get("/scorecard/metrics/ad_spend/"))
    response = c.post(
        "/scorecard/metrics/ad_spend/goal/", {"year": "2026", "target": "1", "phasing": "even"}
    )
    assert response.status_code == 403
    assert not Goal.objects.exists()


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/scorecard/metrics/"),
        ("get", "/scorecard/metrics/new/"),
        ("get", "/scorecard/metrics/calls/"),
        ("get", "/scorecard/metrics/calls/edit/"),
        ("post", "/scorecard/metrics/calls/values/"),
        ("post", "/scorecard/metrics/calls/goal/"),
    ],
)
def test_anonymous_visitors_are_sent_to_sign_in(
    client: Client, db: None, method: str, url: str
) -> None:
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_a_value_form_is_shown_only_for_metrics_not_computed(
    client: Client, mary: User, alice: User
) -> None:
    pushed = MetricFactory(key="visitors_ga", capture_method=CaptureMethod.PUSHED, owner=alice)
    page = _page(_as(client, mary).get(f"/scorecard/metrics/{pushed.key}/"))
    assert "Enter a month" in page and "corrects the month" in page
