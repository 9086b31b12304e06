from decimal import Decimal

import pytest
from django.test import Client, override_settings

from keel.accounts.models import User
from keel.activities.models import Activity
from keel.crm.tests.factories import CompanyFactory, ContactFactory
from keel.pipeline.models import Deal, DealStatus
from keel.pipeline.services import deal_create

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def _qualify_evidence(client: Client, deal: Deal) -> None:
    """What Qualify asks for, supplied through the deal page's own forms."""
    url = f"/deals/{deal.pk}"
    client.post(f"{url}/log/", {"type": "call", "outcome": "connected"})
    client.post(f"{url}/tick/", {"item": "Fits the ideal customer profile"})
    deal.refresh_from_db()
    client.post(
        f"{url}/edit/",
        {"name": deal.name, "amount": "12000", "expected_close": "2027-03-31",
         "owner": deal.owner_id, "version": deal.version},
    )  # fmt: skip


# --- the workspace ----------------------------------------------------------------------


def test_the_workspace_shows_the_stage_its_guidance_and_the_checklist(client: Client, alice, deal):
    page = _signed_in(client, alice).get(f"/deals/{deal.pk}/").content.decode()
    assert 'aria-current="step"' in page and "Qualify" in page
    assert "Recognise a need" in page  # the buyer's step
    assert "Is this problem worth solving now?" in page  # a concern
    assert "Confirm fit with the ideal customer profile" in page  # guidance
    assert "Log a call (connected)" in page  # an unmet criterion
    assert "Tick the checklist item “Fits the ideal customer profile”" in page
    assert "Research the company" in page  # a completion-plan task


def test_a_blocked_move_says_what_is_missing_and_changes_nothing(client: Client, alice, deal):
    response = _signed_in(client, alice).post(
        f"/deals/{deal.pk}/move/", {"to_stage": "1st meeting", "version": deal.version}
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert "cannot move from Qualify to 1st meeting" in page
    assert "Log a call (connected)" in page and "Fill in: Amount, Expected close date" in page
    deal.refresh_from_db()
    assert deal.stage.name == "Qualify" and deal.version == 1


def test_supply_the_evidence_then_move(client: Client, alice, deal):
    _signed_in(client, alice)
    _qualify_evidence(client, deal)
    deal.refresh_from_db()
    response = client.post(
        f"/deals/{deal.pk}/move/", {"to_stage": "1st meeting", "version": deal.version}
    )
    assert response.status_code == 302 and response["Location"] == f"/deals/{deal.pk}/"
    deal.refresh_from_db()
    assert deal.stage.name == "1st meeting" and deal.amount == Decimal(12000)
    page = client.get(f"/deals/{deal.pk}/").content.decode()
    assert "moved to 1st meeting" in page  # the message
    assert page.index("1st meeting") < page.index("Stage history")


def test_quick_log_needs_only_the_type(client: Client, alice, deal):
    response = _signed_in(client, alice).post(f"/deals/{deal.pk}/log/", {"type": "email"})
    assert response.status_code == 302
    activity = Activity.objects.get(deal=deal)
    assert (activity.type, activity.by, activity.company_id) == ("email", alice, deal.company_id)


def test_quick_log_refuses_an_unknown_type_and_logs_nothing(client: Client, alice, deal):
    _signed_in(client, alice).post(f"/deals/{deal.pk}/log/", {"type": "telepathy"})
    assert not Activity.objects.filter(deal=deal).exists()
    assert "Nothing was logged" in client.get(f"/deals/{deal.pk}/").content.decode()


def test_attach_a_decision_maker(client: Client, alice, deal):
    boss = ContactFactory(company=deal.company, last_name="Boss")
    _signed_in(client, alice).post(
        f"/deals/{deal.pk}/contacts/", {"contact": boss.pk, "role": "decision_maker"}
    )
    assert deal.deal_contacts.get().role == "decision_maker"
    stranger = ContactFactory(company=CompanyFactory())
    client.post(f"/deals/{deal.pk}/contacts/", {"contact": stranger.pk})
    assert deal.deal_contacts.count() == 1  # only the deal's company's people


def test_lost_needs_a_reason(client: Client, alice, deal):
    _signed_in(client, alice)
    client.post(f"/deals/{deal.pk}/move/", {"to_stage": "Lost", "version": 1})
    deal.refresh_from_db()
    assert deal.status == DealStatus.OPEN
    client.post(
        f"/deals/{deal.pk}/move/", {"to_stage": "Lost", "version": 1, "lost_reason": "timing"}
    )
    deal.refresh_from_db()
    assert (deal.status, deal.lost_reason) == (DealStatus.LOST, "timing")


# --- editing, and two people editing at once --------------------------------------------


def test_a_stale_edit_is_refused_shows_the_other_change_and_keeps_the_input(
    client: Client, alice, mary, deal
):
    form = {"name": deal.name, "owner": alice.pk, "version": 1}
    other = Client()
    other.force_login(mary)
    assert other.post(f"/deals/{deal.pk}/edit/", {**form, "amount": "5000"}).status_code == 302

    response = _signed_in(client, alice).post(
        f"/deals/{deal.pk}/edit/", {**form, "amount": "7000", "next_step": "Call the CFO"}
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert f"{mary} changed this deal while you were editing" in page
    assert "<td>Amount</td><td>5000.00</td><td>7000</td>" in page.replace("\n", "")
    assert "Call the CFO" in page and 'value="7000"' in page  # the input is kept
    assert 'name="version" value="2"' in page  # saving again is a knowing overwrite
    deal.refresh_from_db()
    assert deal.amount == Decimal(5000) and deal.next_step == ""


def test_an_invalid_edit_shows_the_error_and_saves_nothing(client: Client, alice, deal):
    response = _signed_in(client, alice).post(
        f"/deals/{deal.pk}/edit/", {"name": "", "owner": alice.pk, "version": 1, "amount": "-5"}
    )
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    deal.refresh_from_db()
    assert deal.name == "Acme rollout" and deal.version == 1


def test_create_a_deal_for_an_existing_company(client: Client, alice, acme, new_business):
    response = _signed_in(client, alice).post(
        "/deals/new/",
        {
            "name": "Second order",
            "company_name": "acme",
            "process": new_business.pk,
        },
    )
    deal = Deal.objects.get(name="Second order")
    assert response["Location"] == f"/deals/{deal.pk}/"
    assert (deal.company, deal.owner, deal.stage.name) == (acme, alice, "Qualify")
    response = client.post(
        "/deals/new/", {"name": "X", "company_name": "Nobody Ltd", "process": new_business.pk}
    )
    assert "No company is named “Nobody Ltd”" in response.content.decode()


# --- the board --------------------------------------------------------------------------


def test_an_allowed_board_move_answers_with_the_board_only(client: Client, alice, deal):
    _signed_in(client, alice)
    _qualify_evidence(client, deal)
    deal.refresh_from_db()
    response = client.post(
        f"/deals/{deal.pk}/move/",
        {"to_stage": "1st meeting", "version": deal.version, "board": "owner="},
        **HTMX,
    )
    page = response.content.decode()
    assert response.status_code == 200 and "<html" not in page and 'id="board"' in page
    column = page[page.index('data-stage="1st meeting"') :]
    assert f'id="card-{deal.pk}"' in column.split('class="column"')[0]


def test_a_blocked_board_move_leaves_the_card_and_shows_the_fixes(client: Client, alice, deal):
    response = _signed_in(client, alice).post(
        f"/deals/{deal.pk}/move/",
        {"to_stage": "1st meeting", "version": deal.version, "board": ""},
        **HTMX,
    )
    page = response.content.decode()
    qualify = page[page.index('data-stage="Qualify"') : page.index('data-stage="1st meeting"')]
    assert f'id="card-{deal.pk}"' in qualify and 'class="blocked"' in qualify
    assert "Tick it" in qualify and "Log it" in qualify
    # Fix one item from the panel: the board comes back with the panel re-checked.
    response = client.post(
        f"/deals/{deal.pk}/tick/",
        {"item": "Fits the ideal customer profile", "board": "", "retry": "1st meeting"},
        **HTMX,
    )
    page = response.content.decode()
    assert 'class="blocked"' in page and "Tick the checklist item" not in page
    assert "Log a call (connected)" in page


def test_the_board_keeps_its_filters_in_the_url(client: Client, alice, bob, new_business):
    deal_create(by=alice, name="Alice's", company=CompanyFactory(), process=new_business)
    deal_create(by=bob, name="Bob's", company=CompanyFactory(), process=new_business)
    page = _signed_in(client, alice).get(f"/pipeline/?owner={bob.pk}").content.decode()
    assert "Bob&#x27;s" in page and "Alice&#x27;s" not in page
    assert f'<option value="{bob.pk}" selected>' in page


# --- who may do what --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "action", "data"),
    [
        ("bob", "move", {"to_stage": "Lost", "version": 1, "lost_reason": "price"}),
        ("vera", "move", {"to_stage": "Lost", "version": 1, "lost_reason": "price"}),
        ("bob", "log", {"type": "call"}),
        ("vera", "log", {"type": "call"}),
        ("bob", "tick", {"item": "Fits the ideal customer profile"}),
        ("vera", "edit", {"name": "Hijacked", "version": 1}),
    ],
)
def test_others_may_not_change_alices_deal(
    client: Client, deal, who, action, data, request: pytest.FixtureRequest
):
    user = request.getfixturevalue(who)
    response = _signed_in(client, user).post(f"/deals/{deal.pk}/{action}/", data)
    assert response.status_code == 403
    assert b"Acme" not in response.content
    deal.refresh_from_db()
    assert (deal.version, deal.name, deal.status) == (1, "Acme rollout", DealStatus.OPEN)
    assert not Activity.objects.exists() and not deal.ticks.exists()


def test_another_teams_deal_is_not_found(client: Client, sam, deal):
    _signed_in(client, sam)
    for url in (f"/deals/{deal.pk}/", f"/deals/{deal.pk}/edit/"):
        response = client.get(url)
        assert response.status_code == 404 and b"Acme" not in response.content
    assert client.post(f"/deals/{deal.pk}/log/", {"type": "call"}).status_code == 404
    assert b"Acme rollout" not in client.get("/deals/").content
    assert b"Acme rollout" not in client.get("/pipeline/").content


def test_a_teammate_reads_but_sees_no_controls(client: Client, bob, deal):
    page = _signed_in(client, bob).get(f"/deals/{deal.pk}/").content.decode()
    assert "Acme rollout" in page and "/edit/" not in page and "Close as lost" not in page


@override_settings(KEEL_PIPELINE_VISIBILITY="own")
def test_a_setting_limits_salespeople_to_their_own_deals(client: Client, bob, mary, deal):
    assert _signed_in(client, bob).get(f"/deals/{deal.pk}/").status_code == 404
    assert _signed_in(client, mary).get(f"/deals/{deal.pk}/").status_code == 200


def test_deal_pages_need_a_sign_in(client: Client, deal):
    for url in ("/deals/", f"/deals/{deal.pk}/", "/pipeline/"):
        assert client.get(url)["Location"].startswith("/accounts/login/")


# --- bounded queries --------------------------------------------------------------------


def test_the_pages_run_a_bounded_number_of_queries(
    client: Client, alice, deal, new_business, django_assert_max_num_queries
):
    for n in range(30):
        other = deal_create(by=alice, name=f"D{n}", company=deal.company, process=new_business)
        Activity.objects.create(type="call", by=alice, deal=other, at=other.created_at)
        Activity.objects.create(type="call", by=alice, deal=deal, at=deal.created_at)
        ContactFactory(company=deal.company)
    _signed_in(client, alice)
    for url in (f"/deals/{deal.pk}/", "/deals/", "/pipeline/"):
        with django_assert_max_num_queries(20):
            assert client.get(url).status_code == 200


def test_the_deals_tasks_complete_in_place_without_repeating_the_deal(client: Client, alice, deal):
    page = _signed_in(client, alice).get(f"/deals/{deal.pk}/").content.decode()
    assert "Deal or company" not in page and 'name="on_deal" value="1"' in page
    task = deal.tasks.filter(owner=alice).first()
    response = client.post(f"/tasks/{task.pk}/complete/", {"on_deal": "1"}, **HTMX)
    row = response.content.decode()
    assert response.status_code == 200 and row.lstrip().startswith("<tr")
    assert "Reopen" in row and f"/deals/{deal.pk}/" not in row
