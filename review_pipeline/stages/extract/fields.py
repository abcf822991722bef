"""The extraction forms as data: ``extracted/extraction/fields.csv`` defines each table's
fields (type, allowed values, required, key, range, unit, help), and this module reads it
and turns what a reviewer typed into a checked, canonical value.

A table is named by its rows in ``fields.csv``; every table is keyed by ``record_id`` (an
included study) and by its fields marked ``key``. A ``max`` may name another field instead
of a number: ``patients`` (the same row) or ``studies.patients`` (the row of that table
for the same study), so that an arm cannot hold more patients than its study.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from review_pipeline.formats.sheets import read_sheet
from review_pipeline.model.errors import InputError
from review_pipeline.model.names import MAX_LENGTH, is_identifier
from review_pipeline.model.text import number_text

TYPES = ("integer", "number", "percent", "text", "choice", "date")
SQL_TYPES = {"integer": "INTEGER", "number": "REAL", "percent": "REAL"}
COLUMNS = ("table", "field", "type", "values", "required", "key", "compare", "min", "max",
           "unit", "help")
NOT_REPORTED = "NR"
"""Typed in a cell (or a consensus value), it means "not reported": the cell is empty."""

_REFERENCE = re.compile(r"^(?:([a-z][a-z0-9_]*)\.)?([a-z][a-z0-9_]*)$")
_NUMBER = re.compile(r"^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_YES = {"yes": True, "y": True, "true": True, "1": True,
        "no": False, "n": False, "false": False, "0": False, "": False}
RESERVED = frozenset({
    "search_runs", "batches", "records", "batch_records", "clusters", "verdicts", "decisions",
    "audit_log", "dedup_pairs", "dedup_runs", "resolutions", "stage_outcomes",
    "extraction_fields", "extraction_cells", "fields", "consensus", "audit",
})
"""Names a table cannot take: the pipeline's own tables, and the extraction folder's files."""


@dataclass(frozen=True)
class Field:
    table: str
    name: str
    type: str
    choices: tuple[str, ...] = ()
    required: bool = False
    key: bool = False
    minimum: float | None = None
    maximum: float | None = None
    at_most: tuple[str, str] | None = None
    """(table, field) whose value this one may not exceed; table is this one's own for a
    field of the same row."""
    one_of: tuple[str, str] | None = None
    """(table, field): a text value must be one of that field's values for the same study."""
    unit: str = ""
    help: str = ""
    compare: bool = True
    """False for free text such as notes: reviewers' values are kept side by side in the
    final table instead of having to agree."""

    def describe(self) -> str:
        """The field's rules in words, for sheet headers and help."""
        parts = [self.type + (f" ({self.unit})" if self.unit else "")]
        if self.choices:
            parts.append("one of: " + " | ".join(self.choices))
        if self.one_of:
            parts.append("one of the study's " + ".".join(self.one_of))
        if self.minimum is not None or self.maximum is not None or self.at_most:
            low = "" if self.minimum is None else number_text(self.minimum)
            high = ("" if self.maximum is None else number_text(self.maximum))
            if self.at_most:
                high = ".".join(self.at_most) if self.at_most[0] != self.table \
                    else self.at_most[1]
            parts.append(f"from {low or '...'} to {high or '...'}")
        if self.required:
            parts.append("required")
        return "; ".join(parts)


@dataclass(frozen=True)
class Form:
    """One extraction table: its fields in sheet order."""

    name: str
    fields: tuple[Field, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.key)

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if not f.key)

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def row_label(self, row: dict[str, str]) -> str:
        """The row's key apart from record_id, as ``name=value; ...`` (empty for a table
        with one row per study)."""
        return "; ".join(f"{k}={row.get(k, '')}" for k in self.keys)


@dataclass(frozen=True)
class Forms:
    path: Path
    tables: dict[str, Form] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Form]:
        return iter(self.tables.values())

    def field(self, table: str, name: str) -> Field | None:
        form = self.tables.get(table)
        return form.field(name) if form else None


def load_fields(path: Path) -> Forms:
    """Read ``fields.csv``; every problem in it is reported at once, naming its line."""
    if not path.is_file():
        raise InputError("there are no field definitions (fields.csv): the extraction forms",
                         where=str(path),
                         fix="write fields.csv (see extracted/README.md); `review init` makes a "
                             "new review with a generic intervention-review form to start from")
    sheet = read_sheet(path)
    problems: list[str] = []
    missing = [c for c in ("table", "field", "type") if c not in sheet.header]
    unknown = [c for c in sheet.header if c not in COLUMNS]
    if missing or unknown:
        raise InputError(
            f"expected the columns {', '.join(COLUMNS)}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(unknown)}" if unknown else ""),
            where=f"{path}, line 1", fix="rename the columns as listed")
    rows: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for row in sheet.rows:
        rows.setdefault(row.values["table"], []).append((row.line, row.values))
    tables: dict[str, Form] = {}
    for table, lines in rows.items():
        where = f"{path}, line {lines[0][0]}"
        if not is_identifier(table) or table in RESERVED or table.startswith("records"):
            problems.append(f"{where}: '{table[:60]}' cannot name a table (lower-case "
                            f"letters, digits and _, a letter first, at most {MAX_LENGTH}; "
                            f"not one of {', '.join(sorted(RESERVED))} nor records_...)")
            continue
        seen: set[str] = set()
        fields = []
        for line, values in lines:
            made = _field(table, values, f"{path}, line {line}", problems)
            if made is None:
                continue
            if made.name in seen or made.name == "record_id":
                problems.append(f"{path}, line {line}: field '{made.name}' is defined twice "
                                f"in table '{table}' (record_id is every table's own)")
            seen.add(made.name)
            fields.append(made)
        tables[table] = Form(table, tuple(fields))
    if not tables and not problems:
        problems.append(f"{path}: no field is defined")
    forms = Forms(path, tables)
    _check_references(forms, problems)
    if problems:
        raise InputError(f"{len(problems)} problem(s) in the field definitions:\n  "
                         + "\n  ".join(problems),
                         fix="correct fields.csv; see extracted/README.md for its columns")
    return forms


def _field(table: str, v: dict[str, str], where: str, problems: list[str]) -> Field | None:
    name, kind = v["field"], v["type"].lower()
    if not is_identifier(name):
        problems.append(f"{where}: field '{name[:60]}' must be lower-case letters, digits and "
                        f"_, a letter first, at most {MAX_LENGTH}")
        return None
    if kind not in TYPES:
        problems.append(f"{where}: type '{v['type']}' of field '{name}' is not one of "
                        f"{', '.join(TYPES)}")
        return None
    choices, one_of = _values(kind, name, v.get("values", ""), where, problems)
    flags = {}
    for flag, default in (("required", "no"), ("key", "no"), ("compare", "yes")):
        text = v.get(flag, "").lower() or default
        if text not in _YES:
            problems.append(f"{where}: {flag} must be yes or no; got '{v[flag]}'")
        flags[flag] = _YES.get(text, False)
    if flags["key"] and not flags["compare"]:
        problems.append(f"{where}: key field '{name}' must be compared")
    low, high, at_most = _bounds(table, kind, name, v, where, problems)
    return Field(table, name, kind, choices, flags["required"], flags["key"], low, high,
                 at_most, one_of, v.get("unit", ""), v.get("help", ""), flags["compare"])


def _values(kind: str, name: str, text: str, where: str, problems: list[str],
            ) -> tuple[tuple[str, ...], tuple[str, str] | None]:
    choices = tuple(c.strip() for c in text.split("|") if c.strip())
    if kind == "text" and choices:
        ref = _REFERENCE.match(choices[0])
        if len(choices) == 1 and ref and ref.group(1):
            return (), (ref.group(1), ref.group(2))
        problems.append(f"{where}: values of text field '{name}' can only name a field such "
                        "as arms.arm; make it a choice field to list values")
    elif choices and kind != "choice":
        problems.append(f"{where}: values apply to choice fields, not to '{name}' ({kind})")
    elif kind == "choice" and not choices:
        problems.append(f"{where}: choice field '{name}' lists no values (separate them "
                        "with |)")
    return choices, None


def _bounds(table: str, kind: str, name: str, v: dict[str, str], where: str,
            problems: list[str]) -> tuple[float | None, float | None, tuple[str, str] | None]:
    bounds: dict[str, float | None] = {"min": None, "max": None}
    at_most = None
    for side in bounds:
        text = v.get(side, "")
        if not text:
            continue
        if _NUMBER.match(text):
            bounds[side] = float(text)
        elif side == "max" and (ref := _REFERENCE.match(text)):
            at_most = (ref.group(1) or table, ref.group(2))
        else:
            problems.append(f"{where}: {side} of '{name}' must be a number"
                            + (" or a field such as studies.patients" if side == "max"
                               else "") + f"; got '{text}'")
    if (bounds["min"] is not None or bounds["max"] is not None or at_most) and \
            kind not in SQL_TYPES:
        problems.append(f"{where}: min and max apply to integer, number and percent fields, "
                        f"not to '{name}' ({kind})")
    return bounds["min"], bounds["max"], at_most


def _check_references(forms: Forms, problems: list[str]) -> None:
    for form in forms:
        for f in form.fields:
            if f.one_of and forms.field(*f.one_of) is None:
                problems.append(f"{forms.path}: values of {form.name}.{f.name} name "
                                f"{'.'.join(f.one_of)}, which is not defined")
            if f.at_most is None:
                continue
            table, name = f.at_most
            other = forms.field(table, name)
            if other is None or other.type not in SQL_TYPES:
                problems.append(f"{forms.path}: max of {form.name}.{f.name} names "
                                f"{table}.{name}, which is not a numeric field")
            elif table != form.name and not set(forms.tables[table].keys) <= set(form.keys):
                problems.append(f"{forms.path}: max of {form.name}.{f.name} names a field "
                                f"of {table}, whose rows are keyed by more than this "
                                "table's key")


def parse(f: Field, text: str) -> tuple[str, str]:
    """The canonical form of ``text`` for field ``f``, and why it does not fit (or "")."""
    text = text.strip()
    if text.upper() == NOT_REPORTED or not text:
        return "", ""
    if f.type == "text":
        return text, ""
    if f.type == "choice":
        for choice in f.choices:
            if text.casefold() == choice.casefold():
                return choice, ""
        return text, "is not one of " + " | ".join(f.choices)
    if f.type == "date":
        return _parse_date(text)
    return _parse_number(f, text.removesuffix("%").strip() if f.type == "percent" else text)


def _parse_number(f: Field, text: str) -> tuple[str, str]:
    if "," in text and _NUMBER.match(text.replace(",", ".")):
        return text, "uses a comma; write decimals with a point (12.5)"
    if not _NUMBER.match(text) or (f.type == "integer" and not re.fullmatch(r"-?\d+", text)):
        return text, "is not " + {"integer": "a whole number", "number": "a number",
                                  "percent": "a percentage (0 to 100)"}[f.type]
    number = float(text)
    if not math.isfinite(number):
        return text, "is not a finite number"
    low, high = f.minimum, f.maximum
    if f.type == "percent":
        low = 0.0 if low is None else max(low, 0.0)
        high = 100.0 if high is None else min(high, 100.0)
    if (low is not None and number < low) or (high is not None and number > high):
        return text, (f"is outside {number_text(low) if low is not None else '...'} to "
                      f"{number_text(high) if high is not None else '...'}")
    return (str(int(text)) if f.type == "integer" else number_text(number)), ""


def _parse_date(text: str) -> tuple[str, str]:
    found = _DATE.match(text)
    try:
        if found is None:
            raise ValueError
        year, month, day = (int(g) if g else 1 for g in found.groups())
        date(year, month, day)
    except ValueError:
        return text, "is not a date (YYYY, YYYY-MM or YYYY-MM-DD)"
    return text, ""


def typed(f: Field, canonical: str) -> int | float | str | None:
    """A canonical value as SQLite should hold it."""
    if canonical == "":
        return None
    if f.type == "integer":
        return int(canonical)
    if f.type in ("number", "percent"):
        return float(canonical)
    return canonical


def fields_rows(forms: Forms) -> Sequence[dict[str, object]]:
    """The definitions as rows of the ``extraction_fields`` table."""
    return [{"table_name": f.table, "field": f.name, "position": i, "type": f.type,
             "choices": " | ".join(f.choices), "required": f.required, "key": f.key,
             "min": f.minimum, "max": f.maximum,
             "at_most": ".".join(f.at_most) if f.at_most else None,
             "one_of": ".".join(f.one_of) if f.one_of else None,
             "compare": f.compare, "unit": f.unit, "help": f.help}
            for form in forms for i, f in enumerate(form.fields)]
