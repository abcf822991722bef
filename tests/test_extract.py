"""extract: forms as data, every sheet checked before anything loads, dual extraction merged
through a consensus file, and every changed cell audited."""

from __future__ import annotations

import csv
import errno
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlite_utils import Database

from review_pipeline import store
from review_pipeline.formats.sheets import read_sheet
from review_pipeline.model.errors import InputError
from review_pipeline.model.record import Record
from review_pipeline.model.state import State
from review_pipeline.stages.extract import (
    Field,
    add_to_consensus,
    compare,
    copy_from_db,
    history,
    load_fields,
    parse,
    write_sheets,
)
from review_pipeline.stages.extract import run as extract
from review_pipeline.store import studies as study_store
from tests.conftest import EXAMPLE

FIELDS = """table,field,type,values,required,key,compare,min,max,unit,help
studies,design,choice,Cohort|Case series,yes,,,,,,Study design
studies,patients,integer,,,,,0,,patients,Patients in the study
studies,start,date,,,,,,,,First inclusion
studies,notes,text,,,,no,,,,Free text
arms,arm,text,,yes,yes,,,,,Arm label
arms,patients,integer,,,,,0,studies.patients,patients,Patients in the arm
arms,follow_up,number,,,,,0,,months,Median follow-up
outcomes,arm,text,arms.arm,,yes,,,,,Arm or empty
outcomes,outcome,choice,Response|Survival,yes,yes,,,,,Outcome
outcomes,percent,percent,,,,,,,%,Share of patients
"""
STUDIES = "record_id,design,patients,start,notes\n"
ARMS = "record_id,arm,patients,follow_up\n"
OUTCOMES = "record_id,arm,outcome,percent\n"


@pytest.fixture
def review(db: Database) -> Database:
    store.add_batch(db, [Record("1"), Record("2"), Record("3")], kind="search",
                    source="pubmed", branch="databases", file="s", sha256="s", fmt="snapshot")
    for rid in ("pubmed:1", "pubmed:2"):
        store.move_to(db, rid, State.INCLUDED, State.IDENTIFIED)
    return db


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "extraction"
    root.mkdir()
    (root / "fields.csv").write_text(FIELDS)
    return root


def sheet(folder: Path, who: str, table: str, text: str) -> Path:
    path = folder / who / f"{table}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def state(db: Database) -> list[object]:
    """Everything an extraction load may change."""
    tables = [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return [(t, [tuple(r) for r in db.execute(f"SELECT * FROM [{t}] ORDER BY 1")])
            for t in tables if not t.startswith("_")]


def anna(folder: Path) -> None:
    sheet(folder, "anna", "studies", STUDIES + "pubmed:1,Cohort,20,2010-03,first\n"
          "pubmed:2,case series,5,,\n")
    sheet(folder, "anna", "arms", ARMS + "pubmed:1,A,12,24.5\npubmed:1,B,8,\n")
    sheet(folder, "anna", "outcomes", OUTCOMES + "pubmed:1,A,Response,45%\n"
          "pubmed:1,,Survival,90\n")


# --- field definitions -------------------------------------------------------------------


def test_the_shipped_forms_define_every_table_of_the_review() -> None:
    forms = load_fields(EXAMPLE / "extracted" / "extraction" / "fields.csv")
    assert list(forms.tables) == ["studies", "arms", "outcomes", "rob_jbi", "rob_robins_i"]
    jbi = [f for f in forms.tables["rob_jbi"].fields if f.help.startswith("JBI case series")]
    assert len(jbi) == 10 and all(f.choices == ("Yes", "No", "Unclear", "Not applicable")
                                  for f in jbi)
    domains = {f"ROBINS-I {i}" for i in range(1, 8)}
    robins = [f for f in forms.tables["rob_robins_i"].fields if f.help.split(":")[0] in domains]
    assert len(robins) == 7
    assert forms.tables["outcomes"].keys == ("arm", "outcome", "months")
    assert forms.field("arms", "patients").at_most == ("studies", "patients")  # type: ignore[union-attr]


@pytest.mark.parametrize(("row", "message"), [
    ("studies,size,big,,,,,,,,", r"line 2: type 'big' of field 'size' is not one of"),
    ("studies,kind,choice,,,,,,,,", r"line 2: choice field 'kind' lists no values"),
    ("studies,n,integer,,,,,zero,,,", r"line 2: min of 'n' must be a number; got 'zero'"),
    ("studies,n,integer,,,,,,arms.nothing,,", r"max of studies.n names arms.nothing"),
    ("records,n,integer,,,,,,,,", r"line 2: 'records' cannot name a table"),
    ("studies,n,integer,,maybe,,,,,,", r"line 2: required must be yes or no; got 'maybe'"),
    ("studies,n,text,,,,,0,,,", r"min and max apply to integer, number and percent"),
    ("studies,n,text,a|b,,,,,,,", r"values of text field 'n' can only name a field"),
])
def test_bad_field_definitions_name_their_line(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "fields.csv"
    path.write_text(FIELDS.splitlines()[0] + "\n" + row + "\n")
    with pytest.raises(InputError, match=message):
        load_fields(path)


def test_a_field_defined_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fields.csv"
    path.write_text(FIELDS + "studies,design,text,,,,,,,,\n")
    with pytest.raises(InputError, match=r"line 12: field 'design' is defined twice"):
        load_fields(path)


@pytest.mark.parametrize(("name", "text", "canonical", "ok"), [
    ("patients", "12", "12", True), ("patients", " 12 ", "12", True),
    ("patients", "12.5", "12.5", False), ("patients", "-3", "-3", False),
    ("patients", "twelve", "twelve", False), ("patients", "NR", "", True),
    ("patients", "nr", "", True), ("percent", "38.70", "38.7", True),
    ("percent", "45%", "45", True), ("percent", "101", "101", False),
    ("percent", "4,5", "4,5", False), ("percent", "1e1", "10", True),
    ("percent", "nan", "nan", False), ("percent", "1_0", "1_0", False),
    ("design", "case SERIES", "Case series", True), ("design", "Trial", "Trial", False),
    ("start", "2014", "2014", True), ("start", "2014-02", "2014-02", True),
    ("start", "2014-02-30", "2014-02-30", False), ("start", "02/2014", "02/2014", False),
    ("follow_up", "0.5", "0.5", True), ("notes", "anything at all", "anything at all", True),
])
def test_values_are_checked_and_made_canonical(folder: Path, name: str, text: str,
                                               canonical: str, ok: bool) -> None:
    forms = load_fields(folder / "fields.csv")
    field = next(f for form in forms for f in form.fields if f.name == name)
    value, why = parse(field, text)
    assert value == canonical
    assert (why == "") is ok


# --- loading -----------------------------------------------------------------------------


def test_sheets_load_into_typed_tables_and_a_rerun_changes_nothing(review: Database,
                                                                    folder: Path) -> None:
    anna(folder)
    result = extract(review, folder)
    assert result.tables == {"arms": 2, "outcomes": 2, "studies": 2}
    assert result.studies == 2 and result.copies == {"anna": 6}
    row = next(review.query("SELECT * FROM studies WHERE record_id = 'pubmed:1'"))
    assert row == {"record_id": "pubmed:1", "design": "Cohort", "patients": 20,
                   "start": "2010-03", "notes": "first"}
    assert next(review.query("SELECT design FROM studies WHERE record_id = 'pubmed:2'")) == \
        {"design": "Case series"}
    assert [r["percent"] for r in review.query("SELECT percent FROM outcomes ORDER BY arm")] \
        == [90.0, 45.0]
    assert extract(review, folder).changed_cells == 0


def test_untouched_prefilled_rows_are_not_read(review: Database, folder: Path) -> None:
    sheet(folder, "anna", "outcomes", OUTCOMES + "pubmed:1,,Response,\npubmed:1,,Survival,\n")
    assert extract(review, folder).tables == {}


def test_no_field_definitions_and_no_sheets_is_an_empty_extraction(review: Database,
                                                                   tmp_path: Path) -> None:
    assert extract(review, tmp_path / "nothing").studies == 0
    sheet(tmp_path / "only", "anna", "studies", STUDIES + "pubmed:1,Cohort,3,,\n")
    with pytest.raises(InputError, match="no field definitions"):
        extract(review, tmp_path / "only")


BAD = [
    ("wrong type", "studies", STUDIES + "pubmed:1,Cohort,twelve,,\n",
     r"studies.csv, line 2, column 'patients': 'twelve' is not a whole number"),
    ("percent over 100", "outcomes", OUTCOMES + "pubmed:1,,Response,120\n",
     r"outcomes.csv, line 2, column 'percent': '120' is outside 0 to 100"),
    ("arm above study", "arms", ARMS + "pubmed:1,A,25,\n",
     r"arms.csv, line 2, column 'patients': '25' is more than studies.patients \(20\)"),
    ("unknown study", "studies", STUDIES + "pubmed:1,Cohort,20,,\npubmed:99,Cohort,3,,\n",
     r"studies.csv, line 3, column 'record_id': no record 'pubmed:99' in the review"),
    ("not included", "studies", STUDIES + "pubmed:1,Cohort,20,,\npubmed:3,Cohort,3,,\n",
     r"line 3, column 'record_id': 'pubmed:3' is not an included study"),
    ("duplicate key", "arms", ARMS + "pubmed:1,A,3,\npubmed:1,A,4,\n",
     r"arms.csv, line 3: the same row as line 2 \(record_id pubmed:1, arm=A\)"),
    ("unknown column", "studies", "record_id,design,colour\npubmed:1,Cohort,red\n",
     r"studies.csv, line 1, column 'colour': not a field of 'studies'"),
    ("missing key column", "arms", "record_id,patients\npubmed:1,3\n",
     r"arms.csv, line 1: missing the key column\(s\) arm"),
    ("required empty", "studies", STUDIES + "pubmed:1,,20,,\n",
     r"studies.csv, line 2, column 'design': required, but empty"),
    ("not an arm", "outcomes", OUTCOMES + "pubmed:1,C,Response,40\n",
     r"column 'arm': 'C' is not one of the study's arms.arm values \(A\)"),
    ("bad choice", "studies", STUDIES + "pubmed:1,Trial,20,,\n",
     r"column 'design': 'Trial' is not one of Cohort \| Case series"),
    ("bad date", "studies", STUDIES + "pubmed:1,Cohort,20,2010-13,\n",
     r"column 'start': '2010-13' is not a date"),
    ("extra cells", "studies", STUDIES + "pubmed:1,Cohort,20,,,surplus\n",
     r"studies.csv, line 2: more cells than columns"),
]


@pytest.mark.parametrize(("case", "table", "text", "message"), BAD, ids=[b[0] for b in BAD])
def test_each_bad_cell_is_named_and_nothing_loads(review: Database, folder: Path, case: str,
                                                  table: str, text: str, message: str) -> None:
    sheet(folder, "anna", "studies", STUDIES + "pubmed:1,Cohort,20,,\n")
    sheet(folder, "anna", "arms", ARMS + "pubmed:1,A,10,\n")
    extract(review, folder)
    before = state(review)
    audit = (folder / "audit.csv").read_text()
    sheet(folder, "anna", table, text)
    with pytest.raises(InputError, match=message) as caught:
        extract(review, folder)
    assert "nothing was loaded" in str(caught.value) and "To fix:" in str(caught.value)
    assert state(review) == before
    assert (folder / "audit.csv").read_text() == audit


def test_a_failure_while_storing_leaves_the_database_as_it_was(
        review: Database, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    anna(folder)
    extract(review, folder)
    before = state(review)
    sheet(folder, "anna", "studies", STUDIES + "pubmed:1,Cohort,19,,\n")

    def broken(forms: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("review_pipeline.stages.extract.stage.fields_rows", broken)
    with pytest.raises(OSError, match="disk full"):
        extract(review, folder)
    assert state(review) == before


def test_every_problem_is_reported_at_once(review: Database, folder: Path) -> None:
    sheet(folder, "anna", "studies", STUDIES + "pubmed:1,Trial,x,,\npubmed:2,Cohort,-1,,\n")
    with pytest.raises(InputError, match=r"^3 problem\(s\)") as caught:
        extract(review, folder)
    assert "line 2, column 'design'" in str(caught.value)
    assert "line 2, column 'patients'" in str(caught.value)
    assert "line 3, column 'patients': '-1' is outside 0 to ..." in str(caught.value)


def test_sheets_that_cannot_belong_are_refused(review: Database, folder: Path) -> None:
    sheet(folder, "anna", "studies", STUDIES + "pubmed:1,Cohort,20,,\n")
    sheet(folder, "anna", "tables", "record_id\n")
    (folder / "anna" / "studies.xlsx").write_bytes(b"")
    sheet(folder, "Big Bob", "studies", STUDIES)
    with pytest.raises(InputError) as caught:
        extract(review, folder)
    text = str(caught.value)
    assert "tables.csv: no table 'tables' in fields.csv" in text
    assert "anna has both a CSV and an XLSX of 'studies'" in text
    assert "'Big Bob' cannot name a reviewer" in text


def test_sheets_as_excel_leaves_them(review: Database, folder: Path) -> None:
    """A percentage cell shown as 12% (holding 0.12), and a CSV saved in a locale that
    separates cells with semicolons and writes decimals with a comma."""
    import openpyxl

    sheet(folder, "anna", "studies", STUDIES.replace(",", "\t")
          + "pubmed:1\tCohort\t20\t2010-03\tone, two\n")
    sheet(folder, "anna", "arms", ARMS.replace(",", ";") + "pubmed:1;A;12;24,5\n"
          "pubmed:1;B;8;\"3,25\"\n")
    book = openpyxl.Workbook()
    page = book.worksheets[0]
    page.append(OUTCOMES.strip().split(","))
    page.append(["pubmed:1", "A", "Response", 0.125])
    page.append(["pubmed:1", "", "Survival", 0.9])
    for row in (2, 3):
        page.cell(row, 4).number_format = "0.0%"
    book.save(folder / "anna" / "outcomes.xlsx")
    extract(review, folder)
    assert next(review.query("SELECT patients, notes FROM studies")) == {
        "patients": 20, "notes": "one, two"}
    assert [tuple(r) for r in review.execute("SELECT percent FROM outcomes ORDER BY 1")] == [
        (12.5,), (90.0,)]
    assert [r[0] for r in review.execute("SELECT follow_up FROM arms ORDER BY arm")] == [
        24.5, 3.25]


def test_a_missing_field_definitions_file_is_a_clear_error(review: Database,
                                                           tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"fields.csv: there are no field definitions") as err:
        write_sheets(review, "dora", tmp_path / "none", "csv")
    assert "review init" in str(err.value)
    assert not (tmp_path / "none").exists()


# --- audit -------------------------------------------------------------------------------


def test_each_changed_cell_is_audited_with_who_and_where(review: Database,
                                                         folder: Path) -> None:
    anna(folder)
    first = extract(review, folder).changed_cells
    assert first == 16  # the non-empty cells of the first load
    sheet(folder, "anna", "studies", STUDIES + "pubmed:1,Cohort,21,2010-03,first\n"
          "pubmed:2,case series,5,,\n")
    assert extract(review, folder).changed_cells == 1
    record_id, trail = history(review, "1")
    assert record_id == "pubmed:1"
    last = trail[-1]
    assert (last["actor"], last["entity"], last["field"], last["old"], last["new"],
            last["line"]) == ("anna", "studies", "patients", "20", "21", 2)
    assert last["file"].endswith("anna/studies.csv")
    rows = list(csv.DictReader(io.StringIO((folder / "audit.csv").read_text())))
    assert len(rows) == first + 1 and rows[-1]["new"] == "21" and rows[-1]["who"] == "anna"
    with pytest.raises(InputError, match="no extraction history for 'pubmed:3'"):
        history(review, "pubmed:3")


def test_the_audit_log_cannot_be_rewritten(review: Database, folder: Path) -> None:
    anna(folder)
    extract(review, folder)
    with pytest.raises(Exception, match="append-only"):
        review.execute("UPDATE audit_log SET new = 'x' WHERE action = 'extraction'")


def test_a_removed_row_is_audited_as_emptied(review: Database, folder: Path) -> None:
    anna(folder)
    extract(review, folder)
    sheet(folder, "anna", "outcomes", OUTCOMES + "pubmed:1,A,Response,45\n")
    assert extract(review, folder).changed_cells == 2  # outcome and percent of Survival
    _, trail = history(review, "pubmed:1")
    assert {(t["field"], t["old"], t["new"], t["file"]) for t in trail[-2:]} == {
        ("outcome", "Survival", "", ""), ("percent", "90", "", "")}


def test_a_rebuilt_database_continues_the_trail_from_audit_csv(
        review: Database, folder: Path, tmp_path: Path,
        open_database: Callable[[Path], Database]) -> None:
    anna(folder)
    extract(review, folder)
    rebuilt = open_database(tmp_path / "rebuilt.db")
    store.add_batch(rebuilt, [Record("1"), Record("2")], kind="search", source="pubmed",
                    branch="databases", file="s", sha256="s", fmt="snapshot")
    for rid in ("pubmed:1", "pubmed:2"):
        store.move_to(rebuilt, rid, State.INCLUDED, State.IDENTIFIED)
    lines = (folder / "audit.csv").read_text().count("\n")
    assert extract(rebuilt, folder).changed_cells == 0
    assert (folder / "audit.csv").read_text().count("\n") == lines
    assert len(history(rebuilt, "pubmed:1")[1]) == len(history(review, "pubmed:1")[1])


# --- dual extraction ---------------------------------------------------------------------


def ben(folder: Path) -> None:
    sheet(folder, "ben", "studies", STUDIES + "pubmed:1,Case series,20,2010-03,second\n"
          "pubmed:2,Case series,5,,\n")
    sheet(folder, "ben", "arms", ARMS + "pubmed:1,A,12,24.5\npubmed:1,B,8,\n")
    sheet(folder, "ben", "outcomes", OUTCOMES + "pubmed:1,A,Response,50\n"
          "pubmed:1,,Survival,90\n")


def test_compare_lists_every_disagreement_and_consensus_decides(review: Database,
                                                                folder: Path) -> None:
    anna(folder)
    ben(folder)
    result = extract(review, folder, reviewers=2)
    assert (result.disagreements, result.unresolved) == (2, 2)
    found = {(d.table, d.record_id, d.row, d.field): d.values
             for d in compare(review, 2).disagreements}
    assert found == {
        ("studies", "pubmed:1", "", "design"): {"anna": "Cohort", "ben": "Case series"},
        ("outcomes", "pubmed:1", "arm=A; outcome=Response", "percent"):
            {"anna": "45", "ben": "50"}}
    # undecided cells stay empty; agreed cells and side-by-side notes are final
    row = next(review.query("SELECT * FROM studies WHERE record_id = 'pubmed:1'"))
    assert (row["design"], row["patients"], row["notes"]) == (None, 20, "first | second")
    assert add_to_consensus(review, folder, 2) == 2
    assert add_to_consensus(review, folder, 2) == 0
    text = (folder / "consensus.csv").read_text()
    assert "anna: 45 | ben: 50" in text
    (folder / "consensus.csv").write_text(
        text.replace("design,,,", "design,Cohort,prospective,")
            .replace("percent,,,", "percent,45,page 3,"))
    result = extract(review, folder, reviewers=2)
    assert (result.disagreements, result.unresolved) == (2, 0)
    assert next(review.query("SELECT design FROM studies WHERE record_id = 'pubmed:1'")) == \
        {"design": "Cohort"}
    assert {d.decided for d in compare(review, 2).disagreements} == {"Cohort", "45"}
    _, trail = history(review, "pubmed:1")
    assert ("consensus", "design", "Cohort") in {(t["actor"], t["field"], t["new"])
                                                 for t in trail}


def test_a_study_waits_until_enough_reviewers_filled_it(review: Database,
                                                        folder: Path) -> None:
    anna(folder)
    result = extract(review, folder, reviewers=2)
    assert result.tables == {} and result.waiting == 4
    assert set(compare(review, 2).waiting) == {
        ("studies", "pubmed:1", ("anna",)), ("studies", "pubmed:2", ("anna",)),
        ("arms", "pubmed:1", ("anna",)), ("outcomes", "pubmed:1", ("anna",))}


def test_bad_consensus_rows_are_refused(review: Database, folder: Path) -> None:
    anna(folder)
    ben(folder)
    (folder / "consensus.csv").write_text(
        "table,record_id,row,field,value,note\n"
        "studies,pubmed:1,,patients,many,\n"
        "studies,pubmed:2,,colour,red,\n"
        "arms,pubmed:1,arm=Z,patients,3,\n"
        "arms,pubmed:1,arm=A,arm,B,\n")
    with pytest.raises(InputError) as caught:
        extract(review, folder, reviewers=2)
    text = str(caught.value)
    assert "consensus.csv, line 2, column 'value': 'many' is not a whole number" in text
    assert "line 3: no field 'colour' in table 'studies'" in text
    assert "line 4: no reviewer has the row arms, pubmed:1, arm=Z" in text
    assert "line 5: 'arm' is part of the row's key" in text


def test_a_decision_that_breaks_a_cross_check_is_refused(review: Database,
                                                         folder: Path) -> None:
    anna(folder)
    ben(folder)
    (folder / "consensus.csv").write_text("table,record_id,row,field,value,note\n"
                                          "studies,pubmed:1,,patients,10,\n")
    with pytest.raises(InputError, match=r"merged tables.*column 'patients': '12' is more "
                                         r"than studies.patients \(10\) \(arms, pubmed:1\)"):
        extract(review, folder, reviewers=2)


# --- sheets ------------------------------------------------------------------------------


def test_sheets_are_prefilled_and_keep_what_was_typed(review: Database, folder: Path) -> None:
    made = write_sheets(review, "carol", folder)
    assert [(r.path.name, r.added, r.kept) for r in made] == [
        ("studies.csv", 2, 0), ("arms.csv", 2, 0), ("outcomes.csv", 4, 0)]
    outcomes = read_sheet(folder / "carol" / "outcomes.csv")
    assert outcomes.header == ["record_id", "citation", "arm", "outcome", "percent"]
    assert [(r.values["record_id"], r.values["outcome"]) for r in outcomes.rows] == [
        ("pubmed:1", "Response"), ("pubmed:1", "Survival"),
        ("pubmed:2", "Response"), ("pubmed:2", "Survival")]
    assert "patients | integer (patients); from 0 to studies.patients" in \
        (folder / "carol" / "help.md").read_text()
    assert extract(review, folder).tables == {}  # nothing typed yet
    path = folder / "carol" / "studies.csv"
    path.write_text(path.read_text().replace("pubmed:1,Anonymous n.d.: (no title),,",
                                             "pubmed:1,Anonymous n.d.: (no title),Cohort,"))
    assert extract(review, folder).tables == {"studies": 1}
    store.move_to(review, "pubmed:3", State.INCLUDED, State.IDENTIFIED)
    again = write_sheets(review, "carol", folder)
    assert [(r.added, r.kept) for r in again] == [(1, 2), (1, 2), (2, 4)]
    assert "Cohort" in path.read_text()


def test_xlsx_sheets_read_back_with_help_and_choices(review: Database, folder: Path) -> None:
    import openpyxl

    write_sheets(review, "dora", folder, "xlsx")
    path = folder / "dora" / "studies.xlsx"
    book = openpyxl.load_workbook(path)
    page = book.worksheets[0]
    header = [c.value for c in page[1]]
    design = page.cell(1, header.index("design") + 1)
    assert design.comment is not None and "Cohort | Case series" in design.comment.text
    assert any("Cohort,Case series" in (v.formula1 or "")
               for v in page.data_validations.dataValidation)
    page.cell(2, header.index("design") + 1, "Cohort")
    page.cell(2, header.index("patients") + 1, 30)
    book.save(path)
    extract(review, folder)
    assert next(review.query("SELECT design, patients FROM studies")) == \
        {"design": "Cohort", "patients": 30}
    with pytest.raises(InputError, match="already extracts 'studies'"):
        write_sheets(review, "dora", folder, "csv")


# --- round trip --------------------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")),
                max_size=20).map(str.strip).filter(lambda s: s.upper() != "NR")
_study = st.fixed_dictionaries({
    "design": st.sampled_from(["Cohort", "Case series"]),
    "patients": st.one_of(st.just(""), st.integers(0, 10_000).map(str)),
    "start": st.one_of(st.just(""), st.dates().map(lambda d: d.isoformat()),
                       st.integers(1900, 2100).map(str)),
    "notes": _text,
})
_PERCENT = Field("outcomes", "percent", "percent")
_percent = st.one_of(st.just(""), st.floats(0, 100).map(lambda x: parse(_PERCENT, repr(x))[0]))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(studies=st.lists(_study, min_size=1, max_size=2),
       percents=st.lists(_percent, min_size=2, max_size=2))
def test_random_valid_edits_survive_load_and_export(review: Database, folder: Path,
                                                    studies: list[dict[str, str]],
                                                    percents: list[str]) -> None:
    rows = {"studies": [{"record_id": f"pubmed:{i + 1}", **s} for i, s in enumerate(studies)],
            "outcomes": [{"record_id": "pubmed:1", "arm": "", "outcome": o, "percent": p}
                         for o, p in zip(["Response", "Survival"], percents, strict=True)]}
    for table, written in rows.items():
        out = io.StringIO()
        writer = csv.DictWriter(out, list(written[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(written)
        sheet(folder, "anna", table, out.getvalue())
    extract(review, folder)
    exported = copy_from_db(review, "anna")
    final = copy_from_db(review, "final")
    for table, written in rows.items():
        kept = [r for r in written if any(v for k, v in r.items()
                                          if k not in ("record_id", "arm", "outcome"))]
        assert exported.get(table, []) == kept
        assert final.get(table, []) == kept


# --- the audit trail: one history in the file and the database ----------------------------


def _trail(db: Database) -> list[tuple[object, ...]]:
    return [(r["actor"], r["entity_id"], r["field"], r["new"]) for r in
            db.query("SELECT * FROM audit_log WHERE action = 'extraction' ORDER BY audit_id")]


def test_a_full_disk_while_writing_the_trail_changes_nothing(
        review: Database, folder: Path, monkeypatch: pytest.MonkeyPatch,
        open_database: Callable[[Path], Database], tmp_path: Path) -> None:
    anna(folder)
    extract(review, folder)
    trail_file = (folder / "audit.csv").read_bytes()
    before = state(review)
    sheet(folder, "anna", "studies", STUDIES + "pubmed:1,Cohort,21,2010-03,first\n"
          "pubmed:2,case series,5,,\n")

    def disk_full(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr("review_pipeline.stages.trail.write_atomic", disk_full)
    with pytest.raises(OSError, match="No space left"):
        extract(review, folder)
    assert state(review) == before
    assert (folder / "audit.csv").read_bytes() == trail_file
    monkeypatch.undo()
    assert extract(review, folder).changed_cells == 1
    in_file = [(r.values["who"], r.values["record_id"], r.values["field"], r.values["new"])
               for r in read_sheet(folder / "audit.csv").rows]
    assert _trail(review) == in_file  # every change once, in both
    rebuilt = open_database(tmp_path / "rebuilt.db")
    for table in ("batches", "records"):
        rebuilt.table(table).insert_all(review.query(f"SELECT * FROM {table}"))
    extract(rebuilt, folder)
    assert _trail(rebuilt) == in_file


def test_a_torn_last_line_of_the_trail_is_named_never_appended_to(review: Database,
                                                                  folder: Path) -> None:
    anna(folder)
    extract(review, folder)
    with (folder / "audit.csv").open("a", encoding="utf-8") as handle:
        handle.write("2026-12-03T10:00:00+00:00,anna,studies,pubmed:1,,patie")
    lines = (folder / "audit.csv").read_text(encoding="utf-8").count("\n") + 1
    before = state(review)
    with pytest.raises(InputError, match=rf"audit.csv, line {lines}: the last line is "
                                         "incomplete"):
        extract(review, folder)
    assert state(review) == before


def test_a_trail_the_database_is_ahead_of_is_written_to_the_file(review: Database,
                                                                 folder: Path) -> None:
    anna(folder)
    extract(review, folder)
    kept = (folder / "audit.csv").read_text(encoding="utf-8").splitlines()
    (folder / "audit.csv").write_text("\n".join(kept[:3]) + "\n", encoding="utf-8")
    assert extract(review, folder).changed_cells == 0
    assert (folder / "audit.csv").read_text(encoding="utf-8").splitlines() == kept


# --- studies and their reports -----------------------------------------------------------


def _link(folder: Path, text: str) -> None:
    (folder / "reports.csv").write_text("record_id,study,cohort,note\n" + text)


def test_a_report_of_a_study_is_linked_and_extracted_in_its_rows(review: Database,
                                                                  folder: Path) -> None:
    anna(folder)
    _link(folder, "pubmed:2,pubmed:1,,meeting abstract of study 1\n")
    sheet(folder, "anna", "studies", STUDIES + "pubmed:1,Cohort,20,2010-03,first\n")
    result = extract(review, folder)
    assert result.studies == 1
    assert study_store.links(review)["pubmed:2"]["study_id"] == "pubmed:1"
    assert study_store.study_of(review, ["pubmed:1", "pubmed:2"]) == {
        "pubmed:1": "pubmed:1", "pubmed:2": "pubmed:1"}
    written = write_sheets(review, "ben", folder)
    assert {r.values["record_id"] for r in read_sheet(written[0].path).rows} == {"pubmed:1"}


def test_data_given_for_a_report_of_another_study_is_refused(review: Database,
                                                             folder: Path) -> None:
    anna(folder)  # has a row for pubmed:2
    _link(folder, "pubmed:2,pubmed:1,,\n")
    before = state(review)
    with pytest.raises(InputError, match=r"'pubmed:2' is a report of the study 'pubmed:1' "
                                         r"\(reports.csv\); give its data in that study's rows"):
        extract(review, folder)
    assert state(review) == before


@pytest.mark.parametrize(("text", "message"), [
    ("pubmed:3,pubmed:1,,\n", r"line 2, column 'record_id': 'pubmed:3' is not included"),
    ("pubmed:2,pubmed:9,,\n", r"line 2, column 'study': 'pubmed:9' is not in the review"),
    ("pubmed:1,,Mayo Clinic,\n", r"line 2, column 'cohort': 'Mayo Clinic' cannot name"),
    ("pubmed:2,pubmed:1,mayo,\n", r"a cohort belongs to a study; give it on the row of "
                                  r"'pubmed:1'"),
    ("pubmed:1,,mayo,\npubmed:1,,,\n", r"line 3: 'pubmed:1' is listed twice"),
    ("pubmed:2,pubmed:1,,\npubmed:1,pubmed:2,,\n", r"which itself belongs to"),
])
def test_bad_links_are_named_by_line(review: Database, folder: Path, text: str,
                                     message: str) -> None:
    _link(folder, text)
    before = state(review)
    with pytest.raises(InputError, match=message) as error:
        extract(review, folder)
    assert "reports.csv" in str(error.value)
    assert state(review) == before


def test_links_load_without_any_extraction_form(review: Database, tmp_path: Path) -> None:
    folder = tmp_path / "bare"
    folder.mkdir()
    _link(folder, "pubmed:2,pubmed:1,,\n")
    extract(review, folder)
    assert list(study_store.links(review)) == ["pubmed:2"]
