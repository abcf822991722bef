"""PubMed/MEDLINE tagged text (``.nbib``, ``rettype=medline``), read with Bio.Medline."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from Bio import Medline

from review_pipeline.formats.base import Bad, Reading, cut_short, read_text
from review_pipeline.model.errors import CountMismatchError, InputError
from review_pipeline.model.record import (
    Record,
    expand_pages,
    normalize_doi,
    normalize_language,
    normalize_pmid,
    parse_year,
)

_PMID = re.compile(r"^PMID- ", re.MULTILINE)
_ISSN = re.compile(r"\d{4}-\d{3}[\dXx]")
_TAG = re.compile(r"^([A-Z][A-Z0-9]{1,3})\s*- ")


def sniff(head: str) -> bool:
    return bool(_PMID.search(head))


def read(path: Path) -> Reading:
    text = read_text(path)
    expected = len(_PMID.findall(text))
    if not expected:
        raise InputError("no MEDLINE records (no 'PMID- ' lines)", where=str(path),
                         fix="check that this is a PubMed/MEDLINE export, or pass --format")
    entries = list(Medline.parse(io.StringIO(text)))  # type: ignore[no-untyped-call]
    if len(entries) != expected:
        raise CountMismatchError(
            f"the file has {expected} records (PMID lines) but {len(entries)} were read",
            where=str(path), fix="look for blank lines inside a record",
        )
    lines = text.split("\n")
    starts = [n for n, line in enumerate(lines) if line.startswith("PMID- ")]
    records: list[Record] = []
    reading = Reading(records, expected=expected)
    cut = cut_short(lines, starts, _TAG)
    for k, (entry, first) in enumerate(zip(entries, starts, strict=True)):
        if cut and k == len(starts) - 1:
            reading.bad.append(Bad(first + 1, cut, raw="\n".join(lines[first:]).strip()))
            continue
        if normalize_pmid(entry.get("PMID", "")):
            records.append(_record(entry))
            continue
        stop = starts[k + 1] if k + 1 < len(starts) else len(lines)
        reading.bad.append(Bad(first + 1, "the record has no PMID (or not a number)",
                               field="PMID", raw="\n".join(lines[first:stop]).strip()))
    return reading


def _list(entry: dict[str, Any], key: str) -> list[str]:
    value = entry.get(key, [])
    return [value] if isinstance(value, str) else list(value)


def _doi(entry: dict[str, Any]) -> str:
    # Bio.Medline joins repeated LID lines into one string; AID keeps them apart.
    for value in (*_list(entry, "AID"), *_list(entry, "LID")):
        if "[doi]" in value:
            return normalize_doi(value.replace("[doi]", ""))
    return ""


def _record(entry: dict[str, Any]) -> Record:
    pmid = normalize_pmid(entry.get("PMID", ""))
    issn = _ISSN.search(entry.get("IS", ""))
    languages = _list(entry, "LA")
    return Record(
        source_record_id=pmid,
        title=entry.get("TI", "") or entry.get("BTI", ""),
        abstract=entry.get("AB", ""),
        authors=[*_list(entry, "AU"), *_list(entry, "CN")],
        year=parse_year(entry.get("DP", "")),
        journal=entry.get("TA", ""),
        journal_full=entry.get("JT", ""),
        issn=issn.group(0) if issn else "",
        volume=entry.get("VI", ""),
        issue=entry.get("IP", ""),
        pages=expand_pages(entry.get("PG", "")),
        doi=_doi(entry),
        pmid=pmid,
        pmcid=entry.get("PMC", ""),
        language=normalize_language(languages[0]) if languages else "",
        publication_types=_list(entry, "PT"),
        keywords=[*_list(entry, "MH"), *_list(entry, "OT")],
        kind="journal_article",
    )
