"""The synthesis engine agrees with R's metafor 3.8 (numbers kept in
fixtures/synthesis/metafor.json by benchmarks/metafor_oracle.R), handles zero cells as
metafor does, and refuses bad studies by line and column."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from review_pipeline.cli import cli
from review_pipeline.model.errors import AnalysisError, InputError
from review_pipeline.stages.synthesis import Study, analyse
from review_pipeline.stages.synthesis.measures import back, effects
from review_pipeline.stages.synthesis.table import read_studies
from tests.conftest import FIXTURES

DATA = FIXTURES / "synthesis"
ORACLE = json.loads((DATA / "metafor.json").read_text(encoding="utf-8"))
KEYS = ("estimate", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "i2", "h2", "q", "q_p",
        "mu", "se")


def _case_id(case: dict[str, Any]) -> str:
    return "-".join([case["file"].removesuffix(".csv"), case["measure"], case["method"],
                     *(["knha"] if case["knha"] else []), *(["by"] if "by" in case else [])])


def _analysis(case: dict[str, Any]) -> Any:
    ratio = case["file"] == "bcg_ratio_ci.csv"
    table = read_studies(DATA / case["file"], by=case.get("by"), ratio=ratio)
    return analyse(table.studies, case["measure"], case["method"], knha=case["knha"],
                   by_group="by" in case, ratio=ratio)


def _agrees(expected: dict[str, Any], got: dict[str, Any], tolerance: float) -> None:
    for key in KEYS:
        if expected[key] is None:
            assert got[key] is None, key
        else:
            assert got[key] == pytest.approx(expected[key], abs=tolerance), key


@pytest.mark.parametrize("case", ORACLE["cases"], ids=_case_id)
def test_every_measure_and_model_agrees_with_metafor(case: dict[str, Any]) -> None:
    tolerance = 1e-3 if case["method"] == "GLMM" else 1e-4
    analysis = _analysis(case)
    assert analysis.pooled.k == case["k"]
    _agrees(case, analysis.pooled.as_dict(), tolerance)
    for expected, group in zip(case.get("subgroups", []), analysis.subgroups, strict=True):
        assert group.group == expected["group"]
        _agrees(expected, group.pooled.as_dict(), tolerance)
    if "subgroup_test" in case:
        test = analysis.subgroup_test
        assert (test.statistic, test.df) == (pytest.approx(case["subgroup_test"]["q"],
                                                           abs=tolerance),
                                             case["subgroup_test"]["df"])
        assert test.p == pytest.approx(case["subgroup_test"]["p"], abs=tolerance)
    if "leave_one_out" in case:
        for key in ("mu", "tau2", "i2", "q"):
            assert [getattr(p, key) for p in analysis.leave_one_out] == pytest.approx(
                case["leave_one_out"][key], abs=tolerance)
    if "egger" in case:
        assert (analysis.egger.statistic, analysis.egger.p) == pytest.approx(
            (case["egger"]["z"], case["egger"]["p"]), abs=tolerance)


def test_the_oracle_covers_every_measure_and_model() -> None:
    seen = {(c["measure"], c["method"]) for c in ORACLE["cases"]}
    for measure in ("PLO", "PFT", "PAS", "PR"):
        assert {(measure, m) for m in ("EE", "DL", "REML", "ML", "PM")} <= seen
    for measure in ("RR", "OR", "RD"):
        assert {(measure, m) for m in ("EE", "DL", "REML", "ML", "PM")} <= seen
    assert {("PLO", "GLMM"), ("GEN", "REML")} <= seen
    assert ORACLE["metafor"].startswith("3.8")


@pytest.mark.parametrize(("file", "measure", "method", "expected"), [
    # the numbers the issue quotes from metafor's documentation of its data sets
    ("pritz1997.csv", "PLO", "REML", (0.7575, 0.6605, 0.8337, 0.3646, 56.56)),
    ("pritz1997.csv", "PLO", "DL", (0.7573, 0.6606, 0.8334, 0.3616, 56.35)),
    ("pritz1997.csv", "PFT", "DL", (0.8023, 0.7047, 0.8866, 0.0235, 67.95)),
    ("pritz1997.csv", "PLO", "GLMM", (0.7984, 0.6924, 0.8746, 0.5893, 67.79)),
    ("bcg.csv", "RR", "DL", (0.4896, 0.3449, 0.6950, 0.3088, 92.12)),
])
def test_published_results(file: str, measure: str, method: str,
                           expected: tuple[float, ...]) -> None:
    p = analyse(read_studies(DATA / file).studies, measure, method).pooled
    assert (round(p.estimate, 4), round(p.ci_low, 4), round(p.ci_high, 4), round(p.tau2, 4),
            round(p.i2, 2)) == expected


# escalc(measure, xi = c(0, 3, 10), ni = 10) and escalc(ai, n1i, ci, n2i) in metafor 3.8
@pytest.mark.parametrize(("measure", "yi", "vi"), [
    ("PR", (0.04545455, 0.3, 0.9545455), (0.003944403, 0.021, 0.003944403)),
    ("PLO", (-3.044522, -0.8472979, 3.044522), (2.095238, 0.4761905, 2.095238)),
    ("PAS", (0.0, 0.5796397, 1.570796), (0.025, 0.025, 0.025)),
    ("PFT", (0.1531387, 0.598376, 1.417658), (0.02380952, 0.02380952, 0.02380952)),
])
def test_a_proportion_of_none_or_all_gets_a_half_where_the_measure_needs_it(
        measure: str, yi: tuple[float, ...], vi: tuple[float, ...]) -> None:
    found = effects([Study(str(x), x, 10) for x in (0, 3, 10)], measure)
    assert found.yi == pytest.approx(yi, abs=1e-6)
    assert found.vi == pytest.approx(vi, abs=1e-6)


@pytest.mark.parametrize(("measure", "yi", "vi"), [
    # a zero in arm 1, a zero in arm 2, no events in either arm, every patient an event
    ("RR", (-1.778856, 1.776492, 0.1670541, -0.007299302),
     (2.117882, 2.232168, 3.832168, 0.007405927)),
    ("OR", (-2.045994, 1.9951, 0.1743534, -0.1743534), (2.486216, 2.597647, 4.175238, 4.175238)),
    ("RD", (-0.2237762, 0.1888112, 0.006993007, None), (0.01907868, 0.01881023, 0.006789191,
                                                        None)),
])
def test_two_arms_with_a_zero_cell_get_a_half_in_every_cell(
        measure: str, yi: tuple[float | None, ...], vi: tuple[float | None, ...]) -> None:
    studies = [Study("a", 0, 10, 3, 12), Study("b", 2, 10, 0, 12), Study("c", 0, 10, 0, 12),
               Study("d", 10, 10, 12, 12)]
    found = effects(studies, measure)
    for i, (y, v) in enumerate(zip(yi, vi, strict=True)):
        if y is not None:
            assert (found.yi[i], found.vi[i]) == pytest.approx((y, v), abs=1e-6)


def test_freeman_tukey_goes_back_with_the_harmonic_mean_and_stays_within_0_and_1() -> None:
    n = np.array([10.0, 40.0])
    harmonic = 1 / np.mean(1 / n)  # 16
    assert harmonic == 16
    middle = effects([Study("x", 8, 16)], "PFT").yi
    assert back("PFT", middle, n)[0] == pytest.approx(0.5, abs=0.01)
    assert list(back("PFT", np.array([-0.1, 2.0]), n)) == [0.0, 1.0]


def test_a_subgroup_of_one_study_is_that_study() -> None:
    studies = [Study("a", 3, 10, group="x"), Study("b", 5, 12, group="x"),
               Study("c", 7, 9, group="y")]
    result = analyse(studies, "PLO", "REML", by_group=True)
    alone = result.subgroups[1]
    assert (alone.group, alone.pooled.k, alone.pooled.tau2) == ("y", 1, 0.0)
    assert alone.pooled.estimate == pytest.approx(7 / 9)
    assert result.subgroup_test is not None and result.subgroup_test.df == 1


def test_a_model_that_cannot_be_fitted_says_why() -> None:
    with pytest.raises(AnalysisError, match=r"GLMM\) pools proportions on the logit scale"):
        analyse([Study("a", 1, 10, 2, 10)], "RR", "GLMM")
    alone = analyse([Study("a", 1, 10)], "PLO", "GLMM")
    assert alone.pooled.estimate == pytest.approx(0.1)
    assert alone.notes[0] == "a single study: its own estimate, nothing pooled"
    with pytest.raises(AnalysisError, match="unknown method 'XX'"):
        analyse([Study("a", 1, 10)], "PLO", "XX")


def test_meta_prints_json_as_the_issue_asks(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["meta", str(DATA / "zeros_proportions.csv"),
                                      "--by", "group", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    for key in ("k", "measure", "method", "estimate", "ci_low", "ci_high", "pi_low",
                "pi_high", "tau2", "i2", "q", "q_p", "subgroups", "subgroup_test"):
        assert key in out
    assert (out["k"], out["measure"], out["method"]) == (11, "PLO", "REML")
    assert 0 < out["estimate"] < 1 and 0 <= out["i2"] <= 100  # natural scale, percent
    assert [s["group"] for s in out["subgroups"]] == ["first line", "relapsed"]
    assert set(out["subgroup_test"]) == {"q", "df", "p"}
    case = next(c for c in ORACLE["cases"] if c["file"] == "zeros_proportions.csv"
                and c["method"] == "REML" and "by" in c and c["measure"] == "PLO")
    assert out["subgroup_test"]["q"] == pytest.approx(case["subgroup_test"]["q"], abs=1e-4)


@pytest.mark.parametrize(("args", "expected"), [
    (["--measure", "OR"], '"measure": "OR"'),
    (["--method", "dl", "--knha"], '"knha": true'),
])
def test_meta_takes_the_measure_and_method_in_any_case(args: list[str], expected: str) -> None:
    result = CliRunner().invoke(cli, ["meta", str(DATA / "bcg.csv"), *args, "--json"])
    assert result.exit_code == 0, result.output
    assert expected in result.output


def test_meta_draws_the_forest_and_funnel_plots(tmp_path: Path) -> None:
    forest, funnel = tmp_path / "forest.svg", tmp_path / "funnel.png"
    result = CliRunner().invoke(cli, ["meta", str(DATA / "bcg.csv"), "--by", "group",
                                      "--forest", str(forest), "--funnel", str(funnel)])
    assert result.exit_code == 0, result.output
    assert "Test for subgroup differences: Q = 1.8" in result.output
    svg = forest.read_text(encoding="utf-8")
    for text in ("Aronson 1948", "4/123", "Subtotal", "Overall: Random effects (REML)",
                 "Prediction interval", "Test for subgroup differences", "Risk ratio"):
        assert text in svg
    assert funnel.read_bytes().startswith(b"\x89PNG")
    again = tmp_path / "again.svg"
    CliRunner().invoke(cli, ["meta", str(DATA / "bcg.csv"), "--by", "group",
                             "--forest", str(again)])
    assert again.read_bytes() == forest.read_bytes()  # the same studies, the same file


def test_a_funnel_plot_needs_ten_studies(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["meta", str(DATA / "zeros_two_arms.csv"),
                                      "--funnel", str(tmp_path / "f.svg")])
    assert result.exit_code == 1
    assert "a funnel plot needs 10 or more studies" in result.output
    assert not (tmp_path / "f.svg").exists()


@pytest.mark.parametrize(("text", "args", "message"), [
    ("study,events,total\n", [], "no studies: the file has no rows"),
    ("name,events,total\nA,1,2\n", [], "cannot tell the kind of data from the columns"),
    ("study,events,total\nA,1,10\nB,x,10\n", [],
     r"line 3, column events: 'x' is not a number"),
    ("study,events,total\nA,1,10\nB,12,10\n", [],
     r"line 3: study 'B' has events 12 of total 10"),
    ("study,events,total\nA,1.5,10\n", [], "expected whole numbers"),
    ("study,events,total\nA,1,10\n,2,10\n", [], "line 3: no study name"),
    ("study,events,total\nA,1,10\nB,,10\n", [], "study 'B' has no events"),
    ("study,events,total\nA,1,10\n", ["--by", "arm"], "no column 'arm' to group by"),
    ("study,events,total\nA,1,10\nB,2,10\n", ["--measure", "RR"],
     "measure RR needs two arms data, and the file holds proportion data"),
    ("study,estimate\nA,1\n", [], r"needs its standard error \(se\) or its confidence"),
    ("study,estimate,se\nA,0.5,0\nB,0.1,0.2\n", [], "a standard error of 0"),
    ("study,estimate,ci_low,ci_high\nA,0.5,0.6,0.9\n", [],
     "needs se, or ci_low < estimate < ci_high"),
    ("study,estimate,ci_low,ci_high\nA,0,0.1,0.9\n", ["--ratio"], "a ratio is positive"),
    ("study,events,total\nA,inf,10\n", [], "not a finite number"),
])
def test_bad_studies_are_named_by_line_and_column(tmp_path: Path, text: str, args: list[str],
                                                  message: str) -> None:
    path = tmp_path / "studies.csv"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["meta", str(path), *args])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ") and str(path) in result.output
    assert "Traceback" not in result.output
    assert re.search(message, result.output), result.output


def test_a_table_with_every_error_reports_them_together(tmp_path: Path) -> None:
    path = tmp_path / "studies.csv"
    path.write_text("study,events,total\nA,x,10\nB,20,10\nC,1,10\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"2 problem\(s\)") as error:
        read_studies(path)
    assert "line 2" in str(error.value) and "line 3" in str(error.value)


def test_generic_estimates_from_ratios_and_their_intervals() -> None:
    table = read_studies(DATA / "bcg_ratio_ci.csv", ratio=True)
    first = table.studies[0]
    assert first.estimate == pytest.approx(math.log(0.411))
    assert first.se == pytest.approx((math.log(1.257) - math.log(0.134)) / (2 * 1.959964),
                                     abs=1e-6)
    pooled = analyse(table.studies, "GEN", "REML", ratio=True).pooled
    assert 0.3 < pooled.estimate < 0.7  # back on the ratio scale


def test_fisher_scoring_that_stalls_takes_metafors_remedy_and_says_so() -> None:
    """metafor stops with "Fisher scoring algorithm did not converge" on these studies; its
    manual's remedy (stepadj = 0.5) gives the numbers the oracle keeps for them."""
    result = analyse(read_studies(DATA / "fisher_scoring_stalls.csv").studies, "PLO", "REML")
    assert result.pooled.tau2 == pytest.approx(0.7217252, abs=1e-6)
    assert any("stepadj = 0.5" in note for note in result.notes)


def test_rare_events_fit_a_glmm_and_a_leave_one_out_that_cannot_is_noted() -> None:
    rare = [Study("a", 0, 10), Study("b", 0, 12), Study("c", 1, 15), Study("d", 0, 8)]
    result = analyse(rare, "PLO", "GLMM")
    assert 0 < result.pooled.estimate < 0.1
    assert any(n.startswith("no leave-one-out analysis: the binomial-normal model has no "
                            "maximum when no study has an event") for n in result.notes)
    with pytest.raises(AnalysisError, match="every patient of every study has the event"):
        analyse([Study("a", 10, 10), Study("b", 12, 12)], "PLO", "GLMM")


def test_the_subgroup_test_takes_wald_errors_under_hartung_knapp() -> None:
    studies = [Study(str(i), e, n, group=g) for i, (e, n, g) in enumerate(
        [(10, 20, "x"), (11, 20, "x"), (12, 20, "x"), (15, 20, "y"), (16, 20, "y"),
         (18, 20, "y")])]
    wald = analyse(studies, "PLO", "REML", by_group=True).subgroup_test
    knha = analyse(studies, "PLO", "REML", by_group=True, knha=True).subgroup_test
    assert wald is not None and knha is not None
    assert knha.statistic == pytest.approx(wald.statistic)


def test_one_group_is_no_subgroups() -> None:
    result = analyse([Study("a", 3, 10, group="x"), Study("b", 5, 12, group="x")], "PLO",
                     "REML", by_group=True)
    assert result.subgroups == () and result.subgroup_test is None
    assert "one group only (x): no subgroups" in result.notes


def test_effects_too_large_to_pool_are_a_clean_error() -> None:
    with pytest.raises(AnalysisError, match="beyond what a model can take"):
        analyse([Study("a", estimate=1e200, se=1.0), Study("b", estimate=-1e200, se=1.0)],
                "GEN", "REML")


@pytest.mark.parametrize(("text", "message"), [
    ("study,events,total,events\nA,1,10,2\n", "the header names events twice"),
    ("study,events,total\nA,1,10,99\n", "line 2: 4 cells under a header of 3 columns"),
    ("study,events,total\nA," + "9" * 5000 + ",10\n", r"'9{80}\.\.\. \(5,000 characters\)'"),
])
def test_a_malformed_table_is_named_by_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "studies.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message) as error:
        read_studies(path)
    assert len(str(error.value)) < 1000


def test_a_missing_table_says_so(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file") as error:
        read_studies(tmp_path / "none.csv")
    assert "protocol" not in str(error.value)


def test_a_funnel_refused_draws_no_forest_either(tmp_path: Path) -> None:
    forest = tmp_path / "forest.svg"
    result = CliRunner().invoke(cli, ["meta", str(DATA / "zeros_two_arms.csv"), "--forest",
                                      str(forest), "--funnel", str(tmp_path / "f.svg")])
    assert result.exit_code == 1 and not forest.exists()
