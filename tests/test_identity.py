"""Record ids that survive a re-saved export, and a review that holds exactly the files its
protocol lists: re-saved, grown, split and removed exports."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from sqlite_utils import Database

from review_pipeline.files import sha256_file
from review_pipeline.formats.registry import read_records
from review_pipeline.model.errors import InputError
from review_pipeline.model.record import Record, content_digest, identity_key
from review_pipeline.protocol import Protocol, Screening, Source
from review_pipeline.stages.dedup import run as dedup
from review_pipeline.stages.import_ import import_file
from review_pipeline.stages.import_ import run as import_protocol_sources
from review_pipeline.stages.prisma import as_template, counts
from review_pipeline.stages.screen import run as screen
from review_pipeline.store import missing_record, record_from_row
from tests.conftest import FIXTURES

EXPORTS = FIXTURES / "exports"


def ris_records(text: str) -> list[str]:
    return re.findall(r"(?ms)^TY  - .*?^ER  -[^\n]*", text)


def resave(source: Path, target: Path, *, order: slice = slice(None, None, -1),
           encoding: str = "utf-8-sig") -> None:
    """``source`` written again as another program would: its records in another order (or
    some of them), CRLF line ends, a byte order mark or another encoding."""
    text = source.read_text("utf-8-sig")
    if source.suffix == ".csv":
        rows = list(csv.reader(io.StringIO(text, newline="")))
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows([rows[0], *rows[1:][order]])
        data = out.getvalue()
    else:
        data = "\r\n\r\n".join(ris_records(text)[order]).replace("\n", "\r\n") + "\r\n"
        data = data.replace("\r\r\n", "\r\n")
    target.write_bytes(data.encode(encoding))


def review_of(protocol: Protocol, *sources: tuple[str, str, list[Path]]) -> Protocol:
    return replace(protocol, searches=(), screening=Screening(reviewers=1), sources=tuple(
        Source(name, name.title(), kind, tuple(files), "auto", "")
        for name, kind, files in sources))


def run(db: Database, protocol: Protocol, project: Path) -> dict[str, object]:
    """import, dedup and screen as `make` runs them; the PRISMA counts after."""
    import_protocol_sources(db, protocol)
    dedup(db, decisions_file=project / "none.csv", queue_file=project / "queue.csv")
    screen(db, protocol, project / "sheets")
    return as_template(counts(db, protocol))


def ids(db: Database) -> set[str]:
    return {r[0] for r in db.execute("SELECT record_id FROM records")}


@pytest.mark.parametrize("name", ["asreview_embase.ris", "asreview_scopus.ris",
                                  "asreview_embase.csv", "asreview_pubmed_endnote.txt"])
def test_a_resaved_export_keeps_every_id_decision_and_count(
        name: str, db: Database, project: Path, protocol: Protocol,
        open_database: Callable[[Path], Database]) -> None:
    export = project / "imports" / name
    export.write_bytes((EXPORTS / name).read_bytes())
    protocol = review_of(protocol, ("embase", "database", [export]))
    before = run(db, protocol, project)
    first = ids(db)
    # a reviewer decides every record at title/abstract
    (project / "sheets").mkdir()
    sheet = "record_id,decision,reason,note\n" + "".join(
        f"{rid},{'include' if n % 2 else 'exclude'},,\n" for n, rid in enumerate(sorted(first)))
    (project / "sheets" / "ta-anna.csv").write_text(sheet)
    decided = run(db, protocol, project)
    resave(EXPORTS / name, export)  # CRLF, reversed, with a BOM
    assert export.read_bytes() != (EXPORTS / name).read_bytes()
    assert run(db, protocol, project) == decided != before
    assert ids(db) == first
    [batch] = db.query("SELECT sha256, records FROM batches")
    assert batch["records"] == len(first)
    # and from scratch, as after `make clean && make all`
    rebuilt = open_database(project / "rebuilt.db")
    assert run(rebuilt, protocol, project) == decided and ids(rebuilt) == first


def test_a_resave_in_another_encoding_keeps_the_ids(tmp_path: Path) -> None:
    text = ("TY  - JOUR\nTI  - Syndrome de Crow-Fukase : à propos d'un cas\nAU  - Dupré, J\n"
            "PY  - 1999\nER  - \n\nTY  - JOUR\nTI  - Second\nAU  - Müller, K\nPY  - 2001\n"
            "ER  - \n")
    (tmp_path / "utf8.ris").write_text(text, encoding="utf-8")
    (tmp_path / "cp1252.ris").write_bytes(text.replace("\n", "\r\n").encode("cp1252"))
    first = [r.source_record_id for r in read_records(tmp_path / "utf8.ris")[1]]
    assert [r.source_record_id for r in read_records(tmp_path / "cp1252.ris")[1]] == first
    assert all(i.startswith("ref:") for i in first)


def test_an_export_that_gained_records_adds_only_those(db: Database, project: Path,
                                                       protocol: Protocol) -> None:
    export = project / "imports" / "scopus.ris"
    resave(EXPORTS / "asreview_scopus.ris", export, order=slice(0, 3))
    protocol = review_of(protocol, ("scopus", "database", [export]))
    [first] = import_protocol_sources(db, protocol).files
    before = ids(db)
    resave(EXPORTS / "asreview_scopus.ris", export)  # all six, the other way round
    summary = import_protocol_sources(db, protocol)
    assert (first.new_records, summary.files[0].new_records) == (3, 3)
    assert before < ids(db) and len(ids(db)) == 6
    assert summary.removed_records == 0
    assert summary.removed_files == [("imports/scopus.ris", True)]
    assert db.execute("SELECT count(*) FROM batches").fetchone()[0] == 1
    # every record now counts from the batch that holds it
    assert {r[0] for r in db.execute("SELECT batch_id FROM records")} == {
        r[0] for r in db.execute("SELECT batch_id FROM batches")}


def test_a_file_taken_out_of_the_protocol_takes_its_records_out(
        db: Database, project: Path, protocol: Protocol) -> None:
    embase, scopus = project / "imports" / "embase.ris", project / "imports" / "scopus.ris"
    embase.write_bytes((EXPORTS / "asreview_embase.ris").read_bytes())
    scopus.write_bytes((EXPORTS / "asreview_scopus.ris").read_bytes())
    both = review_of(protocol, ("embase", "database", [embase]),
                     ("scopus", "database", [scopus]))
    (project / "sheets").mkdir()
    run(db, both, project)
    kept = {rid for rid in ids(db) if rid.startswith("embase:")}
    (project / "sheets" / "ta-anna.csv").write_text(
        "record_id,decision,reason,note\n" + "".join(f"{r},include,,\n" for r in sorted(kept)))
    run(db, both, project)
    scopus.unlink()
    only_embase = review_of(protocol, ("embase", "database", [embase]))
    prisma = run(db, only_embase, project)
    assert ids(db) == kept and prisma["database_specific_results"] == [
        {"label": "Embase", "n": 6}]
    assert db.execute("SELECT count(*) FROM decisions").fetchone()[0] == 6
    removed = db.execute("SELECT detail FROM audit_log WHERE action = 'remove'").fetchone()[0]
    assert "scopus.ris (6 records): the protocol no longer lists" in removed
    for table in ("batch_records", "dedup_pairs", "verdicts", "stage_outcomes"):
        orphans = db.execute(f"SELECT count(*) FROM {table} WHERE record_id NOT IN "
                             "(SELECT record_id FROM records)").fetchone()[0]
        assert orphans == 0, table


def two_records_one_doi(first: str, second: str) -> str:
    def record(title: str) -> str:
        return f"TY  - JOUR\nTI  - {title}\nDO  - 10.1000/shared\nPY  - 2020\nER  - \n"
    return f"{record(first)}\n{record(second)}"


def test_records_that_would_share_an_id_get_their_own_in_any_order(
        db: Database, tmp_path: Path) -> None:
    forward, backward = tmp_path / "ab.ris", tmp_path / "ba.ris"
    forward.write_text(two_records_one_doi("An article", "Its meeting abstract"))
    backward.write_text(two_records_one_doi("Its meeting abstract", "An article"))
    stored = {}
    for path, source in ((forward, "a"), (backward, "b")):
        result = import_file(db, path, source=source)
        assert (result.records, result.new_records) == (2, 2)
        stored[source] = {title: rid.split(":", 1)[1] for rid, title in db.execute(
            "SELECT record_id, title FROM records WHERE source = ?", [source])}
    assert stored["a"] == stored["b"]
    assert len(set(stored["a"].values())) == 2
    assert all(rid.startswith("doi:10.1000/shared~") for rid in stored["a"].values())


def test_the_key_of_a_record_without_an_id_is_what_it_is() -> None:
    assert identity_key(Record("", doi="10.1/x", pmid="5")) == "doi:10.1/x"
    assert identity_key(Record("", pmid="5")) == "pmid:5"
    one = identity_key(Record("", title="POEMS syndrome", year=2010, authors=["Li J"]))
    assert one == identity_key(Record("", title="POEMS Syndrome.", year=2010,
                                      authors=["Li J"], abstract="added later"))
    assert one != identity_key(Record("", title="POEMS syndrome", year=2011, authors=["Li J"]))
    assert identity_key(Record("", journal="Blood", volume="1")) != identity_key(
        Record("", journal="Blood", volume="2"))


def test_a_decision_on_an_id_that_now_names_two_records_says_which_they_are(
        db: Database, project: Path, protocol: Protocol) -> None:
    export = project / "imports" / "x.ris"
    export.write_text(two_records_one_doi("An article", "An article").split("\n\n")[0] + "\n")
    protocol = review_of(protocol, ("x", "database", [export]))
    (project / "sheets").mkdir()
    (project / "sheets" / "ta-anna.csv").write_text(
        "record_id,decision,reason,note\nx:doi:10.1000/shared,include,,\n")
    run(db, protocol, project)
    export.write_text(two_records_one_doi("An article", "Its meeting abstract"))
    with pytest.raises(InputError, match=r"no record 'x:doi:10.1000/shared' in the review: "
                                         r"its file now holds 2 records under that id, named "
                                         r"x:doi:10.1000/shared~\w+, x:doi:10.1000/shared~\w+"):
        run(db, protocol, project)
    # and back: the survivor of the two takes the id again
    export.write_text(two_records_one_doi("An article", "An article").split("\n\n")[0] + "\n")
    import_protocol_sources(db, protocol)
    split = next(r for r in db.execute("SELECT record_id FROM records"))[0]
    assert missing_record(db, f"{split}~0123abcd") == (
        f"no record '{split}~0123abcd' in the review: its file now holds one record under that "
        f"id, named '{split}'")


def test_a_row_on_a_record_of_a_file_taken_out_says_so(db: Database, project: Path,
                                                       protocol: Protocol) -> None:
    export = project / "imports" / "embase.ris"
    export.write_bytes((EXPORTS / "asreview_embase.ris").read_bytes())
    listed = review_of(protocol, ("embase", "database", [export]))
    import_protocol_sources(db, listed)
    [gone] = [r[0] for r in db.execute("SELECT record_id FROM records LIMIT 1")]
    import_protocol_sources(db, review_of(protocol))
    assert missing_record(db, gone) == (
        f"no record '{gone}' in the review; if it was a record of 'embase' that left the "
        "review with imports/embase.ris (6 records): the protocol no longer lists this version "
        "of the file, remove the row or list that file in the protocol again")


def test_an_id_made_from_a_files_bytes_by_an_earlier_version_is_named_anew(
        db: Database) -> None:
    path = EXPORTS / "asreview_scopus.ris"
    import_file(db, path, source="scopus")
    [third] = [r[0] for r in db.execute(
        "SELECT record_id FROM batch_records WHERE position = 2")]
    old = f"scopus:{sha256_file(path)[:10]}#3"
    assert missing_record(db, old).endswith(
        f"from what the record is; this one is now '{third}'; `review export records` lists "
        "the ids")


def test_a_duplicate_of_a_removed_record_is_a_record_again(db: Database, project: Path,
                                                           protocol: Protocol) -> None:
    a, b = project / "imports" / "a.ris", project / "imports" / "b.ris"
    a.write_text(two_records_one_doi("An article", "x").split("\n\n")[0] + "\n")
    b.write_text(a.read_text())
    both = review_of(protocol, ("first", "database", [a]), ("second", "database", [b]))
    run(db, both, project)
    assert dict(db.execute("SELECT source, status FROM records")) == {
        "first": "screened", "second": "duplicate"}
    import_protocol_sources(db, review_of(protocol, ("second", "database", [b])))
    assert list(db.execute("SELECT source, status, duplicate_of FROM records")) == [
        ("second", "identified", None)]


@pytest.mark.parametrize("name", sorted(p.name for p in EXPORTS.iterdir()))
def test_a_stored_record_has_the_content_it_was_read_with(name: str, db: Database) -> None:
    """What tells records of two files apart is their content, compared with the stored
    record: storing must not change it."""
    _, read = read_records(EXPORTS / name)
    import_file(db, EXPORTS / name, source="x")
    stored = {r["source_record_id"]: content_digest(record_from_row(r))
              for r in db.query("SELECT * FROM records")}
    assert {r.source_record_id: content_digest(r) for r in read} == stored


def test_two_files_of_one_source_keep_their_different_records_apart(
        db: Database, tmp_path: Path) -> None:
    """Ids of an export without a database's ids are its file's own: another file of the
    source may give one to another record (a supplement's DOI, a citation key)."""
    first, second = tmp_path / "a.ris", tmp_path / "b.ris"
    first.write_text(two_records_one_doi("An article", "x").split("\n\n")[0] + "\n"
                     "\nTY  - JOUR\nID  - Kassin1997\nTI  - Eyewitness research\nER  - \n")
    second.write_text(two_records_one_doi("Its meeting abstract", "x").split("\n\n")[0]
                      + "\n\nTY  - JOUR\nID  - Kassin1997\nTI  - Eyewitness research\n"
                      "ER  - \n")
    assert import_file(db, first, source="zotero").new_records == 2
    result = import_file(db, second, source="zotero")
    assert (result.records, result.new_records) == (2, 1)
    titles = dict(db.execute("SELECT title, record_id FROM records").fetchall())
    assert titles["An article"] == "zotero:doi:10.1000/shared"
    assert titles["Its meeting abstract"].startswith("zotero:doi:10.1000/shared~")
    # the same record in both files is one record, held by both batches
    assert db.execute("SELECT count(*) FROM batch_records WHERE record_id = "
                      "'zotero:Kassin1997'").fetchone()[0] == 2
