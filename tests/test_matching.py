"""matching: each rule on real record pairs of the labelled ASySD sets.

``fixtures/dedup/asysd_pairs.csv`` holds the rows (abstract and URL left out), with their ids
prefixed by their set; they are read by the CSV import and dedup's own loader, as the
benchmark reads them. ``gold`` is whether merged_record_ids.csv puts the two in one cluster.
"""

from __future__ import annotations

import csv
from dataclasses import replace

import pytest

from review_pipeline.model.record import fold
from review_pipeline.stages.dedup import find_clusters, load_entries
from review_pipeline.stages.dedup.matching import (
    POLICY_JOINS,
    SIDE_CAP,
    Entry,
    Policy,
    Verdict,
    author_similarity,
    blocking_keys,
    compare,
    decide,
    dois_alike,
    journal_names,
    journals_match,
    leading_journals,
    strength,
    title_similarity,
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
    # a French title and its English translation at one article's pages: gold sets disagree
    # on such pairs (depression id_0013378 and id_0013380 are kept apart), so a person decides
    ("depression-id_0005688", "depression-id_0005689", True, None, "citation"),
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
    # "13 (2) (no pagination)" in the volume, the article number e0192222 in the issue
    ("neuroimaging-id_0000020", "neuroimaging-id_0002041", True, True, "citation"),
    # the year (2015) in one volume column; pages "Sep-13" and "09-Sep" made by a spreadsheet
    ("depression-id_0006344", "depression-id_0071654", True, True, "title_citation"),
    # pages "Oct-17" and issue "01-Feb" on both: ranges a spreadsheet read as dates
    ("depression-id_0006362", "depression-id_0006363", True, True, "citation"),
    # first pages 207 and 208 of two ranges ending on page 218: a typing slip
    ("depression-id_0007681", "depression-id_0007682", True, True, "citation"),
    # first pages 81 and 18 of two ranges ending on page 87: two digits swapped
    ("depression-id_0008225", "depression-id_0072013", True, True, "citation"),
    # PeerJ: the year as the volume and the volume as the issue
    ("depression-id_0011816", "depression-id_0072520", True, True, "title_citation"),
    # a Russian journal's year (2015) as its volume, its name in two romanisations; the
    # title in brackets
    ("depression-id_0004479", "depression-id_0071077", True, True, "title_citation"),
    # "85 Suppl 6" in the volume against volume 85, issue "SUPPL. 6"; a German title's
    # two English translations, for the reviewer
    ("cardiac-id_0000528", "cardiac-id_0008637", True, None, "citation"),
    # "10 (2)" and "10 (S2)": one supplement issue written two ways
    ("cardiac-id_0006122", "cardiac-id_0006133", True, True, "title_citation"),
    # pages 79-91 against "Jan-13": a date read back as pages agrees, never disagrees
    ("depression-id_0048194", "depression-id_0076977", True, True, "title_citation"),
    # "London England : 1953" in the issue column: a journal's place and year, no issue
    ("depression-id_0045399", "depression-id_0076594", True, True, "title_citation"),
    # authors run together ("Cicek F. A.Tokcaer-Keskin Z."), and on one side with given and
    # family names swapped ("Amber C. F.Zeynep T. K.")
    ("diabetes-id_0000035", "diabetes-id_0000476", True, True, "doi"),
    # two abstracts of one group on neighbouring supplement pages (A135, A134), one DOI
    ("diabetes-id_0000453", "diabetes-id_0001198", False, False, "citation_conflict"),
    # "Erratum: <the article's title>" and the article: a notice is not its article
    ("cardiac-id_0002699", "cardiac-id_0005656", False, False, "notice"),
    # one title, two papers of one group in one year at other pages
    ("cardiac-id_0001357", "cardiac-id_0001797", False, False, "citation_conflict"),
    # one DOI and title; "Zh Nevrol Psikhiatr Im S S Korsakova" and "Zhurnal nevrologii i
    # psihiatrii imeni S S" (two romanisations, the name cut short)
    ("diabetes-id_0000188", "diabetes-id_0000291", True, True, "doi"),
    # one meeting abstract under "Circulation. Conference: ..." and under "Circulation" alone,
    # in one supplement with no pages
    ("diabetes-id_0000305", "diabetes-id_0001046", True, True, "abstract_listed_twice"),
    # "Preface" by one author in one issue at pages xiii-xv, one with the DOI
    ("neuroimaging-id_0001274", "neuroimaging-id_0002950", True, True, "generic_citation"),
    # "Consequences of brief ischemia: ..., Part 1" and "Part 2" in two issues of Circulation
    ("cardiac-id_0002075", "cardiac-id_0002076", False, False, "companion"),
    # "delta1-" and "kappa-" lost from one title (similarity 86) at one citation
    ("cardiac-id_0003543", "cardiac-id_0008376", True, True, "citation"),
    # a Lancet letter (1974) and the authors' next letter under its title (1975)
    ("depression-id_0044362", "depression-id_0068853", False, False, "generic_title"),
], ids=["two-letters", "other-issue-and-page", "borrowed-doi-for-the-reviewer",
        "editorial-same-title", "article-vs-meeting-abstract", "markup-and-embase-source",
        "language-suffix", "journal-named-two-ways", "original-title-after-translation",
        "two-dois-one-citation", "one-doi-garbled-title", "abbreviation-spans-words",
        "year-as-pages", "same-meeting-two-issues", "article-number-as-page",
        "series-in-one-issue", "spreadsheet-error-titles", "title-cut-short",
        "section-before-title", "page-number-as-year", "translated-title-for-the-reviewer",
        "other-words-same-pages", "doi-digit-mistyped", "doi-leading-zero",
        "doi-new-publisher-prefix", "online-first-same-issue", "embase-no-pagination",
        "article-number-in-issue", "year-as-volume-and-date-pages", "ranges-read-as-dates",
        "first-page-typo", "first-page-digits-swapped", "peerj-year-volume-issue",
        "year-as-volume-bracketed-title", "supplement-in-volume", "supplement-two-ways",
        "date-pages-never-clash", "place-and-year-as-issue", "glued-and-swapped-authors",
        "supplement-doi-two-abstracts", "erratum-and-its-article", "one-title-two-papers",
        "journal-transliterated-and-cut", "abstract-with-and-without-its-meeting",
        "generic-title-one-issue", "part-1-and-part-2", "greek-letters-lost",
        "letter-a-year-on"])
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


def test_a_containers_doi_on_two_pages_is_no_evidence(asysd: dict[str, Entry]) -> None:
    # The shared sets hold no such pair, so this one is made from a real abstract of a
    # supplement (diabetes id_0000453): a second item under its title and the supplement's
    # DOI, on another page, by other authors (a debate's reply, a series' next abstract).
    real = asysd["diabetes-id_0000453"]
    other = replace(real, pages="A137", authors="nakamura k sato t suzuki h",
                    author_list=("nakamura k", "sato t", "suzuki h"))
    verdict = decide(real, other)
    assert verdict.same is False, verdict.why
    # The same title and authors on two pages under one DOI is one abstract listed twice.
    assert decide(real, replace(real, pages="A136")).same is True


def test_the_same_supplement_citation_and_doi_need_the_same_author_list(
        asysd: dict[str, Entry]) -> None:
    # Two abstracts on one supplement page share the page and the supplement's DOI; the
    # titles differ, and one list of authors is inside the other. Made from the real
    # abstract diabetes id_0000453, whose authors the shorter list takes.
    real = asysd["diabetes-id_0000453"]
    other = replace(real, title="Dipeptidyl peptidase-4 inhibition and vascular "
                    "inflammation in diabetic mice: a follow-up study of teneligliptin",
                    authors=" ".join(real.author_list[:2]), author_list=real.author_list[:2])
    assert real.doi and other.doi == real.doi and other.page == real.page
    assert decide(real, other).same is not True


def test_a_record_without_title_needs_its_citation_to_join_on_a_doi(
        asysd: dict[str, Entry]) -> None:
    # diabetes id_0000035 with its title lost (the shared sets hold no such pair).
    real = asysd["diabetes-id_0000035"]
    untitled = replace(real, title="")
    assert decide(real, untitled).same is True
    moved = replace(untitled, volume="", pages="")
    verdict = decide(real, moved)
    assert (verdict.same, verdict.rule) == (None, "doi"), verdict.why


def test_a_title_without_its_subtitle_joins_at_one_citation(asysd: dict[str, Entry]) -> None:
    # "MRI during radiotherapy of glioblastoma" with and without ": Does MRI allow for
    # prognostic stratification?" (neuroimaging; one DOI and journal, taken off here so that
    # the title and first page have to decide).
    full, cut = asysd["neuroimaging-id_0000332"], asysd["neuroimaging-id_0001661"]
    verdict = decide(replace(full, doi=""), replace(cut, doi="", journals=()))
    assert (verdict.same, verdict.rule) == (True, "title_variant"), verdict.why
    # At other pages, one main title is two papers ("Mechanisms of ischemic
    # preconditioning" in Shock and in an Italian journal, cardiac).
    assert decide(asysd["cardiac-id_0001357"], asysd["cardiac-id_0001797"]).same is False


@pytest.mark.parametrize(("a", "b", "policy", "joined"), [
    # The gold sets disagree here: cardiac keeps an erratum apart, depression joins it.
    ("cardiac-id_0002699", "cardiac-id_0005656", Policy(errata=True), True),
    ("depression-id_0030800", "depression-id_0032809", Policy(errata=True), True),
    ("depression-id_0030800", "depression-id_0032809", Policy(), False),
    # a congress abstract and the article it became (depression)
    ("depression-id_0058127", "depression-id_0078391", Policy(abstracts=True), True),
    ("depression-id_0058127", "depression-id_0078391", Policy(errata=True), False),
], ids=["erratum-cardiac", "erratum-depression", "erratum-by-default",
        "abstract-and-article", "abstract-under-another-policy"])
def test_a_policy_joins_what_it_names_and_nothing_else(
        asysd: dict[str, Entry], a: str, b: str, policy: Policy, joined: bool) -> None:
    verdict = decide(asysd[a], asysd[b], policy=policy)
    assert verdict.same is joined, verdict.why
    if joined:
        assert verdict.rule in POLICY_JOINS


def test_one_first_page_in_two_volumes_a_year_apart_is_two_papers(
        asysd: dict[str, Entry]) -> None:
    # Made from a real paper (cardiac id_0001357, Gattullo et al. 1997, pages 288-296): the
    # group's next paper a year on, in the next volume, also starting on page 288, its title
    # one word apart. Same authors and first page join only within a year's one volume.
    real = asysd["cardiac-id_0001357"]
    later = replace(real, title=real.title.replace("relation with", "relation to"),
                    year=(real.year or 0) + 1,
                    volume=str(int(real.volume_n) + 1) if real.volume_n else "2")
    assert decide(real, later).same is not True
    assert decide(real, replace(later, year=real.year, volume=real.volume)).same is True


def test_versions_of_a_review_join_only_by_the_policy(asysd: dict[str, Entry]) -> None:
    # The shared sets hold no review published twice under one title; this one is made
    # from a real review (cardiac id_0001797, "Mechanisms of ischemic preconditioning"),
    # renamed as a review and moved two years on, with its own DOI and pages.
    real = asysd["cardiac-id_0001797"]
    review = replace(real, title="Mechanisms of ischemic preconditioning: a review")
    later = replace(review, year=(real.year or 0) + 2, doi="10.1097/shk.0000000000000001",
                    volume="10", pages="1-9")
    assert decide(review, later).same is not True
    verdict = decide(review, later, policy=Policy(reviews=True))
    assert (verdict.same, verdict.rule) == (True, "review_versions"), verdict.why
    # A paper that is not a review stays apart under that policy.
    paper = replace(later, title=real.title)
    assert decide(real, paper, policy=Policy(reviews=True)).same is not True


def test_a_policys_join_is_named_in_the_rules_of_the_run() -> None:
    assert Policy().describe() == ("preprints same; errata different; abstracts different; "
                                   "review versions different")
    assert "errata same" in Policy(errata=True).describe()


@pytest.mark.parametrize(("title", "notice", "key"), [
    ("Erratum: Preconditioning by toll-like receptor 2 agonist Pam3CSK4 reduces "
     "CXCL1-dependent leukocyte recruitment", "erratum",
     "preconditioning by toll like receptor 2 agonist pam3csk4 reduces cxcl1 dependent "
     "leukocyte recruitment"),
    ("Erratum to: Feasibility of focal cerebral ischemia and reperfusion surgery in "
     "rats", "erratum", "feasibility of focal cerebral ischemia and reperfusion surgery in rats"),
    ("Retraction note: Gamma oscillation in functional brain networks", "retraction",
     "gamma oscillation in functional brain networks"),
    ("Variant of Rett syndrome and CDKL5 gene: clinical and autonomic description of 10 "
     "cases.[Erratum appears in Neuropediatrics. 2013 Aug;44(4):237]", "",
     "variant of rett syndrome and cdkl5 gene clinical and autonomic description of 10 cases"),
    ("FROM THE COVER: Chronic stress and the hippocampus", "",
     "chronic stress and the hippocampus"),
    # sra_tafenoquine rec_127, listed elsewhere without its section label
    ("Short report: Tafenoquine for the treatment of recurrent Plasmodium vivax malaria", "",
     "tafenoquine for the treatment of recurrent plasmodium vivax malaria"),
    ("Antibiotics for acute otitis media in children - ART. NO. CD000219.PUB3", "",
     "antibiotics for acute otitis media in children"),
    ("Erratum", "", "erratum"),
])
def test_labels_and_notes_around_a_title_are_not_the_title(title: str, notice: str,
                                                            key: str) -> None:
    entry = Entry("x", title=title)
    assert (entry.notice, entry.title_key) == (notice, key)


def test_a_title_field_may_hold_two_languages_or_a_title_and_subtitle() -> None:
    parts = Entry("x", title="Utilidad de los antimicrobianos en la sinusitis aguda; Are "
                  "antimicrobials useful in acute sinusitis?").parts
    assert parts[:2] == ("utilidaddelosantimicrobianosenlasinusitisaguda",
                         "areantimicrobialsusefulinacutesinusitis")
    parts = Entry("x", title="Work conditions of nurses in intensive care units "
                  "[Arbeitsbedingungen von Pflegekraften auf Intensivstationen]").parts
    assert parts == ("workconditionsofnursesinintensivecareunits",
                     "arbeitsbedingungenvonpflegekraftenaufintensivstationen")
    assert Entry("x", title="POEMS syndrome: a review").parts == ()


def test_swapped_names_agree_by_their_letters_and_short_initials_prove_nothing(
        asysd: dict[str, Entry]) -> None:
    # diabetes id_0000035 ("Cicek F. A.Tokcaer-Keskin Z. ...") and id_0000476 ("Amber C.
    # F.Zeynep T. K. ...", given and family names swapped).
    assert (author_similarity(asysd["diabetes-id_0000035"], asysd["diabetes-id_0000476"])
            or 0) >= 90
    names = ("zhang l", "wang y", "chen x"), ("zhao l", "wei y", "cai x")
    a, b = (Entry(n[0], authors=" ".join(n), author_list=n) for n in names)
    assert (author_similarity(a, b) or 0) < 80  # below every rule's authors cut


def test_records_with_a_title_and_an_abstract_only_join_on_both() -> None:
    with (FIXTURES / "dedup" / "nagtegaal_pairs.csv").open(encoding="utf-8") as handle:
        rows = {r["record_id"]: r for r in csv.DictReader(handle)}
    entries = {i: Entry(i, title=r["title"], abstract=fold(r["abstract"])[:3_000])
               for i, r in rows.items()}
    for a, b in (("169", "168"), ("1397", "1396")):
        verdict = decide(entries[a], entries[b])
        assert (verdict.same, verdict.rule) == (True, "title_abstract"), verdict.why
    # One title with and without its subtitle (": A Systematic Review") and one abstract:
    # with no citation to show it is one report, a person decides.
    verdict = decide(entries["1895"], entries["1896"])
    assert (verdict.same, verdict.rule) == (None, "similar"), verdict.why
    # "No abstract available" is no evidence: a person decides.
    bare = {i: replace(e, abstract="no abstract available") for i, e in entries.items()}
    assert decide(bare["169"], bare["168"]).same is None


def test_a_short_word_in_brackets_closing_a_title_is_not_cut_away() -> None:
    pro = Entry("x", title="Should every patient with heart failure receive an implantable "
                "defibrillator? (PRO)")
    plain = Entry("y", title="Should every patient with heart failure receive an "
                  "implantable defibrillator?")
    con = Entry("z", title=pro.title.replace("(PRO)", "(CON)"))
    assert (pro.qualifier, con.qualifier) == ("pro", "con")
    assert title_similarity(pro, plain) <= SIDE_CAP
    assert title_similarity(pro, con) <= SIDE_CAP
    # A language or a formula in brackets is no side.
    assert Entry("x", title="Coptidis rhizoma and its constituents (Japanese)").qualifier == ""


def test_a_yearly_item_under_one_title_has_a_dated_doi_each_year() -> None:
    # bibdedupe_hard_cases' special set, id_0000003 and id_0000004: the same minitrack's
    # introduction at HICSS 2021 and 2022. Two items, not one for a person to decide.
    def intro(year: int, doi: str) -> Entry:
        return Entry(f"hicss-{year}", kind="conference_abstract", title="Introduction to the "
                     "Minitrack on Crowdsourcing and Digital Workforce in the Gig Economy",
                     authors="deng x taylor j moussawi s", year=year, doi=doi,
                     journals=journal_names("Proceedings of the Annual Hawaii International "
                                            "Conference on System Sciences"))
    verdict = decide(intro(2021, "10.24251/hicss.2021.510"),
                     intro(2022, "10.24251/hicss.2022.544"))
    assert (verdict.same, verdict.rule) == (False, "doi_conflict"), verdict.why


def test_only_vetoes_of_records_that_look_alike_are_kept() -> None:
    # Two papers on one page of one year are a candidate pair; their different DOIs veto it,
    # but nobody asks why they were kept apart, so the verdict is not kept. The same DOI on
    # two titles, or two DOIs on nearly one title, is worth an explanation.
    entries = [replace(record(title, "Smith J", 2011, "Circulation", "124", "", pages, doi),
                       record_id=rid) for rid, title, pages, doi in (
        ("a", "Statin therapy after cardiac surgery in older adults", "2145-54", "10.1/a"),
        ("b", "Atrial fibrillation burden and stroke: a cohort study", "2145-54", "10.1/b"),
        ("c", "Atrial fibrillation burden and stroke: a cohort", "2160-66", "10.1/c"),
        ("d", "Supplement abstracts of the annual meeting", "2145", "10.1/a"))]
    kept = {(a.record_id, b.record_id): v.rule for a, b, v in compare(entries)}
    assert decide(entries[0], entries[1]).rule == "doi_conflict"
    assert kept == {("a", "d"): "borrowed_doi", ("b", "c"): "doi_conflict"}


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


def test_journal_names_that_survive_romanisation_damage_and_renaming() -> None:
    assert journals_match("zh nevrol psikhiatr im s s korsakova",
                          "zhurnal nevrologii i psihiatrii imeni s s korsakova")
    # A letter an encoding lost: the word up to it still abbreviates the word.
    damaged = journal_names("Revista espa?ola de cardiologia")
    assert damaged == ("revista espa de cardiologia",)
    assert journals_match(damaged[0], "revista espanola de cardiologia")
    # One name the start of the other: enough beside one DOI and title, never alone.
    assert leading_journals(("biological reviews",), ("biol rev camb philos soc",))
    assert not leading_journals(("circ res",), ("basic res cardiol",))
    assert not journals_match("biological reviews", "biol rev camb philos soc")


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
