"""RIS exports, read with rispy after checking the file's own ``TY``/``ER`` markers.

rispy returns nothing for a non-RIS file, merges a record that lacks ``ER`` into the next,
and drops a last record that lacks ``ER``. So the markers are read first, by line: a
missing ``ER`` between two records is restored (some exporters leave it out), and a last
record with no ``ER`` is refused as cut off, naming its line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import rispy

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
from . import Bad, Reading, file_tag, read_text

_TY = re.compile(r"^\s*TY  -")
_ER = re.compile(r"^\s*ER  -")
_PMID_NOTE = re.compile(r"PMID:?\s*(\d+)")
_CONFERENCE = ("ABST", "CONF", "CPAPER")


def sniff(head: str) -> bool:
    return bool(re.search(r"^\s*TY  -", head, re.MULTILINE))


def read(path: Path) -> Reading:
    lines = read_text(path).split("\n")
    starts = [n for n, line in enumerate(lines) if _TY.match(line)]
    if not starts:
        raise InputError("no RIS records (no 'TY  -' lines)", where=str(path),
                         fix="check that this is the RIS export, or pass the right --format")
    chunks: list[list[str]] = []
    first_lines: list[int] = []
    bad: list[Bad] = []
    restored = 0
    for k, start in enumerate(starts):
        stop = starts[k + 1] if k + 1 < len(starts) else len(lines)
        end = next((n for n in range(start + 1, stop) if _ER.match(lines[n])), None)
        if end is None and k + 1 == len(starts):
            bad.append(Bad(start + 1, "the last record has no 'ER  -' line: the file looks "
                           "cut off", field="ER", raw="\n".join(lines[start:]).strip()))
            continue
        if end is None:
            restored += 1
        body = lines[start:end] if end is not None else lines[start:stop]
        chunks.append([body[0].lstrip(), *body[1:], "ER  -"])
        first_lines.append(start + 1)
    entries = rispy.loads("\n".join(line for chunk in chunks for line in chunk)) if chunks else []
    if len(entries) != len(chunks):
        raise CountMismatchError(
            f"{len(chunks)} complete records (TY to ER) but rispy read {len(entries)}",
            where=str(path), fix="report this as a bug, with the file attached")
    tag = file_tag(path)
    records = [_record(entry, f"{tag}#{n}") for n, entry in enumerate(entries, 1)]
    warnings = [f"{path}: {restored} records had no 'ER  -' line before the next 'TY  -'; "
                "each was closed there"] if restored else []
    return Reading(records, expected=len(starts), bad=bad, warnings=warnings)


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
        pmid=normalize_pmid(pmid_match.group(1)) if pmid_match else "",
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
        if record.pmid and not _PMID_NOTE.search(record.note):
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
        }
        entries.append({k: v for k, v in entry.items() if v})
    return str(rispy.dumps(entries))
