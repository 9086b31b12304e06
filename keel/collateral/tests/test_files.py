"""Upload safety: size, type read from the content, names that cannot escape the storage
folder, and files served only to those who may see their piece."""

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from keel.accounts.models import User
from keel.collateral.files import upload_check
from keel.collateral.models import Collateral, CollateralFile
from keel.collateral.services import collateral_submit, collateral_upload
from keel.collateral.tests.conftest import DOCX, EXE, PDF, PNG, PPTX, office, upload
from keel.core.exceptions import InvalidInput

pytestmark = pytest.mark.django_db
MAX = 1024


def check(name: str, content: bytes, max_bytes: int = MAX) -> str:
    """The content type upload_check gives, or the message it refuses with."""
    try:
        checked = upload_check(
            name=name, size=len(content), stream=io.BytesIO(content), max_bytes=max_bytes
        )
    except InvalidInput as error:
        return f"refused: {error.message}"
    return checked.content_type


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- the pure check ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("deck.pdf", PDF, "application/pdf"),
        ("logo.PNG", PNG, "image/png"),
        (
            "proposal.docx",
            DOCX,
            DOCX_TYPE := "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            "pitch.pptx",
            PPTX,
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
        ("prices.csv", "Plan;Prix\nBasic;10 €\n".encode(), "text/csv"),
        ("notes.txt", b"Plain words.\n", "text/plain"),
    ],
)
def test_allowed_types_pass_with_the_type_read_from_their_content(
    name: str, content: bytes, content_type: str
) -> None:
    assert check(name, content) == content_type


def test_a_file_over_the_limit_is_refused_naming_both_sizes() -> None:
    message = check("deck.pdf", PDF + b"x" * 2000, max_bytes=MAX)
    assert message.startswith("refused: The file is ")
    assert f"{len(PDF) + 2000:,} bytes" in message
    assert "1,024 bytes" in message


def test_a_file_larger_than_it_declared_is_refused_as_it_is_read() -> None:
    content = PDF + b"x" * 5000
    with pytest.raises(InvalidInput, match="at most"):
        upload_check(name="deck.pdf", size=10, stream=io.BytesIO(content), max_bytes=MAX * 4)


def test_an_executable_named_pdf_is_refused() -> None:
    assert check("invoice.pdf", EXE) == (
        "refused: invoice.pdf is named as a PDF, but its content is an executable program."
    )


def test_content_of_another_allowed_type_is_refused_for_the_extension() -> None:
    assert check("photo.pdf", PNG).startswith("refused: photo.pdf is named as a PDF")
    assert check("deck.png", PDF).startswith("refused: deck.png is named as a PNG image")


def test_a_zip_that_is_not_an_office_file_is_refused() -> None:
    message = check("report.docx", office("a.txt", "b.txt"))
    assert "is not a Word document" in message
    assert "word/document.xml" in message
    # A real package of another Office kind is not a Word document either.
    assert "is not a Word document" in check("report.docx", PPTX)


def test_types_outside_the_allowlist_and_names_without_extension_are_refused() -> None:
    assert "keeps only these types" in check("run.exe", EXE)
    assert "keeps only these types" in check("page.html", b"<html></html>")
    assert "has no extension" in check("README", b"text")


def test_text_must_be_utf8_without_binary_data() -> None:
    assert "not UTF-8" in check("list.csv", "naïve".encode("latin-1"))
    assert "binary data" in check("list.txt", b"abc\x00def")
    assert "empty" in check("list.txt", b"")


def test_a_name_with_folders_cannot_escape_and_is_kept_only_cleaned() -> None:
    checked = upload_check(
        name="../../etc/passwd.pdf", size=len(PDF), stream=io.BytesIO(PDF), max_bytes=MAX
    )
    assert checked.name == "passwd.pdf"
    assert "/" not in checked.stored_name
    assert ".." not in checked.stored_name
    assert checked.stored_name.endswith(".pdf")
    assert checked.sha256 == hashlib.sha256(PDF).hexdigest()
    assert checked.size == len(PDF)
    windows = upload_check(
        name="..\\..\\evil name.pdf", size=len(PDF), stream=io.BytesIO(PDF), max_bytes=MAX
    )
    assert windows.name == "evil_name.pdf"


# --- through the service and storage ----------------------------------------------------------


def test_an_upload_is_stored_under_a_generated_name_inside_the_media_folder(
    piece: Collateral, mia: User, media: Path
) -> None:
    version = collateral_upload(
        collateral=piece, by=mia, uploaded=upload("../../../outside.pdf", PDF)
    )
    assert version.name == "outside.pdf"
    stored = Path(version.file.path).resolve()
    assert stored.is_relative_to(media.resolve())
    assert "outside" not in stored.name
    assert stored.read_bytes() == PDF
    assert not (media.parent / "outside.pdf").exists()


def test_a_refused_upload_leaves_no_version_and_no_file(
    piece: Collateral, mia: User, media: Path
) -> None:
    files_before = sorted(media.rglob("*"))
    with pytest.raises(InvalidInput, match="executable"):
        collateral_upload(collateral=piece, by=mia, uploaded=upload("x.pdf", EXE))
    assert piece.files.count() == 1
    assert sorted(media.rglob("*")) == files_before


def test_the_size_limit_comes_from_the_settings(
    piece: Collateral, mia: User, settings: Any
) -> None:
    settings.COLLATERAL_MAX_BYTES = 10
    with pytest.raises(InvalidInput, match="at most 10"):
        collateral_upload(collateral=piece, by=mia, uploaded=upload("big.pdf", PDF))


# --- the download -----------------------------------------------------------------------------


def test_a_file_is_served_with_its_stored_type_and_nosniff(piece: Collateral, alice: User) -> None:
    response = client_for(alice).get(reverse("collateral:file", args=[piece.pk, 1]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline")
    assert b"".join(response.streaming_content) == PDF


def test_an_office_file_is_a_download(piece: Collateral, mia: User) -> None:
    collateral_upload(collateral=piece, by=mia, uploaded=upload("proposal.docx", DOCX))
    response = client_for(mia).get(reverse("collateral:file", args=[piece.pk, 2]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="proposal.docx"')


def test_a_drafts_file_is_404_to_others_and_served_to_its_submitter_and_keepers(
    alice: User, bob: User, vera: User, mia: User
) -> None:
    draft = collateral_submit(
        by=alice, title="My ROI sheet", kind="price_sheet", uploaded=upload("roi.pdf")
    )
    url = reverse("collateral:file", args=[draft.pk, 1])
    assert client_for(bob).get(url).status_code == 404
    assert client_for(vera).get(url).status_code == 404
    assert client_for(alice).get(url).status_code == 200
    assert client_for(mia).get(url).status_code == 200


def test_a_missing_version_or_piece_is_404(piece: Collateral, alice: User) -> None:
    client = client_for(alice)
    assert client.get(reverse("collateral:file", args=[piece.pk, 9])).status_code == 404
    assert client.get(reverse("collateral:file", args=[piece.pk + 999, 1])).status_code == 404


def test_anonymous_is_sent_to_sign_in_for_a_file(piece: Collateral) -> None:
    response = Client().get(reverse("collateral:file", args=[piece.pk, 1]))
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_versions_are_numbered_and_the_old_kept(piece: Collateral, mia: User) -> None:
    collateral_upload(collateral=piece, by=mia, uploaded=upload("acme-v2.pdf", PDF + b"%v2\n"))
    numbers = list(
        CollateralFile.objects.filter(collateral=piece)
        .order_by("number")
        .values_list("number", "name")
    )
    assert numbers == [(1, "acme.pdf"), (2, "acme-v2.pdf")]
    first = CollateralFile.objects.get(collateral=piece, number=1)
    assert first.file.read() == PDF
