"""PubMed XML: every quirk of the checklist, and agreement with Bio.Entrez on real files."""

from __future__ import annotations

import gzip
import io
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from Bio import Entrez

from review_pipeline.formats.pubmed_xml import count_records, parse_file, parse_text
from review_pipeline.formats.registry import read_records
from review_pipeline.model.errors import InputError
from review_pipeline.model.record import normalize_doi
from tests.conftest import FIXTURES

PUBMED = FIXTURES / "pubmed"
REAL_XML = sorted([*PUBMED.glob("pubmed*.xml*"), *PUBMED.glob("medline*.xml.gz"),
                   PUBMED / "test_current_medline.xml.gz",
                   FIXTURES / "exports" / "asreview_pubmed.xml"])
HEAD = '<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet>\n<PubmedArticleSet>\n'


def article(body: str, pmid: str = "1", date: str = "<Year>2020</Year>",
            data: str = "") -> str:
    return (f'<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM">'
            f'<PMID Version="1">{pmid}</PMID><Article><Journal><JournalIssue><PubDate>{date}'
            f"</PubDate></JournalIssue><Title>J</Title></Journal>{body}</Article>"
            f"</MedlineCitation><PubmedData>{data}</PubmedData></PubmedArticle>")


def one(xml: str) -> Any:
    return parse_text(f"{HEAD}{xml}</PubmedArticleSet>", "test.xml").records[0]


def _raw(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def entrez_read(path: Path) -> list[dict[str, Any]]:
    """The file read by Bio.Entrez offline: its DOCTYPE pointed at a DTD that Biopython
    bundles, since it refuses http:// DTD URLs and would download unknown ones."""
    data = re.sub(rb'"http://dtd\.nlm\.nih\.gov/ncbi/pubmed/out/pubmed_\d+\.dtd"',
                  b'"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd"', _raw(path))
    data = data.replace(b"nlmmedlinecitationset_160101.dtd", b"nlmmedlinecitationset_150101.dtd")
    tree = Entrez.read(io.BytesIO(data), validate=False)  # type: ignore[no-untyped-call]
    if "PubmedArticle" in tree:
        return [{"citation": a["MedlineCitation"], "data": a.get("PubmedData", {})}
                for a in tree["PubmedArticle"]]
    return [{"citation": c, "data": {}} for c in tree["MedlineCitation"]]


def _flat(value: Any) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", str(value)).split())


def entrez_fields(entry: dict[str, Any]) -> dict[str, Any]:
    """PMID, title, DOI, authors and year, taken from Bio.Entrez's tree the documented way."""
    article = entry["citation"]["Article"]
    doi = next((str(e) for e in article.get("ELocationID", [])
                if e.attributes.get("EIdType") == "doi"
                and e.attributes.get("ValidYN", "Y") == "Y"), "")
    doi = doi or next((str(a) for a in entry["data"].get("ArticleIdList", [])
                       if a.attributes.get("IdType") == "doi"), "")
    authors = []
    for author in article.get("AuthorList", []):
        if "CollectiveName" in author:
            authors.append(_flat(author["CollectiveName"]))
        elif "LastName" in author:
            authors.append(f"{author['LastName']} {author.get('Initials', '')}".strip())
    date = article["Journal"]["JournalIssue"]["PubDate"]
    found = re.search(r"\d{4}", date.get("MedlineDate", ""))
    year = date.get("Year") or (found.group(0) if found else "")
    return {"pmid": str(entry["citation"]["PMID"]), "title": _flat(article["ArticleTitle"]),
            "doi": normalize_doi(doi), "authors": authors, "year": int(year)}


@pytest.mark.parametrize("path", REAL_XML, ids=lambda p: p.name)
def test_every_real_file_agrees_with_bio_entrez(path: Path) -> None:
    expected = [entrez_fields(e) for e in entrez_read(path)]
    ours = [{"pmid": r.pmid, "title": r.title, "doi": r.doi, "authors": r.authors,
             "year": r.year} for r in parse_file(path).records]
    assert len(ours) == len(expected) > 0
    assert ours == expected


def test_the_real_files_cover_the_checklist() -> None:
    records = {r.pmid: r for p in REAL_XML for r in parse_file(p).records}
    update = parse_file(PUBMED / "pubmed26n1335_sample.xml.gz")
    assert len(update.records) == 30 and len(update.deleted) == 6
    retraction = records["41578200"]
    assert retraction.extra["links"] == {"RetractionOf": ["21595987"]}
    assert retraction.pmcid == "PMC12828940"
    assert records["41026679"].extra["links"] == {"ErratumIn": ["41618829"]}
    vernacular = records["41605226"].extra["vernacular_title"]
    assert vernacular.startswith("Kommentar zu „ABDOMEN BECKEN")
    translated = records["26407462"]
    assert translated.title == "[Vaccines are drugs]."
    assert translated.extra["translated_title"] is True
    assert records["30688251"].extra["pub_date"] == {"year": 2019, "month": 1, "day": None,
                                                     "raw": "2019 Jan-Feb"}
    assert records["27789571"].extra["pii"] == "ehw480"
    labelled = records["27797938"].abstract.split("\n")
    assert [part.split(":")[0] for part in labelled] == ["OBJECTIVE", "DESIGN", "RESULTS",
                                                          "CONCLUSIONS"]
    assert "Chronic Kidney Disease in Children (CKiD) Study Investigators" in records[
        "41576520"].authors  # a CollectiveName with the 2026 Investigators= attribute
    mesh_and_keywords = records["12091962"].keywords
    assert {"Health Care and Public Health", "Quarantine", "Humans"} <= set(mesh_and_keywords)
    assert all(r.language for r in records.values())
    assert sum(bool(r.publication_types) for r in records.values()) == len(records)


def test_dois_come_from_the_article_never_from_its_references() -> None:
    cited = parse_file(PUBMED / "pubmed4.xml").records[0]
    assert cited.doi == "10.1136/gutjnl-2016-312510"  # not one of its 48 cited works
    only_in_references = article(
        "<ArticleTitle>T</ArticleTitle>",
        data="<ReferenceList><Reference><Citation>x</Citation><ArticleIdList>"
             '<ArticleId IdType="doi">10.1000/cited</ArticleId></ArticleIdList></Reference>'
             "</ReferenceList>")
    assert one(only_in_references).doi == ""
    from_id_list = article("<ArticleTitle>T</ArticleTitle>",
                           data='<ArticleIdList><ArticleId IdType="doi">10.1000/OWN</ArticleId>'
                                '<ArticleId IdType="pmc">PMC9</ArticleId></ArticleIdList>')
    assert (one(from_id_list).doi, one(from_id_list).pmcid) == ("10.1000/own", "PMC9")
    invalid_location = article('<ArticleTitle>T</ArticleTitle><ELocationID EIdType="doi" '
                               'ValidYN="N">10.1000/bad</ELocationID>')
    assert one(invalid_location).doi == ""


@pytest.mark.parametrize(("date", "expected"), [
    ("<Year>2019</Year><Season>Spring</Season>", (2019, 3, None, "2019 Spring")),
    ("<Year>2018</Year><Season>Winter</Season>", (2018, 12, None, "2018 Winter")),
    ("<MedlineDate>1998 Dec-1999 Jan</MedlineDate>", (1998, 12, None, "1998 Dec-1999 Jan")),
    ("<MedlineDate>2000 Summer</MedlineDate>", (2000, 6, None, "2000 Summer")),
    ("<MedlineDate>2015</MedlineDate>", (2015, None, None, "2015")),
    ("<Year>2021</Year><Month>04</Month><Day>7</Day>", (2021, 4, 7, "2021 04 7")),
])
def test_dates_seasons_and_medline_dates(date: str, expected: tuple[Any, ...]) -> None:
    record = one(article("<ArticleTitle>T</ArticleTitle>", date=date))
    parsed = record.extra["pub_date"]
    assert (parsed["year"], parsed["month"], parsed["day"], parsed["raw"]) == expected
    assert record.year == expected[0]


def test_collective_names_inline_markup_and_retracted_flag() -> None:
    record = one(article(
        "<ArticleTitle>A <i>POEMS</i> study of CO<sub>2</sub></ArticleTitle>"
        '<AuthorList><Author><LastName>Dispenzieri</LastName><Initials>A</Initials></Author>'
        '<Author><CollectiveName Investigators="Y">POEMS Study Group</CollectiveName></Author>'
        "</AuthorList><PublicationTypeList><PublicationType UI=\"D016441\">Retracted "
        "Publication</PublicationType></PublicationTypeList>"))
    assert record.title == "A POEMS study of CO2"
    assert record.authors == ["Dispenzieri A", "POEMS Study Group"]
    assert record.extra["retracted"] is True


def test_a_book_article_and_a_delete_list_share_a_file() -> None:
    xml = (f"{HEAD}{article('<ArticleTitle>Article</ArticleTitle>', pmid='5')}"
           "<PubmedBookArticle><BookDocument><PMID Version=\"1\">20301295</PMID>"
           '<ArticleIdList><ArticleId IdType="bookaccession">NBK1116</ArticleId></ArticleIdList>'
           "<Book><Publisher><PublisherName>University of Washington</PublisherName></Publisher>"
           "<BookTitle>GeneReviews</BookTitle><PubDate><Year>1993</Year></PubDate></Book>"
           "<ArticleTitle>POEMS Syndrome</ArticleTitle><Language>eng</Language>"
           "<AuthorList><Author><LastName>Pagon</LastName><Initials>RA</Initials></Author>"
           "</AuthorList><PublicationType UI=\"D016454\">Review</PublicationType>"
           "</BookDocument><PubmedBookData/></PubmedBookArticle>"
           "<DeleteCitation><PMID Version=\"1\">11</PMID><PMID Version=\"1\">12</PMID>"
           "</DeleteCitation></PubmedArticleSet>")
    parsed = parse_text(xml, "mixed.xml")
    assert [r.kind for r in parsed.records] == ["journal_article", "book"]
    book = parsed.records[1]
    assert (book.pmid, book.title, book.journal, book.year) == (
        "20301295", "POEMS Syndrome", "GeneReviews", 1993)
    assert book.extra["bookaccession"] == "NBK1116"
    assert parsed.deleted == ["11", "12"]


def test_the_old_medline_citation_set_is_read() -> None:
    parsed = parse_file(PUBMED / "medline16n0902_sample.xml.gz")
    assert len(parsed.records) == 604 and parsed.deleted
    assert sum(bool(r.extra.get("vernacular_title")) for r in parsed.records) == 18


def test_external_entities_and_dtds_are_never_fetched(tmp_path: Path) -> None:
    hostile = ('<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet SYSTEM '
               '"https://dtd.example.org/x.dtd" [<!ENTITY leak SYSTEM "file:///etc/passwd">]>\n'
               f"<PubmedArticleSet>{article('<ArticleTitle>&leak;</ArticleTitle>')}"
               "</PubmedArticleSet>")
    with pytest.raises(InputError, match=r"hostile\.xml, line 3"):
        parse_text(hostile, "hostile.xml")


def test_a_truncated_file_names_file_and_line(tmp_path: Path) -> None:
    text = (PUBMED / "pubmed1.xml").read_text()
    path = tmp_path / "cut.xml"
    path.write_text(text[: len(text) // 2])
    with pytest.raises(InputError,
                       match=r"cut\.xml, line \d+: malformed XML at column \d+ \(unclosed"):
        read_records(path)


def test_markers_are_counted_across_read_boundaries() -> None:
    block = article("<ArticleTitle>T</ArticleTitle>")
    xml = HEAD + block * 3000 + "</PubmedArticleSet>"
    assert len(xml) > 2 * (1 << 20) // 3
    assert count_records(io.BytesIO(xml.encode() * 2)) == 6000


def test_the_network_guard_blocks_connections_beyond_this_machine() -> None:
    with socket.socket() as sock, pytest.raises(OSError, match="must not reach the network"):
        sock.connect(("203.0.113.1", 80))
