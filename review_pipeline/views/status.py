"""Where the review stands, in one screen; and the records exported as a table."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlite_utils import Database

from review_pipeline import store
from review_pipeline.model.state import State
from review_pipeline.protocol import Protocol
from review_pipeline.stages.dedup import overlap
from review_pipeline.stages.extract import summary as extraction_summary
from review_pipeline.stages.fetch import search_log
from review_pipeline.stages.prisma import as_template, counts, load_previous
from review_pipeline.stages.screen import awaiting, stage_summary
from review_pipeline.stages.screen.priority import stop_state
from review_pipeline.stages.screen.stopping import since_text
from review_pipeline.store import clusters, screening


def status(db: Database, protocol: Protocol) -> dict[str, Any]:
    """Records per source, duplicates, records per state, decisions pending, PRISMA."""
    per_source = []
    for row in store.per_source(db):
        per_source.append({**row, "kept": row["records"] - row["duplicates"]})
    states = store.counts_by(db, "status")
    return {
        "review": protocol.review.title,
        "schema_version": store.schema_version(db),
        "records": sum(states.values()),
        "sources": per_source,
        "duplicates": states.get(State.DUPLICATE, 0),
        "clusters_with_duplicates": clusters.clusters_with_duplicates(db),
        "states": {s.value: states.get(s.value, 0) for s in State},
        "awaiting": awaiting(db),
        "decisions": screening.decisions_per_sheet(db),
        "screening": stage_summary(db),
        "stop": _stop(db, protocol),
        "extraction": extraction_summary(db, protocol.extraction.reviewers),
        "search_runs": search_log(db),
        "overlap": _overlap(db),
        "prisma": as_template(counts(db, protocol, load_previous(protocol))),
    }


def _stop(db: Database, protocol: Protocol) -> dict[str, Any] | None:
    state = stop_state(db, protocol)
    if state is None or protocol.screening.stop is None:
        return None
    return {**dataclasses.asdict(state), "applied": protocol.screening.stop.apply}


def _overlap(db: Database) -> dict[str, Any]:
    table = overlap(db)
    return {"unique": table.unique,
            "shared": [{"sources": list(pair), "publications": n}
                       for pair, n in table.shared.items()]}


def render_status(report: dict[str, Any]) -> str:
    """The status as a short text screen."""
    lines = [report["review"], ""]
    lines.append(f"{'source':<16}{'branch':<11}{'records':>8}{'duplicates':>12}{'kept':>7}")
    for s in report["sources"]:
        lines.append(f"{s['source']:<16}{s['branch']:<11}{s['records']:>8}"
                     f"{s['duplicates']:>12}{s['kept']:>7}")
    if report["search_runs"]:
        lines += ["", "searches:"]
        lines += [f"  #{r['run_id']} {r['database']} ({r['mode']}, {r['started_at']}): "
                  f"{r['count']} found, {r['records']} retrieved, {len(r['files'])} files"
                  for r in report["search_runs"]]
    if len(report["sources"]) > 1:
        lines += ["", "publications found only in one source: " + ", ".join(
            f"{s} {n}" for s, n in report["overlap"]["unique"].items())]
        lines += [f"  shared by {' and '.join(o['sources'])}: {o['publications']}"
                  for o in report["overlap"]["shared"] if o["publications"]]
    lines += ["", f"records: {report['records']}   duplicates: {report['duplicates']} "
              f"(in {report['clusters_with_duplicates']} clusters)", "", "records by state:"]
    lines += [f"  {state:<14}{n:>6}" for state, n in report["states"].items()]
    a = report["awaiting"]
    lines += ["", "awaiting a decision:",
              f"  title/abstract {a['title_abstract']:>5} "
              f"(conflicts {a['title_abstract_conflicts']})",
              f"  full text      {a['full_text']:>5} (conflicts {a['full_text_conflicts']})"]
    if report["decisions"]:
        lines += ["", "decisions loaded: " + ", ".join(f"{k} {v}" for k, v in
                                                       report["decisions"].items())]
        for stage, s in report["screening"].items():
            kappa = "n/a" if s["kappa"] is None else f"{s['kappa']:.2f}"
            lines.append(f"  {stage:<15}screened {s['screened']}, included {s['included']}, "
                         f"excluded {s['excluded']}, maybe {s['maybe']}, conflicts "
                         f"{s['conflicts']} ({s['unresolved']} unresolved), kappa {kappa}")
    stop = report["stop"]
    if stop:
        where = (f"met since {since_text(stop['met_since'], stop['step'])}" if stop["met"]
                 else stop["distance"])
        lines.append(f"  stop rule ({stop['rule']}): {stop['screened']:,} of "
                     f"{stop['total']:,} screened, {stop['relevant']:,} relevant; {where}"
                     + ("" if stop["applied"] else " (reported only)"))
    x = report["extraction"]
    if x["reviewers"]:
        lines += ["", f"extraction: {x['studies']} studies by {', '.join(x['reviewers'])}; "
                  + ", ".join(f"{t} {n}" for t, n in x["tables"].items()),
                  f"  {x['disagreements']} cells differ ({x['undecided']} undecided), "
                  f"{x['waiting']} study tables waiting for a reviewer"]
    p = report["prisma"]
    lines += ["", f"PRISMA: identified {p['database_results'] + p['register_results']}, "
              f"duplicates {p['duplicates']}, automation {p['excluded_automatic']}, "
              f"screened {p['records_screened']}, excluded {p['records_excluded']}, "
              f"assessed {p['dbr_assessed'] + p['other_assessed']}, "
              f"included {p['new_studies']}"
              + (" (provisional)" if p["provisional"] else "")]
    return "\n".join(lines)


