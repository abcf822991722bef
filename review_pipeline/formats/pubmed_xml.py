"""PubMed XML (``PubmedArticleSet`` from EFetch, a PubMed export, a baseline or update file,
or the older ``MedlineCitationSet``), parsed as a stream with flat memory.

Paths are anchored (``PubmedData/ArticleIdList``), never descendant searches, so the DOIs
and PMIDs of cited references are never taken for the article's own. The standard library's
expat parser does not fetch DTDs or external entities.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO, cast

from review_pipeline.formats.base import (
    MAX_FIELD,
    Bad,
    Guarded,
    Reading,
    count_markers,
    open_xml,
)
from review_pipeline.model.errors import CountMismatchError, InputError
from review_pipeline.model.record import (
    Record,
    expand_pages,
    normalize_doi,
    normalize_pmid,
    parse_year,
)

_ARTICLE = re.compile(rb"<(?:PubmedArticle|PubmedBookArticle)[\s>]")
_CITATION = re.compile(rb"<MedlineCitation[\s>]")
_MONTHS = {name: n for n, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_SEASONS = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 12}


@dataclass
class PubmedXml:
    """Records of one PubMed XML file, and the PMIDs it says were deleted."""

    records: list[Record]
    deleted: list[str] = field(default_factory=list)


class _Malformed(Exception):
    """An element PubMed always writes is missing; the reader names the file."""


def _required(parent: ET.Element, path: str) -> ET.Element:
    node = parent.find(path)
    if node is None:
        raise _Malformed(f"a {parent.tag} without {path}")
    return node


def sniff(head: str) -> bool:
    return any(f"<{root}" in head for root in ("PubmedArticleSet", "MedlineCitationSet",
                                               "!DOCTYPE PubmedArticleSet"))


def read(path: Path) -> Reading:
    """The import reader: malformed articles and a damaged tail are refused, not fatal."""
    with open_xml(path) as stream:
        records: list[Record] = []
        reading = Reading(records, expected=count_records(stream))
        stream.seek(0)
        deleted: list[str] = []
        for item in _items(stream, str(path), deleted):
            if isinstance(item, Bad):
                item.records = item.records or reading.expected - len(records) - sum(
                    b.records for b in reading.bad)
                reading.bad.append(item)
            else:
                records.append(item)
    if deleted:
        reading.warnings.append(f"{path}: lists {len(deleted)} deleted PMIDs (DeleteCitation); "
                                "they are not removed from the review")
    return reading


def parse_file(path: Path) -> PubmedXml:
    """All records of the file at ``path`` (plain or gzip), checked against its markers."""
    with open_xml(path) as stream:
        expected = count_records(stream)
        stream.seek(0)
        return _collect(stream, str(path), expected)


def parse_text(text: str, where: str) -> PubmedXml:
    """Parse PubMed XML ``text``; ``where`` names it in errors."""
    stream = cast(BinaryIO, Guarded(io.BytesIO(text.encode("utf-8")), where, gap=MAX_FIELD))
    expected = count_records(stream)
    stream.seek(0)
    return _collect(stream, where, expected)


def _collect(stream: BinaryIO, where: str, expected: int) -> PubmedXml:
    result = PubmedXml(records=[])
    result.records.extend(iter_records(stream, where, result.deleted))
    if len(result.records) != expected:
        raise CountMismatchError(
            f"{expected} article elements but {len(result.records)} records were parsed",
            where=where, fix="report this as a bug with the file attached",
        )
    return result


def count_records(stream: BinaryIO) -> int:
    """Record elements in the raw bytes, counted without the XML parser (a cross-check)."""
    return count_markers(stream, _CITATION if _legacy(stream) else _ARTICLE)


def _legacy(stream: BinaryIO) -> bool:
    """Whether the stream is the old MedlineCitationSet; leaves the stream at its start."""
    head = stream.read(4096)
    stream.seek(0)
    return b"<MedlineCitationSet" in head


def iter_records(stream: BinaryIO, where: str,
                 deleted: list[str] | None = None) -> Iterator[Record]:
    """Records of a PubMed XML byte stream, one at a time; deleted PMIDs go to ``deleted``.
    Anything malformed is an error naming ``where``."""
    for item in _items(stream, where, deleted):
        if isinstance(item, Bad):
            raise InputError(item.problem, where=f"{where}, line {item.line}" if item.line
                             else where, fix="the response or file is truncated or damaged; "
                             "fetch or export it again")
        yield item


def _items(stream: BinaryIO, where: str, deleted: list[str] | None) -> Iterator[Record | Bad]:
    """Records, or a :class:`Bad` for each malformed article and for a damaged rest of file
    (whose ``records`` the caller fills in: the markers not yet accounted for)."""
    legacy = _legacy(stream)
    try:
        for _, element in ET.iterparse(stream, events=("end",)):  # noqa: S314 (module doc)
            tag = element.tag
            try:
                if tag == "PubmedArticle":
                    yield _article(_required(element, "MedlineCitation"),
                                   element.find("PubmedData"))
                elif tag == "MedlineCitation" and legacy:
                    yield _article(element, None)
                elif tag == "PubmedBookArticle":
                    yield _book(element)
                elif tag == "DeleteCitation":
                    if deleted is not None:
                        deleted.extend(normalize_pmid(p.text) for p in element.iter("PMID"))
                else:
                    continue
            except _Malformed as exc:
                pmid = _text(element.find(".//PMID"))
                yield Bad(0, f"not PubMed XML as NCBI writes it: {exc}"
                          + (f" (PMID {pmid})" if pmid else ""),
                          raw=_raw(element))
            element.clear()
    except ET.ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(":")[0]
        yield Bad(line, f"malformed XML at column {column} ({reason}); nothing after it can "
                  "be read", records=0)
    except (OSError, EOFError) as exc:
        yield Bad(0, f"cannot read the file to its end ({exc})", records=0)


def _raw(element: ET.Element) -> str:
    """The article's XML for the quarantine report; serialising recurses, so an article
    nested too deeply for it (malformed, or built to harm) is described instead."""
    try:
        return ET.tostring(element, encoding="unicode")
    except RecursionError:
        return f"<{element.tag}> nested too deeply to write out"


def _text(element: ET.Element | None) -> str:
    """All text inside ``element``, inline markup (<i>, <sup>) flattened."""
    if element is None:
        return ""
    return " ".join("".join(element.itertext()).split())


def _abstract(parent: ET.Element | None) -> str:
    if parent is None:
        return ""
    parts = []
    for node in parent.findall("AbstractText"):
        label = node.get("Label")
        body = _text(node)
        parts.append(f"{label}: {body}" if label else body)
    return "\n".join(p for p in parts if p)


def _authors(author_list: ET.Element | None) -> list[str]:
    if author_list is None:
        return []
    names = []
    for author in author_list.findall("Author"):
        collective = _text(author.find("CollectiveName"))
        if collective:
            names.append(collective)
            continue
        last = _text(author.find("LastName"))
        initials = _text(author.find("Initials"))
        if last:
            names.append(f"{last} {initials}".strip())
    return names


@dataclass(frozen=True)
class PubDate:
    """A publication date as PubMed gives it, normalised; ``raw`` keeps the original text."""

    year: int | None
    month: int | None
    day: int | None
    raw: str


def pub_date(node: ET.Element | None) -> PubDate | None:
    """A ``PubDate`` from Year/Month/Day, a Season, or a free-text MedlineDate such as
    "2019 Jan-Feb" or "1998 Dec-1999 Jan" (the first month named is taken)."""
    if node is None:
        return None
    medline = _text(node.find("MedlineDate"))
    year = _text(node.find("Year"))
    day = _text(node.find("Day"))
    raw = medline or " ".join(p for p in (year, _text(node.find("Month")),
                                          _text(node.find("Season")), day) if p)
    return PubDate(year=parse_year(year or medline),
                   month=_month(re.findall(r"[A-Za-z]+|\d+", raw)[1:]),
                   day=int(day) if day.isdigit() else None, raw=raw)


def _month(words: list[str]) -> int | None:
    for word in words:
        key = word.lower()
        if key[:3] in _MONTHS:
            return _MONTHS[key[:3]]
        if key in _SEASONS:
            return _SEASONS[key]
        if word.isdigit() and 1 <= int(word) <= 12:
            return int(word)
    return None


def _article_ids(parent: ET.Element | None, path: str) -> dict[str, str]:
    ids: dict[str, str] = {}
    if parent is None:
        return ids
    for node in parent.findall(f"{path}/ArticleId"):
        id_type = node.get("IdType", "")
        if id_type and id_type not in ids:
            ids[id_type] = (node.text or "").strip()
    return ids


def _links(citation: ET.Element) -> dict[str, list[str]]:
    """Retraction, erratum and expression-of-concern links, which screening must see."""
    links: dict[str, list[str]] = {}
    for node in citation.findall("CommentsCorrectionsList/CommentsCorrections"):
        ref_type = node.get("RefType", "")
        if ref_type.startswith(("Retraction", "Erratum", "ExpressionOfConcern")):
            links.setdefault(ref_type, []).append(normalize_pmid(_text(node.find("PMID")))
                                                  or _text(node.find("RefSource")))
    return links


def _article(citation: ET.Element, pubmed_data: ET.Element | None) -> Record:
    article = _required(citation, "Article")
    pmid_node = _required(citation, "PMID")
    pmid = normalize_pmid(_text(pmid_node))
    if not pmid:
        raise _Malformed(f"a {citation.tag} whose PMID is not a number")
    journal = article.find("Journal")
    issue = journal.find("JournalIssue") if journal is not None else None
    ids = _article_ids(pubmed_data, "ArticleIdList")
    locations = {e.get("EIdType"): _text(e) for e in reversed(article.findall("ELocationID"))
                 if e.get("ValidYN", "Y") == "Y"}
    title = _text(article.find("ArticleTitle"))
    types = [_text(p) for p in article.findall("PublicationTypeList/PublicationType")]
    date = pub_date(issue.find("PubDate") if issue is not None else None)
    extra: dict[str, object] = {"pub_date": asdict(date)} if date else {}
    if title.startswith("[") and title.rstrip(".").endswith("]"):
        extra["translated_title"] = True  # PubMed brackets English renderings of titles
    if (vernacular := _text(article.find("VernacularTitle"))):
        extra["vernacular_title"] = vernacular
    if (pii := locations.get("pii") or ids.get("pii")):
        extra["pii"] = pii
    if (links := _links(citation)):
        extra["links"] = links
    if "RetractionIn" in links or "Retracted Publication" in types:
        extra["retracted"] = True
    if pmid_node.get("Version", "1") != "1":
        extra["pmid_version"] = pmid_node.get("Version")
    keywords = [_text(k) for k in citation.findall("KeywordList/Keyword")]
    mesh = [_text(d) for d in citation.findall("MeshHeadingList/MeshHeading/DescriptorName")]
    return Record(
        source_record_id=pmid,
        title=title,
        abstract=_abstract(article.find("Abstract")),
        authors=_authors(article.find("AuthorList")),
        year=date.year if date else None,
        journal=_text(journal.find("ISOAbbreviation")) if journal is not None else "",
        journal_full=_text(journal.find("Title")) if journal is not None else "",
        issn=_text(journal.find("ISSN")) if journal is not None else "",
        volume=_text(issue.find("Volume")) if issue is not None else "",
        issue=_text(issue.find("Issue")) if issue is not None else "",
        pages=expand_pages(_text(article.find("Pagination/MedlinePgn"))),
        doi=normalize_doi(locations.get("doi")) or normalize_doi(ids.get("doi")),
        pmid=pmid,
        pmcid=ids.get("pmc", ""),
        language=_text(article.find("Language")),
        publication_types=types,
        keywords=[k for k in (*keywords, *mesh) if k],
        kind="journal_article",
        extra=extra,
    )


def _book(element: ET.Element) -> Record:
    document = _required(element, "BookDocument")
    pmid = normalize_pmid(_text(document.find("PMID")))
    book = document.find("Book")
    ids = _article_ids(document, "ArticleIdList")
    title = _text(document.find("ArticleTitle")) or _text(
        book.find("BookTitle") if book is not None else None)
    date = pub_date(book.find("PubDate") if book is not None else None)
    return Record(
        source_record_id=pmid,
        title=title,
        abstract=_abstract(document.find("Abstract")),
        authors=_authors(document.find("AuthorList")),
        year=date.year if date else None,
        journal=_text(book.find("BookTitle")) if book is not None else "",
        doi=normalize_doi(ids.get("doi")),
        pmid=pmid,
        language=_text(document.find("Language")),
        publication_types=[_text(p) for p in document.findall("PublicationType")],
        kind="book",
        extra={"bookaccession": ids.get("bookaccession", ""),
               **({"pub_date": asdict(date)} if date else {})},
    )
