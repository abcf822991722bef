"""Field normalisers: DOIs, pages, years, names, languages, folding for comparison."""

from __future__ import annotations

import pytest

from review_pipeline.model.record import (
    CONFERENCE_ABSTRACT,
    expand_pages,
    fold,
    kind_of,
    normalize_author,
    normalize_doi,
    normalize_language,
    normalize_pmid,
    parse_year,
)
from review_pipeline.stages.dedup.matching import clean_title


@pytest.mark.parametrize(("raw", "doi"), [
    ("10.1111/EJH.12492", "10.1111/ejh.12492"),
    ("https://doi.org/10.1111/ejh.12492", "10.1111/ejh.12492"),
    ("http://dx.doi.org/10.1111/ejh.12492.", "10.1111/ejh.12492"),
    ("doi: 10.1016/S1474-4422(16)30157-0", "10.1016/s1474-4422(16)30157-0"),
    ("10.1016/S1474-4422%2816%2930157-0", "10.1016/s1474-4422(16)30157-0"),
    ("not a doi", ""),
    ("", ""),
    (None, ""),
])
def test_normalize_doi(raw: str | None, doi: str) -> None:
    assert normalize_doi(raw) == doi


@pytest.mark.parametrize(("raw", "pages"), [
    ("665-70", "665-670"), ("1129-37", "1129-1137"), ("325-30", "325-330"),
    ("99-105", "99-105"), ("e009157", "e009157"), ("S12-5", "S12-S15"),
    ("1255\u20137", "1255-1257"),
    ("", ""),
])
def test_expand_pages(raw: str, pages: str) -> None:
    assert expand_pages(raw) == pages


@pytest.mark.parametrize(("raw", "year"), [
    ("2019 Jan-Feb", 2019), ("2015 Oct-Dec", 2015), (2008, 2008), ("Spring 1997", 1997),
    ("", None), (None, None), ("n.d.", None), ("12345", None),
])
def test_parse_year(raw: str | int | None, year: int | None) -> None:
    assert parse_year(raw) == year


@pytest.mark.parametrize(("raw", "name"), [
    ("Misawa, Sonoko", "Misawa S"), ("Misawa, S.", "Misawa S"), ("Misawa S", "Misawa S"),
    ("Jang, I. Y.", "Jang IY"), ("D'Souza, A.", "D'Souza A"), ("Li, Jian-Min", "Li JM"),
    ("Adler D.G.", "Adler DG"), ("Van der Berg A", "Van der Berg A"),
])
def test_normalize_author(raw: str, name: str) -> None:
    assert normalize_author(raw) == name


def test_languages_and_pmids() -> None:
    assert normalize_language("English") == "eng"
    assert normalize_language("jpn") == "jpn"
    assert normalize_language("") == ""
    assert normalize_pmid("PMID: 027496680") == "27496680"


def test_fold_keeps_every_script_so_distinct_titles_stay_distinct() -> None:
    korean_a = "다량의 심낭 삼출로 발현된 POEMS 증후군 1예"
    korean_b = "유육종증을 동반한 POEMS 증후군 1예"
    assert clean_title(korean_a) != clean_title(korean_b)
    assert fold("[POEMS Syndrome]: a Review.") == "poems syndrome a review"
    assert fold("Síndrome de POEMS") == "sindrome de poems"
    assert fold(fold("Ünïcode — text")) == fold("Ünïcode — text")


@pytest.mark.parametrize("types", [
    ["ABST"], ["CPAPER"], ["Meeting Abstract"], ["Journal Article", "Proceedings Paper"],
    ["conference abstract"], ["Conference Proceedings"], ["Conference Review"],
    ["inproceedings"],
])
def test_a_meeting_abstract_is_known_in_every_formats_words(types: list[str]) -> None:
    assert kind_of(types) == CONFERENCE_ABSTRACT


@pytest.mark.parametrize("types", [[], ["JOUR"], ["Article"], ["Review"], ["Abstract"]])
def test_other_publication_types_keep_the_default_kind(types: list[str]) -> None:
    assert kind_of(types) == "journal_article"
