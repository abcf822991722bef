"""What the report sums up from the final extraction tables: studies, patients and outcome
rates per treatment, and the risk-of-bias judgements.

Which fields hold the treatment, its patients, the outcome and its rate is the protocol's
``[report]`` section; the forms say how an outcome names its arm (a field whose values are
the arm table's key) and which other key fields (a time point) split an outcome.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from statistics import median
from typing import Any

from sqlite_utils import Database

from review_pipeline.protocol import Report
from review_pipeline.store import extraction
from review_pipeline.store.extraction import NOT_GIVEN

WHOLE_STUDY = "Whole study (several treatments)"


@dataclass(frozen=True)
class Treatment:
    treatment: str
    studies: int
    arms: int
    patients: int


@dataclass(frozen=True)
class Rate:
    treatment: str
    outcome: str
    """The outcome with its time point, e.g. "Overall survival at 60 months"."""
    studies: int
    results: int
    median: float
    low: float
    high: float


@dataclass(frozen=True)
class Summary:
    treatments: list[Treatment]
    rates: list[Rate]
    missing: list[str]
    """``[report]`` fields the forms do not have; the summary is empty when any is missing."""


def _fields(db: Database) -> dict[tuple[str, str], dict[str, Any]]:
    return {(f["table_name"], f["field"]): f for f in extraction.fields(db, "position")}


def treatment_summary(db: Database, spec: Report) -> Summary:
    """Per treatment: studies, arms and patients; and each outcome's rates (median, range)."""
    fields = _fields(db)
    refs = [spec.treatment, spec.patients, spec.outcome, spec.rate]
    missing = [r for r in refs if tuple(r.split(".")) not in fields]
    if missing:
        return Summary([], [], missing)
    arm_table, treatment = spec.treatment.split(".")
    patients = spec.patients.split(".")[1]
    result_table, outcome = spec.outcome.split(".")
    rate = spec.rate.split(".")[1]
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in extraction.form_rows(db, arm_table):
        groups[row[treatment] or NOT_GIVEN].append(row)
    order = extraction.choice_order(db, arm_table, treatment)
    treatments = [Treatment(name, len({r["record_id"] for r in rows}), len(rows),
                            sum(r[patients] or 0 for r in rows))
                  for name, rows in sorted(groups.items(), key=lambda g: order(g[0]))]
    values: dict[tuple[str, str], list[tuple[str, float]]] = defaultdict(list)
    sort_key: dict[str, tuple[Any, ...]] = {}
    outcome_order = extraction.choice_order(db, result_table, outcome)
    for found in extraction.arm_results(db, arm_table, result_table, outcome, rate):
        row = found.row
        group = (found.arm[treatment] or NOT_GIVEN) if found.arm else WHOLE_STUDY
        label = found.label(outcome)
        sort_key[label] = (outcome_order(row[outcome]), *[v for _, v, _ in found.splits])
        values[(group, label)].append((row["record_id"], float(row[rate])))
    rates = [Rate(group, label, len({s for s, _ in found}), len(found),
                  median(v for _, v in found), min(v for _, v in found),
                  max(v for _, v in found))
             for (group, label), found in values.items()]
    rates.sort(key=lambda r: (order(r.treatment), sort_key[r.outcome]))
    return Summary(treatments, rates, [])


@dataclass(frozen=True)
class RiskOfBias:
    table: str
    domains: list[tuple[str, str]]
    """(field, help) of each judgement, in form order."""
    rows: list[dict[str, Any]]
    """One per study: ``record_id`` and a judgement per domain."""


def risk_of_bias(db: Database) -> list[RiskOfBias]:
    """Each risk-of-bias form (a table named ``rob_*``) with its choice fields as domains."""
    fields = _fields(db)
    out = []
    for table in dict.fromkeys(t for t, _ in fields if t.startswith("rob")):
        domains = [(f, d["help"] or f) for (t, f), d in fields.items()
                   if t == table and d["type"] == "choice"]
        rows = extraction.form_rows(db, table, by_study=True)
        out.append(RiskOfBias(table, domains, rows))
    return out
