"""import: each file is one batch; again is a no-op; a bad file stores nothing."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from sqlite_utils import Database

from review_pipeline.model.errors import InputError
from review_pipeline.protocol import Protocol
from review_pipeline.stages.import_ import ImportResult, import_file
from review_pipeline.stages.import_ import run as import_protocol_sources
from review_pipeline.store import records as stored_records
from tests.conftest import FIXTURES


def count(db: Database, table: str) -> int:
    return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_an_export_becomes_one_batch_with_provenance(db: Database) -> None:
    path = FIXTURES / "exports" / "asreview_web_of_science.txt"
    result = import_file(db, path, source="wos")
    assert (result.format, result.records, result.new_records) == ("ris", 10, 10)
    batch = next(db.query("SELECT * FROM batches"))
    assert (batch["kind"], batch["source"], batch["records"]) == ("import", "wos", 10)
    assert len(batch["sha256"]) == 64 and batch["file"].endswith("asreview_web_of_science.txt")
    rows = list(db.query("SELECT * FROM records ORDER BY record_id"))
    assert all(r["record_id"] == "wos:" + r["source_record_id"] for r in rows)
    # The accession number is the id; the one record without one keeps its RIS ID.
    ids = sorted(r["source_record_id"] for r in rows)
    assert ids[0] == "Kassin1997" and all(i.startswith("WOS:") for i in ids[1:])
    assert all(r["source_file"] == batch["file"] and r["status"] == "identified"
               and r["imported_at"] for r in rows)


def test_importing_the_same_file_again_changes_nothing(db: Database, tmp_path: Path) -> None:
    path = FIXTURES / "exports" / "revtools_restoration_pubmed.nbib"
    import_file(db, path, source="pubmed-export")
    copy = tmp_path / "renamed.txt"
    shutil.copy(path, copy)
    again = import_file(db, copy, source="pubmed-export")
    assert again.already_imported and again.new_records == 0 and again.records == 104
    assert count(db, "batches") == 1 and count(db, "records") == 104


def test_records_in_equal_records_out(db: Database) -> None:
    for name in ("asreview_embase.ris", "asreview_scopus.ris", "asreview_ovid_psycinfo.ris",
                 "asreview_pubmed_endnote.txt", "revtools_restoration_pubmed.nbib",
                 "asreview_pubmed.xml"):
        before = count(db, "records")
        result = import_file(db, FIXTURES / "exports" / name, source=name.split(".")[0])
        assert count(db, "records") - before == result.records == result.new_records


def test_a_bad_file_among_the_protocol_sources_stores_nothing(db: Database, project: Path,
                                                             protocol: Protocol) -> None:
    good = protocol.sources[0].files[0]
    bad = project / "imports" / "broken.ris"
    bad.write_text("TY  - JOUR\nTI  - no end\n")
    broken = replace(protocol.sources[0], files=(good, bad))
    with pytest.raises(InputError, match=r"broken.ris, line 1: the last record"):
        import_protocol_sources(db, replace(protocol, sources=(broken,)))
    assert count(db, "batches") == 0 and count(db, "records") == 0


def test_a_file_is_stored_a_chunk_at_a_time_and_undone_whole(
        db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stored_records, "_CHUNK", 2)
    path = FIXTURES / "exports" / "asreview_embase.ris"
    result = import_file(db, path, source="embase")
    assert (result.records, result.new_records) == (6, 6)
    assert next(db.query("SELECT records FROM batches"))["records"] == 6
    assert [r["position"] for r in db.query("SELECT position FROM batch_records "
                                            "ORDER BY position")] == list(range(6))
    # A cut-off last record shows only at the end, after earlier chunks were stored.
    cut = tmp_path / "cut.ris"
    cut.write_text(path.read_text("utf-8-sig").rstrip().rsplit("ER  -", 1)[0])
    with pytest.raises(InputError, match=r"cut.ris, line \d+: the last record"):
        import_file(db, cut, source="cut")
    assert count(db, "batches") == 1 and count(db, "records") == 6


def test_a_missing_protocol_file_is_named(db: Database, project: Path,
                                         protocol: Protocol) -> None:
    (project / "imports" / "citation_searching.ris").unlink()
    with pytest.raises(InputError, match=r"protocol.toml: imports/citation_searching.ris"):
        import_protocol_sources(db, protocol)


def test_protocol_sources_import_with_their_branch(db: Database, protocol: Protocol) -> None:
    seen: list[ImportResult] = []
    results = import_protocol_sources(db, protocol, on_file=seen.append).files
    assert [(r.source, r.records) for r in results] == [("citations", 23)] and seen == results
    assert {r[0] for r in db.execute("SELECT branch FROM records")} == {"other"}
    assert import_protocol_sources(db, protocol).files[0].already_imported
