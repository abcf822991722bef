"""The offline snapshot: JSON lines standing in for a PubMed search result.

One object per line with the keys of ``snapshot/README.md``. A record's id is its PMID,
else its DOI, else a hash of its bibliographic fields, so ids survive a rebuild.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from review_pipeline.formats.base import Bad, Reading, read_text
from review_pipeline.model.errors import InputError
from review_pipeline.model.record import (
    Record,
    expand_pages,
    normalize_doi,
    normalize_language,
    normalize_pmid,
    parse_year,
)

LIST_KEYS = ("authors", "publication_types", "keywords")
TEXT_KEYS = (
    "pmid", "doi", "title", "journal", "journal_full", "year", "volume", "issue", "pages",
    "language", "note", "source_url", "source_kind",
)
OPTIONAL_KEYS = ("later_published_as",)
_ID_KEYS = ("title", "authors", "journal", "year", "volume", "issue", "pages", "source_url")


def sniff(head: str) -> bool:
    first = head.lstrip().split("\n", 1)[0]
    return first.startswith("{") and '"source_kind"' in first


def read(path: Path) -> Reading:
    # Every non-empty line becomes one record or one refusal, so none can be lost.
    records: list[Record] = []
    reading = Reading(records, expected=0)
    for number, line in enumerate(read_text(path).split("\n"), 1):
        if not line.strip():
            continue
        reading.expected += 1
        try:
            records.append(_record(line, path, number))
        except InputError as exc:
            reading.bad.append(Bad(number, exc.what, raw=line))
    return reading


def _record(line: str, path: Path, number: int) -> Record:
    where = f"{path}, line {number}"
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg} at column {exc.colno})", where=where,
                         fix="repair or remove that line; each line holds one record") from None
    _validate(data, where)
    pmid = normalize_pmid(data["pmid"])
    doi = normalize_doi(data["doi"])
    extra = {"source_url": data["source_url"]}
    if data.get("later_published_as"):
        extra["later_published_as"] = data["later_published_as"]
    return Record(
        source_record_id=pmid or (f"doi:{doi}" if doi else _content_id(data)),
        title=data["title"].strip(),
        authors=list(data["authors"]),
        year=parse_year(data["year"]),
        journal=data["journal"],
        journal_full=data["journal_full"],
        volume=data["volume"],
        issue=data["issue"],
        pages=expand_pages(data["pages"]),
        doi=doi,
        pmid=pmid,
        language=normalize_language(data["language"]) or "eng",
        publication_types=list(data["publication_types"]),
        keywords=list(data["keywords"]),
        note=data["note"],
        kind=data["source_kind"],
        extra=extra,
    )


def _validate(data: Any, where: str) -> None:
    if not isinstance(data, dict):
        raise InputError("expected a JSON object", where=where, fix="one object per line")
    known = set(LIST_KEYS) | set(TEXT_KEYS) | set(OPTIONAL_KEYS)
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputError(f"unknown keys {unknown}", where=where,
                         fix=f"use only the snapshot's keys: {', '.join(sorted(known))}")
    missing = [k for k in (*LIST_KEYS, *TEXT_KEYS) if k not in data]
    if missing:
        raise InputError(f"missing keys {missing}", where=where,
                         fix="write every key; an unknown value is \"\" or []")
    for key in LIST_KEYS:
        if not (isinstance(data[key], list) and all(isinstance(v, str) for v in data[key])):
            raise InputError(f"key '{key}' must be a list of strings", where=where,
                             fix="write it as [\"...\", ...] or []")
    for key in (*TEXT_KEYS, *OPTIONAL_KEYS):
        if key in data and not isinstance(data[key], str):
            raise InputError(f"key '{key}' must be a string, got {data[key]!r}", where=where,
                             fix="quote the value; write \"\" when it is unknown")


def _content_id(data: dict[str, Any]) -> str:
    canonical = json.dumps({k: data[k] for k in _ID_KEYS}, sort_keys=True, ensure_ascii=False)
    return "snap-" + hashlib.sha1(canonical.encode(), usedforsecurity=False).hexdigest()[:12]
