"""The screen stage: eligibility rules from the protocol, then reviewers' decisions.

Rules give every record a verdict naming the rule that fired (:mod:`.rules`). An automatic
exclude rule removes a record before screening (PRISMA: "marked as ineligible by automation
tools") unless a reviewer has decided on it; other rules only pre-sort records for reviewers.

Reviewers' decisions live in ``extracted/screening/<stage>-<reviewer>.csv`` (or ``.xlsx``;
stage ``ta`` for title/abstract, ``ft`` for full text), one file per reviewer and stage, so
two people never edit one file. A record's outcome at a stage needs as many decisions as the
protocol's ``[screening] reviewers``; when they disagree it is a conflict, which a row of
``resolutions.csv`` decides. At title/abstract, "maybe" and "include" agree (both send the
record to full text); at full text, two exclusions with different reasons disagree, since
PRISMA counts each report under one reason.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from review_pipeline import layout, store
from review_pipeline.formats.sheets import SUFFIXES, Row, extend_sheet, read_sheet, write_sheet
from review_pipeline.model.errors import InputError, Problems
from review_pipeline.model.names import RULE, is_name
from review_pipeline.model.progress import Progress, tracked
from review_pipeline.model.state import STAGE_ENTRY, STAGES, State, onward
from review_pipeline.protocol import Protocol
from review_pipeline.stages.screen.priority import ranking
from review_pipeline.stages.screen.rules import Verdict, evaluate, read_record
from review_pipeline.stages.screen.stopping import (
    RELEVANT,
    STOPPED,
    StopState,
    screening_order,
)
from review_pipeline.stages.screen.stopping import evaluate as evaluate_stop
from review_pipeline.stages.trail import Key, Trail, Value
from review_pipeline.store import screening

DEFAULT_FOLDER = layout.SCREENING
RESOLUTIONS = layout.RESOLUTIONS
STOPPED_LIST = layout.STOPPED
ACTION = "screening"
"""The audit log's action for a change of a decision, reason or note in a sheet."""
RESOLVED = "(resolution)"
"""Who a resolution's change is by: no reviewer's name can be this."""
VALUES = {"ta": ("include", "exclude", "maybe"),
          "ft": ("include", "exclude", "maybe", "not_retrieved")}
COLUMNS = ("record_id", "decision", "reason", "note")
INFO_COLUMNS = ("title", "authors", "year", "journal", "abstract", "keywords", "record_note",
                "verdict", "rule", "design", "patients", "source", "doi", "pmid", "language",
                "publication_types")
"""Columns a worksheet may carry for the reviewer's eyes; they are not read back."""
RANK = "rank"
"""A title/abstract sheet's column: a row's place in the ranking when the sheet was last
written, while it was undecided; not read back either."""
_FILE = re.compile(r"^(ta|ft)-([a-z0-9][a-z0-9_-]*)\.(csv|xlsx)$")

Outcome = tuple[str, str]
"""(decision, reason) of one stage, or ("conflict", "") or ("waiting", "k of n decisions")."""


@dataclass(frozen=True)
class Decision:
    record_id: str
    stage: str
    reviewer: str
    decision: str
    reason: str
    note: str
    file: str
    line: int


@dataclass(frozen=True)
class Resolution:
    record_id: str
    stage: str
    decision: str
    reason: str
    note: str
    file: str
    line: int


@dataclass
class ScreenResult:
    states: dict[str, int]
    verdicts: dict[str, int]
    decisions: int
    resolutions: int
    changed: int
    awaiting: dict[str, int]
    stop: StopState | None = None
    """Where screening stands against the protocol's stop rule, when it has one."""


def read_decisions(folder: Path, reason_codes: frozenset[str],
                   problems: list[str] | None = None) -> list[Decision]:
    """Every reviewer's well-formed decision in ``folder``. The problems of the others go to
    ``problems``; without it, they are raised together and none is read."""
    decisions: list[Decision] = []
    found: list[str] = []
    if not folder.is_dir():
        return decisions
    seen: dict[tuple[str, str], Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name in (RESOLUTIONS, layout.AUDIT, STOPPED_LIST) or path.is_dir() or (
                path.name.startswith(("~$", "."))):
            continue  # "~$" files are Excel's locks of an open workbook
        if path.suffix.lower() not in SUFFIXES or path.name == "README.md":
            continue
        match = _FILE.match(path.name)
        if not match:
            found.append(f"{path}: the name must be <stage>-<reviewer>.csv (or .xlsx) with "
                         "stage ta or ft and a lower-case reviewer name (e.g. ta-alice.csv)")
            continue
        stage, reviewer, _ = match.groups()
        if (stage, reviewer) in seen:
            found.append(f"{path}: {reviewer} already has {seen[(stage, reviewer)]} for "
                         "this stage; keep one file (CSV or XLSX)")
            continue
        seen[(stage, reviewer)] = path
        for row, decision in _rows(path, COLUMNS, found):
            if _check_decision(path, row, stage, decision, reason_codes, found):
                decisions.append(Decision(row.values["record_id"], stage, reviewer, decision,
                                          row.values["reason"], row.values["note"], str(path),
                                          row.line))
    _report(found, problems)
    return decisions


def read_resolutions(folder: Path, reason_codes: frozenset[str],
                     problems: list[str] | None = None) -> list[Resolution]:
    """The well-formed rows of ``resolutions.csv`` that carry a decision; the problems of
    the others go to ``problems``, or, without it, are raised together."""
    path = folder / RESOLUTIONS
    if not path.is_file():
        return []
    found: list[str] = []
    out: list[Resolution] = []
    for row, decision in _rows(path, ("record_id", "stage", *COLUMNS[1:]), found,
                               key=("record_id", "stage")):
        stage = row.values["stage"]
        if stage not in STAGES:
            found.append(f"{path}, line {row.line}: stage '{stage}' is not ta or ft")
        elif _check_decision(path, row, stage, decision, reason_codes, found):
            out.append(Resolution(row.values["record_id"], stage, decision,
                                  row.values["reason"], row.values["note"], str(path), row.line))
    _report(found, problems)
    return out


def _rows(path: Path, columns: tuple[str, ...], problems: list[str],
          key: tuple[str, ...] = ("record_id",)) -> Iterable[tuple[Row, str]]:
    """The decided rows of one sheet, after its columns and repeated keys are checked."""
    try:
        sheet = read_sheet(path)
    except InputError as exc:
        problems.append(exc.one_line())
        return
    missing = [c for c in columns if c not in sheet.header]
    unknown = [c for c in sheet.header
               if c not in columns and c not in INFO_COLUMNS and c != RANK]
    if missing or unknown:
        problems.append(f"{path}, line 1: columns {missing or unknown} are "
                        f"{'missing' if missing else 'unknown'}; the columns are "
                        f"{', '.join(columns)} (plus, for reading, {', '.join(INFO_COLUMNS)})")
        return
    seen: dict[tuple[str, ...], int] = {}
    for row in sheet.rows:
        decision = row.values["decision"].lower()
        if not decision:
            continue
        where = f"{path}, line {row.line}"
        if not row.values["record_id"]:
            problems.append(f"{where}: a decision without a record_id")
            continue
        if row.extra_cells:
            problems.append(f"{where}: {row.extra_cells} cells beyond the last column "
                            "(a comma inside a note needs quotes)")
            continue
        ident = tuple(row.values[k] for k in key)
        if ident in seen:
            problems.append(f"{where}: record '{ident[0]}' is already decided on line "
                            f"{seen[ident]}; keep one row per record")
            continue
        seen[ident] = row.line
        yield row, decision


def _check_decision(path: Path, row: Row, stage: str, decision: str,
                    reason_codes: frozenset[str], problems: list[str]) -> bool:
    why = decision_problem(stage, decision, row.values["reason"], reason_codes)
    if why:
        problems.append(f"{path}, line {row.line}: {why}")
    return not why


def decision_problem(stage: str, decision: str, reason: str,
                     reason_codes: frozenset[str]) -> str:
    """Why ``review screen`` would refuse a decision and reason at ``stage`` ("" if it
    would not): the one rule for sheets and for the browser alike."""
    if decision not in VALUES[stage]:
        return f"decision '{decision}' is not one of {', '.join(VALUES[stage])}"
    if stage == "ft" and decision == "exclude" and reason not in reason_codes:
        return (f"a full-text exclusion needs one reason code from the protocol "
                f"({', '.join(sorted(reason_codes))}); got '{reason}'")
    if reason and reason not in reason_codes:
        return f"reason '{reason}' is not a code in the protocol's [[exclusion_reasons]]"
    return ""


def _report(found: list[str], problems: list[str] | None) -> None:
    if problems is None:
        _raise(found)
    else:
        problems += found


def _raise(problems: list[str]) -> None:
    Problems(problems).fail("the screening sheets",
                            "correct those rows and run `make screen` again")


def _passes(decision: str) -> str:
    """A decision as include or exclude: "maybe" goes on like include (to full text at
    title/abstract; and so for kappa at both stages)."""
    return "include" if decision in ("include", "maybe") else decision


def consensus(decisions: list[Decision], needed: int = 1) -> Outcome | None:
    """The outcome of one stage for one record, or None if nobody has decided."""
    if not decisions:
        return None
    stage = decisions[0].stage
    if len(decisions) < needed:
        return "waiting", f"{len(decisions)} of {needed} decisions"
    if stage == "ta":
        kinds = {_passes(d.decision) for d in decisions}
        if len(kinds) > 1:
            return "conflict", ""
        if kinds == {"include"}:
            return ("include" if any(d.decision == "include" for d in decisions)
                    else "maybe"), ""
        reasons = {d.reason for d in decisions}
        return "exclude", reasons.pop() if len(reasons) == 1 else ""
    outcomes = {(d.decision, d.reason if d.decision == "exclude" else "") for d in decisions}
    return outcomes.pop() if len(outcomes) == 1 else ("conflict", "")


def target_state(branch: str, verdict: Verdict, ta: Outcome | None,
                 ft: Outcome | None) -> tuple[State, str]:
    """Where a kept record belongs given its verdict and the outcome of each stage."""
    if branch == "databases":
        if ta is None and verdict.verdict == "exclude" and verdict.automatic:
            return State.INELIGIBLE, f"rule {verdict.rule_id}"
        if ta is None:
            return State.SCREENED, ""
        if ta[0] in ("conflict", "waiting"):
            return State.SCREENED, ta[0]
        if ta[0] == "exclude":
            return State.EXCLUDED_TA, ta[1]
    if ft is None:
        return State.SOUGHT, ""
    decision, reason = ft
    return {
        "not_retrieved": (State.NOT_RETRIEVED, ""),
        "include": (State.INCLUDED, ""),
        "exclude": (State.EXCLUDED_FT, reason),
        "maybe": (State.ASSESSED, "maybe"),
        "conflict": (State.ASSESSED, "conflict"),
        "waiting": (State.ASSESSED, "waiting"),
    }[decision]


def run(db: Database, protocol: Protocol, folder: Path = DEFAULT_FOLDER,
        on_progress: Progress | None = None) -> ScreenResult:
    """Apply the rules, the decision sheets and the resolutions; bring every kept record to
    its state."""
    # Every problem of every sheet is gathered and reported at once, before anything loads.
    problems: list[str] = []
    decisions = read_decisions(folder, protocol.reason_codes, problems)
    resolutions = read_resolutions(folder, protocol.reason_codes, problems)
    rows = {r["record_id"]: r for r in store.all_records(db)}
    by_stage: dict[tuple[str, str], list[Decision]] = defaultdict(list)
    for decision in decisions:
        by_stage[(decision.record_id, decision.stage)].append(decision)
    resolved = {(r.record_id, r.stage): r for r in resolutions}
    problems += _unknown(db, [*decisions, *resolutions], rows)
    needed = protocol.screening.reviewers
    verdicts: dict[str, tuple[Verdict, str, int | None]] = {}
    targets: dict[str, tuple[State, str]] = {}
    outcomes: list[dict[str, Any]] = []
    for record_id, row in tracked(rows.items(), len(rows), on_progress):
        record = store.record_from_row(row)
        reading = read_record(record)
        verdict = evaluate(protocol.eligibility.rules, record, reading)
        verdicts[record_id] = (verdict, reading.design, reading.patients)
        if row["status"] == State.DUPLICATE:
            continue
        stage_outcomes: dict[str, Outcome | None] = {}
        for stage in STAGES:
            found = consensus(by_stage[(record_id, stage)], needed)
            resolution = resolved.get((record_id, stage))
            if resolution and (found is None or found[0] != "conflict"):
                problems.append(f"{resolution.file}, line {resolution.line}: record "
                                f"'{record_id}' has no {STAGES[stage]} conflict to resolve; "
                                "remove the row")
            final = (resolution.decision, resolution.reason) if resolution else found
            stage_outcomes[stage] = final
            if found and final:
                outcomes.append({
                    "record_id": record_id, "stage": stage,
                    "decisions": len(by_stage[(record_id, stage)]), "outcome": final[0],
                    "reason": final[1] or None, "conflict": found[0] == "conflict",
                    "resolved": resolution is not None})
        targets[record_id] = target_state(row["branch"], verdict, stage_outcomes["ta"],
                                          stage_outcomes["ft"])
    problems += _full_text_order(by_stage, targets)
    _raise(problems)
    stopped = _stop(protocol, decisions, resolutions, targets, rows, folder)
    trail = Trail(folder / layout.AUDIT, ACTION, "stage", "screen")
    changed = _store(db, decisions, resolutions, verdicts, outcomes, targets, rows,
                     (trail, _held(decisions, resolutions)))
    return ScreenResult(
        states=store.counts_by(db, "status"),
        verdicts=dict(Counter(v.verdict for v, _, _ in verdicts.values())),
        decisions=len(decisions), resolutions=len(resolutions), changed=changed,
        awaiting=awaiting(db), stop=stopped,
    )


def _stop(protocol: Protocol, decisions: list[Decision], resolutions: list[Resolution],
          targets: dict[str, tuple[State, str]], rows: dict[str, dict[str, Any]],
          folder: Path) -> StopState | None:
    """Where screening stands against the protocol's stop rule. Applied, the first time it
    is met it lists the records nobody has screened in ``stopped.csv``; those of them still
    unscreened are excluded by automation (``targets`` changed). Records that came later are
    not on the list: they are screened."""
    stop = protocol.screening.stop
    if stop is None:
        return None
    pool = [record_id for record_id, (state, _) in targets.items()
            if rows[record_id]["branch"] == "databases" and state in onward(State.SCREENED)]
    resolved = {r.record_id: r.decision in RELEVANT for r in resolutions if r.stage == "ta"}
    order = screening_order(((d.record_id, d.decision, d.line) for d in decisions
                             if d.stage == "ta"), pool, resolved)
    state = evaluate_stop(stop, [relevant for _, relevant in order], len(pool))
    if not stop.apply:
        return state
    path = folder / STOPPED_LIST
    if path.exists():
        listed = [row.values.get("record_id", "") for row in read_sheet(path).rows]
    elif state.met:
        listed = [record_id for record_id in pool if targets[record_id] == (State.SCREENED, "")]
        if listed:
            write_sheet(path, ["record_id", "rule", "screened", "total", "relevant", "title"],
                        [[record_id, state.described, state.screened, state.total,
                          state.relevant, rows[record_id]["title"] or ""]
                         for record_id in listed])
    else:
        listed = []
    for record_id in listed:
        if targets.get(record_id) == (State.SCREENED, ""):
            targets[record_id] = (State.EXCLUDED_TA, STOPPED)
    return state


def _held(decisions: list[Decision], resolutions: list[Resolution]) -> dict[Key, Value]:
    """Every decision, reason and note the sheets hold now, and where: the values whose
    changes the trail keeps."""
    rows: list[tuple[str, Decision | Resolution]] = [
        *((d.reviewer, d) for d in decisions), *((RESOLVED, r) for r in resolutions)]
    held: dict[Key, Value] = {}
    for who, row in rows:
        for field in ("decision", "reason", "note"):
            held[(who, row.stage, row.record_id, "", field)] = (getattr(row, field), row.file,
                                                               row.line)
    return held


def _store(db: Database, decisions: list[Decision], resolutions: list[Resolution],
           verdicts: dict[str, tuple[Verdict, str, int | None]], outcomes: list[dict[str, Any]],
           targets: dict[str, tuple[State, str]], rows: dict[str, dict[str, Any]],
           audit: tuple[Trail, dict[Key, Value]]) -> int:
    changed = 0
    trail, held = audit
    with db.atomic():
        trail.record(db, trail.reconcile(db), held)
        screening.replace(
            db, decisions=[asdict(d) for d in decisions],
            resolutions=[asdict(r) for r in resolutions],
            verdicts=[{"record_id": rid, "verdict": v.verdict, "rule_id": v.rule_id or None,
                       "automatic": v.automatic, "reason": v.reason or None, "design": design,
                       "patients": patients}
                      for rid, (v, design, patients) in verdicts.items()],
            outcomes=outcomes)
        for record_id, (target, reason) in targets.items():
            current = State(rows[record_id]["status"])
            if current == target and (rows[record_id]["status_reason"] or "") == reason:
                continue
            if current == target:
                store.set_reason(db, record_id, reason)
            else:
                store.move_to(db, record_id, target, current, actor="screen", reason=reason)
            changed += 1
    return changed


def _unknown(db: Database, decisions: Iterable[Decision | Resolution],
             rows: dict[str, dict[str, Any]]) -> list[str]:
    """Decisions on records the review does not hold, or on duplicates."""
    problems = []
    for d in decisions:
        row = rows.get(d.record_id)
        if row is None:
            problems.append(f"{d.file}, line {d.line}: {store.missing_record(db, d.record_id)}")
        elif row["status"] == State.DUPLICATE:
            problems.append(f"{d.file}, line {d.line}: record '{d.record_id}' is a duplicate "
                            f"of '{row['duplicate_of']}'; decide on that record instead")
    return problems


def _full_text_order(by_stage: dict[tuple[str, str], list[Decision]],
                     targets: dict[str, tuple[State, str]]) -> list[str]:
    """A full-text decision needs a record that passed title/abstract (or other methods)."""
    problems = []
    before = {State.INELIGIBLE, State.SCREENED, State.EXCLUDED_TA}
    for (record_id, stage), ds in by_stage.items():
        if stage == "ft" and record_id in targets and targets[record_id][0] in before:
            state = targets[record_id][0]
            problems += [f"{d.file}, line {d.line}: record '{record_id}' has a full-text "
                         f"decision but stands at '{state}' after title/abstract screening; "
                         "decide title/abstract first or remove the row" for d in ds]
    return problems


def awaiting(db: Database) -> dict[str, int]:
    """Records waiting for a decision, by stage, and how many of them are conflicts."""
    counts = store.counts_by(db, "status")
    conflicts = store.counts_by(db, "status", "status_reason = 'conflict'")
    return {
        "title_abstract": counts.get(State.SCREENED, 0),
        "title_abstract_conflicts": conflicts.get(State.SCREENED, 0),
        "full_text": counts.get(State.SOUGHT, 0) + counts.get(State.ASSESSED, 0),
        "full_text_conflicts": conflicts.get(State.ASSESSED, 0),
    }


def sheet_rows(db: Database, stage: str, reviewer: str) -> list[dict[str, Any]]:
    """The records awaiting ``reviewer`` at ``stage``, with what a reviewer reads."""
    # Every record that reached the stage goes to every reviewer, whatever became of it
    # since, so that their decisions stay independent.
    out = []
    for row in screening.awaiting_reviewer(db, onward(STAGE_ENTRY[stage]), reviewer, stage,
                                           databases_only=stage == "ta"):
        record = store.record_from_row(row)
        out.append({
            "record_id": row["record_id"], "decision": "", "reason": "", "note": "",
            "title": record.title, "authors": "; ".join(record.authors),
            "year": record.year or "", "journal": record.journal,
            "abstract": record.abstract, "keywords": "; ".join(record.keywords),
            "record_note": record.note,
            "verdict": row["verdict"] if row["verdict"] != "none" else "",
            "rule": row["rule_id"] or "", "design": row["design"] or "",
            "patients": "" if row["patients"] is None else row["patients"],
            "source": row["source"], "doi": record.doi, "pmid": record.pmid,
            "language": record.language,
            "publication_types": "; ".join(record.publication_types),
        })
    return out


@dataclass
class SheetResult:
    path: Path
    added: int
    kept: int


def write_worksheet(db: Database, protocol: Protocol, stage: str, reviewer: str,
                    folder: Path = DEFAULT_FOLDER, fmt: str = "csv",
                    ranked: dict[str, int] | None = None) -> SheetResult:
    """Add the records awaiting ``reviewer`` at ``stage`` to their sheet, creating it if need
    be: rows already in the sheet are kept as they are, so nothing typed is lost. At
    title/abstract the rows nobody in this sheet has decided yet are put in the ranking's
    order (:mod:`.priority`; or ``ranked``, record -> place, when given), likely includes
    first, and numbered in ``rank``."""
    if stage not in STAGES:
        raise InputError(f"unknown stage '{stage}'", fix="use --stage ta or --stage ft")
    if not is_name(reviewer):
        raise InputError(f"reviewer name '{reviewer[:60]}' cannot name a file",
                         fix=f"use {RULE} (e.g. alice)")
    path = folder / f"{stage}-{reviewer}.{fmt}"
    other = folder / f"{stage}-{reviewer}.{'xlsx' if fmt == 'csv' else 'csv'}"
    if other.exists():
        raise InputError(f"{reviewer} already screens in {other}", where=str(other),
                         fix=f"use --format {other.suffix[1:]}, or remove one of the files")
    if stage == "ta" and ranked is None:
        ranked = ranking(db, protocol.screening.seed)
    elif stage != "ta":
        ranked = None
    added, kept = extend_sheet(
        path, [*COLUMNS, *INFO_COLUMNS, *((RANK,) if ranked is not None else ())],
        sheet_rows(db, stage, reviewer), ("record_id",),
        choices={"decision": VALUES[stage], "reason": sorted(protocol.reason_codes)},
        arrange=(lambda rows: in_ranked_order(rows, ranked)) if ranked is not None else None,
        refreshed=(RANK,) if ranked is not None else ())
    return SheetResult(path, added, kept)


def in_ranked_order(rows: list[dict[str, Any]], ranked: dict[str, int]) -> list[dict[str, Any]]:
    """A title/abstract sheet's rows: the decided ones first, in the order they stand (the
    order they were screened), then the rest by ``ranked`` (record -> place), numbered in
    ``rank``; rows of records no longer ranked go last, as they stand."""
    decided = [row for row in rows if str(row.get("decision", "")).strip()]
    for row in decided:  # read back as text; a number again, so that a sheet sorts by it
        given = str(row.get(RANK, ""))
        row[RANK] = int(given) if given.isdigit() else given
    last = len(ranked) + 1
    rest = sorted((row for row in rows if not str(row.get("decision", "")).strip()),
                  key=lambda row: ranked.get(str(row["record_id"]), last))
    for place, row in enumerate(rest, 1):
        row[RANK] = place if str(row["record_id"]) in ranked else ""
    return [*decided, *rest]


@dataclass(frozen=True)
class Conflict:
    record_id: str
    stage: str
    title: str
    decisions: tuple[tuple[str, str, str], ...]
    """(reviewer, decision, reason) of each reviewer."""
    resolution: str
    """The resolution's decision, or "" while unresolved."""


def conflicts(db: Database, stage: str | None = None) -> list[Conflict]:
    """Every disagreement found by the last screen, resolved or not."""
    out = []
    for record_id, found_stage, title, resolved, outcome in screening.conflicts(db, stage):
        decided = tuple(screening.decisions_on(db, record_id, found_stage))
        out.append(Conflict(record_id, found_stage, title or "", decided,
                            outcome if resolved else ""))
    return out


def add_conflicts_to_resolutions(db: Database, folder: Path = DEFAULT_FOLDER) -> int:
    """Append every unresolved conflict to ``resolutions.csv`` as a row to decide."""
    new = [{"record_id": c.record_id, "stage": c.stage, "title": c.title,
            "note": "; ".join(f"{who}: {d}{f' ({r})' if r else ''}" for who, d, r in c.decisions)}
           for c in conflicts(db) if not c.resolution]
    added, _ = extend_sheet(folder / RESOLUTIONS, ["record_id", "stage", *COLUMNS[1:], "title"],
                            new, ("record_id", "stage"))
    return added


@dataclass(frozen=True)
class Agreement:
    """Cohen's kappa of two reviewers at one stage, over the records both decided.

    "maybe" counts as include (Covidence's convention); a full-text "not_retrieved" is left
    out, since it judges the library, not the study. Resolutions do not change it.
    """

    stage: str
    reviewers: tuple[str, str]
    records: int
    both_include: int
    both_exclude: int
    first_only: int
    """The first reviewer includes, the second excludes."""
    second_only: int
    observed: float
    expected: float
    kappa: float | None
    """None when it is undefined: chance agreement is 1 (both put everything in one class)."""


def cohen_kappa(both_include: int, first_only: int, second_only: int,
                both_exclude: int) -> tuple[float, float, float | None]:
    """Observed agreement, chance agreement and kappa of a 2x2 table (Cohen 1960)."""
    n = both_include + first_only + second_only + both_exclude
    if n == 0:
        return 0.0, 0.0, None
    observed = (both_include + both_exclude) / n
    first_yes = (both_include + first_only) / n
    second_yes = (both_include + second_only) / n
    expected = first_yes * second_yes + (1 - first_yes) * (1 - second_yes)
    kappa = None if expected == 1 else (observed - expected) / (1 - expected)
    return observed, expected, kappa


def agreement(db: Database) -> list[Agreement]:
    """Kappa for every pair of reviewers at every stage, from the loaded decisions of the
    records still in the review (duplicates left out)."""
    by: dict[str, dict[str, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
    for stage, reviewer, record_id, decision in screening.paired_decisions(db):
        by[stage][reviewer][record_id] = _passes(decision)
    out = []
    for stage in STAGES:
        for first, second in itertools.combinations(sorted(by[stage]), 2):
            a, b = by[stage][first], by[stage][second]
            pairs = [(a[r], b[r]) for r in a.keys() & b.keys()]
            table = Counter(pairs)
            cells = (table[("include", "include")], table[("include", "exclude")],
                     table[("exclude", "include")], table[("exclude", "exclude")])
            observed, expected, kappa = cohen_kappa(*cells)
            out.append(Agreement(stage, (first, second), len(pairs), cells[0], cells[3],
                                 cells[1], cells[2], observed, expected, kappa))
    return out


def landis_koch(kappa: float | None) -> str:
    """Landis and Koch's (1977) words for a kappa."""
    if kappa is None:
        return "undefined"
    for bound, words in ((0.0, "poor"), (0.2, "slight"), (0.4, "fair"), (0.6, "moderate"),
                         (0.8, "substantial")):
        if kappa <= bound:
            return words
    return "almost perfect"


def stage_summary(db: Database) -> dict[str, dict[str, Any]]:
    """Per stage: screened, included, excluded, maybe, conflicts, unresolved, kappa."""
    kappas: dict[str, list[Agreement]] = defaultdict(list)
    for pair in agreement(db):
        kappas[pair.stage].append(pair)
    out: dict[str, dict[str, Any]] = {}
    for stage in STAGES:
        rows = screening.outcomes_at(db, stage)
        outcomes = Counter(outcome for outcome, _, _ in rows)
        found = kappas[stage]
        out[STAGES[stage]] = {
            "screened": len(rows),
            "included": outcomes["include"],
            "excluded": outcomes["exclude"],
            "maybe": outcomes["maybe"],
            **({"not_retrieved": outcomes["not_retrieved"]} if stage == "ft" else {}),
            "waiting": outcomes["waiting"],
            "conflicts": sum(1 for _, conflict, _ in rows if conflict),
            "unresolved": sum(1 for _, conflict, resolved in rows if conflict and not resolved),
            "kappa": round(found[0].kappa, 3) if len(found) == 1 and found[0].kappa is not None
            else None,
            "agreement": [{**asdict(a), "reviewers": list(a.reviewers)} for a in found],
        }
    return out
