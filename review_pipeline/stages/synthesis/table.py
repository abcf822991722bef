"""Studies from a plain CSV, for ``review meta``: one row per study, its kind of data told
by its columns. Every value is checked, and a wrong one is named by line and column."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

from review_pipeline.formats.base import read_text
from review_pipeline.model.effects import MEASURES, Kind
from review_pipeline.model.errors import InputError, Problems
from review_pipeline.model.text import excerpt
from review_pipeline.stages.synthesis.measures import Study
from review_pipeline.stages.synthesis.models import Z

COLUMNS: dict[Kind, tuple[str, ...]] = {
    "proportion": ("events", "total"),
    "two_arms": ("events_1", "total_1", "events_2", "total_2"),
    "generic": ("estimate",),
}
DEFAULT_MEASURE: dict[Kind, str] = {"proportion": "PLO", "two_arms": "RR", "generic": "GEN"}


@dataclass(frozen=True)
class Table:
    studies: list[Study]
    kind: Kind
    ratio: bool

    def default_measure(self) -> str:
        return DEFAULT_MEASURE[self.kind]


def read_studies(path: Path, by: str | None = None, ratio: bool = False) -> Table:
    """The studies of the CSV at ``path``: columns ``study,events,total`` (one arm),
    ``study,events_1,total_1,events_2,total_2`` (two arms), or ``study,estimate,se`` or
    ``study,estimate,ci_low,ci_high`` (generic; with ``ratio``, the estimates and limits
    are ratios, pooled as logarithms, and ``se`` is that of the logarithm). ``by`` names
    the column that groups them."""
    where = str(path)
    if not path.is_file():
        raise InputError("no such file", where=where, fix="check the path to the CSV")
    try:
        reader = csv.reader(io.StringIO(read_text(path), newline=""), strict=True)
        header = [c.strip() for c in next(reader, [])]
        lines = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except csv.Error as exc:
        raise InputError(f"not a well-formed CSV ({excerpt(str(exc))})",
                         where=f"{where}, line {reader.line_num}",
                         fix="save the table as CSV again") from None
    _check_header(header, lines, by, where)
    kind = next(k for k, cols in COLUMNS.items() if all(c in header for c in cols))
    problems = Problems()
    studies = []
    for line, cells in lines:
        if len(cells) > len(header):
            problems.append(f"{where}, line {line}: {len(cells)} cells under a header of "
                            f"{len(header)} columns")
            continue
        row = {name: value.strip() for name, value in zip(header, cells, strict=False)}
        study = _study(row, kind, by, ratio, f"{where}, line {line}", problems)
        if study:
            studies.append(study)
    problems.fail(path.name, fix="correct those values in the file",
                  outcome="nothing was pooled")
    return Table(studies, kind, ratio)


def _check_header(header: list[str], lines: list[tuple[int, list[str]]], by: str | None,
                  where: str) -> None:
    kind = next((k for k, cols in COLUMNS.items() if all(c in header for c in cols)), None)
    fix = ("name the columns study,events,total (proportions), study,events_1,total_1,"
           "events_2,total_2 (two arms) or study,estimate,se (generic)")
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise InputError(f"the header names {', '.join(excerpt(c) for c in twice)} twice",
                         where=where, fix="give each column one name")
    if "study" not in header or kind is None:
        raise InputError(f"cannot tell the kind of data from the columns "
                         f"{excerpt(', '.join(header), 200)}", where=where, fix=fix)
    if not lines:
        raise InputError("no studies: the file has no rows under its header", where=where,
                         fix=fix)
    if kind == "generic" and "se" not in header and not {"ci_low", "ci_high"} <= set(header):
        raise InputError("an estimate needs its standard error (se) or its confidence "
                         "interval (ci_low, ci_high)", where=where, fix="add those columns")
    if by is not None and by not in header:
        raise InputError(f"no column '{excerpt(by)}' to group by", where=where,
                         fix=f"use one of: {', '.join(header)}")


def _study(row: dict[str, str], kind: Kind, by: str | None, ratio: bool, where: str,
           problems: Problems) -> Study | None:
    label = row.get("study", "")
    if not label:
        problems.append(f"{where}: no study name")
        return None
    group = row.get(by, "") if by else ""
    if by and not group:
        problems.append(f"{where}: study '{excerpt(label)}' has no value in '{by}'")
    values: dict[str, float] = {}
    for column in (c for c in (*COLUMNS[kind], "se", "ci_low", "ci_high") if row.get(c)):
        try:
            values[column] = float(row[column])
        except ValueError:
            problems.append(f"{where}, column {column}: '{excerpt(row[column])}' is not a "
                            "number")
            return None
        if not math.isfinite(values[column]):
            problems.append(f"{where}, column {column}: '{excerpt(row[column])}' is not a "
                            "finite number")
            return None
    missing = [c for c in COLUMNS[kind] if c not in values]
    if missing:
        problems.append(f"{where}: study '{excerpt(label)}' has no {', '.join(missing)}")
        return None
    if kind == "generic":
        return _generic(label, values, ratio, group, where, problems)
    arms = [("events", "total")] if kind == "proportion" else [("events_1", "total_1"),
                                                                ("events_2", "total_2")]
    for events, total in arms:
        x, n = values[events], values[total]
        if n <= 0 or x < 0 or x > n or x != int(x) or n != int(n):
            problems.append(f"{where}: study '{excerpt(label)}' has {events} {x:g} of "
                            f"{total} {n:g}; expected whole numbers, 0 <= events <= total, "
                            "total > 0")
            return None
    if kind == "proportion":
        return Study(label, values["events"], values["total"], group=group)
    return Study(label, values["events_1"], values["total_1"], values["events_2"],
                 values["total_2"], group=group)


def _generic(label: str, values: dict[str, float], ratio: bool, group: str, where: str,
             problems: Problems) -> Study | None:
    estimate = values["estimate"]
    bounds = [values[c] for c in ("ci_low", "ci_high") if c in values]
    if ratio and min(estimate, *bounds) <= 0:
        problems.append(f"{where}: study '{excerpt(label)}' has a ratio (or a limit) of 0 or "
                        "less; a ratio is positive")
        return None
    scale = math.log if ratio else float
    if "se" in values:
        se = values["se"]
    elif len(bounds) == 2 and bounds[0] < estimate < bounds[1]:
        se = (scale(bounds[1]) - scale(bounds[0])) / (2 * Z)
    else:
        problems.append(f"{where}: study '{excerpt(label)}' needs se, or ci_low < estimate < "
                        "ci_high")
        return None
    if not se > 0:
        problems.append(f"{where}: study '{excerpt(label)}' has a standard error of {se:g}; "
                        "it must be above 0")
        return None
    return Study(label, estimate=scale(estimate), se=se, group=group)


def check_measure(table: Table, measure: str, where: str) -> None:
    """Refuse a measure the table's data cannot give (RR from one arm, say)."""
    if MEASURES[measure].kind != table.kind:
        fitting = [m for m, d in MEASURES.items() if d.kind == table.kind]
        raise InputError(f"measure {measure} needs {MEASURES[measure].kind.replace('_', ' ')} "
                         f"data, and the file holds {table.kind.replace('_', ' ')} data",
                         where=where, fix=f"use --measure {' or '.join(fitting)}")
