"""The screen stage: eligibility rules from the protocol, then reviewers' decisions.

Rules give every record a verdict naming the rule that fired. An automatic exclude rule
removes a record before screening (PRISMA: "marked as ineligible by automation tools")
unless a reviewer has decided on it; other rules only pre-sort records for reviewers.

Reviewers' decisions live in ``extracted/screening/<stage>-<reviewer>.csv`` (stage ``ta``
for title/abstract, ``ft`` for full text), one file per reviewer and stage. A stage's
decision for a record is final when every reviewer who decided agrees; otherwise it is a
conflict and the record waits. Title/abstract "maybe" sends a record to full text.
"""

from __future__ import annotations

import functools
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlite_utils import Database

from . import db as store
from .config import Protocol, Rule
from .db import State
from .errors import InputError
from .progress import Progress, tracked
from .records import Record, fold
from .sheets import read_sheet

DEFAULT_FOLDER = Path("extracted/screening")
STAGES = {"ta": "title/abstract", "ft": "full text"}
VALUES = {"ta": ("include", "exclude", "maybe"),
          "ft": ("include", "exclude", "maybe", "not_retrieved")}
COLUMNS = ("record_id", "decision", "reason", "note")
INFO_COLUMNS = ("title", "authors", "year", "journal", "abstract", "keywords", "verdict",
                "rule", "source", "doi", "pmid", "language", "publication_types")
"""Columns a worksheet may carry for the reviewer's eyes; they are not read back."""
_FILE = re.compile(r"^(ta|ft)-([a-z0-9][a-z0-9_-]*)\.csv$")
MAX_PROBLEMS = 20


@dataclass(frozen=True)
class Verdict:
    verdict: str
    """include, exclude or none."""
    rule_id: str = ""
    automatic: bool = False
    reason: str = ""


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


@dataclass
class ScreenResult:
    states: dict[str, int]
    verdicts: dict[str, int]
    decisions: int
    changed: int
    awaiting: dict[str, int]


@functools.lru_cache(maxsize=1024)
def _terms_pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    """Terms as one regex on folded text: whole words, ``*`` standing for any word ending."""
    bodies = [r"\w*".join(re.escape(fold(part)) for part in term.split("*")) for term in terms]
    return re.compile(rf"(?<!\w)(?:{'|'.join(bodies)})(?!\w)")


def _fires(rule: Rule, record: Record, text: str) -> bool:
    types = {t.casefold() for t in record.publication_types}
    if rule.publication_types and not types & {t.casefold() for t in rule.publication_types}:
        return False
    if rule.languages and record.language not in rule.languages:
        return False
    if rule.before_year is not None and not (record.year and record.year < rule.before_year):
        return False
    if rule.after_year is not None and not (record.year and record.year > rule.after_year):
        return False
    if rule.terms and not _terms_pattern(rule.terms).search(text):
        return False
    return not (rule.without_terms and _terms_pattern(rule.without_terms).search(text))


def evaluate(rules: tuple[Rule, ...], record: Record) -> Verdict:
    """The verdict of the first rule that fires, or ``none``."""
    text = fold(" ".join([record.title, record.abstract, " ".join(record.keywords)]))
    for rule in rules:
        if _fires(rule, record, text):
            return Verdict(rule.verdict, rule.id, rule.automatic, rule.reason)
    return Verdict("none")


def read_decisions(folder: Path, reason_codes: frozenset[str]) -> list[Decision]:
    """Every decision in ``folder``; all problems are reported together, or none is read."""
    decisions: list[Decision] = []
    problems: list[str] = []
    if not folder.is_dir():
        return decisions
    for path in sorted(folder.glob("*.csv")):
        match = _FILE.match(path.name)
        if not match:
            problems.append(f"{path}: the name must be <stage>-<reviewer>.csv with stage ta "
                            "or ft and a lower-case reviewer name (e.g. ta-alice.csv)")
            continue
        stage, reviewer = match.groups()
        decisions += _read_sheet(path, stage, reviewer, reason_codes, problems)
    _raise(problems)
    return decisions


def _read_sheet(path: Path, stage: str, reviewer: str, reason_codes: frozenset[str],
                problems: list[str]) -> list[Decision]:
    sheet = read_sheet(path)
    missing = [c for c in COLUMNS if c not in sheet.header]
    unknown = [c for c in sheet.header if c not in COLUMNS and c not in INFO_COLUMNS]
    if missing or unknown:
        problems.append(f"{path}, line 1: columns {missing or unknown} are "
                        f"{'missing' if missing else 'unknown'}; the columns are "
                        f"{', '.join(COLUMNS)} (plus, for reading, {', '.join(INFO_COLUMNS)})")
        return []
    seen: dict[str, int] = {}
    out = []
    for row in sheet.rows:
        decision = _check_row(row.values, stage, path, row.line, reason_codes, seen, problems)
        if decision:
            out.append(Decision(row.values["record_id"], stage, reviewer, decision,
                                row.values["reason"], row.values["note"], str(path), row.line))
    return out


def _check_row(row: dict[str, str], stage: str, path: Path, line: int,
               reason_codes: frozenset[str], seen: dict[str, int],
               problems: list[str]) -> str:
    where = f"{path}, line {line}"
    record_id, reason = row["record_id"], row["reason"]
    decision = row["decision"].lower()
    if not decision:
        return ""
    if not record_id:
        problems.append(f"{where}: a decision without a record_id")
        return ""
    if record_id in seen:
        problems.append(f"{where}: record '{record_id}' is already decided on line "
                        f"{seen[record_id]}; keep one row per record")
        return ""
    seen[record_id] = line
    if decision not in VALUES[stage]:
        problems.append(f"{where}: decision '{decision}' is not one of "
                        f"{', '.join(VALUES[stage])}")
        return ""
    if stage == "ft" and decision == "exclude" and reason not in reason_codes:
        problems.append(f"{where}: a full-text exclusion needs one reason code from the "
                        f"protocol ({', '.join(sorted(reason_codes))}); got '{reason}'")
        return ""
    if reason and reason not in reason_codes:
        problems.append(f"{where}: reason '{reason}' is not a code in the protocol's "
                        "[[exclusion_reasons]]")
        return ""
    return decision


def _raise(problems: list[str]) -> None:
    if not problems:
        return
    shown = problems[:MAX_PROBLEMS]
    more = len(problems) - len(shown)
    text = "\n  ".join(shown) + (f"\n  ... and {more} more" if more else "")
    raise InputError(f"{len(problems)} problem(s) in the screening sheets; nothing was "
                     f"loaded:\n  {text}", fix="correct those rows and run `make screen` again")


def consensus(decisions: list[Decision]) -> tuple[str, str] | None:
    """The agreed (decision, reason) of one stage, ``("conflict", "")``, or None if undecided."""
    if not decisions:
        return None
    outcomes = {(d.decision, d.reason if d.decision == "exclude" else "") for d in decisions}
    return outcomes.pop() if len(outcomes) == 1 else ("conflict", "")


def target_state(branch: str, verdict: Verdict, ta: tuple[str, str] | None,
                 ft: tuple[str, str] | None) -> tuple[State, str]:
    """Where a kept record belongs given its verdict and the agreed decisions."""
    if branch == "databases":
        if ta is None and verdict.verdict == "exclude" and verdict.automatic:
            return State.INELIGIBLE, f"rule {verdict.rule_id}"
        if ta is None:
            return State.SCREENED, ""
        if ta[0] == "conflict":
            return State.SCREENED, "conflict"
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
    }[decision]


def screen(db: Database, protocol: Protocol, folder: Path = DEFAULT_FOLDER,
           on_progress: Progress | None = None) -> ScreenResult:
    """Apply the rules and the decision sheets; bring every kept record to its state."""
    decisions = read_decisions(folder, protocol.reason_codes)
    rows = {r["record_id"]: r for r in db.query("SELECT * FROM records ORDER BY record_id")}
    by_stage: dict[tuple[str, str], list[Decision]] = defaultdict(list)
    for decision in decisions:
        by_stage[(decision.record_id, decision.stage)].append(decision)
    _check_known(decisions, rows)
    verdicts: dict[str, Verdict] = {}
    targets: dict[str, tuple[State, str]] = {}
    for record_id, row in tracked(rows.items(), len(rows), on_progress):
        verdicts[record_id] = evaluate(protocol.eligibility.rules, store.record_from_row(row))
        if row["status"] == State.DUPLICATE:
            continue
        ta = consensus(by_stage[(record_id, "ta")])
        ft = consensus(by_stage[(record_id, "ft")])
        targets[record_id] = target_state(row["branch"], verdicts[record_id], ta, ft)
    _check_full_text_order(by_stage, targets)
    changed = 0
    with db.atomic():
        db.execute("DELETE FROM decisions")
        db.table("decisions").insert_all(asdict(d) for d in decisions)
        db.execute("DELETE FROM verdicts")
        db.table("verdicts").insert_all({"record_id": rid, "verdict": v.verdict,
                                   "rule_id": v.rule_id or None, "automatic": v.automatic,
                                   "reason": v.reason or None} for rid, v in verdicts.items())
        for record_id, (target, reason) in targets.items():
            current = State(rows[record_id]["status"])
            if current == target and (rows[record_id]["status_reason"] or "") == reason:
                continue
            if current == target:
                db.execute("UPDATE records SET status_reason = ? WHERE record_id = ?",
                           [reason or None, record_id])
            else:
                store.move_to(db, record_id, target, current, actor="screen", reason=reason)
            changed += 1
    return ScreenResult(
        states=store.counts_by(db, "status"),
        verdicts=dict(Counter(v.verdict for v in verdicts.values())),
        decisions=len(decisions), changed=changed, awaiting=awaiting(db),
    )


def _check_known(decisions: list[Decision], rows: dict[str, dict[str, str]]) -> None:
    problems = []
    for d in decisions:
        row = rows.get(d.record_id)
        if row is None:
            problems.append(f"{d.file}, line {d.line}: no record '{d.record_id}' in the "
                            "review (check the id against `review export records`)")
        elif row["status"] == State.DUPLICATE:
            problems.append(f"{d.file}, line {d.line}: record '{d.record_id}' is a duplicate "
                            f"of '{row['duplicate_of']}'; decide on that record instead")
    _raise(problems)


def _check_full_text_order(by_stage: dict[tuple[str, str], list[Decision]],
                           targets: dict[str, tuple[State, str]]) -> None:
    """A full-text decision needs a record that passed title/abstract (or other methods)."""
    problems = []
    before = {State.INELIGIBLE, State.SCREENED, State.EXCLUDED_TA}
    for (record_id, stage), ds in by_stage.items():
        if stage == "ft" and record_id in targets and targets[record_id][0] in before:
            state = targets[record_id][0]
            problems += [f"{d.file}, line {d.line}: record '{record_id}' has a full-text "
                         f"decision but stands at '{state}' after title/abstract screening; "
                         "decide title/abstract first or remove the row" for d in ds]
    _raise(problems)


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
