"""The pure reader: encodings, separators, blank lines, duplicates, dates and amounts."""

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl
import pytest

from keel.imports.parse import (
    FileUnreadable,
    amount_parse,
    date_order_detect,
    datetime_parse,
    duplicates,
    table_read,
)

ROWS = [
    ["Name", "Domain", "Region"],
    ["Müller GmbH", "mueller.example", "Köln"],
    ["Café Crème", "", "Paris"],
]


def _csv(delimiter: str) -> str:
    return "\r\n".join(delimiter.join(row) for row in ROWS) + "\r\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_each_encoding_reads_the_same_text(encoding: str) -> None:
    table = table_read(name="companies.csv", data=_csv(",").encode(encoding))
    assert table.encoding == encoding
    assert table.headers == ["Name", "Domain", "Region"]  # no BOM left on the first header
    assert [values for _, values in table.rows] == ROWS[1:]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_each_separator_is_sniffed(delimiter: str) -> None:
    table = table_read(name="companies.csv", data=_csv(delimiter).encode())
    assert table.delimiter == delimiter
    assert table.rows[0][1] == ["Müller GmbH", "mueller.example", "Köln"]


def test_blank_lines_are_skipped_and_lines_keep_their_numbers() -> None:
    data = b"Name,Domain\n\nAcme,acme.example\n , \nGlobex,globex.example\n"
    table = table_read(name="c.csv", data=data)
    assert [line for line, _ in table.rows] == [3, 5]
    assert table.blank_lines == 2


def test_a_quoted_value_over_two_lines_keeps_the_next_rows_line() -> None:
    data = b'Name,Notes\nAcme,"two\nlines"\nGlobex,x\n'
    assert [line for line, _ in table_read(name="c.csv", data=data).rows] == [2, 4]


def test_duplicate_rows_point_at_the_first() -> None:
    rows = [(2, ["Acme", "1"]), (3, ["Globex", "2"]), (4, ["Acme", "1"])]
    assert duplicates(rows) == {4: 2}


def test_xlsx_is_read_with_its_typed_cells() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Deal Name", "Amount", "Close Date"])
    sheet.append(["Acme", 1234.5, datetime(2026, 12, 31)])
    buffer = io.BytesIO()
    book.save(buffer)
    table = table_read(name="deals.xlsx", data=buffer.getvalue())
    assert table.headers == ["Deal Name", "Amount", "Close Date"]
    line, values = table.rows[0]
    assert line == 2
    assert datetime_parse(values[2]) == datetime(2026, 12, 31, tzinfo=UTC)
    assert amount_parse(values[1]) == (Decimal("1234.5"), "")


def test_an_empty_or_broken_file_is_refused() -> None:
    with pytest.raises(FileUnreadable):
        table_read(name="x.csv", data=b"  \n")
    with pytest.raises(FileUnreadable):
        table_read(name="x.xlsx", data=b"PK\x03\x04 not really a zip")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("€ 1.234,56", (Decimal("1234.56"), "EUR")),
        ("$1,234.56", (Decimal("1234.56"), "USD")),
        ("1 234,56", (Decimal("1234.56"), "")),
        ("1\u00a0234,56 €", (Decimal("1234.56"), "EUR")),
        ("1'234.50", (Decimal("1234.50"), "")),
        ("1,234", (Decimal("1234"), "")),
        ("1,5", (Decimal("1.5"), "")),
        ("1.234.567", (Decimal("1234567"), "")),
        ("EUR 250000.00", (Decimal("250000.00"), "EUR")),
        ("(1,000.00)", (Decimal("-1000.00"), "")),
        ("£12", (Decimal("12"), "GBP")),
    ],
)
def test_amounts(text: str, expected: tuple[Decimal, str]) -> None:
    assert amount_parse(text) == expected


@pytest.mark.parametrize("text", ["twelve", "12abc", "1.2.3,4,5", "€"])
def test_bad_amounts_say_so(text: str) -> None:
    with pytest.raises(ValueError, match="not an amount"):
        amount_parse(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-31", datetime(2026, 12, 31, tzinfo=UTC)),
        ("2026-12-31 14:00", datetime(2026, 12, 31, 14, tzinfo=UTC)),
        ("2026-01-12T09:30:00.000Z", datetime(2026, 1, 12, 9, 30, tzinfo=UTC)),
        ("31/12/2026", datetime(2026, 12, 31, tzinfo=UTC)),
        ("12/31/2026", datetime(2026, 12, 31, tzinfo=UTC)),
        ("31.12.2026 08:05", datetime(2026, 12, 31, 8, 5, tzinfo=UTC)),
        ("12/31/2026 2:30 PM", datetime(2026, 12, 31, 14, 30, tzinfo=UTC)),
    ],
)
def test_dates_in_common_formats(text: str, expected: datetime) -> None:
    assert datetime_parse(text) == expected


def test_an_ambiguous_date_needs_the_order_or_a_format() -> None:
    with pytest.raises(ValueError, match="ambiguous"):
        datetime_parse("05/06/2026")
    assert datetime_parse("05/06/2026", order="dmy").date() == date(2026, 6, 5)
    assert datetime_parse("05/06/2026", order="mdy").date() == date(2026, 5, 6)
    assert datetime_parse("05/06/2026", date_format="%m/%d/%Y").date() == date(2026, 5, 6)


def test_the_date_order_is_decided_once_for_a_file() -> None:
    assert date_order_detect(["05/06/2026", "31/12/2026"]) == "dmy"
    assert date_order_detect(["05/06/2026", "12/31/2026"]) == "mdy"
    assert date_order_detect(["05/06/2026"]) is None


def test_excel_serial_dates() -> None:
    assert datetime_parse(46022) == datetime(2025, 12, 31, tzinfo=UTC)


def test_bad_dates_say_so() -> None:
    with pytest.raises(ValueError, match="not a date"):
        datetime_parse("next Tuesday")
    with pytest.raises(ValueError, match="not a date"):
        datetime_parse("31/02/2026")


def test_a_formula_guard_from_an_export_is_taken_off():
    table = table_read(name="x.csv", data=b"name,phone\n'=HYPERLINK(1),'+49 30 1234\n")
    assert table.rows[0][1] == ["=HYPERLINK(1)", "+49 30 1234"]
