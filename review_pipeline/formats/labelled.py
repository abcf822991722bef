"""Fully labelled screening sets (CSV or XLSX), the input of ``review simulate``.

Columns are found under their own names or the ones ASReview and the benchmark sets use:
``record_id`` (or ``id``, ``openalex_id``, ``pmid``; the line number when there is none),
``title``, ``abstract``, ``keywords`` (headings split at ``;``; optional) and
``label_included`` (or ``included``, ``label``, ``final_included``): 1/0, yes/no, true/false.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from review_pipeline.formats.sheets import read_sheet
from review_pipeline.model.errors import InputError
from review_pipeline.model.text import excerpt

ALIASES = {
    "record_id": ("record_id", "id", "openalex_id", "pmid", "pubmed_id"),
    "title": ("title", "primary_title", "ti"),
    "abstract": ("abstract", "abstract note", "ab"),
    "keywords": ("keywords", "mesh", "mesh_terms", "kw"),
    "label": ("label_included", "included", "label", "final_included", "included_label"),
}
LABELS = {"1": True, "1.0": True, "yes": True, "true": True, "y": True,
          "0": False, "0.0": False, "no": False, "false": False, "n": False}


@dataclass(frozen=True)
class Labelled:
    record_id: str
    title: str
    abstract: str
    keywords: tuple[str, ...]
    included: bool


def read_labelled(path: Path) -> list[Labelled]:
    """The records of a labelled set, in the file's order."""
    sheet = read_sheet(path)
    by_name = {name.lower(): name for name in sheet.header}
    found = {field: next((by_name[a] for a in names if a in by_name), None)
             for field, names in ALIASES.items()}
    for field in ("title", "label"):
        if found[field] is None:
            names = ", ".join(ALIASES[field])
            raise InputError(f"no {field} column (looked for {names})", where=f"{path}, line 1",
                             fix=f"name the column {ALIASES[field][0]}")
    out: list[Labelled] = []
    seen: dict[str, int] = {}
    for row in sheet.rows:
        cell = row.values
        raw = cell[found["label"] or ""].lower()
        if raw not in LABELS:
            raise InputError(f"label {excerpt(raw, 30)!r} is not an include or exclude",
                             where=f"{path}, line {row.line}",
                             fix="write 1 (included) or 0 (excluded); a simulation needs "
                                 "every record labelled")
        record_id = cell[found["record_id"]] if found["record_id"] else str(row.line)
        if not record_id:
            raise InputError("empty record id", where=f"{path}, line {row.line}",
                             fix="give every record an id, or drop the id column")
        if record_id in seen:
            raise InputError(f"record id {record_id!r} also on line {seen[record_id]}",
                             where=f"{path}, line {row.line}",
                             fix="give every record its own id")
        seen[record_id] = row.line
        keywords = cell[found["keywords"]] if found["keywords"] else ""
        out.append(Labelled(record_id, cell[found["title"] or ""],
                            cell[found["abstract"]] if found["abstract"] else "",
                            tuple(k.strip() for k in keywords.split(";") if k.strip()),
                            LABELS[raw]))
    if not out:
        raise InputError("no records", where=str(path), fix="check that this is the right file")
    if not any(r.included for r in out) or all(r.included for r in out):
        raise InputError("a simulation needs both includes and excludes", where=str(path),
                         fix="check the label column")
    return out
