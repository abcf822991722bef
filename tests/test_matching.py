"""matching: each rule on real record pairs from the labelled benchmark sets
(../shared/data/dedup; fields as the CSV import and dedup read them)."""

from __future__ import annotations

import pytest

from review_pipeline.matching import Entry, decide, journal_names
from review_pipeline.records import fold


def record(title: str, authors: str, year: int, journal: str, volume: str = "",
           issue: str = "", pages: str = "", doi: str = "") -> Entry:
    return Entry("x", title=title, authors=fold(authors), year=year,
                 journals=journal_names(journal), volume=volume, issue=issue, pages=pages,
                 doi=doi)


@pytest.mark.parametrize(("a", "b", "same", "rule"), [
    pytest.param(  # asysd_depression: two Lancet letters under one title, 1969
        record("Metabolic changes in depression", "NisticoG ScapagniniU PreziosiP", 1969,
               "Lancet", "2", "7612", "159"),
        record("Metabolic changes in depression", "CurzonG", 1969, "Lancet", "1", "7588",
               "257"),
        False, "citation_conflict", id="same-title-two-letters"),
    pytest.param(  # asysd_depression: the same two letters, the longer title's pair
        record("Oral contraceptives depression and aminoacid metabolism",
               "GreenA R JosephM H CurzonG", 1970, "Lancet", "1", "7659", "1288"),
        record("Oral contraceptives depression and aminoacid metabolism",
               "RoseD P BraidmanI P", 1970,
               "Lancet.1 (7656) ()(pp 1117-1118) 1970.Date of Publication: 23 May 1970.",
               "1", "7656", "1117-1118"),
        False, "citation_conflict", id="same-title-other-issue-and-page"),
    pytest.param(  # asysd_cardiac: a meeting abstract in another journal borrows the DOI
        record("The effect of transient ischemia with reperfusion on thallium clearance from "
               "the myocardium", "Gewirtz H Maksad A K Most A S", 1980, "Circulation", "61",
               "6", "1091-1097", "10.1161/01.cir.61.6.1091"),
        record("The effect of transient ischemia with reperfusion on thallium clearance from "
               "the myocardium", "Gewirtz H Maksad A Most AS", 1980,
               "American Journal of Cardiology", "45", "2", "480", "10.1161/01.cir.61.6.1091"),
        None, "doi", id="borrowed-doi-other-journal-is-for-the-reviewer"),
    pytest.param(  # asysd_cardiac: an editorial with the article's title, other pages
        record("Acute brain death abolishes the cardioprotective effects of ischemic "
               "preconditioning in the rabbit", "Kirsch M Farhat F Garnier J P Loisance D",
               2000, "Transplantation", "69", "10", "2013-2019",
               "10.1097/00007890-200005270-00007"),
        record("Acute brain death abolishes the cardioprotective effects of ischemic "
               "preconditioning in the rabbit", "Rao V Weisel RD", 2000, "Transplantation",
               "69", "10", "2001-2002"),
        False, "different", id="same-title-other-authors-and-pages"),
    pytest.param(  # asysd_depression: the article and its congress abstract
        record("A rare case of fish odor syndrome presenting as depression",
               "KhanS A ShaguftaK", 2014, "Indian J.Psychiatry", "56", "2", "185-187",
               "10.4103/0019-5545.130505"),
        record("A rare case of fish odor syndrome presenting as depression",
               "Khan ShaguftaS A", 2014, "Indian Journal of Psychiatry.Conference: 66th Annual "
               "National Conference of the Indian Psychiatric Society", "", "var.pagings",
               "S84-S85"),
        False, "abstract_vs_article", id="article-vs-meeting-abstract"),
    pytest.param(  # asysd_depression: MathML subscript against brackets, Embase source
        record("The role of the AMPA receptor and 5-HT(3) receptor on aggressive behavior "
               "and depressive-like symptoms in chronic social isolation-reared mice",
               "ShimizuK KurosawaN SekiK", 2016, "Physiol Behav.", "153", "", "70-83",
               "10.1016/j.physbeh.2015.10.026"),
        record("The role of the AMPA receptor and 5-HT<inf>3</inf> receptor on aggressive "
               "behavior and depressive-like symptoms in chronic social isolation-reared mice",
               "ShimizuK KurosawaN SekiK", 2016,
               "Physiology and Behavior.153 ()(pp 70-83) 2016.Date of Publication: January "
               "01 2016.", "", "", "70-83"),
        True, "title_citation", id="markup-in-title-and-embase-source"),
    pytest.param(  # asysd_cardiac: the title and its ". Japanese" variant, journal two ways
        record("Donor heart preservation", "Hayashi Y Iwasaki M", 2008, "Masui", "57", "1",
               "60-68"),
        record("Donor heart preservation. Japanese", "Hayashi Y Iwasaki M", 2008,
               "Japanese Journal of Anesthesiology", "57", "1", "60-68"),
        True, "title_pages", id="language-suffix-dropped"),
    pytest.param(  # asysd_cardiac: Chinese journal abbreviation against its English name
        record("Effect of ischemic preconditioning on myocardial bcl-2 bax p53 gene "
               "expression during cardiopulmonary bypass", "Xu J M Tan R Hu DX", 2003,
               "Hunan Yi Ke Da Xue Xue Bao", "28", "2", "111-113"),
        record("Effect of ischemic preconditioning on myocardial bcl-2 bax p53 gene "
               "expression during cardiopulmonary bypass", "Xu J M Tan R Hu DX", 2003,
               "Bulletin of Hunan Medical University", "28", "2", "111-113"),
        True, "title_pages", id="journal-named-two-ways-same-page"),
])
def test_a_rule_decides_a_real_pair(a: Entry, b: Entry, same: bool | None,
                                    rule: str) -> None:
    verdict = decide(a, b)
    assert (verdict.same, verdict.rule) == (same, rule), verdict.why


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
