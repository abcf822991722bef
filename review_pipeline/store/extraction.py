"""Extraction's tables: the forms' fields (``extraction_fields``), every reviewer's cells and
the consensus file's (``extraction_cells``), and one final table per form, named by
``fields.csv``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from review_pipeline.store.rows import insert_rows


@dataclass
class FormTable:
    """One form's final table: its columns with their SQL types, its key, its rows."""

    name: str
    columns: list[tuple[str, str]]
    keys: tuple[str, ...]
    rows: list[dict[str, Any]]


def replace(db: Database, fields: Sequence[dict[str, Any]], cells: Sequence[dict[str, Any]],
            tables: Sequence[FormTable]) -> None:
    """Put the forms, the cells and the final tables in place of the last load's."""
    for (name,) in db.execute("SELECT DISTINCT table_name FROM extraction_fields").fetchall():
        db.execute(f"DROP TABLE IF EXISTS [{name}]")
    db.execute("DELETE FROM extraction_fields")
    db.execute("DELETE FROM extraction_cells")
    insert_rows(db, "extraction_fields", fields)
    insert_rows(db, "extraction_cells", cells)
    for table in tables:
        columns = ", ".join(f"[{name}] {kind}" for name, kind in table.columns)
        keys = ", ".join(f"[{k}]" for k in ("record_id", *table.keys))
        db.execute(f"CREATE TABLE [{table.name}] (record_id TEXT NOT NULL REFERENCES "
                   f"records(record_id), {columns}, PRIMARY KEY ({keys}))")
        insert_rows(db, table.name, table.rows)


_FIELD_ORDERS = {"table": "table_name, position", "file": "rowid", "position": "position"}


def fields(db: Database, order: str = "table") -> list[dict[str, Any]]:
    """The stored field definitions (none before the first extraction): by table and
    position, as ``fields.csv`` lists them (``file``), or by position across tables."""
    if not db["extraction_fields"].exists():
        return []
    return list(db.query(f"SELECT * FROM extraction_fields ORDER BY {_FIELD_ORDERS[order]}"))


def cells(db: Database, reviewer: str | None = None) -> list[dict[str, Any]]:
    """Every stored cell (of one reviewer, or of all), by reviewer, table, study and row."""
    return list(db.query(
        "SELECT * FROM extraction_cells WHERE ? IS NULL OR reviewer = ? "
        "ORDER BY reviewer, table_name, record_id, row", [reviewer, reviewer]))


def form_rows(db: Database, form: str, columns: Sequence[str] = (), *, given: str = "",
              by_study: bool = False) -> list[dict[str, Any]]:
    """The rows of one final table (record_id and ``columns``, or all), in the order loaded
    or by study; only those where the field ``given`` has a value, when named."""
    chosen = ", ".join(["record_id", *(f"[{c}]" for c in columns)]) if columns else "*"
    where = f"WHERE [{given}] IS NOT NULL" if given else ""
    order = "record_id" if by_study else "rowid"
    return list(db.query(f"SELECT {chosen} FROM [{form}] {where} ORDER BY {order}"))
