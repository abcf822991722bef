"""matching: each rule on real record pairs of the labelled ASySD sets.

``fixtures/dedup/asysd_pairs.csv`` holds the rows (abstract and URL left out), with their ids
prefixed by their set; they are read by the CSV import and dedup's own loader, as the
benchmark reads them. ``gold`` is whether merged_record_ids.csv puts the two in one cluster.
"""

from __future__ import annotations

import pytest

from review_pipeline.model.record import fold
from review_pipeline.stages.dedup import find_clusters, load_entries
from review_pipeline.stages.dedup.matching import (
    Entry,
    Verdict,
    blocking_keys,
    decide,
    dois_alike,
    journal_names,
    strength,
)
from review_pipeline.stages.import_ import import_file
from review_pipeline.store import open_db
from tests.conftest import FIXTURES


@pytest.fixture(scope="module")
def asysd(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Entry]:
    db = open_db(tmp_path_factory.mktemp("asysd") / "r.db")
    import_file(db, FIXTURES / "dedup" / "asysd_pairs.csv", source="asysd", fmt="csv")
    entries = {e.record_id.removeprefix("asysd:"): e for e in load_entries(db)}
    db.close()
    return entries


@pytest.mark.parametrize(("a", "b", "gold", "same", "rule"), [
    # two Lancet letters under one title, 1969
    ("depression-id_0046906", "depression-id_0076796", False, False, "citation_conflict"),
    # the same title, other authors, issue and pages (Embase source string on one side)
    ("depression-id_0052345", "depression-id_0077594", False, False, "citation_conflict"),
    # a meeting abstract in another journal borrows the article's DOI
    ("cardiac-id_0009181", "cardiac-id_0009182", False, None, "doi"),
    # an editorial with the article's title, other authors and pages
    ("cardiac-id_0008019", "cardiac-id_0008020", False, False, "different"),
    # the article and its congress abstract
    ("depression-id_0058127", "depression-id_0078391", False, False, "abstract_vs_article"),
    # MathML subscript against brackets; the journal inside an Embase source string
    ("depression-id_0061449", "depression-id_0061450", True, True, "citation"),
    # the title and its ". Japanese" variant, the journal named two ways
    ("cardiac-id_0001597", "cardiac-id_0006389", True, True, "title_pages"),
    # a Chinese journal abbreviation against its English name
    ("cardiac-id_0004423", "cardiac-id_0007372", True, True, "title_pages"),
    # "English title. Polish\nOriginal title" against the English title alone
    ("cardiac-id_0000370", "cardiac-id_0008888", True, True, "citation"),
    # one article under its old and its new DOI
    ("cardiac-id_0000455", "cardiac-id_0007546", True, True, "doi_alias"),
    # one DOI and citation; the Greek letters of the title lost on one side
    ("cardiac-id_0001786", "cardiac-id_0007015", True, True, "doi"),
    # "Eur J Cardiothorac Surg" and "European Journal of Cardio-Thoracic Surgery"
    ("cardiac-id_0000338", "cardiac-id_0005050", True, True, "doi"),
    # the year in the pages field of one record
    ("depression-id_0002164", "depression-id_0070688", True, True, "title_citation"),
    # one congress abstract under two supplement issues and pages
    ("depression-id_0001528", "depression-id_0070584", True, True, "same_meeting"),
    # an article number ("ec201") against a page
    ("depression-id_0001933", "depression-id_0070663", True, True, "title_issue"),
    # two papers of one series in one issue, one title the start of the other
    ("depression-id_0007702", "depression-id_0007705", False, None, "similar"),
    # "#NAME?" left by a spreadsheet for both titles
    ("depression-id_0014761", "depression-id_0072868", False, None, "citation"),
    # a title cut short by the database ("Simultaneous LTP of non-")
    ("depression-id_0063303", "depression-id_0063304", True, True, "citation"),
    # "Guest Editorial:" before the title on one side
    ("depression-id_0031765", "depression-id_0075394", True, True, "title_citation"),
    # a page number (1517) in the year column: no year, the same issue makes up for it
    ("depression-id_0030884", "depression-id_0030885", True, True, "citation"),
    # a French title and its English translation at one article's pages
    ("depression-id_0005688", "depression-id_0005689", True, True, "translated_title"),
    # other words at one article's pages, which the gold keeps apart: below the title cut
    ("depression-id_0055730", "depression-id_0055733", False, None, "citation"),
    # one DOI digit mistyped (jas.2013-7190 for jas.2014-7190)
    ("depression-id_0024759", "depression-id_0073937", True, True, "doi_alias"),
    # one DOI with and without a leading zero (rnj.027 and rnj.27)
    ("depression-id_0067586", "depression-id_0079503", True, True, "doi_alias"),
    # a journal that changed publisher: 10.1080/ and 10.3109/ before one suffix
    ("depression-id_0014561", "depression-id_0072835", True, True, "doi_alias"),
    # dated by its online (2014) and its issue (2015) publication, one volume and issue
    ("depression-id_0004536", "depression-id_0004537", True, True, "online_first"),
    # Embase's source string without pagination ("mBio.7 (1) (no pagination) 2016...")
    ("depression-id_0018866", "depression-id_0073456", True, True, "title_issue"),
], ids=["two-letters", "other-issue-and-page", "borrowed-doi-for-the-reviewer",
        "editorial-same-title", "article-vs-meeting-abstract", "markup-and-embase-source",
        "language-suffix", "journal-named-two-ways", "original-title-after-translation",
        "two-dois-one-citation", "one-doi-garbled-title", "abbreviation-spans-words",
        "year-as-pages", "same-meeting-two-issues", "article-number-as-page",
        "series-in-one-issue", "spreadsheet-error-titles", "title-cut-short",
        "section-before-title", "page-number-as-year", "translated-title",
        "other-words-same-pages", "doi-digit-mistyped", "doi-leading-zero",
        "doi-new-publisher-prefix", "online-first-same-issue", "embase-no-pagination"])
def test_a_rule_decides_a_real_pair(asysd: dict[str, Entry], a: str, b: str, gold: bool,
                                    same: bool | None, rule: str) -> None:
    verdict = decide(asysd[a], asysd[b])
    assert (verdict.same, verdict.rule) == (same, rule), verdict.why
    # An automatic verdict never contradicts the gold; an uncertain one waits for a person.
    assert verdict.same in (gold, None)


def record(title: str, authors: str, year: int, journal: str, volume: str = "",
           issue: str = "", pages: str = "", doi: str = "") -> Entry:
    return Entry("x", title=title, authors=fold(authors), year=year,
                 journals=journal_names(journal), volume=volume, issue=issue, pages=pages,
                 doi=doi)


def test_annual_updates_differ_by_the_year_in_their_titles() -> None:
    # The POEMS example: Dispenzieri's "2019 update" and "2021 update" (Am J Hematol).
    a = record("POEMS syndrome: 2019 update on diagnosis, risk-stratification, and "
               "management", "Dispenzieri A", 2019, "Am J Hematol", "94", "7", "812-827",
               "10.1002/ajh.25495")
    b = record("POEMS syndrome: 2021 update on diagnosis, risk-stratification, and "
               "management", "Dispenzieri A", 2021, "Am J Hematol", doi="10.1002/ajh.26240")
    assert decide(a, b).rule == "title_numbers"


def test_embase_source_strings_give_the_journal_name() -> None:
    assert journal_names("Journal of Psychopharmacology.25 (7) ()(pp 960-975) 2011.Date of "
                         "Publication: July 2011.") == ("journal of psychopharmacology",)
    assert journal_names("J.Psychopharmacol.") == ("j psychopharmacol",)
    assert journal_names("mBio.7 (1) (no pagination) 2016.Article Number: e02009-15.") == (
        "mbio",)
    # A source string that lost its journal name names none.
    assert journal_names("29 (pp 222-226) 2015.Date of Publication: 01 Jan 2015.") == ()


def test_a_record_without_doi_joins_a_group_holding_an_articles_two_dois(
        asysd: dict[str, Entry]) -> None:
    # id_0072835 (10.3109/...) and id_0014561 (10.1080/...) are one article; id_0072839 has
    # no DOI and the citation of both. The two-DOI group must take it.
    ids = ["depression-id_0014561", "depression-id_0072835", "depression-id_0072839"]
    clustering = find_clusters([asysd[i] for i in ids])
    assert sorted(clustering.clusters.values()) == [[f"asysd:{i}" for i in ids]]


def test_the_whole_title_is_a_blocking_key() -> None:
    # When a title's start and end are shared by too many records to be used as keys, two
    # records with one title still meet.
    entry = record("Antidepressant-like activity of rimonabant in an animal model of "
                   "depression", "Mahesh R", 2010, "Int J Pharma Bio Sci")
    assert ("whole", entry.squeezed) in set(blocking_keys(entry))


def test_dois_alike() -> None:
    assert dois_alike("10.1136/vr.b4796", "10.1136/vf.b4796")
    assert dois_alike("10.1080/15622970903131597", "10.3109/15622970903131597")
    assert dois_alike("10.1002/rnj.027", "10.1002/rnj.27")
    assert not dois_alike("10.1002/ajh.25495", "10.1002/ajh.26240")


def test_a_rule_that_joins_records_has_a_strength() -> None:
    assert strength("pmid") < strength("doi") < strength("title_authors")
    with pytest.raises(ValueError, match="no place in JOINING"):
        Verdict(True, "a_new_rule", "joins records without a rank")
    assert Verdict(None, "a_new_rule", "uncertain verdicts need no rank").rule == "a_new_rule"
