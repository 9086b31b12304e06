"""The library: keeping pieces (services), the activation rule, versions, search and
filters on both databases, who sees and changes what, and the pages."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from keel.accounts.models import User
from keel.collateral.models import Collateral, Kind, Status
from keel.collateral.selectors import buyer_step_names, collateral_search, stage_names
from keel.collateral.services import (
    collateral_activate,
    collateral_create,
    collateral_retire,
    collateral_submit,
    collateral_update,
    collateral_upload,
)
from keel.collateral.tests.conftest import PDF, make_piece, upload
from keel.core.exceptions import InvalidInput, NotAllowed, StaleVersion
from keel.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def titles(pieces: Any) -> list[str]:
    return [p.title for p in pieces]


# --- keeping pieces ---------------------------------------------------------------------------


def test_a_keeper_creates_a_draft_owned_by_them_and_audited(mia: User) -> None:
    created = collateral_create(
        by=mia,
        title="  Pricing one-pager ",
        kind=Kind.ONE_PAGER,
        stages=["Proposal", " Proposal", ""],
        buyer_steps=["Evaluate the offer"],
    )
    assert created.status == Status.DRAFT
    assert created.title == "Pricing one-pager"
    assert created.owner == mia
    assert created.stages == ["Proposal"]
    assert AuditEntry.objects.filter(action="collateral.create", object_id=str(created.pk)).exists()


@pytest.mark.parametrize("role_fixture", ["alice", "vera"])
def test_only_keepers_create(role_fixture: str, request: pytest.FixtureRequest) -> None:
    user = request.getfixturevalue(role_fixture)
    with pytest.raises(NotAllowed, match="marketers, sales managers and the owner"):
        collateral_create(by=user, title="Mine", kind=Kind.DECK)


def test_managers_and_the_owner_keep_the_library_too(mary: User, olivia: User) -> None:
    for keeper in (mary, olivia):
        made = make_piece(keeper, title=f"By {keeper.username}", url="https://example.com/x")
        assert collateral_activate(collateral=made, by=keeper).status == Status.ACTIVE


def test_an_unknown_kind_is_refused_with_the_known_ones(mia: User) -> None:
    with pytest.raises(InvalidInput) as refused:
        collateral_create(by=mia, title="X", kind="poster")
    assert "use one of deck" in refused.value.details[0]


def test_a_stale_edit_is_refused_and_a_fresh_one_saved(piece: Collateral, mia: User) -> None:
    opened = piece.updated_at
    collateral_update(
        collateral=piece, by=mia, data={"title": "Acme story"}, expected_updated_at=opened
    )
    with pytest.raises(StaleVersion, match="after you opened it"):
        collateral_update(
            collateral=piece, by=mia, data={"description": "Other"}, expected_updated_at=opened
        )
    piece.refresh_from_db()
    assert piece.title == "Acme story"
    assert piece.description == "How Acme cut onboarding time in half."


def test_an_active_piece_cannot_lose_its_last_role(piece: Collateral, mia: User) -> None:
    with pytest.raises(InvalidInput, match="must keep a role"):
        collateral_update(
            collateral=piece,
            by=mia,
            data={"stages": [], "buyer_steps": []},
            expected_updated_at=piece.updated_at,
        )


# --- the activation rule ----------------------------------------------------------------------


def test_a_piece_with_no_step_and_no_stage_cannot_be_activated(mia: User) -> None:
    bare = make_piece(mia, stages=[], url="https://example.com/case")
    with pytest.raises(InvalidInput) as refused:
        collateral_activate(collateral=bare, by=mia)
    assert "no buyer step and no stage" in " ".join(refused.value.details)
    bare.refresh_from_db()
    assert bare.status == Status.DRAFT


def test_a_piece_with_no_file_and_no_link_cannot_be_activated(mia: User) -> None:
    empty = make_piece(mia)
    with pytest.raises(InvalidInput) as refused:
        collateral_activate(collateral=empty, by=mia)
    assert refused.value.details == [
        "It has neither a file nor a link: upload a file or give its address."
    ]


def test_a_buyer_step_alone_or_a_link_alone_is_enough(mia: User) -> None:
    step_only = make_piece(
        mia, stages=[], buyer_steps=["Explore options"], url="https://example.com/v"
    )
    assert collateral_activate(collateral=step_only, by=mia).status == Status.ACTIVE


def test_a_salesperson_may_not_activate_or_retire(piece: Collateral, alice: User) -> None:
    with pytest.raises(NotAllowed):
        collateral_activate(collateral=piece, by=alice)
    with pytest.raises(NotAllowed):
        collateral_retire(collateral=piece, by=alice)


def test_retire_keeps_the_piece_and_its_versions(piece: Collateral, mia: User) -> None:
    collateral_retire(collateral=piece, by=mia)
    piece.refresh_from_db()
    assert piece.status == Status.RETIRED
    assert piece.files.count() == 1
    assert AuditEntry.objects.filter(action="collateral.retire").count() == 1


def test_a_new_upload_adds_a_version_and_keeps_the_old(piece: Collateral, mia: User) -> None:
    second = collateral_upload(collateral=piece, by=mia, uploaded=upload("v2.pdf", PDF + b"2"))
    third = collateral_upload(collateral=piece, by=mia, uploaded=upload("v3.pdf", PDF + b"3"))
    assert (second.number, third.number) == (2, 3)
    assert list(piece.files.values_list("number", flat=True)) == [3, 2, 1]
    assert len(set(piece.files.values_list("sha256", flat=True))) == 3


# --- what salespeople make --------------------------------------------------------------------


def test_a_salesperson_submits_a_draft_with_its_file(alice: User) -> None:
    made = collateral_submit(
        by=alice,
        title="ROI calculator",
        kind=Kind.OTHER,
        stages=["Proof"],
        uploaded=upload("roi.pdf"),
    )
    assert made.status == Status.DRAFT
    assert made.submitted_by == alice
    assert made.files.get().uploaded_by == alice


def test_a_submission_needs_a_file_or_a_link(alice: User) -> None:
    with pytest.raises(InvalidInput, match="file you made"):
        collateral_submit(by=alice, title="Nothing", kind=Kind.OTHER)


def test_a_viewer_may_not_submit(vera: User) -> None:
    with pytest.raises(NotAllowed):
        collateral_submit(by=vera, title="Mine", kind=Kind.DECK, url="https://example.com")


def test_a_submitter_edits_their_own_draft_but_not_others_pieces(
    alice: User, bob: User, piece: Collateral
) -> None:
    made = collateral_submit(by=alice, title="Mine", kind=Kind.DECK, url="https://example.com")
    collateral_update(
        collateral=made, by=alice, data={"title": "My deck"}, expected_updated_at=made.updated_at
    )
    with pytest.raises(NotAllowed):
        collateral_update(
            collateral=made, by=bob, data={"title": "Bob's"}, expected_updated_at=made.updated_at
        )
    with pytest.raises(NotAllowed):
        collateral_update(
            collateral=piece, by=alice, data={"title": "X"}, expected_updated_at=piece.updated_at
        )
    with pytest.raises(NotAllowed):
        collateral_upload(collateral=piece, by=alice, uploaded=upload())


# --- search and filters -----------------------------------------------------------------------


@pytest.fixture
def shelf(mia: User, piece: Collateral) -> list[Collateral]:
    """Four pieces besides `piece` (the active Acme case study for Proposal)."""
    pieces = [
        make_piece(
            mia,
            title="Onboarding checklist",
            kind=Kind.ONE_PAGER,
            description="Steps for the first week.",
            stages=["Intake"],
            url="https://example.com/a",
        ),
        make_piece(
            mia,
            title="Security overview deck",
            kind=Kind.DECK,
            description="Onboarding security questions answered; onboarding made safe.",
            stages=["Proof", "Proposal"],
            buyer_steps=["Validate the solution"],
            url="https://example.com/b",
        ),
        make_piece(
            mia,
            title="Price sheet 2027",
            kind=Kind.PRICE_SHEET,
            stages=["Proposal"],
            url="https://example.com/c",
        ),
    ]
    pieces = [collateral_activate(collateral=made, by=mia) for made in pieces]
    pieces.append(
        make_piece(mia, title="Onboarding video (draft)", kind=Kind.VIDEO, stages=["Qualify"])
    )
    return pieces


def test_search_finds_words_in_titles_and_descriptions(shelf: Any, mia: User) -> None:
    found = titles(collateral_search(user=mia, q="onboarding").order_by("title"))
    assert found == [
        "Acme case study",  # "onboarding" in its description
        "Onboarding checklist",
        "Onboarding video (draft)",
        "Security overview deck",
    ]
    assert titles(collateral_search(user=mia, q="security questions")) == ["Security overview deck"]
    assert titles(collateral_search(user=mia, q="secur")) == ["Security overview deck"]
    assert titles(collateral_search(user=mia, q="nothing-like-this")) == []


def test_search_ranks_the_better_match_first(shelf: Any, mia: User) -> None:
    ranked = collateral_search(user=mia, q="onboarding", status="active").order_by("-rank", "pk")
    # The deck says "onboarding" twice in a longer text; the checklist in its short title.
    assert len(titles(ranked)) == 3
    assert all(p.rank is not None for p in ranked)
    ranks = [p.rank for p in ranked]
    assert ranks == sorted(ranks, reverse=True)


def test_the_library_page_lists_the_closer_match_first(mia: User) -> None:
    make_piece(
        mia,
        title="Company history",
        description="A long story of the company, its founders, offices and, once, renewal.",
    )
    make_piece(mia, title="Renewal checklist", description="Renewal steps: renewal made easy.")
    response = client_for(mia).get(reverse("collateral:library"), {"q": "renewal"})
    found = [p.title for p in response.context["listing"].page.object_list]
    assert found == ["Renewal checklist", "Company history"]


def test_search_ignores_operators_a_person_types(shelf: Any, mia: User) -> None:
    for q in ['"onboarding', "onboarding OR", "NOT -*", "title:price", "(", "a & | !"]:
        list(collateral_search(user=mia, q=q))  # no syntax error on either database
    assert titles(collateral_search(user=mia, q="price)(")) == ["Price sheet 2027"]


def test_search_follows_title_edits(shelf: Any, mia: User) -> None:
    sheet = shelf[2]
    collateral_update(
        collateral=sheet, by=mia, data={"title": "Tariffs"}, expected_updated_at=sheet.updated_at
    )
    assert titles(collateral_search(user=mia, q="price")) == []
    assert titles(collateral_search(user=mia, q="tariffs")) == ["Tariffs"]
    sheet.delete()
    assert titles(collateral_search(user=mia, q="tariffs")) == []


def test_filters_by_stage_step_kind_and_status(shelf: Any, mia: User) -> None:
    def of(**filters: str) -> list[str]:
        return sorted(titles(collateral_search(user=mia, **filters)))

    assert of(stage="Proposal") == ["Acme case study", "Price sheet 2027", "Security overview deck"]
    assert of(stage="Propos") == []  # a name is matched whole
    assert of(stage="Proof", q="security") == ["Security overview deck"]
    assert of(buyer_step="Evaluate the offer") == ["Acme case study"]
    assert of(kind=Kind.DECK) == ["Security overview deck"]
    assert of(status=Status.DRAFT) == ["Onboarding video (draft)"]
    assert of(stage="Proposal", kind=Kind.PRICE_SHEET) == ["Price sheet 2027"]


def test_a_stage_name_with_quotes_and_accents_matches_exactly(mia: User) -> None:
    odd = make_piece(mia, title="Odd", stages=['Démo "live"'], url="https://example.com/o")
    found = collateral_search(user=mia, stage='Démo "live"')
    assert list(found) == [odd]


def test_stage_and_step_choices_come_from_the_active_processes() -> None:
    stages = stage_names()
    assert stages[:3] == ["Qualify", "1st meeting", "Proof"]
    assert stages.count("Proposal") == 1  # in New business and Renewal, offered once
    assert "Evaluate the offer" in buyer_step_names()


# --- who sees what ----------------------------------------------------------------------------


def test_visibility_of_drafts_and_retired_pieces(
    shelf: Any, mia: User, alice: User, bob: User, vera: User, piece: Collateral
) -> None:
    own = collateral_submit(by=alice, title="Alice's tool", kind=Kind.OTHER, url="https://e.com")
    collateral_retire(collateral=shelf[2], by=mia)
    everything = {p.title for p in collateral_search(user=mia)}
    assert {"Onboarding video (draft)", "Alice's tool", "Price sheet 2027"} <= everything
    active = {"Acme case study", "Onboarding checklist", "Security overview deck"}
    assert {p.title for p in collateral_search(user=vera)} == active
    assert {p.title for p in collateral_search(user=bob)} == active
    assert {p.title for p in collateral_search(user=alice)} == active | {own.title}
    assert titles(collateral_search(user=vera, status="draft")) == []


# --- pages ------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(piece: Collateral) -> None:
    for url in (reverse("collateral:library"), reverse("collateral:detail", args=[piece.pk])):
        response = Client().get(url)
        assert response.status_code == 302
        assert "login" in response["Location"]


def test_the_library_page_searches_and_shows_each_piece(
    shelf: Any, alice: User, piece: Collateral
) -> None:
    response = client_for(alice).get(reverse("collateral:library"), {"q": "acme"})
    assert response.status_code == 200
    text = response.content.decode()
    assert "Acme case study" in text
    assert "Security overview deck" not in text
    assert "v1 · acme.pdf" in text
    assert "Proposal" in text and "Evaluate the offer" in text
    assert reverse("collateral:submit") in text
    assert reverse("collateral:new") not in text


def test_the_library_page_runs_a_bounded_number_of_queries(
    mia: User, django_assert_max_num_queries: Any
) -> None:
    for n in range(30):
        made = make_piece(mia, title=f"Piece {n:02}", description="Onboarding guide")
        collateral_upload(collateral=made, by=mia, uploaded=upload(f"p{n}.pdf"))
    client = client_for(mia)
    client.get(reverse("collateral:library"))  # warm the session and caches
    with django_assert_max_num_queries(8):
        response = client.get(reverse("collateral:library"), {"q": "onboarding"})
    assert response.content.decode().count("v1 · p") == 30
    with django_assert_max_num_queries(8):
        response = client.get(reverse("collateral:library"), {"stage": "Proposal"})
    assert response.status_code == 200


def test_the_detail_page_shows_versions_and_uses(piece: Collateral, alice: User) -> None:
    response = client_for(alice).get(reverse("collateral:detail", args=[piece.pk]))
    text = response.content.decode()
    assert response.status_code == 200
    assert "acme.pdf" in text
    assert "used 0 times" in text
    assert reverse("collateral:file", args=[piece.pk, 1]) in text
    assert reverse("collateral:edit", args=[piece.pk]) not in text


def test_a_draft_page_is_404_to_a_viewer_and_other_salespeople(
    mia: User, vera: User, bob: User
) -> None:
    draft = make_piece(mia, title="Secret plan")
    for user in (vera, bob):
        response = client_for(user).get(reverse("collateral:detail", args=[draft.pk]))
        assert response.status_code == 404


def test_a_salesperson_gets_403_on_keeping_pages(piece: Collateral, alice: User) -> None:
    client = client_for(alice)
    assert client.get(reverse("collateral:new")).status_code == 403
    assert client.get(reverse("collateral:edit", args=[piece.pk])).status_code == 403
    assert client.post(reverse("collateral:activate", args=[piece.pk])).status_code == 403
    assert client.post(reverse("collateral:retire", args=[piece.pk])).status_code == 403
    response = client.post(reverse("collateral:upload", args=[piece.pk]), {"file": upload("x.pdf")})
    assert response.status_code == 403
    assert piece.files.count() == 1


def test_a_keeper_creates_edits_and_activates_through_the_pages(mia: User) -> None:
    client = client_for(mia)
    assert client.get(reverse("collateral:new")).status_code == 200
    response = client.post(
        reverse("collateral:new"),
        {
            "title": "Buyer's guide",
            "kind": Kind.ONE_PAGER,
            "description": "",
            "owner": mia.pk,
            "stages": ["Qualify"],
            "buyer_steps": [],
            "url": "",
        },
    )
    made = Collateral.objects.get(title="Buyer's guide")
    assert response.status_code == 302
    assert made.stages == ["Qualify"]
    # Without content the rule refuses, and the page says why.
    response = client.post(reverse("collateral:activate", args=[made.pk]), follow=True)
    assert "neither a file nor a link" in response.content.decode()
    response = client.post(
        reverse("collateral:upload", args=[made.pk]), {"file": upload("guide.pdf")}
    )
    assert response.status_code == 302
    client.post(reverse("collateral:activate", args=[made.pk]))
    made.refresh_from_db()
    assert made.status == Status.ACTIVE
    edit = client.get(reverse("collateral:edit", args=[made.pk]))
    assert edit.status_code == 200
    version = edit.context["form"].initial["version"]
    response = client.post(
        reverse("collateral:edit", args=[made.pk]),
        {
            "title": "The buyer's guide",
            "kind": Kind.ONE_PAGER,
            "owner": mia.pk,
            "stages": ["Qualify", "1st meeting"],
            "version": version,
        },
    )
    assert response.status_code == 302
    made.refresh_from_db()
    assert made.stages == ["Qualify", "1st meeting"]
    stale = client.post(
        reverse("collateral:edit", args=[made.pk]),
        {"title": "Late", "kind": Kind.ONE_PAGER, "owner": mia.pk, "version": version},
    )
    assert stale.status_code == 409


def test_a_refused_upload_shows_why_on_the_page(piece: Collateral, mia: User) -> None:
    response = client_for(mia).post(
        reverse("collateral:upload", args=[piece.pk]),
        {"file": upload("trojan.pdf", b"MZ\x90\x00" + b"\x00" * 60)},
    )
    assert response.status_code == 400
    assert "executable" in response.content.decode()
    assert piece.files.count() == 1


def test_a_salesperson_submits_a_tool_through_the_page(alice: User) -> None:
    client = client_for(alice)
    assert client.get(reverse("collateral:submit")).status_code == 200
    response = client.post(
        reverse("collateral:submit"),
        {
            "title": "My objection handler",
            "kind": Kind.ONE_PAGER,
            "stages": ["Proof"],
            "file": upload("objections.pdf"),
        },
    )
    made = Collateral.objects.get(title="My objection handler")
    assert response.status_code == 302
    assert (made.status, made.submitted_by) == (Status.DRAFT, alice)
    assert client.get(reverse("collateral:detail", args=[made.pk])).status_code == 200


def test_an_unknown_filter_value_is_dropped_alone(shelf: Any, alice: User) -> None:
    response = client_for(alice).get(
        reverse("collateral:library"), {"q": "price", "stage": "No such stage"}
    )
    text = response.content.decode()
    assert "Price sheet 2027" in text
    assert "Acme case study" not in text


def test_a_submitter_edits_their_draft_through_the_page_but_not_its_owner(
    alice: User, mia: User
) -> None:
    made = collateral_submit(by=alice, title="Mine", kind=Kind.DECK, url="https://example.com")
    client = client_for(alice)
    page = client.get(reverse("collateral:edit", args=[made.pk]))
    assert "owner" not in page.context["form"].fields
    response = client.post(
        reverse("collateral:edit", args=[made.pk]),
        {
            "title": "My deck",
            "kind": Kind.DECK,
            "owner": mia.pk,
            "url": "https://example.com",
            "stages": ["Proof"],
            "version": page.context["form"].initial["version"],
        },
    )
    assert response.status_code == 302
    made.refresh_from_db()
    assert (made.title, made.owner, made.stages) == ("My deck", alice, ["Proof"])


def test_a_viewer_may_not_submit_through_the_page(vera: User) -> None:
    assert client_for(vera).get(reverse("collateral:submit")).status_code == 403
