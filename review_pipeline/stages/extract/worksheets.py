"""What reviewers work with: their sheets, the comparison of copies, the consensus file's
open rows, a study's history, the summary for ``review status`` and the loaded copies read
back from the database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from review_pipeline import store
from review_pipeline.files import write_atomic
from review_pipeline.formats.sheets import extend_sheet
from review_pipeline.model.errors import InputError
from review_pipeline.model.names import RULE, is_name
from review_pipeline.model.state import State
from review_pipeline.model.text import value_text
from review_pipeline.stages.extract.fields import (
    NOT_REPORTED,
    Field,
    Form,
    Forms,
    load_fields,
)
from review_pipeline.stages.extract.stage import (
    ACTION,
    CONSENSUS,
    CONSENSUS_COLUMNS,
    CONSENSUS_INFO,
    CONSENSUS_WHO,
    DEFAULT_FOLDER,
    FIELDS,
    INFO_COLUMNS,
    CellKey,
    Copy,
    Decided,
    Merged,
    merge,
)
from review_pipeline.store import audit_log, extraction
from review_pipeline.store import studies as study_store


def compare(db: Database, reviewers: int = 1) -> Merged:
    """The reviewers' disagreements (decided or not) and the rows still waiting, as of the
    last ``review extract``."""
    return merge(*loaded(db), reviewers)


def add_to_consensus(db: Database, folder: Path = DEFAULT_FOLDER, reviewers: int = 1) -> int:
    """Append every undecided disagreement to ``consensus.csv`` as a row to decide."""
    new = [{"table": d.table, "record_id": d.record_id, "row": d.row, "field": d.field,
            "values": " | ".join(f"{who}: {v or '(empty)'}" for who, v in d.values.items())}
           for d in compare(db, reviewers).disagreements if d.decided is None]
    added, _ = extend_sheet(folder / CONSENSUS, [*CONSENSUS_COLUMNS, *CONSENSUS_INFO], new,
                            ("table", "record_id", "row", "field"))
    return added


@dataclass(frozen=True)
class SheetResult:
    path: Path
    added: int
    kept: int


def write_sheets(db: Database, reviewer: str, folder: Path = DEFAULT_FOLDER,
                 fmt: str = "csv") -> list[SheetResult]:
    """Give ``reviewer`` one sheet per table, pre-filled with the included studies not in it
    yet; rows already there are kept as typed. A choice key field (such as the outcome)
    is pre-filled with each of its values, so the sheet reads as a form."""
    if not is_name(reviewer) or reviewer == CONSENSUS_WHO:
        raise InputError(f"reviewer name '{reviewer[:60]}' cannot name a folder",
                         fix=f"use {RULE} (e.g. alice)")
    forms = load_fields(folder / FIELDS)
    included = store.records_at(db, State.INCLUDED, ("record_id", "authors", "year", "title"),
                                by_year=True)
    # a report of another study is extracted in that study's rows
    study = study_store.study_of(db, [r["record_id"] for r in included])
    studies = [r for r in included if study[r["record_id"]] == r["record_id"]]
    results = []
    for form in forms:
        path = folder / reviewer / f"{form.name}.{fmt}"
        other = path.with_suffix(".xlsx" if fmt == "csv" else ".csv")
        if other.exists():
            raise InputError(f"{reviewer} already extracts '{form.name}' in {other}",
                             where=str(other),
                             fix=f"use --format {other.suffix[1:]}, or remove one of the files")
        spread = next((f for f in form.fields if f.key and f.type == "choice"), None)
        new = [{"record_id": s["record_id"], "citation": citation(s),
                **({spread.name: choice} if spread else {})}
               for s in studies for choice in (spread.choices if spread else ("",))]
        added, kept = extend_sheet(
            path, ["record_id", *INFO_COLUMNS, *(f.name for f in form.fields)], new,
            ("record_id",), choices={f.name: f.choices for f in form.fields if f.choices},
            notes={f.name: f"{f.describe()}. {f.help}".strip() for f in form.fields})
        results.append(SheetResult(path, added, kept))
    write_atomic(folder / reviewer / "help.md", help_text(forms).encode("utf-8"))
    return results


def citation(study: dict[str, Any]) -> str:
    """"First-author year: title", shortened: how a study is named in sheets and forms."""
    authors = json.loads(study["authors"] or "[]")
    first = authors[0].split(",")[0].split(" ")[0] if authors else "Anonymous"
    title = study["title"] or "(no title)"
    return f"{first} {study['year'] or 'n.d.'}: {title[:70]}"


def help_text(forms: Forms) -> str:
    """The forms in words, written beside a reviewer's sheets."""
    lines = ["# Extraction fields", "",
             f"Generated from `{FIELDS}`; edit that file, not this one. An empty cell or "
             f"`{NOT_REPORTED}` means not reported. A row with only its key filled is not "
             "read.", ""]
    for form in forms:
        keys = ", ".join(("record_id", *form.keys))
        lines += [f"## {form.name}", "", f"One row per {keys}.", "",
                  "| field | rules | help |", "| --- | --- | --- |"]
        lines += [f"| {f.name}{' (key)' if f.key else ''} | {f.describe()} | {f.help} |"
                  for f in form.fields]
        lines.append("")
    return "\n".join(lines)


def history(db: Database, study: str) -> tuple[str, list[dict[str, Any]]]:
    """The audit trail of one study (a record id, or its PMID or snapshot id alone)."""
    found = audit_log.entities(db, ACTION, study)
    if len(found) != 1:
        raise InputError(
            f"no extraction history for '{study}'" if not found else
            f"'{study}' names several studies: {', '.join(found)}",
            fix="give the study's record_id as in the extraction sheets")
    trail = [{**{k: r[k] for k in ("at", "actor", "entity", "field", "old", "new")},
              **json.loads(r["detail"])}
             for r in audit_log.trail(db, ACTION, found[0])]
    return found[0], trail


def summary(db: Database, reviewers: int = 1) -> dict[str, Any]:
    """What ``review status`` shows of the extraction."""
    forms, copies, decided = loaded(db)
    merged = merge(forms, copies, decided, reviewers)
    tables = {name: 0 for name in forms.tables} | merged.final.rows_per_table()
    return {"studies": merged.final.studies, "tables": tables,
            "reviewers": sorted(copies), "waiting": len(merged.waiting),
            "disagreements": len(merged.disagreements),
            "undecided": sum(d.decided is None for d in merged.disagreements)}


def copy_from_db(db: Database, who: str) -> dict[str, list[dict[str, str]]]:
    """A reviewer's loaded copy (or ``final``) as plain rows per table, in key order: what
    an export of the database gives back."""
    forms = _stored_forms(db)
    out: dict[str, list[dict[str, str]]] = {}
    if who == "final":
        for form, names in forms.items():
            out[form] = [{k: value_text(v) for k, v in row.items()}
                         for row in extraction.form_rows(db, form, names)]
        return out
    rows: dict[tuple[str, str, str], dict[str, str]] = {}
    for cell in extraction.cells(db, who):
        rows.setdefault((cell["table_name"], cell["record_id"], cell["row"]),
                        {"record_id": cell["record_id"]})[cell["field"]] = cell["value"]
    for (t, _, _), row in sorted(rows.items()):
        out.setdefault(t, []).append({n: row.get(n, "") for n in ["record_id", *forms[t]]})
    return out


def _stored_forms(db: Database) -> dict[str, list[str]]:
    forms: dict[str, list[str]] = {}
    for f in extraction.fields(db):
        forms.setdefault(f["table_name"], []).append(f["field"])
    return forms


def loaded(db: Database) -> tuple[Forms, dict[str, Copy], dict[CellKey, Decided]]:
    """The forms, reviewers' copies and consensus cells as the last load stored them."""
    fields: dict[str, list[Field]] = {}
    for r in extraction.fields(db):
        fields.setdefault(r["table_name"], []).append(Field(
            r["table_name"], r["field"], r["type"], key=bool(r["key"]),
            compare=bool(r["compare"])))
    forms = Forms(Path(FIELDS), {t: Form(t, tuple(fs)) for t, fs in fields.items()})
    copies: dict[str, Copy] = {}
    decided: dict[CellKey, Decided] = {}
    for r in extraction.cells(db):
        key = (r["table_name"], r["record_id"], r["row"])
        if r["reviewer"] == CONSENSUS_WHO:
            decided[(*key, r["field"])] = Decided(r["value"], r["file"], r["line"])
            continue
        copy = copies.setdefault(r["reviewer"], Copy(r["reviewer"]))
        copy.rows.setdefault(key, {})[r["field"]] = r["value"]
        copy.where[key] = (r["file"], r["line"])
    return forms, copies, decided

