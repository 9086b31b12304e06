"""Collateral in the deal: recommendations, send → use → activity → exit criterion, the
buyer's share link and its views, revocation, and the deal page's panel."""

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from keel.accounts.models import Role, User
from keel.accounts.tests.factories import UserFactory
from keel.activities.models import Activity, ActivityType
from keel.collateral.models import (
    Collateral,
    CollateralFile,
    CollateralUse,
    Kind,
    ShareLink,
    ShareView,
    Status,
)
from keel.collateral.sharing import (
    LinkGone,
    collateral_send,
    recommended_for,
    share_link_revoke,
    share_view_close,
    share_view_open,
)
from keel.core.exceptions import InvalidInput, NotAllowed
from keel.core.models import AuditEntry
from keel.crm.tests.factories import ContactFactory
from keel.pipeline.models import Deal
from keel.pipeline.rules import CollateralCriterion
from keel.pipeline.selectors import deal_checklist, deal_snapshot
from keel.pipeline.services import deal_create, process_import

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

PROCESS = """
name: Proof deals
kind: new_business
stages:
  - name: Show
    probability: 30
    buyer_step: Evaluate
    exit_criteria:
      - kind: collateral
        collateral: case_study
  - name: Signed
    kind: won
  - name: Dropped
    kind: lost
"""


@pytest.fixture(autouse=True)
def _media(settings: pytest.FixtureRequest, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path  # type: ignore[attr-defined]


def a_piece(
    title: str,
    *,
    kind: str = Kind.CASE_STUDY,
    stages: list[str] | None = None,
    steps: list[str] | None = None,
    status: str = Status.ACTIVE,
    content: bytes | None = PDF,
    content_type: str = "application/pdf",
    url: str = "",
) -> Collateral:
    made = Collateral.objects.create(
        title=title,
        kind=kind,
        description=f"About {title}",
        status=status,
        stages=stages or [],
        buyer_steps=steps or [],
        url=url,
    )
    if content is not None:
        name = default_storage.save(f"collateral/test/{title}.bin", ContentFile(content))
        CollateralFile.objects.create(
            collateral=made,
            number=1,
            file=name,
            name=f"{title}.pdf",
            size=len(content),
            content_type=content_type,
            sha256=hashlib.sha256(content).hexdigest(),
        )
    return made


def sent(deal: Deal, by: User, **kwargs: object) -> CollateralUse:
    return collateral_send(
        collateral=kwargs.pop("collateral", None) or a_piece("Case"),  # type: ignore[arg-type]
        deal=deal,
        by=by,
        **kwargs,  # type: ignore[arg-type]
    )


# --- recommendations ------------------------------------------------------------------


def test_recommendations_serve_the_stage_or_its_buyer_step_best_matches_first(deal: Deal):
    assert deal.stage.name == "Qualify" and deal.stage.buyer_step == "Recognise a need"
    step_only = a_piece("A step only", steps=["Recognise a need"])
    both = a_piece("Z both", stages=["Qualify"], steps=["Recognise a need"])
    stage_only = a_piece("M stage only", stages=["Qualify", "Proposal"])
    a_piece("Other stage", stages=["Proposal"], steps=["Decide"])
    a_piece("Draft", stages=["Qualify"], status=Status.DRAFT)
    a_piece("Retired", stages=["Qualify"], status=Status.RETIRED)
    a_piece("Near miss", stages=["Qualify later"], steps=["Recognise a need, maybe"])

    assert recommended_for(deal=deal) == [both, stage_only, step_only]
    assert recommended_for(deal=deal, limit=2) == [both, stage_only]


# --- send → use → activity → exit criterion ---------------------------------------------


def test_sending_records_the_use_and_an_activity_on_the_deal_and_contact(deal: Deal, alice):
    contact = ContactFactory(company=deal.company)
    case = a_piece("Acme-like results", stages=["Qualify"])
    now = timezone.now()

    use = collateral_send(collateral=case, deal=deal, by=alice, contact=contact, now=now)

    assert (use.collateral, use.deal, use.contact, use.by, use.at) == (
        case,
        deal,
        contact,
        alice,
        now,
    )
    assert use.stage == "Qualify" and use.version == case.files.get()
    activity = Activity.objects.get(pk=use.activity_id)
    assert activity.type == ActivityType.EMAIL and activity.deal == deal
    assert activity.contact == contact
    assert "Case study “Acme-like results” (version 1)" in activity.notes
    assert not ShareLink.objects.exists()  # no link unless asked
    assert AuditEntry.objects.filter(action="collateral.send", object_id=str(use.pk)).exists()


def test_only_active_pieces_with_content_go_out_to_the_deals_contacts(deal: Deal, alice):
    with pytest.raises(InvalidInput, match="not active"):
        sent(deal, alice, collateral=a_piece("Draft", status=Status.DRAFT))
    with pytest.raises(InvalidInput, match="neither a file nor a link"):
        sent(deal, alice, collateral=a_piece("Empty", content=None))
    stranger = ContactFactory()  # at another company, not on the deal
    with pytest.raises(InvalidInput, match="not a contact of"):
        sent(deal, alice, contact=stranger)
    for days in (0, 366):
        with pytest.raises(InvalidInput, match="1 to 365 days"):
            sent(deal, alice, share=True, expires_in_days=days)
    assert not CollateralUse.objects.exists() and not Activity.objects.filter(type="email")


def test_only_those_who_may_edit_the_deal_send(deal: Deal, bob, sam, vera, mary):
    marketer = UserFactory(role=Role.MARKETER)
    for user in (bob, sam, vera, marketer):
        with pytest.raises(NotAllowed):
            sent(deal, user)
    assert sent(deal, mary).by == mary  # Alice's manager


def test_a_sent_piece_meets_the_collateral_exit_criterion_end_to_end(alice, acme):
    version = process_import(source=PROCESS, by=None)
    deal = deal_create(by=alice, name="Proof", company=acme, process=version.process)
    [before] = deal_checklist(deal=deal, stage=deal.stage)
    assert not before.met and before.missing == "Send the buyer a case study."

    sent(deal, alice, collateral=a_piece("A one-pager", kind=Kind.ONE_PAGER, stages=["Show"]))
    assert not deal_checklist(deal=deal, stage=deal.stage)[0].met  # the wrong kind
    sent(deal, alice, collateral=a_piece("The case", stages=["Show"]))

    [after] = deal_checklist(deal=deal, stage=deal.stage)
    assert after.met and after.label == "Case study sent"


def test_the_criterion_since_a_stage_counts_only_what_was_sent_after(deal: Deal, alice):
    sent(deal, alice, now=deal.stage_entered_at - timedelta(days=1))
    criterion = CollateralCriterion(collateral=Kind.CASE_STUDY, since_stage="Qualify")
    snapshot = deal_snapshot(deal=deal, criteria=[criterion])
    assert criterion.missing(snapshot, "Qualify") is not None
    sent(deal, alice)
    snapshot = deal_snapshot(deal=deal, criteria=[criterion])
    assert criterion.missing(snapshot, "Qualify") is None


# --- the buyer's link ---------------------------------------------------------------------


def shared(deal: Deal, by: User, **kwargs: object) -> ShareLink:
    return sent(deal, by, share=True, **kwargs).link


def test_a_share_link_expires_after_the_days_asked(deal: Deal, alice):
    now = timezone.now()
    link = shared(deal, alice, expires_in_days=7, now=now)
    assert link.expires_at == now + timedelta(days=7) and len(link.token) >= 32
    assert "share link until" in link.use.activity.notes


def test_the_buyer_opens_the_link_without_signing_in_and_the_view_is_recorded(
    client: Client, deal: Deal, alice
):
    link = shared(deal, alice, collateral=a_piece("Results at Globex", stages=["Qualify"]))

    response = client.get(f"/s/{link.token}/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Results at Globex" in page and "About Results at Globex" in page
    assert f'data="/s/{link.token}/file/"' in page  # the PDF, embedded
    assert "collateral/share.js" in page and "<script>" not in page
    view = ShareView.objects.get(link=link)
    assert f'data-beacon="/s/{link.token}/seen/{view.beacon}/"' in page
    assert response["X-Robots-Tag"].startswith("noindex")
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Cache-Control"] == "private, no-store"
    assert view.seconds is None


def test_the_beacon_sets_the_time_spent_once(client: Client, deal: Deal, alice):
    link = shared(deal, alice)
    client.get(f"/s/{link.token}/")
    view = ShareView.objects.get(link=link)
    ShareView.objects.filter(pk=view.pk).update(at=view.at - timedelta(minutes=5))
    url = f"/s/{link.token}/seen/{view.beacon}/"

    first = client.post(url, data="42", content_type="text/plain;charset=UTF-8")
    again = client.post(url, data="99", content_type="text/plain;charset=UTF-8")

    assert first.status_code == again.status_code == 204
    view.refresh_from_db()
    assert view.seconds == 42
    assert client.post(url, data="lots", content_type="text/plain").status_code == 400
    wrong = client.post(f"/s/{link.token}/seen/not-a-beacon/", data="5", content_type="text/plain")
    assert wrong.status_code == 204  # nothing to learn from the answer


def test_the_time_spent_stays_within_bounds(deal: Deal, alice):
    link = shared(deal, alice)
    opened = timezone.now() - timedelta(days=3)
    _, view = share_view_open(token=link.token, now=opened)
    # Never more than a day, never more than since it was opened; negative is zero.
    assert share_view_close(beacon=view.beacon, seconds=10**9, now=opened + timedelta(days=2))
    view.refresh_from_db()
    assert view.seconds == 86_400
    _, short = share_view_open(token=link.token, now=opened)
    share_view_close(beacon=short.beacon, seconds=500, now=opened + timedelta(seconds=30))
    _, negative = share_view_open(token=link.token, now=opened)
    share_view_close(beacon=negative.beacon, seconds=-5, now=opened + timedelta(seconds=30))
    assert ShareView.objects.get(pk=short.pk).seconds == 30
    assert ShareView.objects.get(pk=negative.pk).seconds == 0
    assert not share_view_close(beacon=view.beacon, seconds=1)  # once only


def test_expired_revoked_and_unknown_links_answer_the_same_404(client: Client, deal: Deal, alice):
    now = timezone.now()
    expired = shared(deal, alice, expires_in_days=1, now=now - timedelta(days=2))
    revoked = shared(deal, alice)
    share_link_revoke(link=revoked, by=alice)
    retired = shared(deal, alice, collateral=a_piece("Old", stages=["Qualify"]))
    Collateral.objects.filter(pk=retired.use.collateral_id).update(status=Status.RETIRED)
    tokens = [expired.token, revoked.token, retired.token, "x" * 32]

    pages = [client.get(f"/s/{token}/") for token in tokens]
    files = [client.get(f"/s/{token}/file/") for token in tokens]

    assert {r.status_code for r in pages + files} == {404}
    assert len({r.content for r in pages + files}) == 1
    assert all(r["X-Robots-Tag"].startswith("noindex") for r in pages + files)
    assert not ShareView.objects.exists()
    for token in tokens:
        with pytest.raises(LinkGone):
            share_view_open(token=token, now=now)


def test_the_file_is_served_for_a_valid_link_only(client: Client, deal: Deal, alice):
    link = shared(deal, alice)

    response = client.get(f"/s/{link.token}/file/")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF  # type: ignore[attr-defined]
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Disposition"].startswith("inline")
    assert not ShareView.objects.exists()  # the page records views, not its file
    share_link_revoke(link=link, by=alice)
    assert client.get(f"/s/{link.token}/file/").status_code == 404


def test_a_file_not_shown_in_place_is_a_download(client: Client, deal: Deal, alice):
    svg = a_piece(
        "Diagram", content=b"<svg><script>alert(1)</script></svg>", content_type="image/svg+xml"
    )
    link = shared(deal, alice, collateral=svg)
    assert "Download Diagram.pdf" in client.get(f"/s/{link.token}/").content.decode()
    response = client.get(f"/s/{link.token}/file/")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")


def test_a_link_piece_shows_its_address(client: Client, deal: Deal, alice):
    video = a_piece(
        "Demo video",
        kind=Kind.VIDEO,
        content=None,
        url="https://video.example/demo",
        stages=["Qualify"],
    )
    link = shared(deal, alice, collateral=video)
    page = client.get(f"/s/{link.token}/").content.decode()
    assert 'href="https://video.example/demo" rel="noopener noreferrer"' in page
    assert client.get(f"/s/{link.token}/file/").status_code == 404


def test_who_may_revoke_and_a_second_revoke_changes_nothing(deal: Deal, alice, bob, sam, mary):
    link = shared(deal, alice)
    marketer = UserFactory(role=Role.MARKETER)
    for user in (bob, sam):
        with pytest.raises(NotAllowed):
            share_link_revoke(link=link, by=user)
    first = share_link_revoke(link=link, by=marketer)  # the library's keeper
    again = share_link_revoke(link=link, by=mary)
    assert first.revoked_by == again.revoked_by == marketer
    assert again.revoked_at == first.revoked_at
    assert AuditEntry.objects.filter(action="collateral.share_revoke").count() == 1
    for user in (alice, mary):  # the sender and the deal's manager
        other = shared(deal, alice)
        assert share_link_revoke(link=other, by=user).revoked_by == user


# --- the deal page ------------------------------------------------------------------------


def test_the_deal_page_sends_and_revokes(client: Client, deal: Deal, alice):
    contact = ContactFactory(company=deal.company)
    deal.deal_contacts.create(contact=contact)
    case = a_piece("Acme-like results", stages=["Qualify"])
    client.force_login(alice)
    page = client.get(f"/deals/{deal.pk}/").content.decode()
    assert "Acme-like results" in page and f"/deals/{deal.pk}/collateral/send/" in page

    response = client.post(
        f"/deals/{deal.pk}/collateral/send/",
        {"collateral": case.pk, "contact": contact.pk, "share": "1", "expires_in_days": "14"},
    )

    assert response.status_code == 302 and response["Location"] == f"/deals/{deal.pk}/"
    use = CollateralUse.objects.get()
    assert use.contact == contact and use.link.expires_at > timezone.now() + timedelta(days=13)
    page = client.get(f"/deals/{deal.pk}/").content.decode()
    assert f"/s/{use.link.token}/" in page and "0 views" in page and "Revoke" in page
    _, view = share_view_open(token=use.link.token, now=timezone.now() - timedelta(hours=1))
    share_view_close(beacon=view.beacon, seconds=125)
    page = client.get(f"/deals/{deal.pk}/").content.decode()
    assert "1 view, last" in page and "2 min 5 s in all" in page

    client.post(f"/deals/{deal.pk}/collateral/links/{use.link.pk}/revoke/")
    use.link.refresh_from_db()
    assert use.link.revoked_by == alice
    assert "link revoked" in client.get(f"/deals/{deal.pk}/").content.decode()


def test_a_salesperson_of_another_team_cannot_send_or_revoke(
    client: Client, deal: Deal, alice, sam, vera
):
    case = a_piece("Case", stages=["Qualify"])
    link = shared(deal, alice, collateral=case)
    client.force_login(sam)
    assert (
        client.post(f"/deals/{deal.pk}/collateral/send/", {"collateral": case.pk}).status_code
        == 404
    )
    revoke = f"/deals/{deal.pk}/collateral/links/{link.pk}/revoke/"
    assert client.post(revoke).status_code == 404
    client.force_login(vera)  # reads every deal, changes none
    assert (
        client.post(f"/deals/{deal.pk}/collateral/send/", {"collateral": case.pk}).status_code
        == 403
    )
    assert client.post(revoke).status_code == 403
    page = client.get(f"/deals/{deal.pk}/").content.decode()
    assert "Case" in page and link.token not in page and "Revoke" not in page
    assert CollateralUse.objects.count() == 1
    link.refresh_from_db()
    assert link.revoked_at is None


def test_the_page_refuses_a_draft_and_says_so(client: Client, deal: Deal, alice):
    draft = a_piece("Draft", stages=["Qualify"], status=Status.DRAFT)
    client.force_login(alice)
    response = client.post(
        f"/deals/{deal.pk}/collateral/send/", {"collateral": draft.pk}, follow=True
    )
    assert "Nothing was sent: that piece is not active" in response.content.decode()
    assert not CollateralUse.objects.exists()


def test_the_panel_adds_a_bounded_number_of_queries(
    client: Client, deal: Deal, alice, django_assert_max_num_queries
):
    for n in range(15):
        a_piece(f"Piece {n}", stages=["Qualify"], steps=["Recognise a need"])
    client.force_login(alice)
    client.get(f"/deals/{deal.pk}/")  # warm the stage cache
    with django_assert_max_num_queries(20) as few:
        client.get(f"/deals/{deal.pk}/")
    for n in range(10):
        link = shared(deal, alice, collateral=Collateral.objects.get(title=f"Piece {n}"))
        share_view_open(token=link.token, now=timezone.now())
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(f"/deals/{deal.pk}/").content.decode()
    assert page.count("link live until") == 10
