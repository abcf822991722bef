"""Extraction's tables: the forms' fields (``extraction_fields``), every reviewer's cells and
the consensus file's (``extraction_cells``), and one final table per form, named by
``fields.csv``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from review_pipeline.model.text import number_text
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


def choice_order(db: Database, table: str, field: str) -> Callable[[Any], tuple[int, str]]:
    """A sort key that follows the order of a choice field's values, others last."""
    found = db.execute("SELECT choices FROM extraction_fields WHERE table_name = ? AND "
                       "field = ?", [table, field]).fetchone()
    choices = ((found and found[0]) or "").split(" | ")
    return lambda value: (choices.index(value) if value in choices else len(choices),
                          str(value))


NOT_GIVEN = "(not given)"


@dataclass(frozen=True)
class ArmResult:
    """A row of a results table with the arm it belongs to."""

    row: dict[str, Any]
    arm: dict[str, Any] | None
    """The arm the row names, or the study's only arm; None for a study of several arms
    whose row names none (a result of the whole study)."""
    splits: tuple[tuple[str, Any, str], ...]
    """(field, value, unit) of the row's other key fields that have a value (a time point)."""

    def label(self, outcome: str) -> str:
        """The row's ``outcome`` with its time point ("Overall survival at 60 months")."""
        return " ".join([str(self.row[outcome] or NOT_GIVEN)] + [
            f"at {number_text(v)} {unit}" for _, v, unit in self.splits])


def arm_results(db: Database, arm_table: str, result_table: str, outcome: str,
                given: str) -> list[ArmResult]:
    """The rows of ``result_table`` where ``given`` has a value, each with its arm: the
    forms say how a result names its arm (a field whose values are the arm table's key)
    and which key fields besides ``outcome`` (a time point) split a result."""
    defined = {(f["table_name"], f["field"]): f for f in fields(db, "position")}
    arm_keys = [f for (t, f), d in defined.items() if t == arm_table and d["key"]]
    arms: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
    for row in form_rows(db, arm_table):
        arms.setdefault(row["record_id"], {})[tuple(row[k] for k in arm_keys)] = row
    link = next((f for (t, f), d in defined.items()
                 if t == result_table and d["one_of"] in {f"{arm_table}.{k}" for k in arm_keys}),
                None)
    splits = [(f, d["unit"] or f) for (t, f), d in defined.items()
              if t == result_table and d["key"] and f not in (link, outcome)]
    out = []
    for row in form_rows(db, result_table, given=given):
        study = arms.get(row["record_id"], {})
        arm = (study.get((row[link],)) if link and len(arm_keys) == 1 and row[link]
               else next(iter(study.values())) if len(study) == 1 else None)
        out.append(ArmResult(row, arm, tuple((f, row[f], unit) for f, unit in splits
                                             if row[f] is not None)))
    return out
