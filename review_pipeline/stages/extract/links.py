"""Studies and their reports: ``reports.csv`` in the extraction folder says which study a
companion report (a meeting abstract, an update) belongs to, and which cohort a study
draws on, so that extraction is per study, PRISMA counts studies and reports apart, and no
patients are pooled twice.

Columns: ``record_id`` (an included record), ``study`` (the record id of the study's main
report; empty for the main report itself), ``cohort`` (a name that studies of the same
patients share) and ``note``. A record not listed is a study of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from review_pipeline.formats.sheets import read_present
from review_pipeline.model.errors import Problems
from review_pipeline.model.names import RULE, is_name

COLUMNS = ("record_id", "study", "cohort", "note")
INFO_COLUMNS = ("title", "citation")


@dataclass(frozen=True)
class Link:
    record_id: str
    study: str
    """The study's id: its main report's record id (the record's own for a main report)."""
    cohort: str
    note: str
    line: int


def read_links(path: Path, included: set[str], known: set[str],
               problems: Problems) -> dict[str, Link]:
    """The links of ``path`` (none when it does not exist), checked against the ``included``
    records; each problem goes to ``problems`` with its line."""
    sheet = read_present(path, problems)
    if sheet is None:
        return {}
    unknown = [c for c in sheet.header if c not in (*COLUMNS, *INFO_COLUMNS)]
    if "record_id" not in sheet.header or unknown:
        problems.append(f"{path}: expected the columns {', '.join(COLUMNS)}"
                        + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
        return {}
    links: dict[str, Link] = {}
    for row in sheet.rows:
        values = {c: (row.values.get(c) or "").strip() for c in COLUMNS}
        if values["record_id"]:
            link = _link(values, row.line, f"{path}, line {row.line}", included, known, links,
                         problems)
            if link:
                links[link.record_id] = link
    for link in links.values():
        main = links.get(link.study)
        if link.study != link.record_id and main and main.study != main.record_id:
            problems.append(f"{path}, line {link.line}: '{link.record_id}' belongs to "
                            f"'{link.study}', which itself belongs to '{main.study}'; name "
                            f"the study's main report ('{main.study}')")
    return links


def _link(v: dict[str, str], line: int, where: str, included: set[str], known: set[str],
          links: dict[str, Link], problems: Problems) -> Link | None:
    record_id, study = v["record_id"], v["study"] or v["record_id"]
    for column, value in (("record_id", record_id), ("study", study)):
        if value not in included:
            why = "is not in the review" if value not in known else "is not included"
            problems.append(f"{where}, column '{column}': '{value}' {why}; only included "
                            "records are studies and reports of studies")
            return None
    if record_id in links:
        problems.append(f"{where}: '{record_id}' is listed twice (first on line "
                        f"{links[record_id].line})")
    elif v["cohort"] and not is_name(v["cohort"]):
        problems.append(f"{where}, column 'cohort': '{v['cohort']}' cannot name a cohort "
                        f"({RULE})")
    elif v["cohort"] and study != record_id:
        problems.append(f"{where}, column 'cohort': a cohort belongs to a study; give it on "
                        f"the row of '{study}'")
    else:
        return Link(record_id, study, v["cohort"], v["note"], line)
    return None


def study_ids(included: set[str], links: dict[str, Link]) -> dict[str, str]:
    """Each included record's study."""
    return {r: links[r].study if r in links else r for r in included}
