"""fetch: live against a local E-utilities stand-in, replay of kept responses, the snapshot."""

from __future__ import annotations

import itertools
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlite_utils import Database

from review_pipeline.model.errors import FetchError
from review_pipeline.protocol import Protocol
from review_pipeline.stages.fetch import (
    FetchResult,
    LiveSettings,
    latest_run,
    search_log,
    unfinished_run,
)
from review_pipeline.stages.fetch import run as fetch
from review_pipeline.stages.fetch.eutils import (
    Eutils,
    RateLimiter,
    SearchResult,
    _reconcile,
    parse_esearch,
)
from review_pipeline.stages.prisma import search_log as prisma_search_log
from review_pipeline.stages.prisma.search_log import render_markdown
from tests.conftest import FIXTURES
from tests.eutils_server import Canned, Script, articles, serve

KEY = "secret-api-key-123"


@pytest.fixture
def script() -> Script:
    return Script(articles(FIXTURES / "pubmed" / "pubmed26n1335_sample.xml.gz"))


@pytest.fixture
def base_url(script: Script) -> Iterator[str]:
    yield from serve(script)


class Sleeps(list[float]):
    """A fake sleep that records each wait and advances a fake clock by it."""

    now = 0.0

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def client(base_url: str, sleeps: Sleeps | None = None, api_key: str = "") -> Eutils:
    sleeps = sleeps if sleeps is not None else Sleeps()
    return Eutils(email="dev@example.org", api_key=api_key, base_url=base_url,
                  sleep=sleeps, clock=sleeps.clock, max_attempts=3)


def run_live(db: Database, protocol: Protocol, base_url: str, raw: Path, *,
             api_key: str = "", sleeps: Sleeps | None = None, batch_size: int = 7,
             progress: list[tuple[int, int, str]] | None = None,
             eutils: Eutils | None = None) -> FetchResult:
    return fetch_one(db, protocol, live=LiveSettings(batch_size=batch_size), raw_dir=raw,
                     client=eutils or client(base_url, sleeps, api_key),
                     on_progress=(lambda d, t, note="": progress.append((d, t, note)))
                     if progress is not None else None)


def fetch_one(db: Database, protocol: Protocol, **options: Any) -> FetchResult:
    """The fetch stage on a protocol of one search: that search's result."""
    [result] = fetch(db, protocol, **options).searches
    return result


def test_live_search_keeps_raw_batches_then_loads(db: Database, protocol: Protocol,
                                                   base_url: str, tmp_path: Path) -> None:
    progress: list[tuple[int, int, str]] = []
    result = run_live(db, protocol, base_url, tmp_path / "raw", progress=progress)
    assert (result.mode, result.records, result.new_records) == ("live", 30, 30)
    run_dir = latest_run(tmp_path / "raw", protocol.searches[0])
    assert run_dir is not None
    assert sorted(p.name for p in run_dir.glob("batch-*.xml")) == [
        f"batch-{n:04d}.xml" for n in range(1, 6)]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["count"] == 30 and manifest["missing"] == []
    assert [(done, total) for done, total, _ in progress] == [(7, 30), (14, 30), (21, 30),
                                                             (28, 30), (30, 30)]
    assert progress[-1][2].startswith("batch 5/5, ") and "waiting on the rate limit" in (
        progress[-1][2])
    assert json.loads((run_dir / "search.json").read_text())["ids"] == manifest["ids"]
    run = next(db.query("SELECT * FROM search_runs"))
    assert (run["mode"], run["count"], run["records"]) == ("live", 30, 30)
    assert run["query_translation"] == '"poems syndrome"[MeSH Terms]'
    assert run["query"] == protocol.searches[0].query and run["min_date"] == "1950/01/01"
    assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 30
    [logged] = search_log(db)
    assert (logged["database"], logged["interface"]) == ("PubMed", protocol.searches[0].interface)
    assert logged["query"] == protocol.searches[0].query
    assert logged["limits"] == "pdat 1950/01/01 to 2026/11/21"
    assert (logged["count"], logged["records"]) == (30, 30)
    assert [(Path(f["file"]).name, f["sha256"]) for f in logged["files"]] == [
        (f["file"], f["sha256"]) for f in manifest["files"]]
    assert logged["started_at"].endswith("+00:00")


def test_every_request_is_polite_and_the_key_is_never_stored(
        db: Database, protocol: Protocol, base_url: str, script: Script,
        tmp_path: Path) -> None:
    run_live(db, protocol, base_url, tmp_path / "raw", api_key=KEY)
    assert script.requests
    for _, form in script.requests:
        assert form["tool"] == "review_pipeline" and form["email"] == "dev@example.org"
        assert form["api_key"] == KEY
    assert [e for e, _ in script.requests] == ["esearch.fcgi"] + ["efetch.fcgi"] * 5
    assert all(form["retmode"] == "xml" for e, form in script.requests if e == "efetch.fcgi")
    esearch = script.requests[0][1]
    assert (esearch["datetype"], esearch["mindate"], esearch["maxdate"]) == (
        "pdat", "1950/01/01", "2026/11/21")
    for path in (tmp_path / "raw").rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text()
    assert KEY not in "\n".join(db.iterdump())


def test_retries_in_a_whole_run_honour_retry_after_and_back_off(db: Database, protocol: Protocol,
                                                 base_url: str, script: Script,
                                                 tmp_path: Path) -> None:
    script.failures["esearch.fcgi"] = [
        Canned(429, '{"error":"API rate limit exceeded"}', {"Retry-After": "2"}),
        Canned(502, "<html>WWW Error 502</html>"),
    ]
    script.failures["efetch.fcgi"] = [
        Canned(200, ""),
        Canned(200, "<eFetchResult><ERROR>Search Backend failed: x</ERROR></eFetchResult>"),
    ]
    sleeps = Sleeps()
    result = run_live(db, protocol, base_url, tmp_path / "raw", sleeps=sleeps, batch_size=30)
    assert result.records == 30
    retry_waits = [s for s in sleeps if s >= 1]
    assert retry_waits[0] == 2.0  # Retry-After
    assert len(retry_waits) == 4


def test_missing_pmids_are_asked_again_then_reported(db: Database, protocol: Protocol,
                                                     base_url: str, script: Script,
                                                     tmp_path: Path) -> None:
    lost = sorted(script.articles, key=int)[3]
    script.withhold = {lost}
    result = run_live(db, protocol, base_url, tmp_path / "raw")
    efetches = [form["id"] for endpoint, form in script.requests if endpoint == "efetch.fcgi"]
    assert efetches.count(lost) == 1  # asked once more, alone
    assert result.records == 29
    assert any(lost in m and "not returned" in m for m in result.messages)
    run_dir = latest_run(tmp_path / "raw", protocol.searches[0])
    assert run_dir is not None
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["missing"] == [lost]


def test_esearch_error_and_zero_hits(fixtures: Path) -> None:
    with pytest.raises(FetchError, match="ESearch reported an error: Invalid db name"):
        parse_esearch("<eSearchResult><ERROR>Invalid db name specified</ERROR></eSearchResult>")
    empty = parse_esearch((fixtures / "pubmed" / "esearch8.xml").read_text())
    assert empty.count == 0 and empty.ids == []
    assert any("PhraseNotFound" in w for w in empty.warnings)
    ordinary = parse_esearch((fixtures / "pubmed" / "esearch1.xml").read_text())
    assert ordinary.count == 63 and len(ordinary.ids) == 20


def test_a_search_past_the_cap_is_split_by_pmid_ranges(base_url: str, script: Script) -> None:
    script.ids = [str(n) for n in range(30_000_001, 30_025_001)]
    seen: list[tuple[int, int, int]] = []
    result = client(base_url).search("poems", on_range=lambda lo, hi, n: seen.append((lo, hi, n)))
    assert result.count == 25_000 and result.ids == script.ids  # all, sorted, once
    assert result.ranges == seen and sum(n for _, _, n in seen) == 25_000
    assert all(0 < n <= 9999 for _, _, n in seen)
    assert [lo for lo, _, _ in seen] == sorted(lo for lo, _, _ in seen)
    for (_, hi, _), (lo, _, _) in itertools.pairwise(seen):
        assert lo > hi  # disjoint
    terms = [form["term"] for endpoint, form in script.requests if endpoint == "esearch.fcgi"]
    assert terms[0] == "poems" and all(t.startswith("(poems) AND ") for t in terms[1:])
    assert result.searched_at.endswith("+00:00")


def test_a_count_that_moves_during_a_split_search_is_reconciled_or_refused() -> None:
    result = SearchResult(20_000, [str(n) for n in range(20_001)], "", ranges=[(1, 9, 20_001)])
    _reconcile(result, 20_001)
    assert result.count == 20_001 and "changed from 20000 to 20001" in result.warnings[0]
    with pytest.raises(FetchError, match="hold 20001 records but PubMed counts 20000"):
        _reconcile(SearchResult(20_000, result.ids, "", ranges=[(1, 9, 20_001)]), 20_000)


def test_zero_hits_is_a_result_not_an_error(db: Database, protocol: Protocol, base_url: str,
                                            script: Script, fixtures: Path,
                                            tmp_path: Path) -> None:
    script.failures["esearch.fcgi"] = [Canned(200, (fixtures / "pubmed" / "esearch8.xml")
                                              .read_text())]
    result = run_live(db, protocol, base_url, tmp_path / "raw")
    assert (result.mode, result.records, result.new_records) == ("live", 0, 0)
    assert any("PhraseNotFound: abcXYZ" in m for m in result.messages)
    run = next(db.query("SELECT * FROM search_runs"))
    assert (run["count"], run["records"]) == (0, 0)


@pytest.mark.parametrize("answer", [
    Canned(429, '{"error":"API rate limit exceeded","count":"4","limit":"3"}',
           {"Retry-After": "3", "Content-Type": "application/json"}),
    Canned(500, "<html><body>WWW Error 500 Diagnostic</body></html>"),
    Canned(502, "<html><head><title>502 Bad Gateway</title></head></html>"),
    Canned(200, ""),
    Canned(200, "<eSearchResult><ERROR>Search Backend failed: Exception:\nUnable to "
                "connect</ERROR></eSearchResult>"),
    Canned(200, "<eSearchResult><Count>63</Count><RetMax>20</RetMax><IdList><Id>1"),
    Canned(200, "<eSearchResult><Count>63</Count>", {"Content-Length": "5000",
                                                     "Connection": "close"}),
    Canned(200, "<html><body>Service unavailable</body></html>"),
    Canned(200, "<eSearchResult/>", delay=1.0),
], ids=["429-retry-after", "500-html", "502-html", "empty-body", "backend-failed",
        "truncated-xml", "cut-mid-read", "html-in-200", "read-timeout"])
def test_each_transient_failure_is_retried(answer: Canned, base_url: str,
                                           script: Script) -> None:
    script.failures["esearch.fcgi"] = [answer]
    sleeps = Sleeps()
    eutils = Eutils(email="dev@example.org", base_url=base_url, sleep=sleeps,
                    clock=sleeps.clock, timeout=(2.0, 0.5))
    result = eutils.search("poems")
    assert result.count == 30 and len(script.requests) == 2
    assert eutils.stats.retries == 1
    assert sleeps == ([3.0] if answer.status == 429 else [pytest.approx(1.25, abs=0.25)])
    assert eutils.stats.rate_limited == (answer.status == 429)


@pytest.mark.parametrize("answer, message", [
    (Canned(400, "bad request"), "refused the request: HTTP 400"),
    (Canned(414, "uri too long"), "refused the request: HTTP 414"),
    (Canned(200, "<eSearchResult><ERROR>Invalid db name specified: pubmd</ERROR>"
                 "</eSearchResult>"), "refused the request: E-utilities error: Invalid db"),
    (Canned(200, "<eSearchResult><ERROR>Search Backend failed: Exception: 'retstart' cannot "
                 "be larger than 9998.</ERROR></eSearchResult>"), "cannot be larger than 9998"),
])
def test_refused_requests_are_not_retried(answer: Canned, message: str, base_url: str,
                                          script: Script) -> None:
    script.failures["esearch.fcgi"] = [answer]
    with pytest.raises(FetchError, match=message):
        client(base_url).search("poems")
    assert len(script.requests) == 1


def test_persistent_failure_gives_up_with_a_clear_error(base_url: str, script: Script) -> None:
    script.failures["esearch.fcgi"] = [Canned(503, "busy")] * 3
    with pytest.raises(FetchError, match="gave up after 3 attempts: HTTP 503"):
        client(base_url).search("poems")
    assert len(script.requests) == 3


def test_retrying_stops_when_the_waiting_budget_is_spent(base_url: str, script: Script) -> None:
    script.failures["esearch.fcgi"] = [Canned(429, "{}", {"Retry-After": "40"})] * 5
    sleeps = Sleeps()
    eutils = Eutils(email="dev@example.org", base_url=base_url, sleep=sleeps,
                    clock=sleeps.clock, max_waiting=100)
    with pytest.raises(FetchError, match="gave up after waiting 80 s over 3 attempts"):
        eutils.search("poems")
    assert sleeps == [40.0, 40.0]


def test_the_key_never_reaches_a_log_line_or_an_error(base_url: str, script: Script,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    body = f'{{"error":"API rate limit exceeded","api-key":"{KEY}","count":"11","limit":"10"}}'
    script.failures["esearch.fcgi"] = [Canned(429, body)] * 3
    with caplog.at_level(logging.DEBUG), pytest.raises(FetchError) as error:
        client(base_url, api_key=KEY).search("poems")
    assert "API rate limit exceeded" in caplog.text and "API rate limit exceeded" in str(
        error.value)
    assert KEY not in caplog.text and KEY not in str(error.value)


def test_a_retry_goes_through_the_rate_limiter_again(base_url: str, script: Script) -> None:
    script.failures["esearch.fcgi"] = [Canned(429, "{}", {"Retry-After": "0"})]
    sleeps = Sleeps()
    client(base_url, sleeps).search("poems")
    assert sleeps == [0.0, pytest.approx(0.35)]


def test_rate_limiter_spaces_requests_with_a_small_margin() -> None:
    sleeps = Sleeps()
    limiter = RateLimiter(3.0, clock=sleeps.clock, sleep=sleeps)
    for _ in range(4):
        limiter.wait()
    assert sleeps == pytest.approx([0.35] * 3)
    assert limiter.waited == pytest.approx(1.05)
    with_key = RateLimiter(10.0, clock=sleeps.clock, sleep=sleeps)
    with_key.wait()
    with_key.wait()
    assert sleeps[-1] == pytest.approx(0.105)


def test_rate_limiter_is_shared_safely_by_threads() -> None:
    sleeps = Sleeps()
    limiter = RateLimiter(10.0, margin=0.0, clock=sleeps.clock, sleep=sleeps)
    def wait_often() -> None:
        for _ in range(25):
            limiter.wait()

    threads = [threading.Thread(target=wait_often) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sleeps.now == pytest.approx(9.9)  # 100 requests, 99 gaps of 0.1 s


def test_an_interrupted_fetch_resumes_with_only_the_missing_batches(
        db: Database, protocol: Protocol, base_url: str, script: Script,
        tmp_path: Path) -> None:
    eutils = client(base_url)
    real_efetch = eutils.efetch
    calls = {"n": 0}

    def dies_on_the_third(ids: list[str]) -> str:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_efetch(ids)

    eutils.efetch = dies_on_the_third  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        run_live(db, protocol, base_url, tmp_path / "raw", eutils=eutils)
    assert latest_run(tmp_path / "raw", protocol.searches[0]) is None
    stored = db.execute("SELECT count(*) FROM records").fetchone()[0]
    assert stored == 14  # the two batches fetched before the interruption
    script.requests.clear()
    result = run_live(db, protocol, base_url, tmp_path / "raw")
    efetched = [form["id"].split(",") for e, form in script.requests if e == "efetch.fcgi"]
    assert [e for e, _ in script.requests] == ["efetch.fcgi"] * 3  # no new search
    assert efetched == [sorted(script.articles, key=int)[i:i + 7] for i in (14, 21, 28)]
    assert (result.records, result.new_records) == (30, 16)
    assert "resumed the unfinished PubMed search" in result.messages[0]
    assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 30
    assert db.execute("SELECT count(*) FROM search_runs").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM batches").fetchone()[0] == 5
    assert db.execute("SELECT count(*), count(DISTINCT record_id) FROM batch_records"
                      ).fetchone() == (30, 30)


def test_a_killed_fetch_process_resumes(tmp_path: Path, project: Path, script: Script,
                                        base_url: str, db: Database, protocol: Protocol,
                                        open_database: Callable[[Path], Database]) -> None:
    script.stall_at = 3
    env = {**os.environ, "NCBI_EMAIL": "dev@example.org", "REVIEW_EUTILS_URL": base_url}
    command = [sys.executable, "-m", "review_pipeline", "--db", str(tmp_path / "killed.db"),
               "fetch", "--raw-dir", str(tmp_path / "raw"), "--batch-size", "7"]
    process = subprocess.Popen(command, env=env, cwd=project, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while sum(e == "efetch.fcgi" for e, _ in script.requests) < 3:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.02)
    finally:
        process.kill()
        process.wait()
    script.release.set()
    run_dir = unfinished_run(tmp_path / "raw", protocol.searches[0])
    assert run_dir is not None
    assert sorted(p.name for p in run_dir.glob("batch-*.xml")) == ["batch-0001.xml",
                                                                 "batch-0002.xml"]
    killed = open_database(tmp_path / "killed.db")
    script.requests.clear()
    result = run_live(killed, protocol, base_url, tmp_path / "raw")
    assert [e for e, _ in script.requests] == ["efetch.fcgi"] * 3
    assert result.records == 30
    assert killed.execute("SELECT count(*), count(DISTINCT pmid) FROM records").fetchone() == (
        30, 30)
    assert latest_run(tmp_path / "raw", protocol.searches[0]) == run_dir


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/entrez/eutils/"


def test_unreachable_pubmed_falls_back_to_the_snapshot(db: Database, protocol: Protocol,
                                                       tmp_path: Path) -> None:
    result = fetch_one(db, protocol, live=LiveSettings(email="dev@example.org",
                                                       base_url=closed_port()),
                       raw_dir=tmp_path / "raw")
    assert (result.mode, result.records, result.new_records) == ("snapshot", 233, 233)
    assert "PubMed could not be reached" in result.messages[0]
    assert "2026-11-21" in result.messages[0] and "233 records" in result.messages[0]
    run = next(db.query("SELECT * FROM search_runs"))
    assert (run["mode"], run["count"], run["snapshot_date"]) == ("snapshot", 233, "2026-11-21")


def test_snapshot_without_email_is_idempotent(db: Database, protocol: Protocol,
                                              tmp_path: Path) -> None:
    first = fetch_one(db, protocol, raw_dir=tmp_path / "raw")
    assert first.mode == "snapshot" and "NCBI_EMAIL is not set" in first.messages[0]
    second = fetch_one(db, protocol, raw_dir=tmp_path / "raw")
    assert (second.run_id, second.new_records) == (None, 0)
    assert db.execute("SELECT count(*) FROM search_runs").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 233


def test_offline_replays_kept_raw_responses(tmp_path: Path, protocol: Protocol, base_url: str,
                                            db: Database,
                                            open_database: Callable[[Path], Database]) -> None:
    run_live(db, protocol, base_url, tmp_path / "raw")
    fresh = open_database(tmp_path / "fresh.db")
    replay = fetch_one(fresh, protocol, offline=True, raw_dir=tmp_path / "raw")
    assert (replay.mode, replay.records, replay.new_records) == ("replay", 30, 30)
    assert "--offline was given" in replay.messages[0]
    ids = "SELECT record_id FROM records ORDER BY 1"
    assert [r[0] for r in fresh.execute(ids)] == [r[0] for r in db.execute(ids)]
    again = fetch_one(fresh, protocol, offline=True, raw_dir=tmp_path / "raw")
    assert (again.run_id, again.new_records) == (None, 0)


def test_a_tampered_raw_response_is_refused(tmp_path: Path, protocol: Protocol,
                                            base_url: str, db: Database) -> None:
    run_live(db, protocol, base_url, tmp_path / "raw")
    run_dir = latest_run(tmp_path / "raw", protocol.searches[0])
    assert run_dir is not None
    batch = run_dir / "batch-0002.xml"
    batch.write_text(batch.read_text().replace("<PubmedArticle>", "<PubmedArticle> ", 1))
    with pytest.raises(FetchError, match="differs from the one recorded"):
        fetch_one(db, protocol, offline=True, raw_dir=tmp_path / "raw")


def test_live_rerun_adds_a_run_but_no_duplicate_records(tmp_path: Path, protocol: Protocol,
                                                        base_url: str, db: Database) -> None:
    run_live(db, protocol, base_url, tmp_path / "raw")
    second = run_live(db, protocol, base_url, tmp_path / "raw2")
    assert second.new_records == 0
    assert db.execute("SELECT count(*) FROM search_runs").fetchone()[0] == 2
    assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 30


def test_a_connection_lost_mid_run_is_retried_not_taken_for_unreachable(
        db: Database, protocol: Protocol, base_url: str, tmp_path: Path) -> None:
    eutils = client(base_url)
    calls = {"n": 0}
    real_post = eutils.session.post

    def flaky(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2:  # the first EFetch, after the ESearch
            raise requests.ConnectionError("connection reset by peer")
        return real_post(*args, **kwargs)  # type: ignore[arg-type]

    eutils.session.post = flaky  # type: ignore[method-assign, assignment]
    result = fetch_one(db, protocol, raw_dir=tmp_path / "raw", client=eutils,
                   live=LiveSettings(batch_size=30))
    assert (result.mode, result.records) == ("live", 30)
    assert calls["n"] == 3


def two_searches(protocol: Protocol, folder: Path) -> Protocol:
    """The example's search split in two, each with half of the snapshot."""
    [search] = protocol.searches
    assert search.snapshot is not None
    lines = search.snapshot.read_text("utf-8").splitlines(keepends=True)
    halves = []
    for name, part in (("a.jsonl", lines[:100]), ("b.jsonl", lines[100:])):
        (folder / name).write_text("".join(part), encoding="utf-8")
        halves.append(folder / name)
    return replace(protocol, searches=(
        replace(search, snapshot=halves[0]),
        replace(search, query="(POEMS[tiab]) AND therapy[tiab]", snapshot=halves[1],
                notes="the second search")))


def test_each_search_is_a_run_of_its_own_and_leaves_with_its_records(
        db: Database, protocol: Protocol, tmp_path: Path) -> None:
    both = two_searches(protocol, tmp_path)
    summary = fetch(db, both, raw_dir=tmp_path / "raw")
    assert [(r.mode, r.records, r.new_records) for r in summary.searches] == [
        ("snapshot", 100, 100), ("snapshot", 133, 133)]
    assert [r["query"] for r in search_log(db)] == [s.query for s in both.searches]
    log = render_markdown(prisma_search_log(db, both), both)
    assert "### 1. PubMed" in log and "### 2. PubMed" in log
    assert "- Notes: the second search" in log.split("### 2.")[1]
    again = fetch(db, replace(both, searches=both.searches[:1]), raw_dir=tmp_path / "raw")
    assert (again.removed_runs, again.removed_records) == (1, 133)
    assert [r["query"] for r in search_log(db)] == [both.searches[0].query]
    assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 100


def test_a_changed_snapshot_replaces_the_one_loaded(db: Database, protocol: Protocol,
                                                    tmp_path: Path) -> None:
    [search] = protocol.searches
    assert search.snapshot is not None
    fetch(db, protocol, raw_dir=tmp_path / "raw")
    lines = search.snapshot.read_text("utf-8").splitlines(keepends=True)
    search.snapshot.write_text("".join(lines[:-1]), encoding="utf-8")
    summary = fetch(db, protocol, raw_dir=tmp_path / "raw")
    assert (summary.removed_runs, summary.removed_records) == (1, 1)
    assert summary.searches[0].new_records == 0
    assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 232
    assert db.execute("SELECT count(*) FROM search_runs").fetchone()[0] == 1


def test_a_protocol_without_searches_fetches_nothing(db: Database, protocol: Protocol,
                                                     tmp_path: Path) -> None:
    summary = fetch(db, replace(protocol, searches=()), raw_dir=tmp_path / "raw")
    assert summary.searches == [] and summary.removed_runs == 0
    assert db.execute("SELECT count(*) FROM search_runs").fetchone()[0] == 0


def test_live_only_never_falls_back(db: Database, protocol: Protocol, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="could not run live: PubMed could not be reached"):
        fetch(db, protocol, live_only=True, raw_dir=tmp_path / "raw",
              live=LiveSettings(email="dev@example.org", base_url=closed_port()))
    assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 0


def test_a_search_whose_dates_changed_keeps_the_records_its_answer_still_holds(
        db: Database, protocol: Protocol, tmp_path: Path, base_url: str) -> None:
    fetch(db, protocol, raw_dir=tmp_path / "raw")  # the snapshot
    [search] = protocol.searches
    later = replace(protocol, searches=(replace(search, max_date="2026/12/31"),))
    summary = fetch(db, later, raw_dir=tmp_path / "raw")
    assert (summary.removed_runs, summary.removed_records) == (1, 0)
    assert summary.searches[0].new_records == 0
    [run] = search_log(db)
    assert run["max_date"] == "2026/12/31" and run["records"] == 233
    # live: the same answer to a reworded query is the same batches, which stay
    run_live(db, later, base_url, tmp_path / "raw")
    reworded = replace(later, searches=(replace(later.searches[0], query="POEMS"),))
    again = run_live(db, reworded, base_url, tmp_path / "raw")
    assert (again.mode, again.new_records) == ("live", 0)
    assert [r["query"] for r in search_log(db)] == ["POEMS"]
    assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 30


def test_a_search_outside_the_protocol_leaves_the_protocols_runs(
        db: Database, protocol: Protocol, tmp_path: Path, base_url: str) -> None:
    """`review fetch --query X`: an extra run, nothing of the protocol's taken out."""
    fetch(db, protocol, raw_dir=tmp_path / "raw")
    [search] = protocol.searches
    extra = replace(protocol, searches=(replace(search, query="POEMS", snapshot=None),))
    summary = fetch(db, extra, raw_dir=tmp_path / "raw", forget=False,
                    client=client(base_url), live=LiveSettings(batch_size=7))
    assert summary.removed_runs == 0 and summary.searches[0].mode == "live"
    assert [r["mode"] for r in search_log(db)] == ["snapshot", "live"]
