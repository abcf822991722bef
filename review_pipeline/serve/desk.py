"""One reviewer's screening in the browser: their own sheet, in its order, a record at a time.

Every decision goes at once into the reviewer's sheet (``<stage>-<reviewer>.csv`` or
``.xlsx``), the file ``review screen`` reads: the sheet is read again before each write, so
what was typed into it by hand meanwhile stays, and it is replaced whole or not at all.
Nothing else is kept in memory but the order and this session's undo list.

Reviewers stay blind to each other: a desk reads only its own sheet. The conflicts of a stage
(:func:`conflicts`) list only records every reviewer the protocol asks for has decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from review_pipeline import store
from review_pipeline.formats.sheets import Sheet, read_sheet, write_sheet
from review_pipeline.model.errors import InputError
from review_pipeline.model.state import STAGES
from review_pipeline.protocol import Protocol
from review_pipeline.stages.screen import consensus, read_decisions, write_worksheet
from review_pipeline.stages.screen.stage import RESOLUTIONS, VALUES, read_resolutions

RESOLUTION_COLUMNS = ("record_id", "stage", "decision", "reason", "note", "title")


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
    read when the desk opens, not after: the server's threads do not share its connection."""

    def __init__(self, db: Database, protocol: Protocol, folder: Path, stage: str,
                 reviewer: str) -> None:
        self.protocol, self.folder, self.stage, self.reviewer = protocol, folder, stage, reviewer
        fmt = "xlsx" if (folder / f"{stage}-{reviewer}.xlsx").exists() else "csv"
        # The sheet is brought up to date (new records added, the undecided ranked) as
        # `review screen sheet` would, so the browser and the file show one order.
        self.path = write_worksheet(db, protocol, stage, reviewer, folder, fmt).path
        self._cache: tuple[tuple[int, int], Sheet] | None = None
        self.order = [row.values["record_id"] for row in self.sheet().rows]
        self.records = _shown(db, set(self.order))
        self.undo_list: list[tuple[str, str, str]] = []
        """(record, decision, reason) before each change this session made, last last."""

    def sheet(self) -> Sheet:
        """The sheet as it is on disk now (read again only when the file changed)."""
        stat = self.path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if self._cache is None or self._cache[0] != stamp:
            self._cache = (stamp, read_sheet(self.path))
        return self._cache[1]

    def decisions(self) -> dict[str, tuple[str, str]]:
        """record -> (decision, reason) of every row of the sheet."""
        return {row.values["record_id"]: (row.values.get("decision", "").strip().lower(),
                                          row.values.get("reason", "").strip())
                for row in self.sheet().rows}

    def decide(self, record_id: str, decision: str, reason: str = "") -> None:
        """Write ``decision`` (and ``reason``) into the record's row of the sheet."""
        decision, reason = checked(self.protocol, self.stage, decision, reason)
        before = self._set(record_id, decision, reason)
        self.undo_list.append((record_id, *before))

    def undo(self) -> str | None:
        """Put back the last decision this session changed; return its record."""
        if not self.undo_list:
            return None
        record_id, decision, reason = self.undo_list.pop()
        self._set(record_id, decision, reason)
        return record_id

    def _set(self, record_id: str, decision: str, reason: str) -> tuple[str, str]:
        sheet = self.sheet()
        header = list(sheet.header)
        for name in ("decision", "reason"):
            if name not in header:
                raise InputError(f"the sheet has no '{name}' column", where=f"{self.path}, "
                                 "line 1", fix="restore the header (record_id, decision, "
                                 "reason, note)")
        target = next((row for row in sheet.rows if row.values["record_id"] == record_id),
                      None)
        if target is None:
            raise InputError(f"record '{record_id}' is not in the sheet", where=str(self.path),
                             fix="reload the page; the row may have been removed by hand")
        bad = next((row for row in sheet.rows if row.extra_cells), None)
        if bad is not None:
            # writing the sheet back would drop the cells beyond its last column
            raise InputError(f"{bad.extra_cells} cells beyond the last column",
                             where=f"{self.path}, line {bad.line}",
                             fix="put quotes around a value holding a comma, then reload")
        before = (target.values.get("decision", ""), target.values.get("reason", ""))
        rows = [[(decision if name == "decision" else reason if name == "reason"
                  else row.values.get(name, "")) if row is target else row.values.get(name, "")
                 for name in header] for row in sheet.rows]
        write_sheet(self.path, header, rows, {"decision": VALUES[self.stage],
                                              "reason": sorted(self.protocol.reason_codes)})
        return before

    def next_open(self, after: str | None = None) -> str | None:
        """The first undecided record after ``after`` in the sheet's order (from the top
        when there is none after it); None when every record is decided."""
        decided = self.decisions()
        start = self.order.index(after) + 1 if after in self.order else 0
        for record_id in [*self.order[start:], *self.order[:start]]:
            if not decided.get(record_id, ("", ""))[0]:
                return record_id
        return None

    def neighbour(self, record_id: str, step: int) -> str:
        """The record ``step`` places from ``record_id`` in the sheet's order."""
        at = self.order.index(record_id) if record_id in self.order else 0
        return self.order[max(0, min(len(self.order) - 1, at + step))]

    def progress(self) -> tuple[int, int]:
        """(records decided, records in the sheet)."""
        decided = self.decisions()
        return sum(1 for d, _ in decided.values() if d), len(decided)


def checked(protocol: Protocol, stage: str, decision: str, reason: str) -> tuple[str, str]:
    """A decision and reason as ``review screen`` would take them, or an error saying why
    not (a reason goes only with an exclusion)."""
    decision = decision.strip().lower()
    if decision not in VALUES[stage]:
        raise InputError(f"'{decision}' is not a {STAGES[stage]} decision",
                         fix=f"use one of {', '.join(VALUES[stage])}")
    reason = reason.strip() if decision == "exclude" else ""
    if (reason and reason not in protocol.reason_codes) or (
            stage == "ft" and decision == "exclude" and not reason):
        raise InputError(f"a full-text exclusion needs a reason code; got '{reason}'",
                         fix="choose one of " + ", ".join(sorted(protocol.reason_codes)))
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
