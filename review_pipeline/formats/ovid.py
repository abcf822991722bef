"""Ovid tagged text (Embase, MEDLINE, PsycINFO through Ovid): ``<1. >`` record headers, then
``XX  - value`` lines with indented continuation lines, and no end marker."""

from __future__ import annotations

import re
from pathlib import Path

from review_pipeline.formats.base import Bad, Reading, cut_short, read_text
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

_HEADER = re.compile(r"^<\s*\d+\.\s*>\s*$")
_TAG = re.compile(r"^([A-Z][A-Z0-9]{1,3})\s+-\s?(.*)$")


def sniff(head: str) -> bool:
    return bool(re.search(r"^<\s*\d+\.\s*>\s*\n[A-Z][A-Z0-9]{1,3}\s+- ", head, re.MULTILINE))


def read(path: Path) -> Reading:
    lines = read_text(path).split("\n")
    starts = [n for n, line in enumerate(lines) if _HEADER.match(line)]
    if not starts:
        raise InputError("no Ovid records (no '<1. >' header lines)", where=str(path),
                         fix="export again from Ovid in 'Ovid' or 'Citation' format, or pass "
                             "--format")
    records: list[Record] = []
    reading = Reading(records, expected=len(starts))
    cut = cut_short(lines, starts, _TAG)
    for k, (first, stop) in enumerate(zip(starts, [*starts[1:], len(lines)], strict=True)):
        if cut and k == len(starts) - 1:
            reading.bad.append(Bad(first + 1, cut, raw="\n".join(lines[first:stop]).strip()))
            continue
        fields = _fields(lines[first + 1:stop])
        if not fields:
            reading.bad.append(Bad(first + 1, "a record header with no fields under it: the "
                                   "file looks cut off", raw=lines[first]))
            continue
        records.append(_record(fields))
    return reading


def _fields(lines: list[str]) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    last: list[str] | None = None
    for line in lines:
        match = _TAG.match(line)
        if match:
            last = fields.setdefault(match.group(1), [])
            last.append(match.group(2).strip())
        elif line.strip() and last is not None:
            last[-1] = f"{last[-1]} {line.strip()}".strip()
    return fields


def _journal(source: str) -> str:
    """The journal named at the start of an Ovid ``SO`` ("BMC Proceedings. Conference: ...")."""
    return re.split(r"\.\s|\s\d", source, maxsplit=1)[0].strip()


def _record(fields: dict[str, list[str]]) -> Record:
    def one(*tags: str) -> str:
        return next((fields[t][0] for t in tags if fields.get(t)), "")

    database = one("DB")
    accession = one("UI", "AN")
    types = fields.get("PT", [])
    pmid = one("PM") or (accession if "MEDLINE" in database.upper() else "")
    return Record(
        source_record_id=accession,
        title=one("TI"),
        abstract=one("AB"),
        authors=[normalize_author(a) for a in fields.get("AU", [])],
        year=parse_year(one("YR", "DP", "PY")),
        journal=one("JN", "TA", "JA") or _journal(one("SO")),
        journal_full=one("JT", "JN"),
        issn=one("IS", "ISSN"),
        volume=one("VO", "VI"),
        issue=one("IP", "NO"),
        pages=expand_pages(one("PG")),
        doi=normalize_doi(one("DO", "DI")),
        pmid=normalize_pmid(pmid),
        language=normalize_language(one("LG", "LA")),
        publication_types=types,
        keywords=[k.lstrip("*") for k in (*fields.get("MH", []), *fields.get("KW", []))],
        note=one("SO"),
        kind=kind_of(types),
        extra={"ovid_database": database} if database else {},
    )
