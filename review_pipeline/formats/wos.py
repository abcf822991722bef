"""Web of Science tagged text (``.ciw``, "Plain text file" / "Other file format"), read with
rispy's Web of Knowledge parser after the ``PT``/``ER`` markers are checked by line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rispy.parser import WokParser

from review_pipeline.formats.base import Reading
from review_pipeline.formats.ris import read_tagged
from review_pipeline.model.errors import InputError
from review_pipeline.model.record import (
    Record,
    expand_pages,
    kind_of,
    normalize_author,
    normalize_doi,
    normalize_language,
    normalize_pmid,
    parse_year,
)

# A record's first and last lines, each from the line break before it (``split_records``);
# ``[^\S\n]`` is the whitespace of one line.
_MARKERS = re.compile(rb"\n(?:(?P<start>PT) |ER[^\S\n]*(?=\n|$))")


# rispy's Web of Science parser has no name for tags it does not know (a KeyError): they
# are kept, under unknown_tag, and then in the record's extra.
_PARSER = WokParser(mapping={**WokParser.DEFAULT_MAPPING, WokParser.UNKNOWN_TAG: "unknown_tag"})


def sniff(head: str) -> bool:
    return bool(re.search(r"^(FN (Clarivate|Thomson)|PT [JBSP]\s*$)", head, re.MULTILINE))


def read(path: Path) -> Reading:
    return read_tagged(path, _PARSER, _MARKERS, "ER", _record,
                       InputError("no Web of Science records (no 'PT ' lines)",
                                  where=str(path), fix="export again as Web of Science 'Plain "
                                  "text file', or pass --format"))


def _list(entry: dict[str, Any], key: str, sep: str = ";") -> list[str]:
    value = entry.get(key) or []
    items = value if isinstance(value, list) else str(value).split(sep)
    return [item.strip() for item in items if item.strip()]


def _record(entry: dict[str, Any]) -> Record:
    first, last = entry.get("beginning_page", ""), entry.get("ending_page", "")
    pages = f"{first}-{last}" if first and last else first or entry.get("article_number", "")
    types = _list(entry, "document_type")
    languages = _list(entry, "language")
    return Record(
        source_record_id=entry.get("accession_number", ""),
        title=entry.get("document_title", ""),
        abstract=entry.get("abstract", ""),
        authors=[normalize_author(a) for a in _list(entry, "authors")]
        + _list(entry, "group_authors"),
        year=parse_year(entry.get("publication_year") or entry.get("early_access_year")),
        journal=entry.get("iso_source_abbreviation") or entry.get("source_abbreviation_29c", ""),
        journal_full=entry.get("publication_name", ""),
        issn=entry.get("issn") or entry.get("eissn", ""),
        volume=entry.get("volume", ""),
        issue=entry.get("issue", ""),
        pages=expand_pages(pages),
        doi=normalize_doi(entry.get("doi")),
        pmid=normalize_pmid(entry.get("pubmed_id")),
        language=normalize_language(languages[0]) if languages else "",
        publication_types=types,
        keywords=_list(entry, "author_keywords") + _list(entry, "keywords_plus"),
        kind=kind_of(types),
        extra={"wos_type": entry.get("publication_type", ""),
               **({"wos_other_tags": dict(entry["unknown_tag"])} if entry.get("unknown_tag")
                  else {})},
    )
