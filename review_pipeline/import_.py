"""The import stage: export files from other databases and sources, as batches.

A file is one batch (file, sha256, format, source, time, records read). Importing the same
file again changes nothing. A record that cannot be read stops the import, naming file,
line and field; with ``skip_bad`` the rest is imported and the refused records are written
to a quarantine report. (The module is ``import_`` because ``import`` is a keyword.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlite_utils import Database

from . import db as store
from .config import Protocol
from .errors import InputError
from .records import Record
from .sources import Bad, Reading, display_path, read_file, sha256_file

QUARANTINE = Path("data/quarantine")


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
class _Pending:
    path: Path
    source: str
    branch: str
    sha256: str
    format: str
    reading: Reading
    quarantine: str = ""

    @property
    def records(self) -> list[Record]:
        return self.reading.records

    @property
    def skipped(self) -> int:
        return sum(b.records for b in self.reading.bad)


def import_file(db: Database, path: Path, *, source: str, branch: str = "databases",
                fmt: str = "auto", skip_bad: bool = False,
                quarantine_dir: Path = QUARANTINE) -> ImportResult:
    """Import one export file as a batch of ``source``; a file seen before is a no-op."""
    return _import(db, [(path, source, branch, fmt)], skip_bad, quarantine_dir)[0]


def import_protocol_sources(db: Database, protocol: Protocol,
                            on_file: Callable[[ImportResult], None] | None = None, *,
                            skip_bad: bool = False, quarantine_dir: Path = QUARANTINE,
                            ) -> list[ImportResult]:
    """Import every file the protocol lists under ``[[sources]]``, all or none."""
    wanted = [(f, s.name, s.branch, s.format) for s in protocol.sources for f in s.files]
    missing = [f for f, *_ in wanted if not f.is_file()]
    if missing:
        raise InputError("an export file named in the protocol does not exist",
                         where=f"{protocol.path}: {display_path(missing[0])}",
                         fix="add the file, or remove it from that source's files = [...]")
    results = _import(db, wanted, skip_bad, quarantine_dir)
    for result in results:
        if on_file:
            on_file(result)
    return results


def _import(db: Database, wanted: list[tuple[Path, str, str, str]], skip_bad: bool,
            quarantine_dir: Path) -> list[ImportResult]:
    """Read and check every file before storing any, so one bad file stores nothing."""
    results: list[ImportResult | None] = []
    pending: list[tuple[int, _Pending]] = []
    in_this_call: dict[tuple[str, str], _Pending] = {}
    for path, source, branch, fmt in wanted:
        sha = sha256_file(path) if path.is_file() else ""
        prior = store.find_batch(db, source, sha) if sha else None
        if prior is None and (twin := in_this_call.get((source, sha))) is not None:
            prior = {"format": twin.format, "records": len(twin.records),
                     "skipped": twin.skipped, "quarantine": twin.quarantine}
        if prior is not None:
            results.append(ImportResult(display_path(path), source, prior["format"],
                                        prior["records"], 0, True, prior["skipped"],
                                        prior["quarantine"] or ""))
            continue
        name, reading = read_file(path, fmt, skip_bad=skip_bad)
        item = _Pending(path, source, branch, sha, name, reading)
        in_this_call[(source, sha)] = item
        pending.append((len(results), item))
        results.append(None)
    for _, item in pending:
        if item.reading.bad:
            report = quarantine_dir / f"{item.source}-{item.path.name}-{item.sha256[:8]}.txt"
            write_quarantine(report, item.path, item.sha256, item.reading.bad)
            item.quarantine = display_path(report)
    with db.atomic():
        for index, item in pending:
            _, new = store.add_batch(db, item.records, kind="import", source=item.source,
                                     branch=item.branch, file=display_path(item.path),
                                     sha256=item.sha256, fmt=item.format,
                                     skipped=item.skipped, quarantine=item.quarantine or None)
            results[index] = ImportResult(display_path(item.path), item.source, item.format,
                                          len(item.records), new, False, item.skipped,
                                          item.quarantine, item.reading.warnings)
    return [r for r in results if r is not None]


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
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("\n".join(lines), encoding="utf-8")
