"""The prisma stage: PRISMA 2020 flow counts derived from record states, checked, rendered.

Every number comes from the ``records`` table; none is typed. The arithmetic of the flow is
checked before anything is written, and a failed check names the boxes involved.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from .config import Protocol
from .db import State
from .errors import CheckError

DEFAULT_OUT = Path("reports")
PAST_SCREENING = (State.SCREENED, State.EXCLUDED_TA, State.SOUGHT, State.NOT_RETRIEVED,
                  State.ASSESSED, State.EXCLUDED_FT, State.INCLUDED)
SOUGHT_OR_LATER = (State.SOUGHT, State.NOT_RETRIEVED, State.ASSESSED, State.EXCLUDED_FT,
                   State.INCLUDED)
ASSESSED_OR_LATER = (State.ASSESSED, State.EXCLUDED_FT, State.INCLUDED)
OTHER_KINDS = {"website": "website_results", "organisation": "organisation_results",
               "citation_searching": "citations_results"}
OTHER_LABELS = (("citations_results", "citation searching"), ("website_results", "websites"),
                ("organisation_results", "organisations"))


@dataclass(frozen=True)
class Branch:
    """The full-text boxes of one branch of the flow (databases/registers, or other)."""

    sought: int = 0
    not_retrieved: int = 0
    assessed: int = 0
    excluded: tuple[tuple[str, str, int], ...] = ()
    """(reason code, reason label, n) for each full-text exclusion reason."""
    included: int = 0
    awaiting_retrieval: int = 0
    awaiting_assessment: int = 0


@dataclass(frozen=True)
class PrismaCounts:
    databases: tuple[tuple[str, int], ...]
    registers: tuple[tuple[str, int], ...]
    other_sources: dict[str, int]
    """website_results, organisation_results, citations_results."""
    duplicates: int
    excluded_automatic: int
    excluded_other: int
    records_screened: int
    records_excluded: int
    awaiting_screening: int
    not_yet_screened_dbr: int
    """Records kept after dedup that the screen stage has not placed yet."""
    not_yet_screened_other: int
    dbr: Branch
    other: Branch
    other_already_identified: int
    """Records from other methods that duplicate a record already found."""
    new_studies: int
    new_reports: int

    @property
    def database_results(self) -> int:
        return sum(n for _, n in self.databases)

    @property
    def register_results(self) -> int:
        return sum(n for _, n in self.registers)

    @property
    def not_yet_screened(self) -> int:
        return self.not_yet_screened_dbr + self.not_yet_screened_other

    @property
    def provisional(self) -> bool:
        return bool(self.awaiting_screening or self.not_yet_screened
                    or self.dbr.awaiting_retrieval or self.dbr.awaiting_assessment
                    or self.other.awaiting_retrieval or self.other.awaiting_assessment)


def counts(db: Database, protocol: Protocol) -> PrismaCounts:
    """The PRISMA 2020 counts of the review as it stands."""
    tally: dict[tuple[str, str, str], int] = defaultdict(int)
    reasons: dict[tuple[str, str], int] = defaultdict(int)
    sql = ("SELECT source, branch, status, status_reason, count(*) AS n FROM records "
           "GROUP BY source, branch, status, status_reason")
    per_source: dict[str, int] = defaultdict(int)
    for row in db.query(sql):
        tally[(row["branch"], row["source"], row["status"])] += row["n"]
        per_source[row["source"]] += row["n"]
        if row["status"] == State.EXCLUDED_FT:
            reasons[(row["branch"], row["status_reason"] or "")] += row["n"]

    def n(branch: str, *states: State) -> int:
        return sum(v for (b, _, s), v in tally.items() if b == branch and s in states)

    databases, registers, other_sources = [], [], dict.fromkeys(OTHER_KINDS.values(), 0)
    for source, total in sorted(per_source.items()):
        label, kind = protocol.source_label_kind(source)
        if kind == "database":
            databases.append((label, total))
        elif kind == "register":
            registers.append((label, total))
        else:
            other_sources[OTHER_KINDS[kind]] += total
    return PrismaCounts(
        databases=tuple(databases), registers=tuple(registers), other_sources=other_sources,
        duplicates=n("databases", State.DUPLICATE),
        excluded_automatic=n("databases", State.INELIGIBLE),
        excluded_other=0,
        records_screened=n("databases", *PAST_SCREENING),
        records_excluded=n("databases", State.EXCLUDED_TA),
        awaiting_screening=n("databases", State.SCREENED),
        not_yet_screened_dbr=n("databases", State.IDENTIFIED),
        not_yet_screened_other=n("other", State.IDENTIFIED),
        dbr=_branch(n, "databases", reasons, protocol),
        other=_branch(n, "other", reasons, protocol),
        other_already_identified=n("other", State.DUPLICATE),
        new_studies=n("databases", State.INCLUDED) + n("other", State.INCLUDED),
        new_reports=n("databases", State.INCLUDED) + n("other", State.INCLUDED),
    )


def _branch(n: Callable[..., int], branch: str, reasons: dict[tuple[str, str], int],
            protocol: Protocol) -> Branch:
    excluded = tuple((code, protocol.reason_label(code), count)
                     for (b, code), count in sorted(reasons.items()) if b == branch)
    return Branch(
        sought=n(branch, *SOUGHT_OR_LATER), not_retrieved=n(branch, State.NOT_RETRIEVED),
        assessed=n(branch, *ASSESSED_OR_LATER), excluded=excluded,
        included=n(branch, State.INCLUDED), awaiting_retrieval=n(branch, State.SOUGHT),
        awaiting_assessment=n(branch, State.ASSESSED),
    )


def check(c: PrismaCounts) -> list[str]:
    """Every arithmetic rule of the flow that ``c`` breaks, naming the boxes."""
    problems = []
    identified = c.database_results + c.register_results
    removed = c.duplicates + c.excluded_automatic + c.excluded_other
    if c.records_screened != identified - removed - c.not_yet_screened_dbr:
        problems.append(f"records_screened ({c.records_screened}) != database_results + "
                        f"register_results ({identified}) - duplicates - excluded_automatic - "
                        f"excluded_other ({removed}) - not yet screened "
                        f"({c.not_yet_screened_dbr})")
    if c.records_excluded > c.records_screened:
        problems.append(f"records_excluded ({c.records_excluded}) > records_screened "
                        f"({c.records_screened})")
    passed = c.records_screened - c.records_excluded - c.awaiting_screening
    if c.dbr.sought != passed:
        problems.append(f"dbr_sought_reports ({c.dbr.sought}) != records_screened - "
                        f"records_excluded - awaiting screening ({passed})")
    other_identified = sum(c.other_sources.values())
    other_left = other_identified - c.other_already_identified - c.not_yet_screened_other
    if c.other.sought != other_left:
        problems.append(f"other_sought_reports ({c.other.sought}) != other-methods records "
                        f"({other_identified}) - already identified "
                        f"({c.other_already_identified}) - not yet screened")
    for name, b in (("dbr", c.dbr), ("other", c.other)):
        problems += _check_branch(name, b)
    included = c.dbr.included + c.other.included
    if c.new_reports != included:
        problems.append(f"new_reports ({c.new_reports}) != reports included from both "
                        f"branches ({included})")
    if c.new_studies > c.new_reports:
        problems.append(f"new_studies ({c.new_studies}) > new_reports ({c.new_reports})")
    return problems


def _check_branch(name: str, b: Branch) -> list[str]:
    problems = []
    if b.assessed != b.sought - b.not_retrieved - b.awaiting_retrieval:
        problems.append(f"{name}_assessed ({b.assessed}) != {name}_sought_reports ({b.sought}) "
                        f"- {name}_notretrieved_reports ({b.not_retrieved}) - awaiting "
                        f"retrieval ({b.awaiting_retrieval})")
    excluded = sum(count for _, _, count in b.excluded)
    if excluded != b.assessed - b.included - b.awaiting_assessment:
        problems.append(f"{name}_excluded reasons sum to {excluded}, but {name}_assessed "
                        f"({b.assessed}) - included ({b.included}) - awaiting assessment "
                        f"({b.awaiting_assessment}) = "
                        f"{b.assessed - b.included - b.awaiting_assessment}")
    return problems


def unreasoned_exclusions(db: Database, protocol: Protocol) -> list[str]:
    """Full-text exclusions without exactly one known reason code (records named)."""
    rows = db.execute("SELECT record_id, status_reason FROM records WHERE status = ?",
                      [State.EXCLUDED_FT.value]).fetchall()
    return [rid for rid, reason in rows if reason not in protocol.reason_codes]


def checked_counts(db: Database, protocol: Protocol) -> PrismaCounts:
    """Counts that passed every check; otherwise a CheckError naming boxes and records."""
    c = counts(db, protocol)
    problems = check(c)
    bad = unreasoned_exclusions(db, protocol)
    if bad:
        problems.append(f"full-text exclusions without a protocol reason code: {bad}")
    if problems:
        raise CheckError("the PRISMA flow does not add up:\n  " + "\n  ".join(problems),
                         where="records", fix="report this as a bug; the states are "
                         "inconsistent (rebuild with `make clean && make all` to compare)")
    return c


def as_template(c: PrismaCounts) -> dict[str, Any]:
    """The counts under the PRISMA2020 template's ``data`` names, plus what is pending."""
    def listed(pairs: tuple[tuple[str, int], ...]) -> list[dict[str, Any]]:
        return [{"label": label, "n": n} for label, n in pairs]

    def reasons(b: Branch) -> list[dict[str, Any]]:
        return [{"code": code, "label": label, "n": n} for code, label, n in b.excluded]

    return {
        "database_results": c.database_results,
        "database_specific_results": listed(c.databases),
        "register_results": c.register_results,
        "register_specific_results": listed(c.registers),
        **c.other_sources,
        "duplicates": c.duplicates,
        "excluded_automatic": c.excluded_automatic,
        "excluded_other": c.excluded_other,
        "records_screened": c.records_screened,
        "records_excluded": c.records_excluded,
        "dbr_sought_reports": c.dbr.sought,
        "dbr_notretrieved_reports": c.dbr.not_retrieved,
        "dbr_assessed": c.dbr.assessed,
        "dbr_excluded": reasons(c.dbr),
        "other_sought_reports": c.other.sought,
        "other_notretrieved_reports": c.other.not_retrieved,
        "other_assessed": c.other.assessed,
        "other_excluded": reasons(c.other),
        "new_studies": c.new_studies,
        "new_reports": c.new_reports,
        "provisional": c.provisional,
        "awaiting": {
            "not_yet_screened": c.not_yet_screened,
            "title_abstract": c.awaiting_screening,
            "dbr_retrieval": c.dbr.awaiting_retrieval,
            "dbr_assessment": c.dbr.awaiting_assessment,
            "other_retrieval": c.other.awaiting_retrieval,
            "other_assessment": c.other.awaiting_assessment,
        },
        "other_already_identified": c.other_already_identified,
    }


def render_markdown(c: PrismaCounts, protocol: Protocol) -> str:
    t = as_template(c)
    lines = [f"# PRISMA 2020 flow: {protocol.review.title}", ""]
    if c.provisional:
        lines += ["> **Provisional**: some records still await a decision "
                  f"({_awaiting_text(t['awaiting'])}).", ""]
    lines += ["## Identification", "",
              f"- Records identified from databases (n = {t['database_results']}): "
              + "; ".join(f"{d['label']} (n = {d['n']})" for d in t["database_specific_results"])]
    if c.registers:
        lines.append(f"- Records identified from registers (n = {t['register_results']})")
    for key, label in OTHER_LABELS:
        if t[key]:
            lines.append(f"- Records identified from {label} (n = {t[key]}), of which "
                         f"{c.other_already_identified} had already been found")
    lines += [
        "- Records removed before screening:",
        f"  - duplicate records (n = {t['duplicates']})",
        f"  - marked as ineligible by automation tools (n = {t['excluded_automatic']})",
        f"  - removed for other reasons (n = {t['excluded_other']})",
        "", "## Screening", "",
        f"- Records screened (n = {t['records_screened']})",
        f"- Records excluded by reviewers (n = {t['records_excluded']})",
        f"- Reports sought for retrieval (n = {t['dbr_sought_reports']})",
        f"- Reports not retrieved (n = {t['dbr_notretrieved_reports']})",
        f"- Reports assessed for eligibility (n = {t['dbr_assessed']})",
        f"- Reports excluded (n = {sum(r['n'] for r in t['dbr_excluded'])}):",
        *[f"  - {r['label']} (n = {r['n']})" for r in t["dbr_excluded"]],
    ]
    if sum(c.other_sources.values()):
        lines += [
            "", "### Other methods", "",
            f"- Reports sought for retrieval (n = {t['other_sought_reports']})",
            f"- Reports not retrieved (n = {t['other_notretrieved_reports']})",
            f"- Reports assessed for eligibility (n = {t['other_assessed']})",
            f"- Reports excluded (n = {sum(r['n'] for r in t['other_excluded'])}):",
            *[f"  - {r['label']} (n = {r['n']})" for r in t["other_excluded"]],
        ]
    lines += ["", "## Included", "",
              f"- Studies included in review (n = {t['new_studies']})",
              f"- Reports of included studies (n = {t['new_reports']})", ""]
    return "\n".join(lines)


TEMPLATE = Path(__file__).with_name("prisma_template.csv")
"""The PRISMA2020 R package's ``PRISMA.csv`` (MIT licence, see PRISMA2020-LICENSE.txt),
unmodified: the layout ``prisma.csv`` fills."""


def template_csv(c: PrismaCounts, template: Path = TEMPLATE) -> str:
    """The PRISMA2020 template with its ``n`` column filled from ``c``: same rows, same
    ``data`` names and columns, so the R package or its Shiny app reads it unchanged.
    Lists (databases, reasons) take the template's ``label, n; label, n`` form."""
    t = as_template(c)

    def pairs(items: list[dict[str, Any]]) -> str:
        # the R package splits on ";" and ","; keep them out of the labels
        return "; ".join(f"{_plain(i['label'])}, {i['n']}" for i in items)

    values: dict[str, object] = {
        **{k: v for k, v in t.items() if isinstance(v, int) and not isinstance(v, bool)},
        "database_specific_results": pairs(t["database_specific_results"]),
        "register_specific_results": pairs(t["register_specific_results"]),
        "dbr_excluded": pairs(t["dbr_excluded"]),
        "other_excluded": pairs(t["other_excluded"]),
        "total_studies": c.new_studies, "total_reports": c.new_reports,
    }
    with template.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    data, n = header.index("data"), header.index("n")
    for row in rows[1:]:
        if row[data] in values:
            row[n] = str(values[row[data]])
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _plain(label: str) -> str:
    return label.replace(";", " ").replace(",", " ").strip()


def _awaiting_text(awaiting: dict[str, int]) -> str:
    parts = [f"{k.replace('_', ' ')}: {v}" for k, v in awaiting.items() if v]
    return ", ".join(parts)


@dataclass
class PrismaResult:
    counts: PrismaCounts
    files: list[Path]


def prisma(db: Database, protocol: Protocol, out_dir: Path = DEFAULT_OUT) -> PrismaResult:
    """Check the counts, then write ``prisma.json``, ``prisma.csv`` (the PRISMA2020
    template, filled) and ``prisma.md`` to ``out_dir``."""
    c = checked_counts(db, protocol)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [out_dir / "prisma.json", out_dir / "prisma.csv", out_dir / "prisma.md"]
    files[0].write_text(json.dumps(as_template(c), indent=2) + "\n", encoding="utf-8")
    files[1].write_text(template_csv(c), encoding="utf-8")
    files[2].write_text(render_markdown(c, protocol), encoding="utf-8")
    return PrismaResult(c, files)
