"""The sheets reviewers edit, CSV or XLSX: read with errors that name the file and the line
(an XLSX row number is its line), and written with the reading columns beside the ones to
fill in."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from review_pipeline.files import write_atomic
from review_pipeline.formats.base import check_workbook
from review_pipeline.model.errors import InputError
from review_pipeline.model.text import excerpt

SUFFIXES = (".csv", ".xlsx")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet takes as the start of a formula (OWASP's list)."""
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?%?$")


def neutral(value: object) -> object:
    """``value`` as a CSV cell that no spreadsheet runs: text that would start a formula
    gets a leading ``'`` (Excel's own mark for text), which :func:`read_sheet` takes off."""
    if isinstance(value, str) and value.lstrip("'")[:1] in _FORMULA and not _NUMBER.match(
            value):
        return "'" + value
    return value


def _restored(text: str) -> str:
    rest = text[1:]
    if text[:1] == "'" and rest.lstrip("'")[:1] in _FORMULA and not _NUMBER.match(rest):
        return rest
    return text


def csv_line(values: Sequence[object], delimiter: str = ",") -> str:
    """One row as :func:`write_sheet` writes it in a CSV sheet (cells :func:`neutral`)."""
    out = io.StringIO()
    csv_writer(out, delimiter=delimiter).writerow(["" if v is None else v for v in values])
    return out.getvalue()


def csv_writer(handle: Any, **options: Any) -> Any:
    """A ``csv.writer`` whose cells are :func:`neutral`."""
    return _Neutral(csv.writer(handle, lineterminator="\n", **options))


def csv_dict_writer(handle: Any, fieldnames: Sequence[str], **options: Any) -> Any:
    """A ``csv.DictWriter`` whose cells are :func:`neutral`."""
    return _Neutral(csv.DictWriter(handle, fieldnames, lineterminator="\n", **options))


class _Neutral:
    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def writeheader(self) -> None:
        self.writer.writeheader()

    def writerow(self, row: Any) -> None:
        self.writer.writerow({k: neutral(v) for k, v in row.items()} if isinstance(row, dict)
                             else [neutral(v) for v in row])

    def writerows(self, rows: Any) -> None:
        for row in rows:
            self.writerow(row)


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, str]
    """Cells by column name, stripped; a missing cell is ``""``."""
    extra_cells: int
    """Cells beyond the header's columns."""


@dataclass(frozen=True)
class Sheet:
    path: Path
    header: list[str]
    rows: list[Row]
    delimiter: str = ","
    """A CSV's delimiter: a semicolon is Excel's in locales that write decimals with a
    comma, so numbers in such a sheet may be written so too."""

    @property
    def decimal_comma(self) -> bool:
        return self.delimiter == ";"


def read_present(path: Path, problems: list[str]) -> Sheet | None:
    """The sheet at ``path``, or None when there is none; one that cannot be read is noted
    in ``problems`` (with the others a stage collects) and is None too."""
    if not path.exists():
        return None
    try:
        return read_sheet(path)
    except InputError as exc:
        problems.append(exc.one_line())
        return None


def read_sheet(path: Path) -> Sheet:
    """A CSV (UTF-8, with or without BOM) or XLSX file as its header and numbered rows."""
    if path.suffix.lower() == ".xlsx":
        return _read_xlsx(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("the sheet does not exist", where=str(path),
                         fix="check the file name") from None
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise InputError("a NUL byte, which no sheet holds", where=f"{path}, line {line}",
                         fix="the file is damaged; save the sheet again as CSV UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded",
            where=f"{path}, line {line}",
            fix="save the sheet as 'CSV UTF-8' (Excel: File > Save As > CSV UTF-8)",
        ) from None
    delimiter = _delimiter(text)
    # strict: an unclosed quote is an error instead of swallowing every row after it
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows = []
    try:
        header = [name.strip() for name in next(reader, [])]
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            values = {name: (_restored(cells[i].strip()) if i < len(cells) else "")
                      for i, name in enumerate(header)}
            rows.append(Row(reader.line_num, values, max(0, len(cells) - len(header))))
    except csv.Error as exc:
        raise InputError(f"not a well-formed CSV file ({exc})",
                         where=f"{path}, line {reader.line_num}",
                         fix="check the quotes on that line") from None
    return Sheet(path, header, rows, delimiter)


def _delimiter(text: str) -> str:
    """The delimiter of a CSV sheet, from its header line: a comma, or the semicolon or tab
    that Excel writes in some locales, whichever the line holds most of."""
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: (counts[d], d == ","))


def _read_xlsx(path: Path) -> Sheet:
    if not path.exists():
        raise InputError("the sheet does not exist", where=str(path), fix="check the file name")
    check_workbook(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ParseError) as exc:
        raise _unreadable(path, exc) from None
    try:
        rows_read = [list(row) for row in book.worksheets[0].iter_rows()]
    except (ParseError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        raise _unreadable(path, exc) from None
    finally:
        book.close()
    formula = next((c for row in rows_read for c in row if c.data_type == "f"), None)
    if formula is not None:
        # what a formula shows depends on the program that last computed it
        text = str(formula.value)
        raise InputError(f"cell {formula.coordinate} holds a formula "
                         f"({text[:40]}{'...' if len(text) > 40 else ''}), not a value",
                         where=str(path),
                         fix="type the value itself into that cell (copy, then paste values)")
    cells = [[_cell(c.value, c.number_format) for c in row] for row in rows_read]
    header = cells[0] if cells else []
    while header and not header[-1]:
        header.pop()
    rows = []
    for number, values in enumerate(cells[1:], 2):
        if not any(values):
            continue
        rows.append(Row(number, {name: (values[i] if i < len(values) else "")
                                 for i, name in enumerate(header)},
                        sum(1 for v in values[len(header):] if v)))
    return Sheet(path, header, rows)


def _unreadable(path: Path, exc: Exception) -> InputError:
    return InputError(f"not a readable XLSX workbook ({excerpt(str(exc))})", where=str(path),
                      fix="save it again from Excel or LibreOffice as .xlsx, or as CSV UTF-8")


def _cell(value: object, number_format: str | None) -> str:
    """A cell as the reviewer sees it: a percentage cell showing 12% holds 0.12."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool) and "%" in (
            number_format or ""):
        value = round(value * 100, 10)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a number typed into a cell comes back as 12.0
    return str(value).strip()


def write_sheet(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]],
                choices: dict[str, Sequence[str]] | None = None,
                notes: dict[str, str] | None = None, delimiter: str = ",") -> None:
    """Write ``rows`` under ``header`` as CSV (separated by ``delimiter``: a sheet read with
    semicolons is written back with them) or, by suffix, XLSX with the header frozen, long
    text wrapped, ``choices`` offered as drop-down lists in their columns and ``notes`` as
    comments on their column's header. The sheet is replaced whole or not at all: a full
    disk never leaves a reviewer's sheet half written."""
    if path.suffix.lower() != ".xlsx":
        out = io.StringIO()
        writer = csv_writer(out, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
        write_atomic(path, out.getvalue().encode("utf-8"))
        return
    data = io.BytesIO()
    _write_xlsx(data, header, rows, choices, notes)
    write_atomic(path, data.getvalue())


def _write_xlsx(out: io.BytesIO, header: Sequence[str], rows: Sequence[Sequence[object]],
                choices: dict[str, Sequence[str]] | None,
                notes: dict[str, str] | None) -> None:
    book = openpyxl.Workbook()
    sheet = book.worksheets[0]
    sheet.append(list(header))
    for row in rows:
        sheet.append(["" if v is None else v for v in row])
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            if cell.data_type == "f":  # text that reads as a formula stays text
                cell.data_type = "s"
    sheet.freeze_panes = "A2"
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        if (note := (notes or {}).get(str(cell.value))):
            cell.comment = Comment(note, "review_pipeline", width=300, height=120)
    wide = {"title": 60, "abstract": 80, "record_note": 60, "note": 30, "authors": 30}
    for index, name in enumerate(header, 1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = wide.get(name, 14)
        if name in wide:
            for cell in sheet[letter][1:]:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    for name, options in (choices or {}).items():
        if name in header and rows:
            letter = get_column_letter(list(header).index(name) + 1)
            check = DataValidation(type="list", formula1=f'"{",".join(options)}"',
                                   allow_blank=True)
            check.add(f"{letter}2:{letter}{len(rows) + 1}")
            sheet.add_data_validation(check)
    book.save(out)


def extend_sheet(path: Path, header: Sequence[str], new: Sequence[dict[str, Any]],
                 key: Sequence[str], choices: dict[str, Sequence[str]] | None = None,
                 notes: dict[str, str] | None = None, arrange: Arrange | None = None,
                 refreshed: Sequence[str] = ()) -> tuple[int, int]:
    """Append to the sheet at ``path`` (made with ``header`` if missing) the rows of ``new``
    whose ``key`` columns are not in it yet; rows already there are kept as typed, in the
    sheet's own columns. ``arrange`` may then reorder the rows and rewrite the ``refreshed``
    columns (added to a sheet that lacks them), nothing else. Returns (rows added, rows
    kept)."""
    columns, kept = list(header), []
    if path.exists():
        sheet = read_sheet(path)
        stray = next((row for row in sheet.rows if row.extra_cells), None)
        if stray is not None:
            # written back, the cells beyond the header would be lost
            raise InputError(f"{stray.extra_cells} cells beyond the last column",
                             where=f"{path}, line {stray.line}",
                             fix="put quotes around a value holding a comma (or remove the "
                                 "stray cells), then run the command again; the sheet is "
                                 "left as it is")
        columns = [*sheet.header, *(c for c in refreshed if c not in sheet.header)]
        kept = [[row.values.get(c, "") for c in columns] for row in sheet.rows]
    present = {tuple(row[columns.index(k)] if k in columns else "" for k in key)
               for row in kept}
    added = [[row.get(c, "") for c in columns] for row in new
             if tuple(str(row[k]) for k in key) not in present]
    rows = [*kept, *added]
    if arrange:
        rows = _arranged(rows, columns, arrange, refreshed)
    elif path.exists() and not added:
        return 0, len(kept)  # nothing new: the sheet stays as it was written
    write_sheet(path, columns, rows, choices, notes,
                sheet.delimiter if path.exists() else ",")
    return len(added), len(kept)


Arrange = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
"""Reorders a sheet's rows (as dicts of its columns), refreshing some columns."""


def _arranged(rows: list[list[Any]], columns: list[str], arrange: Arrange,
              refreshed: Sequence[str]) -> list[list[Any]]:
    fixed = [i for i, c in enumerate(columns) if c not in refreshed]
    before = sorted(tuple(str(row[i]) for i in fixed) for row in rows)
    out = [[row.get(c, "") for c in columns]
           for row in arrange([dict(zip(columns, row, strict=True)) for row in rows])]
    # What a reviewer typed is never lost: the rows may move, their cells may not change.
    if sorted(tuple(str(row[i]) for i in fixed) for row in out) != before:
        raise ValueError("arranging a sheet changed or lost rows")
    return out
