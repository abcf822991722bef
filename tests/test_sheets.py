"""Every kind of reviewer sheet refuses an unreadable file by name and line, loading nothing."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlite_utils import Database

from review_pipeline import store
from review_pipeline.formats.sheets import _NUMBER, read_sheet, write_sheet
from review_pipeline.model.errors import InputError
from review_pipeline.model.record import Record
from review_pipeline.model.state import State
from review_pipeline.protocol import Protocol
from review_pipeline.stages.dedup import run as dedup
from review_pipeline.stages.extract import run as extract
from review_pipeline.stages.screen import run as screen
from review_pipeline.stages.screen import write_worksheet
from review_pipeline.views.export import export_records_csv

BROKEN = {
    "latin-1": ("record_id,decision,reason,note\npubmed:1,include,,caf\xe9\n".encode("latin-1"),
                r"line 2: not UTF-8 text: byte 0xe9"),
    "unclosed quote": (b'record_id,decision,reason,note\npubmed:1,include,,"open\n'
                       b"pubmed:2,exclude,,\n", r"line \d: not a well-formed CSV file"),
    "huge cell": (b"record_id,decision,reason,note\npubmed:1,include,," + b"x" * 200_000 + b"\n",
                  r"line 2: not a well-formed CSV file \(field larger"),
}


@pytest.fixture
def review(db: Database) -> Database:
    store.add_batch(db, [Record("1", title="A"), Record("2", title="B")], kind="search",
                    source="pubmed", branch="databases", file="s", sha256="s", fmt="snapshot")
    return db


def snapshot(db: Database) -> list[tuple[object, ...]]:
    return [tuple(r) for r in db.execute(
        "SELECT record_id, status, duplicate_of FROM records ORDER BY 1")] + [
        tuple(r) for r in db.execute("SELECT * FROM extraction_cells")]


@pytest.mark.parametrize("kind", BROKEN)
@pytest.mark.parametrize("where", ["screening", "extraction", "dedup"])
def test_unreadable_sheets_name_file_and_line(review: Database, protocol: Protocol,
                                              tmp_path: Path, kind: str, where: str) -> None:
    data, message = BROKEN[kind]
    if where == "extraction":
        store.move_to(review, "pubmed:1", State.INCLUDED, State.IDENTIFIED)
    before = snapshot(review)
    folder = tmp_path / where
    folder.mkdir()
    name = {"screening": "ta-alice.csv", "extraction": "alice/studies.csv",
            "dedup": "decisions.csv"}[where]
    if where == "extraction":
        (folder / "alice").mkdir()
        (folder / "fields.csv").write_text("table,field,type\nstudies,decision,text\n")
    (folder / name).write_bytes(data)
    run: Callable[[], object] = {"screening": lambda: screen(review, protocol, folder),
           "extraction": lambda: extract(review, folder),
           "dedup": lambda: dedup(review, decisions_file=folder / name)}[where]
    with pytest.raises(InputError, match=message) as caught:
        run()
    assert name in str(caught.value) and "To fix:" in str(caught.value)
    assert snapshot(review) == before


def test_blank_rows_are_skipped_and_lines_counted(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("a, b \n1,2\n\n,\n3,\n4,5,6\n")
    sheet = read_sheet(path)
    assert sheet.header == ["a", "b"]
    assert [(r.line, r.values, r.extra_cells) for r in sheet.rows] == [
        (2, {"a": "1", "b": "2"}, 0), (5, {"a": "3", "b": ""}, 0),
        (6, {"a": "4", "b": "5"}, 1)]


def test_xlsx_dates_read_back_as_typed(tmp_path: Path) -> None:
    from datetime import datetime

    import openpyxl

    path = tmp_path / "s.xlsx"
    book = openpyxl.Workbook()
    book.worksheets[0].append(["start", "seen"])
    book.worksheets[0].append([datetime(2014, 2, 1), datetime(2014, 2, 1, 9, 30)])
    book.save(path)
    assert read_sheet(path).rows[0].values == {"start": "2014-02-01",
                                               "seen": "2014-02-01T09:30:00"}


FORMULAS = ['=HYPERLINK("http://evil.example","click")', "+cmd|' /C calc'!A0", "-2+3",
            "@SUM(A1:A2)", "'=already quoted", "''=twice"]


@pytest.mark.parametrize("text", [*FORMULAS, "-5", "+3.5", "1e-3", "-0,5", "12%", "'quoted",
                                  "plain", ""])
def test_csv_cells_never_start_a_formula_and_read_back_as_written(tmp_path: Path,
                                                                  text: str) -> None:
    path = tmp_path / "s.csv"
    write_sheet(path, ["record_id", "title"], [["pubmed:1", text]])
    written = path.read_text(encoding="utf-8").splitlines()[1]
    cell = next(csv.reader([written]))[1]
    assert cell[:1] not in ("=", "+", "-", "@") or _NUMBER.match(cell)
    assert read_sheet(path).rows[0].values["title"] == text


@pytest.mark.parametrize("text", FORMULAS)
def test_xlsx_cells_hold_text_never_a_formula(tmp_path: Path, text: str) -> None:
    import openpyxl

    path = tmp_path / "s.xlsx"
    write_sheet(path, ["record_id", "title"], [["pubmed:1", text]])
    book = openpyxl.load_workbook(path)
    assert book.worksheets[0]["B2"].data_type == "s"
    assert read_sheet(path).rows[0].values["title"] == text


def test_a_reviewers_formula_is_refused_by_cell(tmp_path: Path) -> None:
    import openpyxl

    path = tmp_path / "ta-alice.xlsx"
    book = openpyxl.Workbook()
    book.worksheets[0].append(["record_id", "decision"])
    book.worksheets[0].append(["pubmed:1", '=IF(TRUE,"include","exclude")'])
    book.save(path)
    with pytest.raises(InputError, match=r"cell B2 holds a formula .* not a value") as error:
        read_sheet(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_hostile_title_reaches_the_screening_sheet_as_text(
        db: Database, protocol: Protocol, tmp_path: Path, fmt: str) -> None:
    hostile = FORMULAS[0]
    store.add_batch(db, [Record("1", title=hostile, authors=["=cmd|x"])], kind="search",
                    source="pubmed", branch="databases", file="s", sha256="s", fmt="snapshot")
    folder = tmp_path / "screening"
    folder.mkdir()
    screen(db, protocol, folder)
    result = write_worksheet(db, protocol, "ta", "alice", folder, fmt)
    row = read_sheet(result.path).rows[0].values
    assert (row["title"], row["authors"]) == (hostile, "=cmd|x")
    if fmt == "csv":
        assert '"\'=HYPERLINK' in result.path.read_text(encoding="utf-8")


def test_exported_records_csv_neutralises_formulas(db: Database) -> None:
    store.add_batch(db, [Record("1", title="=1+1")], kind="search", source="pubmed",
                    branch="databases", file="s", sha256="s", fmt="snapshot")
    text, count = export_records_csv(db)
    assert count == 1 and ",'=1+1," in text
