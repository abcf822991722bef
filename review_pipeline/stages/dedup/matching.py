"""Which records are the same publication: normalised keys, candidate pairs, and the rules
that decide a pair. Pure functions over :class:`Entry`; the database is dedup's business.

A pair is compared only when the two records share a blocking key (PMID, DOI, the start or
the end of the title, the first page with the year or the volume), so the work grows with
the number of records, not with its square. Each compared pair gets a :class:`Verdict`:
the same publication, not the same, or uncertain (for the reviewer's queue), naming the rule
or veto that decided it and the similarities it saw.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from review_pipeline.model.record import CONFERENCE_ABSTRACT, fold
from review_pipeline.stages.dedup.fields import (
    Pages,
    pages_agree,
    read_citation,
    read_pages,
    unmangle,
)

TITLE_BLOCK = 24
"""Characters of the folded title (start and end) that make a blocking key."""
MAX_BLOCK = 64
"""Records sharing a fuzzy key beyond this many share something generic ("the effect of"),
so the key is not used; PMID and DOI keys have no such cap."""
MIN_TITLE = 20
"""Shorter folded titles ("POEMS syndrome") are shared by distinct papers."""
MIN_LONG_PART = 30
"""A part of a title field (one of two languages, a title before its subtitle) is compared
alone only when it is this long."""
KEPT_VETO = 80.0
"""A veto is kept among the pairs judged (what `review dedup --explain` shows) when the
titles are this alike or the records share a DOI; below, the records plainly differ."""
MIN_ABSTRACT = 200
"""Characters an abstract needs to be evidence ("No abstract available" is not)."""
SWAP_AUTHORS = 6
"""How many first authors are compared by their letters, to see through given and family
names swapped."""

_TAGS = re.compile(r"<[^>]+>")
_LANGUAGES = ("french", "german", "japanese", "chinese", "russian", "spanish", "italian",
              "portuguese", "polish", "dutch", "czech", "hungarian", "turkish", "korean",
              "danish", "swedish", "norwegian", "finnish", "hebrew", "croatian", "serbian",
              "ukrainian", "romanian", "bulgarian", "slovak", "slovenian", "greek, modern",
              "greek", "lithuanian", "latvian", "estonian", "arabic", "persian", "icelandic",
              "catalan", "afrikaans", "indonesian", "thai", "vietnamese")
_LANGUAGE_SUFFIX = re.compile(r"[.\s]*\[?\s*(?:" + "|".join(_LANGUAGES) + r")\s*\]?\s*\.?\s*$",
                              re.IGNORECASE)
# Embase and Ovid give a translated title as "English title. Polish\nOriginal title".
_ORIGINAL_TITLE = re.compile(r"[.\s]+\[?(?:" + "|".join(_LANGUAGES) + r")\]?\.?\s*\n.*$",
                             re.IGNORECASE | re.DOTALL)
# A journal section before the title ("Proceedings: ...", "Guest Editorial: ...").
_SECTION = re.compile(r"^(?:proceedings|guest editorial|rapid publication|rapid communication|"
                      r"short communication|brief communication|brief report|short report|"
                      r"original article|original research|research article|research letter|"
                      r"from the cover|reprint of|reprinted from|editor's choice|editors' choice)"
                      r"\s*:\s*",
                      re.IGNORECASE)
# "RETRACTED: <title>" is the retracted article itself, not a notice about it.
_NOTICE = re.compile(r"^\s*(?P<kind>erratum|errata|corrigendum|correction|retraction note|"
                     r"retraction|notice of retraction|expression of concern)"
                     r"(?:\s+(?:to|for|of|on|in))?\s*(?::|\.|\s-\s)\s*(?=\S.{" + str(MIN_TITLE)
                     + "})",
                     re.IGNORECASE)
_NOTICE_KINDS = {"errat": "erratum", "corri": "erratum", "corre": "erratum",
                 "retra": "retraction", "notic": "retraction", "expre": "concern"}
# Ovid's notes after a title ("[Erratum appears in ...]", "[Review]"), and the Cochrane
# Library's article number ("- ART. NO. CD003235.PUB2").
_NOTE = re.compile(r"\s*(?:\[(?:erratum|published erratum|retraction|retracted|comment|"
                   r"see comments?|review|corrected|update|updated|republished)\b[^\]]*\]|"
                   r"-\s*art\.?\s*no\.?\s*[\w.]+)\s*\.?\s*$", re.IGNORECASE)
# A side of a debate or an answer to an article, in brackets after a title it shares.
_QUALIFIER_SUFFIX = re.compile(r"[(\[]\s*(pro|con|yes|no|for|against|rebuttal|reply|response|"
                               r"discussion|comment|commentary)\s*[)\]]\s*\.?\s*$",
                               re.IGNORECASE)
SIDE_CAP = 45.0
"""The most two titles can agree when they name two sides ("... (PRO)", "... (CON)")."""
_BRACKETED_PART = re.compile(r"^(?P<outside>.{20,}?)\s*\[(?P<inside>[^\]]{20,})\]\s*\.?\s*$")
"""An original title with its translation in brackets, each of MIN_TITLE characters or more."""
_PART = re.compile(r"\bpart\s+([ivx]+|\d+|one|two|three)\b")
_GENERIC = re.compile(r"^(erratum|errata|corrigendum|correction|reply|response|comment|"
                      r"commentary|editorial|letter|retraction|retracted|in reply|"
                      r"author reply|authors reply|notice of retraction|withdrawn)\b")
_EMBASE_SOURCE = re.compile(r"^(?P<journal>[^.]+(?:\.[^.\d(]+)*?)\.(?P<volume>\d+)?\s*\(")
_EMBASE_PAGES = re.compile(r"\((?:pp |no pagination\))")
"""What tells an Embase source string from a journal name with a dot."""
_EMBASE_NO_JOURNAL = re.compile(r"^[\d\s]*\((?:pp |no pagination\))")
_NUMBER = re.compile(r"\d+")
_SUPPLEMENT = re.compile(r"\b(?:supplement|suppl|supp|sup|s)\b|^s(?=\d)")
_SPREADSHEET_ERRORS = frozenset({"#NAME?", "#VALUE!", "#REF!", "#N/A", "#NULL!", "#DIV/0!"})
"""What a spreadsheet leaves in a cell it mistook for a formula: no title at all."""
_PAGE_RANGE = re.compile(r"^\s*[1-9]\d*\s*[-\u2013]\s*\d+\s*$")
_QUALIFIER = re.compile(r"\s*\([^()]*\)\s*$")
_CONFERENCE = re.compile(r"conference:|congress|meeting|symposium|\bsymp\b|workshop|abstracts? of",
                         re.IGNORECASE)
_COCHRANE = re.compile(r"^(10\.1002/14651858\.[a-z]{2}\d+)(?:\.pub\d+)?$")
# bioRxiv and medRxiv (numeric suffixes only: 10.1101 is also Cold Spring Harbor's journals),
# Research Square, SSRN, Preprints.org, arXiv.
_PREPRINT_DOI = re.compile(r"^10\.(?:1101/(?:\d{4}\.\d{2}\.\d{2}\.)?\d+(?:v\d+)?$|21203/rs\.|"
                           r"2139/ssrn\.|20944/preprints|48550/arxiv\.)")
_PREPRINT_SERVER = re.compile(r"\b(?:biorxiv|medrxiv|arxiv|chemrxiv|psyarxiv|ssrn|research "
                              r"square|preprints)\b")
MATCHER_VERSION = 10
"""Raise it whenever a rule changes: dedup reuses the verdicts it stored only while the
rules that made them are the same."""


def read_notice(title: str) -> tuple[str, str]:
    """("erratum", "retraction", "concern" or "", the title after that label): "Erratum:
    <the article's title>" names a notice about the article, not the article."""
    match = _NOTICE.match(title)
    if not match:
        return "", title
    return _NOTICE_KINDS[match.group("kind")[:5].lower()], title[match.end():]


def strip_notes(title: str) -> str:
    """The title without the notes a database writes after it."""
    while ("[" in title or "art" in title.lower()) and (cut := _NOTE.sub("", title)) != title:
        title = cut
    return title


def clean_title(title: str) -> str:
    """The title as compared: markup, a section or notice label before it, notes after it,
    brackets around a translation and a trailing language name ("... . [French]",
    "... . Japanese") dropped, then folded."""
    return fold(_title_text(title)[1])


def _title_text(title: str) -> tuple[str, str]:
    """(the notice the title names, or "", the title's own text, unfolded)."""
    if title.strip() in _SPREADSHEET_ERRORS:
        return "", ""
    text = (_TAGS.sub("", title) if "<" in title else title).strip()
    notice, text = read_notice(_SECTION.sub("", text))
    text = strip_notes(text)
    if "\n" in text:
        text = _ORIGINAL_TITLE.sub("", text)
    # The suffix pattern is tried at every position; most titles need not pay for that.
    if text.rstrip(" .]").lower().endswith(_LANGUAGES):
        text = _LANGUAGE_SUFFIX.sub("", text)
    if text.startswith("[") and text.rstrip(".").endswith("]"):
        text = text.rstrip(".")[1:-1]
    return notice, text


def title_parts(text: str) -> tuple[str, ...]:
    """What else a title field may be, squeezed: each of an original and its translation
    given together ("Utilidad ...; Are antimicrobials ...", "... [Arbeiten ...]"), and the
    title without its subtitle."""
    parts: list[str] = []
    if match := _BRACKETED_PART.match(text):
        parts += [match.group("outside"), match.group("inside")]
    elif "; " in text:
        halves = text.split("; ", 1)
        if all(len(h) >= MIN_LONG_PART for h in halves):
            parts += halves
    main, colon, _ = text.partition(": ")
    if colon and len(main) >= MIN_LONG_PART:
        parts.append(main)
    return tuple(fold(p).replace(" ", "") for p in parts)


def issue_key(issue: str) -> str:
    """"Suppl2", "SUPPL. 2" and "Supplement 2" agree; "3" and "3 Meeting Abstracts" agree;
    an issue without a number ("June", "Medical Science Edition") says nothing."""
    if not any(c.isdigit() for c in issue):
        return ""
    if issue.strip()[:1].isdigit():
        return first_number(issue)
    return _SUPPLEMENT.sub("suppl", fold(issue)).replace(" ", "")


def first_number(text: str) -> str:
    match = _NUMBER.search(text)
    return match.group(0).lstrip("0") or "0" if match else ""


@dataclass
class Entry:
    """The fields of one record that dedup reads, and the keys made from them."""

    record_id: str
    source: str = ""
    branch: str = "databases"
    status: str = "identified"
    kind: str = "journal_article"
    pmid: str = ""
    doi: str = ""
    title: str = ""
    year: int | None = None
    journals: tuple[str, ...] = ()
    volume: str = ""
    pages: str = ""
    filled: int = 0
    authors: str = ""
    """Folded author names, in order."""
    author_list: tuple[str, ...] = ()
    """The same names one by one, when the source told them apart."""
    abstract: str = ""
    """The folded abstract of a record that has nothing else beside its title (a screening
    export: title and abstract only); empty otherwise, as a citation says more."""
    issue: str = ""
    preprint: bool = False
    """A preprint; also recognised from its DOI or its server's name."""
    title_key: str = field(init=False)
    squeezed: str = field(init=False)
    """The title key without spaces: "Shu-Yu" and "ShuYu" agree."""
    volume_n: str = field(init=False)
    issue_n: str = field(init=False)
    page: str = field(init=False)
    """The first page as written ("e1611", "s12"), after :func:`fields.read_pages`."""
    pages_read: Pages = field(init=False)
    doi_key: str = field(init=False)
    """The DOI, with a Cochrane review's ``.pubN`` update suffix dropped."""
    page_range: bool = field(init=False)
    """The pages are a plain range ("511-519"), not a year, an article number or a date."""
    part: str = field(init=False)
    numbers: tuple[str, ...] = field(init=False)
    """The numbers in the title: "2019 update" and "2021 update" are two papers."""
    generic: bool = field(init=False)
    conference: bool = field(init=False)
    notice: str = field(init=False)
    """"erratum", "retraction" or "concern" for a notice about an article."""
    parts: tuple[str, ...] = field(init=False)
    """What else the title field may be: see :func:`title_parts`."""
    qualifier: str = field(init=False)
    """The side a title names in brackets at its end: "(PRO)", "(CON)", "(Reply)"."""

    def __post_init__(self) -> None:
        if self.year and not 1800 <= self.year <= 2100:
            self.year = None  # a page number or a typing slip in the year column
        self.notice, text = _title_text(self.title)
        self.title_key = fold(text)
        self.parts = title_parts(text) if self.title_key else ()
        qualifier = _QUALIFIER_SUFFIX.search(text)
        self.qualifier = fold(qualifier.group(1)) if qualifier else ""
        self.squeezed = self.title_key.replace(" ", "")
        cited = read_citation(self.volume, self.issue, self.pages, self.year)
        self.volume_n = first_number(cited.volume)
        self.issue_n = issue_key(cited.issue)
        self.pages_read = read_pages(cited.pages, self.year)
        self.page = self.pages_read.first
        self.page_range = bool(_PAGE_RANGE.match(unmangle(cited.pages)))
        cochrane = _COCHRANE.match(self.doi)
        self.doi_key = cochrane.group(1) if cochrane else self.doi
        part = _PART.search(self.title_key)
        self.part = part.group(1) if part else ""
        self.numbers = tuple(n.lstrip("0") for n in _NUMBER.findall(self.title_key))
        self.generic = bool(self.title_key) and (bool(_GENERIC.match(self.title_key))
                                                 or len(self.title_key) < MIN_TITLE)
        self.conference = self.kind == CONFERENCE_ABSTRACT or any(
            _CONFERENCE.search(j) for j in self.journals) or self.issue == "var.pagings"
        self.preprint = self.preprint or bool(_PREPRINT_DOI.match(self.doi)) or any(
            _PREPRINT_SERVER.search(j) for j in self.journals)

    @cached_property
    def initials(self) -> tuple[frozenset[str], ...]:
        """Each of the first authors as the set of their names' first letters: "Cicek FA"
        and "Amber CF" (given and family name swapped) are both {a, c, f}."""
        return tuple(_initials(name) for name in self.author_list[:SWAP_AUTHORS])


def _initials(name: str) -> frozenset[str]:
    # A word of one or two letters is initials ("fa"); a longer one is a name.
    return frozenset(c for word in name.split() for c in (word[0] if len(word) > 2 else word))


_DAMAGED = re.compile(r"(?<=\w)[?\ufffd]+\w*")


def journal_names(*raw: str) -> tuple[str, ...]:
    """Folded journal names, with Embase's "Journal.25 (7) ()(pp 960-975) 2011.Date of
    Publication: ..." source string cut to its name, and a MEDLINE abbreviation also without
    its qualifier ("Exp Biol Med (Maywood)", "J Appl Physiol (1985)")."""
    names = []
    for value in raw:
        # "Revista espa?ola": a letter lost to an encoding; the word up to it abbreviates it.
        value = _DAMAGED.sub("", value)
        if _EMBASE_NO_JOURNAL.match(value):
            continue
        match = _EMBASE_SOURCE.match(value)
        name = match.group("journal") if match and _EMBASE_PAGES.search(value) else value
        for variant in (name, _QUALIFIER.sub("", name)):
            folded = fold(variant.replace("&", " and "))
            if folded:
                names.append(folded)
    return tuple(dict.fromkeys(names))


def embase_volume(raw: str) -> str:
    """The volume inside an Embase source string ("Journal.25 (7) ()(pp ...)"), if any."""
    match = _EMBASE_SOURCE.match(raw)
    return match.group("volume") or "" if match and _EMBASE_PAGES.search(raw) else ""


def journals_match(a: str, b: str) -> bool:
    """Whether two folded journal names can name one journal, the way ISO 4 abbreviates:
    every word of the shorter is, in order, the start of a word of the longer ("behav brain
    res" and "behavioural brain research") or of words run together ("cardiothorac" and
    "cardio thoracic"), also once both are written in one transliteration ("psikhiatr" and
    "psihiatrii")."""
    x, y = a.split(), b.split()
    if not (x and y):
        return False
    if _abbreviation_of(x, y) or _abbreviation_of(y, x):
        return True
    tx, ty = _transliterated(a).split(), _transliterated(b).split()
    return (tx, ty) != (x, y) and (_abbreviation_of(tx, ty) or _abbreviation_of(ty, tx))


_TRANSLITERATION = (("kh", "h"), ("ph", "f"), ("y", "i"), ("w", "v"), ("ks", "x"),
                    ("ae", "a"), ("oe", "o"), ("ue", "u"))
"""Letters that the common romanisations (of Russian, German umlauts, Greek) write
differently: mapped to one spelling."""


def _transliterated(name: str) -> str:
    for spelled, one in _TRANSLITERATION:
        name = name.replace(spelled, one)
    return name


def leading_journals(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Whether one journal name is the start of the other, abbreviated or cut: "Biological
    Reviews" and "Biol Rev Camb Philos Soc", "Zhurnal nevrologii i psihiatrii imeni S S" and
    its full name. Too weak to join records alone; enough beside one DOI and title."""
    for x, y in ((x, y) for x in a for y in b):
        for one, other in ((x, y.split()), (y, x.split())):
            if any(journals_match(one, " ".join(other[:k])) for k in range(2, len(other))):
                return True
    return False


def _abbreviation_of(short: list[str], long: list[str]) -> bool:
    at = 0
    for word in short:
        while at < len(long) and not (after := _abbreviates(word, long, at)):
            at += 1
        if at == len(long):
            return False
        at = after
    return True


def _abbreviates(word: str, words: list[str], at: int) -> int:
    """The index after the words from ``at`` that ``word`` abbreviates, or 0: a start of
    the words run together, or a contraction of one word ("natl" for "national")."""
    if word[0] == words[at][0] and _contracts(word, words[at]):
        return at + 1
    joined = ""
    for index in range(at, len(words)):
        joined += words[index]
        if joined.startswith(word):
            return index + 1
        if not word.startswith(joined):
            return 0
    return 0


def _contracts(word: str, full: str) -> bool:
    """Whether the letters of ``word`` appear in ``full`` in order."""
    letters = iter(full)
    return len(word) < len(full) and all(c in letters for c in word)


def same_journal(a: Entry, b: Entry) -> bool | None:
    """True or False when both records name a journal, None when one does not."""
    if not (a.journals and b.journals):
        return None
    return _journals_agree(a.journals, b.journals)


@lru_cache(maxsize=1 << 16)
def _journals_agree(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    # A search's records name a few hundred journals: the same two meet again and again.
    squeezed = {j.replace(" ", "") for j in a}
    return any(journals_match(x, y) or y.replace(" ", "") in squeezed for x in a for y in b)


@dataclass(frozen=True)
class Verdict:
    same: bool | None
    """True: the same publication; False: not; None: uncertain, for the reviewer."""
    rule: str
    why: str
    title: float = 0.0
    authors: float = 0.0

    def __post_init__(self) -> None:
        if self.same and self.rule not in _RANK:
            raise ValueError(f"rule '{self.rule}' joins records but has no place in JOINING")


JOINING = ("pmid", "doi", "cochrane_update", "doi_alias", "citation",
           "generic_citation", "abstract_listed_twice", "title_citation", "title_issue",
           "title_pages", "title_variant", "title_authors", "title_abstract", "same_meeting",
           "online_first", "preprint", "erratum_article", "abstract_article",
           "review_versions")
"""The rules that join records, strongest first: a stronger link is made before a weaker one
that might conflict with it. A verdict of the same publication must name one of them."""
_RANK = {rule: rank for rank, rule in enumerate(JOINING)}
POLICY_JOINS = frozenset({"erratum_article", "abstract_article", "review_versions"})
"""Rules that join two items only because the review's :class:`Policy` counts them as one
publication: each keeps its own PMID, DOI and kind."""
_REVIEW = re.compile(r"\b(?:review|meta analysis|metaanalysis)\b")


def strength(rule: str) -> int:
    """Where a joining rule stands in :data:`JOINING` (0 is the strongest)."""
    return _RANK[rule]


def title_similarity(a: Entry, b: Entry) -> float:
    """0-100. A title cut short by a database matches the full one on the shared length.
    Titles that name two sides of a debate ("... (PRO)" and "... (CON)" or nothing) agree
    at most :data:`SIDE_CAP`: the cut never hides that word."""
    x, y = a.squeezed, b.squeezed
    if not (x and y):
        return 0.0
    if a.qualifier != b.qualifier:
        return min(SIDE_CAP, fuzz.ratio(x, y))
    n = min(len(x), len(y))
    if n >= 40:
        x, y = x[:max(n, int(len(x) * 0.8))], y[:max(n, int(len(y) * 0.8))]
    return fuzz.ratio(x, y)


def part_similarity(a: Entry, b: Entry) -> float:
    """0-100: the best match of one record's whole title with a part of the other's."""
    return max((fuzz.ratio(part, whole) for parts, whole in ((a.parts, b.squeezed),
                                                              (b.parts, a.squeezed))
                for part in parts if whole), default=0.0)


def author_similarity(a: Entry, b: Entry) -> float | None:
    """0-100 over the first authors (lists are cut at different lengths): the best of the
    names as written, squeezed, as surnames shared ("Abrahao, Bruno" and "B. Abrahao"), and
    as letters (given and family names swapped); None when a record has none."""
    if not (a.authors and b.authors):
        return None
    x, y = a.authors[:60], b.authors[:60]
    surnames_x = {w for w in x.split() if len(w) > 2}
    surnames_y = {w for w in y.split() if len(w) > 2}
    shared = 100 * len(surnames_x & surnames_y) / min(len(surnames_x), len(surnames_y)) if (
        surnames_x and surnames_y) else 0
    best = max(fuzz.token_set_ratio(x, y), shared,
               fuzz.ratio(x.replace(" ", "")[:30], y.replace(" ", "")[:30]))
    return best if best >= 90 else max(best, _same_letters(a.initials, b.initials))


def _same_letters(a: tuple[frozenset[str], ...], b: tuple[frozenset[str], ...]) -> float:
    """100 times the share of the first authors whose letters agree; 0 unless three or more
    of them on both sides have three letters or more ("Cicek FA"), since "Zhang L" and
    "Zhao L" share theirs."""
    n = min(len(a), len(b))
    if sum(len(x) >= 3 and len(y) >= 3 for x, y in zip(a[:n], b[:n], strict=True)) < 3:
        return 0.0
    return 100 * sum(x == y for x, y in zip(a[:n], b[:n], strict=True)) / n


def conflicts(a: Entry, b: Entry, *, journal: bool | None = None) -> list[str]:
    """The citation fields both records give and disagree on; ``journal`` is
    :func:`same_journal` of the two when the caller has it."""
    # "Suppl 3" and "3" are one issue written two ways; "Suppl 3" and "4" are not.
    out = [name for name, x, y in (("volume", a.volume_n, b.volume_n),
                                   ("issue", first_number(a.issue_n), first_number(b.issue_n)))
           if x and y and x != y]
    if a.page and b.page and not (a.pages_read.guessed or b.pages_read.guessed) and (
            not pages_agree(a.pages_read, b.pages_read)):
        out.append("page")
    if (same_journal(a, b) if journal is None else journal) is False:
        out.append("journal")
    return out


@dataclass(frozen=True)
class Policy:
    """The review's conventions for items that some teams count as one publication and
    others as two. Only ``preprints`` joins by default, as PRISMA counts reports of one
    study; the others keep the items apart unless a team chooses otherwise."""

    preprints: bool = True
    """A preprint and its published version."""
    errata: bool = False
    """An erratum (corrigendum, correction) and the article it corrects."""
    abstracts: bool = False
    """A meeting abstract and the journal article it became."""
    reviews: bool = False
    """Versions of one review published in different years."""

    @property
    def joins(self) -> bool:
        """Whether any convention joins items that carry their own identifiers."""
        return self.errata or self.abstracts or self.reviews

    def describe(self) -> str:
        """The policy as the search log names it."""
        return "; ".join(f"{name} {'same' if same else 'different'}" for name, same in (
            ("preprints", self.preprints), ("errata", self.errata),
            ("abstracts", self.abstracts), ("review versions", self.reviews)))


@dataclass(frozen=True)
class Cutoffs:
    """The title similarities (0-100) at which the rules that lean most on a title decide,
    chosen across all the shared labelled sets at once; `make bench-dedup` reports each
    set's figures when its own pairs were left out of that choice."""

    citation: float = 85
    """At one journal, volume, first page and year."""
    doi_citation: float = 50
    """At one DOI and citation (Greek letters lost, a section label)."""
    one_doi: float = 90
    """At one DOI."""
    title_citation: float = 95
    """The same year, authors and journal or first page."""
    title_pages: float = 80
    """The same first page and authors, a year apart at most."""


@dataclass(frozen=True)
class Pair:
    """Two records and what the rules look at. Most candidate pairs are told apart by their
    titles alone: the authors, the clashing fields and the journals are compared only when
    a rule asks for them."""

    a: Entry
    b: Entry
    title: float
    gap: int | None
    """Years apart."""
    policy: Policy = field(default_factory=Policy)
    cut: Cutoffs = field(default_factory=Cutoffs)

    @cached_property
    def authors(self) -> float | None:
        return author_similarity(self.a, self.b)

    @cached_property
    def journal(self) -> bool | None:
        return same_journal(self.a, self.b)

    @cached_property
    def clash(self) -> tuple[str, ...]:
        """Citation fields both give and disagree on."""
        return tuple(conflicts(self.a, self.b, journal=self.journal))

    @property
    def untitled(self) -> bool:
        return not (self.a.squeezed and self.b.squeezed)

    @property
    def whole_title(self) -> bool:
        """The whole titles agree, not only a main title or one part: no subtitle or
        translation on one side only."""
        return fuzz.ratio(self.a.squeezed, self.b.squeezed) >= 95

    @property
    def cut_short(self) -> bool:
        """One title is the start of the other: a database cut it ("Simultaneous LTP of
        non-")."""
        short, long = sorted((self.a.squeezed, self.b.squeezed), key=len)
        return len(short) >= MIN_TITLE and long.startswith(short)

    @property
    def same_page(self) -> bool:
        return pages_agree(self.a.pages_read, self.b.pages_read)

    @property
    def same_citation(self) -> bool:
        """The same volume, first page and year; a year missing on one side is made up
        for by the same issue."""
        return self.same_page and bool(self.a.volume_n) and (
            self.a.volume_n == self.b.volume_n) and (self.gap == 0 or (
                self.gap is None and bool(self.a.issue_n) and self.a.issue_n == self.b.issue_n))

    def verdict(self, same: bool | None, rule: str, why: str) -> Verdict:
        # Most candidate pairs end in a veto that is not kept: their authors need no score.
        authors = self.authors if kept(self.a, self.b, same, self.title) else None
        return Verdict(same, rule, why, self.title, authors or 0.0)


def kept(a: Entry, b: Entry, same: bool | None, title: float) -> bool:
    """Whether a verdict on ``a`` and ``b`` is worth keeping: it joins them, leaves them to
    a reviewer, or keeps apart two records that look alike (see :data:`KEPT_VETO`)."""
    return same is not False or title >= KEPT_VETO or bool(a.doi and a.doi == b.doi)


def _meeting_abstract(p: Pair) -> Verdict | None:
    if p.a.conference == p.b.conference:
        return None
    if _listed_twice(p):
        return p.verdict(True, "abstract_listed_twice", "one meeting abstract, listed with and "
                         "without the meeting's name in the same supplement")
    if p.policy.abstracts and _one_work(p, years=2):
        return p.verdict(True, "abstract_article", "a meeting abstract and the article it "
                         "became, one publication by the abstracts policy")
    return p.verdict(False, "abstract_vs_article",
                     "a meeting abstract and a journal article are different reports")


def _one_work(p: Pair, years: int) -> bool:
    # What the policy joins must still be one work: its title and part, its authors, close
    # in time. (An erratum's title often ends with the article's citation: its numbers
    # differ.)
    return p.title >= 95 and (p.authors is None or p.authors >= 80) and (
        p.gap is None or p.gap <= years) and not _companion(p)


def _notice(p: Pair) -> Verdict | None:
    if p.a.notice == p.b.notice:
        return None
    if p.policy.errata and {p.a.notice, p.b.notice} == {"erratum", ""} and _one_work(p, 3):
        return p.verdict(True, "erratum_article", "an erratum and the article it corrects, "
                         "one publication by the errata policy")
    kinds = " and ".join(n or "an article" for n in sorted((p.a.notice, p.b.notice)))
    return p.verdict(False, "notice", f"{kinds}: a notice is not the item it is about")


def _is_review(entry: Entry) -> bool:
    return bool(_REVIEW.search(entry.title_key)) or any("cochrane" in j for j in entry.journals)


def _review_versions(p: Pair) -> Verdict | None:
    # Versions of a review: one title and team, other years, often other DOIs.
    if p.policy.reviews and p.title >= 98 and (p.authors is None or p.authors >= 80) and (
            p.gap or 0) >= 1 and p.journal is not False and _is_review(p.a) and _is_review(
                p.b) and not (_companion(p) or _title_numbers(p)):
        return p.verdict(True, "review_versions", "versions of one review, one publication "
                         "by the review versions policy")
    return None


def _listed_twice(p: Pair) -> bool:
    # MEDLINE lists a supplement's abstract under the journal alone, Embase under the
    # journal and the meeting: the same volume, issue and year, and no article's pages.
    abstract, other = (p.a, p.b) if p.a.conference else (p.b, p.a)
    journals = [j.split(" conference ")[0] for j in abstract.journals]
    return p.title >= 98 and (p.authors is None or p.authors >= 90) and p.gap == 0 and (
        bool(abstract.volume_n) and abstract.volume_n == other.volume_n) and not (
        set(p.clash) - {"journal"}) and not (other.page_range and not p.same_page) and any(
        journals_match(x, y) for x in journals for y in other.journals)


def _doi_citation(p: Pair) -> Verdict | None:
    # One DOI at one citation settles it, whatever the titles (Greek letters dropped, a
    # "Short communication:" prefix) or the journal names (a translation) say.
    if p.a.doi and p.a.doi == p.b.doi and p.same_citation and p.title >= p.cut.doi_citation and (
            p.authors is None or p.authors >= 80) and (p.title >= 90 or _same_list(p)):
        return p.verdict(True, "doi", "the same DOI, volume, first page and year")
    return None


def _same_list(p: Pair) -> bool:
    # Two abstracts on one supplement page share the supplement's DOI and some authors: one
    # list inside the other is not the same list.
    return p.authors is None or fuzz.ratio(p.a.authors, p.b.authors) >= 80


def _companion(p: Pair) -> Verdict | None:
    if p.a.part != p.b.part:
        return p.verdict(False, "companion",
                         f"part {p.a.part or '-'} and part {p.b.part or '-'} of a series")
    return None


def _title_numbers(p: Pair) -> Verdict | None:
    # Not at one citation: there the numbers differ by notation ("(1)(8)F" and "18F",
    # "[Ca2+](i)" and markup), not by edition.
    if p.a.numbers and p.b.numbers and p.a.numbers != p.b.numbers and not (
            p.same_citation and p.journal is not False) and (
            "".join(p.a.numbers) != "".join(p.b.numbers)):
        return p.verdict(False, "title_numbers",
                         f"the titles differ in their numbers ({' '.join(p.a.numbers)} and "
                         f"{' '.join(p.b.numbers)})")
    return None


def _preprint(p: Pair) -> Verdict | None:
    # The published version often retitles the preprint slightly, and adds a year.
    if p.a.preprint == p.b.preprint or p.title < 90 or (
            p.authors is not None and p.authors < 80) or (p.gap or 0) > 2:
        return None
    if p.policy.preprints:
        return p.verdict(True, "preprint", "a preprint and its published version")
    return p.verdict(False, "preprint", "a preprint and its published version, kept apart "
                     "by the preprint policy")


def _two_dois(p: Pair) -> Verdict | None:
    if not (p.a.doi and p.b.doi) or p.a.doi == p.b.doi:
        return None
    if p.a.doi_key == p.b.doi_key and p.title >= 95:
        return p.verdict(True, "cochrane_update", "versions of one Cochrane review")
    if p.title >= 95 and (p.authors or 0) >= 90 and not p.clash and p.same_citation:
        return p.verdict(True, "doi_alias", "one article under two DOIs: the same title, "
                         "authors, volume, first page and year")
    if p.title >= 98 and (p.authors or 0) >= 90 and not p.clash and p.gap == 0 and (
            p.journal is not False) and dois_alike(p.a.doi, p.b.doi):
        return p.verdict(True, "doi_alias", "one article under two DOIs that differ by a "
                         "typing slip or the publisher's prefix: the same title, authors, "
                         "journal and year")
    if p.title >= 95 and (p.authors or 0) >= 90 and not p.clash and (p.gap or 0) <= 1 and (
            not _dated_dois(p)):
        # Print and online DOIs exist; so do companion papers. A person decides.
        return p.verdict(None, "doi_conflict", "the same title and authors under two DOIs")
    return p.verdict(False, "doi_conflict", "different DOIs")


_PADDED = re.compile(r"(?<!\d)0+(?=\d)")
_DOI_YEAR = re.compile(r"(?<![\d])((?:19|20)\d\d)(?![\d])")


def _dated_dois(p: Pair) -> bool:
    # "hicss.2021.510" and "hicss.2022.544": a yearly item (a minitrack's introduction, an
    # annual report) under the same title, one DOI a year.
    # In the suffix only: "10.1901/..." is a prefix, not a year.
    x = _DOI_YEAR.search(p.a.doi.partition("/")[2])
    y = _DOI_YEAR.search(p.b.doi.partition("/")[2])
    return x is not None and y is not None and x.group(1) != y.group(1) and p.gap != 0


def dois_alike(a: str, b: str) -> bool:
    """Two DOIs that one article can carry by mistake or by history: the same suffix under
    two prefixes (a journal that changed publisher: 10.1080/1562... and 10.3109/1562...),
    one character apart (jas.2013-7190 and jas.2014-7190), or the same numbers written with
    and without leading zeros (rnj.027 and rnj.27)."""
    return (a.partition("/")[2] == b.partition("/")[2] or Levenshtein.distance(a, b) <= 1
            or _PADDED.sub("", a) == _PADDED.sub("", b))


def _one_doi(p: Pair) -> Verdict | None:
    if not p.a.doi or p.a.doi != p.b.doi or _container_doi(p):
        return None
    if p.untitled:
        if p.same_citation and p.journal is not False:
            return p.verdict(True, "doi", "the same DOI and citation; a title is missing")
        return p.verdict(None, "doi", "the same DOI, but a title is missing and the citations "
                         "do not show it is one item")
    # Embase meeting abstracts and supplements borrow the DOI of another item.
    if p.title >= p.cut.one_doi and ("journal" not in p.clash or (
            p.title >= 95 and leading_journals(p.a.journals, p.b.journals))):
        return p.verdict(True, "doi", "the same DOI and title")
    if p.title >= p.cut.one_doi:
        return p.verdict(None, "doi", "the same DOI and title in two journals")
    return p.verdict(False, "borrowed_doi", "the same DOI on different titles")


def _container_doi(p: Pair) -> bool:
    """A DOI two items share because it is their container's (a supplement's, a debate's),
    not their own: at two first pages, it says nothing unless the titles and authors say it
    is one item."""
    return "page" in p.clash and (p.title < 95 or (p.authors is not None and p.authors < 80))


def _generic_title(p: Pair) -> Verdict | None:
    # "Reply", "Erratum", a two-word title: only the citation tells one from another.
    if not (p.a.generic or p.b.generic):
        return None
    if p.title >= 95 and p.same_page and p.a.volume_n == p.b.volume_n and p.journal:
        return p.verdict(True, "generic_citation", "a generic title at one citation")
    if p.title >= 95 and (p.authors or 0) >= 90 and p.gap == 0 and p.journal and (
            p.a.volume_n and p.a.volume_n == p.b.volume_n and p.a.issue_n
            and p.a.issue_n == p.b.issue_n) and not p.clash:
        return p.verdict(True, "generic_citation", "a generic title by the same authors in "
                         "one issue")
    return p.verdict(False, "generic_title", "a generic title with no matching citation")


def _citation(p: Pair) -> Verdict | None:
    if not (p.journal and p.same_citation):
        return None
    # Letters, replies and articles in one issue can share a first page and authors.
    if p.untitled:
        return p.verdict(None, "citation", "the same citation, but a title is missing")
    if (p.title >= p.cut.citation or p.cut_short) and (p.authors is None or p.authors >= 50):
        return p.verdict(True, "citation", "the same journal, volume, first page and year")
    # A title translated twice ("[Basic diphenylmethane derivatives ...]") differs in its
    # words, but so do two abstracts of one group on one supplement page, and gold sets
    # disagree on such translations: a person decides.
    if p.title >= 60 and (p.authors or 0) >= 90:
        return p.verdict(None, "citation", "the same journal, volume, first page, year and "
                         "authors; the titles are worded differently (two translations of one?)")
    return None


def _same_meeting(p: Pair) -> Verdict | None:
    # One abstract listed under two issues or pages of one meeting's supplement.
    if p.a.conference and p.b.conference and p.title >= 98 and (p.authors or 0) >= 90 and (
            p.gap == 0) and "volume" not in p.clash and max(
                (fuzz.token_set_ratio(x, y) for x in p.a.journals for y in p.b.journals),
                default=0) >= 95:
        return p.verdict(True, "same_meeting", "the same abstract, authors and meeting")
    return None


def _citation_conflict(p: Pair) -> Verdict | None:
    if len(p.clash) >= 2:
        return p.verdict(False, "citation_conflict", f"{' and '.join(p.clash)} disagree")
    return None


def _title_citation(p: Pair) -> Verdict | None:
    if p.title >= p.cut.title_citation and (p.authors is None or p.authors >= 80) and (
            p.gap == 0) and (
            not p.clash) and (p.journal or p.same_page):
        return p.verdict(True, "title_citation",
                         "the same title, authors, year and journal or first page")
    return None


def _title_issue(p: Pair) -> Verdict | None:
    # Pages are the noisiest field: a year, an article number, a date made by a spreadsheet.
    if p.title >= 98 and (p.authors or 0) >= 90 and p.gap == 0 and p.journal and (
            p.a.volume_n and p.a.volume_n == p.b.volume_n) and set(p.clash) <= {"page"} and (
            not (p.a.page_range and p.b.page_range)) and p.whole_title:
        return p.verdict(True, "title_issue", "the same title, authors, journal, volume and "
                         "year; the pages disagree")
    return None


def _title_pages(p: Pair) -> Verdict | None:
    # Two volumes a year apart at one first page ("10:1" and "11:1") are two papers; in one
    # year, a volume is more often an export's fragment ("1)" of "128 (3 SUPPL. 1)").
    if p.title >= p.cut.title_pages and (p.authors or 0) >= 80 and p.gap is not None and (
            p.gap <= 1) and p.same_page and ("volume" not in p.clash or p.gap == 0):
        return p.verdict(True, "title_pages", "similar title, the same authors and first page")
    return None


def _title_variant(p: Pair) -> Verdict | None:
    # The title field holds more than the title (an original and its translation) or less
    # (the subtitle dropped): one of them matches the other's whole title, at one citation.
    if p.title < 98 and (p.a.parts or p.b.parts) and (p.authors is None or p.authors >= 90) and (
            p.gap == 0) and p.same_page and p.journal is not False and not p.clash and (
            part_similarity(p.a, p.b) >= 97):
        return p.verdict(True, "title_variant", "one title is a part of the other (a "
                         "translation given beside it, or without its subtitle); the same "
                         "authors, year and first page")
    return None


def _online_first(p: Pair) -> Verdict | None:
    # Databases date an article by its online or by its issue publication: a year apart,
    # with no volume yet, or with the same volume and issue.
    if p.title >= 97 and (p.authors or 0) >= 90 and p.gap == 1 and p.journal and (
            not (p.a.volume_n and p.b.volume_n) or (
                p.a.volume_n == p.b.volume_n and p.a.issue_n and p.a.issue_n == p.b.issue_n
                and not p.clash)):
        return p.verdict(True, "online_first", "the online-first and the issue version")
    return None


def _title_authors(p: Pair) -> Verdict | None:
    if p.title >= 98 and (p.authors or 0) >= 90 and p.gap == 0 and not p.clash:
        return p.verdict(True, "title_authors", "the same title, authors and year")
    return None


def _title_abstract(p: Pair) -> Verdict | None:
    # Records with a title and an abstract and nothing else: the abstract is the evidence,
    # and the whole title must agree, as no citation shows that a subtitle one of them lacks
    # ("...: a systematic review") does not mark another report.
    if min(len(p.a.abstract), len(p.b.abstract)) >= MIN_ABSTRACT and p.title >= 97 and (
            p.whole_title) and fuzz.token_set_ratio(p.a.abstract, p.b.abstract) >= 90:
        return p.verdict(True, "title_abstract", "the same title and abstract; neither record "
                         "gives authors, a year or a citation")
    return None


def _similar(p: Pair) -> Verdict | None:
    if p.title >= 90 and (p.authors is None or p.authors >= 60) and (
            p.gap is None or p.gap <= 1):
        clash = f", {' and '.join(p.clash)} disagree" if p.clash else ""
        return p.verdict(None, "similar", f"similar title ({p.title:.0f}){clash}")
    return None


RULES: tuple[Callable[[Pair], Verdict | None], ...] = (
    _meeting_abstract, _notice, _doi_citation, _companion, _title_numbers, _review_versions,
    _preprint, _two_dois, _one_doi, _generic_title, _citation, _same_meeting,
    _citation_conflict, _title_citation, _title_issue, _title_pages, _title_variant,
    _online_first, _title_authors, _title_abstract, _similar)
"""Vetoes and duplicate rules in the order they are tried; the first verdict wins."""
_POLICY_RULES: tuple[Callable[[Pair], Verdict | None], ...] = (
    _meeting_abstract, _notice, _companion, _title_numbers, _review_versions)
"""The rules that may join two items with PMIDs of their own, by the review's policy."""


def decide(a: Entry, b: Entry, *, policy: Policy | None = None,
           cutoffs: Cutoffs | None = None) -> Verdict:
    """Whether ``a`` and ``b`` are the same publication under the review's ``policy``: a
    shared PMID settles it, else the first of :data:`RULES` that applies; a pair no rule
    takes is not a duplicate."""
    policy = policy or Policy()
    if a.pmid and b.pmid and (a.pmid == b.pmid or not policy.joins):
        return (Verdict(True, "pmid", "the same PMID") if a.pmid == b.pmid
                else Verdict(False, "pmid_conflict", "different PMIDs"))
    pair = Pair(a, b, title_similarity(a, b), abs(a.year - b.year) if a.year and b.year else None,
                policy, cutoffs or Cutoffs())
    if a.pmid and b.pmid:
        # Each item of a pair the policy joins has its own PMID; any other pair is two.
        for policy_rule in _POLICY_RULES:
            if verdict := policy_rule(pair):
                if verdict.same and verdict.rule in POLICY_JOINS:
                    return verdict
                break
        return Verdict(False, "pmid_conflict", "different PMIDs")
    for rule in RULES:
        if verdict := rule(pair):
            return verdict
    return pair.verdict(False, "different", "titles or authors differ")


def blocking_keys(entry: Entry) -> Iterator[tuple[str, ...]]:
    if entry.pmid:
        yield "pmid", entry.pmid
    if entry.doi_key:
        yield "doi", entry.doi_key
    title = entry.squeezed
    if len(title) >= TITLE_BLOCK:
        yield "start", title[:TITLE_BLOCK]
        yield "end", title[-TITLE_BLOCK:]
        # When a start and an end are both too common to be used ("antidepressant-like
        # activity of ... in animal models of depression"), the whole title still is.
        yield "whole", title
    elif title:
        yield "title", title, str(entry.year or "")
    page = entry.pages_read.number
    if page and entry.year:
        yield "page_year", page, str(entry.year)
    if page and entry.volume_n:
        yield "page_volume", page, entry.volume_n


def candidate_pairs(entries: list[Entry], fresh: set[int] | None = None
                    ) -> Iterator[tuple[int, int]]:
    """Index pairs (i < j) of records that share a blocking key, each once; with ``fresh``,
    only the pairs with at least one of those indexes."""
    blocks: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for index, entry in enumerate(entries):
        for key in blocking_keys(entry):
            blocks[key].append(index)
    seen: set[tuple[int, int]] = set()
    for key, members in blocks.items():
        if len(members) < 2 or (len(members) > MAX_BLOCK and key[0] not in ("pmid", "doi")):
            continue
        if fresh is not None and fresh.isdisjoint(members):
            continue
        for n, i in enumerate(members):
            for j in members[n + 1:]:
                if fresh is not None and i not in fresh and j not in fresh:
                    continue
                pair = (i, j) if i < j else (j, i)
                if pair not in seen:
                    seen.add(pair)
                    yield pair


def compare(entries: list[Entry], fresh: set[str] | None = None, *,
            policy: Policy | None = None, cutoffs: Cutoffs | None = None
            ) -> Iterable[tuple[Entry, Entry, Verdict]]:
    """Every candidate pair with its verdict, except plain non-matches (see :func:`kept`);
    with ``fresh`` (record ids), only the pairs that involve one of those records."""
    indexes = None if fresh is None else {
        i for i, e in enumerate(entries) if e.record_id in fresh}
    for i, j in candidate_pairs(entries, indexes):
        a, b = entries[i], entries[j]
        verdict = decide(a, b, policy=policy, cutoffs=cutoffs)
        if verdict.rule != "different" and kept(a, b, verdict.same, verdict.title):
            yield a, b, verdict
