"""PRISMA 2020 flow counts derived from record states, and the arithmetic they must obey.

Every number comes from the ``records`` table (and, in an updated review, from the previous
version's list of reports); none is typed. A failed check names the boxes involved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from review_pipeline import layout, store
from review_pipeline.model.eligibility import AUTOMATIC_BOXES, STOPPED
from review_pipeline.model.errors import CheckError
from review_pipeline.model.state import State, onward
from review_pipeline.protocol import Protocol
from review_pipeline.stages.prisma.previous import Previous, counted_again
from review_pipeline.store import studies as study_store

DEFAULT_OUT = layout.REPORTS
OTHER_KINDS = {"website": "website_results", "organisation": "organisation_results",
               "citation_searching": "citations_results"}
OTHER_LABELS = (("website_results", "Websites"), ("organisation_results", "Organisations"),
                ("citations_results", "Citation searching"))
"""The other-methods sources, in the order and words of the PRISMA 2020 template."""


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
    records_excluded_automation: int = 0
    """Of records_excluded, those an automation tool excluded at screening (PRISMA's **)."""
    records_stopped: int = 0
    """Of records_excluded_automation, those never screened because the protocol's stop rule
    was met."""
    stop_rule: str = ""
    """The stop rule in words, when the protocol has one."""
    previous_studies: int | None = None
    """Studies the previous version included; None for a new review."""
    previous_reports: int | None = None
    total_studies: int = 0
    total_reports: int = 0

    @property
    def records_excluded_human(self) -> int:
        return self.records_excluded - self.records_excluded_automation

    @property
    def updated(self) -> bool:
        return self.previous_studies is not None

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


def counts(db: Database, protocol: Protocol, previous: Previous | None = None) -> PrismaCounts:
    """The PRISMA 2020 counts of the review as it stands; with ``previous``, those of an
    updated review."""
    tally: dict[tuple[str, str, str], int] = defaultdict(int)
    reasons: dict[tuple[str, str], int] = defaultdict(int)
    automatic = dict.fromkeys(AUTOMATIC_BOXES, 0)
    boxes = {f"rule {r.id}": r.prisma for r in protocol.eligibility.rules}
    per_source: dict[str, int] = defaultdict(int)
    stopped = 0
    for row in store.tally(db):
        tally[(row["branch"], row["source"], row["status"])] += row["n"]
        per_source[row["source"]] += row["n"]
        if row["status"] == State.EXCLUDED_TA and row["status_reason"] == STOPPED:
            stopped += row["n"]
        if row["status"] == State.EXCLUDED_FT:
            reasons[(row["branch"], row["status_reason"] or "")] += row["n"]
        elif row["status"] == State.INELIGIBLE:
            # a rule the protocol no longer has counts where rules count by default;
            # unknown_rules() reports it
            automatic[boxes.get(row["status_reason"] or "", AUTOMATIC_BOXES[0])] += row["n"]

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
    included = n("databases", State.INCLUDED) + n("other", State.INCLUDED)
    studies = included - study_store.companion_reports(db, State.INCLUDED)
    at_screening = automatic["records_excluded"]
    return PrismaCounts(
        databases=tuple(databases), registers=tuple(registers), other_sources=other_sources,
        duplicates=n("databases", State.DUPLICATE),
        excluded_automatic=automatic["excluded_automatic"],
        excluded_other=automatic["excluded_other"],
        records_screened=n("databases", *onward(State.SCREENED)) + at_screening,
        records_excluded=n("databases", State.EXCLUDED_TA) + at_screening,
        records_excluded_automation=at_screening + stopped,
        records_stopped=stopped,
        stop_rule=protocol.screening.stop.described if protocol.screening.stop else "",
        awaiting_screening=n("databases", State.SCREENED),
        not_yet_screened_dbr=n("databases", State.IDENTIFIED),
        not_yet_screened_other=n("other", State.IDENTIFIED),
        dbr=_branch(n, "databases", reasons, protocol),
        other=_branch(n, "other", reasons, protocol),
        other_already_identified=n("other", State.DUPLICATE),
        new_studies=studies,
        new_reports=included,
        previous_studies=previous.studies if previous else None,
        previous_reports=len(previous.reports) if previous else None,
        total_studies=studies + (previous.studies if previous else 0),
        total_reports=included + (len(previous.reports) if previous else 0),
    )


def _branch(n: Callable[..., int], branch: str, reasons: dict[tuple[str, str], int],
            protocol: Protocol) -> Branch:
    excluded = tuple((code, protocol.reason_label(code), count)
                     for (b, code), count in sorted(reasons.items()) if b == branch)
    return Branch(
        sought=n(branch, *onward(State.SOUGHT)), not_retrieved=n(branch, State.NOT_RETRIEVED),
        assessed=n(branch, *onward(State.ASSESSED)), excluded=excluded,
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
    if c.records_excluded_automation > c.records_excluded:
        problems.append(f"records_excluded by automation tools "
                        f"({c.records_excluded_automation}) > records_excluded "
                        f"({c.records_excluded})")
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
    for unit in ("studies", "reports"):
        new, total = getattr(c, f"new_{unit}"), getattr(c, f"total_{unit}")
        previous = getattr(c, f"previous_{unit}") or 0
        if total != previous + new:
            problems.append(f"total_{unit} ({total}) != previous_{unit} ({previous}) + "
                            f"new_{unit} ({new})")
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
    rows = store.records_at(db, State.EXCLUDED_FT, ("record_id", "status_reason"))
    return [r["record_id"] for r in rows if r["status_reason"] not in protocol.reason_codes]


def unknown_rules(db: Database, protocol: Protocol) -> list[str]:
    """Records removed before screening by a rule the protocol no longer has."""
    known = {f"rule {r.id}" for r in protocol.eligibility.rules if r.automatic}
    rows = store.records_at(db, State.INELIGIBLE, ("record_id", "status_reason"))
    return [r["record_id"] for r in rows if r["status_reason"] not in known]


def checked_counts(db: Database, protocol: Protocol,
                   previous: Previous | None = None) -> PrismaCounts:
    """Counts that passed every check; otherwise a CheckError naming boxes and records."""
    c = counts(db, protocol, previous)
    problems = check(c)
    bad = unreasoned_exclusions(db, protocol)
    if bad:
        problems.append(f"full-text exclusions without a protocol reason code: {bad}")
    stale = unknown_rules(db, protocol)
    if stale:
        problems.append(f"records removed by an automatic rule the protocol does not have "
                        f"(run `review screen` after changing the rules): {stale[:20]}")
    if previous:
        problems += counted_again(db, previous)
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
        "records_excluded_human": c.records_excluded_human,
        "records_excluded_automation": c.records_excluded_automation,
        "records_excluded_stop_rule": c.records_stopped,
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
        **({"previous_studies": c.previous_studies, "previous_reports": c.previous_reports}
           if c.updated else {}),
        "total_studies": c.total_studies,
        "total_reports": c.total_reports,
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
