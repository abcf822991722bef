"""Hostile and broken input: refused cleanly, nothing written outside the review, the
database unchanged."""

from __future__ import annotations

import errno
import gzip
import io
import json
import os
import resource
import shutil
import sqlite3
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from review_pipeline import store
from review_pipeline.cli import cli
from review_pipeline.files import write_atomic
from review_pipeline.formats.base import Guarded
from review_pipeline.formats.sheets import read_sheet
from review_pipeline.model.errors import DatabaseError, InputError
from review_pipeline.model.names import MAX_LENGTH, is_identifier, is_name
from review_pipeline.model.record import Record
from review_pipeline.protocol import Protocol
from review_pipeline.stages.extract import load_fields, write_sheets
from review_pipeline.stages.import_ import import_file
from review_pipeline.stages.screen import run as screen
from review_pipeline.stages.screen import write_worksheet
from review_pipeline.store import open_db
from tests.conftest import EXAMPLE, EXAMPLE_PARTS, FIXTURES, UP_TO_EXTRACT, run_stages

EXPORT = FIXTURES / "exports" / "asreview_embase.ris"


def _tables(db: Database) -> dict[str, int]:
    return {t: db[t].count for t in db.table_names()}


@pytest.mark.parametrize("name", ["../../x/evil", "/abs/evil", "..", "a/b", "Embase",
                                  "x" * (MAX_LENGTH + 1), "", "-x", "sqlite\x00"])
def test_a_source_name_cannot_leave_the_review(db: Database, tmp_path: Path,
                                               name: str) -> None:
    before = _tables(db)
    with pytest.raises(InputError, match="cannot name a source"):
        import_file(db, EXPORT, source=name, skip_bad=True,
                    quarantine_dir=tmp_path / "quarantine")
    assert _tables(db) == before
    assert not (tmp_path / "quarantine").exists()
    assert not Path("/abs").exists()


@pytest.mark.parametrize("name", ["../bob", "Bob", "b" * (MAX_LENGTH + 1), "consensus"])
def test_a_reviewer_name_cannot_name_a_path_outside_the_sheets(
        db: Database, protocol: Protocol, tmp_path: Path, name: str) -> None:
    sheets = tmp_path / "sheets"
    if name != "consensus":
        with pytest.raises(InputError, match="cannot name a file"):
            write_worksheet(db, protocol, "ta", name, sheets / "screening")
    with pytest.raises(InputError, match="cannot name a folder"):
        write_sheets(db, name, sheets / "extraction")
    assert not sheets.exists()


@pytest.mark.parametrize("table", ["sqlite_master", "sqlite_sequence", "records_status",
                                   "records", "audit_log", "t" * 300, "drop table x",
                                   "studies;--"])
def test_a_form_may_not_take_a_reserved_or_overlong_name(tmp_path: Path, table: str) -> None:
    path = tmp_path / "fields.csv"
    path.write_text("table,field,type,values,required,key,compare,min,max,unit,help\n"
                    f'"{table}",n,integer,,,,,,,,\n', encoding="utf-8")
    with pytest.raises(InputError, match="cannot name a table"):
        load_fields(path)


def test_one_rule_names_everything() -> None:
    assert is_name("embase") and is_name("2nd-reviewer") and is_name("a" * MAX_LENGTH)
    assert not any(is_name(n) for n in ("", ".", "..", "a/b", "A", "a b", "a" * 41))
    assert is_identifier("studies") and not is_identifier("sqlite_x")
    assert not is_identifier("rob-2") and not is_identifier("2nd")


def _hold(path: Path) -> sqlite3.Connection:
    """Another command in the middle of a write."""
    other = sqlite3.connect(path, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_a_second_command_waits_for_the_first_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "review.db"
    open_db(path).close()
    other = _hold(path)
    notes: list[str] = []
    releases = threading.Timer(1.5, other.rollback)
    releases.start()
    try:
        db = open_db(path, wait=30, on_wait=notes.append)
        db.close()
    finally:
        releases.join()
        other.close()
    assert len(notes) == 1 and "another command is using" in notes[0]


def test_a_command_held_up_too_long_stops_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "review.db"
    open_db(path).close()
    other = _hold(path)
    try:
        with pytest.raises(DatabaseError, match="held the database for more than"):
            open_db(path, wait=1.2)
    finally:
        other.close()


@pytest.mark.parametrize("failure", [
    sqlite3.OperationalError("database or disk is full"),
    OSError(errno.ENOSPC, "No space left on device", "extracted/extraction/audit.csv"),
    sqlite3.OperationalError("database is locked"),
    sqlite3.DataError("string or blob too big"),
    RecursionError("maximum recursion depth exceeded"),
])
def test_low_level_failures_are_clean_errors(
        project: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException) -> None:
    def fails(*_: object, **__: object) -> None:
        raise failure

    monkeypatch.setattr("review_pipeline.api.Review.import_", fails)
    result = CliRunner().invoke(cli, ["import"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ") and "To fix:" in result.output
    assert "Traceback" not in result.output


def test_a_bug_is_not_dressed_as_a_clean_error(project: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(*_: object, **__: object) -> None:
        raise OSError(errno.EBADF, "bad file descriptor")

    monkeypatch.setattr("review_pipeline.api.Review.import_", fails)
    result = CliRunner().invoke(cli, ["import"])
    assert result.exit_code == 1 and isinstance(result.exception, OSError)


def _cut_in_last_record(source: Path, marker: str, into: Path) -> Path:
    """``source`` cut just after the title of its last record, at a line break."""
    text = source.read_text(encoding="utf-8")
    last = text.rindex(marker)
    title = text.index("\nTI  - ", last)
    into.write_text(text[: text.index("\n", title + 1) + 1], encoding="utf-8")
    return into


@pytest.mark.parametrize(("source", "marker", "fmt"), [
    ("revtools_restoration_pubmed.nbib", "\nPMID- ", "medline"),
    ("knh_Embase_ovid_r3001-3002.cgi", "\n<", "ovid"),
])
def test_a_tagged_export_cut_mid_record_is_refused(db: Database, tmp_path: Path,
                                                   source: str, marker: str, fmt: str) -> None:
    cut = _cut_in_last_record(FIXTURES / "exports" / source, marker, tmp_path / source)
    before = _tables(db)
    with pytest.raises(InputError, match="the file looks cut off") as error:
        import_file(db, cut, source="cut", fmt=fmt)
    assert "--skip-bad" in str(error.value) and f"{cut}, line " in str(error.value)
    assert _tables(db) == before
    whole = import_file(db, FIXTURES / "exports" / source, source="whole", fmt=fmt)
    kept = import_file(db, cut, source="cut", fmt=fmt, skip_bad=True,
                       quarantine_dir=tmp_path / "quarantine")
    assert (kept.records, kept.skipped) == (whole.records - 1, 1)


@pytest.mark.parametrize(("kind", "message"), [
    ("fifo", "not a regular file"),  # reading it would wait for a writer for ever
    ("loop", r"cannot open the file \(Too many levels of symbolic links\)"),
    ("folder", "is a folder, not a file"),
])
def test_a_path_that_is_no_file_is_refused(db: Database, tmp_path: Path, kind: str,
                                           message: str) -> None:
    path = tmp_path / "export.ris"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "loop":
        path.symlink_to(tmp_path / "other.ris")
        (tmp_path / "other.ris").symlink_to(path)
    else:
        path.mkdir()
    before = _tables(db)
    with pytest.raises(InputError, match=message):
        import_file(db, path, source="ris")
    assert _tables(db) == before


def test_a_nul_byte_anywhere_is_refused_with_its_line(db: Database, tmp_path: Path) -> None:
    rows = "".join(f"{n},Title number {n} about something long enough\n" for n in range(400))
    path = tmp_path / "export.csv"
    path.write_bytes(b"id,title\n" + rows.encode() + b"401,Bad\x00title\n")
    before = _tables(db)
    with pytest.raises(InputError, match="a NUL byte") as error:
        import_file(db, path, source="csv", fmt="csv")
    assert f"{path}, line 402" in str(error.value)
    assert _tables(db) == before


def test_a_nul_byte_in_a_sheet_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "ta-alice.csv"
    path.write_bytes(b"record_id,decision\npubmed:1,include\npubmed:2,inc\x00lude\n")
    with pytest.raises(InputError, match="a NUL byte") as error:
        read_sheet(path)
    assert f"{path}, line 3" in str(error.value)


def _workbook(path: Path, rows: list[list[str]]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    for row in rows:
        book.worksheets[0].append(row)
    book.save(path)
    return path


def _rezip(path: Path, part: str, change: Callable[[bytes], bytes]) -> Path:
    """``path`` with one part of the zip changed (the others copied as they are)."""
    with zipfile.ZipFile(path) as old:
        parts = {info.filename: old.read(info) for info in old.infolist()}
    parts[part] = change(parts[part])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for name, data in parts.items():
            new.writestr(name, data)
    return path


@pytest.mark.parametrize("reader", ["import", "sheet"])
def test_a_workbook_whose_sheet_is_cut_is_a_clean_error(db: Database, tmp_path: Path,
                                                        reader: str) -> None:
    path = _workbook(tmp_path / "cut.xlsx", [["title", "year"], ["A title", "2020"]] * 50)
    _rezip(path, "xl/worksheets/sheet1.xml", lambda xml: xml[: len(xml) // 2])
    before = _tables(db)
    with pytest.raises(InputError, match=r"cannot read this spreadsheet|not a readable XLSX"):
        if reader == "import":
            import_file(db, path, source="cut", fmt="xlsx")
        else:
            read_sheet(path)
    assert _tables(db) == before


@pytest.mark.parametrize("reader", ["import", "sheet"])
def test_a_zip_bomb_is_refused_before_it_is_unpacked(
        db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    monkeypatch.setattr("review_pipeline.formats.base.MAX_UNPACKED", 1 << 20)
    path = _workbook(tmp_path / "bomb.xlsx", [["title", "year"], ["A title", "2020"]])
    # one cell of 4 MB of a single letter: a 4 KB file that unpacks 1,000 times larger
    _rezip(path, "xl/worksheets/sheet1.xml",
           lambda xml: xml.replace(b"A title", b"x" * (4 << 20)))
    assert path.stat().st_size < 64 << 10
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(InputError, match=r"unpacks to 4 MB, more than the 1 MB"):
        if reader == "import":
            import_file(db, path, source="bomb", fmt="xlsx")
        else:
            read_sheet(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 16 << 10  # KiB


def test_a_gzip_bomb_is_refused_before_it_fills_memory(
        db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("review_pipeline.formats.base.MAX_WHOLE", 1 << 20)
    path = tmp_path / "bomb.nbib.gz"
    record = b"PMID- 1\nTI  - A title\nSO  - J. 2020.\n\n"
    with gzip.open(path, "wb") as out:
        out.write(record * ((3 << 20) // len(record)))
    before = _tables(db)
    with pytest.raises(InputError, match=r"more than 1 MB of text \(unpacked\)"):
        import_file(db, path, source="bomb", fmt="medline")
    assert _tables(db) == before


@pytest.mark.parametrize(("fmt", "name", "record"), [
    ("medline", "bomb.nbib.gz", b"PMID- 1\nTI  - A title\nSO  - J. 2020.\n\n"),
    ("ris", "bomb.ris.gz", b"TY  - JOUR\nTI  - A title\nER  - \n\n"),
    ("pubmed-xml", "bomb.xml.gz", b"<PubmedArticle><MedlineCitation><PMID>1</PMID>"
     b"</MedlineCitation></PubmedArticle>\n"),
    ("endnote-xml", "bomb.xml.gz", b"<record><titles><title>A</title></titles></record>\n"),
])
def test_a_gzip_of_any_format_is_refused_once_it_unpacks_too_far(
        db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, name: str,
        record: bytes) -> None:
    """Streamed formats too: a gzip's output is bounded as it is read, not after."""
    monkeypatch.setattr("review_pipeline.formats.base.MAX_WHOLE", 1 << 20)
    root = b"PubmedArticleSet" if fmt == "pubmed-xml" else b"xml><records"
    path = tmp_path / name
    with gzip.open(path, "wb") as out:
        out.write(b"<" + root + b">\n" if b"<" in record else b"")
        out.write(record * ((3 << 20) // len(record)))
    before = _tables(db)
    with pytest.raises(InputError, match=r"more than 1 MB of text \(unpacked\)"):
        import_file(db, path, source="bomb", fmt=fmt)
    assert _tables(db) == before


@pytest.mark.parametrize(("fmt", "text"), [
    ("pubmed-xml", b"<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID>"
     b"<Article><ArticleTitle>%s</ArticleTitle></Article></MedlineCitation></PubmedArticle>"
     b"</PubmedArticleSet>"),
    ("endnote-xml", b"<xml><records><record><titles><title>%s</title></titles></record>"
     b"</records></xml>"),
])
def test_an_xml_element_too_large_is_refused_before_it_is_held(
        db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str,
        text: bytes) -> None:
    monkeypatch.setattr("review_pipeline.formats.base.MAX_FIELD", 1 << 20)
    path = tmp_path / "huge.xml"
    path.write_bytes(text % (b"title " * (8 << 20)))  # 48 MB in one element
    before = _tables(db)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(InputError, match=r"an element holds more than 1 MB of text") as error:
        import_file(db, path, source="huge", fmt=fmt)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 16 << 10  # KiB
    assert "huge.xml" in str(error.value)
    assert _tables(db) == before


@pytest.mark.parametrize("size", [-1, 7])
def test_a_stretch_without_markup_is_measured_across_and_inside_blocks(size: int) -> None:
    fine, long = b"<a>" + b"x" * 48 + b"</a>", b"<a>" + b"x" * 49 + b"</a>"  # 50, 51 apart
    assert len(_read_all(fine, size, gap=50)) == len(fine)
    with pytest.raises(InputError, match="an element holds more than"):
        _read_all(long, size, gap=50)


def _read_all(data: bytes, size: int, gap: int) -> bytes:
    stream = Guarded(io.BytesIO(data), "test", gap=gap)
    return b"".join(iter(lambda: stream.read(size), b""))


def test_a_line_without_end_is_refused_and_not_echoed(
        db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("review_pipeline.formats.base.MAX_LINE", 1 << 20)
    path = tmp_path / "one-line.csv"
    path.write_bytes(b"title," + b"column," * (3 << 18))
    with pytest.raises(InputError, match="line 1 is longer than 1 MB") as error:
        import_file(db, path, source="csv", fmt="csv")
    assert len(str(error.value)) < 500


def test_a_huge_header_is_quoted_in_part(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"column{n}" for n in range(20_000)) + "\n1,2\n",
                    encoding="utf-8")
    with pytest.raises(InputError, match="no title column among") as error:
        import_file(db, path, source="csv", fmt="csv")
    assert len(str(error.value)) < 800 and "characters)" in str(error.value)


def test_a_web_of_science_tag_rispy_does_not_know_is_kept(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "unknown-tag.ciw"
    path.write_text("FN Clarivate Analytics Web of Science\nVR 1.0\nPT J\nAU Smith, J\n"
                    "TI A title\nZZ a tag from the future\nPY 2020\nUT WOS:1\nER\n\nEF\n",
                    encoding="utf-8")
    result = import_file(db, path, source="wos", fmt="wos")
    assert result.records == 1
    extra = json.loads(next(db.query("SELECT extra FROM records"))["extra"])
    assert extra["wos_other_tags"] == {"ZZ": ["a tag from the future"]}


def test_an_article_nested_beyond_recursion_is_quarantined_not_a_crash(
        db: Database, tmp_path: Path) -> None:
    depth = 100_000
    path = tmp_path / "deep.xml"
    path.write_text('<?xml version="1.0"?>\n<PubmedArticleSet><PubmedArticle><MedlineCitation>'
                    "<PMID>x</PMID><Article><ArticleTitle>" + "<i>" * depth + "t"
                    + "</i>" * depth + "</ArticleTitle></Article></MedlineCitation>"
                    "</PubmedArticle></PubmedArticleSet>\n", encoding="utf-8")
    before = _tables(db)
    with pytest.raises(InputError, match="not PubMed XML as NCBI writes it"):
        import_file(db, path, source="pubmed", fmt="pubmed-xml")
    assert _tables(db) == before
    kept = import_file(db, path, source="pubmed", fmt="pubmed-xml", skip_bad=True,
                       quarantine_dir=tmp_path / "quarantine")
    assert kept.skipped == 1
    assert "nested too deeply" in next((tmp_path / "quarantine").iterdir()).read_text()


def test_a_full_disk_while_writing_a_quarantine_report_imports_nothing(
        db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "two.ris"
    path.write_text("TY  - JOUR\nTI  - Fine\nER  - \n\nTY  - JOUR\nTI  - Cut\n",
                    encoding="utf-8")

    def disk_full(report: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(report))

    monkeypatch.setattr("review_pipeline.stages.import_.stage.write_atomic", disk_full)
    before = _tables(db)
    with pytest.raises(OSError, match="No space left"):
        import_file(db, path, source="ris", skip_bad=True, quarantine_dir=tmp_path / "q")
    assert _tables(db) == before and not (tmp_path / "q").exists()
    monkeypatch.undo()
    result = import_file(db, path, source="ris", skip_bad=True, quarantine_dir=tmp_path / "q")
    assert (result.records, result.skipped) == (1, 1)
    [report] = (tmp_path / "q").iterdir()
    assert "TI  - Cut" in report.read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_full_disk_while_extending_a_sheet_keeps_what_the_reviewer_typed(
        db: Database, protocol: Protocol, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        fmt: str) -> None:
    store.add_batch(db, [Record("1", title="One"), Record("2", title="Two")], kind="search",
                    source="pubmed", branch="databases", file="s", sha256="s", fmt="snapshot")
    folder = tmp_path / "screening"
    folder.mkdir()
    screen(db, protocol, folder)
    path = write_worksheet(db, protocol, "ta", "alice", folder, fmt).path
    typed = path.read_bytes()

    def disk_full(target: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    store.add_batch(db, [Record("3", title="Three")], kind="search", source="pubmed",
                    branch="databases", file="t", sha256="t", fmt="snapshot")
    screen(db, protocol, folder)
    monkeypatch.setattr("review_pipeline.formats.sheets.write_atomic", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_worksheet(db, protocol, "ta", "alice", folder, fmt)
    assert path.read_bytes() == typed
    assert [p.name for p in folder.iterdir()] == [path.name]


def test_an_atomic_write_that_fails_leaves_the_old_file_and_no_partial(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "sheets" / "sheet.csv"
    path.parent.mkdir()
    path.write_bytes(b"record_id,decision\npubmed:1,include\n")

    def disk_full(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("review_pipeline.files.os.fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(path, b"record_id,decision\n")
    assert path.read_bytes() == b"record_id,decision\npubmed:1,include\n"
    assert [p.name for p in path.parent.iterdir()] == ["sheet.csv"]


def test_every_output_is_replaced_whole_never_written_in_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A half-written output that make then takes for up to date is worse than none: each
    one is written beside its place and moved into it."""
    folder = tmp_path / "review"
    for part in EXAMPLE_PARTS:
        shutil.copytree(EXAMPLE / part, folder / part)
    moved: list[Path] = []
    replace = os.replace

    def noting(source: str | Path, target: str | Path) -> None:
        moved.append(Path(target))
        replace(source, target)

    def files() -> dict[Path, int]:
        return {p: p.stat().st_mtime_ns for p in folder.rglob("*")
                if p.is_file() and p.suffix != ".db"}

    before = files()
    monkeypatch.setattr("review_pipeline.files.os.replace", noting)
    run_stages(folder, (*UP_TO_EXTRACT, "synthesis", "prisma", "report"))
    written = {p for p, mtime in files().items() if before.get(p) != mtime}
    assert {p.name for p in written if p.parent.name == "reports"} >= {
        "prisma.svg", "prisma.png", "prisma.json", "search_log.md", "index.html",
        "synthesis.json"}
    assert any(p.parent.name == "forest" for p in written)
    assert written - set(moved) == set()
