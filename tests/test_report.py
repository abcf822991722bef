"""report: the per-treatment summary and the risk-of-bias tables, from hand-built forms."""

from __future__ import annotations

import pytest
from sqlite_utils import Database

from review_pipeline.protocol import Report
from review_pipeline.stages.report.summary import (
    WHOLE_STUDY,
    Rate,
    Treatment,
    risk_of_bias,
    treatment_summary,
)

# (table, field, type, choices, key, one_of, unit)
FIELDS = [
    ("arms", "arm", "text", "", 1, "", ""),
    ("arms", "treatment", "choice", "ASCT | Lenalidomide-based", 0, "", ""),
    ("arms", "patients", "integer", "", 0, "", "patients"),
    ("outcomes", "arm", "text", "", 1, "arms.arm", ""),
    ("outcomes", "outcome", "choice", "Response | Overall survival", 1, "", ""),
    ("outcomes", "months", "number", "", 1, "", "months"),
    ("outcomes", "percent", "percent", "", 0, "", "%"),
    ("rob_robins_i", "confounding", "choice", "Low | Moderate | Serious", 0, "",
     ""),
    ("rob_robins_i", "overall", "choice", "Low | Moderate | Serious", 0, "", ""),
    ("rob_robins_i", "support", "text", "", 0, "", ""),
]
# Study a: one ASCT arm. Study b: an ASCT and a lenalidomide arm. Study c: no arm rows.
ARMS = [("a", "ASCT", "ASCT", 10), ("b", "ASCT", "ASCT", 20),
        ("b", "Len", "Lenalidomide-based", 5)]
OUTCOMES = [
    ("a", "", "Response", None, 50.0),  # no arm named: the study's only arm
    ("b", "ASCT", "Response", None, 70.0),
    ("b", "Len", "Response", None, 40.0),
    ("b", "", "Overall survival", 60.0, 90.0),  # no arm named, two arms: the whole study
    ("a", "", "Overall survival", 60.0, 80.0),
    ("a", "", "Overall survival", 24.0, 95.0),
    ("c", "", "Response", None, None),  # no rate: left out
]


@pytest.fixture
def forms(db: Database) -> Database:
    db.table("extraction_fields").insert_all(
        {"table_name": t, "field": f, "position": i, "type": kind, "choices": choices,
         "required": 0, "key": key, "one_of": one_of or None, "compare": 1, "unit": unit}
        for i, (t, f, kind, choices, key, one_of, unit) in enumerate(FIELDS))
    db.table("arms").insert_all({"record_id": r, "arm": a, "treatment": t, "patients": n}
                          for r, a, t, n in ARMS)
    db.table("outcomes").insert_all({"record_id": r, "arm": a, "outcome": o, "months": m,
                               "percent": p} for r, a, o, m, p in OUTCOMES)
    judged: list[dict[str, str | None]] = [
        {"record_id": "b", "confounding": "Serious", "overall": "Serious", "support": "x"},
        {"record_id": "a", "confounding": "Low", "overall": "Moderate", "support": None}]
    db.table("rob_robins_i").insert_all(judged)
    return db


def test_treatments_count_studies_arms_and_patients(forms: Database) -> None:
    s = treatment_summary(forms, Report())
    assert s.missing == []
    assert s.treatments == [Treatment("ASCT", 2, 2, 30), Treatment("Lenalidomide-based", 1, 1, 5)]


def test_rates_are_grouped_by_treatment_outcome_and_time_point(forms: Database) -> None:
    rates = treatment_summary(forms, Report()).rates
    assert rates == [
        Rate("ASCT", "Response", 2, 2, 60.0, 50.0, 70.0),
        Rate("ASCT", "Overall survival at 24 months", 1, 1, 95.0, 95.0, 95.0),
        Rate("ASCT", "Overall survival at 60 months", 1, 1, 80.0, 80.0, 80.0),
        Rate("Lenalidomide-based", "Response", 1, 1, 40.0, 40.0, 40.0),
        Rate(WHOLE_STUDY, "Overall survival at 60 months", 1, 1, 90.0, 90.0, 90.0),
    ]


def test_fields_the_forms_lack_are_named(forms: Database) -> None:
    s = treatment_summary(forms, Report(treatment="arms.drug", rate="outcomes.rate"))
    assert s.missing == ["arms.drug", "outcomes.rate"] and s.treatments == [] and s.rates == []


def test_no_forms_yet_means_no_summary(db: Database) -> None:
    assert treatment_summary(db, Report()).missing == [
        "arms.treatment", "arms.patients", "outcomes.outcome", "outcomes.percent"]
    assert risk_of_bias(db) == []


def test_risk_of_bias_forms_show_their_judgements(forms: Database) -> None:
    (rob,) = risk_of_bias(forms)
    assert rob.table == "rob_robins_i"
    assert [d for d, _ in rob.domains] == ["confounding", "overall"]  # judgements only
    assert [(r["record_id"], r["overall"]) for r in rob.rows] == [("a", "Moderate"),
                                                                  ("b", "Serious")]
