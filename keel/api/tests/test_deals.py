"""/api/v1/deals: list, read, create, update, move (422 with unmet criteria, 409 stale)."""

from decimal import Decimal

import pytest

from keel.crm.tests.factories import CompanyFactory
from keel.pipeline.models import Deal, DealStatus, StageChange
from keel.pipeline.services import deal_create, deal_update

pytestmark = pytest.mark.django_db


def test_list_shows_what_the_web_list_shows(api_as, alice, sam, deal, new_business):
    theirs = deal_create(by=sam, name="South deal", company=CompanyFactory())
    seen = api_as(alice).get("/deals").json()
    assert [d["id"] for d in seen["items"]] == [deal.pk]
    assert api_as(sam).get("/deals").json()["items"][0]["id"] == theirs.pk


def test_list_filters_orders_and_pages(api_as, alice, acme, new_business):
    for i, amount in enumerate([300, 100, 200]):
        deal_create(by=alice, name=f"Deal {i}", company=acme, amount=Decimal(amount))
    api = api_as(alice)
    page = api.get("/deals", ordering="-amount", limit=2).json()
    assert [d["amount"] for d in page["items"]] == ["300.00", "200.00"]
    assert page["count"] == 3 and page["next_offset"] == 2
    assert [d["name"] for d in api.get("/deals").json()["items"]] == ["Deal 0", "Deal 1", "Deal 2"]
    rest = api.get("/deals", ordering="-amount", limit=2, offset=2).json()
    assert [d["amount"] for d in rest["items"]] == ["100.00"] and rest["next_offset"] is None
    assert api.get("/deals", q="deal 1").json()["count"] == 1
    assert api.get("/deals", status="won").json()["count"] == 0
    assert api.get("/deals", stage="qualify").json()["count"] == 3
    assert api.get("/deals", limit=101).status_code == 422
    assert api.get("/deals", ordering="owner__password").status_code == 422


def test_list_queries_are_bounded(
    api_as, alice, acme, new_business, memory_cache, django_assert_max_num_queries
):
    for i in range(12):
        deal_create(by=alice, name=f"Deal {i}", company=acme)
    api = api_as(alice)
    api.get("/deals")  # the token's first use writes last_used_at
    with django_assert_max_num_queries(5):  # token, ids, rows with joins, count (+ team)
        response = api.get("/deals")
    assert len(response.json()["items"]) == 12


def test_read_one_and_unseen_is_404(api_as, alice, sam, deal):
    assert api_as(alice).get(f"/deals/{deal.pk}").json()["name"] == "Acme rollout"
    assert api_as(sam).get(f"/deals/{deal.pk}").status_code == 404
    assert api_as(alice).get("/deals/999999").status_code == 404


def test_create(api_as, alice, acme, new_business):
    body = {"name": "Acme expansion", "company_id": acme.pk, "amount": "5000.50"}
    response = api_as(alice).post("/deals", body)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["stage"]["name"] == "Qualify"
    assert created["owner"]["id"] == alice.pk
    assert Deal.objects.get(pk=created["id"]).amount == Decimal("5000.50")


def test_create_refuses_bad_input_with_its_reasons(api_as, alice, acme, new_business):
    response = api_as(alice).post(
        "/deals", {"name": "X", "company_id": acme.pk, "stage": "Nowhere"}
    )
    assert response.status_code == 422
    assert "There is no stage 'Nowhere'" in response.json()["detail"]
    missing = api_as(alice).post("/deals", {"name": "X", "company_id": 999999})
    assert missing.status_code == 422
    assert missing.json()["errors"] == ["company_id: no company #999999"]


def test_update_with_the_current_version(api_as, alice, deal):
    response = api_as(alice).patch(
        f"/deals/{deal.pk}", {"version": deal.version, "amount": "900", "next_step": "Demo"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["version"] == deal.version + 1
    deal.refresh_from_db()
    assert (deal.amount, deal.next_step) == (Decimal("900"), "Demo")


def test_update_of_a_stale_version_is_409_and_changes_nothing(api_as, alice, mary, deal):
    deal_update(deal=deal, by=mary, expected_version=deal.version, data={"next_step": "Mary's"})
    response = api_as(alice).patch(f"/deals/{deal.pk}", {"version": 1, "next_step": "Alice's"})
    assert response.status_code == 409
    assert "Nothing was saved" in response.json()["detail"]
    deal.refresh_from_db()
    assert deal.next_step == "Mary's"


def test_move_with_unmet_criteria_is_422_listing_them(api_as, alice, deal):
    response = api_as(alice).post(
        f"/deals/{deal.pk}/move", {"to_stage": "1st meeting", "version": deal.version}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["unmet"], body
    assert {u["stage"] for u in body["unmet"]} == {"Qualify"}
    assert {"fields", "activity"} <= {u["kind"] for u in body["unmet"]}
    assert all(u["message"] for u in body["unmet"])
    deal.refresh_from_db()
    assert deal.stage.name == "Qualify" and StageChange.objects.filter(deal=deal).count() == 1


def test_move_by_a_manager_with_an_override(api_as, mary, deal):
    response = api_as(mary).post(
        f"/deals/{deal.pk}/move",
        {"to_stage": "1st meeting", "version": deal.version, "override_reason": "Met at expo"},
    )
    assert response.status_code == 200, response.content
    assert response.json()["stage"]["name"] == "1st meeting"


def test_move_to_lost(api_as, alice, deal):
    response = api_as(alice).post(
        f"/deals/{deal.pk}/move",
        {
            "to_stage": "Lost",
            "version": deal.version,
            "lost_reason": "price",
            "lost_note": "Too dear",
        },
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == DealStatus.LOST
    assert response.json()["lost_reason"] == "price"


def test_move_of_a_stale_version_is_409(api_as, alice, deal):
    deal_update(deal=deal, by=alice, expected_version=deal.version, data={"next_step": "Call"})
    response = api_as(alice).post(
        f"/deals/{deal.pk}/move", {"to_stage": "Lost", "version": 1, "lost_reason": "price"}
    )
    assert response.status_code == 409
    deal.refresh_from_db()
    assert deal.status == DealStatus.OPEN


def test_a_salesperson_may_not_override(api_as, alice, deal):
    response = api_as(alice).post(
        f"/deals/{deal.pk}/move",
        {"to_stage": "1st meeting", "version": deal.version, "override_reason": "Trust me"},
    )
    assert response.status_code == 403
