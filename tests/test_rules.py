"""rules: the conditions a rule can test, boolean term expressions, and what the rules read in
a record (patients stated, study design), on real POEMS records from the shipped snapshot."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from review_pipeline.model.eligibility import MatchSyntaxError, Rule, parse_match
from review_pipeline.model.errors import ProtocolError
from review_pipeline.model.record import Record, fold
from review_pipeline.protocol import parse_protocol
from review_pipeline.stages.screen.rules import Verdict, evaluate, patients_stated, read_record
from tests.conftest import EXAMPLE


def rule(**fields: object) -> Rule:
    base = Rule(id="r", description="d", verdict="exclude", automatic=False,
                reason="too_few_patients", publication_types=(), languages=(),
                before_year=None, after_year=None, terms=(), without_terms=())
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


REC = Record("1", title="Lenalidomide for POEMS syndrome: a case report", year=2015,
             language="eng", publication_types=["Case Reports"], keywords=["VEGF"])

# Real snapshot records (PMIDs 25401269, 32009091, 21245163), title, keywords and note as shipped.
LENALIDOMIDE_SERIES = Record(
    "25401269", title="Efficacy and safety of low-dose lenalidomide plus dexamethasone in "
    "patients with relapsed or refractory POEMS syndrome.", year=2015,
    keywords=["POEMS syndrome", "lenalidomide", "relapsed or refractory",
              "vascular endothelial growth factor"],
    note="Single-centre series (Peking Union Medical College Hospital): 12 relapsed (8) or "
    "refractory (4) patients given lenalidomide 10 mg/day plus weekly dexamethasone 40 mg; "
    "median follow-up 20 months; haematologic response 77% (CR 44%); neurological response "
    "8/12 (67%); VEGF response 91%; estimated 2-year OS and PFS both 92%; no grade 3-4 "
    "toxicity.")
LENALIDOMIDE_TRIAL = Record(
    "32009091", title="Lenalidomide Treatment for Thalidomide-refractory POEMS Syndrome: A "
    "Prospective Single-arm Clinical Trial.",
    keywords=["POEMS syndrome", "VEGF", "clinical trial", "lenalidomide", "thalidomide"],
    note="Prospective single-arm trial (NCT02193698), 5 thalidomide-refractory men; six "
    "28-day cycles of lenalidomide plus dexamethasone.")
BEVACIZUMAB_CASE = Record(
    "bev", title="Bevacizumab therapy for POEMS syndrome",
    note="Single case: 52-year-old bedridden woman with persistently high VEGF after "
    "chemotherapy; VEGF fell after bevacizumab.")
HOW_I_TREAT = Record("htt", title="How I treat POEMS syndrome", publication_types=["Review"],
                     note="Narrative 'How I treat' review from Mayo Clinic.")
CHART_REVIEW = Record(
    "cr", title="Cerebral infarction in POEMS syndrome: Incidence, risk factors, and imaging "
    "characteristics", note="Mayo Clinic dysproteinaemia database review: 9 POEMS patients "
    "(10%) had cerebral infarction.")


@pytest.mark.parametrize(("conditions", "fires"), [
    ({"publication_types": ("case reports",)}, True),
    ({"publication_types": ("Review",)}, False),
    ({"languages": ("jpn",)}, False),
    ({"before_year": 2016}, True),
    ({"before_year": 2015}, False),
    ({"after_year": 2014}, True),
    ({"terms": ("lenalidomide",)}, True),
    ({"terms": ("lenalid",)}, False),  # word boundaries
    ({"terms": ("lenalid*",)}, True),  # unless a wildcard says otherwise
    ({"terms": ("case report",)}, True),
    ({"terms": ("LENALIDOMIDE FOR POEMS",)}, True),  # case folding, phrases
    ({"terms": ("vegf",)}, True),  # keywords are searched too
    ({"terms": ("vegf",), "fields": ("title",)}, False),  # unless fields say otherwise
    ({"terms": ("lenalidomide",), "without_terms": ("case report*",)}, False),
    ({"publication_types": ("Case Reports",), "terms": ("thalidomide",)}, False),  # all hold
    ({"match": "lenalidomide AND NOT thalidomide"}, True),
    ({"match": '"case report" AND (thalidomide OR bortezomib)'}, False),
    ({"match": 'NOT NOT "poems syndrome"'}, True),
    ({"designs": ("case_report",)}, True),
    ({"designs": ("trial", "cohort")}, False),
])
def test_rule_conditions(conditions: dict[str, object], fires: bool) -> None:
    verdict = evaluate((rule(**conditions),), REC)
    assert (verdict.verdict == "exclude") is fires
    assert verdict.rule_id == ("r" if fires else "")


def test_first_rule_that_fires_gives_the_verdict() -> None:
    rules = (rule(id="a", terms=("thalidomide",)), rule(id="b", verdict="include", reason="",
                                                        terms=("poems",)), rule(id="c"))
    assert evaluate(rules, REC) == Verdict("include", "b", False, "")
    assert evaluate((), REC) == Verdict("none")


@pytest.mark.parametrize(("expression", "text", "expected"), [
    ("a OR b AND c", "a", True),  # AND binds tighter than OR
    ("(a OR b) AND c", "a", False),
    ("NOT a AND b", "b", True),
    ('"stem cell*" AND transplant*', "autologous stem cells transplanted", True),
    ("crow-fukase", "crow fukase syndrome", True),  # punctuation folds to a space
    ("süs", "SUS", True),  # accents and case fold
])
def test_match_expressions(expression: str, text: str, expected: bool) -> None:
    assert parse_match(expression)(fold(text)) is expected


@pytest.mark.parametrize(("expression", "message"), [
    ("radiotherapy and melphalan", "unexpected 'and' after a complete expression"),
    ("(a OR b", r"a '\(' is not closed"),
    ("a AND", "ends where a term was expected"),
    ('"stem cell', "not closed"),
    ("OR a", "'OR' where a term was expected"),
    ("", "empty"),
    ("neur*path*y", r"'neur\*path\*y' has two \* in one word"),  # would backtrack for ever
])
def test_match_syntax_errors(expression: str, message: str) -> None:
    with pytest.raises(MatchSyntaxError, match=message):
        parse_match(expression)


@pytest.mark.parametrize(("record", "patients", "design"), [
    (LENALIDOMIDE_SERIES, 8, "cohort"),  # "12 relapsed (8) or refractory (4) patients": 8
    (LENALIDOMIDE_TRIAL, 5, "trial"),
    (BEVACIZUMAB_CASE, 1, "case_report"),
    (HOW_I_TREAT, None, "review"),
    (CHART_REVIEW, 9, "cohort"),  # "database review" of patients is not a review article
])
def test_what_rules_read_in_real_records(record: Record, patients: int | None,
                                         design: str) -> None:
    reading = read_record(record)
    assert (reading.patients, reading.design) == (patients, design)


@pytest.mark.parametrize(("text", "expected"), [
    ("a series of twelve patients", 12),
    ("patients (n = 25) were treated", 25),
    ("followed from 2000 to 2015 patients", None),  # a year is not a count
    ("median follow-up 45 months", None),
    ("30 of 45 consecutive patients", 45),
])
def test_patients_stated(text: str, expected: int | None) -> None:
    assert patients_stated(fold(text)) == expected


def test_patient_and_note_conditions_on_a_real_series() -> None:
    five_or_more = rule(verdict="include", reason="", min_patients=5,
                        match="lenalidomide AND response", fields=("title", "note"))
    assert evaluate((five_or_more,), LENALIDOMIDE_SERIES).rule_id == "r"
    # The response is in the note only.
    assert evaluate((dataclasses.replace(five_or_more, fields=("title",)),),
                    LENALIDOMIDE_SERIES).verdict == "none"
    too_few = rule(max_patients=4)
    assert evaluate((too_few,), LENALIDOMIDE_TRIAL).verdict == "none"
    assert evaluate((too_few,), BEVACIZUMAB_CASE).verdict == "exclude"
    assert evaluate((too_few,), HOW_I_TREAT).verdict == "none"  # no count stated


PROTOCOL = (EXAMPLE / "queries" / "protocol.toml").read_text()
RULE = '''
[[eligibility.rules]]
id = "x"
description = "d"
verdict = "exclude"
reason = "too_few_patients"
'''


@pytest.mark.parametrize(("extra", "message"), [
    ('match = "a and b"', r"eligibility.rules\[\d+\].match': unexpected 'and'"),
    ('designs = ["anecdote"]', "expected one of review, case_report"),
    ('terms = ["x"]\nfields = ["body"]', "expected one of title, abstract, keywords, note"),
    ("max_patients = -1", "expected 0 or more"),
    ("", "a rule needs at least one condition"),
])
def test_bad_rules_in_the_protocol_name_the_key(extra: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_protocol(PROTOCOL + RULE + extra + "\n", Path("queries/protocol.toml"))
