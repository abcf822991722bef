"""dedup: exact keys, vetoes, reviewer decisions, marking without deleting, idempotence."""

from __future__ import annotations

import csv
import gc
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlite_utils import Database

from review_pipeline import store
from review_pipeline.formats.registry import read_file
from review_pipeline.formats.sheets import read_sheet
from review_pipeline.model.bulk import collector_paused
from review_pipeline.model.errors import InputError
from review_pipeline.model.record import Record
from review_pipeline.model.state import State
from review_pipeline.stages.dedup import (
    PairDecision,
    choose_kept,
    explain,
    find_clusters,
    load_entries,
    overlap,
    overlap_csv,
    split,
)
from review_pipeline.stages.dedup import run as dedup
from review_pipeline.stages.dedup.matching import MATCHER_VERSION, Entry, Policy
from tests.conftest import FIXTURES


def entry(rid: str, **fields: object) -> Entry:
    base: dict[str, object] = dict(record_id=rid, source=rid.split(":")[0], branch="databases",
                                   status="identified", kind="journal_article", pmid="", doi="",
                                   title="", year=None, journals=(), volume="", pages="",
                                   filled=0)
    base.update(fields)
    return Entry(**base)  # type: ignore[arg-type]


def groups(entries: list[Entry], decisions: tuple[PairDecision, ...] = ()) -> list[list[str]]:
    clusters = find_clusters(entries, decisions).clusters
    return sorted(sorted(m) for m in clusters.values() if len(m) > 1)


LONG = "Lenalidomide and dexamethasone for relapsed POEMS syndrome"


@pytest.mark.parametrize(("a", "b", "same"), [
    pytest.param({"pmid": "1"}, {"pmid": "1"}, True, id="same-pmid"),
    pytest.param({"doi": "10.1/x", "title": LONG}, {"doi": "10.1/x", "title": LONG}, True,
                 id="same-doi"),
    pytest.param({"doi": "10.1/x"}, {"doi": "10.1/x"}, False,
                 id="a-doi-without-titles-or-citations-is-for-the-reviewer"),
    pytest.param({"journals": ("blood",), "volume": "117", "pages": "6445-6451", "year": 2011,
                  "authors": "li j", "title": LONG},
                 {"journals": ("blood",), "volume": "117", "pages": "6445", "year": 2011,
                  "authors": "li j", "title": LONG + ": a case series"}, True,
                 id="same-citation"),
    pytest.param({"journals": ("blood",), "volume": "117", "pages": "6445-6451", "year": 2011,
                  "authors": "li j", "title": "#NAME?"},
                 {"journals": ("blood",), "volume": "117", "pages": "6445", "year": 2011,
                  "authors": "li j", "title": LONG}, False,
                 id="a-spreadsheet-error-for-a-title-is-for-the-reviewer"),
    pytest.param({"journals": ("blood",), "volume": "117", "pages": "6445-6451", "year": 2011},
                 {"journals": ("blood",), "volume": "117", "pages": "6445", "year": 2011},
                 False, id="a-bare-citation-is-for-the-reviewer"),
    pytest.param({"title": LONG, "year": 2015, "authors": "misawa s"},
                 {"title": LONG.upper() + ".", "year": 2015, "authors": "misawa s"},
                 True, id="same-title-authors-and-year"),
    pytest.param({"title": LONG, "year": 2015}, {"title": LONG, "year": 2015}, False,
                 id="title-and-year-alone-is-for-the-reviewer"),
    pytest.param({"title": LONG, "year": 2015}, {"title": LONG, "year": 2016}, False,
                 id="title-other-year"),
    pytest.param({"title": "[POEMS syndrome]", "year": 1997},
                 {"title": "POEMS syndrome.", "year": 1997}, False, id="short-generic-title"),
    pytest.param({"title": LONG, "year": 2015, "pmid": "1"},
                 {"title": LONG, "year": 2015, "pmid": "2"}, False, id="different-pmids"),
    pytest.param({"title": LONG, "year": 2015, "doi": "10.1/a"},
                 {"title": LONG, "year": 2015, "doi": "10.1/b"}, False, id="different-dois"),
    pytest.param({"title": LONG, "year": 2015, "kind": "conference_abstract"},
                 {"title": LONG, "year": 2015}, False, id="abstract-vs-article"),
])
def test_rules_and_vetoes(a: dict[str, object], b: dict[str, object], same: bool) -> None:
    found = groups([entry("x:1", **a), entry("y:1", **b)])
    assert found == ([["x:1", "y:1"]] if same else [])


def test_a_chain_cannot_join_two_conflicting_records() -> None:
    a = entry("a:1", pmid="1", title=LONG, year=2015, authors="misawa s")
    b = entry("b:1", pmid="2", title=LONG, year=2015, authors="misawa s")
    c = entry("c:1", title=LONG, year=2015, authors="misawa s")
    found = groups([a, b, c])
    assert len(found) == 1 and "c:1" in found[0] and len(found[0]) == 2


def test_reviewer_same_overrides_and_different_keeps_apart() -> None:
    a = entry("a:1", pmid="1")
    b = entry("b:1", pmid="2")
    c = entry("c:1", pmid="3", title=LONG, year=2015)
    d = entry("d:1", title=LONG, year=2015)
    found = groups([a, b, c, d], (PairDecision("a:1", "b:1", True, "f, line 2"),
                                  PairDecision("c:1", "d:1", False, "f, line 3")))
    assert found == [["a:1", "b:1"]]


def test_contradictory_reviewer_rows_are_an_error() -> None:
    a, b, c = entry("a:1"), entry("b:1"), entry("c:1")
    with pytest.raises(InputError, match="marked the same, but other rows"):
        find_clusters([a, b, c], (PairDecision("a:1", "b:1", True, "f, line 2"),
                                  PairDecision("b:1", "c:1", False, "f, line 3"),
                                  PairDecision("a:1", "c:1", True, "f, line 4")))


def test_the_kept_record_follows_state_branch_preference_and_completeness() -> None:
    pubmed = entry("pubmed:1", filled=3)
    embase = entry("embase:1", source="embase", filled=9)
    cited = entry("citations:1", source="citations", branch="other", filled=10)
    assert choose_kept([embase, pubmed, cited], ("pubmed",)).record_id == "pubmed:1"
    assert choose_kept([embase, cited], ("pubmed",)).record_id == "embase:1"
    screened = entry("embase:2", source="embase", status="screened")
    assert choose_kept([pubmed, screened], ("pubmed",)).record_id == "embase:2"


def load(db: Database, source: str, branch: str, records: list[Record]) -> None:
    store.add_batch(db, records, kind="import", source=source, branch=branch, file=source,
                    sha256=source, fmt="ris")


def test_a_sources_running_counter_in_the_issue_column_is_no_issue(db: Database) -> None:
    load(db, "scopus", "databases", [
        Record(str(n), title=f"Treatment of POEMS syndrome, case {n}", issue=str(3_001 + n))
        for n in range(25)])
    load(db, "embase", "databases", [Record("E1", title=LONG, issue="3")])
    issues = {e.record_id: e.issue_n for e in load_entries(db)}
    assert issues["scopus:0"] == issues["scopus:24"] == ""
    assert issues["embase:E1"] == "3"


def test_duplicates_are_marked_not_deleted_and_reruns_change_nothing(db: Database) -> None:
    load(db, "pubmed", "databases", [Record("1", title=LONG, year=2015, doi="10.1/a",
                                            authors=["Misawa S"]),
                                     Record("2", title="Other paper on POEMS treatment")])
    load(db, "embase", "databases", [Record("E1", title=LONG.lower(), year=2015,
                                            authors=["Misawa S"])])
    first = dedup(db)
    assert (first.records, first.clusters, first.duplicates) == (3, 2, 1)
    row = next(db.query("SELECT * FROM records WHERE record_id = 'embase:E1'"))
    assert (row["status"], row["duplicate_of"], row["cluster_id"], row["dedup_rule"]) == (
        "duplicate", "pubmed:1", "pubmed:1", "title_authors")
    assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 3
    audits = db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    again = dedup(db)
    assert again.changed == 0
    assert db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == audits


def test_a_split_by_the_reviewer_returns_the_record(db: Database, tmp_path: Path) -> None:
    load(db, "pubmed", "databases", [Record("1", title=LONG, year=2015, authors=["Misawa S"])])
    load(db, "embase", "databases", [Record("E1", title=LONG, year=2015, authors=["Misawa S"])])
    assert dedup(db).duplicates == 1
    decisions = tmp_path / "decisions.csv"
    decisions.write_text("record_id,other_record_id,decision,note\n"
                         "embase:E1,pubmed:1,different,a reply with the same title\n")
    dedup(db, decisions_file=decisions)
    row = next(db.query("SELECT * FROM records WHERE record_id = 'embase:E1'"))
    assert (row["status"], row["duplicate_of"]) == ("identified", None)


def test_a_screened_record_keeps_its_place_when_its_duplicate_is_found(
        db: Database, tmp_path: Path) -> None:
    load(db, "pubmed", "databases", [Record("1", title="A first title about POEMS care")])
    load(db, "embase", "databases", [Record("E1", title="Another title about POEMS care")])
    dedup(db)
    store.set_state(db, "embase:E1", State.SCREENED)
    decisions = tmp_path / "decisions.csv"
    decisions.write_text("record_id,other_record_id,decision,note\nembase:E1,pubmed:1,same,\n")
    dedup(db, decisions_file=decisions)
    states = dict(db.execute("SELECT record_id, status FROM records").fetchall())
    assert states == {"pubmed:1": "duplicate", "embase:E1": "screened"}


@pytest.mark.parametrize(("body", "message"), [
    ("record_id,other_record_id,decision,note\nx:1,pubmed:1,same,\n", "no record 'x:1'"),
    ("record_id,other_record_id,decision,note\npubmed:1,pubmed:1,same,\n", "with itself"),
    ("record_id,other_record_id,decision,note\npubmed:1,embase:E1,maybe,\n",
     "'maybe' is not 'same' or 'different'"),
    ("record_id,decision\npubmed:1,same\n", r"columns \['other_record_id', 'note'\]"),
])
def test_bad_decision_rows_change_nothing(db: Database, tmp_path: Path, body: str,
                                          message: str) -> None:
    load(db, "pubmed", "databases", [Record("1", title=LONG, year=2015)])
    load(db, "embase", "databases", [Record("E1", title="Something else entirely here")])
    dedup(db)
    before = list(db.execute("SELECT record_id, status, duplicate_of FROM records"))
    decisions = tmp_path / "decisions.csv"
    decisions.write_text(body)
    with pytest.raises(InputError, match=message) as caught:
        dedup(db, decisions_file=decisions)
    assert "decisions.csv, line" in str(caught.value)
    assert list(db.execute("SELECT record_id, status, duplicate_of FROM records")) == before


def test_progress_is_reported_to_the_end(db: Database) -> None:
    load(db, "pubmed", "databases", [Record(str(n), title=f"Title number {n} of many")
                                     for n in range(1200)])
    calls: list[tuple[int, int]] = []
    result = dedup(db, decisions_file=Path("none.csv"),
                   on_progress=lambda d, t, note="": calls.append((d, t)))
    assert calls == [(500, 1200), (1000, 1200), (1200, 1200)] and result.clusters == 1200


def test_an_uncertain_pair_waits_in_the_queue_until_a_reviewer_decides(
        db: Database, tmp_path: Path) -> None:
    queue = tmp_path / "queue.csv"
    load(db, "pubmed", "databases", [Record("1", title=LONG, year=2015)])
    load(db, "embase", "databases", [Record("E1", title=LONG, year=2015)])
    first = dedup(db, queue_file=queue)
    assert (first.duplicates, first.queued) == (0, 1)
    rows = list(csv.DictReader(queue.read_text().splitlines()))
    assert [(r["record_id"], r["other_record_id"], r["decision"]) for r in rows] == [
        ("embase:E1", "pubmed:1", "")]
    assert rows[0]["why"].startswith("similar title") and rows[0]["title_a"] == LONG
    queue.write_text(queue.read_text().replace(",pubmed:1,,", ",pubmed:1,same,", 1))
    for _ in range(2):  # the decision holds, and stays in the file, on every re-run
        again = dedup(db, queue_file=queue)
        assert (again.duplicates, again.queued) == (1, 0)
        assert [r["decision"] for r in csv.DictReader(queue.read_text().splitlines())] == [
            "same"]


def test_explain_names_the_rule_and_the_scores(db: Database) -> None:
    load(db, "pubmed", "databases", [Record("1", title=LONG, year=2015, authors=["Misawa S"])])
    load(db, "embase", "databases", [Record("E1", title=LONG, year=2015, authors=["Misawa S"])])
    dedup(db)
    found = explain(db, "embase:E1")
    assert (found.cluster_id, found.kept, found.members) == (
        "pubmed:1", "pubmed:1", ["embase:E1", "pubmed:1"])
    link = found.links[0]
    assert (link.other, link.verdict, link.rule, link.title) == (
        "pubmed:1", "same", "title_authors", 100)
    with pytest.raises(InputError, match="no record 'embase:E9'"):
        explain(db, "embase:E9")


def test_a_split_survives_every_rerun(db: Database, tmp_path: Path) -> None:
    decisions = tmp_path / "decisions.csv"
    load(db, "pubmed", "databases", [Record("1", title=LONG, year=2015, authors=["Misawa S"])])
    load(db, "embase", "databases", [Record("E1", title=LONG, year=2015, authors=["Misawa S"])])
    dedup(db, decisions_file=decisions)
    assert split(db, "embase:E1", decisions_file=decisions) == ["pubmed:1"]
    for _ in range(2):
        assert dedup(db, decisions_file=decisions).duplicates == 0
    assert "embase:E1,pubmed:1,different" in decisions.read_text()


def test_the_overlap_counts_publications_per_source(db: Database) -> None:
    load(db, "pubmed", "databases", [Record("1", title=LONG, year=2015, authors=["Misawa S"]),
                                     Record("2", title="Another paper on POEMS treatment")])
    load(db, "embase", "databases", [Record("E1", title=LONG, year=2015, authors=["Misawa S"]),
                                     Record("E2", title="An Embase-only POEMS paper title")])
    dedup(db)
    table = overlap(db)
    assert (table.unique, table.shared) == ({"embase": 1, "pubmed": 1},
                                            {("embase", "pubmed"): 1})
    assert overlap_csv(table).splitlines() == [
        "source,records,unique,shared with embase,shared with pubmed",
        "embase,2,1,,1", "pubmed,2,1,1,"]


def test_a_bad_value_in_the_queue_is_an_error_naming_file_and_line(
        db: Database, tmp_path: Path) -> None:
    queue = tmp_path / "queue.csv"
    load(db, "pubmed", "databases", [Record("1", title=LONG, year=2015)])
    load(db, "embase", "databases", [Record("E1", title=LONG, year=2015)])
    dedup(db, queue_file=queue)
    before = queue.read_text()
    queue.write_text(before.replace(",pubmed:1,,", ",pubmed:1,maybe,", 1))
    with pytest.raises(InputError, match=r"queue\.csv, line 2: decision 'maybe' is not"):
        dedup(db, queue_file=queue)
    assert "maybe" in queue.read_text()  # the reviewer's file is left as it was
    with pytest.raises(InputError, match="no deduplicated record 'embase:E9'"):
        split(db, "embase:E9", decisions_file=tmp_path / "decisions.csv")
    assert not (tmp_path / "decisions.csv").exists()


def asysd_records() -> list[Record]:
    return list(read_file(FIXTURES / "dedup" / "asysd_pairs.csv", "csv")[1].records)


def clusters_of(db: Database) -> list[list[str]]:
    return sorted(sorted(r[0].split(",")) for r in db.execute(
        "SELECT group_concat(record_id) FROM records GROUP BY cluster_id HAVING count(*) > 1"))


def test_a_rerun_compares_only_the_new_records_and_ends_as_a_full_run(
        db: Database, tmp_path: Path, open_database: Callable[[Path], Database]) -> None:
    records = asysd_records()
    # Real pairs within the first search, across both searches, and within the second.
    old, new = records[:11] + records[12:13], records[11:12] + records[13:]
    load(db, "first", "databases", old)
    assert dedup(db).compared == len(old)
    judged = db.execute("SELECT count(*) FROM dedup_pairs").fetchone()[0]
    store.add_batch(db, new, kind="import", source="first", branch="databases", file="second",
                    sha256="second", fmt="csv")
    again = dedup(db)
    assert (again.records, again.compared) == (len(records), len(new))
    assert db.execute("SELECT reused FROM dedup_runs ORDER BY run_id DESC").fetchone()[0] == (
        judged) > 0
    whole = open_database(tmp_path / "whole.db")
    load(whole, "first", "databases", records)
    assert dedup(whole).duplicates == again.duplicates > 0
    assert clusters_of(db) == clusters_of(whole)
    assert set(db.execute("SELECT * FROM dedup_pairs")) == set(
        whole.execute("SELECT * FROM dedup_pairs"))


def test_new_records_never_undo_a_reviewer_decision(db: Database, tmp_path: Path) -> None:
    decisions = tmp_path / "decisions.csv"
    load(db, "pubmed", "databases", [Record("1", title=LONG, year=2015, authors=["Misawa S"])])
    load(db, "embase", "databases", [Record("E1", title=LONG, year=2015, authors=["Misawa S"])])
    decisions.write_text("record_id,other_record_id,decision,note\n"
                         "embase:E1,pubmed:1,different,a reply under the same title\n")
    assert dedup(db, decisions_file=decisions).duplicates == 0
    load(db, "central", "databases", [Record("C1", title=LONG, year=2015,
                                             authors=["Misawa S"])])
    again = dedup(db, decisions_file=decisions)
    assert again.compared == 1
    # The new copy joins one of the two, never both: they stay apart.
    assert clusters_of(db) in ([["central:C1", "embase:E1"]], [["central:C1", "pubmed:1"]])


def test_a_change_of_rules_compares_every_pair_again(db: Database) -> None:
    load(db, "pubmed", "databases", [Record("1", title=LONG, year=2015, authors=["Misawa S"])])
    dedup(db)
    assert dedup(db, policy=Policy(preprints=False)).compared == 1
    assert [r[0] for r in db.execute("SELECT rules FROM dedup_runs ORDER BY run_id")] == [
        f"matcher {MATCHER_VERSION}; preprints same; errata different; abstracts different; "
        "review versions different",
        f"matcher {MATCHER_VERSION}; preprints different; errata different; abstracts "
        "different; review versions different"]


# A real Research Square preprint of the POEMS snapshot; no benchmark set holds a preprint
# with its published version, so that side is made up from it (journal, DOI, year, authors).
PREPRINT = Record("rs-8077686", doi="10.21203/rs.3.rs-8077686/v1", journal="Research Square",
                  title="Clinical and Electrophysiological Profile of Neuropathy in POEMS "
                        "Syndrome: Differentiation from Chronic Inflammatory Demyelinating "
                        "Polyneuropathy (CIDP)", publication_types=["Preprint"])
PUBLISHED = Record("90000001", doi="10.1000/example.2026.1", journal="J Neurol", year=2026,
                   volume="273", pages="101-9", authors=["Example A"],
                   title="Clinical and electrophysiological profile of neuropathy in POEMS "
                         "syndrome: differentiation from chronic inflammatory demyelinating "
                         "polyneuropathy")


@pytest.mark.parametrize(("preprints", "duplicates"), [(True, 1), (False, 0)])
def test_a_preprint_and_its_published_version_follow_the_policy(
        db: Database, preprints: bool, duplicates: int) -> None:
    load(db, "pubmed", "databases", [PREPRINT])
    load(db, "embase", "databases", [PUBLISHED])
    assert dedup(db, policy=Policy(preprints=preprints)).duplicates == duplicates
    link = explain(db, "pubmed:rs-8077686").links[0]
    assert (link.rule, link.verdict) == ("preprint", "same" if preprints else "different")
    if preprints:  # the published version is kept, though PubMed is preferred
        assert clusters_of(db) == [["embase:90000001", "pubmed:rs-8077686"]]
        kept = db.execute("SELECT kept_record_id FROM clusters WHERE size = 2").fetchone()
        assert kept[0] == "embase:90000001"


def test_a_split_keeps_the_reviewers_rows_even_without_a_final_line_break(
        db: Database, tmp_path: Path) -> None:
    decisions = tmp_path / "decisions.csv"
    load(db, "pubmed", "databases", [Record("1", title=LONG, year=2015, authors=["Misawa S"])])
    load(db, "embase", "databases", [Record("E1", title=LONG, year=2015, authors=["Misawa S"])])
    load(db, "wos", "databases", [Record("W1", title="Another paper entirely, on POEMS")])
    decisions.write_text("record_id,other_record_id,decision,note\n"
                         "wos:W1,pubmed:1,different,typed by hand", encoding="utf-8")
    dedup(db, decisions_file=decisions)
    split(db, "embase:E1", decisions_file=decisions)
    rows = [r.values for r in read_sheet(decisions).rows]
    assert [(r["record_id"], r["note"]) for r in rows] == [
        ("wos:W1", "typed by hand"), ("embase:E1", "split by a reviewer")]


@pytest.mark.parametrize("enabled", [True, False])
def test_the_cycle_collector_pauses_for_bulk_work_and_comes_back_as_it_was(
        enabled: bool) -> None:
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        with pytest.raises(KeyError), collector_paused():
            assert not gc.isenabled()
            raise KeyError("a failure inside leaves the collector as it was")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
