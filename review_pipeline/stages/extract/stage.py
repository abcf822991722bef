"""Reading, checking, merging and storing the extraction sheets, with the audit trail."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlite_utils import Database

from review_pipeline import layout, store
from review_pipeline.formats.sheets import SUFFIXES, read_present, read_sheet
from review_pipeline.model.errors import InputError, Problems
from review_pipeline.model.names import is_name
from review_pipeline.model.state import State
from review_pipeline.stages.extract.fields import (
    NOT_REPORTED,
    SQL_TYPES,
    Field,
    Form,
    Forms,
    fields_rows,
    load_fields,
    parse,
    typed,
)
from review_pipeline.stages.extract.links import Link, read_links, study_ids
from review_pipeline.stages.trail import Key, Trail, Value
from review_pipeline.store import extraction
from review_pipeline.store import studies as study_store
from review_pipeline.store.extraction import FormTable

DEFAULT_FOLDER = layout.EXTRACTION
FIELDS = layout.FIELDS
CONSENSUS = layout.CONSENSUS
AUDIT = layout.AUDIT
STUDY_REPORTS = layout.STUDY_REPORTS
CONSENSUS_WHO = "consensus"
INFO_COLUMNS = ("citation",)
"""Columns a sheet may carry for the reviewer's eyes; they are not read back."""
CONSENSUS_COLUMNS = ("table", "record_id", "row", "field", "value", "note")
CONSENSUS_INFO = ("values",)
ACTION = "extraction"
SIDE_BY_SIDE = " | "
"""Joins reviewers' different values of a field that is not compared (such as notes)."""
_DECIMAL_COMMA = re.compile(r"^-?\d+,\d+\s*%?$")

RowKey = tuple[str, str, str]
"""(table, record_id, row label): one row of one table, as :meth:`Form.row_label` names it."""
CellKey = tuple[str, str, str, str]
"""(table, record_id, row label, field)."""


@dataclass
class Copy:
    """One reviewer's tables (or the final ones): canonical cell values by row."""

    who: str
    rows: dict[RowKey, dict[str, str]] = field(default_factory=dict)
    where: dict[RowKey, tuple[str, int]] = field(default_factory=dict)
    """The file and line each row came from."""

    def rows_per_table(self) -> dict[str, int]:
        return dict(Counter(table for table, _, _ in self.rows))

    @property
    def studies(self) -> int:
        return len({record_id for _, record_id, _ in self.rows})


@dataclass(frozen=True)
class Decided:
    value: str
    file: str
    line: int


@dataclass(frozen=True)
class Disagreement:
    table: str
    record_id: str
    row: str
    field: str
    values: dict[str, str]
    """Each reviewer's value ("" when the cell or row is empty in their copy)."""
    decided: str | None
    """The consensus value, or None while undecided."""


@dataclass
class Merged:
    final: Copy
    disagreements: list[Disagreement]
    waiting: list[tuple[str, str, tuple[str, ...]]]
    """(table, record_id, reviewers who filled it) for rows still awaiting a reviewer."""


@dataclass
class ExtractResult:
    tables: dict[str, int]
    """Final rows per table."""
    copies: dict[str, int]
    """Filled rows per reviewer."""
    studies: int
    changed_cells: int
    waiting: int
    disagreements: int
    unresolved: int


_FIX = "correct those cells and run `make extract` again"


def run(db: Database, folder: Path = DEFAULT_FOLDER, reviewers: int = 1) -> ExtractResult:
    """Validate every sheet in ``folder`` and load them, with the final tables merged from
    the reviewers' copies and ``consensus.csv``, in one transaction."""
    included, known = _studies(db)
    problems = Problems()
    links = read_links(folder / STUDY_REPORTS, included, known, problems)
    problems.fail(str(folder / STUDY_REPORTS), "correct those rows and run `make extract` again")
    studies = study_ids(included, links)
    if not (folder / FIELDS).exists():
        if any(p.suffix in SUFFIXES and p.name != STUDY_REPORTS for p in folder.rglob("*")
               ) if folder.is_dir() else False:
            raise InputError("extraction sheets but no field definitions",
                             where=str(folder / FIELDS),
                             fix="write fields.csv (see extracted/README.md)")
        with db.atomic():
            _store_links(db, folder / STUDY_REPORTS, links)
        return ExtractResult({}, {}, 0, 0, 0, 0, 0)
    forms = load_fields(folder / FIELDS)
    copies = read_copies(folder, forms, studies, known, problems,
                         lambda record_id: store.missing_record(db, record_id))
    decided = read_consensus(folder / CONSENSUS, forms, copies, problems)
    problems.fail(f"the extraction sheets and {folder / CONSENSUS}", _FIX)
    merged = merge(forms, copies, decided, reviewers)
    check_rows(forms, merged.final, problems, f"the merged tables ({folder / CONSENSUS})")
    problems.fail("the merged tables", _FIX)
    trail = Trail(folder / AUDIT, ACTION, "table", "extract")
    with db.atomic():
        changes = trail.record(db, trail.reconcile(db), _held(copies, decided))
        _store(db, forms, copies, decided, merged.final)
        _store_links(db, folder / STUDY_REPORTS, links)
    return ExtractResult(
        merged.final.rows_per_table(), {who: len(c.rows) for who, c in copies.items()},
        merged.final.studies, len(changes), len(merged.waiting),
        len(merged.disagreements), sum(d.decided is None for d in merged.disagreements))


def _store_links(db: Database, path: Path, links: dict[str, Link]) -> None:
    study_store.replace_links(db, [
        {"record_id": k.record_id, "study_id": k.study, "cohort": k.cohort or None,
         "note": k.note or None, "file": str(path), "line": k.line} for k in links.values()])


def _studies(db: Database) -> tuple[set[str], set[str]]:
    included = {r["record_id"] for r in store.records_at(db, State.INCLUDED, ("record_id",))}
    return included, store.record_ids(db)


def read_copies(folder: Path, forms: Forms, studies: dict[str, str], known: set[str],
                problems: list[str],
                unknown_record: Callable[[str], str] = lambda rid: f"no study '{rid}' in the "
                "review") -> dict[str, Copy]:
    """Every reviewer's sheets under ``folder``, checked cell by cell and across tables;
    ``studies`` gives each included record's study, and ``unknown_record`` says why a record
    is not in the review."""
    copies: dict[str, Copy] = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not is_name(sub.name) or sub.name == CONSENSUS_WHO:
            problems.append(f"{sub}: '{sub.name}' cannot name a reviewer (lower-case letters, "
                            f"digits, - and _; not '{CONSENSUS_WHO}')")
            continue
        copy = Copy(sub.name)
        sheets = sorted(p for p in sub.iterdir() if p.suffix.lower() in SUFFIXES)
        stems = [p.stem for p in sheets]
        for path in sheets:
            form = forms.tables.get(path.stem)
            if form is None:
                problems.append(f"{path}: no table '{path.stem}' in {forms.path.name} "
                                f"(tables: {', '.join(forms.tables)})")
            elif stems.count(path.stem) > 1:
                problems.append(f"{path}: {sub.name} has both a CSV and an XLSX of "
                                f"'{path.stem}'; keep one")
            else:
                _read_table(path, form, copy, studies, known, problems, unknown_record)
        check_rows(forms, copy, problems)
        copies[sub.name] = copy
    return copies


def _read_table(path: Path, form: Form, copy: Copy, studies: dict[str, str],
                known: set[str], problems: list[str],
                unknown_record: Callable[[str], str]) -> None:
    try:
        sheet = read_sheet(path)
    except InputError as exc:
        problems.append(exc.one_line())
        return
    if not _header_ok(path, form, sheet.header, problems):
        return
    for row in sheet.rows:
        where = f"{path}, line {row.line}"
        if row.extra_cells:
            problems.append(f"{where}: more cells than columns")
            continue
        if not any(row.values.get(name) for name in form.values):
            continue  # a pre-filled row nobody has started
        record_id = row.values["record_id"]
        if record_id not in known:
            problems.append(f"{where}, column 'record_id': {unknown_record(record_id)}")
            continue
        if record_id not in studies:
            problems.append(f"{where}, column 'record_id': '{record_id}' is not an included "
                            "study; remove the row or include the record at full text")
            continue
        if studies[record_id] != record_id:
            problems.append(f"{where}, column 'record_id': '{record_id}' is a report of the "
                            f"study '{studies[record_id]}' ({STUDY_REPORTS}); give its data "
                            "in that study's rows")
            continue
        values = _parse_row(form, row.values, where, problems, sheet.decimal_comma)
        key = (form.name, record_id, form.row_label(values))
        if key in copy.rows:
            first = copy.where[key][1]
            problems.append(f"{where}: the same row as line {first} (record_id {record_id}"
                            + (f", {key[2]}" if key[2] else "") + "); a row's key must be "
                            "unique")
            continue
        copy.rows[key] = values
        copy.where[key] = (str(path), row.line)


def _header_ok(path: Path, form: Form, header: list[str], problems: list[str]) -> bool:
    allowed = {"record_id", *INFO_COLUMNS, *(f.name for f in form.fields)}
    unknown = [c for c in header if c not in allowed]
    for column in unknown:
        problems.append(f"{path}, line 1, column '{column}': not a field of '{form.name}' "
                        f"(fields: {', '.join(f.name for f in form.fields)})")
    absent = [c for c in ("record_id", *form.keys) if c not in header]
    if absent:
        problems.append(f"{path}, line 1: missing the key column(s) {', '.join(absent)}")
    return not unknown and not absent


def _parse_row(form: Form, cells: dict[str, str], where: str, problems: list[str],
               decimal_comma: bool = False) -> dict[str, str]:
    """A row's canonical values; ``decimal_comma`` reads "12,5" as 12.5 in number fields
    (a sheet Excel saved with semicolons, in a locale that writes decimals so)."""
    values = {}
    for f in form.fields:
        raw = cells.get(f.name, "")
        if decimal_comma and f.type in SQL_TYPES and _DECIMAL_COMMA.match(raw):
            raw = raw.replace(",", ".")
        value, why = parse(f, raw)
        if why:
            problems.append(f"{where}, column '{f.name}': '{raw}' {why}")
            value = ""  # reported; the checks across rows must not trip on it
        elif f.required and not value:
            problems.append(f"{where}, column '{f.name}': required, but empty"
                            + (f" or {NOT_REPORTED}" if raw else ""))
        elif f.key and ";" in value:
            problems.append(f"{where}, column '{f.name}': a key value cannot hold ';'")
        values[f.name] = value
    return values


def check_rows(forms: Forms, copy: Copy, problems: list[str], where_all: str = "") -> None:
    """The checks across rows and tables: a value not above the field ``max`` names, a text
    value among the study's values of the field ``values`` names."""
    values_of: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for (table, record_id, _), values in copy.rows.items():
        for name, value in values.items():
            values_of[(table, name, record_id)].add(value)
    for key, values in copy.rows.items():
        for f in forms.tables[key[0]].fields:
            value = values.get(f.name, "")
            if not value:
                continue
            why = _cross_check(forms, copy, key, values, f, value, values_of)
            if why:
                file, line = copy.where.get(key, ("", 0))
                place = where_all or f"{file}, line {line}"
                problems.append(f"{place}, column '{f.name}': '{value}' {why}"
                                + (f" ({key[0]}, {key[1]})" if where_all else ""))


def _cross_check(forms: Forms, copy: Copy, key: RowKey, values: dict[str, str], f: Field,
                 value: str, values_of: dict[tuple[str, str, str], set[str]]) -> str:
    if f.at_most:
        table, name = f.at_most
        other = values if table == key[0] else _row_of(forms, copy, table, key[1], values)
        limit = (other or {}).get(name, "")
        if limit and float(value) > float(limit):
            return f"is more than {name if table == key[0] else f'{table}.{name}'} ({limit})"
    if f.one_of:
        allowed = values_of.get((*f.one_of, key[1]), set())
        if value not in allowed:
            return (f"is not one of the study's {'.'.join(f.one_of)} values "
                    f"({', '.join(sorted(a for a in allowed if a)) or 'none yet'})")
    return ""


def _row_of(forms: Forms, copy: Copy, table: str, record_id: str,
            values: dict[str, str]) -> dict[str, str] | None:
    label = forms.tables[table].row_label(values)
    return copy.rows.get((table, record_id, label))


def read_consensus(path: Path, forms: Forms, copies: dict[str, Copy],
                   problems: list[str]) -> dict[CellKey, Decided]:
    """The consensus file's decided cells; a row with an empty value is still to decide."""
    sheet = read_present(path, problems)
    if sheet is None:
        return {}
    missing = [c for c in CONSENSUS_COLUMNS if c not in sheet.header and c != "note"]
    unknown = [c for c in sheet.header if c not in (*CONSENSUS_COLUMNS, *CONSENSUS_INFO)]
    if missing or unknown:
        problems.append(f"{path}, line 1: expected the columns {', '.join(CONSENSUS_COLUMNS)}"
                        + (f"; unknown {', '.join(unknown)}" if unknown else ""))
        return {}
    rows = {key for copy in copies.values() for key in copy.rows}
    decided: dict[CellKey, Decided] = {}
    for row in sheet.rows:
        v, where = row.values, f"{path}, line {row.line}"
        if not v["value"]:
            continue
        f = forms.field(v["table"], v["field"])
        key = (v["table"], v["record_id"], v["row"])
        if f is None:
            problems.append(f"{where}: no field '{v['field']}' in table '{v['table']}'")
            continue
        if f.key:
            problems.append(f"{where}: '{v['field']}' is part of the row's key; to drop a "
                            "row, decide its other fields as NR")
            continue
        if key not in rows:
            problems.append(f"{where}: no reviewer has the row {v['table']}, {v['record_id']}"
                            + (f", {v['row']}" if v["row"] else ""))
            continue
        value, why = parse(f, v["value"])
        if why:
            problems.append(f"{where}, column 'value': '{v['value']}' {why}")
            continue
        cell = (*key, v["field"])
        if cell in decided:
            problems.append(f"{where}: the same cell as line {decided[cell].line}")
            continue
        decided[cell] = Decided(value, str(path), row.line)
    return decided


def merge(forms: Forms, copies: dict[str, Copy], decided: dict[CellKey, Decided],
          needed: int) -> Merged:
    """The final tables: where the reviewers' copies agree, their value; where they differ,
    the consensus value, or an empty cell while undecided. A decided cell wins even where
    the copies agree, so a third reviewer can correct both."""
    studies: dict[tuple[str, str], dict[str, dict[str, dict[str, str]]]] = defaultdict(dict)
    for who, copy in copies.items():
        for (table, record_id, label), values in copy.rows.items():
            studies[(table, record_id)].setdefault(who, {})[label] = values
    merged = Merged(Copy("final"), [], [])
    for (table, record_id), by_who in sorted(studies.items()):
        if len(by_who) < needed:
            merged.waiting.append((table, record_id, tuple(by_who)))
            continue
        for label in sorted({label for rows in by_who.values() for label in rows}):
            key = (table, record_id, label)
            mine = {who: rows.get(label) for who, rows in by_who.items()}
            row = _merge_row(forms.tables[table], key, mine, decided, merged.disagreements)
            if any(row[name] for name in forms.tables[table].values):
                merged.final.rows[key] = row
                merged.final.where[key] = next(copies[w].where[key] for w in mine if mine[w])
    return merged


def _merge_row(form: Form, key: RowKey, mine: dict[str, dict[str, str] | None],
               decided: dict[CellKey, Decided], disagreements: list[Disagreement],
               ) -> dict[str, str]:
    first = next(v for v in mine.values() if v is not None)
    row = {name: first[name] for name in form.keys}
    for f in form.fields:
        if f.key:
            continue
        values = {who: (v or {}).get(f.name, "") for who, v in mine.items()}
        cell = decided.get((*key, f.name))
        differ = f.compare and len(set(values.values())) > 1
        if cell:
            row[f.name] = cell.value
        elif not f.compare:
            row[f.name] = SIDE_BY_SIDE.join(dict.fromkeys(v for v in values.values() if v))
        else:
            row[f.name] = "" if differ else first.get(f.name, "")
        if differ:
            disagreements.append(Disagreement(*key, f.name, values,
                                              cell.value if cell else None))
    return row


def _held(copies: dict[str, Copy], decided: dict[CellKey, Decided]) -> dict[Key, Value]:
    """Every cell the sheets hold now, in sheet order, and where."""
    held: dict[Key, Value] = {}
    for who, copy in copies.items():
        for (table, record_id, label), values in copy.rows.items():
            file, line = copy.where[(table, record_id, label)]
            for name, value in values.items():
                held[(who, table, record_id, label, name)] = (value, file, line)
    for (table, record_id, label, name), cell in decided.items():
        held[(CONSENSUS_WHO, table, record_id, label, name)] = (cell.value, cell.file,
                                                                cell.line)
    return held


def _store(db: Database, forms: Forms, copies: dict[str, Copy],
           decided: dict[CellKey, Decided], final: Copy) -> None:
    cells = [{"table_name": t, "record_id": rid, "row": label, "reviewer": who, "field": name,
              "value": value, "file": copy.where[(t, rid, label)][0],
              "line": copy.where[(t, rid, label)][1]}
             for who, copy in copies.items()
             for (t, rid, label), values in copy.rows.items() for name, value in values.items()]
    cells += [{"table_name": t, "record_id": rid, "row": label, "reviewer": CONSENSUS_WHO,
               "field": name, "value": d.value, "file": d.file, "line": d.line}
              for (t, rid, label, name), d in decided.items()]
    extraction.replace(db, fields_rows(forms), cells, [
        FormTable(form.name, [(f.name, SQL_TYPES.get(f.type, "TEXT")) for f in form.fields],
                  form.keys,
                  [{"record_id": rid, **{f.name: typed(f, values[f.name]) for f in form.fields}}
                   for (t, rid, _), values in sorted(final.rows.items()) if t == form.name])
        for form in forms])


