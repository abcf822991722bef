"""The synthesis stage: each outcome pooled per treatment from the final extraction tables,
as the protocol's ``[synthesis]`` says, with forest plots; one study of each cohort.

An analysis takes, for one outcome (and time point) and one treatment, every study with an
arm of that treatment that reports the outcome's events and evaluable patients. A study
counts once: its reports are linked to it (``reports.csv``), and of studies that share a
cohort only one enters, by the protocol's overlap rule; the others are listed beside it.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from review_pipeline import layout, store
from review_pipeline.files import write_atomic
from review_pipeline.model.errors import AnalysisError, InputError
from review_pipeline.model.state import State
from review_pipeline.protocol import Protocol
from review_pipeline.stages.synthesis.analysis import analyse
from review_pipeline.stages.synthesis.forest import forest, funnel, model_text
from review_pipeline.stages.synthesis.measures import Study
from review_pipeline.store import extraction
from review_pipeline.store import studies as study_store
from review_pipeline.store.extraction import NOT_GIVEN

DEFAULT_OUT = layout.REPORTS


@dataclass(frozen=True)
class Candidate:
    """A study's numbers for one outcome of one treatment arm."""

    record_id: str
    arm: str
    events: float
    total: float
    group: str
    cohort: str
    year: int

    def problem(self) -> str:
        """Why these numbers are not a proportion, or ""."""
        x, n = self.events, self.total
        if n <= 0 or x < 0 or x > n or x != int(x) or n != int(n):
            return (f"has {x:g} events of {n:g} evaluable patients: not a proportion (whole "
                    "numbers, 0 <= events <= evaluable, evaluable > 0)")
        return ""


@dataclass(frozen=True)
class SynthesisResult:
    analyses: int
    pooled: int
    path: Path
    figures: list[Path]
    failed: list[str]
    """Each analysis that could not be fitted, with why (also in synthesis.json)."""


def run(db: Database, protocol: Protocol, out_dir: Path = DEFAULT_OUT) -> SynthesisResult:
    """Pool every outcome per treatment; write ``synthesis.json`` and the forest plots to
    ``out_dir`` and keep the analyses in the database for the report."""
    spec = protocol.synthesis
    found = _candidates(db, protocol)
    labels = store.short_names(db, State.INCLUDED)
    analyses, figures = [], []
    forest_dir = out_dir / layout.FOREST.name
    for number, ((outcome, treatment), candidates) in enumerate(found.items(), start=1):
        entry = _entry(f"{number:02d}-{_slug(outcome)}-{_slug(treatment)}", outcome,
                       treatment, candidates, spec.overlap, labels)
        if len(entry["studies"]) >= spec.min_studies:
            figures += _pool(entry, candidates, protocol, forest_dir)
        analyses.append(entry)
    with db.atomic():
        study_store.replace_analyses(db, analyses)
    settings = {"measure": spec.measure, "method": spec.method, "knha": spec.knha,
                "by": spec.by or None, "min_studies": spec.min_studies,
                "overlap": spec.overlap, "outcomes": list(spec.outcomes) or "all"}
    path = out_dir / layout.SYNTHESIS.name
    write_atomic(path, (json.dumps({"settings": settings, "analyses": analyses}, indent=2)
                        + "\n").encode("utf-8"))
    for stale in (forest_dir.iterdir() if forest_dir.is_dir() else ()):
        if stale not in figures:  # an analysis that is no longer made
            stale.unlink()
    return SynthesisResult(len(analyses), sum(a["pooled"] for a in analyses), path, figures,
                           [f"{a['treatment']}: {a['outcome']}: {a['error']}"
                            for a in analyses if a.get("error")])


def _entry(key: str, outcome: str, treatment: str, candidates: list[Candidate], rule: str,
           labels: dict[str, str]) -> dict[str, Any]:
    """An analysis's studies: those with a proportion, one study per cohort; and those set
    aside, each with why."""
    def label(record_id: str) -> str:
        return labels.get(record_id, record_id)

    usable = [c for c in candidates if not c.problem()]
    chosen, set_aside = _one_per_cohort(usable, rule, label)
    set_aside += [{"study": c.record_id, "label": label(c.record_id), "events": c.events,
                   "total": c.total, "cohort": c.cohort or None, "kept": None,
                   "why": c.problem()} for c in candidates if c.problem()]
    several = {c.record_id for c in chosen if sum(o.record_id == c.record_id for o in chosen) > 1}
    return {"id": key, "outcome": outcome, "treatment": treatment, "pooled": False,
            "studies": [{"study": c.record_id,
                         "label": label(c.record_id) + (f" ({c.arm})" if c.record_id in several
                                                        else ""),
                         "arm": c.arm, "events": c.events, "total": c.total,
                         "group": c.group or None, "cohort": c.cohort or None}
                        for c in chosen],
            "set_aside": set_aside, "result": None, "forest": None, "funnel": None}


def _pool(entry: dict[str, Any], candidates: list[Candidate], protocol: Protocol,
          forest_dir: Path) -> list[Path]:
    """Fit ``entry``'s studies and draw them; a model that cannot be fitted is noted in the
    entry, so that one outcome's odd numbers do not stop the others."""
    spec = protocol.synthesis
    studies = [Study(s["label"], s["events"], s["total"], group=s["group"] or NOT_GIVEN)
               for s in entry["studies"]]
    try:
        analysis = analyse(studies, spec.measure, spec.method, knha=spec.knha,
                           by_group=bool(spec.by))
    except AnalysisError as exc:
        entry["error"] = exc.one_line()
        return []
    title = f"{entry['outcome']}: {entry['treatment']}"
    entry.update(pooled=True, result=analysis.as_dict(), model=model_text(analysis))
    drawn = [forest_dir / f"{entry['id']}.svg", forest_dir / f"{entry['id']}.png"]
    forest(analysis, title, *drawn)
    entry["forest"] = f"{forest_dir.name}/{drawn[0].name}"
    if analysis.egger:  # 10 studies or more
        funnels = [forest_dir / f"{entry['id']}-funnel.svg",
                   forest_dir / f"{entry['id']}-funnel.png"]
        funnel(analysis, title, *funnels)
        entry["funnel"] = f"{forest_dir.name}/{funnels[0].name}"
        drawn += funnels
    return drawn


def _candidates(db: Database, protocol: Protocol) -> dict[tuple[str, str], list[Candidate]]:
    """The studies' numbers per (outcome, treatment), in the forms' order."""
    spec, report = protocol.synthesis, protocol.report
    defined = {(f["table_name"], f["field"]): f for f in extraction.fields(db)}
    if not defined:
        return {}
    arm_table, treatment = report.treatment.split(".")
    result_table, outcome = report.outcome.split(".")
    _check_fields(protocol, defined, result_table, outcome)
    events, total = spec.events.split(".")[1], spec.total.split(".")[1]
    by_table, by_field = spec.by.split(".") if spec.by else ("", "")
    by_study = ({r["record_id"]: r for r in extraction.form_rows(db, by_table)}
                if by_table not in ("", arm_table, result_table) else {})
    cohorts = {r: link["cohort"] or "" for r, link in study_store.links(db).items()}
    years = {r["record_id"]: r["year"] or 0
             for r in store.records_at(db, State.INCLUDED, ("record_id", "year"))}
    found: dict[tuple[str, str], list[Candidate]] = defaultdict(list)
    order: dict[tuple[str, str], tuple[Any, ...]] = {}
    by_treatment = extraction.choice_order(db, arm_table, treatment)
    by_outcome = extraction.choice_order(db, result_table, outcome)
    for result in extraction.arm_results(db, arm_table, result_table, outcome, events):
        row, arm = result.row, result.arm
        if arm is None or row[total] is None or (spec.outcomes
                                                  and row[outcome] not in spec.outcomes):
            continue  # a whole study's result is no treatment's
        source = arm if by_table == arm_table else row if by_table == result_table else (
            by_study.get(row["record_id"], {}))
        record_id = row["record_id"]
        key = (result.label(outcome), arm[treatment] or NOT_GIVEN)
        order[key] = (by_treatment(arm[treatment]), by_outcome(row[outcome]),
                      *[v for _, v, _ in result.splits])
        found[key].append(
            Candidate(record_id, str(arm.get("arm") or ""), float(row[events]),
                      float(row[total]), str(source.get(by_field) or "") if by_field else "",
                      cohorts.get(record_id, ""), int(years.get(record_id, 0))))
    return {key: found[key] for key in sorted(found, key=order.__getitem__)}


def _check_fields(protocol: Protocol, defined: dict[tuple[str, str], dict[str, Any]],
                  result_table: str, outcome: str) -> None:
    """The fields the protocol names exist, the counts sit beside the outcome, and the
    outcomes it lists are among the outcome field's choices."""
    spec, report = protocol.synthesis, protocol.report
    wanted = [report.treatment, report.outcome, spec.events, spec.total,
              *([spec.by] if spec.by else [])]
    missing = [w for w in wanted if tuple(w.split(".")) not in defined]
    apart = [w for w in (spec.events, spec.total) if w.split(".")[0] != result_table]
    choices = (defined[(result_table, outcome)]["choices"] or ""
               ) if (result_table, outcome) in defined else ""
    unknown = [o for o in spec.outcomes if choices and o not in choices.split(" | ")]
    fix = "name fields of extracted/extraction/fields.csv in [synthesis] and [report]"
    if missing:
        raise InputError(f"the extraction forms have no field {', '.join(missing)}",
                         where=str(protocol.path), fix=fix)
    if apart:
        raise InputError(f"{', '.join(apart)} must be fields of {result_table}, the table of "
                         f"[report] outcome ({report.outcome})", where=str(protocol.path),
                         fix=fix)
    if unknown:
        raise InputError(f"[synthesis] outcomes names {', '.join(unknown)}, not a value of "
                         f"{report.outcome} ({choices})", where=str(protocol.path),
                         fix="use the outcomes as fields.csv spells them")


def _one_per_cohort(candidates: list[Candidate], rule: str, label: Callable[[str], str],
                    ) -> tuple[list[Candidate], list[dict[str, Any]]]:
    """The candidates with one study of each cohort (with all its arms), chosen by ``rule``
    (largest: most evaluable patients, then latest; latest: latest, then largest); and the
    studies set aside."""
    size: dict[str, float] = defaultdict(float)
    for c in candidates:
        size[c.record_id] += c.total

    def rank(c: Candidate) -> tuple[float, float, str]:
        if rule == "largest":
            return size[c.record_id], c.year, c.record_id
        return c.year, size[c.record_id], c.record_id

    chosen: dict[str, Candidate] = {}
    for c in candidates:
        if c.cohort and (c.cohort not in chosen or rank(c) > rank(chosen[c.cohort])):
            chosen[c.cohort] = c
    kept = {c.record_id for c in chosen.values()}
    set_aside = [{"study": c.record_id, "label": label(c.record_id), "events": c.events,
                  "total": c.total, "cohort": c.cohort, "kept": chosen[c.cohort].record_id,
                  "why": f"shares the cohort '{c.cohort}' with "
                         f"{label(chosen[c.cohort].record_id)}, which the rule '{rule}' keeps"}
                 for c in candidates if c.cohort and c.record_id not in kept]
    return [c for c in candidates if not c.cohort or c.record_id in kept], set_aside


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "x"
