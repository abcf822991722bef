"""fetch: live against a local E-utilities stand-in, replay of kept responses, the snapshot."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlite_utils import Database

from review_pipeline.config import Protocol
from review_pipeline.db import open_db
from review_pipeline.errors import FetchError
from review_pipeline.fetch import FetchResult, LiveSettings, fetch, latest_run
from review_pipeline.sources.pubmed import Eutils, RateLimiter, parse_esearch

from .conftest import FIXTURES
from .eutils_server import Canned, Script, articles, serve

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
             progress: list[tuple[int, int]] | None = None) -> FetchResult:
    return fetch(db, protocol, live=LiveSettings(batch_size=batch_size), raw_dir=raw,
                 client=client(base_url, sleeps, api_key),
                 on_progress=(lambda d, t: progress.append((d, t))) if progress is not None
                 else None)


def test_live_search_keeps_raw_batches_then_loads(db: Database, protocol: Protocol,
                                                   base_url: str, tmp_path: Path) -> None:
    progress: list[tuple[int, int]] = []
    result = run_live(db, protocol, base_url, tmp_path / "raw", progress=progress)
    assert (result.mode, result.records, result.new_records) == ("live", 30, 30)
    run_dir = latest_run(tmp_path / "raw", protocol.search)
    assert run_dir is not None
    assert sorted(p.name for p in run_dir.glob("batch-*.xml")) == [
        f"batch-{n:04d}.xml" for n in range(1, 6)]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["count"] == 30 and manifest["missing"] == []
    assert progress == [(n, 5) for n in range(1, 6)]
    run = next(db.query("SELECT * FROM search_runs"))
    assert (run["mode"], run["count"], run["records"]) == ("live", 30, 30)
    assert run["query_translation"] == '"poems syndrome"[MeSH Terms]'
    assert run["query"] == protocol.search.query and run["min_date"] == "1950/01/01"
    assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 30


def test_every_request_is_polite_and_the_key_is_never_stored(
        db: Database, protocol: Protocol, base_url: str, script: Script,
        tmp_path: Path) -> None:
    run_live(db, protocol, base_url, tmp_path / "raw", api_key=KEY)
    assert script.requests
    for _, form in script.requests:
        assert form["tool"] == "review_pipeline" and form["email"] == "dev@example.org"
        assert form["api_key"] == KEY
    assert [e for e, _ in script.requests][:2] == ["esearch.fcgi", "esearch.fcgi"]
    esearch = script.requests[0][1]
    assert (esearch["datetype"], esearch["mindate"], esearch["maxdate"]) == (
        "pdat", "1950/01/01", "2026/11/21")
    for path in (tmp_path / "raw").rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text()
    assert KEY not in "\n".join(db.iterdump())


def test_retries_honour_retry_after_and_back_off(db: Database, protocol: Protocol,
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


def test_refused_requests_are_not_retried(db: Database, protocol: Protocol, base_url: str,
                                          script: Script, tmp_path: Path) -> None:
    script.failures["esearch.fcgi"] = [Canned(400, "bad request")]
    with pytest.raises(FetchError, match="refused the request: HTTP 400"):
        run_live(db, protocol, base_url, tmp_path / "raw")
    assert len(script.requests) == 1


def test_persistent_failure_gives_up_with_a_clear_error(db: Database, protocol: Protocol,
                                                       base_url: str, script: Script,
                                                       tmp_path: Path) -> None:
    script.failures["esearch.fcgi"] = [Canned(503, "busy")] * 3
    with pytest.raises(FetchError, match="gave up after 3 attempts: HTTP 503"):
        run_live(db, protocol, base_url, tmp_path / "raw")


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
    run_dir = latest_run(tmp_path / "raw", protocol.search)
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


def test_more_hits_than_pubmed_returns_is_refused(db: Database, protocol: Protocol,
                                                  base_url: str, script: Script,
                                                  tmp_path: Path) -> None:
    script.count = 12345
    with pytest.raises(FetchError, match="finds 12,345 records, more than the 9,999"):
        run_live(db, protocol, base_url, tmp_path / "raw")


def test_rate_limiter_spaces_requests() -> None:
    sleeps = Sleeps()
    limiter = RateLimiter(3.0, clock=sleeps.clock, sleep=sleeps)
    for _ in range(4):
        limiter.wait()
    assert sleeps == pytest.approx([1 / 3] * 3)
    with_key = RateLimiter(10.0, clock=sleeps.clock, sleep=sleeps)
    with_key.wait()
    with_key.wait()
    assert sleeps[-1] == pytest.approx(0.1)


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/entrez/eutils/"


def test_unreachable_pubmed_falls_back_to_the_snapshot(db: Database, protocol: Protocol,
                                                       tmp_path: Path) -> None:
    result = fetch(db, protocol, live=LiveSettings(email="dev@example.org",
                                                   base_url=closed_port()),
                   raw_dir=tmp_path / "raw")
    assert (result.mode, result.records, result.new_records) == ("snapshot", 233, 233)
    assert "PubMed could not be reached" in result.messages[0]
    assert "2026-11-21" in result.messages[0] and "233 records" in result.messages[0]
    run = next(db.query("SELECT * FROM search_runs"))
    assert (run["mode"], run["count"], run["snapshot_date"]) == ("snapshot", 233, "2026-11-21")


def test_snapshot_without_email_is_idempotent(db: Database, protocol: Protocol,
                                              tmp_path: Path) -> None:
    first = fetch(db, protocol, raw_dir=tmp_path / "raw")
    assert first.mode == "snapshot" and "NCBI_EMAIL is not set" in first.messages[0]
    second = fetch(db, protocol, raw_dir=tmp_path / "raw")
    assert (second.run_id, second.new_records) == (None, 0)
    assert db.execute("SELECT count(*) FROM search_runs").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 233


def test_offline_replays_kept_raw_responses(tmp_path: Path, protocol: Protocol, base_url: str,
                                            db: Database) -> None:
    run_live(db, protocol, base_url, tmp_path / "raw")
    fresh = open_db(tmp_path / "fresh.db")
    replay = fetch(fresh, protocol, offline=True, raw_dir=tmp_path / "raw")
    assert (replay.mode, replay.records, replay.new_records) == ("replay", 30, 30)
    assert "--offline was given" in replay.messages[0]
    ids = "SELECT record_id FROM records ORDER BY 1"
    assert [r[0] for r in fresh.execute(ids)] == [r[0] for r in db.execute(ids)]
    again = fetch(fresh, protocol, offline=True, raw_dir=tmp_path / "raw")
    assert (again.run_id, again.new_records) == (None, 0)


def test_a_tampered_raw_response_is_refused(tmp_path: Path, protocol: Protocol,
                                            base_url: str, db: Database) -> None:
    run_live(db, protocol, base_url, tmp_path / "raw")
    run_dir = latest_run(tmp_path / "raw", protocol.search)
    assert run_dir is not None
    batch = run_dir / "batch-0002.xml"
    batch.write_text(batch.read_text().replace("<PubmedArticle>", "<PubmedArticle> ", 1))
    with pytest.raises(FetchError, match="differs from the one recorded"):
        fetch(db, protocol, offline=True, raw_dir=tmp_path / "raw")


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
        if calls["n"] == 3:  # the first EFetch, after two ESearch answers
            raise requests.ConnectionError("connection reset by peer")
        return real_post(*args, **kwargs)  # type: ignore[arg-type]

    eutils.session.post = flaky  # type: ignore[method-assign]
    result = fetch(db, protocol, raw_dir=tmp_path / "raw", client=eutils,
                   live=LiveSettings(batch_size=30))
    assert (result.mode, result.records) == ("live", 30)
    assert calls["n"] == 4
