"""The report's methods section, written from the protocol and from what the stages did: the
question, the sources with their dates and counts, eligibility, screening (reviewers, their
agreement, automation and the stop rule), extraction, risk of bias and synthesis.

Each part is a heading and plain sentences; the page escapes them. Nothing here is typed by
hand, so the text follows the protocol when it changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from review_pipeline.model.effects import MEASURES, METHODS
from review_pipeline.model.text import number_text
from review_pipeline.protocol import Protocol
from review_pipeline.stages.prisma import PrismaCounts, SearchLog
from review_pipeline.stages.report.grade import OPTIMAL_PATIENTS, WIDE_CI
from review_pipeline.stages.screen import Agreement, landis_koch

STAGE_WORDS = {"ta": "titles and abstracts", "ft": "full texts"}


@dataclass(frozen=True)
class Part:
    heading: str
    sentences: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    """A list after the sentences (the criteria)."""


def methods(protocol: Protocol, counts: PrismaCounts, log: SearchLog,
            agreement: list[Agreement], forms: list[str], tools: dict[str, str]) -> list[Part]:
    """The methods, part by part. ``forms`` are the extraction tables; ``tools`` names the
    risk-of-bias tool of each form that is one."""
    return [_question(protocol), _sources(log, counts), _eligibility(protocol),
            _screening(protocol, counts, agreement), _extraction(protocol, forms, tools),
            _synthesis(protocol), _certainty()]


def _question(protocol: Protocol) -> Part:
    r = protocol.review
    pico = [f"{label}: {text}" for label, text in (
        ("Population", r.population), ("Intervention", r.intervention),
        ("Comparator", r.comparator),
        ("Outcomes", "; ".join(r.outcomes))) if text]
    return Part("Question", (r.question, *(["Registration: " + r.registration]
                                           if r.registration else [])), tuple(pico))


def _sources(log: SearchLog, c: PrismaCounts) -> Part:
    sentences = [f"{run['database']} was searched through {run['interface']} on "
                 f"{run['searched']}, limits: {run['limits'] or 'none'}; "
                 f"{_count(run['records'] or 0, 'record')}." for run in log.runs]
    for b in log.imports:
        sentences.append(f"{b['source']} ({b['kind'].replace('_', ' ')}): "
                         f"{_count(b['records'], 'record')}, exported to {b['file']} and "
                         f"imported on {str(b['imported_at'])[:10]}.")
    if log.planned:
        sentences.append("Planned but not yet searched: " + ", ".join(
            p["source"] for p in log.planned) + ".")
    d = log.dedup
    if d:
        sentences.append(f"Duplicates were found by {d['software']}: exact identifiers, then "
                         "fuzzy matching of titles, authors and citations, with uncertain "
                         f"pairs decided by a reviewer; {_count(c.duplicates, 'record')} "
                         "from databases and registers removed as duplicates (linked to "
                         "the record kept, never deleted).")
    return Part("Sources and searches", tuple(sentences))


def _eligibility(protocol: Protocol) -> Part:
    e = protocol.eligibility
    automatic = [r for r in e.rules if r.automatic]
    sentences = ["Records were included when they met every inclusion criterion and no "
                 "exclusion criterion:"]
    if automatic:
        sentences.append("Before screening, records were removed by automatic rules: "
                         + "; ".join(f"{r.description.rstrip('.')} (rule {r.id})"
                                     for r in automatic) + ".")
    return Part("Eligibility", tuple(sentences),
                tuple([*(f"Include: {c}" for c in e.include),
                       *(f"Exclude: {c}" for c in e.exclude)]))


def _screening(protocol: Protocol, c: PrismaCounts, agreement: list[Agreement]) -> Part:
    n = protocol.screening.reviewers
    who = "one reviewer" if n == 1 else f"{n} reviewers independently"
    sentences = [f"At each stage {who} screened every record (titles and abstracts, then full "
                 "texts)" + (", blind to each other's decisions; disagreements were resolved "
                             "by discussion and recorded" if n > 1 else "") + "."]
    for a in agreement:
        if a.kappa is not None:
            sentences.append(f"Agreement on {STAGE_WORDS[a.stage]} between "
                             f"{' and '.join(a.reviewers)}: Cohen's kappa "
                             f"{a.kappa:.2f} ({landis_koch(a.kappa)}) over "
                             f"{_count(a.records, 'record')}.")
    sentences.append("Titles and abstracts were offered in prioritised order: a model (TF-IDF "
                     "of title, abstract and keywords, linear SVM) trained on the decisions "
                     "so far ranked the undecided records, likely includes first.")
    stop = protocol.screening.stop
    if stop:
        sentences.append(f"Stop rule: {stop.described}; "
                         + (f"applied: {_count(c.records_stopped, 'record')} not screened "
                            "once it was met, counted as excluded by automation."
                            if stop.apply else "reported only, not applied"
                            + (f"; {_count(c.awaiting_screening, 'record')} still await "
                               "screening." if c.awaiting_screening else
                               "; every record was screened.")))
    if c.records_excluded_automation and not (stop and stop.apply):
        sentences.append("Automation tools excluded "
                         f"{_count(c.records_excluded_automation, 'record')} at screening.")
    return Part("Selection of studies", tuple(sentences))


def _count(n: int, noun: str) -> str:
    return f"{number_text(n)} {noun}{'' if n == 1 else 's'}"


def _extraction(protocol: Protocol, forms: list[str], tools: dict[str, str]) -> Part:
    if not forms:
        return Part("Data extraction", ("No extraction form is defined yet.",))
    n = protocol.extraction.reviewers
    data = [f for f in forms if f not in tools]
    sentences = [("Each study was extracted by one reviewer" if n == 1 else
                  f"{n} reviewers extracted each study independently")
                 + f" into forms for {', '.join(data)}"
                 + ("; cells where they differed were settled by consensus, and free text was "
                    "kept side by side" if n > 1 else "") + "."]
    if tools:
        sentences.append("Risk of bias was judged with " + "; ".join(
            f"{name} ({form})" for form, name in tools.items()) + ".")
    return Part("Data extraction and risk of bias", tuple(sentences))


def _synthesis(protocol: Protocol) -> Part:
    s = protocol.synthesis
    measure = MEASURES[s.measure]
    sentences = [f"Each outcome was pooled per treatment where at least {s.min_studies} "
                 f"studies reported it: the {measure.title.lower()} of patients with the "
                 f"outcome ({measure.name}, on the {measure.scale} scale), "
                 f"{METHODS[s.method]}"
                 + (", Hartung-Knapp confidence intervals" if s.knha else ", Wald confidence "
                    "intervals") + ", and prediction intervals.",
                 "Of studies sharing a cohort, " + ("the one with the most evaluable patients"
                                                   if s.overlap == "largest" else
                                                   "the latest report") + " entered each "
                 "analysis."]
    if s.by:
        sentences.append(f"Subgroups by {s.by}, with a test for differences between them.")
    return Part("Synthesis", tuple(sentences))


def _certainty() -> Part:
    return Part("Certainty of the evidence", (
        "The certainty of each pooled finding was rated with GRADE: from high when every "
        "study was a randomised trial or was judged with ROBINS-I or ROBINS-E, from low "
        "otherwise, and rated down per domain.",
        "Risk of bias: one level when half or more of the patients were in studies at high or "
        "critical overall risk or without a judgement; two when half or more at critical "
        "risk.",
        "Inconsistency: one level for an I² of 50% or more, two for 75% or more.",
        f"Imprecision: one level for fewer than {OPTIMAL_PATIENTS} patients (a rule of thumb "
        "for an optimal information size; none is agreed for single-arm proportions), one "
        f"more for a 95% confidence interval wider than {WIDE_CI * 100:.0f} percentage "
        "points.",
        "Indirectness and publication bias: as the reviewers judged them, with their "
        "reasons."))
