"""The previous version of an updated review: the studies and reports it included.

PRISMA 2020's updated-review layout adds them beside the new search's flow and totals both.
They are listed, one row per report, in the file the protocol's ``[update] previous_version``
names, so that each previous count can be traced to its reports like every other number.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from review_pipeline import store
from review_pipeline.formats.sheets import read_sheet
from review_pipeline.model.errors import InputError, Problems
from review_pipeline.model.record import normalize_doi, normalize_pmid
from review_pipeline.model.state import State

COLUMNS = ("study", "citation", "pmid", "doi")
REQUIRED = ("study", "citation")


@dataclass(frozen=True)
class PreviousReport:
    study: str
    citation: str
    pmid: str
    doi: str
    line: int


@dataclass(frozen=True)
class Previous:
    """The reports included in the previous version, grouped into studies by ``study``."""

    path: Path
    reports: tuple[PreviousReport, ...]

    @property
    def studies(self) -> int:
        return len({r.study for r in self.reports})


def read_previous(path: Path) -> Previous:
    """Read the previous version's included reports; every problem names the line."""
    if not path.exists():
        raise InputError("the previous version's list of included reports does not exist",
                         where=str(path), fix="create it (columns: " + ", ".join(COLUMNS)
                         + ") or remove [update] previous_version from the protocol")
    sheet = read_sheet(path)
    missing = [c for c in REQUIRED if c not in sheet.header]
    unknown = [c for c in sheet.header if c not in COLUMNS]
    if missing or unknown:
        raise InputError(
            f"columns {sheet.header}: " + "; ".join(
                ([f"missing {missing}"] if missing else [])
                + ([f"unknown {unknown}"] if unknown else [])),
            where=f"{path}, line 1", fix="use the columns " + ", ".join(COLUMNS))
    reports: list[PreviousReport] = []
    problems = Problems()
    seen: dict[str, int] = {}
    for row in sheet.rows:
        v = row.values
        empty = [c for c in REQUIRED if not v.get(c)]
        if empty:
            problems.append(f"{path}, line {row.line}: empty {', '.join(empty)}")
            continue
        report = PreviousReport(study=v["study"], citation=v["citation"],
                                pmid=normalize_pmid(v.get("pmid")),
                                doi=normalize_doi(v.get("doi")), line=row.line)
        for key in (f"pmid {report.pmid}" if report.pmid else "",
                    f"doi {report.doi}" if report.doi else ""):
            if key and key in seen:
                problems.append(f"{path}, line {row.line}: {key} is also on line {seen[key]}; "
                                "list each report once")
            elif key:
                seen[key] = row.line
        reports.append(report)
    problems.fail("the previous version's reports", where=str(path),
                  fix="correct those lines; each row is one report of an included study")
    return Previous(path, tuple(reports))


def counted_again(db: Database, previous: Previous) -> list[str]:
    """Previous reports that this version includes again as new (by PMID or DOI): PRISMA
    would count them twice in the totals."""
    pmids = {r.pmid: r for r in previous.reports if r.pmid}
    dois = {r.doi: r for r in previous.reports if r.doi}
    problems = []
    for row in store.records_at(db, State.INCLUDED, ("record_id", "pmid", "doi")):
        rid, pmid, doi = row["record_id"], row["pmid"], row["doi"]
        found = pmids.get(pmid or "") or dois.get(normalize_doi(doi))
        if found:
            problems.append(f"record {rid} is included as new but is the previous version's "
                            f"report on {previous.path}, line {found.line} ({found.citation})")
    return problems
