"""Lists as spreadsheet files: headers and rows in, an HTTP response out.

CSV is streamed row by row; XLSX is written by openpyxl's write-only workbook (rows go
to a temporary file, not into memory) and sent once complete. Both keep a value's type
where the format has one: numbers stay numbers, dates stay dates.

A text cell a spreadsheet would run as a formula (=, +, -, @, or a tab or carriage return
first) is neutralised: in CSV it gets a leading apostrophe, the mark spreadsheets read as
"this is text"; in XLSX it is written as a string cell, which is never evaluated.
"""

import csv
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal

from django.http import FileResponse, HttpResponseBase, StreamingHttpResponse
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.cell.cell import Cell as SheetCell

Cell = str | int | float | Decimal | bool | date | datetime | None
Format = Literal["csv", "xlsx"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx")
CHUNK = 2000  # rows fetched from the database at a time

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_format(value: str) -> Format | None:
    """`value` as an export format, or None when it is not one."""
    for known in FORMATS:
        if value == known:
            return known
    return None


def export_filename(*, name: str, fmt: Format, today: date | None = None) -> str:
    """keel-deals-2026-11-24.csv"""
    return f"keel-{name}-{(today or timezone.localdate()).isoformat()}.{fmt}"


def export_response(
    *, fmt: Format, name: str, headers: Sequence[str], rows: Iterable[Sequence[Cell]]
) -> HttpResponseBase:
    """A download of `rows` under `headers`, named after `name` and today's date."""
    filename = export_filename(name=name, fmt=fmt)
    if fmt == "csv":
        return csv_response(filename=filename, headers=headers, rows=rows)
    return xlsx_response(filename=filename, headers=headers, rows=rows, title=name)


# --- CSV --------------------------------------------------------------------------------


class _Line:
    """A file-like object that hands back what csv.writer writes, for streaming."""

    def write(self, text: str) -> str:
        return text


def csv_text(value: Cell) -> str:
    """One value as CSV text: ISO dates, plain decimals, neutralised formulas."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat() if timezone.is_aware(value) else str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        return str(value)
    return neutralised(value)


def neutralised(text: str) -> str:
    """`text`, with an apostrophe first if a spreadsheet would otherwise run it."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_lines(*, headers: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Iterator[str]:
    writer = csv.writer(_Line())
    # A byte-order mark first: without it Excel reads UTF-8 as the local code page.
    yield "\ufeff" + writer.writerow([neutralised(h) for h in headers])
    for row in rows:
        yield writer.writerow([csv_text(value) for value in row])


def csv_response(
    *, filename: str, headers: Sequence[str], rows: Iterable[Sequence[Cell]]
) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        (line.encode() for line in csv_lines(headers=headers, rows=rows)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- XLSX -------------------------------------------------------------------------------


def _xlsx_cell(sheet: Any, value: Cell) -> SheetCell | Cell:
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            # Excel has no time zones: local wall-clock time, as the list pages show it.
            value = timezone.localtime(value).replace(tzinfo=None)
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
        return cell
    if isinstance(value, date):
        # Excel's dates are datetimes at midnight, shown without the time.
        cell = WriteOnlyCell(sheet, value=datetime.combine(value, time.min))
        cell.number_format = "yyyy-mm-dd"
        return cell
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
        cell.data_type = "s"  # openpyxl would store "=…" as a formula
        return cell
    return value


def xlsx_write(
    *, file: Any, headers: Sequence[str], rows: Iterable[Sequence[Cell]], title: str = "Export"
) -> None:
    """Write one sheet: `headers`, then `rows`, to `file` (a path or a binary file)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31] or "Export")
    sheet.append([_xlsx_cell(sheet, h) for h in headers])
    for row in rows:
        sheet.append([_xlsx_cell(sheet, value) for value in row])
    workbook.save(file)


def xlsx_response(
    *, filename: str, headers: Sequence[str], rows: Iterable[Sequence[Cell]], title: str
) -> FileResponse:
    # The file is gone when the response closes it; kept in memory up to 8 MB.
    file = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    xlsx_write(file=file, headers=headers, rows=rows, title=title)
    file.seek(0)
    return FileResponse(file, as_attachment=True, filename=filename, content_type=XLSX_TYPE)
