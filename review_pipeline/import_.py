"""The import stage: export files from other databases and sources, as batches.

A file is one batch (file, sha256, format, source, time, records read). Importing the same
file again changes nothing. (The module is ``import_`` because ``import`` is a keyword.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from . import db as store
from .config import Protocol
from .errors import InputError
from .records import Record
from .sources import display_path, read_records, sha256_file


@dataclass
class ImportResult:
    file: str
    source: str
    format: str
    records: int
    new_records: int
    already_imported: bool


@dataclass
class _Pending:
    path: Path
    source: str
    branch: str
    sha256: str
    format: str
    records: list[Record]


def import_file(db: Database, path: Path, *, source: str, branch: str = "databases",
                fmt: str = "auto") -> ImportResult:
    """Import one export file as a batch of ``source``; a file seen before is a no-op."""
    return _import(db, [(path, source, branch, fmt)])[0]


def import_protocol_sources(db: Database, protocol: Protocol,
                            on_file: Callable[[ImportResult], None] | None = None,
                            ) -> list[ImportResult]:
    """Import every file the protocol lists under ``[[sources]]``, all or none."""
    wanted = [(f, s.name, s.branch, s.format) for s in protocol.sources for f in s.files]
    missing = [f for f, *_ in wanted if not f.is_file()]
    if missing:
        raise InputError("an export file named in the protocol does not exist",
                         where=f"{protocol.path}: {display_path(missing[0])}",
                         fix="add the file, or remove it from that source's files = [...]")
    results = _import(db, wanted)
    for result in results:
        if on_file:
            on_file(result)
    return results


def _import(db: Database, wanted: list[tuple[Path, str, str, str]]) -> list[ImportResult]:
    """Read and check every file before storing any, so one bad file stores nothing."""
    results: list[ImportResult | None] = []
    pending: list[tuple[int, _Pending]] = []
    in_this_call: dict[tuple[str, str], _Pending] = {}
    for path, source, branch, fmt in wanted:
        sha = sha256_file(path) if path.is_file() else ""
        prior = store.find_batch(db, source, sha) if sha else None
        if prior is None and (twin := in_this_call.get((source, sha))) is not None:
            prior = {"format": twin.format, "records": len(twin.records)}
        if prior is not None:
            results.append(ImportResult(display_path(path), source, prior["format"],
                                        prior["records"], 0, True))
            continue
        name, records = read_records(path, fmt)
        item = _Pending(path, source, branch, sha, name, records)
        in_this_call[(source, sha)] = item
        pending.append((len(results), item))
        results.append(None)
    with db.atomic():
        for index, item in pending:
            _, new = store.add_batch(db, item.records, kind="import", source=item.source,
                                     branch=item.branch, file=display_path(item.path),
                                     sha256=item.sha256, fmt=item.format)
            results[index] = ImportResult(display_path(item.path), item.source, item.format,
                                          len(item.records), new, False)
    return [r for r in results if r is not None]
