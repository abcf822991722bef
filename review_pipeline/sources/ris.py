"""RIS exports, read with rispy after checking the file's own ``TY``/``ER`` markers.

rispy returns nothing for a non-RIS file, merges a record that lacks ``ER`` into the next,
and drops a last record that lacks ``ER``. So the markers are read first, by line: a
missing ``ER`` between two records is restored (some exporters leave it out), and a last
record with no ``ER`` is refused as cut off, naming its line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rispy
from rispy.parser import RisParser

from ..errors import CountMismatchError, InputError
from ..records import (
    Record,
    expand_pages,
    normalize_author,
    normalize_doi,
    normalize_language,
    normalize_pmid,
    parse_year,
)
from . import Bad, Reading, file_tag, iter_lines

_TY = re.compile(r"^\s*TY  -")
_ER = re.compile(r"^\s*ER  -")
_PMID_NOTE = re.compile(r"PMID:?\s*(\d+)")
_CONFERENCE = ("ABST", "CONF", "CPAPER")
# rispy adds a wrapped line to a single-valued tag with a space between, and to a list tag
# as an item of its own; notes are joined with spaces anyway (``_record``). So a wrapped
# line is joined to its tag before parsing (a Scopus record has ~190 wrapped reference
# lines), except under these tags, where it stays an item (or, under TY, out of the type).
_KEEP_WRAPPED = ("TY", "A1", "A2", "A3", "A4", "AU", "KW", "UR")


def sniff(head: str) -> bool:
    return bool(re.search(r"^\s*TY  -", head, re.MULTILINE))


def read(path: Path) -> Reading:
    return read_tagged(path, RisParser(), _TY, _ER, "ER  -", _record,
                       InputError("no RIS records (no 'TY  -' lines)", where=str(path),
                                  fix="check that this is the RIS export, or pass the right "
                                      "--format"), hint=("TY", "ER"), keep_wrapped=_KEEP_WRAPPED)


def read_tagged(path: Path, parser: RisParser, start: re.Pattern[str], end: re.Pattern[str],
                closer: str, record: Callable[[dict[str, Any], str], Record],
                none_found: InputError, hint: tuple[str, ...],
                keep_wrapped: tuple[str, ...] | None = None) -> Reading:
    """A tagged file (RIS, Web of Science) streamed record by record through ``parser`` once
    each record's markers are checked: ``record`` turns an entry into a Record, given a
    fallback id; a file without any ``start`` line raises ``none_found``. ``hint`` holds the
    first letters of every marker line (or else it starts with a space), so most lines skip
    the patterns. With ``keep_wrapped``, RIS wrapped lines are joined to their tag's line
    except under those tags.
    """
    reading = Reading([], 0)
    items = split_records(iter_lines(path), start, end, closer, hint, keep_wrapped)
    reading.records = _tagged_records(path, parser, items, closer, record, none_found, reading)
    return reading


def _tagged_records(path: Path, parser: RisParser, items: Iterator[Chunk | Bad], closer: str,
                    record: Callable[[dict[str, Any], str], Record], none_found: InputError,
                    reading: Reading) -> Iterator[Record]:
    tag, read, restored = file_tag(path), 0, 0
    for item in items:
        reading.expected += 1
        if isinstance(item, Bad):
            reading.bad.append(item)
            continue
        restored += item.restored
        entries = parser.parse_lines(iter(item.lines))
        if len(entries) != 1:
            raise CountMismatchError(
                f"the record starting on line {item.line} was read as {len(entries)} records",
                where=str(path), fix="report this as a bug, with the file attached")
        read += 1
        yield record(entries[0], f"{tag}#{read}")
    if not reading.expected:
        raise none_found
    if restored:
        reading.warnings.append(f"{path}: {restored} records had no '{closer}' line before "
                                "the next record; each was closed there")


@dataclass
class Chunk:
    """One record's lines, from its start marker (left-aligned) to its end marker."""

    line: int
    """The line of its start marker (1-based)."""
    lines: list[str]
    restored: bool = False
    """Its end marker was missing and is restored where the next record starts."""


def split_records(lines: Iterable[str], start: re.Pattern[str], end: re.Pattern[str],
                  closer: str, hint: tuple[str, ...],
                  keep_wrapped: tuple[str, ...] | None = None) -> Iterator[Chunk | Bad]:
    """Cut ``lines`` into records: a record runs from a ``start`` line to its ``end`` line.

    A missing end before the next start is restored (``closer`` is appended); a last record
    with no end is refused as cut off. Lines between records (Ovid's numbered headers) are
    left out. With ``keep_wrapped``, a line that is not an RIS tag line is joined (after a
    space) to the tag line before it, unless that tag is one of ``keep_wrapped``.
    """
    body: list[str] | None = None
    wrapped: list[str] = []
    joins = False  # whether a wrapped line now joins the tag line before it
    first = 0
    for number, line in enumerate(lines, 1):
        marker = line.startswith(hint) or line[:1].isspace()
        opens = marker and start.match(line)
        closes = marker and not opens and end.match(line)
        if body and wrapped and (opens or closes or line[2:5] == "  -"):
            body[-1] = " ".join([body[-1].rstrip(), *wrapped])
            wrapped = []
        if opens:
            if body is not None:
                yield Chunk(first, [*body, closer], restored=True)
            body, first, joins = [line.lstrip()], number, False
        elif closes:
            if body is not None:
                yield Chunk(first, [*body, closer])
            body = None
        elif body is None:
            continue
        elif line[2:5] != "  -":
            if joins:
                wrapped.append(line.strip())
            else:
                body.append(line)
        else:
            body.append(line)
            joins = keep_wrapped is not None and not line.startswith(keep_wrapped)
    if body and wrapped:
        body[-1] = " ".join([body[-1].rstrip(), *wrapped])
    if body is not None:
        yield Bad(first, f"the last record has no '{closer}' line: the file looks cut off",
                  field=closer.split()[0], raw="\n".join(body).strip())


def _first(entry: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = entry.get(key)
        if isinstance(value, list):
            value = value[0] if value else ""
        if value:
            return str(value).strip()
    return ""


def _record(entry: dict[str, Any], fallback: str) -> Record:
    authors = entry.get("authors") or entry.get("first_authors") or []
    pages = _first(entry, "start_page")
    end = _first(entry, "end_page")
    if pages and end and "-" not in pages:
        pages = f"{pages}-{end}"
    notes = " ".join(entry.get("notes") or [])
    pmid_match = _PMID_NOTE.search(notes)
    accession = _first(entry, "accession_number")
    # EndNote's PubMed records carry the PMID as accession number, with NLM as provider.
    from_nlm = _first(entry, "database_provider").upper() == "NLM" and accession.isdigit()
    # A database accession number is stable; an RIS ID is often a citation key ("Kassin1997").
    source_id = _first(entry, "accession_number", "id")
    return Record(
        source_record_id=source_id or fallback,
        title=_first(entry, "title", "primary_title", "translated_title"),
        abstract=_first(entry, "abstract", "notes_abstract"),
        authors=[normalize_author(a) for a in authors if a.strip()],
        year=parse_year(_first(entry, "year", "publication_year", "date")),
        journal=_first(entry, "journal_name", "alternate_title2", "alternate_title1"),
        journal_full=_first(entry, "alternate_title3", "secondary_title"),
        issn=_first(entry, "issn"),
        volume=_first(entry, "volume"),
        issue=_first(entry, "number"),
        pages=expand_pages(pages),
        doi=normalize_doi(_first(entry, "doi")),
        pmid=normalize_pmid(pmid_match.group(1) if pmid_match else accession if from_nlm
                            else ""),
        language=normalize_language(_first(entry, "language")),
        publication_types=[t] if (t := _first(entry, "type_of_work")) else [],
        keywords=[k.strip() for k in entry.get("keywords") or [] if k.strip()],
        note=notes,
        kind="conference_abstract" if entry.get("type_of_reference") in _CONFERENCE
        else "journal_article",
        extra={"ris_type": entry.get("type_of_reference", "")},
    )


def dumps(records: list[Record]) -> str:
    """RIS for ``records``, written so that reading it back gives the same records."""
    entries = []
    for record in records:
        first, _, last = record.pages.partition("-")
        notes = [record.note] if record.note else []
        # A PMID that is the record's own id goes back as EndNote writes it (AN with DP NLM).
        from_nlm = bool(record.pmid) and record.pmid == record.source_record_id
        if record.pmid and not from_nlm and not _PMID_NOTE.search(record.note):
            notes.append(f"PMID: {record.pmid}")
        kind = str(record.extra.get("ris_type") or "")
        if not kind:
            kind = {"conference_abstract": "ABST", "book": "BOOK"}.get(record.kind, "JOUR")
        entry: dict[str, Any] = {
            "type_of_reference": kind, "accession_number": record.source_record_id,
            "title": record.title, "abstract": record.abstract, "authors": record.authors,
            "year": str(record.year or ""), "journal_name": record.journal,
            "alternate_title3": record.journal_full, "issn": record.issn,
            "volume": record.volume, "number": record.issue, "start_page": first,
            "end_page": last, "doi": record.doi, "language": record.language,
            "type_of_work": record.publication_types[0] if record.publication_types else "",
            "keywords": record.keywords, "notes": notes,
            "database_provider": "NLM" if from_nlm else "",
        }
        entries.append({k: v for k, v in entry.items() if v})
    return str(rispy.dumps(entries))
