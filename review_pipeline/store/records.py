"""Records and the batches that brought them: loaded, removed, and moved between states.

This is the only module that writes the ``status`` and ``status_reason`` columns, the
state in one place,
:func:`set_state`, which refuses any transition not listed in
:data:`~review_pipeline.model.state.TRANSITIONS`.
"""

from __future__ import annotations

import itertools
import json
import re
import textwrap
from collections import Counter
from collections.abc import Iterable, Sequence
from string import ascii_lowercase
from typing import Any

from sqlite_utils import Database

from review_pipeline.model.errors import StateError
from review_pipeline.model.record import Record, content_digest
from review_pipeline.model.state import TRANSITIONS, State, path_between
from review_pipeline.store.audit_log import ACTOR_SYSTEM, audit, audit_many, now
from review_pipeline.store.rows import insert_row, insert_rows


def set_state(db: Database, record_id: str, new: State, *, actor: str = ACTOR_SYSTEM,
              reason: str = "") -> None:
    """Move one record to ``new``; refuse any move that :data:`TRANSITIONS` does not allow."""
    row = db.execute("SELECT status FROM records WHERE record_id = ?", [record_id]).fetchone()
    if row is None:
        raise StateError(f"no record with id '{record_id}'", where="records",
                         fix="check the record id with `review export records`")
    old = State(row[0])
    if new not in TRANSITIONS[old]:
        allowed = ", ".join(sorted(TRANSITIONS[old])) or "none"
        raise StateError(
            f"record '{record_id}' cannot move from {old} to {new} (allowed: {allowed})",
            where="records.status",
            fix="run the stages in order (`make all`); a record reaches later states only "
                "through the earlier ones",
        )
    _write_states(db, [(new.value, reason or None, record_id)], [{
        "actor": actor, "action": "state", "entity": "record", "entity_id": record_id,
        "field": "status", "old": old.value, "new": new.value, "detail": reason or None}])


def _write_states(db: Database, rows: Sequence[tuple[str, str | None, str]],
                  trail: Sequence[dict[str, Any]]) -> None:
    """The one writer of ``records.status``: (state, reason, record id) rows, and their
    audit rows."""
    db.conn.executemany("UPDATE records SET status = ?, status_reason = ? WHERE record_id = ?",
                        rows)
    audit_many(db, trail)


def move_to(db: Database, record_id: str, target: State, current: State, *,
            actor: str = ACTOR_SYSTEM, reason: str = "") -> bool:
    """Bring a record to ``target`` by allowed steps; return whether anything changed."""
    steps = path_between(current, target)
    for step in steps:
        set_state(db, record_id, step, actor=actor, reason=reason)
    return bool(steps)


def move_many(db: Database, moves: Sequence[tuple[str, State, State, str]], *,
              actor: str = ACTOR_SYSTEM) -> set[str]:
    """:func:`move_to` for many records at once: (record id, its current state, the target,
    the reason) each; return the ids that moved. The current states are the caller's, read
    in the same transaction."""
    updates: list[tuple[str, str | None, str]] = []
    trail: list[dict[str, Any]] = []
    for record_id, current, target, reason in moves:
        steps = path_between(current, target)
        old = current
        for step in steps:
            trail.append({"actor": actor, "action": "state", "entity": "record",
                          "entity_id": record_id, "field": "status", "old": old.value,
                          "new": step.value, "detail": reason or None})
            old = step
        if steps:
            updates.append((target.value, reason or None, record_id))
    _write_states(db, updates, trail)
    return {u[2] for u in updates}


def make_record_id(source: str, source_record_id: str) -> str:
    return f"{source}:{source_record_id}"


def find_batch(db: Database, source: str, sha256: str) -> dict[str, Any] | None:
    rows = list(db.table("batches").rows_where("source = ? AND sha256 = ?", [source, sha256]))
    return rows[0] if rows else None


def add_batch(db: Database, records: Iterable[Record], *, kind: str, source: str,
              branch: str, file: str, sha256: str, fmt: str, run_id: int | None = None,
              skipped: int = 0, quarantine: str | None = None,
              distinct: bool = False) -> tuple[int, int]:
    """Store one batch of records; return (batch id, records new to the database).

    ``records`` may be a one-pass stream; it is stored a chunk at a time, so a large import
    holds one chunk, not the whole file. A record already present (same source and source
    id) is linked to the batch but keeps its first version, so a repeated search never
    duplicates or rewrites a record. With ``distinct`` (an export's ids are its own file's,
    not a database's), a record whose id another file of the source gave a record with
    other content is another record, under ``<id>~<digest>``; an earlier version of the
    same file (the same path) is the same export, whatever changed in it.
    """
    at = now()
    batch_id = insert_row(db, "batches", {
        "kind": kind, "run_id": run_id, "source": source, "file": file, "sha256": sha256,
        "format": fmt, "records": 0, "created_at": at, "skipped": skipped,
        "quarantine": quarantine,
    })
    where = {"source": source, "branch": branch, "source_file": file, "batch_id": batch_id,
             "imported_at": at}
    existing = {r[0] for r in db.execute("SELECT record_id FROM records WHERE source = ?",
                                          [source]).fetchall()}
    stream, position, new = iter(records), 0, 0
    while chunk := list(itertools.islice(stream, _CHUNK)):
        if distinct:
            _tell_apart(db, chunk, source, file, existing)
        new_rows, links = [], []
        for record in chunk:
            record_id = make_record_id(source, record.source_record_id)
            links.append({"batch_id": batch_id, "record_id": record_id, "position": position})
            position += 1
            if record_id not in existing:
                existing.add(record_id)
                new_rows.append(_record_row(record, record_id, where))
        insert_rows(db, "records", new_rows)
        insert_rows(db, "batch_records", links, "OR IGNORE")
        new += len(new_rows)
    db.execute("UPDATE batches SET records = ? WHERE batch_id = ?", [position, batch_id])
    audit(db, actor=ACTOR_SYSTEM, action="load", entity="batch", entity_id=str(batch_id),
          detail=f"{position} records from {file} ({new} new)")
    return batch_id, new


_CHUNK = 1_000


def _tell_apart(db: Database, chunk: list[Record], source: str, file: str,
                existing: set[str]) -> None:
    """Give another id (``<id>~<digest>``) to each record of ``chunk`` whose id a record of
    another file of ``source`` holds with other content."""
    ids = [make_record_id(source, r.source_record_id) for r in chunk]
    held = [rid for rid in ids if rid in existing]
    if not held:
        return
    rows = {row["record_id"]: row for row in db.query(
        "SELECT r.*, EXISTS (SELECT 1 FROM batch_records l JOIN batches b USING (batch_id) "
        "WHERE l.record_id = r.record_id AND b.file = ?) AS this_file FROM records r "
        "WHERE r.record_id IN (SELECT value FROM json_each(?))", [file, json.dumps(held)])}
    for record, record_id in zip(chunk, ids, strict=True):
        row = rows.get(record_id)
        if row is None or row["this_file"]:
            continue
        digest = content_digest(record)
        if digest != content_digest(record_from_row(row)):
            record.source_record_id = f"{record.source_record_id}~{digest}"


def remove_batches(db: Database, batch_ids: Sequence[int], why: str) -> int:
    """Take batches out of the review (their file left the protocol, or was replaced by
    another version), with the records no other batch holds; return how many records went.

    Records another batch still holds stay, with their ids and decisions. What later stages
    derived from a removed record goes with it (every row that refers to it); a record that
    was its duplicate, or shared its cluster, is compared again by the next dedup. The
    files themselves are untouched, and the audit log says what went and why.
    """
    if not batch_ids:
        return 0
    marks = ", ".join("?" * len(batch_ids))
    gone = [r[0] for r in db.execute(
        f"SELECT record_id FROM batch_records WHERE batch_id IN ({marks}) EXCEPT "
        f"SELECT record_id FROM batch_records WHERE batch_id NOT IN ({marks})",
        [*batch_ids, *batch_ids])]
    with db.atomic():
        db.execute("CREATE TEMP TABLE IF NOT EXISTS removed_records (record_id TEXT PRIMARY KEY)")
        db.execute("DELETE FROM removed_records")
        insert_rows(db, "removed_records", [{"record_id": r} for r in gone])
        removed = "SELECT record_id FROM removed_records"
        for (record_id,) in db.execute(f"SELECT record_id FROM records WHERE duplicate_of IN "
                                       f"({removed})").fetchall():
            set_state(db, record_id, State.IDENTIFIED, reason="what it duplicated was removed")
        db.execute(f"UPDATE records SET duplicate_of = NULL, cluster_id = NULL WHERE "
                   f"duplicate_of IN ({removed}) OR cluster_id IN ({removed})")
        for table, column in _references_to_records(db):
            db.execute(f"DELETE FROM [{table}] WHERE [{column}] IN ({removed})")
        db.execute(f"DELETE FROM batch_records WHERE batch_id IN ({marks})", list(batch_ids))
        db.execute(f"DELETE FROM records WHERE record_id IN ({removed})")
        # A record kept through another batch now counts from the first batch that holds it.
        db.execute(f"""
            UPDATE records SET (batch_id, source_file) = (
                SELECT b.batch_id, b.file FROM batch_records l JOIN batches b USING (batch_id)
                WHERE l.record_id = records.record_id ORDER BY b.batch_id LIMIT 1)
            WHERE batch_id IN ({marks})""", list(batch_ids))
        for batch_id, source, file, records in db.execute(
                f"SELECT batch_id, source, file, records FROM batches WHERE batch_id IN "
                f"({marks})", list(batch_ids)).fetchall():
            audit(db, actor=ACTOR_SYSTEM, action="remove", entity="batch",
                  entity_id=str(batch_id), field=source,
                  detail=f"{file} ({records} records): {why}")
        db.execute(f"DELETE FROM batches WHERE batch_id IN ({marks})", list(batch_ids))
    return len(gone)


def missing_record(db: Database, record_id: str) -> str:
    """Why the review holds no record ``record_id``, as far as it can tell, and what to do:
    for a reviewer's row that names it."""
    text = f"no record '{record_id}' in the review"
    source, _, own = record_id.partition(":")
    split = [r[0] for r in db.execute(
        "SELECT record_id FROM records WHERE record_id > ? AND record_id < ? ORDER BY 1",
        [f"{record_id}~", f"{record_id}\x7f"])]
    if split:
        return (f"{text}: its file now holds {len(split)} records under that id, named "
                f"{', '.join(split[:4])}; name the right one")
    base = record_id.rsplit("~", 1)[0]
    if base != record_id and db.execute("SELECT 1 FROM records WHERE record_id = ?",
                                        [base]).fetchone():
        return f"{text}: its file now holds one record under that id, named '{base}'"
    legacy = _LEGACY_ID.match(own)
    if legacy:
        row = db.execute(
            "SELECT l.record_id FROM batch_records l JOIN batches b USING (batch_id) WHERE "
            "b.source = ? AND substr(b.sha256, 1, 10) = ? AND l.position = ? AND b.format "
            "IN ('ris', 'wos', 'endnote-xml')",
            [source, legacy[1], int(legacy[2]) - 1]).fetchone()
        now_named = f"; this one is now '{row[0]}'" if row else ""
        return (f"{text}: earlier versions of review_pipeline made the id of a record without "
                f"one from its file's bytes, now from what the record is{now_named}; "
                "`review export records` lists the ids")
    gone = db.execute("SELECT detail FROM audit_log WHERE action = 'remove' AND entity = "
                      "'batch' AND field = ? ORDER BY audit_id DESC LIMIT 1",
                      [source]).fetchone()
    if gone:
        return (f"{text}; if it was a record of '{source}' that left the review with "
                f"{gone[0]}, remove the row or list that file in the protocol again")
    return f"{text} (check the id against `review export records`)"


_LEGACY_ID = re.compile(r"^([0-9a-f]{10})#(\d+)$")


def _references_to_records(db: Database) -> list[tuple[str, str]]:
    """(table, column) of every other table's column that refers to a record, the
    extraction forms' tables included."""
    found = []
    for table in db.table_names():
        if table == "records":
            continue
        for ref in db.execute(f"PRAGMA foreign_key_list([{table}])").fetchall():
            if ref[2] == "records":
                found.append((table, ref[3]))
    return found


def note_refused(db: Database, batch_id: int, skipped: int, quarantine: str) -> None:
    """Record that ``skipped`` records of a batch were refused, and where they are."""
    db.execute("UPDATE batches SET skipped = ?, quarantine = ? WHERE batch_id = ?",
               [skipped, quarantine, batch_id])


_JSON = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps would build one per call


def _record_row(record: Record, record_id: str, where: dict[str, Any]) -> dict[str, Any]:
    """The ``records`` row of ``record``, loaded as ``where`` says (source, branch, file,
    batch and time)."""
    # A shallow copy: the lists go straight to JSON, so asdict's deep copy is not needed.
    row = vars(record).copy()
    for key in ("authors", "publication_types", "keywords", "extra"):
        row[key] = _JSON(row[key])
    row["record_id"] = record_id
    row.update(where)
    return row


def record_from_row(row: dict[str, Any]) -> Record:
    """The Record stored in a ``records`` row."""
    fields = {k: row[k] for k in Record.__dataclass_fields__ if k in row}
    for key in ("authors", "publication_types", "keywords"):
        fields[key] = json.loads(fields.get(key) or "[]")
    fields["extra"] = json.loads(fields.get("extra") or "{}")
    for key, value in list(fields.items()):
        if value is None and key != "year":
            fields[key] = ""
    return Record(**fields)


def counts_by(db: Database, column: str, where: str = "1") -> dict[str, int]:
    sql = f"SELECT {column}, count(*) FROM records WHERE {where} GROUP BY {column} ORDER BY 1"
    return {str(k): int(n) for k, n in db.execute(sql).fetchall()}


def records_at(db: Database, state: State, columns: Sequence[str] = (), *,
               by_year: bool = False) -> list[dict[str, Any]]:
    """The rows (``columns`` of them, or all) of the records now at ``state``, by id, or by
    year and then id."""
    order = "year, record_id" if by_year else "record_id"
    return list(db.query(f"SELECT {_columns(columns)} FROM records WHERE status = ? "
                         f"ORDER BY {order}", [state.value]))


def short_names(db: Database, state: State) -> dict[str, str]:
    """A short name for each record at ``state``, as papers cite them: its first author's
    family name and its year ("Dispenzieri 2004"); the journal for a record without authors
    ("Blood 2011"), its title's opening words without a journal either; "a", "b", ... where
    names repeat."""
    rows = records_at(db, state, ("record_id", "authors", "year", "journal", "title"))
    names = {}
    for r in rows:
        authors = json.loads(r["authors"] or "[]")
        first = family_name(authors[0]) if authors else (r["journal"] or textwrap.shorten(
            r["title"] or r["record_id"], 40, placeholder="..."))
        names[r["record_id"]] = f"{first} {r['year'] or ''}".strip()
    repeated = Counter(names.values())
    order = sorted(rows, key=lambda r: (str(r["year"] or ""), r["record_id"]))
    seen: Counter[str] = Counter()
    for r in order:
        name = names[r["record_id"]]
        if repeated[name] > 1:
            names[r["record_id"]] = f"{name}{ascii_lowercase[seen[name] % 26]}"
            seen[name] += 1
    return names


def family_name(author: str) -> str:
    """The family name of an author as PubMed ("Le Quintrec M") or RIS ("Le Quintrec, M.")
    writes it; a name without initials is kept whole."""
    if "," in author:
        return author.split(",")[0].strip()
    words = author.split()
    if len(words) > 1 and _INITIALS.match(words[-1]):
        return " ".join(words[:-1])
    return author.strip()


_INITIALS = re.compile(r"^[A-Z][A-Z.\-]{0,3}$")


def all_records(db: Database, columns: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Every record's row (``columns`` of it, or all), duplicates included, by id."""
    return list(db.query(f"SELECT {_columns(columns)} FROM records ORDER BY record_id"))


def _columns(names: Sequence[str]) -> str:
    return ", ".join(f"[{n}]" for n in names) if names else "*"


def tally(db: Database) -> list[dict[str, Any]]:
    """Records counted by source, branch, state and the reason for it (``n``)."""
    return list(db.query("SELECT source, branch, status, status_reason, count(*) AS n "
                         "FROM records GROUP BY source, branch, status, status_reason"))


def per_source(db: Database) -> list[dict[str, Any]]:
    """Records and duplicates of each source (and its branch)."""
    return list(db.query("SELECT source, branch, count(*) AS records, sum(status = 'duplicate') "
                         "AS duplicates FROM records GROUP BY source, branch ORDER BY source"))


def set_branches(db: Database, branch_of: dict[str, str]) -> None:
    """Put each source's records in the branch of the flow (databases, other) it now has."""
    for source, branch in branch_of.items():
        db.execute("UPDATE records SET branch = ? WHERE source = ? AND branch != ?",
                   [branch, source, branch])


def import_batches(db: Database) -> list[dict[str, Any]]:
    """Every batch that an import (not a search) loaded, in order."""
    return list(db.query("SELECT * FROM batches WHERE kind = 'import' ORDER BY batch_id"))


def sources_loaded(db: Database) -> set[str]:
    """The sources of which the review holds a batch."""
    return {row[0] for row in db.execute("SELECT DISTINCT source FROM batches")}


def record_ids(db: Database) -> set[str]:
    return {r[0] for r in db.execute("SELECT record_id FROM records")}


def set_reason(db: Database, record_id: str, reason: str) -> None:
    """Change why a record stands where it stands (a conflict resolved, a reason changed)."""
    db.execute("UPDATE records SET status_reason = ? WHERE record_id = ?",
               [reason or None, record_id])
