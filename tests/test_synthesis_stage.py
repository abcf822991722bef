"""The synthesis stage on the worked example: each outcome pooled per treatment from the
extraction tables, one study per cohort, reports of a study counted once, forest plots."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from review_pipeline.api import Review
from review_pipeline.model.errors import InputError, ProtocolError
from review_pipeline.stages.synthesis import Study, analyse
from review_pipeline.store import studies as study_store
from tests.conftest import EXAMPLE, EXAMPLE_PARTS, run_stages


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The worked example run up to extraction, once."""
    folder = tmp_path_factory.mktemp("synthesis") / "poems"
    for part in EXAMPLE_PARTS:
        shutil.copytree(EXAMPLE / part, folder / part)
    run_stages(folder)
    return folder


@pytest.fixture
def poems(extracted: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "poems"
    shutil.copytree(extracted, folder)
    return folder


def _synthesis(folder: Path) -> dict[str, Any]:
    with Review(folder) as review:
        review.synthesis()
    found: dict[str, Any] = json.loads(
        (folder / "reports" / "synthesis.json").read_text(encoding="utf-8"))
    return found


def test_each_outcome_is_pooled_per_treatment_where_two_studies_report_it(poems: Path) -> None:
    found = _synthesis(poems)
    assert found["settings"]["method"] == "REML" and found["settings"]["by"] == "arms.line"
    pooled = [a for a in found["analyses"] if a["pooled"]]
    assert [(a["treatment"], a["outcome"]) for a in pooled] == [
        ("ASCT", "Haematological response"), ("ASCT", "Treatment-related death"),
        ("Lenalidomide-based", "Neurological response"),
        ("Lenalidomide-based", "Grade 3-4 adverse events")]
    for a in found["analyses"]:
        assert a["pooled"] == (len(a["studies"]) >= 2)
        assert (a["result"] is not None) == a["pooled"]
    lenalidomide = pooled[2]
    assert [(s["events"], s["total"]) for s in lenalidomide["studies"]] == [(8, 12), (6, 6)]
    alone = analyse([Study("a", 8, 12), Study("b", 6, 6)], "PLO", "REML").pooled
    assert (lenalidomide["result"]["estimate"], lenalidomide["result"]["tau2"]) == (
        pytest.approx(alone.estimate), pytest.approx(alone.tau2))
    for a in pooled:
        assert (poems / "reports" / a["forest"]).is_file()
        assert (poems / "reports" / a["forest"]).with_suffix(".png").is_file()


def test_no_patients_are_pooled_twice(poems: Path) -> None:
    found = _synthesis(poems)
    links = _links(poems)
    for a in found["analyses"]:
        studies = [s["study"] for s in a["studies"]]
        assert len(studies) == len(set(studies))
        assert not set(studies) & {r for r, s in links.items() if s != r}  # no companion
        cohorts = [s["cohort"] for s in a["studies"] if s["cohort"]]
        assert len(cohorts) == len(set(cohorts))
    # two Mayo Clinic transplant series report neurological response: the larger enters
    neuro = next(a for a in found["analyses"] if a["treatment"] == "ASCT"
                 and a["outcome"] == "Neurological response")
    assert [(s["events"], s["total"]) for s in neuro["studies"]] == [(59, 60)]
    [aside] = neuro["set_aside"]
    assert (aside["total"], aside["cohort"], aside["kept"]) == (14, "mayo-asct",
                                                               neuro["studies"][0]["study"])
    assert "which the rule 'largest' keeps" in aside["why"]
    assert not neuro["pooled"]


def _links(folder: Path) -> dict[str, str]:
    with Review(folder) as review:
        return {r: link["study_id"] for r, link in study_store.links(review.db()).items()}


def test_the_overlap_rule_latest_keeps_the_latest_study(poems: Path) -> None:
    protocol = poems / "queries" / "protocol.toml"
    protocol.write_text(protocol.read_text(encoding="utf-8").replace(
        'overlap = "largest"', 'overlap = "latest"'), encoding="utf-8")
    neuro = next(a for a in _synthesis(poems)["analyses"] if a["treatment"] == "ASCT"
                 and a["outcome"] == "Neurological response")
    assert [(s["events"], s["total"]) for s in neuro["studies"]] == [(59, 60)]  # 2015 > 2004
    assert neuro["set_aside"][0]["why"].endswith("which the rule 'latest' keeps")


def test_the_report_shows_the_pooled_estimates_with_their_forest_plots(poems: Path) -> None:
    with Review(poems) as review:
        review.synthesis()
        review.prisma()
        page = review.report().read_text(encoding="utf-8")
    assert "<h3>Pooled estimates</h3>" in page
    assert page.count('<img alt="Forest plot: ') == 4
    assert "Set aside: " in page and "Not pooled (too few studies)" in page


def test_a_forest_plot_no_longer_made_is_removed(poems: Path) -> None:
    _synthesis(poems)
    stale = poems / "reports" / "forest" / "99-gone.svg"
    stale.write_text("<svg/>")
    _synthesis(poems)
    assert not stale.exists()


def test_outcomes_named_in_the_protocol_are_the_only_ones_pooled(poems: Path) -> None:
    protocol = poems / "queries" / "protocol.toml"
    protocol.write_text(protocol.read_text(encoding="utf-8").replace(
        'min_studies = 2', 'min_studies = 2\noutcomes = ["Neurological response"]'),
        encoding="utf-8")
    found = _synthesis(poems)
    assert {a["outcome"] for a in found["analyses"]} == {"Neurological response"}
    assert found["settings"]["outcomes"] == ["Neurological response"]


def test_a_field_the_forms_lack_is_a_clear_error(poems: Path) -> None:
    protocol = poems / "queries" / "protocol.toml"
    protocol.write_text(protocol.read_text(encoding="utf-8").replace(
        'total = "outcomes.evaluable"', 'total = "outcomes.analysed"'), encoding="utf-8")
    with pytest.raises(InputError, match=r"the extraction forms have no field "
                                         r"outcomes\.analysed"):
        _synthesis(poems)


@pytest.mark.parametrize(("setting", "message"), [
    ('measure = "RR"', r"key 'synthesis.measure': expected one of PLO, PFT, PAS, PR"),
    ('measure = "PFT"\nmethod = "GLMM"', r"GLMM\) pools on the logit scale"),
    ('overlap = "first"', r"key 'synthesis.overlap': expected one of largest, latest"),
    ('by = "line"', r"key 'synthesis.by': expected table.field"),
    ("min_studies = 0", r"key 'synthesis.min_studies': expected 1 or more"),
])
def test_a_wrong_synthesis_setting_names_its_key(tmp_path: Path, setting: str,
                                                 message: str) -> None:
    folder = tmp_path / "review"
    shutil.copytree(EXAMPLE / "queries", folder / "queries")
    protocol = folder / "queries" / "protocol.toml"
    text = protocol.read_text(encoding="utf-8")
    start = text.index("[synthesis]")
    end = text.index("[eligibility]")
    protocol.write_text(text[:start] + f"[synthesis]\n{setting}\n\n" + text[end:],
                        encoding="utf-8")
    with pytest.raises(ProtocolError, match=message):
        Review(folder).protocol()


def test_a_review_with_nothing_extracted_writes_an_empty_synthesis(tmp_path: Path) -> None:
    from review_pipeline.init import init_review

    folder = tmp_path / "new"
    init_review(folder, "A new review")
    run_stages(folder)
    found = _synthesis(folder)
    assert found["analyses"] == []


def _own_review(folder: Path, arms: list[tuple[int, str, str, int, int]],
                years: dict[int, int] | None = None, reports: str = "",
                synthesis: str = "") -> dict[str, Any]:
    """A review of one's own (review init's forms), its studies included and extracted by
    both reviewers alike: ``arms`` are (study, arm, treatment, events, total) of the
    outcome "Response"; returns its synthesis.json."""
    from review_pipeline import store
    from review_pipeline.init import init_review
    from review_pipeline.model.record import Record
    from review_pipeline.model.state import State

    init_review(folder, "Own")
    if synthesis:
        protocol = folder / "queries" / "protocol.toml"
        protocol.write_text(protocol.read_text(encoding="utf-8") + f"\n[synthesis]\n{synthesis}\n",
                            encoding="utf-8")
    ids = sorted({a[0] for a in arms})
    with Review(folder) as review:
        db = review.db(create=True)
        with db.atomic():
            store.add_batch(db, [Record(str(i), title=f"Study {i}",
                                        year=(years or {}).get(i)) for i in ids],
                            kind="search", source="pubmed", branch="databases", file="s",
                            sha256="s", fmt="snapshot")
            for i in ids:
                store.move_to(db, f"pubmed:{i}", State.INCLUDED, State.IDENTIFIED)
        arm_rows = "".join(f"pubmed:{i},{arm},{treatment},{total}\n"
                           for i, arm, treatment, _, total in arms)
        outcome_rows = "".join(f"pubmed:{i},{arm},Response,,{events},{total}\n"
                               for i, arm, _, events, total in arms)
        extraction = folder / "extracted" / "extraction"
        for who in ("anna", "ben"):
            (extraction / who).mkdir()
            (extraction / who / "arms.csv").write_text(
                "record_id,arm,treatment,patients\n" + arm_rows)
            (extraction / who / "outcomes.csv").write_text(
                "record_id,arm,outcome,months,events,total\n" + outcome_rows)
        if reports:
            (extraction / "reports.csv").write_text("record_id,study,cohort,note\n" + reports)
        review.extract()
    return _synthesis(folder)


def test_ten_studies_get_a_funnel_plot_and_eggers_test(tmp_path: Path) -> None:
    counts = [(12, 20), (30, 41), (8, 15), (50, 60), (17, 30), (9, 10), (25, 44), (40, 52),
              (6, 13), (21, 27)]
    found = _own_review(tmp_path / "own", [(i, "A", "Drug X", e, n)
                                           for i, (e, n) in enumerate(counts)])
    [analysis] = found["analyses"]
    assert analysis["result"]["k"] == 10 and "egger" in analysis["result"]
    assert (tmp_path / "own" / "reports" / analysis["funnel"]).is_file()


def test_the_overlap_rule_chooses_by_size_or_by_date(tmp_path: Path) -> None:
    """Study 1 is the larger and older, study 2 the smaller and newer, of one cohort."""
    arms = [(1, "A", "Drug X", 30, 50), (2, "A", "Drug X", 10, 20), (3, "A", "Drug X", 5, 9)]
    years = {1: 2005, 2: 2015, 3: 2010}
    cohort = "pubmed:1,,site,\npubmed:2,,site,\n"
    for rule, kept, aside in (("largest", "pubmed:1", "pubmed:2"),
                              ("latest", "pubmed:2", "pubmed:1")):
        [a] = _own_review(tmp_path / rule, arms, years, cohort,
                          f'overlap = "{rule}"')["analyses"]
        assert [s["study"] for s in a["studies"]] == sorted([kept, "pubmed:3"])
        assert [(s["study"], s["kept"]) for s in a["set_aside"]] == [(aside, kept)]


def test_a_study_with_two_arms_of_one_treatment_enters_with_both(tmp_path: Path) -> None:
    arms = [(1, "A", "Drug X", 30, 50), (1, "B", "Drug X", 10, 20), (2, "A", "Drug X", 5, 9),
            (3, "A", "Drug X", 4, 8)]
    [a] = _own_review(tmp_path / "own", arms, reports="pubmed:1,,site,\npubmed:2,,site,\n"
                      )["analyses"]
    assert [(s["study"], s["label"]) for s in a["studies"]] == [
        ("pubmed:1", "Study 1 (A)"), ("pubmed:1", "Study 1 (B)"), ("pubmed:3", "Study 3")]
    assert [s["study"] for s in a["set_aside"]] == ["pubmed:2"]  # never the study itself


def test_numbers_that_are_no_proportion_are_set_aside_with_why(tmp_path: Path) -> None:
    arms = [(1, "A", "Drug X", 3, 10), (2, "A", "Drug X", 0, 0), (3, "A", "Drug X", 4, 8)]
    [a] = _own_review(tmp_path / "own", arms)["analyses"]
    assert [s["study"] for s in a["studies"]] == ["pubmed:1", "pubmed:3"]
    [aside] = a["set_aside"]
    assert aside["study"] == "pubmed:2" and "not a proportion" in aside["why"]
    assert a["pooled"] and a["result"]["k"] == 2


def test_a_model_that_cannot_be_fitted_is_noted_and_the_others_pooled(tmp_path: Path) -> None:
    arms = [(1, "A", "Drug X", 0, 10), (2, "A", "Drug X", 0, 12), (3, "A", "Drug Y", 4, 8),
            (4, "A", "Drug Y", 6, 9)]
    found = _own_review(tmp_path / "own", arms, synthesis='method = "GLMM"')
    x, y = found["analyses"]
    assert not x["pooled"] and "no study has an event" in x["error"]
    assert y["pooled"] and y["result"]["method"] == "GLMM"
    with Review(tmp_path / "own") as review:
        assert review.synthesis().failed == [f"Drug X: Response: {x['error']}"]
