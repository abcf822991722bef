"""Dedup's tables: the pairs judged (``dedup_pairs``), the runs (``dedup_runs``), the
clusters, and each record's link (``cluster_id``, ``duplicate_of``, ``dedup_rule``)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from sqlite_utils import Database

from review_pipeline.store.rows import insert_row, insert_rows

PairRow = tuple[str, str, str, str, str, float, float]
"""(record_id, other_record_id, verdict, rule, why, title score, authors score)."""


def entry_rows(db: Database) -> Iterator[tuple[Any, ...]]:
    """What dedup compares of each record, by id, as plain tuples: sqlite-utils' dict rows
    cost a second per 80,000 records."""
    return iter(db.execute(
        "SELECT record_id, source, branch, status, kind, pmid, doi, title, year, journal, "
        "journal_full, volume, pages, authors, abstract, issue, publication_types "
        "FROM records ORDER BY record_id"))


def last_run(db: Database) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM dedup_runs ORDER BY run_id DESC LIMIT 1"))
    return rows[0] if rows else None


def add_run(db: Database, row: dict[str, Any]) -> None:
    insert_row(db, "dedup_runs", row)


def unlinked(db: Database) -> set[str]:
    """Records no dedup run has placed in a cluster yet (new since the last run)."""
    return {r[0] for r in db.execute("SELECT record_id FROM records WHERE cluster_id IS NULL")}


def stored_pairs(db: Database) -> Iterator[PairRow]:
    """The pairs judged before, one at a time (a large review holds millions)."""
    return ((r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in db.execute(
        "SELECT record_id, other_record_id, verdict, rule, why, title, authors "
        "FROM dedup_pairs"))


def pairs_with(db: Database, record_id: str) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM dedup_pairs WHERE record_id = ? OR other_record_id = ?",
                         [record_id, record_id]))


def uncertain_pairs(db: Database) -> int:
    return int(db.execute("SELECT count(*) FROM dedup_pairs WHERE verdict = 'uncertain'"
                          ).fetchone()[0])


def save(db: Database, clusters: Sequence[dict[str, Any]], pairs: Sequence[dict[str, Any]],
         *, replace_pairs: bool) -> None:
    """Replace the clusters; add the pairs judged (after the stored ones, or instead)."""
    db.execute("DELETE FROM clusters")
    insert_rows(db, "clusters", clusters)
    if replace_pairs:
        db.execute("DELETE FROM dedup_pairs")
    insert_rows(db, "dedup_pairs", pairs)


def link_of(db: Database, record_id: str) -> tuple[str | None, str | None] | None:
    """(cluster, duplicate of) of a record; None when there is no such record."""
    row = db.execute("SELECT cluster_id, duplicate_of FROM records WHERE record_id = ?",
                     [record_id]).fetchone()
    return None if row is None else (row[0], row[1])


def all_links(db: Database) -> dict[str, tuple[str | None, str | None]]:
    """Every record's (cluster, duplicate of)."""
    return {r: (c, d) for r, c, d in db.execute(
        "SELECT record_id, cluster_id, duplicate_of FROM records")}


def set_links(db: Database, rows: Sequence[tuple[str, str, str | None, str | None, bool]]
              ) -> None:
    """(record id, cluster, duplicate of, rule, whether duplicate of changes) for each record
    to relink. Writing ``duplicate_of`` has SQLite check its foreign key, which doubles the
    cost of the update, so the records that keep theirs are written without it."""
    db.conn.executemany("UPDATE records SET cluster_id = ?, dedup_rule = ? WHERE record_id = ?",
                        [[c, r, i] for i, c, _, r, changed in rows if not changed])
    db.conn.executemany("UPDATE records SET cluster_id = ?, duplicate_of = ?, dedup_rule = ? "
                        "WHERE record_id = ?", [[c, d, r, i] for i, c, d, r, changed in rows
                                                if changed])


def members(db: Database, cluster_id: str) -> list[str]:
    return [r[0] for r in db.execute(
        "SELECT record_id FROM records WHERE cluster_id = ? ORDER BY record_id", [cluster_id])]


def kept_in(db: Database, cluster_id: str) -> str | None:
    row = db.execute("SELECT kept_record_id FROM clusters WHERE cluster_id = ?",
                     [cluster_id]).fetchone()
    return row[0] if row else None


def clusters_with_duplicates(db: Database) -> int:
    return int(db.execute("SELECT count(*) FROM clusters WHERE size > 1").fetchone()[0])


def duplicates_by_rule(db: Database) -> dict[str, int]:
    return dict(db.execute("SELECT dedup_rule, count(*) FROM records WHERE "
                           "status = 'duplicate' GROUP BY dedup_rule ORDER BY 2 DESC"))


def sources_and_clusters(db: Database) -> list[tuple[str, str | None]]:
    return [(r[0], r[1]) for r in db.execute("SELECT source, cluster_id FROM records")]


def fields_of(db: Database, record_ids: Sequence[str], fields: Sequence[str]
              ) -> dict[str, dict[str, Any]]:
    """The rows (``fields``) of these records, by id."""
    return {row["record_id"]: row for row in db.query(
        f"SELECT record_id, {', '.join(fields)} FROM records WHERE record_id IN "
        f"(SELECT value FROM json_each(?))", [json.dumps(list(record_ids))])}
