"""PubMed XML (``PubmedArticleSet`` from EFetch or a PubMed export), parsed as a stream.

Paths are anchored (``PubmedData/ArticleIdList``), never descendant searches, so the DOIs
and PMIDs of cited references are never taken for the article's own. The standard library's
expat parser does not fetch DTDs or external entities.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CountMismatchError, InputError
from ..records import Record, expand_pages, normalize_doi, normalize_pmid, parse_year
from . import read_text

_ARTICLE = re.compile(r"<(PubmedArticle|PubmedBookArticle)[\s>]")


@dataclass
class PubmedXml:
    """Records of one PubMed XML file, and the PMIDs it says were deleted."""

    records: list[Record]
    deleted: list[str] = field(default_factory=list)


class _Malformed(Exception):
    """An element PubMed always writes is missing; parse_text names the file."""


def _required(parent: ET.Element, path: str) -> ET.Element:
    node = parent.find(path)
    if node is None:
        raise _Malformed(f"a {parent.tag} without {path}")
    return node


def sniff(head: str) -> bool:
    return "<PubmedArticleSet" in head or "<!DOCTYPE PubmedArticleSet" in head


def read(path: Path) -> list[Record]:
    return parse_file(path).records


def parse_file(path: Path) -> PubmedXml:
    return parse_text(read_text(path), str(path))


def parse_text(text: str, where: str) -> PubmedXml:
    """Parse PubMed XML ``text``; ``where`` names it in errors."""
    expected = len(_ARTICLE.findall(text))
    result = PubmedXml(records=[])
    try:
        for element in _elements(text):
            if element.tag == "PubmedArticle":
                result.records.append(_article(element))
            elif element.tag == "PubmedBookArticle":
                result.records.append(_book(element))
            else:
                result.deleted.extend(normalize_pmid(p.text) for p in element.iter("PMID"))
            element.clear()
    except ET.ParseError as exc:
        line, column = exc.position
        raise InputError(f"malformed XML ({exc})", where=f"{where}, line {line}, column {column}",
                         fix="the response or file is truncated or damaged; fetch or export "
                             "it again") from None
    except _Malformed as exc:
        raise InputError(f"not PubMed XML as NCBI writes it: {exc}", where=where,
                         fix="export the records again as PubMed XML") from None
    if len(result.records) != expected:
        raise CountMismatchError(
            f"{expected} article elements but {len(result.records)} records were parsed",
            where=where, fix="report this as a bug with the file attached",
        )
    return result


def _elements(text: str) -> Iterator[ET.Element]:
    wanted = {"PubmedArticle", "PubmedBookArticle", "DeleteCitation"}
    source = io.BytesIO(text.encode("utf-8"))
    for _, element in ET.iterparse(source, events=("end",)):  # noqa: S314 (see module doc)
        if element.tag in wanted:
            yield element


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


def _pub_year(pub_date: ET.Element | None) -> int | None:
    if pub_date is None:
        return None
    return parse_year(_text(pub_date.find("Year")) or _text(pub_date.find("MedlineDate")))


def _article_ids(element: ET.Element, path: str) -> dict[str, str]:
    ids: dict[str, str] = {}
    for node in element.findall(f"{path}/ArticleId"):
        id_type = node.get("IdType", "")
        if id_type and id_type not in ids:
            ids[id_type] = (node.text or "").strip()
    return ids


def _links(citation: ET.Element) -> dict[str, list[str]]:
    """Retraction and erratum links, which screening must see."""
    links: dict[str, list[str]] = {}
    for node in citation.findall("CommentsCorrectionsList/CommentsCorrections"):
        ref_type = node.get("RefType", "")
        if ref_type.startswith(("Retraction", "Erratum", "ExpressionOfConcern")):
            links.setdefault(ref_type, []).append(normalize_pmid(_text(node.find("PMID")))
                                                  or _text(node.find("RefSource")))
    return links


def _article(element: ET.Element) -> Record:
    citation = _required(element, "MedlineCitation")
    article = _required(citation, "Article")
    pmid = normalize_pmid(_text(citation.find("PMID")))
    journal = article.find("Journal")
    issue = journal.find("JournalIssue") if journal is not None else None
    ids = _article_ids(element, "PubmedData/ArticleIdList")
    doi = next((normalize_doi(e.text) for e in article.findall("ELocationID")
                if e.get("EIdType") == "doi" and e.get("ValidYN", "Y") == "Y"), "")
    extra: dict[str, object] = {}
    if (vernacular := _text(article.find("VernacularTitle"))):
        extra["vernacular_title"] = vernacular
    if (links := _links(citation)):
        extra["links"] = links
    keywords = [_text(k) for k in citation.findall("KeywordList/Keyword")]
    mesh = [_text(d) for d in citation.findall("MeshHeadingList/MeshHeading/DescriptorName")]
    return Record(
        source_record_id=pmid,
        title=_text(article.find("ArticleTitle")),
        abstract=_abstract(article.find("Abstract")),
        authors=_authors(article.find("AuthorList")),
        year=_pub_year(issue.find("PubDate") if issue is not None else None),
        journal=_text(journal.find("ISOAbbreviation")) if journal is not None else "",
        journal_full=_text(journal.find("Title")) if journal is not None else "",
        issn=_text(journal.find("ISSN")) if journal is not None else "",
        volume=_text(issue.find("Volume")) if issue is not None else "",
        issue=_text(issue.find("Issue")) if issue is not None else "",
        pages=expand_pages(_text(article.find("Pagination/MedlinePgn"))),
        doi=doi or normalize_doi(ids.get("doi")),
        pmid=pmid,
        pmcid=ids.get("pmc", ""),
        language=_text(article.find("Language")),
        publication_types=[_text(p) for p in article.findall("PublicationTypeList/"
                                                             "PublicationType")],
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
    return Record(
        source_record_id=pmid,
        title=title,
        abstract=_abstract(document.find("Abstract")),
        authors=_authors(document.find("AuthorList")),
        year=_pub_year(book.find("PubDate") if book is not None else None),
        journal=_text(book.find("BookTitle")) if book is not None else "",
        doi=normalize_doi(ids.get("doi")),
        pmid=pmid,
        language=_text(document.find("Language")),
        publication_types=[_text(p) for p in document.findall("PublicationType")],
        kind="book",
        extra={"bookaccession": ids.get("bookaccession", "")},
    )
