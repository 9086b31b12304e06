"""Shared fixtures of the collateral tests: a marketer, files of each kind, and pieces.

Every test here stores its files under a temporary MEDIA_ROOT, so none lands in the repo.
"""

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from keel.accounts.models import Role, User
from keel.accounts.tests.factories import UserFactory
from keel.collateral.models import Collateral, Kind
from keel.collateral.services import collateral_activate, collateral_create, collateral_upload

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00"


def office(*parts: str) -> bytes:
    """A ZIP holding `parts` (each a tiny XML file): an OOXML package when it holds
    [Content_Types].xml and its main part."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        for part in parts:
            package.writestr(part, "<?xml version='1.0'?><x/>")
    return buffer.getvalue()


DOCX = office("[Content_Types].xml", "_rels/.rels", "word/document.xml")
PPTX = office("[Content_Types].xml", "_rels/.rels", "ppt/presentation.xml")


def upload(name: str = "deck.pdf", content: bytes = PDF) -> SimpleUploadedFile:
    """An uploaded file as a form would hand it to a service; its content type is the
    browser's claim, which the library ignores."""
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    return tmp_path


@pytest.fixture
def mia(db: None) -> User:
    """Mia, the marketer who keeps the library."""
    return UserFactory(username="mia", role=Role.MARKETER)


def make_piece(by: User, title: str = "Acme case study", **fields: Any) -> Collateral:
    values: dict[str, Any] = {"kind": Kind.CASE_STUDY, "stages": ["Proposal"], **fields}
    return collateral_create(by=by, title=title, **values)


@pytest.fixture
def piece(mia: User) -> Collateral:
    """An active case study for Proposal with one PDF version."""
    collateral = make_piece(
        mia,
        description="How Acme cut onboarding time in half.",
        buyer_steps=["Evaluate the offer"],
    )
    collateral_upload(collateral=collateral, by=mia, uploaded=upload("acme.pdf"))
    return collateral_activate(collateral=collateral, by=mia)
