"""Tables of records: CSV and TSV (delimiter read from the file) and XLSX (through pandas),
with the column names that databases and review tools use mapped onto the Record model.

Every data row is one record or one refusal (a row with more or fewer cells than the
header). Columns that map to no field are kept, by their header, in ``extra["columns"]``.
"""

from __future__ import annotations

import csv
import itertools
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import ParseError

import pandas as pd

from review_pipeline.formats.base import (
    MAX_FIELD,
    Bad,
    Reading,
    check_workbook,
    iter_lines,
)
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
from review_pipeline.model.text import excerpt

ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "recordid", "key", "accessionnumber", "accession", "an", "ut", "eid",
           "covidence", "refid", "referenceid", "citationid", "uniqueid", "pui"),
    "title": ("title", "primarytitle", "articletitle", "documenttitle", "ti", "t1"),
    "abstract": ("abstract", "ab", "abstractnote", "notesabstract"),
    "authors": ("authors", "author", "authornames", "au", "firstauthors", "authorfullnames"),
    "year": ("year", "publicationyear", "publishedyear", "py", "pubyear", "yearpublished"),
    "journal": ("journal", "journalname", "sourcetitle", "source", "secondarytitle",
                "publicationtitle", "journaltitle", "journalbook", "so", "jo", "t2",
                "booktitle"),
    "journal_abbrev": ("journalabbreviation", "abbreviatedsourcetitle", "ta", "ji", "j9",
                       "isoabbreviation"),
    "volume": ("volume", "vl", "vol"),
    "issue": ("issue", "number", "is", "no"),
    "pages": ("pages", "page", "pg", "pagination"),
    "start_page": ("startpage", "pagestart", "sp", "bp", "firstpage"),
    "end_page": ("endpage", "pageend", "ep", "lastpage"),
    "doi": ("doi", "di", "do"),
    "pmid": ("pmid", "pubmedid", "pm"),
    "pmcid": ("pmcid", "pmc"),
    "issn": ("issn", "sn", "eissn"),
    "isbn": ("isbn",),
    "language": ("language", "languageoforiginaldocument", "la", "lang"),
    "publication_types": ("publicationtype", "publicationtypes", "documenttype", "type",
                          "pt", "typeofreference", "entrytype", "dt"),
    "keywords": ("keywords", "keyword", "authorkeywords", "kw", "de", "meshterms", "mesh",
                 "indexkeywords"),
    "note": ("notes", "note", "n1"),
}
"""Field -> normalised header names (lower case, letters and digits only), first match wins.
They cover Embase, Scopus, Web of Science, PubMed, Covidence, ASReview and bib-dedupe."""
_HEADER_TO_FIELD = {alias: name for name, aliases in ALIASES.items() for alias in aliases}
_EMBASE_SOURCE = re.compile(r"^(?P<journal>.+?) \((?P<year>\d{4})\)(?: (?P<volume>[^\s:(]+)"
                            r"(?::(?P<issue>[^\s(]+))?)?(?: \((?P<pages>[^)]*)\))?")
_ISSN = re.compile(r"^\d{4}-?\d{3}[\dXx]$")


def _key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def sniff(head: str) -> bool:
    first = head.split("\n", 1)[0]
    try:
        dialect = csv.Sniffer().sniff(first, delimiters=",;\t|")
    except csv.Error:
        return False
    headers = {_HEADER_TO_FIELD.get(_key(h)) for h in next(csv.reader([first], dialect))}
    return "title" in headers


def read(path: Path) -> Reading:
    return _read_delimited(path, None)


def read_tsv(path: Path) -> Reading:
    return _read_delimited(path, "\t")


def _read_delimited(path: Path, delimiter: str | None) -> Reading:
    lines = iter_lines(path, keepends=True)
    first = next(lines, "")
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(first, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    rows = _rows(path, itertools.chain([first], lines), delimiter)
    try:
        _, header = next(rows)
    except StopIteration:
        raise InputError("the table has no header row", where=str(path),
                         fix="export again with column names in the first row") from None
    return _reading(path, header, rows)


def _rows(path: Path, lines: Iterator[str], delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of every row that is not blank, the header first."""
    # Abstracts can exceed the csv module's 128 KiB cell limit; raised only while reading.
    previous = csv.field_size_limit(MAX_FIELD)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    end = 0
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                yield end + 1, row
            end = reader.line_num
    except csv.Error as exc:
        raise InputError(f"not a well-formed table ({excerpt(str(exc))})",
                         where=f"{path}, line {reader.line_num}",
                         fix="look for an unclosed quote on or before that line") from None
    finally:
        csv.field_size_limit(previous)


def read_xlsx(path: Path) -> Reading:
    check_workbook(path)
    try:
        frame = pd.read_excel(path, dtype=str, keep_default_na=False, header=None)
    except (ValueError, OSError, KeyError, zipfile.BadZipFile, ParseError) as exc:
        raise InputError(f"cannot read this spreadsheet ({exc})", where=str(path),
                         fix="save it again as .xlsx, or export the records as CSV") from None
    if frame.empty:
        raise InputError("the spreadsheet's first sheet is empty", where=str(path),
                         fix="put the records on the first sheet, with a header row")
    values = frame.to_numpy().tolist()
    header = [str(h) for h in values[0]]
    rows = ((n, [str(v) for v in row]) for n, row in enumerate(values[1:], 2)
            if any(str(v).strip() for v in row))
    return _reading(path, header, rows)


def _reading(path: Path, header: list[str], rows: Iterator[tuple[int, list[str]]]) -> Reading:
    header = [h.strip().lstrip("\ufeff") for h in header]
    fields = [_HEADER_TO_FIELD.get(_key(h), "") for h in header]
    if "title" not in fields:
        raise InputError(f"no title column among {excerpt(str(header), 200)}",
                         where=f"{path}, line 1",
                         fix="name the title column 'title' (other columns: "
                             f"{', '.join(k for k in ALIASES if k != 'title')})")
    first_of: dict[str, int] = {}
    for index, name in enumerate(fields):
        if name:
            first_of.setdefault(name, index)
    reading = Reading([], expected=0)
    reading.records = _records(path, header, fields, first_of, rows, reading)
    return reading


def _records(path: Path, header: list[str], fields: list[str], first_of: dict[str, int],
             rows: Iterator[tuple[int, list[str]]], reading: Reading) -> Iterator[Record]:
    for line, row in rows:
        reading.expected += 1
        if len(row) != len(header):
            reading.bad.append(Bad(line, f"the row has {len(row)} cells but the header has "
                                   f"{len(header)} columns", raw="\t".join(row)))
            continue
        values = {name: row[i].strip() for name, i in first_of.items()}
        others = {h: row[i].strip() for i, h in enumerate(header)
                  if row[i].strip() and first_of.get(fields[i]) != i}
        yield _record(values, others)


_GLUED = re.compile(r"(?<= [A-Z]\.)(?=[A-Z][a-z])")
"""Where one author's initial ends and the next author's family name begins, with no space
("Cicek F. A.Tokcaer-Keskin Z.")."""


def split_authors(value: str) -> list[str]:
    """Authors from one cell: "A and B" (BibTeX), "A; B", "Liu R., Adler D.G." (Embase), or
    run together as EndNote's CSV export writes them ("Boswald L.Kienzle E.")."""
    if " and " in value:
        parts = value.split(" and ")
    elif ";" in value:
        parts = value.split(";")
    else:
        parts = value.split(",")
        # "Liu, R" is one author; "Liu R., Adler D.G." is two.
        if not all(" " in p.strip() for p in parts if p.strip()):
            parts = [value]
    if len(parts) == 1:
        parts = _GLUED.split(value)
    return [normalize_author(p) for p in parts if p.strip()]


def _record(values: dict[str, str], others: dict[str, str]) -> Record:
    journal, year, volume = values.get("journal", ""), values.get("year", ""), values.get(
        "volume", "")
    issue, pages = values.get("issue", ""), values.get("pages", "")
    embase = _EMBASE_SOURCE.match(journal) if not year else None
    if embase:  # Embase's "Source": "Cancer (2004) 102:4 (253-258). Date of Publication: ..."
        journal, year = embase["journal"], embase["year"]
        volume, issue, pages = (volume or embase["volume"] or "", issue or embase["issue"] or "",
                                pages or embase["pages"] or "")
    if not pages and values.get("start_page"):
        pages = "-".join(p for p in (values["start_page"], values.get("end_page", "")) if p)
    issn = values.get("issn") or (values.get("isbn", "") if _ISSN.match(values.get("isbn", ""))
                                  else "")
    types = [t.strip() for t in re.split(r"[;|]", values.get("publication_types", ""))
             if t.strip()]
    keywords = [k.strip() for k in re.split(r"[;|]", values.get("keywords", "")) if k.strip()]
    extra: dict[str, object] = {"columns": others} if others else {}
    return Record(
        source_record_id=values.get("id", ""),
        title=values.get("title", ""),
        abstract=values.get("abstract", ""),
        authors=split_authors(values.get("authors", "")),
        year=parse_year(year),
        journal=values.get("journal_abbrev") or journal,
        journal_full=journal if values.get("journal_abbrev") else "",
        issn=issn,
        volume=volume,
        issue=issue,
        pages=expand_pages(pages),
        doi=normalize_doi(values.get("doi")),
        pmid=normalize_pmid(values.get("pmid")),
        pmcid=values.get("pmcid", ""),
        language=normalize_language(values.get("language")),
        publication_types=types,
        keywords=keywords,
        note=values.get("note", ""),
        kind=kind_of(types),
        extra=extra,
    )
