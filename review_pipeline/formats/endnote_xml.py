"""EndNote XML (``<xml><records><record>``), as EndNote's File > Export > XML writes it.

Field text may sit directly in an element or inside ``<style>`` runs; both are read. Records
are counted from the raw ``<record>`` markers and parsed as a stream.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from review_pipeline.formats.base import Bad, Reading, count_markers, open_xml
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

_RECORD = re.compile(rb"<record[\s>]")


def sniff(head: str) -> bool:
    return "<records>" in head and "<record>" in head and "<ref-type" in head


def _count(path: Path) -> int:
    with open_xml(path) as stream:
        return count_markers(stream, _RECORD)


def read(path: Path) -> Reading:
    records: list[Record] = []
    reading = Reading(records, expected=_count(path))
    with open_xml(path) as stream:
        try:
            for _, element in ET.iterparse(stream, events=("end",)):  # noqa: S314 (expat)
                if element.tag == "record":
                    records.append(_record(element))
                    element.clear()
        except ET.ParseError as exc:
            line, column = exc.position
            reason = str(exc).split(":")[0]
            reading.bad.append(Bad(line, f"malformed XML at column {column} ({reason}); "
                                   "nothing after it can be read",
                                   records=reading.expected - len(records)))
    return reading


def _text(element: ET.Element | None) -> str:
    if element is None:
        return ""
    return " ".join("".join(element.itertext()).split())


def _record(element: ET.Element) -> Record:
    def text(path: str) -> str:
        return _text(element.find(path))

    ref_type = element.find("ref-type")
    kind_name = ref_type.get("name", "") if ref_type is not None else ""
    accession = text("accession-num")
    provider = f"{text('remote-database-provider')} {text('remote-database-name')}".lower()
    from_pubmed = any(name in provider for name in ("nlm", "pubmed", "medline"))
    pmid = normalize_pmid(accession) if from_pubmed and accession.isdigit() else ""
    number = text("rec-number")
    return Record(
        source_record_id=accession or (f"rec-{number}" if number else ""),
        title=text("titles/title"),
        abstract=text("abstract"),
        authors=[normalize_author(_text(a)) for a in
                 element.findall("contributors/authors/author") if _text(a)],
        year=parse_year(text("dates/year")),
        journal=text("periodical/abbr-1") or text("titles/alt-title"),
        journal_full=text("periodical/full-title") or text("titles/secondary-title"),
        issn=text("isbn"),
        volume=text("volume"),
        issue=text("number"),
        pages=expand_pages(text("pages")),
        doi=normalize_doi(text("electronic-resource-num")),
        pmid=pmid,
        language=normalize_language(text("language")),
        publication_types=[kind_name] if kind_name else [],
        keywords=[_text(k) for k in element.findall("keywords/keyword") if _text(k)],
        note=text("notes"),
        kind="book" if kind_name.startswith("Book") else kind_of([kind_name]),
        extra={"endnote_type": kind_name} if kind_name else {},
    )
