"""prisma: counts derived from states on a review with every box non-zero; checks that fail;
the diagram, the updated-review layout and the previous version's file."""

from __future__ import annotations

import csv
import json
import re
import struct
from dataclasses import replace
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from sqlite_utils import Database

from review_pipeline import store
from review_pipeline.model.errors import CheckError, InputError
from review_pipeline.model.record import Record
from review_pipeline.model.state import State
from review_pipeline.protocol import Protocol, load_protocol
from review_pipeline.stages.prisma import (
    FILES,
    Branch,
    PrismaCounts,
    as_template,
    check,
    checked_counts,
    counts,
    diagram,
    flow,
    load_previous,
)
from review_pipeline.stages.prisma import run as prisma
from tests.conftest import FIXTURES

S = State
EXTRA = """
[[sources]]
name = "ctgov"
label = "ClinicalTrials.gov"
kind = "register"

[[sources]]
name = "web"
label = "Websites"
kind = "website"

[[sources]]
name = "org"
label = "Organisations"
kind = "organisation"

[[eligibility.rules]]
id = "withdrawn"
description = "Withdrawn reports are removed before screening."
verdict = "exclude"
automatic = true
prisma = "excluded_other"
reason = "not_primary_study"
publication_types = ["Withdrawn Publication"]

[[eligibility.rules]]
id = "classifier"
description = "Stands for a classifier that excludes records at screening."
verdict = "exclude"
automatic = true
prisma = "records_excluded"
reason = "not_primary_study"
designs = ["review"]
"""
# (source, branch, final state, reason) for a hand-built review with every box non-zero.
PLAN = [
    *[("pubmed", "databases", S.INELIGIBLE, "rule secondary-literature")] * 3,
    *[("pubmed", "databases", S.INELIGIBLE, "rule withdrawn")] * 1,
    *[("pubmed", "databases", S.INELIGIBLE, "rule classifier")] * 2,
    *[("pubmed", "databases", S.EXCLUDED_TA, "")] * 5,
    *[("pubmed", "databases", S.NOT_RETRIEVED, "")] * 1,
    *[("pubmed", "databases", S.EXCLUDED_FT, "too_few_patients")] * 2,
    *[("pubmed", "databases", S.EXCLUDED_FT, "not_poems")] * 1,
    *[("pubmed", "databases", S.INCLUDED, "")] * 3,
    *[("embase", "databases", S.DUPLICATE, "")] * 4,
    *[("embase", "databases", S.INCLUDED, "")] * 1,
    *[("ctgov", "databases", S.DUPLICATE, "")] * 1,
    *[("ctgov", "databases", S.EXCLUDED_TA, "")] * 1,
    *[("citations", "other", S.DUPLICATE, "")] * 2,
    *[("citations", "other", S.NOT_RETRIEVED, "")] * 1,
    *[("citations", "other", S.EXCLUDED_FT, "not_primary_study")] * 1,
    *[("citations", "other", S.INCLUDED, "")] * 2,
    *[("web", "other", S.INCLUDED, "")] * 1,
    *[("org", "other", S.EXCLUDED_FT, "not_poems")] * 1,
]
# Records still on their way, for the provisional flow.
PENDING = [
    ("pubmed", "databases", S.SCREENED, ""),
    ("pubmed", "databases", S.SOUGHT, ""),
    ("pubmed", "databases", S.ASSESSED, "maybe"),
    ("citations", "other", S.IDENTIFIED, ""),
]


@pytest.fixture
def protocol(project: Path) -> Protocol:
    path = project / "queries" / "protocol.toml"
    path.write_text(path.read_text() + EXTRA)
    return load_protocol(path)


def add(db: Database, plan: list[tuple[str, str, State, str]], start: int = 0) -> None:
    by_source: dict[tuple[str, str], list[tuple[int, State, str]]] = {}
    for n, (source, branch, state, reason) in enumerate(plan, start):
        by_source.setdefault((source, branch), []).append((n, state, reason))
    for (source, branch), items in by_source.items():
        store.add_batch(db, [Record(str(n), pmid=str(1000 + n)) for n, _, _ in items],
                        kind="import", source=source, branch=branch, file=f"{source}{start}",
                        sha256=f"{source}{start}", fmt="ris")
        for n, state, reason in items:
            if state != State.IDENTIFIED:
                store.move_to(db, f"{source}:{n}", state, State.IDENTIFIED, reason=reason)


@pytest.fixture
def review(db: Database) -> Database:
    add(db, PLAN)
    return db


@pytest.fixture
def pending(review: Database) -> Database:
    add(review, PENDING, start=len(PLAN))
    return review


def test_every_box_is_derived_from_the_states(review: Database, protocol: Protocol) -> None:
    t = as_template(checked_counts(review, protocol))
    assert t["database_specific_results"] == [{"label": "Embase", "n": 5},
                                              {"label": "PubMed", "n": 18}]
    assert t["register_specific_results"] == [{"label": "ClinicalTrials.gov", "n": 2}]
    assert (t["database_results"], t["register_results"]) == (23, 2)
    assert (t["citations_results"], t["website_results"], t["organisation_results"]) == (6, 1, 1)
    assert (t["duplicates"], t["excluded_automatic"], t["excluded_other"]) == (5, 3, 1)
    assert (t["records_screened"], t["records_excluded"]) == (16, 8)
    assert (t["records_excluded_human"], t["records_excluded_automation"]) == (6, 2)
    assert (t["dbr_sought_reports"], t["dbr_notretrieved_reports"], t["dbr_assessed"]) == (
        8, 1, 7)
    assert t["dbr_excluded"] == [
        {"code": "not_poems", "label": "Population not POEMS syndrome as defined", "n": 1},
        {"code": "too_few_patients", "label": "Fewer than 5 treated patients", "n": 2}]
    assert (t["other_sought_reports"], t["other_notretrieved_reports"], t["other_assessed"]) == (
        6, 1, 5)
    assert t["other_excluded"] == [
        {"code": "not_poems", "label": "Population not POEMS syndrome as defined", "n": 1},
        {"code": "not_primary_study", "label": "Review or commentary without own patients",
         "n": 1}]
    assert (t["new_studies"], t["new_reports"], t["other_already_identified"]) == (7, 7, 2)
    assert (t["total_studies"], t["total_reports"]) == (7, 7)
    assert "previous_studies" not in t
    assert t["provisional"] is False and not any(t["awaiting"].values())


def test_records_on_their_way_make_the_flow_provisional(pending: Database,
                                                        protocol: Protocol) -> None:
    c = checked_counts(pending, protocol)
    t = as_template(c)
    assert t["provisional"] is True
    assert t["awaiting"] == {"not_yet_screened": 1, "title_abstract": 1, "dbr_retrieval": 1,
                             "dbr_assessment": 1, "other_retrieval": 0, "other_assessment": 0}
    assert (t["records_screened"], t["dbr_sought_reports"], t["citations_results"]) == (
        19, 10, 7)
    f = flow(c)
    assert f.warning == ("Provisional: 1 not yet placed by the screen stage; 1 awaiting a "
                         "title/abstract decision; 1 awaiting retrieval; 1 awaiting a "
                         "full-text decision.")
    assert "Awaiting a decision (n = 1)" in f.box("screened").lines
    assert "Awaiting retrieval (n = 1)" in f.box("sought").lines
    assert "Not yet placed by the screen stage (n = 1)" in f.box("other_identified").lines


def test_outputs_are_written(review: Database, protocol: Protocol, tmp_path: Path) -> None:
    result = prisma(review, protocol, tmp_path / "reports")
    assert sorted(p.name for p in result.files) == sorted(FILES)
    data = json.loads((tmp_path / "reports" / "prisma.json").read_text())
    assert data == as_template(result.counts)
    md = (tmp_path / "reports" / "prisma.md").read_text()
    assert "- Records screened (n = 16)" in md
    assert "  - Fewer than 5 treated patients (n = 2)" in md
    assert "  - Citation searching (n = 6)" in md
    assert "  - Of these, already identified via databases and registers (n = 2)" in md
    assert "    - ClinicalTrials.gov (n = 2)" in md
    assert "\\*\\* Records excluded by a person (n = 6); by automation tools (n = 2)." in md
    png = (tmp_path / "reports" / "prisma.png").read_bytes()
    width, height = struct.unpack(">II", png[16:24])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and width > 1500 and height > 1000


def test_the_csv_is_the_prisma2020_template_filled(review: Database, protocol: Protocol,
                                                   tmp_path: Path) -> None:
    prisma(review, protocol, tmp_path)
    with (FIXTURES / "prisma" / "PRISMA.csv").open(newline="") as handle:
        template = list(csv.reader(handle))
    with (tmp_path / "prisma.csv").open(newline="") as handle:
        filled = list(csv.reader(handle))
    assert filled[0] == template[0]
    assert [r[0] for r in filled] == [r[0] for r in template]
    # every column but n is the template's own, so the R package and Shiny app read it
    assert [r[:-1] for r in filled] == [r[:-1] for r in template]
    n = {r[0]: r[-1] for r in filled[1:] if r[0] != "NA"}
    assert n["database_specific_results"] == "Embase, 5; PubMed, 18"
    assert n["register_specific_results"] == "ClinicalTrials.gov, 2"
    assert n["dbr_excluded"] == ("Population not POEMS syndrome as defined, 1; "
                                 "Fewer than 5 treated patients, 2")
    assert n["other_excluded"] == ("Population not POEMS syndrome as defined, 1; "
                                   "Review or commentary without own patients, 1")
    assert (n["records_screened"], n["citations_results"], n["total_studies"]) == (
        "16", "6", "7")
    # a new review: the template's 0, which the package draws only with previous = TRUE
    assert (n["previous_studies"], n["previous_reports"]) == ("0", "0")
    t = as_template(counts(review, protocol))
    for key, value in t.items():
        if isinstance(value, int) and not isinstance(value, bool) and key in n:
            assert n[key] == str(value), key


def svg_groups(svg: str) -> list[ElementTree.Element]:
    root = ElementTree.fromstring(svg)  # noqa: S314 (our own output)
    return list(root.iter("{http://www.w3.org/2000/svg}g"))


def svg_boxes(svg: str) -> dict[str, str]:
    """The text of each box of the diagram, by box key (groups ``box-<key>-<line>``)."""
    lines: dict[str, list[str]] = {}
    for group in svg_groups(svg):
        match = re.fullmatch(r"box-(\w+)-(\d+)", group.get("id", ""))
        if match:
            text = "".join(group.itertext()).strip()
            lines.setdefault(match.group(1), []).append(text)
    return {key: " ".join(parts) for key, parts in lines.items()}


def expected_boxes(t: dict[str, Any]) -> dict[str, list[str]]:
    """Where each count of ``prisma.json`` must appear in the diagram."""
    def n(value: int) -> str:
        return f"(n = {value:,})"

    return {
        "identified": [f"Databases {n(t['database_results'])}",
                       f"Registers {n(t['register_results'])}",
                       *[f"{d['label']} {n(d['n'])}" for d in
                         t["database_specific_results"] + t["register_specific_results"]]],
        "removed": [f"Duplicate records removed {n(t['duplicates'])}",
                    f"automation tools {n(t['excluded_automatic'])}",
                    f"other reasons {n(t['excluded_other'])}"],
        "screened": [f"Records screened {n(t['records_screened'])}"],
        "excluded": [f"Records excluded** {n(t['records_excluded'])}"],
        "sought": [f"retrieval {n(t['dbr_sought_reports'])}"],
        "not_retrieved": [f"not retrieved {n(t['dbr_notretrieved_reports'])}"],
        "assessed": [f"eligibility {n(t['dbr_assessed'])}"],
        "reports_excluded": [f"{r['label']} {n(r['n'])}" for r in t["dbr_excluded"]],
        "other_identified": [f"Citation searching {n(t['citations_results'])}",
                             f"Websites {n(t['website_results'])}",
                             f"Organisations {n(t['organisation_results'])}",
                             f"registers {n(t['other_already_identified'])}"],
        "other_sought": [f"retrieval {n(t['other_sought_reports'])}"],
        "other_not_retrieved": [f"not retrieved {n(t['other_notretrieved_reports'])}"],
        "other_assessed": [f"eligibility {n(t['other_assessed'])}"],
        "other_reports_excluded": [f"{r['label']} {n(r['n'])}" for r in t["other_excluded"]],
        "included": [f"included in review {n(t['new_studies'])}",
                     f"included studies {n(t['new_reports'])}"],
    }


def test_the_svg_parses_and_carries_every_count(review: Database, protocol: Protocol,
                                                tmp_path: Path) -> None:
    prisma(review, protocol, tmp_path)
    svg = (tmp_path / "prisma.svg").read_text()
    boxes = svg_boxes(svg)
    t = json.loads((tmp_path / "prisma.json").read_text())
    for key, expected in expected_boxes(t).items():
        for text in expected:
            assert text in boxes[key], (key, text, boxes[key])
    assert "previous" not in boxes and "total" not in boxes
    ids = {g.get("id") for g in svg_groups(svg)}
    assert {"heading-databases", "heading-other", "phase-identification", "phase-screening",
            "phase-included", "arrow-other_assessed-included", "arrow-screened-excluded"} <= ids
    assert "Records excluded by a person (n = 6); by automation tools (n = 2)." in svg


def test_the_diagram_is_the_same_file_for_the_same_counts(review: Database,
                                                          protocol: Protocol) -> None:
    f = flow(checked_counts(review, protocol))
    assert diagram.render(f) == diagram.render(f)


def test_a_review_with_databases_only_has_no_other_methods_column(
        db: Database, protocol: Protocol) -> None:
    add(db, [row for row in PLAN if row[1] == "databases"])
    svg = diagram.render(flow(checked_counts(db, protocol)))
    assert "other_identified" not in svg_boxes(svg) and "via other methods" not in svg


@pytest.mark.parametrize(("change", "boxes"), [
    (lambda c: replace(c, duplicates=c.duplicates + 1), "records_screened (16) != "),
    (lambda c: replace(c, records_excluded=99), "records_excluded (99) > records_screened"),
    (lambda c: replace(c, records_excluded_automation=9),
     "records_excluded by automation tools (9) > records_excluded (8)"),
    (lambda c: replace(c, dbr=replace(c.dbr, sought=10)), "dbr_sought_reports (10) != "),
    (lambda c: replace(c, dbr=replace(c.dbr, not_retrieved=0)), "dbr_assessed (7) != "),
    (lambda c: replace(c, dbr=replace(c.dbr, excluded=(("a", "A", 9),))),
     "dbr_excluded reasons sum to 9"),
    (lambda c: replace(c, other=replace(c.other, included=1)), "other_excluded reasons sum to 2"),
    (lambda c: replace(c, other_already_identified=0), "other_sought_reports (6) != "),
    (lambda c: replace(c, new_reports=8), "new_reports (8) != reports included"),
    (lambda c: replace(c, new_studies=8), "new_studies (8) > new_reports"),
    (lambda c: replace(c, total_studies=9), "total_studies (9) != previous_studies (0) + "),
    (lambda c: replace(c, previous_reports=2), "total_reports (7) != previous_reports (2) + "),
])
def test_each_arithmetic_check_fails_on_purpose(review: Database, protocol: Protocol,
                                                change: object, boxes: str) -> None:
    good = counts(review, protocol)
    assert check(good) == []
    problems = check(change(good))  # type: ignore[operator]
    assert any(boxes in p for p in problems), problems


def test_an_exclusion_without_a_reason_code_names_the_record(review: Database,
                                                              protocol: Protocol) -> None:
    review.execute("UPDATE records SET status_reason = NULL WHERE record_id = 'pubmed:12'")
    with pytest.raises(CheckError, match=r"without a protocol reason code: \['pubmed:12'\]"):
        checked_counts(review, protocol)


def test_a_removal_by_a_rule_the_protocol_lost_names_the_record(review: Database,
                                                                 protocol: Protocol) -> None:
    review.execute("UPDATE records SET status_reason = 'rule gone' WHERE record_id = 'pubmed:3'")
    with pytest.raises(CheckError, match=r"rule the protocol does not have .*\['pubmed:3'\]"):
        checked_counts(review, protocol)


def test_a_finished_review_adds_up_and_is_not_provisional() -> None:
    finished = PrismaCounts(
        databases=(("PubMed", 3),), registers=(), other_sources={}, duplicates=1,
        excluded_automatic=0, excluded_other=0, records_screened=2, records_excluded=1,
        awaiting_screening=0, not_yet_screened_dbr=0, not_yet_screened_other=0,
        dbr=Branch(sought=1, assessed=1, included=1), other=Branch(),
        other_already_identified=0, new_studies=1, new_reports=1, total_studies=1,
        total_reports=1)
    assert check(finished) == [] and not finished.provisional
    assert check(replace(finished, awaiting_screening=1)) != []


PREVIOUS = """study,citation,pmid,doi
Li 2019,"Li J et al. Blood 2019",31000001,
Li 2019,"Li J et al. (abstract) Blood 2018",,10.1182/blood-2018-99-1
Kourelis 2016,"Kourelis TV et al. Leukemia 2016",,https://doi.org/10.1038/LEU.2015.344
"""


def updated(protocol: Protocol, project: Path, text: str = PREVIOUS) -> Protocol:
    (project / "extracted" / "previous_version.csv").write_text(text)
    path = project / "queries" / "protocol.toml"
    path.write_text(path.read_text() + '\n[update]\nprevious_version = '
                    '"extracted/previous_version.csv"\n')
    return load_protocol(path)


def test_an_updated_review_adds_the_previous_version(review: Database, protocol: Protocol,
                                                     project: Path, tmp_path: Path) -> None:
    protocol = updated(protocol, project)
    result = prisma(review, protocol, tmp_path)
    t = as_template(result.counts)
    assert (t["previous_studies"], t["previous_reports"]) == (2, 3)
    assert (t["new_studies"], t["total_studies"], t["total_reports"]) == (7, 9, 10)
    boxes = svg_boxes((tmp_path / "prisma.svg").read_text())
    assert boxes["previous"] == ("Studies included in previous version of review (n = 2) "
                                 "Reports of studies included in previous version of review "
                                 "(n = 3)")
    assert boxes["total"] == ("Total studies included in review (n = 9) Reports of total "
                              "included studies (n = 10)")
    assert boxes["included"].startswith("New studies included in review (n = 7)")
    f = flow(result.counts)
    assert ("previous", "total") in f.arrows and ("included", "total") in f.arrows
    assert f.phases["included"] == (4, 5)
    with (tmp_path / "prisma.csv").open(newline="") as handle:
        n = {r[0]: r[-1] for r in csv.reader(handle)}
    assert (n["previous_studies"], n["previous_reports"], n["total_reports"]) == ("2", "3", "10")
    assert "Previous studies" in (tmp_path / "prisma.md").read_text()


def test_a_previous_report_included_again_is_named(review: Database, protocol: Protocol,
                                                  project: Path) -> None:
    # pubmed:15 is included now; its PMID is 1015
    protocol = updated(protocol, project, PREVIOUS + 'Old 2010,"Old A. 2010",1015,\n')
    with pytest.raises(CheckError, match=r"record pubmed:15 is included as new but is the "
                       r"previous version's report on .*previous_version.csv, line 5"):
        checked_counts(review, protocol, load_previous(protocol))


@pytest.mark.parametrize(("text", "message"), [
    ("study,pmid\nA,1\n", r"line 1: columns \['study', 'pmid'\]: missing \['citation'\]"),
    ("study,citation,journal\nA,B,C\n", r"unknown \['journal'\]"),
    ("study,citation\nA,\n", r"line 2: empty citation"),
    ("study,citation,pmid\nA,B,12\nC,D,0012\n", r"line 3: pmid 12 is also on line 2"),
    ("study,citation,doi\nA,B,10.1000/x\nC,D,doi:10.1000/X\n",
     r"line 3: doi 10.1000/x is also on line 2"),
])
def test_a_bad_previous_version_file_names_the_line(protocol: Protocol, project: Path,
                                                    text: str, message: str) -> None:
    protocol = updated(protocol, project, text)
    with pytest.raises(InputError, match=message):
        load_previous(protocol)


def test_a_missing_previous_version_file_says_how_to_fix(protocol: Protocol,
                                                         project: Path) -> None:
    protocol = updated(protocol, project)
    (project / "extracted" / "previous_version.csv").unlink()
    with pytest.raises(InputError, match=r"remove \[update\] previous_version"):
        load_previous(protocol)


def test_labels_are_drawn_as_written(db: Database, protocol: Protocol) -> None:
    # labels come from the protocol: "$" must not start mathtext, "<" and "&" must be escaped
    c = replace(counts(db, protocol), databases=(("Cost $5 & <free> db", 3),),
                records_screened=3, dbr=Branch(sought=3, assessed=3, excluded=(
                    ("a", "Wrong $x$ population", 3),)))
    boxes = svg_boxes(diagram.render(flow(c)))
    assert "Cost $5 & <free> db (n = 3)" in boxes["identified"]
    assert "Wrong $x$ population (n = 3)" in boxes["reports_excluded"]
