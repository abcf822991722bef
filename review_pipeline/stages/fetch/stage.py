"""The fetch stage: run each of the protocol's PubMed searches, or replay what was kept.

Three ways, tried in this order for each search, all ending in the same load
(:func:`review_pipeline.store.add_batch`):

1. **live**: ESearch for the ids (written to ``search.json``), EFetch in batches; each
   batch's raw XML is written to ``raw/pubmed/<search>/<time>/`` before it is parsed and
   stored, and a manifest closes the run. A run that was interrupted is resumed: its kept
   batches are not fetched again, and records already stored are not stored twice;
2. **replay**: offline, the newest complete live run kept under ``raw/`` is loaded again;
3. **snapshot**: offline with no live run kept, the protocol's shipped snapshot is loaded.

The runs of a search the protocol no longer has (or of a snapshot file since changed) then
leave the review, with the records no other run holds.
"""

from __future__ import annotations

import hashlib
import json
import textwrap
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from review_pipeline import layout, store
from review_pipeline.files import display_path, sha256_file, write_atomic
from review_pipeline.formats.pubmed_xml import parse_text
from review_pipeline.formats.registry import read_records, unique_ids
from review_pipeline.model.errors import FetchError
from review_pipeline.model.progress import Progress
from review_pipeline.model.record import Record
from review_pipeline.protocol import Protocol, Search
from review_pipeline.stages.fetch.eutils import DEFAULT_BASE_URL, Eutils, PubmedUnreachable
from review_pipeline.store import searches

SOURCE = "pubmed"
PLAN = "search.json"
"""Written once the search is done: the query, the count and every PMID to fetch."""
MANIFEST = "manifest.json"
"""Written when every batch is kept: the plan, the files with their sha256, what is missing."""


@dataclass
class FetchResult:
    """What one PubMed search of the protocol did."""

    mode: str
    """live, replay or snapshot."""
    run_id: int | None
    """The search run recorded, or None when everything was already loaded."""
    records: int
    new_records: int
    messages: list[str] = field(default_factory=list)


@dataclass
class FetchSummary:
    searches: list[FetchResult]
    """One per search of the protocol, in its order."""
    removed_runs: int = 0
    """Search runs taken out because the protocol no longer has their search (or snapshot)."""
    removed_records: int = 0


@dataclass
class LiveSettings:
    email: str = ""
    api_key: str = ""
    base_url: str = DEFAULT_BASE_URL
    batch_size: int = 200


def run(db: Database, protocol: Protocol, *, offline: bool = False, live_only: bool = False,
        live: LiveSettings | None = None, raw_dir: Path = layout.RAW,
        client: Eutils | None = None, on_progress: Progress | None = None,
        forget: bool = True) -> FetchSummary:
    """Run the fetch stage for each of the protocol's PubMed searches (see the module
    docstring for the order of the three ways), then, with ``forget``, take out the runs of
    searches the protocol no longer has: records a current run holds too stay as they are.
    ``live_only`` makes a search that cannot run live an error instead of a replay."""
    results = [fetch_search(db, search, offline=offline, live_only=live_only, live=live,
                            raw_dir=raw_dir, client=client, on_progress=on_progress)
               for search in protocol.searches]
    removed_runs, removed = _forget_other_searches(db, protocol) if forget else (0, 0)
    return FetchSummary(results, removed_runs, removed)


def fetch_search(db: Database, search: Search, *, offline: bool = False,
                 live_only: bool = False, live: LiveSettings | None = None,
                 raw_dir: Path = layout.RAW, client: Eutils | None = None,
                 on_progress: Progress | None = None) -> FetchResult:
    """Run one search live, or replay it, or load its snapshot."""
    live = live or LiveSettings()
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
    if live_only:
        raise FetchError(f"the PubMed search could not run live: {why}",
                         where=f"search {textwrap.shorten(search.query, 60)!r}",
                         fix="set NCBI_EMAIL and check the connection to "
                             "eutils.ncbi.nlm.nih.gov, or fetch without LIVE=1 (--live) to "
                             "replay the kept search or load the snapshot")
    kept = latest_run(raw_dir, search)
    if kept is not None:
        return _replay(db, search, kept, why)
    return _snapshot(db, search, why)


def _forget_other_searches(db: Database, protocol: Protocol) -> tuple[int, int]:
    """Take out the runs (and the records only they hold) of searches the protocol no longer
    has, and snapshot loads of a snapshot file that has changed since; return (runs, records)."""
    current = {_search_identity(s): s for s in protocol.searches}
    stale: dict[int, list[int]] = {}
    for row in searches.runs_and_batches(db):
        search = current.get(_identity(row["query"], row["date_field"], row["min_date"],
                                       row["max_date"]))
        if search is None or (row["mode"] == "snapshot" and not (
                search.snapshot and search.snapshot.is_file()
                and sha256_file(search.snapshot) == row["sha256"])):
            batches = stale.setdefault(row["run_id"], [])
            if row["batch_id"] is not None:
                batches.append(row["batch_id"])
    removed = searches.remove_runs(db, stale,
                                   "the protocol no longer has this search or snapshot")
    return len(stale), removed


def _identity(query: str, date_field: str | None, min_date: str | None,
              max_date: str | None) -> tuple[str, str, str, str]:
    """A search as a search run stores it."""
    return query, date_field or "", min_date or "", max_date or ""


def _search_identity(search: Search) -> tuple[str, str, str, str]:
    return _identity(search.query, search.date_field if search.min_date else None,
                     search.min_date, search.max_date)


def search_key(search: Search) -> str:
    """A short hash naming the raw folder of one exact search."""
    canonical = json.dumps([search.query, search.date_field, search.min_date, search.max_date])
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _live(db: Database, search: Search, client: Eutils, raw_dir: Path, batch_size: int,
          on_progress: Progress | None) -> FetchResult:
    messages = []
    run_dir = unfinished_run(raw_dir, search)
    if run_dir is None:
        plan = _search(client, search, batch_size)
        run_dir = raw_dir / SOURCE / search_key(search) / _stamp()
        write_atomic(run_dir / PLAN, json.dumps(plan, indent=2).encode())
    else:
        plan = json.loads((run_dir / PLAN).read_text("utf-8"))
        messages.append(f"resumed the unfinished PubMed search of {plan['started_at']} in "
                        f"{run_dir} (delete that folder to search afresh)")
    run_id = _run_row(db, search, run_dir, plan)
    ids: list[str] = plan["ids"]
    size = int(plan["batch_size"])
    batches = [ids[i:i + size] for i in range(0, len(ids), size)]
    files, missing, new, done, reused = [], [], 0, 0, 0
    with ThreadPoolExecutor(max_workers=1) as network:
        # The next batch downloads while this one is parsed and stored, so parsing never
        # holds up the rate limit; every request still goes through the one worker.
        ahead = {n: network.submit(_keep_batch, client, batches[n - 1],
                                   run_dir / _batch_name(n)) for n in (1,) if batches}
        for number, batch in enumerate(batches, 1):
            path, text, fetched = ahead.pop(number).result()
            if number < len(batches):
                ahead[number + 1] = network.submit(_keep_batch, client, batches[number],
                                                   run_dir / _batch_name(number + 1))
            reused += not fetched
            parsed = _parse_batch(text, path)
            got = {r.pmid for r in parsed}
            lost = [pmid for pmid in batch if pmid not in got]
            kept = [(path, parsed)]
            if lost:  # asked once more, then reported
                again, text, _ = network.submit(
                    _keep_batch, client, lost, run_dir / _batch_name(number, "-missing")).result()
                found = _parse_batch(text, again)
                kept.append((again, found))
                got |= {r.pmid for r in found}
                missing += [pmid for pmid in lost if pmid not in got]
            for file, records in kept:
                with db.atomic():
                    new += _load_xml(db, file, run_id, records)
                files.append(file)
            done += len(batch)
            if on_progress:
                on_progress(done, len(ids), _note(client, number, len(batches)))
    manifest = {**plan, "missing": missing, "finished_at": store.now(),
                "files": [{"file": p.name, "sha256": sha256_file(p)} for p in files]}
    write_atomic(run_dir / MANIFEST, json.dumps(manifest, indent=2).encode())
    retrieved = len(ids) - len(missing)
    searches.finish_run(db, run_id, retrieved,
                note=f"missing after retry: {missing}" if missing else "")
    if reused:
        messages.append(f"{reused} of {len(batches)} batches were already kept and were not "
                        "fetched again")
    messages.append(f"PubMed search: {plan['count']} records; raw responses kept in {run_dir}")
    messages += [f"PubMed warned: {w}" for w in plan["warnings"]]
    if missing:
        messages.append(f"{len(missing)} PMIDs were not returned by EFetch even when asked "
                        f"again: {', '.join(missing)}; run `review fetch` later to retry")
    return FetchResult("live", run_id, retrieved, new, messages)


def _search(client: Eutils, search: Search, batch_size: int) -> dict[str, Any]:
    """Run the search and return the plan of the run, written before any record is fetched."""
    started = store.now()
    found = client.search(search.query, date_field=search.date_field,
                          min_date=search.min_date, max_date=search.max_date)
    return {
        "query": search.query, "date_field": search.date_field, "min_date": search.min_date,
        "max_date": search.max_date, "started_at": started, "searched_at": found.searched_at,
        "count": found.count, "query_translation": found.query_translation,
        "warnings": found.warnings, "ranges": found.ranges, "batch_size": batch_size,
        "ids": found.ids,
    }


def _note(client: Eutils, batch: int, batches: int) -> str:
    stats = client.stats
    note = f"batch {batch}/{batches}, {client.limiter.waited:.0f} s waiting on the rate limit"
    if stats.retries:
        note += f", {stats.retries} retries ({stats.backoff_waited:.0f} s)"
    return note


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _batch_name(number: int, suffix: str = "") -> str:
    return f"batch-{number:04d}{suffix}.xml"


def _keep_batch(client: Eutils, ids: list[str], path: Path) -> tuple[Path, str, bool]:
    """The raw XML of one batch: kept from an earlier attempt, or fetched and kept now.

    Returns (path, text, whether it was fetched now). Files are written whole or not at all,
    so a kept file is always a complete answer.
    """
    if path.exists():
        return path, path.read_text("utf-8"), False
    body = client.efetch(ids)
    write_atomic(path, body.encode("utf-8"))
    return path, body, True


def _parse_batch(text: str, path: Path) -> list[Record]:
    return list(unique_ids(parse_text(text, str(path)).records))


def unfinished_run(raw_dir: Path, search: Search) -> Path | None:
    """The newest live run of this exact search that was searched but not finished."""
    folder = raw_dir / SOURCE / search_key(search)
    runs = sorted(p.parent for p in folder.glob(f"*/{PLAN}")
                  if not (p.parent / MANIFEST).exists())
    return runs[-1] if runs else None


def _run_row(db: Database, search: Search, run_dir: Path, plan: dict[str, Any]) -> int:
    """The search run of ``run_dir``: the row a resumed run started, or a new one."""
    folder = display_path(run_dir)
    resumed = searches.run_in_folder(db, folder)
    if resumed is not None:
        return resumed
    return _start_run(db, search, "live", plan["started_at"], count=plan["count"],
                      translation=plan["query_translation"], warnings=plan["warnings"],
                      raw_folder=folder, ranges=plan["ranges"])


def latest_run(raw_dir: Path, search: Search) -> Path | None:
    """The newest kept live run of this exact search that finished (has a manifest)."""
    folder = raw_dir / SOURCE / search_key(search)
    runs = sorted(p.parent for p in folder.glob(f"*/{MANIFEST}"))
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
    pending = [p for p in files if not _held(db, sha256_file(p), search)]
    if not pending:
        return FetchResult("replay", None, records, 0, [message, "already loaded; nothing new"])
    with db.atomic():
        run_id = _start_run(db, search, "replay", store.now(), count=manifest["count"],
                            translation=manifest["query_translation"],
                            warnings=manifest["warnings"], note=message)
        new = sum(_load_xml(db, path, run_id) for path in pending)
        searches.finish_run(db, run_id, records)
    return FetchResult("replay", run_id, records, new, [message])


def _snapshot(db: Database, search: Search, why: str) -> FetchResult:
    if search.snapshot is None:
        raise FetchError(f"{why}, and the protocol names no offline snapshot",
                         where="[[searches]] snapshot",
                         fix="set NCBI_EMAIL to search PubMed live, or add snapshot = \"...\"")
    path = search.snapshot
    fmt, records = read_records(path, "snapshot")
    message = (f"{why}; the offline snapshot {display_path(path)} "
               f"(dated {search.snapshot_date or 'unknown'}, {len(records)} records) "
               "stands in for a live PubMed search")
    sha = sha256_file(path)
    if _held(db, sha, search):
        return FetchResult("snapshot", None, len(records), 0,
                           [message, "already loaded; nothing new"])
    with db.atomic():
        run_id = _start_run(db, search, "snapshot", store.now(), count=len(records),
                            note=message, snapshot=path)
        new = 0 if _claim(db, sha, run_id) else store.add_batch(
            db, records, kind="search", source=SOURCE, branch="databases",
            file=display_path(path), sha256=sha, fmt=fmt, run_id=run_id)[1]
        searches.finish_run(db, run_id, len(records))
    return FetchResult("snapshot", run_id, len(records), new, [message])


def _load_xml(db: Database, path: Path, run_id: int,
              records: list[Record] | None = None) -> int:
    """Load one kept batch (parsing it unless its records are given); a batch loaded before
    adds nothing, and becomes this run's."""
    sha = sha256_file(path)
    if _claim(db, sha, run_id):
        return 0
    if records is None:
        records = read_records(path, "pubmed-xml")[1]
    _, new = store.add_batch(db, records, kind="search", source=SOURCE, branch="databases",
                             file=display_path(path), sha256=sha, fmt="pubmed-xml",
                             run_id=run_id)
    return new


def _held(db: Database, sha: str, search: Search) -> bool:
    """Whether a run of ``search`` already holds the batch of this content."""
    held = searches.search_holding(db, SOURCE, sha)
    return held is not None and _identity(*held) == _search_identity(search)


def _claim(db: Database, sha: str, run_id: int) -> bool:
    """Make the batch of this content, if one was loaded before, a batch of ``run_id``: a
    search whose query or dates changed, but whose answer did not, keeps its records when
    the run of the old search leaves the review."""
    return searches.claim_batch(db, SOURCE, sha, run_id)


def search_log(db: Database) -> list[dict[str, Any]]:
    """Every search run as PRISMA-S reports it: database, interface, the query verbatim, its
    limits, when it ran (UTC), PubMed's count, the records retrieved, and each raw file
    loaded with its sha256."""
    runs = []
    for run in searches.runs(db):
        limits = (f"{run['date_field']} {run['min_date']} to {run['max_date']}"
                  if run["min_date"] else "")
        runs.append({
            "run_id": run["run_id"], "mode": run["mode"], "database": run["database_name"],
            "interface": run["interface"], "query": run["query"], "limits": limits,
            "min_date": run["min_date"] or "", "max_date": run["max_date"] or "",
            "started_at": run["started_at"], "finished_at": run["finished_at"],
            "count": run["count"], "records": run["records"],
            "query_translation": run["query_translation"] or "",
            "warnings": json.loads(run["warnings"] or "[]"),
            "ranges": json.loads(run["ranges"] or "[]"), "raw_folder": run["raw_folder"] or "",
            "snapshot": run["snapshot_file"] or "", "snapshot_date": run["snapshot_date"] or "",
            "note": run["note"] or "", "files": run["files"],
        })
    return runs


def _start_run(db: Database, search: Search, mode: str, started: str, *, count: int,
               translation: str = "", warnings: list[str] | None = None, note: str = "",
               snapshot: Path | None = None, raw_folder: str = "",
               ranges: list[Any] | None = None) -> int:
    row = {
        "source": SOURCE, "database_name": search.database, "interface": search.interface,
        "query": search.query, "date_field": search.date_field if search.min_date else None,
        "min_date": search.min_date or None, "max_date": search.max_date or None,
        "mode": mode, "started_at": started, "count": count,
        "query_translation": translation or None,
        "warnings": json.dumps(warnings) if warnings else None, "note": note or None,
        "snapshot_file": display_path(snapshot) if snapshot else None,
        "snapshot_date": search.snapshot_date if snapshot else None,
        "raw_folder": raw_folder or None, "ranges": json.dumps(ranges) if ranges else None,
    }
    return searches.start_run(db, row)
