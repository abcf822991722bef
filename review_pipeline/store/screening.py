"""Screening's tables: rule verdicts (``verdicts``), reviewers' decisions (``decisions``),
resolutions of conflicts (``resolutions``) and each record's outcome per stage
(``stage_outcomes``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlite_utils import Database

from review_pipeline.model.state import State, onward
from review_pipeline.store.rows import insert_rows

TABLES = ("decisions", "resolutions", "verdicts", "stage_outcomes")


def replace(db: Database, *, decisions: Sequence[dict[str, Any]],
            resolutions: Sequence[dict[str, Any]], verdicts: Sequence[dict[str, Any]],
            outcomes: Sequence[dict[str, Any]]) -> None:
    """Put what the sheets and rules now say in place of what they said."""
    for table in TABLES:
        db.execute(f"DELETE FROM {table}")
    insert_rows(db, "decisions", decisions)
    insert_rows(db, "resolutions", resolutions)
    insert_rows(db, "verdicts", verdicts)
    insert_rows(db, "stage_outcomes", outcomes)


def awaiting_reviewer(db: Database, states: Iterable[State], reviewer: str, stage: str, *,
                      databases_only: bool) -> list[dict[str, Any]]:
    """Records in ``states`` that ``reviewer`` has not decided at ``stage``, each with its
    rule verdict, design and patients."""
    marks = ", ".join(f"'{s}'" for s in states)
    branch = "AND r.branch = 'databases'" if databases_only else ""
    return list(db.query(f"""
        SELECT r.*, v.verdict, v.rule_id, v.design, v.patients FROM records r
        LEFT JOIN verdicts v USING (record_id)
        WHERE r.status IN ({marks}) {branch} AND r.record_id NOT IN (
            SELECT record_id FROM decisions WHERE stage = ? AND reviewer = ?)
        ORDER BY r.record_id""", [stage, reviewer]))


def conflicts(db: Database, stage: str | None) -> list[tuple[str, str, str, bool, str]]:
    """(record, stage, title, resolved, outcome) of each conflict at ``stage`` (or any)."""
    return [(r[0], r[1], r[2], bool(r[3]), r[4]) for r in db.execute(
        "SELECT o.record_id, o.stage, r.title, o.resolved, o.outcome FROM stage_outcomes o "
        "JOIN records r USING (record_id) WHERE o.conflict AND (? IS NULL OR o.stage = ?) "
        "ORDER BY o.stage DESC, o.record_id", [stage, stage])]


def decisions_on(db: Database, record_id: str, stage: str) -> list[tuple[str, str, str]]:
    """(reviewer, decision, reason) of each reviewer's decision on a record at a stage."""
    return [(r[0], r[1], r[2] or "") for r in db.execute(
        "SELECT reviewer, decision, reason FROM decisions WHERE record_id = ? AND stage = ? "
        "ORDER BY reviewer", [record_id, stage])]


def paired_decisions(db: Database) -> list[tuple[str, str, str, str]]:
    """(stage, reviewer, record, decision) of the decisions that agreement compares: on
    records still in the review, full text obtained."""
    return [(r[0], r[1], r[2], r[3]) for r in db.execute(
        "SELECT d.stage, d.reviewer, d.record_id, d.decision FROM decisions d "
        "JOIN records r USING (record_id) "
        "WHERE r.status != 'duplicate' AND d.decision != 'not_retrieved'")]


def outcomes_at(db: Database, stage: str) -> list[tuple[str, bool, bool]]:
    """(outcome, conflict, resolved) of each record still in the review at ``stage``."""
    return [(r[0], bool(r[1]), bool(r[2])) for r in db.execute(
        "SELECT outcome, conflict, resolved FROM stage_outcomes o JOIN records r "
        "USING (record_id) WHERE stage = ? AND r.status != 'duplicate'", [stage])]


def decisions_per_sheet(db: Database) -> dict[str, int]:
    """Decisions loaded from each sheet, as ``<stage>-<reviewer>``."""
    return {f"{stage}-{reviewer}": n for stage, reviewer, n in db.execute(
        "SELECT stage, reviewer, count(*) FROM decisions GROUP BY stage, reviewer "
        "ORDER BY stage DESC, reviewer").fetchall()}


def title_abstract_pool(db: Database) -> list[dict[str, Any]]:
    """The records of the databases branch put to title/abstract screening (whatever became
    of them since), with their rule verdict, by id."""
    marks = ", ".join(f"'{s}'" for s in onward(State.SCREENED))
    return list(db.query(f"""
        SELECT r.*, v.verdict FROM records r LEFT JOIN verdicts v USING (record_id)
        WHERE r.status IN ({marks}) AND r.branch = 'databases' ORDER BY r.record_id"""))


def decisions_at(db: Database, stage: str,
                 apart: str | None = None) -> list[tuple[str, str, int]]:
    """(record, decision, sheet line) of every reviewer's decision at ``stage`` (but those
    of the reviewer ``apart``)."""
    return [(r[0], r[1], int(r[2])) for r in db.execute(
        "SELECT record_id, decision, line FROM decisions WHERE stage = ? "
        "AND reviewer IS NOT ? ORDER BY record_id, reviewer", [stage, apart])]


def resolutions_at(db: Database, stage: str) -> dict[str, str]:
    """record -> the decision of its resolution at ``stage``."""
    return {r[0]: r[1] for r in db.execute(
        "SELECT record_id, decision FROM resolutions WHERE stage = ?", [stage])}
