"""Collateral requests: asking, the triage life cycle, the asker's notice, and the pages."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from keel.accounts.models import Role, User
from keel.accounts.tests.factories import UserFactory
from keel.activities.models import Task, TaskSource
from keel.collateral.models import Collateral, CollateralRequest, Kind, RequestStatus, Status
from keel.collateral.requests import request_create, request_triage
from keel.core.exceptions import InvalidInput, NotAllowed, StaleVersion
from keel.core.models import AuditEntry
from keel.pipeline.models import Deal
from keel.planning.forms import version_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def mia(db: None) -> User:
    return UserFactory(username="mia", role=Role.MARKETER)


@pytest.fixture
def asked(alice: User, deal: Deal) -> CollateralRequest:
    return request_create(
        by=alice,
        what="A logistics case study",
        buyer_step="Validate the solution",
        example_deal=deal,
    )


def piece(title: str = "Logistics case study", status: str = Status.ACTIVE) -> Collateral:
    return Collateral.objects.create(
        title=title, kind=Kind.CASE_STUDY, status=status, buyer_steps=["Validate the solution"]
    )


def triage(request: CollateralRequest, by: User, status: str, **kw: Any) -> CollateralRequest:
    request.refresh_from_db()
    return request_triage(
        request=request, by=by, status=status, expected_updated_at=request.updated_at, **kw
    )


def notices(user: User) -> list[Task]:
    """The request notices on `user`'s My day (their deal has plan tasks too)."""
    return list(Task.objects.filter(owner=user, source_key__startswith="collateral_request:"))


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- asking --------------------------------------------------------------------------------


def test_a_salesperson_asks_with_an_example_deal_and_it_is_audited(
    alice: User, asked: CollateralRequest
) -> None:
    assert (asked.status, asked.requested_by, asked.buyer_step) == (
        RequestStatus.OPEN,
        alice,
        "Validate the solution",
    )
    assert AuditEntry.objects.filter(
        action="collateral_request.create", object_id=str(asked.pk)
    ).exists()


def test_the_example_deal_must_be_one_the_asker_may_see(sam: User, deal: Deal) -> None:
    with pytest.raises(NotAllowed):
        request_create(by=sam, what="A deck", example_deal=deal)
    assert not CollateralRequest.objects.exists()


def test_a_viewer_may_not_ask_and_what_is_required(vera: User, bob: User) -> None:
    with pytest.raises(NotAllowed):
        request_create(by=vera, what="A deck")
    with pytest.raises(InvalidInput, match="Say what you need"):
        request_create(by=bob, what="   ")


# --- the life cycle ------------------------------------------------------------------------


def test_the_whole_life_cycle_to_done_tells_the_asker(
    alice: User, mia: User, asked: CollateralRequest
) -> None:
    answer = piece()
    triage(asked, mia, RequestStatus.ACCEPTED)
    triage(asked, mia, RequestStatus.IN_PROGRESS)
    assert notices(alice) == []  # only the end is told
    done = triage(asked, mia, RequestStatus.DONE, answer=answer)
    assert (done.status, done.answer, done.decided_by) == (RequestStatus.DONE, answer, mia)
    [task] = notices(alice)
    assert task.title == "Your request “A logistics case study” is done: Logistics case study"
    assert task.source == TaskSource.AD_HOC
    assert task.due_at is not None and task.done_at is None
    assert AuditEntry.objects.filter(action="collateral_request.triage").count() == 3


def test_a_decline_needs_a_reason_and_tells_the_asker_why(
    alice: User, mia: User, asked: CollateralRequest
) -> None:
    with pytest.raises(InvalidInput, match="Say why"):
        triage(asked, mia, RequestStatus.DECLINED, reason="  ")
    asked.refresh_from_db()
    assert asked.status == RequestStatus.OPEN
    declined = triage(asked, mia, RequestStatus.DECLINED, reason="We have one: the Acme study.")
    assert declined.reason == "We have one: the Acme study."
    [task] = notices(alice)
    assert task.title == (
        "Your request “A logistics case study” was declined: We have one: the Acme study."
    )


@pytest.mark.parametrize("start", [RequestStatus.ACCEPTED, RequestStatus.IN_PROGRESS])
def test_a_request_may_be_declined_while_it_is_worked_on(
    mia: User, asked: CollateralRequest, start: str
) -> None:
    triage(asked, mia, RequestStatus.ACCEPTED)
    if start == RequestStatus.IN_PROGRESS:
        triage(asked, mia, RequestStatus.IN_PROGRESS)
    assert triage(asked, mia, RequestStatus.DECLINED, reason="No budget").status == "declined"


def test_illegal_moves_are_refused_naming_the_allowed_ones(
    mia: User, asked: CollateralRequest
) -> None:
    with pytest.raises(InvalidInput, match="it may become accepted or declined"):
        triage(asked, mia, RequestStatus.DONE)
    with pytest.raises(InvalidInput, match="it may become accepted or declined"):
        triage(asked, mia, RequestStatus.IN_PROGRESS)
    triage(asked, mia, RequestStatus.ACCEPTED)
    with pytest.raises(InvalidInput, match="it may become in progress or declined"):
        triage(asked, mia, RequestStatus.OPEN)
    triage(asked, mia, RequestStatus.DECLINED, reason="No")
    with pytest.raises(InvalidInput, match="a declined request is final"):
        triage(asked, mia, RequestStatus.ACCEPTED)
    with pytest.raises(InvalidInput, match="not a request status"):
        triage(asked, mia, "lost")


def test_an_answer_goes_only_with_done_and_may_not_be_retired(
    mia: User, asked: CollateralRequest
) -> None:
    with pytest.raises(InvalidInput, match="only when the request is done"):
        triage(asked, mia, RequestStatus.ACCEPTED, answer=piece())
    triage(asked, mia, RequestStatus.ACCEPTED)
    triage(asked, mia, RequestStatus.IN_PROGRESS)
    with pytest.raises(InvalidInput, match="retired"):
        triage(asked, mia, RequestStatus.DONE, answer=piece("Old", status=Status.RETIRED))
    assert triage(asked, mia, RequestStatus.DONE).answer is None  # done with no piece named


def test_a_stale_triage_is_refused(mia: User, olivia: User, asked: CollateralRequest) -> None:
    opened = asked.updated_at
    triage(asked, olivia, RequestStatus.ACCEPTED)
    with pytest.raises(StaleVersion):
        request_triage(
            request=asked,
            by=mia,
            status=RequestStatus.DECLINED,
            reason="x",
            expected_updated_at=opened,
        )
    asked.refresh_from_db()
    assert asked.status == RequestStatus.ACCEPTED


@pytest.mark.parametrize("who", ["alice", "bob", "vera"])
def test_only_keepers_triage(
    request: pytest.FixtureRequest, who: str, asked: CollateralRequest
) -> None:
    user = request.getfixturevalue(who)
    with pytest.raises(NotAllowed, match="marketers, sales managers and the owner"):
        triage(asked, user, RequestStatus.ACCEPTED)


@pytest.mark.parametrize("who", ["mia", "mary", "olivia"])
def test_keepers_triage(request: pytest.FixtureRequest, who: str, asked: CollateralRequest) -> None:
    assert triage(asked, request.getfixturevalue(who), RequestStatus.ACCEPTED).status == "accepted"


# --- pages ---------------------------------------------------------------------------------


def test_anonymous_people_are_sent_to_sign_in(asked: CollateralRequest) -> None:
    for url in (
        reverse("collateral_requests:list"),
        reverse("collateral_requests:new"),
        reverse("collateral_requests:detail", args=[asked.pk]),
    ):
        response = Client().get(url)
        assert response.status_code == 302
        assert "/login" in response["Location"] or "login" in response["Location"]


def test_the_list_shows_everyones_requests_filtered_by_status_in_bounded_queries(
    alice: User, bob: User, mia: User, sam: User, django_assert_max_num_queries: Any
) -> None:
    for i in range(12):
        request_create(by=[alice, bob, sam][i % 3], what=f"Tool {i}")
    done = request_create(by=alice, what="Finished thing")
    for status in (RequestStatus.ACCEPTED, RequestStatus.IN_PROGRESS, RequestStatus.DONE):
        triage(done, mia, status)
    client = client_for(sam)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("collateral_requests:list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count("Tool ") == 12 and "Finished thing" not in body  # unanswered by default
    body = client.get(reverse("collateral_requests:list"), {"status": "done"}).content.decode()
    assert "Finished thing" in body and "Tool 1" not in body


def test_a_salesperson_asks_through_the_form(alice: User, deal: Deal) -> None:
    client = client_for(alice)
    page = client.get(reverse("collateral_requests:new"), {"deal": deal.pk})
    assert page.status_code == 200 and "Validate the solution" in page.content.decode()
    response = client.post(
        reverse("collateral_requests:new"),
        {"what": "ROI calculator", "buyer_step": "Evaluate the offer", "example_deal": deal.pk},
    )
    made = CollateralRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("collateral_requests:detail", args=[made.pk])
    assert (made.what, made.example_deal) == ("ROI calculator", deal)


def test_the_form_refuses_a_deal_the_asker_may_not_see(sam: User, deal: Deal) -> None:
    response = client_for(sam).post(
        reverse("collateral_requests:new"), {"what": "ROI calculator", "example_deal": deal.pk}
    )
    assert response.status_code == 400
    assert f"There is no deal #{deal.pk} that you may see" in response.content.decode()
    assert not CollateralRequest.objects.exists()


def test_a_viewer_gets_403_on_the_form(vera: User) -> None:
    assert client_for(vera).get(reverse("collateral_requests:new")).status_code == 403


def test_the_example_deal_is_named_only_to_those_who_may_see_it(
    sam: User, mia: User, asked: CollateralRequest
) -> None:
    url = reverse("collateral_requests:detail", args=[asked.pk])
    assert "Acme rollout" in client_for(mia).get(url).content.decode()
    body = client_for(sam).get(url).content.decode()
    assert "Acme rollout" not in body and "a deal you may not see" in body
    assert "Triage" not in body


def test_a_marketer_triages_on_the_page_and_a_salesperson_gets_403(
    alice: User, bob: User, mia: User, asked: CollateralRequest
) -> None:
    url = reverse("collateral_requests:detail", args=[asked.pk])
    version = version_token(asked)
    refused = client_for(bob).post(url, {"status": "accepted", "version": version})
    assert refused.status_code == 403
    client = client_for(mia)
    assert "Triage" in client.get(url).content.decode()
    no_reason = client.post(url, {"status": "declined", "reason": "", "version": version})
    assert no_reason.status_code == 400 and "Say why" in no_reason.content.decode()
    response = client.post(
        url, {"status": "declined", "reason": "Out of scope", "version": version}
    )
    assert response.status_code == 302
    asked.refresh_from_db()
    assert (asked.status, asked.reason) == (RequestStatus.DECLINED, "Out of scope")
    assert "Out of scope" in notices(alice)[0].title
    stale = client.post(url, {"status": "accepted", "version": version})
    assert stale.status_code == 403  # a final request has no triage form left


def test_a_stale_page_says_so(mia: User, olivia: User, asked: CollateralRequest) -> None:
    url = reverse("collateral_requests:detail", args=[asked.pk])
    version = version_token(asked)
    triage(asked, olivia, RequestStatus.ACCEPTED)
    response = client_for(mia).post(url, {"status": "declined", "reason": "x", "version": version})
    assert response.status_code == 409
    assert "after you opened it" in response.content.decode()


def test_the_detail_page_is_bounded(
    mia: User, asked: CollateralRequest, django_assert_max_num_queries: Any
) -> None:
    client = client_for(mia)
    with django_assert_max_num_queries(6):
        assert client.get(reverse("collateral_requests:detail", args=[asked.pk])).status_code == 200


def test_done_on_the_page_names_the_answering_piece(
    alice: User, mia: User, asked: CollateralRequest
) -> None:
    triage(asked, mia, RequestStatus.ACCEPTED)
    triage(asked, mia, RequestStatus.IN_PROGRESS)
    asked.refresh_from_db()
    answer = piece()
    url = reverse("collateral_requests:detail", args=[asked.pk])
    response = client_for(mia).post(
        url, {"status": "done", "answer": answer.pk, "version": version_token(asked)}
    )
    assert response.status_code == 302
    asked.refresh_from_db()
    assert (asked.status, asked.answer) == (RequestStatus.DONE, answer)
    assert notices(alice)[0].title.endswith(": Logistics case study")
    assert "Logistics case study" in client_for(alice).get(url).content.decode()
