"""screen: rule verdicts, decision sheets checked all-or-nothing, states that follow them."""

from __future__ import annotations

import csv
import dataclasses
import errno
import io
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from sqlite_utils import Database

from review_pipeline import store
from review_pipeline.formats.sheets import read_sheet
from review_pipeline.model.errors import InputError
from review_pipeline.model.record import Record
from review_pipeline.protocol import Protocol, Screening
from review_pipeline.stages.dedup import run as dedup
from review_pipeline.stages.screen import Decision as D
from review_pipeline.stages.screen import (
    add_conflicts_to_resolutions,
    agreement,
    cohen_kappa,
    conflicts,
    consensus,
    read_decisions,
    stage_summary,
    target_state,
    write_worksheet,
)
from review_pipeline.stages.screen import run as screen
from review_pipeline.stages.screen.rules import Verdict


def d(decision: str, reason: str = "", stage: str = "ta") -> D:
    return D("pubmed:1", stage, "x", decision, reason, "", "f.csv", 2)


def test_consensus_and_target_states() -> None:
    assert consensus([]) is None
    assert consensus([d("include"), d("include")]) == ("include", "")
    assert consensus([d("include"), d("exclude")]) == ("conflict", "")
    # At title/abstract maybe goes on like include, and reasons are optional notes...
    assert consensus([d("include"), d("maybe")]) == ("include", "")
    assert consensus([d("maybe"), d("maybe")]) == ("maybe", "")
    assert consensus([d("exclude", "a"), d("exclude", "b")]) == ("exclude", "")
    # ...but at full text each report counts under one reason, and maybe is undecided.
    assert consensus([d("exclude", "a", "ft"), d("exclude", "b", "ft")]) == ("conflict", "")
    assert consensus([d("include", "", "ft"), d("maybe", "", "ft")]) == ("conflict", "")
    assert consensus([d("exclude", "a", "ft"), d("exclude", "a", "ft")]) == ("exclude", "a")
    # A second reviewer is still to come.
    assert consensus([d("include")], needed=2) == ("waiting", "1 of 2 decisions")
    auto = Verdict("exclude", "r", True, "x")
    none = Verdict("none")
    assert target_state("databases", auto, None, None)[0] == "ineligible"
    assert target_state("databases", auto, ("include", ""), None)[0] == "sought"
    assert target_state("databases", none, None, None)[0] == "screened"
    assert target_state("databases", none, ("conflict", ""), None) == ("screened", "conflict")
    assert target_state("databases", none, ("exclude", ""), None)[0] == "excluded_ta"
    assert target_state("databases", none, ("maybe", ""), ("not_retrieved", ""))[0] == (
        "not_retrieved")
    assert target_state("databases", none, ("include", ""), ("exclude", "too_few_patients")) == (
        "excluded_ft", "too_few_patients")
    assert target_state("other", none, None, ("include", ""))[0] == "included"


CODES = frozenset({"too_few_patients", "not_poems"})
HEADER = "record_id,decision,reason,note\n"


def sheet(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(HEADER + body)
    return path


@pytest.mark.parametrize(("name", "body", "message"), [
    ("ta-alice.csv", "pubmed:1,yes,,\n", r"ta-alice.csv, line 2: decision 'yes' is not one of"),
    ("ft-alice.csv", "pubmed:1,exclude,,\n",
     r"ft-alice.csv, line 2: a full-text exclusion needs one reason code"),
    ("ft-alice.csv", "pubmed:1,exclude,wrong,\n", "got 'wrong'"),
    ("ta-alice.csv", "pubmed:1,include,,\npubmed:1,exclude,,\n",
     r"line 3: record 'pubmed:1' is already decided on line 2"),
    ("ta-alice.csv", ",include,,\n", r"line 2: a decision without a record_id"),
    ("alice.csv", "pubmed:1,include,,\n", r"alice.csv: the name must be <stage>-<reviewer>.csv"),
])
def test_bad_sheets_are_errors_naming_file_line_and_value(tmp_path: Path, name: str, body: str,
                                                          message: str) -> None:
    sheet(tmp_path, name, body)
    with pytest.raises(InputError, match=message) as caught:
        read_decisions(tmp_path, CODES)
    assert "nothing was loaded" in str(caught.value)


def test_unknown_columns_and_empty_rows(tmp_path: Path) -> None:
    path = tmp_path / "ta-bob.csv"
    path.write_text("record_id,decision,reason,note,mood\npubmed:1,include,,,happy\n")
    with pytest.raises(InputError, match=r"columns \['mood'\] are unknown"):
        read_decisions(tmp_path, CODES)
    path.write_text(HEADER.strip() + ",title\npubmed:1,,,,A title\npubmed:2,Include,,,B\n")
    decisions = read_decisions(tmp_path, CODES)
    assert [(x.record_id, x.decision, x.line) for x in decisions] == [("pubmed:2", "include", 3)]


TITLE_1 = "Thalidomide treatment of POEMS syndrome: response in 20 patients"


def make_review(db: Database, protocol: Protocol) -> None:
    records = [
        Record("1", title=TITLE_1, year=2010, authors=["Kuwabara S"]),
        Record("2", title="A review of POEMS syndrome", publication_types=["Review"]),
        Record("3", title="POEMS syndrome: a case report", publication_types=["Case Reports"]),
        Record("4", title="Imaging bone lesions of POEMS syndrome in 30 patients", year=2012),
    ]
    store.add_batch(db, records, kind="search", source="pubmed", branch="databases",
                    file="s", sha256="s", fmt="snapshot")
    dedup(db, decisions_file=Path("none.csv"))


@pytest.fixture
def one(protocol: Protocol) -> Protocol:
    """The example protocol with one reviewer per record."""
    return dataclasses.replace(protocol, screening=Screening(reviewers=1))


def states(db: Database) -> dict[str, str]:
    return dict(db.execute("SELECT record_id, status FROM records").fetchall())


def test_screen_applies_rules_and_sheets_and_reruns_change_nothing(
        db: Database, one: Protocol, tmp_path: Path) -> None:
    make_review(db, one)
    folder = tmp_path / "screening"
    sheet(folder, "ta-alice.csv", "pubmed:1,include,,\npubmed:3,exclude,,\npubmed:4,maybe,,\n")
    sheet(folder, "ft-alice.csv", "pubmed:1,include,,\npubmed:4,exclude,"
                                  "no_treatment_outcomes,imaging only\n")
    result = screen(db, one, folder)
    assert states(db) == {"pubmed:1": "included", "pubmed:2": "ineligible",
                          "pubmed:3": "excluded_ta", "pubmed:4": "excluded_ft"}
    assert result.verdicts == {"include": 1, "exclude": 3}
    verdict = next(db.query("SELECT * FROM verdicts WHERE record_id = 'pubmed:2'"))
    assert (verdict["rule_id"], verdict["automatic"]) == ("secondary-literature", 1)
    assert db.execute("SELECT status_reason FROM records WHERE record_id = 'pubmed:4'"
                      ).fetchone()[0] == "no_treatment_outcomes"
    audits = db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    assert screen(db, one, folder).changed == 0
    assert db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == audits


def test_a_revised_decision_moves_the_record_back_by_allowed_steps(
        db: Database, one: Protocol, tmp_path: Path) -> None:
    make_review(db, one)
    folder = tmp_path / "screening"
    sheet(folder, "ta-alice.csv", "pubmed:1,include,,\n")
    sheet(folder, "ft-alice.csv", "pubmed:1,include,,\n")
    screen(db, one, folder)
    sheet(folder, "ta-alice.csv", "pubmed:1,exclude,,\n")
    (folder / "ft-alice.csv").unlink()
    screen(db, one, folder)
    assert states(db)["pubmed:1"] == "excluded_ta"
    moves = [tuple(r) for r in db.execute(
        "SELECT old, new FROM audit_log WHERE entity_id = 'pubmed:1' AND action = 'state' "
        "ORDER BY audit_id")]
    assert moves[-4:] == [("included", "assessed"), ("assessed", "sought"),
                          ("sought", "screened"), ("screened", "excluded_ta")]


def test_two_reviewers_who_disagree_leave_the_record_waiting(
        db: Database, protocol: Protocol, tmp_path: Path) -> None:
    make_review(db, protocol)
    folder = tmp_path / "screening"
    sheet(folder, "ta-alice.csv", "pubmed:1,include,,\n")
    sheet(folder, "ta-bob.csv", "pubmed:1,exclude,,\n")
    result = screen(db, protocol, folder)
    assert states(db)["pubmed:1"] == "screened"
    assert result.awaiting["title_abstract_conflicts"] == 1


@pytest.mark.parametrize(("ta", "ft", "message"), [
    ("pubmed:9,include,,\n", "", "no record 'pubmed:9' in the review"),
    ("pubmed:3,exclude,,\n", "pubmed:3,include,,\n",
     "has a full-text decision but stands at 'excluded_ta'"),
])
def test_sheets_that_do_not_fit_the_review_load_nothing(
        db: Database, one: Protocol, tmp_path: Path, ta: str, ft: str,
        message: str) -> None:
    make_review(db, one)
    folder = tmp_path / "screening"
    sheet(folder, "ta-alice.csv", "pubmed:1,include,,\n")
    screen(db, one, folder)
    before = (states(db), db.execute("SELECT count(*) FROM decisions").fetchone()[0])
    sheet(folder, "ta-alice.csv", ta)
    if ft:
        sheet(folder, "ft-alice.csv", ft)
    with pytest.raises(InputError, match=message):
        screen(db, one, folder)
    assert (states(db), db.execute("SELECT count(*) FROM decisions").fetchone()[0]) == before


def test_a_decision_on_a_duplicate_points_to_the_kept_record(
        db: Database, one: Protocol, tmp_path: Path) -> None:
    make_review(db, one)
    store.add_batch(db, [Record("E1", title=TITLE_1, year=2010, authors=["Kuwabara S"])],
                    kind="import", source="embase",
                    branch="databases", file="e", sha256="e", fmt="ris")
    dedup(db, decisions_file=Path("none.csv"))
    folder = tmp_path / "screening"
    sheet(folder, "ta-alice.csv", "embase:E1,include,,\n")
    with pytest.raises(InputError, match="'embase:E1' is a duplicate of 'pubmed:1'"):
        screen(db, one, folder)


def test_kappa_against_published_worked_examples() -> None:
    # Wikipedia, "Cohen's kappa": 50 grant proposals, readers A and B (yes/yes 20, A only 5,
    # B only 10, no/no 15): observed 0.7, by chance 0.5, kappa 0.4. The same article's pair
    # of tables with equal agreement (60%) but kappas 0.1304 and 0.2593.
    assert cohen_kappa(20, 5, 10, 15) == pytest.approx((0.7, 0.5, 0.4))
    assert cohen_kappa(45, 15, 25, 15)[2] == pytest.approx(0.1304, abs=1e-4)
    assert cohen_kappa(25, 35, 5, 35)[2] == pytest.approx(0.2593, abs=1e-4)
    assert cohen_kappa(3, 0, 0, 0)[2] is None  # everything in one class: undefined


def test_two_reviewers_conflicts_resolutions_and_kappa(
        db: Database, protocol: Protocol, tmp_path: Path) -> None:
    make_review(db, protocol)
    folder = tmp_path / "screening"
    sheet(folder, "ta-alice.csv", "pubmed:1,include,,\npubmed:3,exclude,,\npubmed:4,maybe,,\n")
    sheet(folder, "ta-bob.csv", "pubmed:1,include,,\npubmed:3,include,,\n")
    screen(db, protocol, folder)
    # pubmed:3 is a conflict; pubmed:4 waits for bob.
    assert states(db)["pubmed:3"] == states(db)["pubmed:4"] == "screened"
    found = conflicts(db)
    assert [(c.record_id, c.decisions, c.resolution) for c in found] == [
        ("pubmed:3", (("alice", "exclude", ""), ("bob", "include", "")), "")]
    (pair,) = agreement(db)
    assert (pair.reviewers, pair.records, pair.both_include, pair.first_only) == (
        ("alice", "bob"), 2, 1, 0)
    assert (pair.second_only, pair.kappa) == (1, 0.0)
    (folder / "resolutions.csv").write_text("record_id,stage,decision,reason,note\n"
                                            "pubmed:3,ta,exclude,,one patient\n")
    screen(db, protocol, folder)
    assert states(db)["pubmed:3"] == "excluded_ta"
    assert conflicts(db)[0].resolution == "exclude"
    assert agreement(db) == [pair]  # a resolution does not change kappa
    summary = stage_summary(db)["title/abstract"]
    assert {k: summary[k] for k in ("screened", "included", "excluded", "maybe", "waiting",
                                    "conflicts", "unresolved", "kappa")} == {
        "screened": 3, "included": 1, "excluded": 1, "maybe": 0, "waiting": 1,
        "conflicts": 1, "unresolved": 0, "kappa": 0.0}


@pytest.mark.parametrize(("body", "message"), [
    ("pubmed:1,ta,include,,\n", "record 'pubmed:1' has no title/abstract conflict to resolve"),
    ("pubmed:3,tx,include,,\n", "line 2: stage 'tx' is not ta or ft"),
    ("pubmed:3,ta,include,,\npubmed:3,ta,exclude,,\n", "line 3: record 'pubmed:3' is already"),
    ("pubmed:9,ta,include,,\n", "no record 'pubmed:9'"),
])
def test_bad_resolutions_load_nothing(db: Database, protocol: Protocol, tmp_path: Path,
                                      body: str, message: str) -> None:
    make_review(db, protocol)
    folder = tmp_path / "screening"
    sheet(folder, "ta-alice.csv", "pubmed:1,include,,\npubmed:3,exclude,,\n")
    sheet(folder, "ta-bob.csv", "pubmed:1,include,,\npubmed:3,include,,\n")
    screen(db, protocol, folder)
    before = states(db)
    (folder / "resolutions.csv").write_text("record_id,stage,decision,reason,note\n" + body)
    with pytest.raises(InputError, match=message):
        screen(db, protocol, folder)
    assert states(db) == before


def test_worksheets_keep_what_was_typed_and_add_only_new_records(
        db: Database, protocol: Protocol, tmp_path: Path) -> None:
    make_review(db, protocol)
    folder = tmp_path / "screening"
    screen(db, protocol, folder)
    made = write_worksheet(db, protocol, "ta", "alice", folder)
    # The review article went out automatically; the other three await alice.
    assert (made.added, made.kept) == (3, 0)
    rows = (folder / "ta-alice.csv").read_text().splitlines()
    assert rows[0].startswith("record_id,decision,reason,note,title")
    assert "rule" in rows[0] and "design" in rows[0] and "patients" in rows[0]
    assert any(r.startswith("pubmed:3,,,,POEMS syndrome: a case report") and
               ",exclude,case-report,case_report," in r for r in rows)
    text = (folder / "ta-alice.csv").read_text().replace("pubmed:1,,,", "pubmed:1,include,,")
    (folder / "ta-alice.csv").write_text(text)
    screen(db, protocol, folder)
    before = states(db)
    # Living update: a new search brings one record; only it is added to the sheet.
    store.add_batch(db, [Record("5", title="Bortezomib for POEMS syndrome: response in 8 "
                                "patients")], kind="search", source="pubmed",
                    branch="databases", file="s2", sha256="s2", fmt="snapshot")
    dedup(db, decisions_file=Path("none.csv"))
    screen(db, protocol, folder)
    assert states(db) == {**before, "pubmed:5": "screened"}
    again = write_worksheet(db, protocol, "ta", "alice", folder)
    assert (again.added, again.kept) == (1, 3)
    # Nothing typed is lost: every row is there as it was, the decided one first; the
    # undecided ones are in ranked order, their rank renumbered.
    def unranked(sheet: str) -> list[dict[str, str]]:
        return [{k: v for k, v in row.items() if k != "rank"}
                for row in csv.DictReader(io.StringIO(sheet))]

    now = unranked((folder / "ta-alice.csv").read_text())
    assert now[0]["record_id"] == "pubmed:1"
    assert all(row in now for row in unranked(text))
    decided = read_decisions(folder, protocol.reason_codes)
    assert [(x.record_id, x.decision) for x in decided] == [("pubmed:1", "include")]


def test_every_problem_of_every_sheet_comes_in_one_run(db: Database, one: Protocol,
                                                       tmp_path: Path) -> None:
    make_review(db, one)
    folder = tmp_path / "screening"
    sheet(folder, "ta-alice.csv", "pubmed:1,yes,,\npubmed:99,include,,\npubmed:3,include,,\n")
    # saved by Excel in a locale that separates cells with semicolons
    (folder / "ft-bob.csv").write_text("record_id;decision;reason;note\n"
                                       "pubmed:4;include;;\"30 patients; imaging\"\n")
    (folder / "resolutions.csv").write_text("record_id,stage,decision,reason,note\n"
                                            "pubmed:3,ta,exclude,,\n")
    before = states(db)
    with pytest.raises(InputError, match=r"^4 problem\(s\) in the screening sheets") as caught:
        screen(db, one, folder)
    text = str(caught.value)
    assert "ta-alice.csv, line 2: decision 'yes' is not one of" in text
    assert "ta-alice.csv, line 3: no record 'pubmed:99' in the review" in text
    assert "resolutions.csv, line 2: record 'pubmed:3' has no title/abstract conflict" in text
    assert "ft-bob.csv, line 2: record 'pubmed:4' has a full-text decision but stands at" in text
    assert states(db) == before


def test_xlsx_worksheets_are_read_back(db: Database, protocol: Protocol, tmp_path: Path) -> None:
    make_review(db, protocol)
    folder = tmp_path / "screening"
    screen(db, protocol, folder)
    path = write_worksheet(db, protocol, "ta", "bob", folder, fmt="xlsx").path
    book = openpyxl.load_workbook(path)
    sheet_ = book.worksheets[0]
    assert sheet_.data_validations.dataValidation  # the decision column offers a list
    for row in sheet_.iter_rows(min_row=2):
        if row[0].value == "pubmed:3":
            row[1].value = "exclude"
            row[3].value = "single case"
    book.save(path)
    decided = read_decisions(folder, protocol.reason_codes)
    assert [(x.record_id, x.decision, x.note, x.line) for x in decided] == [
        ("pubmed:3", "exclude", "single case", 3)]
    sheet(folder, "ta-bob.csv", "pubmed:1,include,,\n")
    with pytest.raises(InputError, match=r"bob already has .*ta-bob.csv for this stage"):
        read_decisions(folder, protocol.reason_codes)
    with pytest.raises(InputError, match="bob already screens in"):
        write_worksheet(db, protocol, "ta", "bob", folder, fmt="xlsx")


def test_a_damaged_xlsx_sheet_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "ta-carol.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(InputError, match=r"ta-carol.xlsx: not a readable XLSX workbook"):
        read_decisions(tmp_path, CODES)


def test_open_conflicts_are_added_to_the_resolutions_once(
        db: Database, protocol: Protocol, tmp_path: Path) -> None:
    make_review(db, protocol)
    folder = tmp_path / "screening"
    sheet(folder, "ta-alice.csv", "pubmed:1,include,,\npubmed:3,exclude,,\n")
    sheet(folder, "ta-bob.csv", "pubmed:1,exclude,,\npubmed:3,include,,\n")
    screen(db, protocol, folder)
    path = folder / "resolutions.csv"
    # A row already typed, in columns of the reviewer's own order, is kept as it is.
    path.write_text("stage,record_id,decision,reason,note\nta,pubmed:1,include,,agreed\n")
    assert add_conflicts_to_resolutions(db, folder) == 1
    assert add_conflicts_to_resolutions(db, folder) == 0
    lines = path.read_text().splitlines()
    assert lines[:2] == ["stage,record_id,decision,reason,note", "ta,pubmed:1,include,,agreed"]
    assert lines[2] == "ta,pubmed:3,,,alice: exclude; bob: include"
    path.write_text(path.read_text().replace("ta,pubmed:3,,", "ta,pubmed:3,exclude,"))
    screen(db, protocol, folder)
    assert (states(db)["pubmed:1"], states(db)["pubmed:3"]) == ("sought", "excluded_ta")


def _decision_trail(db: Database) -> list[tuple[str, str, str, str, str]]:
    return [(r["actor"], r["entity_id"], r["field"], r["old"], r["new"]) for r in db.query(
        "SELECT * FROM audit_log WHERE action = 'screening' ORDER BY audit_id")]


def test_every_change_of_a_decision_is_in_the_trail_and_survives_a_rebuild(
        db: Database, one: Protocol, tmp_path: Path,
        open_database: Callable[[Path], Database]) -> None:
    make_review(db, one)
    folder = tmp_path / "screening"
    sheet(folder, "ta-alice.csv", "pubmed:1,include,,\npubmed:3,exclude,,\n")
    screen(db, one, folder)
    sheet(folder, "ta-alice.csv", "pubmed:1,exclude,,changed my mind\n")
    screen(db, one, folder)
    sheet(folder, "ta-alice.csv", "pubmed:1,include,,\n")
    screen(db, one, folder)
    trail = _decision_trail(db)
    assert [t for t in trail if t[1] == "pubmed:1" and t[2] == "decision"] == [
        ("alice", "pubmed:1", "decision", "", "include"),
        ("alice", "pubmed:1", "decision", "include", "exclude"),
        ("alice", "pubmed:1", "decision", "exclude", "include")]
    assert ("alice", "pubmed:3", "decision", "exclude", "") in trail  # a row deleted
    assert screen(db, one, folder).changed == 0 and _decision_trail(db) == trail
    rebuilt = open_database(tmp_path / "rebuilt.db")
    make_review(rebuilt, one)
    screen(rebuilt, one, folder)
    assert _decision_trail(rebuilt) == trail  # the include-then-revert is still there
    assert len(read_sheet(folder / "audit.csv").rows) == len(trail)


def test_a_full_disk_while_writing_the_screening_trail_changes_nothing(
        db: Database, one: Protocol, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_review(db, one)
    folder = tmp_path / "screening"
    sheet(folder, "ta-alice.csv", "pubmed:1,include,,\n")
    screen(db, one, folder)
    before = (states(db), _decision_trail(db), (folder / "audit.csv").read_bytes())
    sheet(folder, "ta-alice.csv", "pubmed:1,exclude,,\n")

    def disk_full(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr("review_pipeline.stages.trail.write_atomic", disk_full)
    with pytest.raises(OSError, match="No space left"):
        screen(db, one, folder)
    assert (states(db), _decision_trail(db), (folder / "audit.csv").read_bytes()) == before
    monkeypatch.undo()
    screen(db, one, folder)
    assert states(db)["pubmed:1"] == "excluded_ta"
    assert len(read_sheet(folder / "audit.csv").rows) == len(_decision_trail(db)) == 2
