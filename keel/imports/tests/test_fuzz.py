"""The readers fuzzed: whatever file comes in, an import reads rows or says what is wrong.

The promise the import page makes is that a bad file is refused with a reason
(FileUnreadable) and a bad row becomes a problem ("line N: reason"); no file may end
in a crash instead. Pure functions, no database: the examples are derandomized, so CI
sees the same ones every run. A longer run by hand:

    KEEL_FUZZ_EXAMPLES=20000 pytest keel/imports/tests/test_fuzz.py -p no:randomly
"""

import csv
import io
import math
import os
import zipfile
from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from keel.imports.parse import (
    SNIFF_CHARS,
    Cell,
    FileUnreadable,
    Problem,
    Table,
    amount_parse,
    datetime_parse,
    integer_parse,
    table_read,
)
from keel.imports.presets import _PRESETS, KINDS, mapping_resolve
from keel.imports.records import StageInfo, records_check

EXAMPLES = int(os.environ.get("KEEL_FUZZ_EXAMPLES", "0"))


def fuzz(default: int) -> settings:
    """`default` examples in CI (all the fuzz tests together stay well under 30 s), or
    KEEL_FUZZ_EXAMPLES each when set."""
    return settings(
        max_examples=EXAMPLES or default,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


STAGES = [
    StageInfo("Qualify", "open"),
    StageInfo("Proposal", "open"),
    StageInfo("Intake", "won"),
    StageInfo("Lost", "lost"),
]
STAGE_MAP = {"Closed Won": "Intake", "Closed Lost": "Lost", "Prospecting": "Qualify"}


def read_everything(name: str, data: bytes) -> None:
    """What an import does with a file before it touches the database: read it, map its
    columns for every kind, check every row. Only FileUnreadable may come out."""
    try:
        table = table_read(name=name, data=data)
    except FileUnreadable as error:
        assert str(error)
        return
    assert isinstance(table, Table)
    for kind in KINDS:
        resolved = mapping_resolve(kind=kind, headers=table.headers)
        checked = records_check(
            table=table, kind=kind, resolved=resolved, stages=STAGES, stage_map=STAGE_MAP
        )
        assert checked.total == len(table.rows)
        for problem in checked.problems:
            assert problem.line >= 1 and problem.reason


# --- CSV --------------------------------------------------------------------------------

HEADERS = sorted(
    {alias for aliases in _PRESETS.values() for names in aliases.values() for alias in names}
    | {'Date entered "Closed Won (Sales Pipeline)"', "entered: Proposal"}
)
NASTY = [
    "",
    '"',
    '""',
    "\x00",
    "\ufeff",
    "\r",
    "\n",
    "\r\n",
    ",",
    ";",
    "\t",
    '=HYPERLINK("http://x")',
    "'=1+1",
    "+1",
    "-1",
    "@SUM(A1)",
    "(1,000.00)",
    "€ 1.234,56",
    "1e309",
    "NaN",
    "31/12/2026",
    "12/31/2026 2:30 PM",
    "2026-02-30",
    "2026-01-01T25:61:00+99:99",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01",
    "99/99/9999",
    "Closed Won",
    "Prospecting",
    "won",
    "a@b.c",
]
cell_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40),
    st.from_regex(r"[0-9.,' €$()\-]{1,20}", fullmatch=True),
    st.from_regex(r"\d{1,2}[/.\-]\d{1,2}[/.\-]\d{4}( \d{1,2}:\d{2})?", fullmatch=True),
    st.builds(lambda c, n: c * n, st.sampled_from('x"\r,'), st.integers(1000, 200_000)),
)
ENCODINGS = ["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16", "mac_roman"]


def _csv_bytes(
    headers: list[str], rows: list[list[str]], sep: str, encoding: str, quote: bool = True
) -> bytes:
    """The rows as an export writes them, or (quote=False) as a careless script does."""

    def quoted(value: str) -> str:
        if quote and any(c in value for c in '"\r\n,;\t'):
            return '"' + value.replace('"', '""') + '"'
        return value

    lines = [sep.join(quoted(v) for v in row) for row in [headers, *rows]]
    return "\r\n".join(lines).encode(encoding, errors="replace")


@fuzz(300)
@given(data=st.binary(max_size=2000), name=st.sampled_from(["in.csv", "in.txt", "in"]))
@example(data=b"\x00\x00\x00", name="in.csv")
@example(data=b"\xef\xbb\xbf", name="in.csv")
def test_any_bytes_as_csv(data: bytes, name: str) -> None:
    read_everything(name, data)


@fuzz(200)
@given(text=st.text(max_size=1000), encoding=st.sampled_from(ENCODINGS))
def test_any_text_in_any_encoding(text: str, encoding: str) -> None:
    read_everything("in.csv", text.encode(encoding, errors="replace"))


@fuzz(200)
@given(
    headers=st.lists(st.sampled_from(HEADERS) | st.sampled_from(NASTY), min_size=1, max_size=8),
    rows=st.lists(st.lists(cell_text, max_size=9), max_size=6),
    sep=st.sampled_from([",", ";", "\t"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
    quote=st.booleans(),
)
@example(headers=["Name"], rows=[["x" * 200_000]], sep=",", encoding="utf-8", quote=True)
def test_export_like_csv(
    headers: list[str], rows: list[list[str]], sep: str, encoding: str, quote: bool
) -> None:
    read_everything("export.csv", _csv_bytes(headers, rows, sep, encoding, quote))


def test_a_value_past_the_csv_readers_limit_is_a_line_problem() -> None:
    """Found by the fuzzing: csv.Error escaped (the reader stops at 128 KiB a value)."""
    data = b'Name,Notes\r\nAcme,ok\r\nGlobex,"' + b"x" * 200_000 + b'"\r\n'
    with pytest.raises(FileUnreadable, match="Line 3: a value too long to read"):
        table_read(name="companies.csv", data=data)


def test_the_separator_is_sniffed_from_a_bounded_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by the fuzzing: the sniffer took minutes on a long quoted value full of commas."""
    seen: list[int] = []
    sniff = csv.Sniffer.sniff

    def spy(self: csv.Sniffer, sample: str, delimiters: str | None = None) -> type[csv.Dialect]:
        seen.append(len(sample))
        return sniff(self, sample, delimiters)

    monkeypatch.setattr(csv.Sniffer, "sniff", spy)
    data = 'Name;Notes\r\nAcme;"{}"\r\n'.format("," * 100_000).encode()
    table = table_read(name="companies.csv", data=data)
    assert seen == [SNIFF_CHARS]
    assert table.delimiter == ";"
    assert table.rows == [(2, ["Acme", "," * 100_000])]


# --- XLSX -------------------------------------------------------------------------------


def _workbook(rows: list[list[Cell]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


REAL_WORKBOOK = _workbook(
    [
        ["Deal Name", "Amount", "Deal Stage", "Close Date", "Create Date", "Record ID"],
        ["Acme", 1234.5, "Closed Won", datetime(2026, 12, 31), date(2026, 1, 5), 1],
        ["Globex", "€ 1.000", "Prospecting", 46000, "2026-01-05", 2],
    ]
)
# Any text but the characters XML 1.0 cannot hold (openpyxl refuses to write those).
_XML_SAFE = st.characters(
    blacklist_categories=["Cs"],
    blacklist_characters=[chr(c) for c in [*range(0, 9), 11, 12, *range(14, 32)]],
)
xlsx_cell = st.one_of(
    st.none(),
    st.text(alphabet=_XML_SAFE, max_size=30),
    st.sampled_from(["Closed Won", "31/12/2026", "€ 1.234,56", "=1/0", "call", "a@b.c"]),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False, places=4),
    st.dates(),
    st.datetimes(),
)


@fuzz(100)
@given(
    headers=st.lists(st.sampled_from(HEADERS), min_size=1, max_size=8),
    rows=st.lists(st.lists(xlsx_cell, max_size=9), max_size=5),
)
def test_export_like_xlsx(headers: list[str], rows: list[list[Cell]]) -> None:
    read_everything("export.xlsx", _workbook([list(headers), *rows]))


@fuzz(150)
@given(data=st.binary(max_size=3000), name=st.sampled_from(["in.xlsx", "in.xlsm", "in"]))
@example(data=b"PK\x03\x04", name="in")
@example(data=b"PK\x05\x06" + b"\x00" * 18, name="in.xlsx")  # an empty zip
def test_any_bytes_as_xlsx(data: bytes, name: str) -> None:
    read_everything(name, data)


@fuzz(150)
@given(cut=st.integers(0, len(REAL_WORKBOOK)), flip=st.integers(0, len(REAL_WORKBOOK) - 1))
def test_a_truncated_or_damaged_workbook(cut: int, flip: int) -> None:
    read_everything("deals.xlsx", REAL_WORKBOOK[:cut])
    damaged = bytearray(REAL_WORKBOOK)
    damaged[flip] ^= 0xFF
    read_everything("deals.xlsx", bytes(damaged))


def _sheet_data_offset(workbook: bytes) -> int:
    with zipfile.ZipFile(io.BytesIO(workbook)) as archive:
        member = archive.getinfo("xl/worksheets/sheet1.xml")
    header = workbook[member.header_offset : member.header_offset + 30]
    name_length, extra_length = (
        int.from_bytes(header[26:28], "little"),
        int.from_bytes(header[28:30], "little"),
    )
    return member.header_offset + 30 + name_length + extra_length


@pytest.mark.parametrize("at", [0, 5, 40])
def test_a_workbook_with_a_corrupt_sheet_is_refused(at: int) -> None:
    """Found by the fuzzing: zlib.error and XML ParseError escaped from openpyxl."""
    damaged = bytearray(REAL_WORKBOOK)
    damaged[_sheet_data_offset(REAL_WORKBOOK) + at] ^= 0xFF
    with pytest.raises(FileUnreadable, match="workbook"):
        table_read(name="deals.xlsx", data=bytes(damaged))


def test_a_zip_of_an_unknown_version_is_refused() -> None:
    """Found by the long fuzzing run: NotImplementedError escaped from zipfile."""
    damaged = bytearray(REAL_WORKBOOK)
    entry = REAL_WORKBOOK.index(b"PK\x01\x02")  # the first central directory entry
    damaged[entry + 6 : entry + 8] = (235).to_bytes(2, "little")  # needs zip version 23.5
    with pytest.raises(FileUnreadable, match=r"zip file version 23\.5"):
        table_read(name="deals.xlsx", data=bytes(damaged))


def test_a_workbook_whose_sheet_is_not_xml_is_refused() -> None:
    with zipfile.ZipFile(io.BytesIO(REAL_WORKBOOK)) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts["xl/worksheets/sheet1.xml"] = b"<worksheet><sheetData><row"
    with pytest.raises(FileUnreadable, match="workbook"):
        table_read(name="deals.xlsx", data=_zip(parts))


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.filterwarnings("ignore:Workbook contains no stylesheet")
@fuzz(100)
@given(
    member=st.sampled_from(
        [
            "[Content_Types].xml",
            "xl/workbook.xml",
            "xl/worksheets/sheet1.xml",
            "xl/_rels/workbook.xml.rels",
            "xl/sharedStrings.xml",
            "xl/styles.xml",
        ]
    ),
    content=st.binary(max_size=500)
    | st.sampled_from(
        [b"", b"<", b"<?xml version='1.0'?><x/>", b"<!DOCTYPE x [<!ENTITY a 'a'>]><x>&a;</x>"]
    ),
)
def test_a_workbook_with_a_broken_part(member: str, content: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(REAL_WORKBOOK)) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts[member] = content
    read_everything("deals.xlsx", _zip(parts))


def test_a_zip_bomb_is_refused_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    """A small file that unpacks past what Keel reads (1 GB; 1 MB here) is refused."""
    monkeypatch.setattr("keel.imports.parse.MAX_XLSX_UNPACKED", 1024**2)
    with zipfile.ZipFile(io.BytesIO(REAL_WORKBOOK)) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts["xl/sharedStrings.xml"] = b" " * 1024**2 + parts.get("xl/sharedStrings.xml", b"<sst/>")
    bomb = _zip(parts)
    assert len(bomb) < 20_000
    with pytest.raises(FileUnreadable, match=r"unpacks to 0\.0 GB, more than Keel reads"):
        table_read(name="deals.xlsx", data=bomb)


def test_a_sheet_claiming_a_million_empty_rows_is_read_quickly() -> None:
    """One cell at the far corner: a reader that fills in every empty row would not end."""
    sheet = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<dimension ref="A1:XFD1048576"/><sheetData>'
        b'<row r="1"><c r="A1" t="inlineStr"><is><t>Name</t></is></c></row>'
        b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
        b"</sheetData></worksheet>"
    )
    with zipfile.ZipFile(io.BytesIO(REAL_WORKBOOK)) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts["xl/worksheets/sheet1.xml"] = sheet
    table = table_read(name="big.xlsx", data=_zip(parts))
    assert table.headers == ["Name"]
    assert table.rows == [(1_048_576, [None])]  # its one value is past the header's column
    assert table.problems == [
        Problem(1_048_576, "", "16384 values for 1 columns: check the separator")
    ]


def test_a_sheet_past_excels_last_row_is_refused() -> None:
    sheet = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Name</t></is></c></row>'
        b'<row r="2000000000"><c r="A2000000000" t="inlineStr"><is><t>x</t></is></c></row>'
        b"</sheetData></worksheet>"
    )
    with zipfile.ZipFile(io.BytesIO(REAL_WORKBOOK)) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts["xl/worksheets/sheet1.xml"] = sheet
    with pytest.raises(FileUnreadable, match="Row 1048577: the sheet holds more than Keel reads"):
        table_read(name="big.xlsx", data=_zip(parts))


# --- values -----------------------------------------------------------------------------

any_cell = st.one_of(
    cell_text,
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(),
    st.dates(),
    st.datetimes(),
    st.none(),
)


@fuzz(400)
@given(value=any_cell, date_format=st.sampled_from(["", "%d/%m/%Y", "%", "%Y-%m-%d %z"]))
@example(value=math.inf, date_format="")
@example(value=math.nan, date_format="")
@example(value=Decimal("NaN"), date_format="")
@example(value=2958465.9999999999, date_format="")
def test_values_parse_or_say_why(value: Cell, date_format: str) -> None:
    for parse in (
        amount_parse,
        integer_parse,
        lambda v: datetime_parse(v, date_format=date_format),
        lambda v: datetime_parse(v, order="mdy"),
    ):
        try:
            parse(value)
        except ValueError as error:
            assert str(error)


@pytest.mark.parametrize(
    "value", [math.inf, -math.inf, math.nan, Decimal("NaN"), Decimal("-Infinity")]
)
def test_numbers_that_are_no_amount_are_refused(value: Cell) -> None:
    with pytest.raises(ValueError, match=r"not an amount|not a whole number"):
        integer_parse(value)
