"""extract: tables validated as a whole, loaded in one transaction, every changed cell audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlite_utils import Database

from review_pipeline import db as store
from review_pipeline.db import State
from review_pipeline.errors import InputError
from review_pipeline.extract import check_value, extract
from review_pipeline.records import Record


@pytest.fixture
def review(db: Database) -> Database:
    store.add_batch(db, [Record("1"), Record("2"), Record("3")], kind="search",
                    source="pubmed", branch="databases", file="s", sha256="s", fmt="snapshot")
    for rid in ("pubmed:1", "pubmed:2"):
        store.move_to(db, rid, State.INCLUDED, State.IDENTIFIED)
    return db


def table(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(("column", "value", "ok"), [
    ("n_patients", "12", True), ("n_patients", "12.5", False), ("n_patients", "-3", False),
    ("n_patients", "twelve", False), ("haem_cr_pct", "38.7", True), ("haem_cr_pct", "101", False),
    ("haem_cr_pct", "n/a", False), ("regimen", "anything at all", True), ("n_patients", "", True),
])
def test_column_types_follow_their_names(column: str, value: str, ok: bool) -> None:
    assert (check_value(column, value) == "") is ok


def test_tables_load_and_rerun_changes_nothing(review: Database, tmp_path: Path) -> None:
    folder = tmp_path / "extraction"
    table(folder, "studies.csv", "record_id,design,n_patients,haem_cr_pct\n"
                                 "pubmed:1,RCT,25,40\npubmed:2,Case series,5,\n")
    table(folder, "arms.csv", "record_id,row,regimen,n_patients\n"
                              "pubmed:1,a,Thalidomide,13\npubmed:1,b,Placebo,12\n")
    result = extract(review, folder)
    assert result.tables == {"arms": 2, "studies": 2} and result.studies == 2
    row = next(review.query("SELECT * FROM extraction_rows WHERE table_name = 'studies' "
                            "AND record_id = 'pubmed:1'"))
    assert json.loads(row["data"]) == {"design": "RCT", "n_patients": "25", "haem_cr_pct": "40"}
    assert extract(review, folder).changed_cells == 0


def test_every_changed_cell_is_audited(review: Database, tmp_path: Path) -> None:
    folder = tmp_path / "extraction"
    path = table(folder, "studies.csv", "record_id,n_patients\npubmed:1,25\n")
    extract(review, folder)
    path.write_text("record_id,n_patients\npubmed:1,26\n")
    assert extract(review, folder).changed_cells == 1
    path.write_text("record_id,n_patients\n")
    assert extract(review, folder).changed_cells == 1
    history = [tuple(r) for r in review.execute(
        "SELECT entity, entity_id, field, old, new FROM audit_log WHERE action = 'extract' "
        "ORDER BY audit_id")]
    assert history == [("studies", "pubmed:1/1", "n_patients", "", "25"),
                       ("studies", "pubmed:1/1", "n_patients", "25", "26"),
                       ("studies", "pubmed:1/1", "n_patients", "26", "")]


@pytest.mark.parametrize(("text", "message"), [
    ("record_id,n_patients\npubmed:1,2x\n",
     r"studies.csv, line 2, column n_patients: '2x' expected a whole number"),
    ("record_id,cr_pct\npubmed:1,140\n", r"line 2, column cr_pct: '140' expected a percentage"),
    ("record_id,design\npubmed:9,RCT\n", r"line 2: no record 'pubmed:9' in the review"),
    ("record_id,design\npubmed:3,RCT\n", r"line 2: record 'pubmed:3' is not an included study"),
    ("record_id,design\npubmed:1,RCT\npubmed:1,RCT\n",
     r"line 3: record 'pubmed:1' row '1' is already on line 2"),
    ("study,design\npubmed:1,RCT\n", r"line 1: no record_id column"),
    ("record_id,design\n,RCT\n", r"line 2: record_id is empty"),
    ("record_id,design\npubmed:1,RCT,extra\n", r"line 2: more cells than columns"),
])
def test_bad_cells_load_nothing_and_leave_the_database_unchanged(
        review: Database, tmp_path: Path, text: str, message: str) -> None:
    folder = tmp_path / "extraction"
    table(folder, "arms.csv", "record_id,regimen\npubmed:2,Lenalidomide\n")
    extract(review, folder)
    before = list(review.execute("SELECT * FROM extraction_rows"))
    table(folder, "studies.csv", text)
    with pytest.raises(InputError, match=message) as caught:
        extract(review, folder)
    assert "nothing was loaded" in str(caught.value)
    assert list(review.execute("SELECT * FROM extraction_rows")) == before
