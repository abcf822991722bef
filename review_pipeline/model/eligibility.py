"""Eligibility as the protocol states it: rules, reason codes, the fields rules read, the
study designs they name, and the ``match`` expressions they may use."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from review_pipeline.model.record import fold

FIELDS = ("title", "abstract", "keywords", "note")


DEFAULT_FIELDS = ("title", "abstract", "keywords")


DESIGNS = ("review", "case_report", "randomised_trial", "trial", "cohort", "case_series",
           "unclear")
"""Study designs a record can read as, in the order the cues are tried."""


class MatchSyntaxError(ValueError):
    """A ``match`` expression that cannot be read; the message says where and why."""


Matcher = Callable[[str], bool]


@functools.lru_cache(maxsize=256)
def parse_match(expression: str) -> Matcher:
    """A boolean expression over terms as a test on folded text.

    Terms are bare words or "quoted phrases"; AND, OR and NOT (upper case) combine them,
    NOT binding tightest and OR loosest; parentheses group. Two terms side by side without
    an operator are an error, so that "radiotherapy and melphalan" is not read by guess.
    """
    tokens = _tokens(expression)
    tree, end = _or(tokens, 0)
    if end != len(tokens):
        raise MatchSyntaxError(f"unexpected '{tokens[end]}' after a complete expression "
                               "(join terms with AND, OR or NOT)")
    return _compile(tree)


Node = tuple[str, Any]
"""("term", text), ("not", node), ("and", [nodes]) or ("or", [nodes])."""


def _compile(node: Node) -> Matcher:
    kind, value = node
    if kind == "term":
        pattern = terms_pattern((value,))
        return lambda folded: pattern.search(folded) is not None
    if kind == "not":
        inner = _compile(value)
        return lambda folded: not inner(folded)
    parts = [_compile(n) for n in value if kind == "and" or n[0] != "term"]
    if kind == "and":
        return lambda folded: all(p(folded) for p in parts)
    # The terms of an OR are one regex: one scan of the text instead of one per term.
    terms = tuple(n[1] for n in value if n[0] == "term")
    if terms:
        pattern = terms_pattern(terms)
        parts.insert(0, lambda folded: pattern.search(folded) is not None)
    return lambda folded: any(p(folded) for p in parts)


_TOKEN = re.compile(r'\s*(?:(\()|(\))|"([^"]*)"|([^\s()"]+)|("))')


def _tokens(expression: str) -> list[str]:
    tokens = []
    for match in _TOKEN.finditer(expression.strip()):
        opening, closing, phrase, word, stray = match.groups()
        if stray:
            raise MatchSyntaxError('a quote (") is not closed')
        if phrase is not None and not phrase.strip():
            raise MatchSyntaxError('an empty phrase ("")')
        tokens.append(opening or closing or (f'"{phrase}"' if phrase is not None else word))
    if not tokens:
        raise MatchSyntaxError("the expression is empty")
    return tokens


def _or(tokens: list[str], at: int) -> tuple[Node, int]:
    return _joined(tokens, at, "OR", _and)


def _and(tokens: list[str], at: int) -> tuple[Node, int]:
    return _joined(tokens, at, "AND", _not)


def _joined(tokens: list[str], at: int, word: str,
            operand: Callable[[list[str], int], tuple[Node, int]]) -> tuple[Node, int]:
    """Operands joined by ``word`` (AND or OR)."""
    parts = []
    while True:
        part, at = operand(tokens, at)
        parts.append(part)
        if at < len(tokens) and tokens[at] == word:
            at += 1
            continue
        return (parts[0] if len(parts) == 1 else (word.lower(), parts)), at


def _not(tokens: list[str], at: int) -> tuple[Node, int]:
    if at < len(tokens) and tokens[at] == "NOT":
        inner, at = _not(tokens, at + 1)
        return ("not", inner), at
    return _atom(tokens, at)


def _atom(tokens: list[str], at: int) -> tuple[Node, int]:
    if at >= len(tokens):
        raise MatchSyntaxError("the expression ends where a term was expected")
    word = tokens[at]
    if word == "(":
        inner, at = _or(tokens, at + 1)
        if at >= len(tokens) or tokens[at] != ")":
            raise MatchSyntaxError("a '(' is not closed")
        return inner, at + 1
    if word in {")", "AND", "OR", "NOT"}:
        raise MatchSyntaxError(f"'{word}' where a term was expected")
    return ("term", word.strip('"')), at + 1


VERDICTS = ("include", "exclude")


AUTOMATIC_BOXES = ("excluded_automatic", "excluded_other", "records_excluded")
"""Where an automatic rule's exclusions count in the PRISMA flow, by the template's names:
marked ineligible by automation tools, removed for other reasons (both before screening), or
excluded at screening by an automation tool (counted apart from reviewers' exclusions)."""

STOPPED = "stop rule"
"""The status reason of a record excluded at title/abstract without being screened, because
the protocol's stop rule was met and applied: PRISMA counts it as excluded by automation."""


@dataclass(frozen=True)
class Reason:
    code: str
    label: str


@dataclass(frozen=True)
class Rule:
    """One eligibility rule. All of its conditions must hold for it to fire."""

    id: str
    description: str
    verdict: str
    automatic: bool
    reason: str
    publication_types: tuple[str, ...]
    languages: tuple[str, ...]
    before_year: int | None
    after_year: int | None
    terms: tuple[str, ...]
    """Any of these terms."""
    without_terms: tuple[str, ...]
    """None of these terms."""
    match: str = ""
    """A boolean expression over terms (see :func:`parse_match`)."""
    fields: tuple[str, ...] = DEFAULT_FIELDS
    """Where terms are looked for."""
    designs: tuple[str, ...] = ()
    min_patients: int | None = None
    max_patients: int | None = None
    """The number of patients the text states lies in [min_patients, max_patients]."""
    prisma: str = "excluded_automatic"
    """The PRISMA box an automatic rule's exclusions count in (:data:`AUTOMATIC_BOXES`)."""


@functools.lru_cache(maxsize=1024)
def terms_pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    """Terms as one regex on folded text: whole words, ``*`` standing for any letters.

    A word may hold one ``*``: with two, the regex backtracks exponentially on a long word
    (``a*a*a*b`` on forty letters a runs for seconds), which a record could hold."""
    for term in terms:
        if any(word.count("*") > 1 for word in term.split()):
            raise MatchSyntaxError(f"'{term}' has two * in one word; a word may hold one "
                                   "(neuro*, neuro*pathy)")
    bodies = [r"\w*".join(re.escape(fold(part)) for part in term.split("*")) for term in terms]
    return re.compile(rf"(?<!\w)(?:{'|'.join(bodies)})(?!\w)")
