"""RIS exports, read with rispy and checked against the file's own ``TY``/``ER`` markers.

rispy returns nothing for a non-RIS file and drops a last record that lacks ``ER``; the
marker count catches both.
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
from . import file_tag, read_text

_TY = re.compile(r"^\s*TY  -", re.MULTILINE)
_ER = re.compile(r"^\s*ER  -", re.MULTILINE)
_PMID_NOTE = re.compile(r"PMID:?\s*(\d+)")


def sniff(head: str) -> bool:
    return bool(_TY.search(head)) and bool(re.search(r"^\w\w  -", head, re.MULTILINE))


def read(path: Path) -> list[Record]:
    text = read_text(path)
    _check_markers(text, path)
    entries = rispy.loads(text)
    expected = len(_TY.findall(text))
    if len(entries) != expected:
        raise CountMismatchError(
            f"the file has {expected} records (TY lines) but only {len(entries)} could be read",
            where=str(path),
            fix="look for records broken by lines that are not RIS tags",
        )
    tag = file_tag(path)
    return [_record(entry, f"{tag}#{n}") for n, entry in enumerate(entries, 1)]


def _check_markers(text: str, path: Path) -> None:
    """Every ``TY`` must be closed by an ``ER`` before the next ``TY`` opens."""
    open_line = 0
    for number, line in enumerate(text.split("\n"), 1):
        if _TY.match(line):
            if open_line:
                raise InputError(f"the record starting on line {open_line} has no 'ER  -' "
                                 "line before the next record", where=f"{path}, line {number}",
                                 fix="the export was cut or edited; export it again")
            open_line = number
        elif _ER.match(line):
            open_line = 0
    if open_line:
        raise InputError(f"the last record (line {open_line}) has no 'ER  -' line",
                         where=f"{path}, line {open_line}",
                         fix="the file looks truncated; export it again")
    if not _TY.search(text):
        raise InputError("no RIS records (no 'TY  -' lines)", where=str(path),
                         fix="check that this is the RIS export, or pass the right --format")


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
        kind="conference_abstract" if entry.get("type_of_reference") in ("ABST", "CONF",
                                                                          "CPAPER")
        else "journal_article",
        extra={"ris_type": entry.get("type_of_reference", "")},
    )
