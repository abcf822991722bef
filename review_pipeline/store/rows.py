"""Rows written in bulk: the two insert helpers every table's module uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlite_utils import Database


def insert_row(db: Database, table: str, row: dict[str, Any]) -> int:
    """Insert one row into a table with an integer key and return that key."""
    cursor = db.execute(
        f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
        list(row.values()),
    )
    return int(cursor.lastrowid or 0)


def insert_rows(db: Database, table: str, rows: Sequence[dict[str, Any]],
                verb: str = "") -> None:
    """Rows with the same keys, inserted in one statement: sqlite-utils' insert_all checks
    every value's type, which costs more than the insert on an import of 100,000 records.
    Names are quoted, since extraction tables take theirs from fields.csv."""
    if rows:
        columns = list(rows[0])
        db.conn.executemany(
            f"INSERT {verb} INTO [{table}] ({', '.join(f'[{c}]' for c in columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})",
            [[row[c] for c in columns] for row in rows])
