"""Upload safety: what a collateral file may be, read from its content, not its name.

Pure: no database and no storage. `upload_check` reads an uploaded file once, in chunks
(its SHA-256 computed on the way), and says what it is, or refuses it with a message a
person can act on: too big, a type the library does not keep, or content that is not
what its name claims (an executable named .pdf, a ZIP named .docx). The stored name is
generated, so nothing a person types can reach outside the storage folder; the name it
was uploaded with is kept, cleaned, only to show and to download it under.
"""

import codecs
import hashlib
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO

import puremagic
from django.core.exceptions import SuspiciousFileOperation
from django.template.defaultfilters import filesizeformat
from django.utils.text import get_valid_filename

from keel.core.exceptions import InvalidInput

CHUNK = 64 * 1024
HEAD = 8 * 1024  # what puremagic reads to name the content
NAME_MAX = 200  # CollateralFile.name


@dataclass(frozen=True)
class FileType:
    label: str
    content_type: str
    magic: frozenset[str]  # the puremagic extensions content of this type reads as
    inline: bool  # shown in the browser, rather than downloaded
    office_part: str = ""  # an OOXML package's main part
    text: bool = False


PDF = FileType("a PDF", "application/pdf", frozenset({".pdf"}), inline=True)
PNG = FileType("a PNG image", "image/png", frozenset({".png"}), inline=True)
JPEG = FileType(
    "a JPEG image", "image/jpeg", frozenset({".jpg", ".jpeg", ".jpe", ".jfif"}), inline=True
)
GIF = FileType("a GIF image", "image/gif", frozenset({".gif"}), inline=True)
WEBP = FileType("a WebP image", "image/webp", frozenset({".webp"}), inline=True)
MP4 = FileType("an MP4 video", "video/mp4", frozenset({".mp4", ".m4v"}), inline=True)
MOV = FileType("a QuickTime video", "video/quicktime", frozenset({".mov", ".qt"}), inline=True)
OOXML = frozenset({".docx", ".xlsx", ".pptx"})
DOCX = FileType(
    "a Word document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    OOXML,
    inline=False,
    office_part="word/document.xml",
)
XLSX = FileType(
    "an Excel workbook",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    OOXML,
    inline=False,
    office_part="xl/workbook.xml",
)
PPTX = FileType(
    "a PowerPoint presentation",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    OOXML,
    inline=False,
    office_part="ppt/presentation.xml",
)
CSV = FileType("a CSV file", "text/csv", frozenset(), inline=False, text=True)
TEXT = FileType("a text file", "text/plain", frozenset(), inline=False, text=True)

# The allowlist, by the extension a name declares (the extension the file is stored with).
TYPES: dict[str, FileType] = {
    ".pdf": PDF,
    ".png": PNG,
    ".jpg": JPEG,
    ".jpeg": JPEG,
    ".gif": GIF,
    ".webp": WEBP,
    ".mp4": MP4,
    ".mov": MOV,
    ".docx": DOCX,
    ".xlsx": XLSX,
    ".pptx": PPTX,
    ".csv": CSV,
    ".txt": TEXT,
}
INLINE_TYPES = frozenset(t.content_type for t in TYPES.values() if t.inline)


@dataclass(frozen=True)
class Checked:
    """An upload that passed: what to store and what to record of it."""

    name: str  # the name it came with, cleaned, for CollateralFile.name
    stored_name: str  # generated: a uuid and the extension
    content_type: str
    size: int
    sha256: str


def size_check(*, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise InvalidInput(
            f"The file is {filesizeformat(size)} ({size:,} bytes); the library takes files "
            f"of at most {filesizeformat(max_bytes)} ({max_bytes:,} bytes)."
        )


def extension_of(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).suffix.lower()


def clean_name(name: str, extension: str) -> str:
    """The uploaded name without any folder part, safe to show and to download under."""
    base = PurePosixPath(name.replace("\\", "/")).name
    try:
        cleaned = get_valid_filename(base)
    except SuspiciousFileOperation:
        cleaned = f"file{extension}"
    if len(cleaned) > NAME_MAX:
        cleaned = cleaned[: NAME_MAX - len(extension)] + extension
    return cleaned


def content_names(head: bytes) -> list[tuple[str, str]]:
    """What puremagic reads `head` as: (extension, name) pairs, the likeliest first."""
    if not head:
        return []
    try:
        matches = puremagic.magic_string(head)
    except puremagic.PureError:
        return []
    return [(m.extension.lower(), m.name) for m in matches]


def _describe(names: list[tuple[str, str]]) -> str:
    if not names:
        return "content of no known type"
    if any("executable" in name.lower() for _, name in names):
        return "an executable program"
    return names[0][1] or names[0][0]


def _office_check(stream: IO[bytes], kind: FileType, name: str) -> None:
    try:
        stream.seek(0)
        with zipfile.ZipFile(stream) as package:
            parts = set(package.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise InvalidInput(
            f"{name} is not {kind.label}: it is not a readable ZIP package."
        ) from None
    if "[Content_Types].xml" not in parts or kind.office_part not in parts:
        raise InvalidInput(
            f"{name} is not {kind.label}: it is a ZIP archive without "
            f"[Content_Types].xml and {kind.office_part}. Save it from Office again."
        )


def upload_check(*, name: str, size: int, stream: IO[bytes], max_bytes: int) -> Checked:
    """Check one upload and describe it, or raise InvalidInput saying why it is refused."""
    size_check(size=size, max_bytes=max_bytes)
    extension = extension_of(name)
    kind = TYPES.get(extension)
    shown = clean_name(name, extension)
    if kind is None:
        known = ", ".join(sorted(TYPES))
        raise InvalidInput(
            f"{shown}: the library keeps only these types of file: {known}."
            if extension
            else f"{shown} has no extension: name it for its type ({known})."
        )
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    head = b""
    read = 0
    stream.seek(0)
    while chunk := stream.read(CHUNK):
        read += len(chunk)
        # What was declared may be smaller than what arrives: count what is read.
        size_check(size=read, max_bytes=max_bytes)
        digest.update(chunk)
        if len(head) < HEAD:
            head += chunk[: HEAD - len(head)]
        if kind.text:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                raise InvalidInput(
                    f"{shown} is not {kind.label}: it is not UTF-8 text. Save it as UTF-8."
                ) from None
            if b"\x00" in chunk:
                raise InvalidInput(f"{shown} is not {kind.label}: it holds binary data.")
    if read == 0:
        raise InvalidInput(f"{shown} is empty.")
    if kind.text:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise InvalidInput(
                f"{shown} is not {kind.label}: it is not UTF-8 text. Save it as UTF-8."
            ) from None
    else:
        names = content_names(head)
        if not any(ext in kind.magic for ext, _ in names):
            raise InvalidInput(
                f"{shown} is named as {kind.label}, but its content is {_describe(names)}."
            )
        if kind.office_part:
            _office_check(stream, kind, shown)
    stream.seek(0)
    return Checked(
        name=shown,
        stored_name=f"{uuid.uuid4().hex}{extension}",
        content_type=kind.content_type,
        size=read,
        sha256=digest.hexdigest(),
    )
