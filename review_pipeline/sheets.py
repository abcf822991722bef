"""Reading the CSV files reviewers edit, with errors that name the file and the line."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError


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


def read_sheet(path: Path) -> Sheet:
    """A CSV file as its header and numbered rows (UTF-8, with or without BOM)."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded",
            where=f"{path}, line {line}",
            fix="save the sheet as 'CSV UTF-8' (Excel: File > Save As > CSV UTF-8)",
        ) from None
    # strict: an unclosed quote is an error instead of swallowing every row after it
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = []
    try:
        header = [name.strip() for name in next(reader, [])]
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            values = {name: (cells[i].strip() if i < len(cells) else "")
                      for i, name in enumerate(header)}
            rows.append(Row(reader.line_num, values, max(0, len(cells) - len(header))))
    except csv.Error as exc:
        raise InputError(f"not a well-formed CSV file ({exc})",
                         where=f"{path}, line {reader.line_num}",
                         fix="check the quotes on that line") from None
    return Sheet(path, header, rows)
