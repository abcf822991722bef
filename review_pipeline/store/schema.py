"""The review database's schema: its tables, created and migrated in order, and opening it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from review_pipeline import layout
from review_pipeline.model.errors import DatabaseError
from review_pipeline.model.state import State

DEFAULT_DB = layout.DB


migrations = Migrations("review_pipeline")


@migrations(name="0001_initial")
def _initial(db: Database) -> None:
    states = ", ".join(f"'{s.value}'" for s in State)
    _script(db, f"""
        CREATE TABLE search_runs (
            run_id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            database_name TEXT NOT NULL,
            interface TEXT NOT NULL,
            query TEXT NOT NULL,
            date_field TEXT,
            min_date TEXT,
            max_date TEXT,
            mode TEXT NOT NULL CHECK (mode IN ('live', 'replay', 'snapshot')),
            started_at TEXT NOT NULL,
            finished_at TEXT,
            count INTEGER,
            records INTEGER,
            query_translation TEXT,
            warnings TEXT,
            snapshot_file TEXT,
            snapshot_date TEXT,
            note TEXT
        );
        CREATE TABLE batches (
            batch_id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('search', 'import')),
            run_id INTEGER REFERENCES search_runs(run_id),
            source TEXT NOT NULL,
            file TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            format TEXT NOT NULL,
            records INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (source, sha256)
        );
        CREATE TABLE records (
            record_id TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            branch TEXT NOT NULL CHECK (branch IN ('databases', 'other')),
            source_record_id TEXT NOT NULL,
            source_file TEXT NOT NULL,
            batch_id INTEGER NOT NULL REFERENCES batches(batch_id),
            imported_at TEXT NOT NULL,
            pmid TEXT, pmcid TEXT, doi TEXT, title TEXT, abstract TEXT,
            authors TEXT, year INTEGER, journal TEXT, journal_full TEXT, issn TEXT,
            volume TEXT, issue TEXT, pages TEXT, language TEXT,
            publication_types TEXT, keywords TEXT, note TEXT, kind TEXT, extra TEXT,
            status TEXT NOT NULL DEFAULT 'identified' CHECK (status IN ({states})),
            status_reason TEXT,
            cluster_id TEXT,
            duplicate_of TEXT REFERENCES records(record_id),
            dedup_rule TEXT,
            UNIQUE (source, source_record_id),
            CHECK (duplicate_of IS NULL OR duplicate_of != record_id)
        );
        CREATE INDEX records_status ON records(status);
        CREATE INDEX records_cluster ON records(cluster_id);
        CREATE TABLE batch_records (
            batch_id INTEGER NOT NULL REFERENCES batches(batch_id),
            record_id TEXT NOT NULL REFERENCES records(record_id),
            position INTEGER NOT NULL,
            PRIMARY KEY (batch_id, record_id)
        );
        CREATE TABLE clusters (
            cluster_id TEXT PRIMARY KEY,
            kept_record_id TEXT NOT NULL REFERENCES records(record_id),
            size INTEGER NOT NULL,
            rules TEXT NOT NULL
        );
        CREATE TABLE verdicts (
            record_id TEXT PRIMARY KEY REFERENCES records(record_id),
            verdict TEXT NOT NULL CHECK (verdict IN ('include', 'exclude', 'none')),
            rule_id TEXT,
            automatic INTEGER NOT NULL,
            reason TEXT
        );
        CREATE TABLE decisions (
            decision_id INTEGER PRIMARY KEY,
            record_id TEXT NOT NULL REFERENCES records(record_id),
            stage TEXT NOT NULL CHECK (stage IN ('ta', 'ft')),
            reviewer TEXT NOT NULL,
            decision TEXT NOT NULL,
            reason TEXT,
            note TEXT,
            file TEXT NOT NULL,
            line INTEGER NOT NULL,
            UNIQUE (record_id, stage, reviewer)
        );
        CREATE TABLE extraction_rows (
            table_name TEXT NOT NULL,
            record_id TEXT NOT NULL REFERENCES records(record_id),
            row_key TEXT NOT NULL,
            data TEXT NOT NULL,
            file TEXT NOT NULL,
            line INTEGER NOT NULL,
            PRIMARY KEY (table_name, record_id, row_key)
        );
        CREATE TABLE audit_log (
            audit_id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            entity TEXT NOT NULL,
            entity_id TEXT NOT NULL,
            field TEXT,
            old TEXT,
            new TEXT,
            detail TEXT
        );
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
        """
    )


@migrations(name="0002_search_run_folder")
def _search_run_folder(db: Database) -> None:
    # A live run is resumed from its raw folder, and a large search records its PMID ranges.
    db.execute("ALTER TABLE search_runs ADD COLUMN raw_folder TEXT")
    db.execute("ALTER TABLE search_runs ADD COLUMN ranges TEXT")


@migrations(name="0003_batch_quarantine")
def _batch_quarantine(db: Database) -> None:
    # Records an import refused (--skip-bad) are counted with the batch and kept in a report.
    db.execute("ALTER TABLE batches ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE batches ADD COLUMN quarantine TEXT")


@migrations(name="0004_dedup_pairs")
def _dedup_pairs(db: Database) -> None:
    # The pairs dedup judged, so every link can be explained and a re-run compares only
    # pairs that involve new records.
    db.execute("""
        CREATE TABLE dedup_pairs (
            record_id TEXT NOT NULL REFERENCES records(record_id),
            other_record_id TEXT NOT NULL REFERENCES records(record_id),
            verdict TEXT NOT NULL CHECK (verdict IN ('same', 'uncertain', 'different')),
            rule TEXT NOT NULL,
            why TEXT NOT NULL,
            title REAL NOT NULL,
            authors REAL NOT NULL,
            PRIMARY KEY (record_id, other_record_id)
        )""")


@migrations(name="0005_dedup_runs")
def _dedup_runs(db: Database) -> None:
    # Which rules the stored pair verdicts came from: a re-run reuses them only under the
    # same rules, and compares just the pairs that involve new records.
    db.execute("""
        CREATE TABLE dedup_runs (
            run_id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            rules TEXT NOT NULL,
            records INTEGER NOT NULL,
            compared INTEGER NOT NULL,
            reused INTEGER NOT NULL,
            duplicates INTEGER NOT NULL
        )""")


@migrations(name="0006_screening")
def _screening(db: Database) -> None:
    # What the rules read in each record (shown on worksheets), the resolutions of
    # conflicts, and each record's outcome per stage, from which counts and kappa derive.
    db.execute("ALTER TABLE verdicts ADD COLUMN design TEXT")
    db.execute("ALTER TABLE verdicts ADD COLUMN patients INTEGER")
    db.execute("""
        CREATE TABLE resolutions (
            record_id TEXT NOT NULL REFERENCES records(record_id),
            stage TEXT NOT NULL CHECK (stage IN ('ta', 'ft')),
            decision TEXT NOT NULL,
            reason TEXT,
            note TEXT,
            file TEXT NOT NULL,
            line INTEGER NOT NULL,
            PRIMARY KEY (record_id, stage)
        )""")
    db.execute("""
        CREATE TABLE stage_outcomes (
            record_id TEXT NOT NULL REFERENCES records(record_id),
            stage TEXT NOT NULL CHECK (stage IN ('ta', 'ft')),
            decisions INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            reason TEXT,
            conflict INTEGER NOT NULL,
            resolved INTEGER NOT NULL,
            PRIMARY KEY (record_id, stage)
        )""")


@migrations(name="0007_extraction")
def _extraction(db: Database) -> None:
    # Extraction forms become data: the field definitions, every reviewer's cells (and the
    # consensus file's) in long form; the final typed tables are made from the definitions.
    db.execute("DROP TABLE extraction_rows")
    db.execute("""
        CREATE TABLE extraction_fields (
            table_name TEXT NOT NULL,
            field TEXT NOT NULL,
            position INTEGER NOT NULL,
            type TEXT NOT NULL,
            choices TEXT,
            required INTEGER NOT NULL,
            key INTEGER NOT NULL,
            min REAL,
            max REAL,
            at_most TEXT,
            one_of TEXT,
            compare INTEGER NOT NULL,
            unit TEXT,
            help TEXT,
            PRIMARY KEY (table_name, field)
        )""")
    db.execute("""
        CREATE TABLE extraction_cells (
            table_name TEXT NOT NULL,
            record_id TEXT NOT NULL REFERENCES records(record_id),
            row TEXT NOT NULL,
            reviewer TEXT NOT NULL,
            field TEXT NOT NULL,
            value TEXT NOT NULL,
            file TEXT NOT NULL,
            line INTEGER NOT NULL,
            PRIMARY KEY (table_name, record_id, row, reviewer, field)
        )""")


@migrations(name="0008_studies_and_analyses")
def _studies_and_analyses(db: Database) -> None:
    # A study groups its reports (records), and overlapping studies share a cohort; the
    # synthesis stage keeps each analysis it pooled, as JSON, for the report.
    db.execute("""
        CREATE TABLE study_reports (
            record_id TEXT PRIMARY KEY REFERENCES records(record_id),
            study_id TEXT NOT NULL REFERENCES records(record_id),
            cohort TEXT,
            note TEXT,
            file TEXT NOT NULL,
            line INTEGER NOT NULL
        )""")
    db.execute("""
        CREATE TABLE analyses (
            analysis_id TEXT PRIMARY KEY,
            position INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            treatment TEXT NOT NULL,
            pooled INTEGER NOT NULL,
            result TEXT NOT NULL
        )""")


def _script(db: Database, sql: str) -> None:
    """Run the statements of ``sql`` inside the open transaction (``executescript`` would
    commit it; sqlite-utils' own splitting goes one character at a time)."""
    statement = ""
    for piece in sql.split(";"):
        statement += piece + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip("; \n"):
                db.execute(statement)
            statement = ""


WAIT = 300.0
"""Seconds a command waits for another that holds the database before it gives up."""


def open_db(path: Path | str = DEFAULT_DB, *, create: bool = True, wait: float = WAIT,
            on_wait: Callable[[str], None] | None = None) -> Database:
    """Open the review database (creating it if need be, when ``create``) and bring its
    schema up to date. While another command writes to it, wait up to ``wait`` seconds,
    telling ``on_wait`` so if it takes more than a moment."""
    path = Path(path)
    if path.exists() and path.is_dir():
        raise DatabaseError("is a folder, not a database file", where=str(path),
                            fix="pass --db with a file path such as data/review.db")
    if not create and not path.exists():
        raise DatabaseError("there is no review database here", where=str(path),
                            fix="check --db (env REVIEW_DB); `make all`, or `review fetch` "
                                "and `review import`, build the database")
    path.parent.mkdir(parents=True, exist_ok=True)
    db = Database(sqlite3.connect(path, timeout=min(wait, 1.0)))
    try:
        _wait_for_others(db, path, wait, on_wait)
        db.execute("PRAGMA foreign_keys = ON")
        _check_not_newer(db, path)
        # One transaction for every pending migration: a new database is written once.
        with db.atomic():
            migrations.apply(db)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise DatabaseError(
            f"cannot open the review database ({exc})",
            where=str(path),
            fix="check the path; the database is a cache, so `make clean && make all` rebuilds it",
        ) from exc
    except BaseException:
        db.close()
        raise
    return db


def _wait_for_others(db: Database, path: Path, wait: float,
                     on_wait: Callable[[str], None] | None) -> None:
    """Take the write lock once and let it go: a command that starts while another writes
    waits for it here, said once, instead of failing halfway through its own work."""
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        if on_wait:
            on_wait(f"another command is using {path}; waiting for it (up to {wait:.0f} s)")
        db.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as again:
            raise DatabaseError(f"another command held the database for more than {wait:.0f} s",
                                where=str(path), fix="wait for it to finish (or stop it), then "
                                "run this command again") from again
    db.execute("ROLLBACK")
    db.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")


def _check_not_newer(db: Database, path: Path) -> None:
    empty = Database(memory=True)
    try:
        known = {m.name for m in migrations.pending(empty)}
    finally:
        empty.close()
    unknown = [m.name for m in migrations.applied(db) if m.name not in known]
    if unknown:
        raise DatabaseError(
            f"the database was written by a newer review_pipeline (migrations {unknown})",
            where=str(path),
            fix="upgrade review_pipeline, or rebuild the database with `make clean && make all`",
        )


def schema_version(db: Database) -> int:
    return len(migrations.applied(db))


def file_of(db: Database) -> Path:
    """The file ``db`` is stored in (the default database's path when it is in memory)."""
    name = db.execute("PRAGMA database_list").fetchone()[2]
    return Path(name) if name else DEFAULT_DB
