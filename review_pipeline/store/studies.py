"""Studies and their reports (``study_reports``): which study each linked report belongs
to and which cohort a study draws on; and the analyses the synthesis stage pooled."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlite_utils import Database

from review_pipeline.store.rows import insert_rows


def replace_links(db: Database, rows: Sequence[dict[str, Any]]) -> None:
    """Put the links of ``rows`` (record_id, study_id, cohort, note, file, line) in place
    of the last extraction's."""
    db.execute("DELETE FROM study_reports")
    insert_rows(db, "study_reports", rows)


def links(db: Database) -> dict[str, dict[str, Any]]:
    """Each listed report's row, by record id."""
    return {r["record_id"]: r for r in db.query("SELECT * FROM study_reports")}


def study_of(db: Database, record_ids: Sequence[str]) -> dict[str, str]:
    """The study of each record of ``record_ids``: the one it is linked to, or itself."""
    linked = {r["record_id"]: r["study_id"] for r in db.query(
        "SELECT record_id, study_id FROM study_reports")}
    return {r: linked.get(r, r) for r in record_ids}


def companion_reports(db: Database, status: str) -> int:
    """Records at ``status`` (included) that are reports of another study."""
    row = db.execute("SELECT COUNT(*) FROM study_reports s JOIN records r USING (record_id) "
                     "WHERE s.study_id != s.record_id AND r.status = ?", [status]).fetchone()
    return int(row[0])


def replace_analyses(db: Database, analyses: Sequence[dict[str, Any]]) -> None:
    """Keep the synthesis stage's analyses (each a JSON-able dict with ``id``, ``outcome``,
    ``treatment`` and ``pooled``) in place of the last run's."""
    db.execute("DELETE FROM analyses")
    insert_rows(db, "analyses", [
        {"analysis_id": a["id"], "position": i, "outcome": a["outcome"],
         "treatment": a["treatment"], "pooled": int(a["pooled"]), "result": json.dumps(a)}
        for i, a in enumerate(analyses)])


def analyses(db: Database) -> list[dict[str, Any]]:
    """The synthesis stage's analyses, in its order (none before it runs)."""
    return [json.loads(r["result"]) for r in db.query(
        "SELECT result FROM analyses ORDER BY position")]
