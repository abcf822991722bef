"""screen: rule verdicts, decision sheets checked all-or-nothing, states that follow them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlite_utils import Database

from review_pipeline import db as store
from review_pipeline.config import Protocol, Rule
from review_pipeline.dedup import dedup
from review_pipeline.errors import InputError
from review_pipeline.records import Record
from review_pipeline.screen import Decision as D
from review_pipeline.screen import (
    Verdict,
    consensus,
    evaluate,
    read_decisions,
    screen,
    target_state,
)


def rule(**fields: object) -> Rule:
    base: dict[str, object] = dict(id="r", description="d", verdict="exclude", automatic=False,
                                   reason="too_few_patients", publication_types=(),
                                   languages=(), before_year=None, after_year=None, terms=(),
                                   without_terms=())
    base.update(fields)
    return Rule(**base)  # type: ignore[arg-type]


REC = Record("1", title="Lenalidomide for POEMS syndrome: a case report", year=2015,
             language="eng", publication_types=["Case Reports"], keywords=["VEGF"])


@pytest.mark.parametrize(("conditions", "fires"), [
    ({"publication_types": ("case reports",)}, True),
    ({"publication_types": ("Review",)}, False),
    ({"languages": ("jpn",)}, False),
    ({"before_year": 2016}, True),
    ({"before_year": 2015}, False),
    ({"after_year": 2014}, True),
    ({"terms": ("lenalidomide",)}, True),
    ({"terms": ("lenalid",)}, False),  # word boundaries
    ({"terms": ("lenalid*",)}, True),  # unless a wildcard says otherwise
    ({"terms": ("case report",)}, True),
    ({"terms": ("LENALIDOMIDE FOR POEMS",)}, True),  # case folding, phrases
    ({"terms": ("vegf",)}, True),  # keywords are searched too
    ({"terms": ("lenalidomide",), "without_terms": ("case report*",)}, False),
    ({"publication_types": ("Case Reports",), "terms": ("thalidomide",)}, False),  # all hold
])
def test_rule_conditions(conditions: dict[str, object], fires: bool) -> None:
    verdict = evaluate((rule(**conditions),), REC)
    assert (verdict.verdict == "exclude") is fires
    assert verdict.rule_id == ("r" if fires else "")


def test_first_rule_that_fires_gives_the_verdict() -> None:
    rules = (rule(id="a", terms=("thalidomide",)), rule(id="b", verdict="include", reason="",
                                                        terms=("poems",)), rule(id="c"))
    assert evaluate(rules, REC) == Verdict("include", "b", False, "")
    assert evaluate((), REC) == Verdict("none")


def d(decision: str, reason: str = "") -> D:
    return D("pubmed:1", "ta", "x", decision, reason, "", "f.csv", 2)


def test_consensus_and_target_states() -> None:
    assert consensus([]) is None
    assert consensus([d("include"), d("include")]) == ("include", "")
    assert consensus([d("include"), d("exclude")]) == ("conflict", "")
    assert consensus([d("exclude", "a"), d("exclude", "b")]) == ("conflict", "")
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


def make_review(db: Database, protocol: Protocol) -> None:
    records = [
        Record("1", title="Thalidomide treatment of POEMS syndrome in 20 patients", year=2010,
               authors=["Kuwabara S"]),
        Record("2", title="A review of POEMS syndrome", publication_types=["Review"]),
        Record("3", title="POEMS syndrome: a case report", publication_types=["Case Reports"]),
        Record("4", title="Imaging bone lesions of POEMS syndrome in 30 patients", year=2012),
    ]
    store.add_batch(db, records, kind="search", source="pubmed", branch="databases",
                    file="s", sha256="s", fmt="snapshot")
    dedup(db, decisions_file=Path("none.csv"))


def states(db: Database) -> dict[str, str]:
    return dict(db.execute("SELECT record_id, status FROM records").fetchall())


def test_screen_applies_rules_and_sheets_and_reruns_change_nothing(
        db: Database, protocol: Protocol, tmp_path: Path) -> None:
    make_review(db, protocol)
    folder = tmp_path / "screening"
    sheet(folder, "ta-alice.csv", "pubmed:1,include,,\npubmed:3,exclude,,\npubmed:4,maybe,,\n")
    sheet(folder, "ft-alice.csv", "pubmed:1,include,,\npubmed:4,exclude,"
                                  "no_treatment_outcomes,imaging only\n")
    result = screen(db, protocol, folder)
    assert states(db) == {"pubmed:1": "included", "pubmed:2": "ineligible",
                          "pubmed:3": "excluded_ta", "pubmed:4": "excluded_ft"}
    assert result.verdicts == {"include": 1, "exclude": 2, "none": 1}
    verdict = next(db.query("SELECT * FROM verdicts WHERE record_id = 'pubmed:2'"))
    assert (verdict["rule_id"], verdict["automatic"]) == ("secondary-literature", 1)
    assert db.execute("SELECT status_reason FROM records WHERE record_id = 'pubmed:4'"
                      ).fetchone()[0] == "no_treatment_outcomes"
    audits = db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    assert screen(db, protocol, folder).changed == 0
    assert db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == audits


def test_a_revised_decision_moves_the_record_back_by_allowed_steps(
        db: Database, protocol: Protocol, tmp_path: Path) -> None:
    make_review(db, protocol)
    folder = tmp_path / "screening"
    sheet(folder, "ta-alice.csv", "pubmed:1,include,,\n")
    sheet(folder, "ft-alice.csv", "pubmed:1,include,,\n")
    screen(db, protocol, folder)
    sheet(folder, "ta-alice.csv", "pubmed:1,exclude,,\n")
    (folder / "ft-alice.csv").unlink()
    screen(db, protocol, folder)
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
        db: Database, protocol: Protocol, tmp_path: Path, ta: str, ft: str,
        message: str) -> None:
    make_review(db, protocol)
    folder = tmp_path / "screening"
    sheet(folder, "ta-alice.csv", "pubmed:1,include,,\n")
    screen(db, protocol, folder)
    before = (states(db), db.execute("SELECT count(*) FROM decisions").fetchone()[0])
    sheet(folder, "ta-alice.csv", ta)
    if ft:
        sheet(folder, "ft-alice.csv", ft)
    with pytest.raises(InputError, match=message):
        screen(db, protocol, folder)
    assert (states(db), db.execute("SELECT count(*) FROM decisions").fetchone()[0]) == before


def test_a_decision_on_a_duplicate_points_to_the_kept_record(
        db: Database, protocol: Protocol, tmp_path: Path) -> None:
    make_review(db, protocol)
    store.add_batch(db, [Record("E1", title="Thalidomide treatment of POEMS syndrome in 20 "
                                      "patients", year=2010, authors=["Kuwabara S"])],
                    kind="import", source="embase",
                    branch="databases", file="e", sha256="e", fmt="ris")
    dedup(db, decisions_file=Path("none.csv"))
    folder = tmp_path / "screening"
    sheet(folder, "ta-alice.csv", "embase:E1,include,,\n")
    with pytest.raises(InputError, match="'embase:E1' is a duplicate of 'pubmed:1'"):
        screen(db, protocol, folder)
