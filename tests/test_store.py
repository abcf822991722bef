"""The store: migrations, the record states, the one function that moves them, the audit log."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from review_pipeline import store
from review_pipeline.model.errors import DatabaseError, StateError
from review_pipeline.model.record import Record
from review_pipeline.model.state import TRANSITIONS, State, path_between
from review_pipeline.store import open_db, set_state

PACKAGE = Path(__file__).parent.parent / "review_pipeline"


def add(db: Database, *ids: str, source: str = "pubmed") -> None:
    store.add_batch(db, [Record(source_record_id=i, title=f"T {i}") for i in ids], kind="import",
                    source=source, branch="databases", file="f.ris", sha256="".join(ids),
                    fmt="ris")


def status(db: Database, record_id: str) -> str:
    return str(db.execute("SELECT status FROM records WHERE record_id = ?",
                          [record_id]).fetchone()[0])


def test_schema_is_versioned_and_reopening_applies_nothing(tmp_path: Path) -> None:
    first = open_db(tmp_path / "r.db")
    assert store.schema_version(first) == 8
    tables = set(first.table_names())
    assert {"search_runs", "batches", "records", "batch_records", "clusters", "verdicts",
            "decisions", "extraction_cells", "audit_log", "_sqlite_migrations"} <= tables
    first.close()
    again = open_db(tmp_path / "r.db")
    assert store.schema_version(again) == 8
    assert again.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == 8
    again.close()


def test_a_database_of_the_first_schema_is_upgraded(tmp_path: Path) -> None:
    old = Database(tmp_path / "old.db")
    store.migrations.apply(old, stop_before="0002_search_run_folder")
    old.table("search_runs").insert({"source": "pubmed", "database_name": "MEDLINE",
                                     "interface": "PubMed", "query": "poems", "mode": "live",
                                     "started_at": "2026-01-01"})
    old.close()
    upgraded = open_db(tmp_path / "old.db")
    row = next(upgraded.query("SELECT * FROM search_runs"))
    upgraded.close()
    assert row["query"] == "poems" and row["raw_folder"] is None and row["ranges"] is None


def test_a_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    db = open_db(tmp_path / "r.db")
    db.table("_sqlite_migrations").insert({"migration_set": "review_pipeline",
                                           "name": "0099_future", "applied_at": "x"})
    db.close()
    with pytest.raises(DatabaseError, match=r"newer review_pipeline .*0099_future"):
        open_db(tmp_path / "r.db")


def test_a_file_that_is_not_sqlite_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "review.db"
    path.write_text("these are notes, not a database\n" * 100)
    with pytest.raises(DatabaseError, match="cannot open the review database"):
        open_db(path)
    assert path.read_text().startswith("these are notes")


def test_allowed_moves_change_state_and_are_audited(db: Database) -> None:
    add(db, "1")
    set_state(db, "pubmed:1", State.SCREENED, actor="alice", reason="kept")
    assert status(db, "pubmed:1") == "screened"
    row = db.execute("SELECT actor, old, new, detail FROM audit_log WHERE action = 'state'"
                     ).fetchone()
    assert tuple(row) == ("alice", "identified", "screened", "kept")


@pytest.mark.parametrize(("path", "refused"), [
    ((), State.INCLUDED),
    ((), State.EXCLUDED_FT),
    ((State.DUPLICATE,), State.SCREENED),
    ((State.SCREENED, State.EXCLUDED_TA), State.INCLUDED),
    ((State.SCREENED, State.SOUGHT, State.NOT_RETRIEVED), State.INCLUDED),
])
def test_illegal_moves_are_refused_and_change_nothing(db: Database, path: tuple[State, ...],
                                                      refused: State) -> None:
    add(db, "1")
    for step in path:
        set_state(db, "pubmed:1", step)
    before = status(db, "pubmed:1")
    audits = db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    with pytest.raises(StateError, match=f"cannot move from {before} to {refused.value}"):
        set_state(db, "pubmed:1", refused)
    assert status(db, "pubmed:1") == before
    assert db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == audits


def test_unknown_record_is_a_state_error(db: Database) -> None:
    with pytest.raises(StateError, match="no record with id 'pubmed:nope'"):
        set_state(db, "pubmed:nope", State.SCREENED)


def test_every_state_can_be_reached_and_left_by_allowed_steps() -> None:
    for start in State:
        for goal in State:
            steps = path_between(start, goal)
            current = start
            for step in steps:
                assert step in TRANSITIONS[current]
                current = step
            assert current == goal


def test_the_status_column_is_written_only_by_set_state() -> None:
    writers = []
    for path in PACKAGE.rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"SET\s+status\s*=|[\"']status[\"']\s*:", line):
                writers.append(f"{path.relative_to(PACKAGE)}:{number}")
    assert writers == ["store/records.py:" + str(_line_of("UPDATE records SET status = ?"))]


def _line_of(text: str) -> int:
    lines = (PACKAGE / "store" / "records.py").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_the_audit_log_is_append_only(db: Database) -> None:
    add(db, "1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE audit_log SET actor = 'mallory'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM audit_log")


def test_a_repeated_record_keeps_its_first_version(db: Database) -> None:
    add(db, "1", "2")
    store.add_batch(db, [Record(source_record_id="1", title="changed")], kind="import",
                    source="pubmed", branch="databases", file="g.ris", sha256="other",
                    fmt="ris")
    assert db.execute("SELECT title FROM records WHERE record_id = 'pubmed:1'").fetchone()[0] == (
        "T 1")
    assert db.execute("SELECT count(*) FROM batch_records").fetchone()[0] == 3
