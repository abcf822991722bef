"""What the citation fields of an export really hold, read before records are compared.

Exports put a supplement in the volume ("85 Suppl 6"), the issue and "(no pagination)" there
too ("13 (2) (no pagination)"), an article number in the issue column, the year in the volume
column, and page ranges that a spreadsheet turned into dates ("01-Apr" for 1-4, "Jan-13" for
1-13). Some sources fill the issue column with a running record counter. These functions turn
each field into what it means, or into nothing when it means nothing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

_MONTHS = {m: str(n) for n, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_DAY_MONTH = re.compile(r"^\s*(\d{1,2})-([a-z]{3})\s*$", re.IGNORECASE)
_MONTH_NUMBER = re.compile(r"^\s*([a-z]{3})-(\d{1,2})\s*$", re.IGNORECASE)
_BRACKETED = re.compile(r"\[[^\]]*\]|\([^)]*\)")
_PAGE_PREFIX = re.compile(r"^(?:pp?\.?\s*|pages?\s+)(?=[a-z]*\d)", re.IGNORECASE)
_RANGE = re.compile(r"\s*(?:-+|\u2013|\u2014)\s*")
_PAGE_TOKEN = re.compile(r"[a-z]*\d+[a-z]*(?:\.[a-z]*\d+)?", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_VOLUME = re.compile(r"^\s*(?P<volume>\d+)\s*(?:\((?P<issue>[^)]*)\)|"
                     r"(?P<suppl>supp?l?\.?\s*\w*))?", re.IGNORECASE)
_ISSUE_IN_VOLUME = re.compile(r"^\s*(?:\d+|s\d+|supp?l?\.?\s*\d*)(?:\s+meeting\s*abstracts?)?"
                              r"\s*$", re.IGNORECASE)
_YEAR = re.compile(r"\b(?:18|19|20)\d\d\b")
_ARTICLE_NUMBER = re.compile(r"^\s*[a-z]{0,3}\d{5,}\s*$", re.IGNORECASE)
COUNTER_SOURCE_MIN = 20
"""Records with an issue a source must have before its issue column is judged a counter."""


def unmangle(value: str) -> str:
    """A page or issue range a spreadsheet read as a date, as the range it was: "01-Apr"
    (1 April, typed as 1-4) gives "1-4", "Jan-13" (January 2013, typed as 1-13) gives
    "1-13". Anything else comes back as it is."""
    if match := _DAY_MONTH.match(value):
        month = _MONTHS.get(match.group(2).lower())
        return f"{int(match.group(1))}-{month}" if month else value
    if match := _MONTH_NUMBER.match(value):
        month = _MONTHS.get(match.group(1).lower())
        return f"{month}-{int(match.group(2))}" if month else value
    return value


@dataclass(frozen=True)
class Pages:
    first: str = ""
    """The first page as written, folded to lower case without leading zeros ("e1611",
    "s12", "193s"), or "" when there is none."""
    last: str = ""
    """The last page, in full ("221-8" gives "228"), or ""."""
    guessed: bool = False
    """Read back from a date a spreadsheet made: good enough to agree with another record's
    pages, too unsure to disagree with them ("Jan-13" may have been 79-91)."""
    number: str = field(init=False)
    """The first page's digits only: "S12", "e12" and "12" share it."""

    def __post_init__(self) -> None:
        match = _DIGITS.search(self.first)
        object.__setattr__(self, "number", match.group(0).lstrip("0") or "0" if match else "")


def read_pages(raw: str, year: int | None = None) -> Pages:
    """The first and last page of a pages field, whatever its notation: "p. 63",
    "P63 [tp 104]", "63--71", "63-71, vi", "01-Jun", "e0192222". A year written in the pages
    field is not a page."""
    read = unmangle(raw)
    text = _PAGE_PREFIX.sub("", _BRACKETED.sub(" ", read).strip())
    parts = [p for p in _RANGE.split(text.split(",")[0].split(";")[0].strip(), maxsplit=1) if p]
    tokens = [_PAGE_TOKEN.match(p.strip()) for p in parts]
    first = tokens[0].group(0).lower() if tokens and tokens[0] else ""
    last = tokens[1].group(0).lower() if len(tokens) > 1 and tokens[1] else ""
    first = first.lstrip("0") or first if first.isdigit() else first
    if first == str(year or ""):
        return Pages()
    if first.isdigit() and last.isdigit() and len(last) < len(first):
        last = first[:len(first) - len(last)] + last
    return Pages(first, last.lstrip("0") if last.isdigit() else last, read != raw)


def pages_agree(a: Pages, b: Pages) -> bool:
    """Whether two first pages can be one: the same as written; the same number with a
    letter on one side only ("S12" and "12", "e0192222" and "192222"); or a one-character
    slip in the first page ("207" and "208", "81" and "18") of two ranges that end on the
    same page."""
    if not (a.first and b.first):
        return False
    if a.first == b.first:
        return True
    if a.number and a.number == b.number and (a.first.isdigit() or b.first.isdigit()):
        return True
    return bool(a.last) and a.last == b.last and a.first.isdigit() and b.first.isdigit() and (
        len(a.first) == len(b.first) and _one_slip(a.first, b.first))


def _one_slip(x: str, y: str) -> bool:
    """One character changed, or two neighbours swapped."""
    diff = [i for i, (c, d) in enumerate(zip(x, y, strict=True)) if c != d]
    return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                              and x[diff[0]] == y[diff[1]] and x[diff[1]] == y[diff[0]])


@dataclass(frozen=True)
class Citation:
    volume: str
    issue: str
    pages: str


def read_citation(volume: str, issue: str, pages: str, year: int | None) -> Citation:
    """Volume, issue and pages as they are meant, from the columns they were found in:
    "13 (2) (no pagination)" is volume 13, issue 2; "85 Suppl 6" is volume 85, issue
    "Suppl 6"; a volume that is the year is no volume; an article number in the issue
    column, with no pages, is the pages."""
    volume, issue, pages = volume.strip(), unmangle(issue.strip()), pages.strip()
    if not pages and _ARTICLE_NUMBER.match(issue):
        issue, pages = "", issue
    if match := _VOLUME.match(volume):
        inner = match.group("issue") or match.group("suppl") or ""
        volume = match.group("volume")
        if inner and not issue and _ISSUE_IN_VOLUME.match(inner):
            issue = inner
    if _YEAR.search(issue):
        issue = ""  # "London England : 1953", a journal's qualifier in the wrong column
    if year and volume.isdecimal() and abs(int(volume) - year) <= 1:
        volume = ""
    return Citation(volume, issue, pages)


def counter_sources(issues: Iterable[tuple[str, str]]) -> set[str]:
    """The sources whose issue column is a running counter, not an issue: (source, issue)
    pairs in, the sources out. A journal has a few issues a year, so a source's issues repeat
    across its records, or are far apart (Nature's 7529 and 7641); a counter gives nearly
    every record its own number, one after another."""
    seen: dict[str, list[int]] = defaultdict(list)
    for source, issue in issues:
        if issue.strip().isdecimal():
            seen[source].append(int(issue))
    return {source for source, numbers in seen.items()
            if len(numbers) >= COUNTER_SOURCE_MIN and len(set(numbers)) >= 0.9 * len(numbers)
            and max(numbers) - min(numbers) < 2 * len(numbers)}
