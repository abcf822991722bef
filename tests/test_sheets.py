"""Every kind of reviewer sheet refuses an unreadable file by name and line, loading nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlite_utils import Database

from review_pipeline import store
from review_pipeline.formats.sheets import read_sheet
from review_pipeline.model.errors import InputError
from review_pipeline.model.record import Record
from review_pipeline.model.state import State
from review_pipeline.protocol import Protocol
from review_pipeline.stages.dedup import run as dedup
from review_pipeline.stages.extract import run as extract
from review_pipeline.stages.screen import run as screen

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
