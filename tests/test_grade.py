"""GRADE in the summary of findings: each computed rating down on worked cases, the reviewers'
file and its errors, and the certainty that follows."""

from __future__ import annotations

from pathlib import Path

import pytest

from review_pipeline.model.errors import InputError
from review_pipeline.stages.report.grade import (
    Downgrade,
    Finding,
    findings,
    imprecision,
    inconsistency,
    read_judgements,
    risk_of_bias,
)


@pytest.mark.parametrize(("i2", "levels"), [(0, 0), (49.9, 0), (50, 1), (74.9, 1), (75, 2),
                                            (98, 2)])
def test_inconsistency_from_i2(i2: float, levels: int) -> None:
    assert inconsistency(i2).levels == levels


@pytest.mark.parametrize(("patients", "low", "high", "levels"), [
    (400, 0.40, 0.60, 0),   # enough patients, a CI of 20 points
    (399, 0.40, 0.60, 1),   # too few patients
    (500, 0.20, 0.55, 1),   # a CI of 35 points
    (100, 0.20, 0.60, 2),   # both
])
def test_imprecision_from_patients_and_the_interval(patients: int, low: float, high: float,
                                                    levels: int) -> None:
    assert imprecision(patients, low, high).levels == levels


HIGH = "of patients in studies at high or critical risk"


@pytest.mark.parametrize(("overall", "levels", "reason"), [
    ({"a": "high", "b": "low", "c": "low"}, 1, f"50% {HIGH}, 0% in studies without a judgement"),
    ({"a": "low", "b": "high", "c": "low"}, 0, f"30% {HIGH}, 0% without a judgement"),
    ({"a": "critical", "b": "low", "c": "low"}, 2, "50% of patients in studies at critical "
                                                   "risk"),
    ({"b": "low", "c": "low"}, 1, f"0% {HIGH}, 50% in studies without a judgement"),
    # neither half alone: 30% at high risk and 20% unjudged make half together
    ({"a": "none", "b": "high", "c": "low"}, 1, f"30% {HIGH}, 50% in studies without a "
                                                "judgement"),
    ({"a": "low", "b": "high"}, 1, f"30% {HIGH}, 20% in studies without a judgement"),
])
def test_risk_of_bias_weighted_by_patients(overall: dict[str, str], levels: int,
                                           reason: str) -> None:
    found = risk_of_bias([("a", 50.0), ("b", 30.0), ("c", 20.0)], overall)
    assert (found.levels, found.reason) == (levels, reason)


def _finding(start: str, *levels: int) -> Finding:
    return Finding("t", "o", 2, 100, 0.5, 0.4, 0.6, start,
                   tuple(Downgrade(f"d{i}", n, "") for i, n in enumerate(levels)))


def test_certainty_starts_by_design_and_steps_down() -> None:
    assert _finding("high").certainty == "high"
    assert _finding("high", 1, 1).certainty == "low"
    assert _finding("low", 1).certainty == "very low"
    assert _finding("low", 2, 2).certainty == "very low"  # never below very low


def test_findings_start_high_only_when_every_study_starts_high() -> None:
    analysis = {"pooled": True, "treatment": "T", "outcome": "O",
                "studies": [{"study": "a", "total": 300}, {"study": "b", "total": 200}],
                "result": {"k": 2, "estimate": 0.5, "ci_low": 0.45, "ci_high": 0.55, "i2": 10}}
    judged = {("T", "O", "indirectness"): (0, "as asked"),
              ("T", "O", "publication bias"): (1, "small studies")}
    overall = {"a": "low", "b": "low"}
    both = findings([analysis], overall, {"a", "b"}, judged)[0]
    assert both.start == "high" and both.certainty == "moderate"
    one = findings([analysis], overall, {"a"}, judged)[0]
    assert one.start == "low" and one.certainty == "very low"
    unjudged = findings([analysis], overall, {"a", "b"}, {})[0]
    assert [d.judged for d in unjudged.downgrades if d.domain in ("indirectness",
                                                                   "publication bias")] \
        == [False, False]
    assert unjudged.certainty == "high"


@pytest.mark.parametrize(("row", "message", "line"), [
    ("T,O,imprecision,1,too few", "domain 'imprecision' is not judged here", 3),
    ("T,O,indirectness,3,far", "downgrade '3' is not 0, 1 or 2", 3),
    ("T,O,publication bias,1,", "a rating down without a reason", 3),
])
def test_a_bad_judgement_is_refused_naming_its_line(tmp_path: Path, row: str, message: str,
                                                    line: int) -> None:
    path = tmp_path / "grade.csv"
    path.write_text("treatment,outcome,domain,downgrade,reason\nT,O,indirectness,0,as asked\n"
                    f"{row}\n", encoding="utf-8")
    with pytest.raises(InputError, match=message) as caught:
        read_judgements(path)
    assert f"line {line}" in str(caught.value)


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "grade.csv"
    path.write_text("treatment,outcome,levels\nT,O,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="domain, downgrade, reason are missing"):
        read_judgements(path)


def test_no_file_means_nothing_judged(tmp_path: Path) -> None:
    assert read_judgements(tmp_path / "grade.csv") == {}
