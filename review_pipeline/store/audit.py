"""The audit log: every change the stages make, appended, never updated or deleted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

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
