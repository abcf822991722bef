"""The search log as PRISMA-S asks for it (Rethlefsen et al. 2021): every search run and
import with its query verbatim, limits, date and records, the sources planned but not yet
searched, and how duplicates were removed, with the software that removed them.

Items a machine can know come from the database; the others (peer review of the search,
contacts, prior work) can only come from the protocol's notes, and the log says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from sqlite_utils import Database

from review_pipeline import store
from review_pipeline.model.eligibility import STOPPED
from review_pipeline.model.state import State
from review_pipeline.model.text import code_block, code_span
from review_pipeline.model.text import markdown as md
from review_pipeline.protocol import DATABASE_BRANCH, Protocol
from review_pipeline.stages.fetch import search_log as search_runs
from review_pipeline.stages.screen.priority import stop_state
from review_pipeline.stages.screen.stopping import StopState, since_text
from review_pipeline.store import clusters

KIND_TITLES = {"database": "Databases", "register": "Study registers",
               "citation_searching": "Citation searching", "website": "Websites",
               "organisation": "Organisations"}


@dataclass
class SearchLog:
    runs: list[dict[str, Any]]
    """Each PubMed search run (see :func:`review_pipeline.stages.fetch.search_log`), with
    ``searched``: the date the search stands for, and ``notes``: its search's notes."""
    imports: list[dict[str, Any]]
    """Each export file imported: source, kind, file, format, sha256, date, records."""
    planned: list[dict[str, str]]
    """Sources the protocol names but no file of which has been imported."""
    dedup: dict[str, Any] = field(default_factory=dict)
    """The last dedup run: when, rules, records, duplicates, merges by rule, software."""
    stop: StopState | None = None
    """Where title/abstract screening stands against the protocol's stop rule."""
    stopped: int = 0
    """Records never screened because the stop rule was met and applied."""

    @property
    def database_imports(self) -> list[dict[str, Any]]:
        """Exports from databases and registers: searches of that branch, run elsewhere."""
        return [b for b in self.imports if b["kind"] in DATABASE_BRANCH]

    @property
    def other_imports(self) -> list[dict[str, Any]]:
        """Records found by other methods (citation searching, websites, organisations)."""
        return [b for b in self.imports if b["kind"] not in DATABASE_BRANCH]


def search_log(db: Database, protocol: Protocol) -> SearchLog:
    """Everything the log reports, from the database and the protocol: only what ran, and
    apart from it, the sources still planned."""
    imports = []
    for b in store.import_batches(db):
        label, kind = protocol.source_label_kind(b["source"])
        source = protocol.source(b["source"])
        imports.append({"source": label, "kind": kind, "file": b["file"], "format": b["format"],
                        "sha256": b["sha256"], "imported_at": b["created_at"],
                        "records": b["records"], "notes": source.notes if source else ""})
    imported = store.sources_loaded(db)
    planned = [{"source": s.label, "kind": s.kind, "notes": s.notes}
               for s in protocol.sources if s.name not in imported]
    notes = {(s.query, s.min_date, s.max_date): s.notes for s in protocol.searches}
    runs = [{**run, "searched": _searched(run),
             "notes": notes.get((run["query"], run["min_date"], run["max_date"]), "")}
            for run in search_runs(db)]
    stopped = sum(row["n"] for row in store.tally(db) if row["status_reason"] == STOPPED
                  and row["status"] == State.EXCLUDED_TA)
    return SearchLog(runs=runs, imports=imports, planned=planned, dedup=_dedup(db),
                     stop=stop_state(db, protocol), stopped=stopped)


def _dedup(db: Database) -> dict[str, Any]:
    last = clusters.last_run(db)
    if last is None:
        return {}
    return {"at": last["at"], "rules": last["rules"], "records": last["records"],
            "duplicates": last["duplicates"], "merged_by_rule": clusters.duplicates_by_rule(db),
            "uncertain_pairs": clusters.uncertain_pairs(db),
            "software": _software()}


def _software() -> str:
    parts = []
    for name in ("review-pipeline", "rapidfuzz"):
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(name)
    return ", ".join(parts)


def render_markdown(log: SearchLog, protocol: Protocol) -> str:
    """``search_log.md``: the log, then the PRISMA-S items it answers and those it cannot."""
    lines = [f"# Search log (PRISMA-S): {md(protocol.review.title)}", ""]
    lines += ["## Databases and registers", ""]
    if not (log.runs or log.database_imports):
        lines += ["No database or register has been searched yet (`review fetch`, "
                  "`review import`).", ""]
    for i, run in enumerate(log.runs, 1):
        lines += [
            f"### {i}. {md(run['database'])}, {md(run['interface'])}", "",
            f"- Date of search: {md(run['searched'])}",
            f"- Mode: {run['mode']}" + (f" ({md(run['note'])})" if run["note"] else ""),
            f"- Limits: {md(run['limits'] or 'none')}",
            *([f"- Notes: {md(run['notes'])}"] if run["notes"] else []),
            f"- Records: PubMed count {count_text(run['count'])}, retrieved "
            f"{count_text(run['records'])}",
            *[f"- Raw file: {code_span(f['file'])} ({f['records']} records, sha256 "
              f"`{f['sha256']}`)"
              for f in run["files"]],
            *([f"- PubMed's translation: {code_span(run['query_translation'])}"]
              if run["query_translation"] else []),
            *[f"- Warning: {md(w)}" for w in run["warnings"]],
            "", "Search strategy, exactly as run:", "", *code_block(run["query"]), ""]
    if log.database_imports:
        lines += ["Searched in the databases' own interfaces and imported from their exports:",
                  "", *_imports_table(log.database_imports)]
    if log.other_imports:
        lines += ["## Other methods", "", *_imports_table(log.other_imports)]
    if log.planned:
        lines += ["## Sources planned, not yet searched", ""]
        lines += [f"- {md(p['source'])} ({KIND_TITLES.get(p['kind'], p['kind'])}): "
                  f"{md(p['notes'] or 'no note')}" for p in log.planned]
        lines.append("")
    lines += ["## Deduplication", ""]
    d = log.dedup
    if d:
        by_rule = ", ".join(f"{rule or 'unknown'} {n}" for rule, n in d["merged_by_rule"].items())
        lines += [
            f"- Software: {d['software']} (`review dedup`); rules version: {d['rules']}",
            f"- Run: {d['at']} on {d['records']:,} records; {d['duplicates']:,} marked as "
            f"duplicates (never deleted), by rule: {by_rule or 'none'}",
            "- Method: exact PMID and DOI matches, then fuzzy title, author, journal, year, "
            "volume and page similarity (rapidfuzz) within blocks, with explicit rules for "
            "meeting abstracts, errata, companion papers and conflicting identifiers; pairs "
            "the rules cannot decide go to a reviewer.",
            f"- Pairs the rules could not decide (the review queue): {d['uncertain_pairs']}; "
            "reviewers' decisions are kept in `extracted/dedup/` and count as rule "
            "'reviewer' above", ""]
    else:
        lines += ["Deduplication has not been run yet (`review dedup`).", ""]
    lines += ["## Screening order and stopping", "",
              *(f"- {md(line)}" for line in screening_lines(log, protocol)), ""]
    lines += ["## PRISMA-S items", "", *_items(log, protocol), ""]
    return "\n".join(lines)


def screening_lines(log: SearchLog, protocol: Protocol) -> list[str]:
    """How the title/abstract records were ordered, and the stop rule's state, in sentences."""
    lines = [f"Order: title/abstract sheets offer the undecided records by a model trained on "
             f"the decisions so far (TF-IDF of title, abstract and keywords, linear SVM; seed "
             f"{protocol.screening.seed}); before there is an include and an exclude, by the "
             "protocol's rule verdicts"]
    stop, s = protocol.screening.stop, log.stop
    if stop is None or s is None:
        return [*lines, "Stop rule: none; every record is screened"]
    lines += [f"Stop rule: {stop.described}; "
              + ("applied: records nobody has screened once it is met are excluded by "
                 "automation" if stop.apply else "reported only, not applied"),
              f"Screened {s.screened:,} of {s.total:,} records in the order of the sheets, "
              f"{s.relevant:,} relevant (included or maybe by a reviewer)",
              "State: " + ("every record screened" if s.screened == s.total
                           else "met" if s.met else f"not met ({s.distance})")
              + (f"; p = {s.p:.3g}" if s.p is not None and s.met and s.screened < s.total
                 else "")
              + (f"; the rule has held since {since_text(s.met_since, s.step)}"
                 if s.met_since else "")]
    if s.met and stop.apply:
        lines.append(f"Screening stopped after {s.screened:,} records; {log.stopped:,} never "
                     "screened, counted in PRISMA as excluded by automation")
    return lines


def _imports_table(imports: list[dict[str, Any]]) -> list[str]:
    lines = ["| Source | Kind | File | Format | Imported (UTC) | Records | sha256 |",
             "| --- | --- | --- | --- | --- | ---: | --- |"]
    lines += [f"| {md(b['source'])} | {KIND_TITLES.get(b['kind'], b['kind'])} | "
              f"{code_span(b['file']).replace('|', '&#124;')} "
              f"| {b['format']} | {b['imported_at']} | {b['records']:,} | "
              f"`{b['sha256'][:12]}` |" for b in imports]
    lines.append("")
    lines += [f"- {md(b['source'])}: {md(b['notes'])}" for b in _once(imports) if b["notes"]]
    return [*lines, ""] if any(b["notes"] for b in imports) else lines


def _items(log: SearchLog, protocol: Protocol) -> list[str]:
    kinds = {b["kind"] for b in log.imports}
    here = "reported above"
    answered = {
        1: here if log.runs or log.database_imports else "",
        2: here if len({r["database"] for r in log.runs}
                       | {b["source"] for b in log.database_imports}) > 1 else "",
        3: here if "register" in kinds else "",
        4: here if kinds & {"website", "organisation"} else "",
        5: here if "citation_searching" in kinds else "",
        8: here if log.runs else "",
        9: here if log.runs else "",
        13: here if log.runs or log.imports else "",
        15: here if log.runs or log.imports else "",
        12: ("an update: the flow diagram shows the previous version's studies"
             if protocol.update.previous_version else ""),
        16: here if log.dedup else "",
    }
    names = {1: "database name and platform", 2: "multi-database searching",
             3: "study registries", 4: "online resources and browsing",
             5: "citation searching", 6: "contacts", 7: "other methods",
             8: "full search strategies", 9: "limits and restrictions", 10: "search filters",
             11: "prior work", 12: "updates", 13: "dates of searches",
             14: "peer review", 15: "total records", 16: "deduplication"}
    elsewhere = ("not recorded by the pipeline; if it applies, say so in a search's or a "
                 "source's notes")
    lines = ["| Item | | Where |", "| ---: | --- | --- |"]
    for number, name in names.items():
        lines.append(f"| {number} | {name} | {answered.get(number) or elsewhere} |")
    return lines


def _searched(run: dict[str, Any]) -> str:
    # a replayed snapshot stands for the search on the snapshot's date, not the day it loaded
    if run["mode"] == "snapshot" and run["snapshot_date"]:
        return f"{run['snapshot_date']} (the snapshot's date; loaded {run['started_at']})"
    return str(run["started_at"])


def count_text(value: int | None) -> str:
    """A count as the log prints it; PubMed's count is unknown for an offline run."""
    return "unknown" if value is None else f"{value:,}"


def _once(imports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for b in imports:
        seen.setdefault(b["source"], b)
    return list(seen.values())
