"""Every real export read in full against its golden file; edge cases named after what they
test; records in = records out; RIS written and read back unchanged."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlite_utils import Database

from review_pipeline.formats.registry import read_file, read_records
from review_pipeline.formats.tabular import split_authors
from review_pipeline.model.errors import InputError
from review_pipeline.model.record import Record
from review_pipeline.stages.import_ import import_file
from review_pipeline.views.export import export_records_ris
from tests.conftest import FIXTURES, TESTS

GOLDEN = TESTS / "golden"
EDGE = FIXTURES / "edge"
REAL = sorted([*(FIXTURES / "exports").iterdir(), FIXTURES / "pubmed" /
               "pubmed_result2.txt", *(FIXTURES / "pubmed").glob("pubmed*.xml*"),
               *(FIXTURES / "pubmed").glob("*medline*.xml.gz")])


def golden_path(fixture: Path) -> Path:
    suffix = ".json.gz" if fixture.suffix == ".gz" else ".json"
    return GOLDEN / (fixture.name + suffix)


def as_data(records: list[Record]) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(json.dumps([r.as_dict() for r in records],
                                                        ensure_ascii=False))
    return data


@pytest.mark.parametrize("fixture", REAL, ids=lambda p: p.name)
def test_every_real_export_reads_exactly_as_its_golden_file(
        fixture: Path, request: pytest.FixtureRequest) -> None:
    fmt, records = read_records(fixture)
    data = {"format": fmt, "records": as_data(records)}
    golden = golden_path(fixture)
    text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
    if request.config.getoption("--update-golden"):
        golden.parent.mkdir(exist_ok=True)
        if golden.suffix == ".gz":
            golden.write_bytes(gzip.compress(text.encode(), mtime=0))
        else:
            golden.write_text(text, encoding="utf-8")
    raw = golden.read_bytes()
    expected = json.loads(gzip.decompress(raw) if golden.suffix == ".gz" else raw)
    assert data["format"] == expected["format"]
    assert len(data["records"]) == len(expected["records"])
    for got, want in zip(data["records"], expected["records"], strict=True):
        assert got == want, f"record {want['source_record_id']} of {fixture.name}"


def test_golden_files_hold_what_the_exports_say() -> None:
    """Spot checks, written by hand from the export files, that the golden files are right."""
    def first(name: str) -> dict[str, Any]:
        record: dict[str, Any] = json.loads(
            golden_path(FIXTURES / "exports" / name).read_text())["records"][0]
        return record

    wos = first("revtools_restoration_WoS.ciw")
    assert (wos["source_record_id"], wos["doi"], wos["pmid"], wos["pages"], wos["year"]) == (
        "WOS:000455039600059", "10.1016/j.scitotenv.2018.11.375", "30529964", "598-607", 2019)
    assert wos["authors"][:2] == ["Alvarez-Manzaneda I", "Guerreroc F"]
    assert wos["title"].endswith("impact on zooplankton community?")  # a wrapped TI line
    ovid = first("knh_Embase_ovid_r3001-3002.cgi")
    assert (ovid["source_record_id"], ovid["doi"], ovid["kind"], ovid["journal"]) == (
        "621381829", "10.1186/s12919-018-0099-8", "conference_abstract", "BMC Proceedings")
    embase_csv = first("asreview_embase.csv")
    embase_ris = first("asreview_embase.ris")
    for key in ("title", "authors", "year", "journal", "volume", "issue", "pages"):
        assert embase_csv[key] == embase_ris[key], key
    endnote = first("endnote_synthetic.xml")
    assert (endnote["pmid"], endnote["doi"], endnote["pages"], endnote["issn"]) == (
        "34096099", "10.1002/ajh.26240", "1079-1089", "0361-8609")
    pubmed_endnote = first("asreview_pubmed_endnote.txt")
    assert pubmed_endnote["pmid"] == pubmed_endnote["source_record_id"] == "21553931"


@pytest.mark.parametrize(("fixture", "fmt", "count", "check"), [
    ("crlf.ris", "ris", 2, {"title": "First record"}),
    ("utf16_bom.ris", "ris", 1, {"title": "Syndrome de POEMS : traitement par lénalidomide"}),
    ("latin1.ris", "ris", 1, {"authors": ["Hernández J"]}),
    ("missing_er_between_records.ris", "ris", 2, {"title": "First record"}),
    ("wrapped_and_repeated_tags.ris", "ris", 1,
     {"title": "A title that an exporter wrapped onto a second line",
      "doi": "10.1000/first"}),
    ("ovid_numbered_headers.ris", "ris", 2, {"title": "First record"}),
    ("t1_a1_tags.ris", "ris", 1, {"title": "Title under T1", "authors": ["Misawa S"]}),
    ("semicolon.csv", "csv", 2, {"title": "Bortezomib in POEMS syndrome",
                                 "authors": ["Misawa S", "Kuwabara S"], "year": 2015}),
    ("tab.tsv", "csv", 2, {"title": "Thalidomide for POEMS", "doi": "10.1000/tab"}),
    ("covidence.csv", "csv", 2, {"source_record_id": "12345", "pages": "325-330"}),
    ("asreview.csv", "csv", 2, {"source_record_id": "7", "keywords": ["POEMS", "VEGF"]}),
    ("multiline_cell_crlf.csv", "csv", 2, {"title": "First, with a comma",
                                           "abstract": "Background: one.\nMethods: two."}),
])
def test_edge_cases_read(fixture: str, fmt: str, count: int, check: dict[str, Any]) -> None:
    detected, reading = read_file(EDGE / fixture)
    records = list(reading.records)
    assert detected == fmt and len(records) == count == reading.expected
    assert {k: getattr(records[0], k) for k in check} == check


def test_a_latin1_file_is_read_with_a_warning_naming_the_line() -> None:
    _, reading = read_file(EDGE / "latin1.ris")
    assert reading.warnings and "not UTF-8 (byte 0xed on line 2)" in reading.warnings[0]
    assert "Windows-1252" in reading.warnings[0]


def test_a_missing_er_between_records_is_restored_with_a_warning() -> None:
    _, reading = read_file(EDGE / "missing_er_between_records.ris")
    assert [r.title for r in reading.records] == ["First record", "Second record"]
    assert "1 records had no 'ER  -' line" in reading.warnings[0]


@pytest.mark.parametrize(("fixture", "fmt", "message"), [
    ("empty.ris", "auto", r"empty\.ris: the file is empty"),
    ("binary.ris", "auto", r"binary\.ris: this is a binary file"),
    ("truncated_last_record.ris", "auto",
     r"truncated_last_record\.ris, line 9: the last record has no 'ER  -' line"),
    ("ragged_row.csv", "auto", r"ragged_row\.csv, line 3: the row has 4 cells but the header "
                               r"has 3 columns"),
    ("ragged_row_after_multiline_cell.csv", "auto",
     r"ragged_row_after_multiline_cell\.csv, line 4: the row has 4 cells"),
    ("no_title_column.csv", "csv", r"no_title_column\.csv, line 1: no title column"),
    ("truncated.ciw", "auto", r"truncated\.ciw, line 11: the last record has no 'ER' line"),
    ("ovid_header_without_fields.cgi", "auto",
     r"ovid_header_without_fields\.cgi, line 7: a record header with no fields under it"),
    ("endnote_cut_off.xml", "auto", r"endnote_cut_off\.xml, line 1: malformed XML at column"),
    ("medline_pmid_only.nbib", "auto",
     r"medline_pmid_only\.nbib, line 4: the record has no PMID \(or not a number\) "
     r"\[field PMID\]"),
])
def test_bad_input_is_an_error_naming_file_and_line(fixture: str, fmt: str,
                                                    message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        read_records(EDGE / fixture, fmt)
    assert "To fix:" in str(caught.value)


def test_a_bad_spreadsheet_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"not really a workbook" * 10)
    with pytest.raises(InputError, match=r"broken\.xlsx: cannot read this spreadsheet"):
        read_records(path)


def test_a_one_megabyte_abstract_is_read_whole(tmp_path: Path) -> None:
    abstract = ("POEMS syndrome responds to lenalidomide. " * 26_000)[:1_048_576].strip()
    path = tmp_path / "huge_abstract.ris"
    path.write_text(f"TY  - JOUR\nTI  - Long\nAB  - {abstract}\nER  - \n", encoding="utf-8")
    [record] = read_records(path)[1]
    assert record.abstract == abstract and len(record.abstract) > 1_000_000


def test_an_xlsx_sheet_is_read_with_its_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    pd.DataFrame({"Title": ["First", "Second"], "Authors": ["Misawa S; Kuwabara S", ""],
                  "Year": ["2015", ""], "DOI": ["https://doi.org/10.1000/XLS", ""],
                  "Accession Number": ["A1", "A2"]}).to_excel(path, index=False)
    fmt, records = read_records(path)
    assert fmt == "xlsx" and [r.source_record_id for r in records] == ["A1", "A2"]
    assert (records[0].doi, records[0].authors, records[0].year) == (
        "10.1000/xls", ["Misawa S", "Kuwabara S"], 2015)


def test_skip_bad_imports_the_rest_and_quarantines_the_bad(db: Database, tmp_path: Path) -> None:
    path = EDGE / "truncated_last_record.ris"
    with pytest.raises(InputError):
        import_file(db, path, source="embase")
    assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 0
    result = import_file(db, path, source="embase", skip_bad=True,
                         quarantine_dir=tmp_path / "quarantine")
    assert (result.records, result.skipped) == (1, 1)
    report = Path(result.quarantine) if Path(result.quarantine).is_absolute() else (
        Path.cwd() / result.quarantine)
    text = report.read_text()
    assert "1 records were not imported" in text and "1. line 9, field ER:" in text
    assert "    TI  - Second record, cut off" in text
    batch = next(db.query("SELECT * FROM batches"))
    assert (batch["records"], batch["skipped"]) == (1, 1)
    assert batch["quarantine"] == result.quarantine


def test_a_malformed_pubmed_article_is_refused_by_pmid_with_skip_bad(tmp_path: Path) -> None:
    text = (FIXTURES / "pubmed" / "pubmed2.xml").read_text()
    broken = text.replace("<Article PubModel", "<NotArticle PubModel", 1).replace(
        "</Article>", "</NotArticle>", 1)
    path = tmp_path / "odd.xml"
    path.write_text(broken)
    _, reading = read_file(path, skip_bad=True)
    assert len(list(reading.records)) == 1 and len(reading.bad) == 1
    assert "without Article (PMID 11748933)" in reading.bad[0].problem


RIS_FILES = [*sorted((FIXTURES / "exports").glob("*.ris")),
             FIXTURES / "exports" / "asreview_pubmed_endnote.txt",
             FIXTURES / "exports" / "asreview_web_of_science.txt",
             EDGE / "wrapped_and_repeated_tags.ris"]


@pytest.mark.parametrize("fixture", RIS_FILES, ids=lambda p: p.name)
def test_ris_round_trip_gives_the_same_records(fixture: Path, db: Database,
                                               tmp_path: Path) -> None:
    import_file(db, fixture, source="first")
    text, count = export_records_ris(db)
    exported = tmp_path / "exported.ris"
    exported.write_text(text, encoding="utf-8")
    original = read_records(fixture)[1]
    again = read_records(exported, "ris")[1]
    assert count == len(original) == len(again)
    by_id = {r.source_record_id: r for r in again}
    for record in original:
        assert by_id[record.source_record_id] == record


@pytest.mark.parametrize(("cell", "authors"), [
    ("Zuber, J and Le Quintrec, M", ["Zuber J", "Le Quintrec M"]),
    ("Liu R., Adler D.G.", ["Liu R", "Adler DG"]),
    ("Misawa S; Kuwabara S", ["Misawa S", "Kuwabara S"]),
    # EndNote's CSV export, as in the ASySD sets
    ("Cicek F. A.Tokcaer-Keskin Z.Ozcinar E.", ["Cicek FA", "Tokcaer-Keskin Z", "Ozcinar E"]),
    ("Boswald L.Kienzle E.", ["Boswald L", "Kienzle E"]),
    ("St.John A.", ["St John A"]),
    ("Abrahao, Bruno", ["Abrahao B"]),
])
def test_an_author_cell_in_every_common_form(cell: str, authors: list[str]) -> None:
    assert split_authors(cell) == authors
