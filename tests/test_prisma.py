"""prisma: counts derived from states on a review with every box non-zero; checks that fail."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest
from sqlite_utils import Database

from review_pipeline import db as store
from review_pipeline.config import Protocol
from review_pipeline.db import State
from review_pipeline.errors import CheckError
from review_pipeline.prisma import (
    Branch,
    PrismaCounts,
    as_template,
    check,
    checked_counts,
    counts,
    prisma,
)
from review_pipeline.records import Record

from .conftest import FIXTURES

S = State
# (source, branch, final state, reason) for a hand-built review.
PLAN = [
    *[("pubmed", "databases", S.INELIGIBLE, "rule secondary-literature")] * 3,
    *[("pubmed", "databases", S.EXCLUDED_TA, "")] * 5,
    *[("pubmed", "databases", S.SCREENED, "")] * 1,
    *[("pubmed", "databases", S.NOT_RETRIEVED, "")] * 1,
    *[("pubmed", "databases", S.EXCLUDED_FT, "too_few_patients")] * 2,
    *[("pubmed", "databases", S.EXCLUDED_FT, "not_poems")] * 1,
    *[("pubmed", "databases", S.INCLUDED, "")] * 3,
    *[("pubmed", "databases", S.ASSESSED, "maybe")] * 1,
    *[("embase", "databases", S.DUPLICATE, "")] * 4,
    *[("embase", "databases", S.INCLUDED, "")] * 1,
    *[("citations", "other", S.DUPLICATE, "")] * 2,
    *[("citations", "other", S.NOT_RETRIEVED, "")] * 1,
    *[("citations", "other", S.EXCLUDED_FT, "duplicate_report")] * 1,
    *[("citations", "other", S.INCLUDED, "")] * 2,
]


@pytest.fixture
def review(db: Database) -> Database:
    by_source: dict[tuple[str, str], list[tuple[int, State, str]]] = {}
    for n, (source, branch, state, reason) in enumerate(PLAN):
        by_source.setdefault((source, branch), []).append((n, state, reason))
    for (source, branch), items in by_source.items():
        store.add_batch(db, [Record(str(n)) for n, _, _ in items], kind="import",
                        source=source, branch=branch, file=source, sha256=source, fmt="ris")
        for n, state, reason in items:
            store.move_to(db, f"{source}:{n}", state, State.IDENTIFIED, reason=reason)
    return db


def test_every_box_is_derived_from_the_states(review: Database, protocol: Protocol) -> None:
    t = as_template(checked_counts(review, protocol))
    assert t["database_specific_results"] == [{"label": "Embase", "n": 5},
                                              {"label": "PubMed", "n": 17}]
    assert (t["database_results"], t["citations_results"]) == (22, 6)
    assert (t["duplicates"], t["excluded_automatic"], t["excluded_other"]) == (4, 3, 0)
    assert (t["records_screened"], t["records_excluded"]) == (15, 5)
    assert (t["dbr_sought_reports"], t["dbr_notretrieved_reports"], t["dbr_assessed"]) == (
        9, 1, 8)
    assert t["dbr_excluded"] == [
        {"code": "not_poems", "label": "Population not POEMS syndrome as defined", "n": 1},
        {"code": "too_few_patients", "label": "Fewer than 5 treated patients", "n": 2}]
    assert (t["other_sought_reports"], t["other_notretrieved_reports"], t["other_assessed"]) == (
        4, 1, 3)
    assert t["other_excluded"] == [
        {"code": "duplicate_report", "label": "Another report of an included study", "n": 1}]
    assert (t["new_studies"], t["new_reports"], t["other_already_identified"]) == (6, 6, 2)
    assert t["provisional"] is True
    assert t["awaiting"]["title_abstract"] == 1 and t["awaiting"]["dbr_assessment"] == 1


def test_outputs_are_written(review: Database, protocol: Protocol, tmp_path: Path) -> None:
    result = prisma(review, protocol, tmp_path / "reports")
    data = json.loads((tmp_path / "reports" / "prisma.json").read_text())
    assert data == as_template(result.counts)
    md = (tmp_path / "reports" / "prisma.md").read_text()
    assert "Provisional" in md and "Records screened (n = 15)" in md
    assert "Fewer than 5 treated patients (n = 2)" in md
    assert "citation searching (n = 6), of which 2 had already been found" in md


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
    assert n["database_specific_results"] == "Embase, 5; PubMed, 17"
    assert n["register_specific_results"] == ""  # empty n: the package leaves the line out
    assert n["dbr_excluded"] == ("Population not POEMS syndrome as defined, 1; "
                                 "Fewer than 5 treated patients, 2")
    assert n["other_excluded"] == "Another report of an included study, 1"
    assert (n["records_screened"], n["citations_results"], n["total_studies"]) == (
        "15", "6", "6")
    t = as_template(counts(review, protocol))
    for key, value in t.items():
        if isinstance(value, int) and not isinstance(value, bool) and key in n:
            assert n[key] == str(value), key


@pytest.mark.parametrize(("change", "boxes"), [
    (lambda c: replace(c, duplicates=c.duplicates + 1), "records_screened (15) != "),
    (lambda c: replace(c, records_excluded=99), "records_excluded (99) > records_screened"),
    (lambda c: replace(c, dbr=replace(c.dbr, sought=10)), "dbr_sought_reports (10) != "),
    (lambda c: replace(c, dbr=replace(c.dbr, not_retrieved=0)), "dbr_assessed (8) != "),
    (lambda c: replace(c, dbr=replace(c.dbr, excluded=(("a", "A", 9),))),
     "dbr_excluded reasons sum to 9"),
    (lambda c: replace(c, other=replace(c.other, included=1)), "other_excluded reasons sum to 1"),
    (lambda c: replace(c, other_already_identified=0), "other_sought_reports (4) != "),
    (lambda c: replace(c, new_reports=7), "new_reports (7) != reports included"),
    (lambda c: replace(c, new_studies=8), "new_studies (8) > new_reports"),
])
def test_each_arithmetic_check_fails_on_purpose(review: Database, protocol: Protocol,
                                                change: object, boxes: str) -> None:
    good = counts(review, protocol)
    assert check(good) == []
    problems = check(change(good))  # type: ignore[operator]
    assert any(boxes in p for p in problems), problems


def test_an_exclusion_without_a_reason_code_names_the_record(review: Database,
                                                              protocol: Protocol) -> None:
    review.execute("UPDATE records SET status_reason = NULL WHERE record_id = 'pubmed:10'")
    with pytest.raises(CheckError, match=r"without a protocol reason code: \['pubmed:10'\]"):
        checked_counts(review, protocol)


def test_a_finished_review_adds_up_and_is_not_provisional() -> None:
    finished = PrismaCounts(
        databases=(("PubMed", 3),), registers=(), other_sources={}, duplicates=1,
        excluded_automatic=0, excluded_other=0, records_screened=2, records_excluded=1,
        awaiting_screening=0, not_yet_screened_dbr=0, not_yet_screened_other=0,
        dbr=Branch(sought=1, assessed=1, included=1), other=Branch(),
        other_already_identified=0, new_studies=1, new_reports=1)
    assert check(finished) == [] and not finished.provisional
    assert check(replace(finished, awaiting_screening=1)) != []
