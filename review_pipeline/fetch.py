"""The fetch stage: run the protocol's PubMed search, or replay what was kept.

Three ways, tried in this order, all ending in the same load (:func:`db.add_batch`):

1. **live**: ESearch for the ids, EFetch in batches; each batch's raw XML is written to
   ``raw/pubmed/<search>/<time>/`` before it is parsed, and a manifest closes the run;
2. **replay**: offline, the newest complete live run kept under ``raw/`` is loaded again;
3. **snapshot**: offline with no live run kept, the protocol's shipped snapshot is loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from . import db as store
from .config import Protocol, Search
from .errors import FetchError
from .progress import Progress
from .records import Record
from .sources import display_path, read_records, sha256_file, unique_ids
from .sources.pubmed import DEFAULT_BASE_URL, Eutils, PubmedUnreachable
from .sources.pubmed_xml import parse_text

SOURCE = "pubmed"


@dataclass
class FetchResult:
    mode: str
    """live, replay or snapshot."""
    run_id: int | None
    """The search run recorded, or None when everything was already loaded."""
    records: int
    new_records: int
    messages: list[str] = field(default_factory=list)


@dataclass
class LiveSettings:
    email: str = ""
    api_key: str = ""
    base_url: str = DEFAULT_BASE_URL
    batch_size: int = 200


def fetch(db: Database, protocol: Protocol, *, offline: bool = False,
          live: LiveSettings | None = None, raw_dir: Path = Path("raw"),
          client: Eutils | None = None, on_progress: Progress | None = None) -> FetchResult:
    """Run the fetch stage; see the module docstring for the order of the three ways."""
    live = live or LiveSettings()
    search = protocol.search
    if offline:
        why = "--offline was given"
    elif not (live.email or client):
        why = "NCBI_EMAIL is not set (NCBI asks every client for a contact address)"
    else:
        try:
            client = client or Eutils(email=live.email, api_key=live.api_key,
                                      base_url=live.base_url)
            return _live(db, search, client, raw_dir, live.batch_size, on_progress)
        except PubmedUnreachable as exc:
            why = f"PubMed could not be reached ({exc.what})"
    kept = latest_run(raw_dir, search)
    if kept is not None:
        return _replay(db, search, kept, why)
    return _snapshot(db, search, why)


def search_key(search: Search) -> str:
    """A short hash naming the raw folder of one exact search."""
    canonical = json.dumps([search.query, search.date_field, search.min_date, search.max_date])
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _live(db: Database, search: Search, client: Eutils, raw_dir: Path, batch_size: int,
          on_progress: Progress | None) -> FetchResult:
    started = store.now()
    found = client.search(search.query, date_field=search.date_field,
                          min_date=search.min_date, max_date=search.max_date)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir = raw_dir / SOURCE / search_key(search) / stamp
    run_id = _start_run(db, search, "live", started, count=found.count,
                        translation=found.query_translation, warnings=found.warnings)
    batches = [found.ids[i:i + batch_size] for i in range(0, len(found.ids), batch_size)]
    fetched: dict[Path, list[Record]] = {}
    missing: list[str] = []
    for number, ids in enumerate(batches, 1):
        path = run_dir / f"batch-{number:04d}.xml"
        fetched[path] = _fetch_batch(client, ids, path)
        got = {r.pmid for r in fetched[path]}
        lost = [pmid for pmid in ids if pmid not in got]
        if lost:  # asked once more, then reported
            again = run_dir / f"batch-{number:04d}-missing.xml"
            fetched[again] = _fetch_batch(client, lost, again)
            got |= {r.pmid for r in fetched[again]}
            missing += [pmid for pmid in lost if pmid not in got]
        if on_progress:
            on_progress(number, len(batches))
    new = 0
    for path, parsed in fetched.items():
        with db.atomic():
            new += _load_xml(db, path, run_id, parsed)
    files = list(fetched)
    manifest = {
        "query": search.query, "date_field": search.date_field, "min_date": search.min_date,
        "max_date": search.max_date, "count": found.count, "ids": found.ids,
        "query_translation": found.query_translation, "warnings": found.warnings,
        "missing": missing, "started_at": started, "finished_at": store.now(),
        "files": [{"file": p.name, "sha256": sha256_file(p)} for p in files],
    }
    _write_atomic(run_dir / "manifest.json", json.dumps(manifest, indent=2).encode())
    records = found.count - len(missing)
    _finish_run(db, run_id, records, note=f"missing after retry: {missing}" if missing else "")
    messages = [f"PubMed search: {found.count} records; raw responses kept in {run_dir}"]
    if missing:
        messages.append(f"{len(missing)} PMIDs were not returned by EFetch even when asked "
                        f"again: {', '.join(missing)}; run `review fetch` later to retry")
    return FetchResult("live", run_id, records, new, messages)


def _fetch_batch(client: Eutils, ids: list[str], path: Path) -> list[Record]:
    """Fetch one batch, keep its raw XML before parsing it, and return its records."""
    body = client.efetch(ids)
    _write_atomic(path, body.encode("utf-8"))
    return unique_ids(parse_text(body, str(path)).records)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def latest_run(raw_dir: Path, search: Search) -> Path | None:
    """The newest kept live run of this exact search that finished (has a manifest)."""
    folder = raw_dir / SOURCE / search_key(search)
    runs = sorted(p.parent for p in folder.glob("*/manifest.json"))
    return runs[-1] if runs else None


def _replay(db: Database, search: Search, run_dir: Path, why: str) -> FetchResult:
    manifest: dict[str, Any] = json.loads((run_dir / "manifest.json").read_text("utf-8"))
    files = [run_dir / entry["file"] for entry in manifest["files"]]
    for path, entry in zip(files, manifest["files"], strict=True):
        if sha256_file(path) != entry["sha256"]:
            raise FetchError("a kept raw response differs from the one recorded in the "
                             "manifest", where=str(path),
                             fix="restore the file from version control, or delete the run "
                                 "folder and fetch again")
    records = int(manifest["count"]) - len(manifest["missing"])
    message = (f"{why}; replayed the kept PubMed search of {manifest['finished_at']} "
               f"from {run_dir}")
    pending = [p for p in files if store.find_batch(db, SOURCE, sha256_file(p)) is None]
    if not pending:
        return FetchResult("replay", None, records, 0, [message, "already loaded; nothing new"])
    with db.atomic():
        run_id = _start_run(db, search, "replay", store.now(), count=manifest["count"],
                            translation=manifest["query_translation"],
                            warnings=manifest["warnings"], note=message)
        new = sum(_load_xml(db, path, run_id) for path in pending)
        _finish_run(db, run_id, records)
    return FetchResult("replay", run_id, records, new, [message])


def _snapshot(db: Database, search: Search, why: str) -> FetchResult:
    if search.snapshot is None:
        raise FetchError(f"{why}, and the protocol names no offline snapshot",
                         where="[search] snapshot",
                         fix="set NCBI_EMAIL to search PubMed live, or add snapshot = \"...\"")
    path = search.snapshot
    fmt, records = read_records(path, "snapshot")
    message = (f"{why}; the offline snapshot {display_path(path)} "
               f"(dated {search.snapshot_date or 'unknown'}, {len(records)} records) "
               "stands in for a live PubMed search")
    sha = sha256_file(path)
    if store.find_batch(db, SOURCE, sha) is not None:
        return FetchResult("snapshot", None, len(records), 0,
                           [message, "already loaded; nothing new"])
    with db.atomic():
        run_id = _start_run(db, search, "snapshot", store.now(), count=len(records),
                            note=message, snapshot=path)
        _, new = store.add_batch(db, records, kind="search", source=SOURCE,
                                 branch="databases", file=display_path(path), sha256=sha,
                                 fmt=fmt, run_id=run_id)
        _finish_run(db, run_id, len(records))
    return FetchResult("snapshot", run_id, len(records), new, [message])


def _load_xml(db: Database, path: Path, run_id: int,
              records: list[Record] | None = None) -> int:
    """Load one kept batch (parsing it unless its records are given); a seen batch adds 0."""
    sha = sha256_file(path)
    if store.find_batch(db, SOURCE, sha) is not None:
        return 0
    if records is None:
        records = read_records(path, "pubmed-xml")[1]
    _, new = store.add_batch(db, records, kind="search", source=SOURCE, branch="databases",
                             file=display_path(path), sha256=sha, fmt="pubmed-xml",
                             run_id=run_id)
    return new


def _start_run(db: Database, search: Search, mode: str, started: str, *, count: int,
               translation: str = "", warnings: list[str] | None = None, note: str = "",
               snapshot: Path | None = None) -> int:
    row = {
        "source": SOURCE, "database_name": search.database, "interface": search.interface,
        "query": search.query, "date_field": search.date_field if search.min_date else None,
        "min_date": search.min_date or None, "max_date": search.max_date or None,
        "mode": mode, "started_at": started, "count": count,
        "query_translation": translation or None,
        "warnings": json.dumps(warnings) if warnings else None, "note": note or None,
        "snapshot_file": display_path(snapshot) if snapshot else None,
        "snapshot_date": search.snapshot_date if snapshot else None,
    }
    return store.insert_row(db, "search_runs", row)


def _finish_run(db: Database, run_id: int, records: int, note: str = "") -> None:
    update: dict[str, Any] = {"finished_at": store.now(), "records": records}
    if note:
        update["note"] = note
    db.table("search_runs").update(run_id, update)
