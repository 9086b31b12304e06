"""Every operation × every role × both token scopes: the exact status, and on a refusal
nothing changed.

The cast (keel/conftest.py, plus Mia the marketer): the deal, its task and its activity
are Alice's, in team North. Mary manages North; Sam sells in team South; Sue is a sales
specialist in North; Olivia owns the business; Vera only views.
"""

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from keel.accounts.models import TokenScope, User
from keel.activities.models import Activity, Task
from keel.activities.services import activity_log
from keel.activities.tests.factories import TaskFactory
from keel.core.models import AuditEntry
from keel.crm.models import Company, Contact
from keel.crm.tests.factories import ContactFactory
from keel.leads.models import Campaign, MarketingEvent
from keel.pipeline.models import Deal, StageChange
from keel.scorecard.models import Goal, Metric, MetricValue

pytestmark = pytest.mark.django_db

ROLES = [
    "owner",
    "sales_manager",
    "salesperson_own",
    "salesperson_other_team",
    "specialist",
    "marketer",
    "viewer",
]
CAST = {
    "owner": "olivia",
    "sales_manager": "mary",
    "salesperson_own": "alice",
    "salesperson_other_team": "sam",
    "specialist": "sue",
    "marketer": "mia",
    "viewer": "vera",
}


@dataclass(frozen=True)
class World:
    deal: Deal
    company: Company
    contact: Contact
    task: Task
    activity: Activity
    metric: Metric  # calls: computed, so a push is refused even to those who may push
    campaign: Campaign
    year: int = 2026
    month: str = "2025-10"


def _all(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def _but(status: int, **others: int) -> dict[str, int]:
    return {**_all(status), **others}


SELLING_ONLY = {"marketer": 403, "viewer": 403}


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    path: str  # formatted with the world
    body: Any
    expected: dict[str, int]  # with a read-write token; a read token is 403 on any write

    def call(self, api: Any, world: World) -> Any:
        path = self.path.format(w=world)
        body = self.body(world) if callable(self.body) else self.body
        if self.method == "GET":
            return api.get(path)
        return api.request(self.method, path, body)


def _soon() -> str:
    return (timezone.now() + timedelta(days=2)).isoformat()


OPERATIONS = [
    Operation("companies.list", "GET", "/companies", None, _all(200)),
    Operation("companies.get", "GET", "/companies/{w.company.pk}", None, _all(200)),
    Operation("companies.create", "POST", "/companies", {"name": "Globex"}, _but(201, viewer=403)),
    Operation(
        "companies.update",
        "PATCH",
        "/companies/{w.company.pk}",
        lambda w: {"version": w.company.updated_at.isoformat(), "industry": "Rockets"},
        _but(200, viewer=403),
    ),
    Operation("contacts.list", "GET", "/contacts", None, _all(200)),
    Operation("contacts.get", "GET", "/contacts/{w.contact.pk}", None, _all(200)),
    Operation(
        "contacts.create", "POST", "/contacts", {"last_name": "Newman"}, _but(201, viewer=403)
    ),
    Operation(
        "contacts.update",
        "PATCH",
        "/contacts/{w.contact.pk}",
        lambda w: {"version": w.contact.updated_at.isoformat(), "title": "CTO"},
        _but(200, viewer=403),
    ),
    Operation("deals.list", "GET", "/deals", None, _all(200)),
    Operation(
        "deals.get", "GET", "/deals/{w.deal.pk}", None, _but(200, salesperson_other_team=404)
    ),
    Operation(
        "deals.create",
        "POST",
        "/deals",
        lambda w: {"name": "Globex pilot", "company_id": w.company.pk},
        _but(201, **SELLING_ONLY),
    ),
    Operation(
        "deals.update",
        "PATCH",
        "/deals/{w.deal.pk}",
        lambda w: {"version": w.deal.version, "next_step": "Call"},
        _but(200, salesperson_other_team=404, specialist=403, **SELLING_ONLY),
    ),
    Operation(
        "deals.move",
        "POST",
        "/deals/{w.deal.pk}/move",
        lambda w: {"to_stage": "Lost", "version": w.deal.version, "lost_reason": "price"},
        _but(200, salesperson_other_team=404, specialist=403, **SELLING_ONLY),
    ),
    Operation("activities.list", "GET", "/activities", None, _all(200)),
    Operation(
        "activities.get",
        "GET",
        "/activities/{w.activity.pk}",
        None,
        _but(200, salesperson_other_team=404),
    ),
    Operation(
        "activities.create_on_deal",
        "POST",
        "/activities",
        lambda w: {"type": "call", "outcome": "connected", "deal_id": w.deal.pk},
        _but(201, salesperson_other_team=404, specialist=403, **SELLING_ONLY),
    ),
    Operation(
        "activities.create_on_contact",
        "POST",
        "/activities",
        lambda w: {"type": "email", "contact_id": w.contact.pk},
        _but(201, viewer=403),
    ),
    Operation("tasks.list", "GET", "/tasks", None, _all(200)),
    Operation(
        "tasks.get",
        "GET",
        "/tasks/{w.task.pk}",
        None,
        _but(200, salesperson_other_team=404, marketer=404, viewer=404),
    ),
    Operation(
        "tasks.create",
        "POST",
        "/tasks",
        lambda w: {"title": "Call back", "due_at": _soon()},
        _but(201, viewer=403),
    ),
    Operation(
        "tasks.update",
        "PATCH",
        "/tasks/{w.task.pk}",
        {"done": True},
        _but(200, salesperson_other_team=404, specialist=403, marketer=404, viewer=404),
    ),
    Operation(
        "tasks.delete",
        "DELETE",
        "/tasks/{w.task.pk}",
        None,
        _but(204, salesperson_other_team=404, specialist=403, marketer=404, viewer=404),
    ),
    Operation(
        "events.bulk",
        "POST",
        "/events/bulk",
        lambda w: {
            "events": [
                {
                    "type": "inquiry",
                    "occurred_at": timezone.now().isoformat(),
                    "email": w.contact.email,
                    "external_id": "web-1",
                }
            ]
        },
        _but(200, salesperson_own=403, salesperson_other_team=403, specialist=403, viewer=403),
    ),
    Operation("campaigns.list", "GET", "/campaigns", None, _all(200)),
    Operation(
        "campaigns.create",
        "POST",
        "/campaigns",
        {
            "code": "spring-ads",
            "name": "Spring ads",
            "channel": "advertising",
            "starts_on": "2026-03-01",
            "budget": "5000",
            "cost": "1200",
        },
        _but(403, owner=201, sales_manager=201, marketer=201),
    ),
    Operation(
        "campaigns.update",
        "PATCH",
        "/campaigns/{w.campaign.pk}",
        lambda w: {"version": w.campaign.updated_at.isoformat(), "cost": "999"},
        _but(403, owner=200, sales_manager=200, marketer=200),
    ),
    Operation("scorecard.read", "GET", "/scorecard/months/{w.month}", None, _all(200)),
    Operation(
        "scorecard.read.person",
        "GET",
        "/scorecard/months/{w.month}?person_id={w.deal.owner_id}",
        None,
        _but(403, owner=200, sales_manager=200, salesperson_own=200),
    ),
    Operation("scorecard.metrics.list", "GET", "/scorecard/metrics", None, _all(200)),
    Operation(
        "scorecard.values.list", "GET", "/scorecard/metrics/{w.metric.key}/values", None, _all(200)
    ),
    Operation(
        "scorecard.values.push",
        "POST",
        "/scorecard/metrics/{w.metric.key}/values",
        {"month": "2025-10", "value": 1},
        _but(403, owner=422, sales_manager=422),
    ),
    Operation(
        "scorecard.goals.set",
        "PUT",
        "/scorecard/metrics/{w.metric.key}/goals/{w.year}",
        {"target": 100},
        _but(403, owner=200, sales_manager=200),
    ),
]


@pytest.fixture
def world(
    deal: Deal,
    alice: User,
    mary: User,
    bob: User,
    sue: User,
    sam: User,
    olivia: User,
    vera: User,
    mia: User,
) -> World:
    contact = ContactFactory(company=deal.company)
    return World(
        deal=deal,
        company=deal.company,
        contact=contact,
        task=TaskFactory(owner=alice, deal=deal, company=deal.company),
        activity=activity_log(by=alice, type="call", outcome="connected", deal=deal),
        metric=Metric.objects.get(key="calls"),
        campaign=Campaign.objects.create(
            code="webinars", name="Webinars", channel="inbound_web", starts_on=date(2026, 1, 1)
        ),
    )


def _state(world: World) -> dict[str, Any]:
    """What a refused request must leave as it was."""
    return {
        "counts": [
            m.objects.count()
            for m in (
                Company,
                Contact,
                Deal,
                Activity,
                Task,
                MarketingEvent,
                StageChange,
                MetricValue,
                Goal,
                Campaign,
            )
        ],
        "audit": AuditEntry.objects.exclude(action__startswith="token.").count(),
        "deal": Deal.objects.values_list("version", "stage_id", "next_step").get(pk=world.deal.pk),
        "company": Company.objects.values_list("updated_at", "industry").get(pk=world.company.pk),
        "contact": Contact.objects.values_list("updated_at", "title", "inquired_at").get(
            pk=world.contact.pk
        ),
        "task": Task.objects.values_list("done_at", "due_at").filter(pk=world.task.pk).first(),
        "campaign": Campaign.objects.values_list("updated_at", "cost").get(pk=world.campaign.pk),
    }


@pytest.mark.parametrize("scope", [TokenScope.READ, TokenScope.READ_WRITE])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda o: o.name)
def test_permission_matrix(
    operation: Operation, role: str, scope: str, world: World, api_as: Any
) -> None:
    user = User.objects.get(username=CAST[role])
    api = api_as(user, scope)
    expected = operation.expected[role]
    if scope == TokenScope.READ and operation.method != "GET":
        expected = 403
    before = _state(world)
    response = operation.call(api, world)
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert _state(world) == before
        assert "detail" in response.json()
    elif operation.method != "GET":
        assert _state(world) != before


def test_the_matrix_covers_every_operation_of_the_api() -> None:
    from keel.api.api import api

    def shape(path: str) -> str:
        return re.sub(r"\{[^}]*\}", "{}", path.removeprefix("/api/v1").split("?")[0])

    paths = api.get_openapi_schema()["paths"]
    documented = {(m.upper(), shape(p)) for p, methods in paths.items() for m in methods}
    assert documented == {(o.method, shape(o.path)) for o in OPERATIONS}
