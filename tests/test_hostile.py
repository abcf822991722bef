"""Hostile and broken input: refused cleanly, nothing written outside the review, the
database unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlite_utils import Database

from review_pipeline.model.errors import InputError
from review_pipeline.model.names import MAX_LENGTH, is_identifier, is_name
from review_pipeline.protocol import Protocol
from review_pipeline.stages.extract import load_fields, write_sheets
from review_pipeline.stages.import_ import import_file
from review_pipeline.stages.screen import write_worksheet
from tests.conftest import FIXTURES

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
