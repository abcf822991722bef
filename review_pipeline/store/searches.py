"""Search runs (``search_runs``) and the batches each run loaded: every query of them."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from review_pipeline.store.audit_log import now
from review_pipeline.store.records import find_batch, remove_batches
from review_pipeline.store.rows import insert_row


def start_run(db: Database, row: dict[str, Any]) -> int:
    """Store a new search run; return its id."""
    return insert_row(db, "search_runs", row)


def finish_run(db: Database, run_id: int, records: int, note: str = "") -> None:
    update: dict[str, Any] = {"finished_at": now(), "records": records}
    if note:
        update["note"] = note
    db.table("search_runs").update(run_id, update)


def run_in_folder(db: Database, folder: str) -> int | None:
    """The run whose raw answers are kept in ``folder`` (a live run being resumed)."""
    row = db.execute("SELECT run_id FROM search_runs WHERE raw_folder = ?", [folder]).fetchone()
    return int(row[0]) if row else None


def runs(db: Database) -> list[dict[str, Any]]:
    """Every run in order, each with the files it loaded (``files``)."""
    found = []
    for run in db.query("SELECT * FROM search_runs ORDER BY run_id"):
        run["files"] = [dict(f) for f in db.query(
            "SELECT file, sha256, records FROM batches WHERE run_id = ? ORDER BY batch_id",
            [run["run_id"]])]
        found.append(run)
    return found


def runs_and_batches(db: Database) -> list[dict[str, Any]]:
    """Each run's search (query and limits), mode, and each batch it holds (or none)."""
    return list(db.query(
        "SELECT r.run_id, r.mode, r.query, r.date_field, r.min_date, r.max_date, b.batch_id, "
        "b.sha256 FROM search_runs r LEFT JOIN batches b USING (run_id)"))


def remove_runs(db: Database, batches_of: dict[int, list[int]], why: str) -> int:
    """Take runs out of the review with their batches (see
    :func:`review_pipeline.store.records.remove_batches`); return how many records went."""
    with db.atomic():
        removed = remove_batches(db, [b for batches in batches_of.values() for b in batches],
                                 why)
        db.execute(f"DELETE FROM search_runs WHERE run_id IN "
                   f"({', '.join('?' * len(batches_of))})", list(batches_of))
    return removed


def search_holding(db: Database, source: str, sha256: str
                   ) -> tuple[str, str | None, str | None, str | None] | None:
    """(query, date field, min date, max date) of the run that holds the batch of this
    content, if any."""
    row = db.execute("SELECT r.query, r.date_field, r.min_date, r.max_date FROM batches b "
                     "JOIN search_runs r USING (run_id) WHERE b.source = ? AND b.sha256 = ?",
                     [source, sha256]).fetchone()
    return None if row is None else (row[0], row[1], row[2], row[3])


def claim_batch(db: Database, source: str, sha256: str, run_id: int) -> bool:
    """Make the batch of this content, if one was loaded before, a batch of ``run_id``;
    return whether there was one."""
    batch = find_batch(db, source, sha256)
    if batch is not None and batch["run_id"] != run_id:
        db.execute("UPDATE batches SET run_id = ? WHERE batch_id = ?", [run_id, batch["batch_id"]])
    return batch is not None
