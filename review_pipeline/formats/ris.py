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

from review_pipeline.formats.base import Bad, Decoder, Reading, iter_blocks
from review_pipeline.model.errors import CountMismatchError, InputError
from review_pipeline.model.record import (
    CONFERENCE_ABSTRACT,
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
_MARKERS = re.compile(rb"\n[^\S\n]*(?:(?P<start>TY)|ER)  -")
_PMID_NOTE = re.compile(r"PMID:?\s*(\d+)")
# rispy adds a wrapped line to a single-valued tag with a space between, and to a list tag
# as an item of its own; notes are joined with spaces anyway (``_record``). So a wrapped
# line is joined to its tag before parsing (a Scopus record has ~190 wrapped reference
# lines), except under these tags, where it stays an item (or, under TY, out of the type).
_KEEP_WRAPPED = ("TY", "A1", "A2", "A3", "A4", "AU", "KW", "UR")


def sniff(head: str) -> bool:
    return bool(re.search(r"^\s*TY  -", head, re.MULTILINE))


def read(path: Path) -> Reading:
    return read_tagged(path, RisParser(), _MARKERS, "ER  -", _record,
                       InputError("no RIS records (no 'TY  -' lines)", where=str(path),
                                  fix="check that this is the RIS export, or pass the right "
                                      "--format"), keep_wrapped=_KEEP_WRAPPED)


def read_tagged(path: Path, parser: RisParser, markers: re.Pattern[bytes], closer: str,
                record: Callable[[dict[str, Any]], Record], none_found: InputError,
                keep_wrapped: tuple[str, ...] | None = None) -> Reading:
    """A tagged file (RIS, Web of Science) streamed record by record through ``parser`` once
    each record's markers are checked: ``record`` turns an entry into a Record; a file
    without any start marker raises ``none_found``. ``markers`` matches
    a record's first line (with a group ``start``) and its last. With ``keep_wrapped``, RIS
    wrapped lines are joined to their tag's line except under those tags.
    """
    reading = Reading([], 0)
    items = split_records(iter_blocks(path), Decoder(path), markers, closer, keep_wrapped)
    reading.records = _tagged_records(path, parser, items, closer, record, none_found, reading)
    return reading


def _tagged_records(path: Path, parser: RisParser, items: Iterator[Chunk | Bad], closer: str,
                    record: Callable[[dict[str, Any]], Record], none_found: InputError,
                    reading: Reading) -> Iterator[Record]:
    restored = 0
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
        yield record(entries[0])
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


def split_records(blocks: Iterable[bytes], decode: Decoder,
                  markers: re.Pattern[bytes], closer: str,
                  keep_wrapped: tuple[str, ...] | None = None) -> Iterator[Chunk | Bad]:
    """Cut a file, given as blocks of whole lines, into records: a record runs from a start
    marker (a ``markers`` match with group ``start``) to an end marker.

    A missing end before the next start is restored (``closer`` is appended); a last record
    with no end is refused as cut off. Lines between records (Ovid's numbered headers) are
    left out. With ``keep_wrapped``, a line that is not an RIS tag line is joined (after a
    space) to the tag line before it, unless that tag is one of ``keep_wrapped``.

    Records are cut from the bytes and then decoded, most of them ASCII, which decodes
    fastest; the text between them is decoded too, so ``decode`` sees every byte. A marker
    match starts with the line break before its line, which lets the regular expression
    engine skip from line break to line break.
    """
    wrapped = _wrapped_lines(keep_wrapped) if keep_wrapped is not None else None
    # The open record's bytes from the line break before it, the line it starts on, and
    # the number of the next block's first line.
    pending, first, next_line = b"", 0, 1
    for block in blocks:
        # A line break in front, so that a marker on the block's first line is found.
        data = (pending or b"\n") + block
        opened = 0 if pending else -1  # where the open record starts in ``data``
        line = (first if pending else next_line) - 1  # the line of ``data[counted - 1]``
        counted = 0
        for match in markers.finditer(data, max(len(pending) - 1, 0)):
            line += data.count(b"\n", counted, match.start() + 1)
            if opened >= 0:
                body = _record_lines(decode(data[opened + 1:match.start()]), wrapped)
                yield Chunk(first, [*body, closer], restored=match["start"] is not None)
            else:
                decode(data[counted:match.start()])
            counted = match.start() + 1
            opened, first = (match.start(), line) if match["start"] else (-1, first)
        pending = data[opened:] if opened >= 0 else b""
        if opened < 0:
            decode(data[counted:])
        next_line = line + data.count(b"\n", counted)
    if pending:
        body = _record_lines(decode(pending[1:]).removesuffix("\n"), wrapped)
        yield Bad(first, f"the last record has no '{closer}' line: the file looks cut off",
                  field=closer.split()[0], raw="\n".join(body).strip())
    decode.finish()


def _wrapped_lines(keep: tuple[str, ...]) -> re.Pattern[str]:
    """A tag line, not under ``keep``, with the wrapped lines that follow it; as markers,
    from the line break before it."""
    kept = "|".join(re.escape(tag) for tag in keep)
    return re.compile(rf"\n(?!{kept})(..  -.*+)((?:\n(?!..  -).*+)++)")


def _join_wrapped(match: re.Match[str]) -> str:
    wrapped = (line.strip() for line in match[2][1:].split("\n"))
    return "\n" + " ".join([match[1].rstrip(), *wrapped])


def _record_lines(text: str, wrapped: re.Pattern[str] | None) -> list[str]:
    """A record's lines, from its start marker's line (stripped on the left), with wrapped
    lines joined by ``wrapped``. (A record's first line, its start marker, is never joined.)"""
    text = text.lstrip()
    if wrapped is not None:
        text = wrapped.sub(_join_wrapped, text)
    return text.split("\n")


def _first(entry: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = entry.get(key)
        if isinstance(value, list):
            value = value[0] if value else ""
        if value:
            return str(value).strip()
    return ""


def _record(entry: dict[str, Any]) -> Record:
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
        source_record_id=source_id,
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
        kind=kind_of([entry.get("type_of_reference", "")]),
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
            kind = {CONFERENCE_ABSTRACT: "ABST", "book": "BOOK"}.get(record.kind, "JOUR")
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
