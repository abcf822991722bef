"""The extract stage: reviewer-edited tables in ``extracted/extraction/`` loaded into SQLite.

Each ``<table>.csv`` has a ``record_id`` column naming an included record, and an optional
``row`` column when a record has several rows (arms, outcomes). Column names carry their
type: ``n_*`` holds a count (a whole number, 0 or more) and ``*_pct`` a percentage (0-100).
Every file is checked before anything is written; each changed cell is audited.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from . import db as store
from .db import State
from .errors import InputError
from .sheets import read_sheet

DEFAULT_FOLDER = Path("extracted/extraction")
_TABLE = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_PROBLEMS = 20


@dataclass(frozen=True)
class Row:
    table: str
    record_id: str
    row_key: str
    data: dict[str, str]
    file: str
    line: int


@dataclass
class ExtractResult:
    tables: dict[str, int]
    changed_cells: int
    studies: int


def check_value(column: str, value: str) -> str:
    """Why ``value`` does not fit ``column``'s type, or ``""`` when it fits (or is empty)."""
    if not value:
        return ""
    if column.startswith("n_"):
        if not re.fullmatch(r"\d+", value):
            return "expected a whole number of 0 or more (a count)"
    elif column.endswith("_pct"):
        try:
            number = float(value)
        except ValueError:
            return "expected a percentage between 0 and 100"
        if not 0 <= number <= 100:
            return "expected a percentage between 0 and 100"
    return ""


def read_tables(folder: Path, included: set[str], known: set[str]) -> list[Row]:
    """All rows of all tables in ``folder``; every problem is reported, or nothing is read."""
    rows: list[Row] = []
    problems: list[str] = []
    for path in sorted(folder.glob("*.csv")) if folder.is_dir() else []:
        table = path.stem
        if not _TABLE.match(table):
            problems.append(f"{path}: a table name must be lower-case letters, digits and _")
            continue
        rows += _read_table(path, table, included, known, problems)
    if problems:
        shown = "\n  ".join(problems[:MAX_PROBLEMS])
        more = len(problems) - MAX_PROBLEMS
        raise InputError(
            f"{len(problems)} problem(s) in the extraction tables; nothing was loaded:\n  "
            f"{shown}" + (f"\n  ... and {more} more" if more > 0 else ""),
            fix="correct those cells and run `make extract` again")
    return rows


def _read_table(path: Path, table: str, included: set[str], known: set[str],
                problems: list[str]) -> list[Row]:
    sheet = read_sheet(path)
    if "record_id" not in sheet.header:
        problems.append(f"{path}, line 1: no record_id column (columns: {sheet.header})")
        return []
    blank = [i + 1 for i, name in enumerate(sheet.header) if not name]
    if blank:
        problems.append(f"{path}, line 1: column {blank[0]} has no name")
        return []
    out: list[Row] = []
    seen: dict[tuple[str, str], int] = {}
    for row in sheet.rows:
        where = f"{path}, line {row.line}"
        if row.extra_cells:
            problems.append(f"{where}: more cells than columns")
            continue
        values = dict(row.values)
        record_id = values.pop("record_id")
        row_key = values.pop("row", "") or "1"
        if not record_id:
            problems.append(f"{where}: record_id is empty")
            continue
        if record_id not in known:
            problems.append(f"{where}: no record '{record_id}' in the review")
        elif record_id not in included:
            problems.append(f"{where}: record '{record_id}' is not an included study; "
                            "remove the row or include the record at full text")
        if (record_id, row_key) in seen:
            problems.append(f"{where}: record '{record_id}' row '{row_key}' is already on "
                            f"line {seen[(record_id, row_key)]}; give each row a distinct "
                            "'row' value")
        seen[(record_id, row_key)] = row.line
        for column, value in values.items():
            if (why := check_value(column, value)):
                problems.append(f"{where}, column {column}: '{value}' {why}")
        out.append(Row(table, record_id, row_key, values, str(path), row.line))
    return out


def extract(db: Database, folder: Path = DEFAULT_FOLDER) -> ExtractResult:
    """Validate and load every extraction table in one transaction, auditing each change."""
    included = {r[0] for r in db.execute("SELECT record_id FROM records WHERE status = ?",
                                         [State.INCLUDED.value]).fetchall()}
    known = {r[0] for r in db.execute("SELECT record_id FROM records").fetchall()}
    rows = read_tables(folder, included, known)
    before = {(r["table_name"], r["record_id"], r["row_key"]): json.loads(r["data"])
              for r in db.query("SELECT * FROM extraction_rows")}
    changed = 0
    with db.atomic():
        for row in rows:
            old = before.pop((row.table, row.record_id, row.row_key), {})
            changed += _audit_cells(db, row, old)
        for (table, record_id, row_key), old in before.items():
            gone = Row(table, record_id, row_key, {}, str(folder / f"{table}.csv"), 0)
            changed += _audit_cells(db, gone, old)
        db.execute("DELETE FROM extraction_rows")
        db.table("extraction_rows").insert_all({
            "table_name": r.table, "record_id": r.record_id, "row_key": r.row_key,
            "data": json.dumps(r.data, ensure_ascii=False), "file": r.file, "line": r.line,
        } for r in rows)
    tables: dict[str, int] = {}
    for row in rows:
        tables[row.table] = tables.get(row.table, 0) + 1
    return ExtractResult(tables, changed, len({r.record_id for r in rows}))


def _audit_cells(db: Database, row: Row, old: dict[str, str]) -> int:
    changed = 0
    for field in sorted(set(old) | set(row.data)):
        before, after = old.get(field, ""), row.data.get(field, "")
        if before != after:
            store.audit(db, actor=row.file, action="extract", entity=row.table,
                        entity_id=f"{row.record_id}/{row.row_key}", field=field,
                        old=before, new=after)
            changed += 1
    return changed
