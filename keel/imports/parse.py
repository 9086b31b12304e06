"""Reading the files people bring: CSV (any of the usual encodings and separators) and XLSX.

Pure: no database. Every problem is a `Problem(line, column, reason)`, with the line as a
spreadsheet shows it (the header is line 1), so a person can find the cell and fix it.
"""

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

Cell = str | int | float | Decimal | date | datetime | None
DateOrder = Literal["dmy", "mdy"]


@dataclass(frozen=True, order=True)
class Problem:
    line: int
    column: str
    reason: str


class FileUnreadable(ValueError):
    """The file as a whole cannot be read (not CSV or XLSX, no header, empty)."""


@dataclass
class Table:
    """A file's header and its non-blank rows, each with its line number."""

    headers: list[str]
    rows: list[tuple[int, list[Cell]]]
    encoding: str = ""
    delimiter: str = ""
    blank_lines: int = 0
    problems: list[Problem] = field(default_factory=list)


# --- files ------------------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was in: UTF-8 (with or without a BOM),
    else Windows-1252, the encoding Excel on Windows saves "CSV" in."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # cp1252 leaves five bytes undefined; latin-1 maps them, so no file is refused here.
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


# The sniffer's quote detection is quadratic in its sample (a long quoted value full of
# commas took minutes): it sees the first lines, cut to this many characters.
SNIFF_CHARS = 4096


def sniff_delimiter(text: str) -> str:
    """Comma, semicolon or tab: the one that splits the header and first lines alike."""
    sample = "\n".join(text[: 20 * SNIFF_CHARS].splitlines()[:20])[:SNIFF_CHARS]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        header = sample.split("\n", 1)[0]
        counts = {d: header.count(d) for d in ",;\t"}
        return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def is_xlsx(*, name: str, data: bytes) -> bool:
    return name.lower().endswith((".xlsx", ".xlsm")) or (
        data[:4] == b"PK\x03\x04" and not name.lower().endswith((".csv", ".txt", ".tsv"))
    )


def table_read(*, name: str, data: bytes) -> Table:
    """The header and rows of a CSV or XLSX file; blank lines are left out and counted."""
    if not data.strip():
        raise FileUnreadable(f"{name} is empty.")
    if is_xlsx(name=name, data=data):
        return _xlsx_read(data)
    text, encoding = decode(data)
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    return _table(_numbered(reader), encoding=encoding, delimiter=delimiter)


def _numbered(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[Cell]]]:
    # A quoted value may span lines: the reader's own count gives the row's first line.
    start = 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:  # a value past csv.field_size_limit() (128 KiB)
            raise FileUnreadable(
                f"Line {start}: a value too long to read ({error}); is a quote left open?"
            ) from None
        yield start, [_unguarded(v) for v in values]
        start = reader.line_num + 1  # type: ignore[attr-defined]


_GUARDED = re.compile(r"'[=+\-@\t\r]")


def _unguarded(value: str) -> str:
    """A CSV value as it was before an export guarded it against running as a formula.

    Keel's export (like most) puts an apostrophe before text starting with = + - @ or a
    tab; reading the file back must give the text itself.
    """
    return value[1:] if _GUARDED.match(value) else value


# What a workbook may unpack to, and hold: past these it is refused, not read. Excel
# itself stops at 1,048,576 rows; a sheet's own size claims are not trusted.
MAX_XLSX_UNPACKED = 1024**3
MAX_XLSX_ROWS = 1_048_576
MAX_XLSX_CELLS = 20_000_000


def _xlsx_read(data: bytes) -> Table:
    import openpyxl  # imported here: only XLSX uploads pay for it
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    _xlsx_size_check(data)
    # openpyxl on a damaged or hostile file raises whatever its zip, zlib and XML layers
    # raise (BadZipFile, zlib.error, ParseError, KeyError, TypeError…): to the person it
    # is all one unreadable workbook, so everything it raises is caught at this boundary.
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:
        reason = f"The file is neither CSV nor a readable XLSX workbook ({error})."
        raise FileUnreadable(reason) from None
    try:
        if not book.worksheets:
            raise FileUnreadable("The workbook has no sheet.")
        sheet = book.worksheets[0]
        if not isinstance(sheet, ReadOnlyWorksheet):
            raise FileUnreadable("The workbook's first sheet holds no table.")
        return _table(_sheet_rows(sheet), encoding="xlsx", delimiter="")
    finally:
        book.close()


def _xlsx_size_check(data: bytes) -> None:
    """Refuse a zip bomb before opening it: openpyxl reads some parts whole."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except Exception as error:  # BadZipFile, and NotImplementedError for a bad version
        reason = f"The file is neither CSV nor a readable XLSX workbook ({error})."
        raise FileUnreadable(reason) from None
    if unpacked > MAX_XLSX_UNPACKED:
        raise FileUnreadable(
            f"The workbook unpacks to {unpacked / 1024**3:.1f} GB, more than Keel reads "
            f"({MAX_XLSX_UNPACKED / 1024**3:.0f} GB): save it as CSV, or split it."
        )


def _sheet_rows(sheet: "ReadOnlyWorksheet") -> Iterator[tuple[int, list[Cell]]]:
    """The sheet's rows, numbered, as far as they go and no further than Excel's.

    The sheet's claimed size is dropped first: openpyxl would pad every missing row to
    the claimed width, and a few kilobytes claiming A1:XFD1048576 would take hours.
    """
    sheet.reset_dimensions()
    rows = sheet.iter_rows(values_only=True)  # type: ignore[misc]  # stubs: Worksheet's only
    number = cells = 0
    while True:
        try:
            values = next(rows)
        except StopIteration:
            return
        except Exception as error:  # see _xlsx_read: a damaged sheet, read lazily
            raise FileUnreadable(
                f"Row {number + 1}: the workbook is damaged from here on ({error})."
            ) from None
        number += 1
        cells += len(values)
        if number > MAX_XLSX_ROWS or cells > MAX_XLSX_CELLS:
            raise FileUnreadable(
                f"Row {number}: the sheet holds more than Keel reads from a workbook "
                f"({MAX_XLSX_ROWS:,} rows, {MAX_XLSX_CELLS:,} cells): save it as CSV, or "
                "split it."
            )
        yield number, [_cell(v) for v in values]


def _cell(value: object) -> Cell:
    """An XLSX cell as a reader's value: rich text and formulas as their text."""
    if value is None or isinstance(value, str | int | float | Decimal | date):
        return value
    return str(value)


def _table(rows: Iterable[tuple[int, list[Cell]]], *, encoding: str, delimiter: str) -> Table:
    iterator = iter(rows)
    for _, values in iterator:
        if not _blank(values):
            headers = [header_clean(v) for v in values]
            break
    else:
        raise FileUnreadable("The file has no header row.")
    while headers and not headers[-1]:
        headers.pop()
    table = Table(headers=headers, rows=[], encoding=encoding, delimiter=delimiter)
    width = len(headers)
    for line, values in iterator:
        if _blank(values):
            table.blank_lines += 1
            continue
        if len(values) > width and not _blank(list(values[width:])):
            table.problems.append(
                Problem(line, "", f"{len(values)} values for {width} columns: check the separator")
            )
        values = values[:width] + [None] * (width - len(values))
        table.rows.append((line, values))
    return table


def _blank(values: list[Cell]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def header_clean(value: Cell) -> str:
    """A header as shown: one line, single spaces, no BOM or surrounding quotes."""
    text = "" if value is None else str(value)
    return " ".join(text.replace("\ufeff", "").split()).strip()


def header_key(value: str) -> str:
    """A header as matched: case, spaces, punctuation and quotes ignored."""
    return re.sub(r"[^0-9a-z]+", " ", value.casefold()).strip()


def duplicates(rows: Iterable[tuple[int, list[Cell]]]) -> dict[int, int]:
    """{line: earlier line} for every row identical to an earlier one."""
    seen: dict[tuple[Cell, ...], int] = {}
    found = {}
    for line, values in rows:
        key = tuple(values)
        first = seen.setdefault(key, line)
        if first != line:
            found[line] = first
    return found


# --- values -----------------------------------------------------------------------------


def text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an XLSX id or phone number read as a number
    return str(value).strip()


_CURRENCY_SIGNS = {"€": "EUR", "$": "USD", "£": "GBP", "¥": "JPY", "₹": "INR", "CHF": "CHF"}
_PLAIN_AMOUNT = re.compile(r"\d{1,12}(\.\d{1,2})?")
_AMOUNT = re.compile(r"[0-9][0-9.,' \u00a0\u202f]*")


def amount_parse(value: Cell) -> tuple[Decimal, str]:
    """An amount and the currency its text names ('' if none).

    "€ 1.234,56", "$1,234.56", "1 234,56", "1'234.50", "EUR 1234", "(1,234.00)". With both
    separators the last is the decimal one; a lone separator followed by exactly three
    digits groups thousands ("1,234" is 1234, "1,23" is 1.23).
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an amount")
    if isinstance(value, int | Decimal | float):
        amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        if not amount.is_finite():  # a workbook's NaN or infinity
            raise ValueError(f"{text(value)!r} is not an amount")
        return amount, ""
    raw = text(value)
    if _PLAIN_AMOUNT.fullmatch(raw):
        return Decimal(raw), ""  # the common case, spared the work below
    if not raw or isinstance(value, date):
        raise ValueError(f"{raw!r} is not an amount")
    currency = ""
    for sign, code in _CURRENCY_SIGNS.items():
        if sign in raw:
            currency = code
            break
    named = re.search(r"\b[A-Z]{3}\b", raw)
    if named and not currency:
        currency = named.group(0)
    negative = raw.startswith("-") or raw.endswith("-") or (raw[0] == "(" and raw[-1] == ")")
    rest = re.sub(r"\b[A-Za-z]{3}\b|[€$£¥₹()+\-]", "", raw).strip()
    match = _AMOUNT.fullmatch(rest)
    if not match:
        raise ValueError(f"{raw!r} is not an amount")
    digits = re.sub(r"[' \u00a0\u202f]", "", rest)
    dot, comma = digits.rfind("."), digits.rfind(",")
    if dot >= 0 and comma >= 0:
        decimal_mark = "." if dot > comma else ","
        if digits.count(decimal_mark) > 1:
            raise ValueError(f"{raw!r} is not an amount")
    elif dot >= 0 or comma >= 0:
        mark = "." if dot >= 0 else ","
        parts = digits.split(mark)
        grouped = len(parts) > 2 or len(parts[-1]) == 3
        decimal_mark = "" if grouped else mark
    else:
        decimal_mark = ""
    if decimal_mark:
        head, _, tail = digits.rpartition(decimal_mark)
        digits = head.replace(".", "").replace(",", "") + "." + tail
    else:
        digits = digits.replace(".", "").replace(",", "")
    try:
        amount = Decimal(digits)
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not an amount") from None
    return (-amount if negative else amount), currency


_EXCEL_EPOCH = datetime(1899, 12, 30)
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?")
_NUMERIC = re.compile(
    r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?"
)


def date_order_detect(values: Iterable[Cell]) -> DateOrder | None:
    """Day-first or month-first, from the dates that tell (a part above 12); None if none do.

    Decided once for a file, so 05/06/2026 is read the same way as 31/12/2026 next to it.
    """
    day_first = month_first = False
    for value in values:
        if isinstance(value, str):
            match = _NUMERIC.fullmatch(value.strip())
            if match:
                first, second = int(match.group(1)), int(match.group(2))
                day_first |= first > 12
                month_first |= second > 12
    if day_first and not month_first:
        return "dmy"
    if month_first and not day_first:
        return "mdy"
    return None


def datetime_parse(
    value: Cell, *, date_format: str = "", order: DateOrder | None = None
) -> datetime:
    """An aware datetime (UTC when the text names no zone) from a cell.

    ISO dates and times, 31/12/2026 or 12/31/2026 (with `order` or `date_format` when the
    file does not tell), 31.12.2026, an optional time, an Excel date cell or serial.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 2958466:  # Excel's serial days, to 9999-12-31
            return (_EXCEL_EPOCH + timedelta(days=float(value))).replace(tzinfo=UTC)
        raise ValueError(f"{value!r} is not a date")
    raw = text(value)
    if date_format:
        for pattern in (date_format, f"{date_format} %H:%M", f"{date_format} %H:%M:%S"):
            try:
                parsed = datetime.strptime(raw, pattern)
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        raise ValueError(f"{raw!r} does not match the date format {date_format!r}")
    if _ISO.fullmatch(raw):
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    match = _NUMERIC.fullmatch(raw)
    if not match:
        raise ValueError(f"{raw!r} is not a date (e.g. 2026-12-31 or 31/12/2026)")
    first, second, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
    if match.group(0)[len(match.group(1))] == ".":
        order = "dmy"  # 31.12.2026: the dotted form is day-first everywhere it is used
    if order is None:
        if first > 12:
            order = "dmy"
        elif second > 12:
            order = "mdy"
        elif first != second:
            raise ValueError(
                f"{raw!r} is ambiguous (day/month or month/day?): give the date format"
            )
        else:
            order = "dmy"
    day, month = (first, second) if order == "dmy" else (second, first)
    hour = int(match.group(4) or 0)
    if match.group(7):
        hour = hour % 12 + (12 if match.group(7).lower() == "pm" else 0)
    try:
        return datetime(
            year, month, day, hour, int(match.group(5) or 0), int(match.group(6) or 0), tzinfo=UTC
        )
    except ValueError:
        raise ValueError(f"{raw!r} is not a date") from None


def date_parse(value: Cell, *, date_format: str = "", order: DateOrder | None = None) -> date:
    return datetime_parse(value, date_format=date_format, order=order).date()


def integer_parse(value: Cell) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    amount, _ = amount_parse(value)
    if amount != amount.to_integral_value():
        raise ValueError(f"{text(value)!r} is not a whole number")
    return int(amount)
