"""dedup.fields: the citation fields as the exports of the shared ASySD sets write them."""

from __future__ import annotations

import pytest

from review_pipeline.stages.dedup.fields import (
    Citation,
    Pages,
    counter_sources,
    pages_agree,
    read_citation,
    read_pages,
    unmangle,
)


@pytest.mark.parametrize(("raw", "read"), [
    ("01-Apr", "1-4"), ("Jan-13", "1-13"), ("Sep-13", "9-13"), ("09-Sep", "9-9"),
    ("Oct-17", "10-17"), ("221-8", "221-8"), ("Sept-13", "Sept-13"), ("01-Foo", "01-Foo"),
])
def test_a_range_a_spreadsheet_read_as_a_date_is_read_back(raw: str, read: str) -> None:
    assert unmangle(raw) == read


@pytest.mark.parametrize(("raw", "first", "last"), [
    ("221-8", "221", "228"),
    ("e0192222", "e0192222", ""),
    ("p. 63", "63", ""),
    ("P63 [tp 104]", "63", ""),
    ("63--71", "63", "71"),
    ("63-71, vi", "63", "71"),
    ("555-63; discussion 563-4", "555", "563"),
    ("A94-A95", "a94", "a95"),
    ("193S", "193s", ""),
    ("945-955.e10", "945", "955.e10"),
    ("01-Jun", "1", "6"),
    ("xiii", "", ""),
    ("", "", ""),
])
def test_pages_in_every_notation(raw: str, first: str, last: str) -> None:
    pages = read_pages(raw)
    assert (pages.first, pages.last) == (first, last)


def test_a_year_in_the_pages_field_is_no_page() -> None:
    assert read_pages("2010", 2010) == Pages()


def test_pages_read_from_a_date_are_marked_as_guessed() -> None:
    assert read_pages("Jan-13").guessed
    assert not read_pages("1-13").guessed


@pytest.mark.parametrize(("a", "b", "agree"), [
    ("S12", "12", True),
    ("e0192222", "192222", True),
    ("207-218", "208-218", True),
    ("81-87", "18-87", True),
    ("207-218", "208-219", False),
    ("207-218", "307-318", False),
    ("S12", "E12", False),
    ("1153-1165", "607-612", False),
    ("", "12", False),
])
def test_first_pages_agree_across_notations_and_one_slip(a: str, b: str, agree: bool) -> None:
    assert pages_agree(read_pages(a), read_pages(b)) is agree


@pytest.mark.parametrize(("volume", "issue", "pages", "year", "read"), [
    ("13 (2) (no pagination)", "e0192222", "", 2018, Citation("13", "2", "e0192222")),
    ("85 Suppl 6", "", "161-170", 1996, Citation("85", "Suppl 6", "161-170")),
    ("10 (S2)", "", "", 2009, Citation("10", "S2", "")),
    ("111 (4 MeetingAbstract)", "", "", 2012, Citation("111", "4 MeetingAbstract", "")),
    ("81 ( Pt 1)", "", "1-16", 1990, Citation("81", "", "1-16")),
    ("2015", "3", "e998", 2015, Citation("", "3", "e998")),
    ("115", "2", "48-52", 2015, Citation("115", "2", "48-52")),
    ("81", "London England : 1953", "", 1990, Citation("81", "", "")),
    ("7", "03-Apr", "", 2016, Citation("7", "3-4", "")),
])
def test_each_field_holds_what_it_means(volume: str, issue: str, pages: str, year: int,
                                        read: Citation) -> None:
    assert read_citation(volume, issue, pages, year) == read


def test_a_running_counter_in_the_issue_column_is_found_per_source() -> None:
    counted = [("scopus", str(n)) for n in range(3_001, 3_041)]
    real = [("embase", str(n % 12 + 1)) for n in range(40)]
    # Nature's issues are large and distinct, but far apart: not a counter.
    nature = [("wos", str(7_000 + 37 * n)) for n in range(40)]
    assert counter_sources([*counted, *real, *nature]) == {"scopus"}
    # Too few records to tell.
    assert counter_sources(counted[:10]) == set()
