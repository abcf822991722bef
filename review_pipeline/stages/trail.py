"""Audit trails kept as files beside the sheets people edit (``audit.csv`` of the extraction
and of the screening folders), one history with the database's audit log.

A stage appends the changes of a run to both in its transaction: the file first, written
whole (fsync, then rename), so a full disk leaves the file and the database as they were.
At the next run the two are brought level (a rebuilt database takes the file's history; a
crash between the two writes is repaired either way). The file is what survives
``make clean``; a torn last line (a write cut short elsewhere) is an error naming it.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from review_pipeline.files import write_atomic
from review_pipeline.formats.sheets import csv_dict_writer, read_sheet
from review_pipeline.model.errors import InputError
from review_pipeline.store import audit_log, now

Key = tuple[str, str, str, str, str]
"""(who, entity, record_id, row, field): one value a person keeps in a sheet."""
Value = tuple[str, str, int]
"""(value, file, line): the value and where it is written."""


@dataclass(frozen=True)
class Trail:
    path: Path
    action: str
    """The audit log's action for this trail's rows (extraction, screening)."""
    entity: str
    """The file's column naming what changed: the form's table, or the screening stage."""
    stage: str
    """The make target to run again once the file is mended."""

    @property
    def columns(self) -> tuple[str, ...]:
        return ("at", "who", self.entity, "record_id", "row", "field", "old", "new", "file",
                "line")

    def reconcile(self, db: Database) -> list[dict[str, Any]]:
        """The file's rows, with the database's trail made level with them (or the file
        with the database's, when it is ahead)."""
        rows = self.read()
        stored = audit_log.trail(db, self.action)
        if len(rows) > len(stored):
            audit_log.append(db, [self._logged(row) for row in rows[len(stored):]])
        elif len(stored) > len(rows):
            rows += [self._written(row) for row in stored[len(rows):]]
            self.write(rows)
        return rows

    def record(self, db: Database, rows: list[dict[str, Any]],
               now_held: dict[Key, Value]) -> list[dict[str, Any]]:
        """Append to the trail (database, then file, both in the caller's transaction)
        every value of ``now_held`` that differs from where ``rows`` (the trail so far)
        leaves it, and every value no sheet holds any more; return those changes."""
        last: dict[Key, str] = {}
        for row in rows:
            last[(row["who"], row[self.entity], row["record_id"], row["row"],
                  row["field"])] = row["new"]
        at = now()
        changes = []
        for key in [*now_held, *(k for k in last if k not in now_held)]:
            old = last.get(key, "")
            new, file, line = now_held.get(key, ("", "", 0))
            if old != new:
                who, entity, record_id, label, name = key
                changes.append({"at": at, "who": who, self.entity: entity,
                                "record_id": record_id, "row": label, "field": name,
                                "old": old, "new": new, "file": file, "line": line})
        if changes:
            audit_log.append(db, [self._logged(c) for c in changes])
            self.write([*rows, *changes])
        return changes

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            torn = data.count(b"\n") + 1
            raise InputError("the last line is incomplete: a write was cut short",
                             where=f"{self.path}, line {torn}",
                             fix="delete that line (the change it began was never recorded), "
                                 f"then run `make {self.stage}` again")
        rows = []
        for row in read_sheet(self.path).rows:
            number = row.values.get("line", "")
            if row.extra_cells or not number.isdigit() or set(self.columns) - set(row.values):
                raise InputError("not a row of the audit trail",
                                 where=f"{self.path}, line {row.line}",
                                 fix=f"the columns are {', '.join(self.columns)}; restore the "
                                     "file from version control")
            rows.append({**row.values, "line": int(number)})
        return rows

    def write(self, rows: list[dict[str, Any]]) -> None:
        out = io.StringIO()
        writer = csv_dict_writer(out, self.columns)
        writer.writeheader()
        writer.writerows(rows)
        write_atomic(self.path, out.getvalue().encode("utf-8"))

    def _logged(self, row: dict[str, Any]) -> dict[str, Any]:
        """A row of the file as a row of the audit log; row label, file and line go to its
        ``detail``."""
        return {"at": row["at"], "actor": row["who"], "action": self.action,
                "entity": row[self.entity], "entity_id": row["record_id"],
                "field": row["field"], "old": row["old"], "new": row["new"],
                "detail": json.dumps({"row": row["row"], "file": row["file"],
                                      "line": row["line"]})}

    def _written(self, row: dict[str, Any]) -> dict[str, Any]:
        where = json.loads(row["detail"])
        return {"at": row["at"], "who": row["actor"], self.entity: row["entity"],
                "record_id": row["entity_id"], "row": where["row"], "field": row["field"],
                "old": row["old"] or "", "new": row["new"] or "", "file": where["file"],
                "line": where["line"]}
