"""The ``Record`` model and the field normalisers every source shares. No I/O here."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import unquote

LANGUAGE_CODES = {
    "english": "eng", "chinese": "chi", "japanese": "jpn", "korean": "kor", "spanish": "spa",
    "portuguese": "por", "french": "fre", "german": "ger", "italian": "ita", "russian": "rus",
    "polish": "pol", "dutch": "dut", "turkish": "tur", "czech": "cze", "hungarian": "hun",
    "swedish": "swe", "danish": "dan", "norwegian": "nor", "finnish": "fin", "greek": "gre",
    "hebrew": "heb", "arabic": "ara", "persian": "per",
}
"""Language names as exports spell them, mapped to MEDLINE's three-letter codes."""


CONFERENCE_ABSTRACT = "conference_abstract"
"""The kind of a record that reports a meeting abstract or conference paper."""
_CONFERENCE_CODES = frozenset({"abst", "conf", "cpaper"})
_CONFERENCE_WORDS = ("conference", "meeting abstract", "proceedings")


def kind_of(types: Iterable[str], default: str = "journal_article") -> str:
    """A record's kind from its publication types, in any format's words: RIS's codes
    (ABST, CONF, CPAPER) or a type naming a conference, meeting abstract or proceedings
    (Web of Science, Ovid, EndNote, Scopus, BibTeX's inproceedings)."""
    for kind in types:
        folded = kind.strip().lower()
        if folded in _CONFERENCE_CODES or any(w in folded for w in _CONFERENCE_WORDS):
            return CONFERENCE_ABSTRACT
    return default


@dataclass
class Record:
    """One bibliographic record as a source delivered it, normalised.

    ``source_record_id`` is the source's own id (PMID, accession number, ``ID`` column);
    ``authors`` are ``"Lastname Initials"``; ``language`` is a MEDLINE code ("eng", "jpn").
    """

    source_record_id: str
    title: str = ""
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    journal: str = ""
    journal_full: str = ""
    issn: str = ""
    volume: str = ""
    issue: str = ""
    pages: str = ""
    doi: str = ""
    pmid: str = ""
    pmcid: str = ""
    language: str = ""
    publication_types: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    note: str = ""
    kind: str = "journal_article"
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*|doi\s+)", re.IGNORECASE)
_DOI = re.compile(r"10\.\d{4,9}/\S+")


def normalize_doi(raw: str | None) -> str:
    """A DOI in its canonical form (lower case, no URL prefix, decoded), or ``""``."""
    if not raw:
        return ""
    text = unquote(raw.strip())
    text = _DOI_PREFIX.sub("", text)
    match = _DOI.search(text)
    if not match:
        return ""
    return match.group(0).rstrip(".,;").lower()


def normalize_pmid(raw: str | None) -> str:
    """The PMID digits, or ``""`` when ``raw`` holds none."""
    digits = re.sub(r"\D", "", raw or "")
    return digits.lstrip("0")


_PAGES = re.compile(r"^\s*([A-Za-z]*)(\d+)\s*[-\u2013\u2014]+\s*([A-Za-z]*)(\d+)\s*$")


def expand_pages(raw: str | None) -> str:
    """Page ranges written in full: ``"665-70"`` becomes ``"665-670"``."""
    text = (raw or "").strip()
    match = _PAGES.match(text)
    if not match:
        return text
    prefix, first, _, last = match.groups()
    if len(last) < len(first):
        last = first[: len(first) - len(last)] + last
    return f"{prefix}{first}-{prefix}{last}"



_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)")


def parse_year(raw: str | int | None) -> int | None:
    """The first plausible publication year in ``raw`` ("2019 Jan-Feb" gives 2019)."""
    if raw is None:
        return None
    match = _YEAR.search(str(raw))
    return int(match.group(1)) if match else None


def normalize_language(raw: str | None) -> str:
    """A MEDLINE language code from a code or an English language name."""
    text = (raw or "").strip().lower()
    if not text:
        return ""
    if text in LANGUAGE_CODES.values():
        return text
    return LANGUAGE_CODES.get(text, text)


_GIVEN_NAMES = re.compile(r"[\s-]+")
_INITIALS = re.compile(r"[A-Z]{1,2}")


def normalize_author(raw: str) -> str:
    """``"Misawa, Sonoko"``, ``"Misawa, S."``, ``"Misawa S."`` all become ``"Misawa S"``."""
    text = " ".join(raw.replace(".", " ").split())
    if "," in text:
        last, _, given = text.partition(",")
        initials = "".join(part[0] for part in _GIVEN_NAMES.split(given.strip()) if part)
        return f"{last.strip()} {initials.upper()}".strip()
    words = text.split()
    cut = len(words)
    while cut > 1 and _INITIALS.fullmatch(words[cut - 1]):
        cut -= 1
    return " ".join([*words[:cut], "".join(words[cut:])]).strip()


_NON_WORD = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """Text reduced for comparison: NFKC, case-folded, accents dropped, punctuation removed.

    Letters of every script are kept, so two Korean titles never fold to the same string.
    """
    if not text.isascii():  # most titles and abstracts are, and skip the costly part
        text = unicodedata.normalize("NFKD", text)
        text = unicodedata.normalize("NFKC", "".join(
            ch for ch in text if not unicodedata.combining(ch)))
    return " ".join(_NON_WORD.sub(" ", text.casefold()).split())


def identity_key(record: Record) -> str:
    """An id for a record whose source gives it none, from what the record is: its DOI, else
    its PMID, else its title, year and first author (else every field it has). The file it
    came in and its place there play no part, so a re-saved or re-sorted export keeps them.
    """
    if record.doi:
        return f"doi:{record.doi}"
    if record.pmid:
        return f"pmid:{record.pmid}"
    if record.title:
        parts = [fold(record.title), str(record.year or ""),
                 fold(record.authors[0]) if record.authors else ""]
        return "ref:" + _digest("\x1f".join(parts), 12)
    return "ref:" + content_digest(record, 12)


def content_digest(record: Record, size: int = 8) -> str:
    """A short digest of everything a record holds but its id: records that differ in any
    field get different digests."""
    fields = {k: v for k, v in vars(record).items() if k != "source_record_id"}
    return _digest(json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str), size)


def _digest(text: str, size: int) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:size]
