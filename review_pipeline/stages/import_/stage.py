"""The import stage: export files from other databases and sources, as batches.

A file is one batch (file, sha256, format, source, time, records read). Importing the same
file again changes nothing. The protocol's ``[[sources]]`` are what the review holds: a file
it no longer lists, or lists in another version, leaves with the records no listed file
holds. A record that cannot be read stops the import, naming file, line and field; with
``skip_bad`` the rest is imported and the refused records are written to a quarantine
report. (The module is ``import_`` because ``import`` is a keyword.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlite_utils import Database

from review_pipeline import layout, store
from review_pipeline.files import display_path, sha256_file, write_atomic
from review_pipeline.formats.base import Bad, Reading
from review_pipeline.formats.registry import stream_file
from review_pipeline.model.bulk import collector_paused
from review_pipeline.model.errors import InputError
from review_pipeline.model.names import RULE, is_name
from review_pipeline.protocol import Protocol


@dataclass
class ImportResult:
    file: str
    source: str
    format: str
    records: int
    new_records: int
    already_imported: bool
    skipped: int = 0
    """Records refused (``skip_bad``); they are in the ``quarantine`` report."""
    quarantine: str = ""
    warnings: list[str] = field(default_factory=list)


@dataclass
class ImportSummary:
    files: list[ImportResult]
    removed_files: list[tuple[str, bool]]
    """Files (as imported) the review no longer holds, each with whether a new version of it
    (the same path, other content) took its place."""
    removed_records: int
    """Records that went with them (those no file still listed holds)."""


def import_file(db: Database, path: Path, *, source: str, branch: str = "databases",
                fmt: str = "auto", skip_bad: bool = False,
                quarantine_dir: Path | None = None) -> ImportResult:
    """Import one export file as a batch of ``source``; a file seen before is a no-op.
    Refused records (``skip_bad``) go to ``quarantine_dir``, by default beside the database."""
    if not is_name(source):
        # the name becomes part of the record ids and of the quarantine report's file name
        raise InputError(f"'{source[:60]}' cannot name a source", fix=f"use {RULE}, e.g. "
                         "--source embase")
    return _import(db, [(path, source, branch, fmt)], skip_bad, quarantine_dir)[0]


def run(db: Database, protocol: Protocol,
        on_file: Callable[[ImportResult], None] | None = None, *,
        skip_bad: bool = False, quarantine_dir: Path | None = None,
        ) -> ImportSummary:
    """Make the review hold exactly the files the protocol lists under ``[[sources]]``: import
    the new ones (all or none) and take out the files no longer listed, or listed in another
    version, with the records only they held."""
    wanted = [(f, s.name, s.branch, s.format) for s in protocol.sources for f in s.files]
    missing = [f for f, *_ in wanted if not f.is_file()]
    if missing:
        raise InputError("an export file named in the protocol does not exist",
                         where=f"{protocol.path}: {display_path(missing[0])}",
                         fix="add the file, or remove it from that source's files = [...]")
    with db.atomic():
        results = _import(db, wanted, skip_bad, quarantine_dir)
        listed = {(source, sha256_file(path)) for path, source, *_ in wanted}
        files = {display_path(path) for path, *_ in wanted}
        stale = [(b["batch_id"], b["file"]) for b in store.import_batches(db)
                 if (b["source"], b["sha256"]) not in listed]
        removed = store.remove_batches(db, [batch_id for batch_id, _ in stale],
                                       "the protocol no longer lists this version of the file")
        # A source whose kind changed moves to the other column of the flow; the screen stage
        # then brings its records to the states of that column.
        store.set_branches(db, {s.name: s.branch for s in protocol.sources})
    for result in results:
        if on_file:
            on_file(result)
    return ImportSummary(results, [(file, file in files) for _, file in stale], removed)


class _ReadAgain(Exception):
    """A file's ids repeat in ways known only at its end; it is stored again knowing them."""

    def __init__(self, repeated: frozenset[str]) -> None:
        self.repeated = repeated


@collector_paused()
def _import(db: Database, wanted: list[tuple[Path, str, str, str]], skip_bad: bool,
            quarantine_dir: Path | None) -> list[ImportResult]:
    """All files in one transaction, each streamed into the database as it is read: a file
    whose check fails (which shows only once it is read) rolls back every file."""
    results: list[ImportResult] = []
    refused: list[tuple[Path, Path, str, list[Bad]]] = []
    folder = quarantine_dir or layout.quarantine(store.file_of(db))
    with db.atomic():
        for path, source, branch, fmt in wanted:
            sha = sha256_file(path) if path.is_file() else ""
            # Inside the transaction, so a file named twice in one call is found the second time.
            prior = store.find_batch(db, source, sha) if sha else None
            if prior is not None:
                results.append(ImportResult(display_path(path), source, prior["format"],
                                            prior["records"], 0, True, prior["skipped"],
                                            prior["quarantine"] or ""))
                continue
            repeated: frozenset[str] = frozenset()
            while True:
                try:
                    with db.atomic():
                        batch_id, name, reading, new = _store_file(
                            db, path, source, branch, fmt, sha, skip_bad, repeated)
                    break
                except _ReadAgain as again:
                    repeated = again.repeated
            skipped = sum(b.records for b in reading.bad)
            report = ""
            if skipped:
                where = folder / f"{source}-{path.name}-{sha[:8]}.txt"
                report = display_path(where)
                store.note_refused(db, batch_id, skipped, report)
                refused.append((where, path, sha, reading.bad))
            results.append(ImportResult(display_path(path), source, name,
                                        reading.expected - skipped, new, False, skipped,
                                        report, reading.warnings))
        # Before the commit, so a full disk leaves no import that names a missing report.
        for where, path, sha, bad in refused:
            write_quarantine(where, path, sha, bad)
    return results


def _store_file(db: Database, path: Path, source: str, branch: str, fmt: str, sha: str,
                skip_bad: bool, repeated: frozenset[str]) -> tuple[int, str, Reading, int]:
    name, reading = stream_file(path, fmt, skip_bad=skip_bad, repeated=repeated)
    batch_id, new = store.add_batch(db, reading.records, kind="import", source=source,
                                    branch=branch, file=display_path(path), sha256=sha,
                                    fmt=name, distinct=True)
    if reading.repeated:
        raise _ReadAgain(repeated | reading.repeated)
    return batch_id, name, reading, new


def write_quarantine(report: Path, path: Path, sha256: str, bad: list[Bad]) -> None:
    """The refused records of ``path``, each with where it is, what is wrong, and its text."""
    lines = [f"Records refused when importing {display_path(path)} (sha256 {sha256}) on "
             f"{store.now()}.", f"{sum(b.records for b in bad)} records were not imported. "
             "Correct them in the export, or add them by hand, then import again.", ""]
    for number, item in enumerate(bad, 1):
        where = f"line {item.line}" if item.line else "position unknown"
        if item.field:
            where += f", field {item.field}"
        count = f" ({item.records} records)" if item.records > 1 else ""
        lines += [f"{number}. {where}{count}: {item.problem}"]
        lines += [f"    {line}" for line in item.raw.split("\n")] if item.raw else []
        lines.append("")
    write_atomic(report, "\n".join(lines).encode("utf-8"))
