"""Eligibility rules: what a rule can test in a record, and the verdict of the first that fires.

A rule's conditions are publication types, languages, years, a boolean ``match`` over terms
in chosen fields, the number of patients the text states, and the study design the record
reads as. Terms match whole words after case folding and accent removal; ``*`` stands for
any word ending. The patient count and the design are read from the text by the cues below:
they pre-sort records for reviewers, and a rule that acts on them alone should not be
automatic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from review_pipeline.model.eligibility import Rule, parse_match, terms_pattern
from review_pipeline.model.record import Record, fold


@dataclass(frozen=True)
class Verdict:
    verdict: str
    """include, exclude or none."""
    rule_id: str = ""
    automatic: bool = False
    reason: str = ""


_NUMBER_WORDS = {word: n for n, word in enumerate((
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen", "twenty"))}
_PEOPLE = (r"(?:patients?|cases?|subjects?|participants?|people|persons?|individuals?|men|"
           r"women|children|adults|recipients|pts)")
# Numbers are few in a text: each is found, then tested for a people word close after it,
# which also lets counts overlap ("30 of 45 patients" yields 30 and 45).
_NUMBER = re.compile(rf"(?<!\w)(\d+|{'|'.join(_NUMBER_WORDS)})(?!\w)")
_PEOPLE_AFTER = re.compile(rf"(?: \w+){{0,3}}? {_PEOPLE}(?!\w)")
# "a 45-year-old man", "52-year-old bedridden woman": one patient, the mark of a case report.
_ONE_PATIENT = re.compile(r"(?<!\w)\d+ (?:year|yr) old (?:\w+ ){0,2}?"
                          r"(?:man|woman|male|female|boy|girl|patient)(?!\w)")


def patients_stated(folded: str) -> int | None:
    """The largest number of patients the (folded) text states, or None when it states none.

    Years (1900-2100) are not counts; "n = 25" counts; "a 45-year-old man" is one patient.
    """
    counts = []
    for match in _NUMBER.finditer(folded):
        start = match.start()
        n_equals = folded.endswith("n ", 0, start) and (start < 3 or folded[start - 3] == " ")
        if n_equals or _PEOPLE_AFTER.match(folded, match.end()):
            raw = match.group(1)
            counts.append(_NUMBER_WORDS[raw] if raw in _NUMBER_WORDS else int(raw))
    counts = [n for n in counts if not 1900 <= n <= 2100]
    if not counts and _ONE_PATIENT.search(folded):
        return 1
    return max(counts) if counts else None


_REVIEW_TYPES = frozenset({"review", "systematic review", "meta-analysis", "practice guideline",
                           "guideline", "editorial", "comment"})
# In the order they are tried: one regex of named alternatives, so one scan finds every cue,
# and at one position the earlier alternative wins ("review of 40" is a cohort's cue).
_DESIGN_CUES = (
    ("case_report", r"case reports?|single case|a case of|one case|report of (?:a|one|two) "
                    r"cases?|\d+ (?:year|yr) old (?:\w+ ){0,2}?(?:man|woman|male|female|"
                    r"boy|girl|patient)"),
    ("review", r"systematic review|meta analysis|narrative review|commentary|editorial|"
               r"how i treat|clinical update"),
    ("randomised_trial", r"randomi[sz]ed|randomi[sz]ation|rct"),
    ("trial", r"trials?|phase (?:1|2|3|i|ii|iii)|prospective|single arm"),
    ("cohort", r"retrospective|cohorts?|registry|consecutive|multicenter|multicentre|"
               r"single cent(?:er|re)|nationwide|(?:database|chart|records?) review|"
               r"review of \d+"),
    ("case_series", r"case series|series"),
    ("review", r"review of the literature|literature review|review"),
)
_CUES = re.compile("(?<!\\w)(?:" + "|".join(
    f"(?P<c{i}>{cues})" for i, (_, cues) in enumerate(_DESIGN_CUES)) + ")(?!\\w)")


def study_design(record: Record, folded: str, patients: int | None) -> str:
    """The design a record reads as: its publication type when telling, else text cues.

    A review by publication type comes first; a case report beats "review of the
    literature", which case reports often add, and a bare "review" is tried last, since
    "a retrospective review of 40 patients" is a cohort; a record stating two or more
    patients with no other cue is a case series.
    """
    types = {t.casefold() for t in record.publication_types}
    if types & _REVIEW_TYPES:
        return "review"
    if "case reports" in types:
        return "case_report"
    if "randomized controlled trial" in types:
        return "randomised_trial"
    if types & {"clinical trial", "clinical trial, phase ii", "clinical trial, phase i"}:
        return "trial"
    found = {int(str(m.lastgroup)[1:]) for m in _CUES.finditer(folded)}
    if found:
        return _DESIGN_CUES[min(found)][0]
    if patients is not None:
        return "case_report" if patients == 1 else "case_series"
    return "unclear"


@dataclass(frozen=True)
class Reading:
    """What the rules read from a record: its fields folded, its design and the patients its
    text states."""

    folded: dict[str, str]
    design: str
    patients: int | None

    def text(self, fields: tuple[str, ...]) -> str:
        """The named fields, folded and joined, for terms to search."""
        return " ".join(self.folded[f] for f in fields if self.folded[f])


def read_record(record: Record) -> Reading:
    folded = {"title": fold(record.title), "abstract": fold(record.abstract),
              "keywords": fold(" ".join(record.keywords)), "note": fold(record.note)}
    everything = " ".join(v for v in folded.values() if v)
    patients = patients_stated(everything)
    return Reading(folded, study_design(record, everything, patients), patients)


def fires(rule: Rule, record: Record, reading: Reading) -> bool:
    """Whether every condition of ``rule`` holds for ``record``."""
    types = {t.casefold() for t in record.publication_types}
    if rule.publication_types and not types & {t.casefold() for t in rule.publication_types}:
        return False
    if rule.languages and record.language not in rule.languages:
        return False
    if rule.before_year is not None and not (record.year and record.year < rule.before_year):
        return False
    if rule.after_year is not None and not (record.year and record.year > rule.after_year):
        return False
    if rule.designs and reading.design not in rule.designs:
        return False
    return _patients_fit(rule, reading.patients) and _terms_fit(rule, reading)


def _patients_fit(rule: Rule, n: int | None) -> bool:
    if rule.min_patients is None and rule.max_patients is None:
        return True
    return n is not None and (rule.min_patients or 0) <= n and (
        rule.max_patients is None or n <= rule.max_patients)


def _terms_fit(rule: Rule, reading: Reading) -> bool:
    if not (rule.terms or rule.without_terms or rule.match):
        return True
    text = reading.text(rule.fields)
    if rule.terms and not terms_pattern(rule.terms).search(text):
        return False
    if rule.without_terms and terms_pattern(rule.without_terms).search(text):
        return False
    return not rule.match or parse_match(rule.match)(text)


def evaluate(rules: tuple[Rule, ...], record: Record,
             reading: Reading | None = None) -> Verdict:
    """The verdict of the first rule that fires, or ``none``."""
    reading = reading or read_record(record)
    for rule in rules:
        if fires(rule, record, reading):
            return Verdict(rule.verdict, rule.id, rule.automatic, rule.reason)
    return Verdict("none")
