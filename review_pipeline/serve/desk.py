"""One reviewer's screening in the browser: their own sheet, in its order, a record at a time.

Every decision goes at once into the reviewer's sheet (``<stage>-<reviewer>.csv`` or
``.xlsx``), the file ``review screen`` reads: the sheet is read again before each write, so
what was typed into it by hand meanwhile stays, and it is replaced whole or not at all.
Nothing else is kept in memory but the order and this session's undo list.

Reviewers stay blind to each other: a desk reads only its own sheet. The conflicts of a stage
(:func:`conflicts`) list only records every reviewer the protocol asks for has decided.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from review_pipeline import store
from review_pipeline.files import write_atomic
from review_pipeline.formats.sheets import csv_line, read_sheet, write_sheet
from review_pipeline.model.errors import InputError
from review_pipeline.protocol import Protocol
from review_pipeline.stages.screen import consensus, read_decisions, write_worksheet
from review_pipeline.stages.screen.priority import Prioritiser
from review_pipeline.stages.screen.stage import (
    RANK,
    RESOLUTIONS,
    VALUES,
    decision_problem,
    in_ranked_order,
    read_resolutions,
)

RESOLUTION_COLUMNS = ("record_id", "stage", "decision", "reason", "note", "title")
RERANK_EVERY = 10
"""Decisions between two rankings of the undecided records while a reviewer screens."""


@dataclass(frozen=True)
class Shown:
    """What the screening page shows of a record."""

    record_id: str
    title: str
    authors: tuple[str, ...]
    journal: str
    year: str
    abstract: str
    keywords: tuple[str, ...]
    doi: str
    pmid: str
    verdict: str
    rule: str
    design: str
    patients: str


class Desk:
    """``reviewer``'s sheet at ``stage`` in ``folder``, opened for screening. The database is
    read when the desk opens, not after: the server's threads do not share its connection.

    The sheet is held in memory and written by a thread of its own as soon as a decision
    changes it, so that a key is answered while the file is written; decisions made during
    a write go into the next one. The file is read again whenever it changed on disk, with
    the decisions not yet written applied on top. :meth:`close` waits for the last write.
    """

    def __init__(self, db: Database, protocol: Protocol, folder: Path, stage: str,
                 reviewer: str) -> None:
        self.protocol, self.folder, self.stage, self.reviewer = protocol, folder, stage, reviewer
        fmt = "xlsx" if (folder / f"{stage}-{reviewer}.xlsx").exists() else "csv"
        path = folder / f"{stage}-{reviewer}.{fmt}"
        # At title/abstract the model learns again as this reviewer decides: from the
        # store's decisions of the others and this sheet's own, read from the sheet.
        self.prioritiser = Prioritiser(db, protocol.screening.seed, apart=reviewer) \
            if stage == "ta" else None
        ranked = self.prioritiser.places(_decided(path)) if self.prioritiser else None
        # The sheet is brought up to date (new records added, the undecided ranked) as
        # `review screen sheet` would, so the browser and the file show one order.
        self.path = write_worksheet(db, protocol, stage, reviewer, folder, fmt, ranked).path
        self._since_ranked = 0
        self._ranking = False
        self._journal: dict[str, tuple[str, str]] | None = None
        """Changes made while a new ranking is computed, to apply to it."""
        self._loads = 0
        self._dirty = False
        self.undo_list: list[tuple[str, str, str]] = []
        """(record, decision, reason) before each change this session made, last last."""
        self.error = ""
        """Why the last write failed ("" when it did not); the decisions stay pending."""
        self._lock = threading.Condition()
        self._pending: dict[str, tuple[str, str]] = {}
        self._writing = self._closed = False
        self._load()
        self.records = _shown(db, set(self.order))
        self._writer = threading.Thread(target=self._write_loop, daemon=True)
        self._writer.start()

    def _load(self) -> None:
        sheet = read_sheet(self.path)
        for name in ("record_id", "decision", "reason"):
            if name not in sheet.header:
                raise InputError(f"the sheet has no '{name}' column", where=f"{self.path}, "
                                 "line 1", fix="restore the header (record_id, decision, "
                                 "reason, note)")
        self._header = list(sheet.header)
        self._rows = [dict(row.values) for row in sheet.rows]
        self._decided = sum(1 for row in self._rows if row.get("decision", "").strip())
        # A CSV sheet is kept as its lines too, each written again only when its row
        # changes: writing 10,000 rows is then joining them, not formatting them.
        self._csv = self.path.suffix.lower() == ".csv"
        self._delimiter = sheet.delimiter
        self._lines = [self._encoded(self._header), *(self._encoded(
            [row.get(name, "") for name in self._header]) for row in self._rows)] \
            if self._csv else []
        self._at = {row["record_id"]: i for i, row in enumerate(self._rows)}
        # writing the sheet back would drop the cells beyond its last column
        self._bad = next((row.line for row in sheet.rows if row.extra_cells), 0)
        self._stamp = _stamp(self.path)
        self._loads += 1
        for record_id, (decision, reason) in self._pending.items():
            self._put(record_id, decision, reason)

    def _fresh(self) -> None:
        """Read the sheet again if it changed on disk (the caller holds the lock); while the
        writer writes, the change is its own."""
        if not self._writing and _stamp(self.path) != self._stamp:
            self._load()

    def decisions(self) -> dict[str, tuple[str, str]]:
        """record -> (decision, reason) of every row of the sheet."""
        with self._lock:
            self._fresh()
            return {row["record_id"]: (row.get("decision", "").strip().lower(),
                                       row.get("reason", "").strip()) for row in self._rows}

    def decide(self, record_id: str, decision: str, reason: str = "") -> None:
        """Put ``decision`` (and ``reason``) into the record's row; the file follows. After
        every RERANK_EVERY decisions the undecided rows are ranked again, in the
        background."""
        decision, reason = checked(self.protocol, self.stage, decision, reason)
        self.undo_list.append((record_id, *self._set(record_id, decision, reason)))
        with self._lock:
            self._since_ranked += 1
            due = not self._ranking and self._since_ranked >= RERANK_EVERY
            if due and self.prioritiser:
                self._ranking = True
                threading.Thread(target=self._rerank, args=(self.prioritiser,),
                                 daemon=True).start()

    def _rerank(self, prioritiser: Prioritiser) -> None:
        """Put the undecided rows in the order the model gives now, keeping the decided ones
        on top as they stand (as `review screen sheet` would)."""
        with self._lock:
            self._fresh()
            loads, header = self._loads, list(self._header)
            rows = [dict(row) for row in self._rows]
            self._journal = {}
        decided = [(row["record_id"], row.get("decision", "").strip().lower()) for row in rows
                   if row.get("decision", "").strip()]
        places = prioritiser.places(decided)
        rows = in_ranked_order(rows, places) if RANK in header else sorted(
            rows, key=lambda row: (not row.get("decision", "").strip(),
                                   places.get(row["record_id"], len(places))))
        rows = [{k: str(v) for k, v in row.items()} for row in rows]
        lines = [self._encoded(header), *(self._encoded([row.get(n, "") for n in header])
                                          for row in rows)] if self._csv else []
        with self._lock:
            journal, self._journal = self._journal or {}, None
            self._ranking, self._since_ranked = False, 0
            if loads != self._loads:
                self._lock.notify_all()
                return  # the sheet was edited by hand meanwhile; the next batch ranks it
            self._rows, self._lines = rows, lines
            self._at = {row["record_id"]: i for i, row in enumerate(rows)}
            self._decided = sum(1 for row in rows if row.get("decision", "").strip())
            for record_id, (decision, reason) in journal.items():
                self._put(record_id, decision, reason)
            self._dirty = True
            self._lock.notify_all()

    def undo(self) -> str | None:
        """Put back the last decision this session changed; return its record."""
        if not self.undo_list:
            return None
        record_id, decision, reason = self.undo_list.pop()
        self._set(record_id, decision, reason)
        return record_id

    def _set(self, record_id: str, decision: str, reason: str) -> tuple[str, str]:
        with self._lock:
            self._fresh()
            if self._bad:
                raise InputError("cells beyond the last column", where=f"{self.path}, line "
                                 f"{self._bad}", fix="put quotes around a value holding a "
                                 "comma, then reload")
            if record_id not in self._at or not record_id:
                raise InputError(f"record '{record_id}' is not in the sheet",
                                 where=str(self.path), fix="reload the page; the row may "
                                 "have been removed by hand")
            row = self._rows[self._at[record_id]]
            before = (row.get("decision", ""), row.get("reason", ""))
            self._put(record_id, decision, reason)
            self._pending[record_id] = (decision, reason)
            if self._journal is not None:
                self._journal[record_id] = (decision, reason)
            self._lock.notify_all()
            return before

    def _put(self, record_id: str, decision: str, reason: str) -> None:
        if record_id in self._at:
            at = self._at[record_id]
            self._decided += bool(decision.strip()) - bool(
                self._rows[at].get("decision", "").strip())
            self._rows[at].update(decision=decision, reason=reason)
            if self._csv:
                self._lines[at + 1] = self._encoded([self._rows[at].get(name, "")
                                                     for name in self._header])

    def _write_loop(self) -> None:
        choices = {"decision": VALUES[self.stage], "reason": sorted(self.protocol.reason_codes)}
        while True:
            with self._lock:
                while not ((self._pending or self._dirty) and not self.error) and (
                        not self._closed):
                    self._lock.wait()
                if not (self._pending or self._dirty) or self.error:
                    return
                self._fresh()
                snapshot = self._snapshot()
                written = dict(self._pending)
                self._pending.clear()
                self._dirty = False
                self._writing = True
            try:
                self._write(snapshot, choices)
            except OSError as failure:
                with self._lock:
                    self.error = f"could not write {self.path}: {failure.strerror}"
                    self._pending = {**written, **self._pending}
            with self._lock:
                self._writing = False
                if not self.error:
                    self._stamp = _stamp(self.path)
                self._lock.notify_all()

    def _encoded(self, values: Sequence[object]) -> bytes:
        return csv_line(values, self._delimiter).encode("utf-8")

    def _snapshot(self) -> bytes | tuple[list[str], list[list[object]]]:
        """What the file is to hold now: a CSV's bytes, or an XLSX's header and rows."""
        if self._csv:
            return b"".join(self._lines)
        return list(self._header), [[_typed(name, row.get(name, "")) for name in self._header]
                                    for row in self._rows]

    def _write(self, snapshot: bytes | tuple[list[str], list[list[object]]],
               choices: dict[str, Sequence[str]]) -> None:
        if isinstance(snapshot, bytes):
            write_atomic(self.path, snapshot)
        else:
            write_sheet(self.path, *snapshot, choices)

    def flush(self) -> None:
        """Wait until every decision so far is in the file (or a write has failed)."""
        with self._lock:
            while (self._pending or self._dirty or self._writing or self._ranking) and (
                    not self.error):
                self._lock.wait()
        if self.error:
            raise InputError(self.error, where=str(self.path), fix="free the disk or the "
                             "file, then start `review serve` again; the sheet holds the "
                             "decisions written before")

    def close(self) -> None:
        """Stop the writer, then write what is still pending (after a failed write, once
        more); if that fails too, the error names every decision not in the file."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        self._writer.join()
        with self._lock:
            if not self._pending:
                return
            self._fresh()
            try:
                self._write(self._snapshot(), {"decision": VALUES[self.stage],
                                               "reason": sorted(self.protocol.reason_codes)})
            except OSError as failure:
                lost = ", ".join(f"{r} {d}{' ' + why if why else ''}"
                                 for r, (d, why) in self._pending.items())
                raise InputError(f"could not write {failure.strerror}; not in the sheet: "
                                 f"{lost}", where=str(self.path),
                                 fix="free the disk or the file and enter these again") from None
            self._pending.clear()

    def lines(self) -> list[tuple[str, str, int]]:
        """(record, decision, line) of the decided rows, as a sheet read from disk gives
        them (a row's line counted as if no cell spanned lines)."""
        with self._lock:
            return [(row["record_id"], row.get("decision", "").strip().lower(), i + 2)
                    for i, row in enumerate(self._rows) if row.get("decision", "").strip()]

    def decision(self, record_id: str) -> tuple[str, str]:
        """(decision, reason) of one record's row."""
        with self._lock:
            self._fresh()
            row = self._rows[self._at[record_id]] if record_id in self._at else {}
            return row.get("decision", "").strip().lower(), row.get("reason", "").strip()

    def next_open(self, after: str | None = None) -> str | None:
        """The first undecided record after ``after`` in the sheet's order (from the top
        when there is none after it); None when every record is decided."""
        with self._lock:
            self._fresh()
            count = len(self._rows)
            start = self._at[after] + 1 if after in self._at else 0
            for k in range(count):
                row = self._rows[(start + k) % count]
                # a row of no record the review holds (typed by hand) is not offered
                if not row.get("decision", "").strip() and row["record_id"] in self.records:
                    return row["record_id"]
            return None

    def neighbour(self, record_id: str, step: int) -> str:
        """The record ``step`` places from ``record_id`` in the sheet's order."""
        with self._lock:
            at = self._at.get(record_id, 0) + step
            return self._rows[max(0, min(len(self._rows) - 1, at))]["record_id"]

    @property
    def order(self) -> list[str]:
        """The records in the sheet's order."""
        with self._lock:
            return [row["record_id"] for row in self._rows]

    def progress(self) -> tuple[int, int]:
        """(records decided, records in the sheet)."""
        with self._lock:
            self._fresh()
            return self._decided, len(self._rows)


def _decided(path: Path) -> list[tuple[str, str]]:
    """(record, decision) of the decided rows of the sheet at ``path``, if there is one."""
    if not path.exists():
        return []
    return [(row.values.get("record_id", ""), row.values.get("decision", "").lower())
            for row in read_sheet(path).rows if row.values.get("decision")]


NUMBERS = frozenset({"rank", "year", "patients"})
"""A worksheet's columns that hold whole numbers: written to an XLSX sheet as numbers, so
that it sorts by them."""


def _typed(name: str, value: object) -> object:
    text = str(value)
    return int(text) if name in NUMBERS and text.isdigit() else value


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


def checked(protocol: Protocol, stage: str, decision: str, reason: str) -> tuple[str, str]:
    """A decision and reason as ``review screen`` would take them (a reason goes only with
    an exclusion), or an error saying why not."""
    decision = decision.strip().lower()
    reason = reason.strip() if decision == "exclude" else ""
    why = decision_problem(stage, decision, reason, protocol.reason_codes)
    if why:
        raise InputError(why, fix="choose the decision (and reason) again")
    return decision, reason


def _shown(db: Database, ids: set[str]) -> dict[str, Shown]:
    verdicts = {r["record_id"]: r for r in db.query(
        "SELECT record_id, verdict, rule_id, design, patients FROM verdicts")}
    out = {}
    for row in store.all_records(db):
        if row["record_id"] not in ids:
            continue
        record = store.record_from_row(row)
        v = verdicts.get(row["record_id"], {})
        out[row["record_id"]] = Shown(
            row["record_id"], record.title, tuple(record.authors), record.journal,
            str(record.year or ""), record.abstract, tuple(record.keywords), record.doi,
            record.pmid, "" if v.get("verdict") in (None, "none") else str(v["verdict"]),
            v.get("rule_id") or "", v.get("design") or "",
            "" if v.get("patients") is None else str(v["patients"]))
    return out


@dataclass(frozen=True)
class Open:
    """A conflict between reviewers, once every one of them has decided."""

    record_id: str
    title: str
    decisions: tuple[tuple[str, str, str], ...]
    """(reviewer, decision, reason)."""
    resolution: tuple[str, str] | None


def conflicts(protocol: Protocol, folder: Path, stage: str,
              titles: dict[str, str]) -> list[Open]:
    """The records of ``stage`` on which the reviewers' sheets disagree, each with its
    resolution when ``resolutions.csv`` has one."""
    codes = protocol.reason_codes
    by_record: dict[str, list[Any]] = {}
    for d in read_decisions(folder, codes):
        if d.stage == stage:
            by_record.setdefault(d.record_id, []).append(d)
    resolved = {r.record_id: (r.decision, r.reason) for r in read_resolutions(folder, codes)
                if r.stage == stage}
    out = []
    for record_id, ds in sorted(by_record.items()):
        outcome = consensus(ds, protocol.screening.reviewers)
        if outcome and outcome[0] == "conflict":
            out.append(Open(record_id, titles.get(record_id, ""),
                            tuple((d.reviewer, d.decision, d.reason) for d in ds),
                            resolved.get(record_id)))
    return out


def resolve(folder: Path, protocol: Protocol, record_id: str, stage: str, decision: str,
            reason: str = "", title: str = "") -> None:
    """Write the resolution of one conflict into ``resolutions.csv`` (its row replaced, or
    added), keeping every other row as it is."""
    decision, reason = checked(protocol, stage, decision, reason)
    path = folder / RESOLUTIONS
    header = list(RESOLUTION_COLUMNS)
    rows: list[dict[str, str]] = []
    if path.exists():
        sheet = read_sheet(path)
        header = [*sheet.header, *(c for c in RESOLUTION_COLUMNS[:5] if c not in sheet.header)]
        rows = [dict(row.values) for row in sheet.rows]
    mine = next((r for r in rows if r.get("record_id") == record_id
                 and r.get("stage") == stage), None)
    if mine is None:
        mine = {"record_id": record_id, "stage": stage, "note": "", "title": title}
        rows.append(mine)
    mine.update(decision=decision, reason=reason)
    write_sheet(path, header, [[r.get(c, "") for c in header] for r in rows])
