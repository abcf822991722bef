"""The audit log: every change the stages make, appended, never updated or deleted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from review_pipeline.store.rows import insert_rows

ACTOR_SYSTEM = "review_pipeline"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def audit(db: Database, *, actor: str, action: str, entity: str, entity_id: str,
          field: str | None = None, old: Any = None, new: Any = None,
          detail: str | None = None) -> None:
    """Append one row to the audit log (it cannot be updated or deleted)."""
    db.table("audit_log").insert({
        "at": now(), "actor": actor, "action": action, "entity": entity,
        "entity_id": entity_id, "field": field,
        "old": None if old is None else str(old),
        "new": None if new is None else str(new), "detail": detail,
    })


def audit_many(db: Database, rows: Sequence[dict[str, Any]]) -> None:
    """Append many rows at once (keys as :func:`audit`'s arguments): a dedup run can move
    tens of thousands of records, and one insert each would cost more than the run."""
    at = now()
    insert_rows(db, "audit_log", [{
        "at": at, "actor": r["actor"], "action": r["action"], "entity": r["entity"],
        "entity_id": r["entity_id"], "field": r.get("field"),
        "old": None if r.get("old") is None else str(r["old"]),
        "new": None if r.get("new") is None else str(r["new"]), "detail": r.get("detail"),
    } for r in rows])


def has_trail(db: Database, action: str) -> bool:
    return db.execute("SELECT 1 FROM audit_log WHERE action = ? LIMIT 1",
                      [action]).fetchone() is not None


def trail(db: Database, action: str, entity_id: str | None = None) -> list[dict[str, Any]]:
    """The rows of ``action`` (about ``entity_id``, or any), oldest first."""
    return list(db.query("SELECT * FROM audit_log WHERE action = ? AND "
                         "(? IS NULL OR entity_id = ?) ORDER BY audit_id",
                         [action, entity_id, entity_id]))


def entities(db: Database, action: str, ident: str) -> list[str]:
    """The entities of ``action`` named ``ident``, or whose id ends in ``:<ident>``."""
    return [r[0] for r in db.execute(
        "SELECT DISTINCT entity_id FROM audit_log WHERE action = ? AND "
        "(entity_id = ? OR entity_id LIKE ?)", [action, ident, f"%:{ident}"])]


def append(db: Database, rows: Sequence[dict[str, Any]]) -> None:
    """Append rows that carry their own time (a trail restored from a file, or one load's
    changes)."""
    insert_rows(db, "audit_log", rows)
