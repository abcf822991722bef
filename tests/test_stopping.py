"""The stop rule (its arithmetic on worked numbers, the protocol's [screening.stop], PRISMA's
count of records never screened) and the title/abstract sheets in ranked order."""

from __future__ import annotations

import csv
import re
from math import comb
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from review_pipeline.api import Review
from review_pipeline.model.errors import InputError, ProtocolError
from review_pipeline.protocol import Stop, load_protocol
from review_pipeline.stages.screen.stopping import (
    evaluate,
    hypergeometric_p,
    is_met,
    lower_tail,
    screening_order,
    since_text,
    trailing_excludes,
)
from tests.conftest import run_stages

SCREENING = Path("extracted") / "screening"


# the hypergeometric test, on numbers worked by hand

def test_hypergeometric_p_of_a_small_worked_case() -> None:
    # 3 relevant in 10 screened of 20; target 80%: at least floor(3 / 0.8) + 1 = 4 relevant.
    # The smallest p is the sample of the last 6 (all excluded) from an urn of 16 holding the
    # 1 relevant not yet found: P(none of 6 drawn) = C(15, 6) / C(16, 6) = 10/16.
    labels = [True, True, False, True, False, False, False, False, False, False]
    assert hypergeometric_p(labels, 20, 0.8) == pytest.approx(comb(15, 6) / comb(16, 6))
    assert hypergeometric_p(labels, 20, 0.8) == pytest.approx(0.625)


def test_hypergeometric_p_once_the_rule_is_met() -> None:
    # 40 relevant, then 160 excluded in a row, of 220; target 95%: at least 43 relevant, so 3
    # would be among the 180 = 160 + 20 unscreened; drawing 160 and missing all three:
    # C(177, 160) / C(180, 160) = (20 * 19 * 18) / (180 * 179 * 178).
    labels = [True] * 40 + [False] * 160
    p = hypergeometric_p(labels, 220, 0.95)
    assert p == pytest.approx(20 * 19 * 18 / (180 * 179 * 178))
    state = evaluate(Stop(recall=0.95, confidence=0.95), labels, 220)
    assert state.met and state.p == pytest.approx(p)
    assert state.screened == 200 and state.relevant == 40 and state.run == 160


def test_the_lower_tail_equals_scipys_hypergeometric_cdf() -> None:
    from scipy.stats import hypergeom

    rng = np.random.default_rng(7)
    urn = rng.integers(1, 400, size=500)
    relevant = np.array([rng.integers(0, m + 1) for m in urn])
    drawn = np.array([rng.integers(0, m + 1) for m in urn])
    x = np.array([rng.integers(max(0, d + r - m), min(r, d) + 1)
                  for m, r, d in zip(urn, relevant, drawn, strict=True)])
    assert lower_tail(x, urn, relevant, drawn) == pytest.approx(
        hypergeom.cdf(x, urn, relevant, drawn), abs=1e-9)


def test_hypergeometric_p_at_the_edges() -> None:
    assert hypergeometric_p([], 100, 0.95) == 1.0
    # everything screened: no relevant record can be left, so recall is certain
    assert hypergeometric_p([True, False, False], 3, 0.95) == 0.0


def test_where_the_rule_began_to_hold_and_how_far_it_is() -> None:
    labels = [True] * 40 + [False] * 160
    state = evaluate(Stop(), labels, 220)
    since = state.met_since
    assert since is not None and state.step == 1
    assert is_met(Stop(), labels[:since], 220) and not is_met(Stop(), labels[:since - 1], 220)
    early = evaluate(Stop(), labels[:60], 220)
    assert not early.met and early.met_since is None
    assert re.fullmatch(r"p = 0\.\d{3}; the rule needs p < 0\.05", early.distance)


def test_a_rule_met_then_broken_by_a_relevant_record_counts_from_the_break() -> None:
    stop = Stop(rule="consecutive", consecutive=5)
    labels = [True, *[False] * 5, True, *[False] * 6]
    # met after record 6, broken by the include at 7, met again since record 12
    state = evaluate(stop, labels, 50)
    assert state.met and (state.met_since, state.step) == (12, 1)
    assert not evaluate(stop, labels[:7], 50).met


def test_a_long_order_is_searched_in_steps_and_says_so() -> None:
    labels = [True] * 300 + [False] * 1700
    state = evaluate(Stop(), labels, 2500)
    assert state.met and state.step == 10
    assert since_text(state.met_since, state.step).endswith("(to within 10)")


def test_the_consecutive_rule_counts_excludes_in_a_row() -> None:
    labels = [True, False, True, False, False, False]
    assert trailing_excludes(labels) == 3
    stop = Stop(rule="consecutive", consecutive=5)
    state = evaluate(stop, labels, 100)
    assert not state.met and state.p is None
    assert state.distance == "3 excluded in a row; 2 more needed"
    assert evaluate(stop, [*labels, False, False], 100).met


def test_the_order_screened_is_the_lowest_sheet_line_of_any_reviewer() -> None:
    decisions = [("r1", "exclude", 5), ("r1", "include", 2), ("r2", "maybe", 3),
                 ("r3", "exclude", 3), ("r4", "include", 1)]
    assert screening_order(decisions, ["r1", "r2", "r3"]) == [
        ("r1", True), ("r2", True), ("r3", False)]


# the protocol

def _protocol_with(project: Path, section: str) -> Path:
    path = project / "queries" / "protocol.toml"
    text = path.read_text(encoding="utf-8")
    start = text.index("[screening.stop]")
    end = text.index("[extraction]")
    path.write_text(text[:start] + section + "\n" + text[end:], encoding="utf-8")
    return path


def test_the_example_records_its_stop_rule(project: Path) -> None:
    stop = load_protocol(project / "queries" / "protocol.toml").screening.stop
    assert stop == Stop(rule="hypergeometric", recall=0.95, confidence=0.95, apply=False)
    assert stop.described.startswith("hypergeometric test (Callaghan & Müller-Hansen 2020)")


@pytest.mark.parametrize(("section", "message"), [
    ('[screening.stop]\nrule = "gut feeling"\n', "screening.stop.rule"),
    ("[screening.stop]\nrecall = 1.5\n", "screening.stop.recall': expected a share"),
    ("[screening.stop]\nconsecutive = 0\n", "screening.stop.consecutive"),
    ("[screening.stop]\nwhen = 3\n", "screening.stop.when': unknown key"),
    ('[screening.stop]\nconfidence = "high"\n', "expected a number"),
])
def test_a_bad_stop_rule_is_refused(project: Path, section: str, message: str) -> None:
    path = _protocol_with(project, section)
    with pytest.raises(ProtocolError, match=re.escape(message)):
        load_protocol(path)


def test_a_seed_the_model_cannot_take_is_refused(project: Path) -> None:
    path = project / "queries" / "protocol.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("seed = 0", "seed = -1"),
                    encoding="utf-8")
    with pytest.raises(ProtocolError, match=r"screening\.seed': expected a whole number from 0"):
        load_protocol(path)


# the stage: records never screened, counted in PRISMA

def _leave_unscreened(project: Path, count: int) -> list[str]:
    """Take ``count`` records both reviewers excluded (no full-text row, no resolution) out
    of the title/abstract sheets, from the middle of the ranked order."""
    folder = project / SCREENING
    later = {row["record_id"] for name in ("ft-anna.csv", "ft-ben.csv", "resolutions.csv")
             for row in _rows(folder / name)}
    anna, ben = _rows(folder / "ta-anna.csv"), _rows(folder / "ta-ben.csv")
    excluded_by_ben = {r["record_id"] for r in ben if r["decision"] == "exclude"}
    middle = anna[100:]
    gone = [r["record_id"] for r in middle if r["decision"] == "exclude"
            and r["record_id"] in excluded_by_ben and r["record_id"] not in later][:count]
    for name, rows in (("ta-anna.csv", anna), ("ta-ben.csv", ben)):
        _write_rows(folder / name, [r for r in rows if r["record_id"] not in gone])
    return gone


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _write_rows(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_records_left_when_the_rule_is_met_are_excluded_by_automation(project: Path) -> None:
    gone = _leave_unscreened(project, 20)
    assert len(gone) == 20
    _protocol_with(project, '[screening.stop]\nrule = "consecutive"\nconsecutive = 5\n'
                   'apply = true\n')
    run_stages(project, ("fetch", "import_", "dedup"))
    with Review(project) as review:
        result = review.screen()
        assert result.stop is not None and result.stop.met
        assert result.stop.total - result.stop.screened == 20
        assert result.awaiting["title_abstract"] == 0
        flow = review.prisma(out=project / "reports")
        c = flow.counts
        assert c.records_stopped == 20
        assert c.records_excluded_automation == 20
        assert c.records_excluded_human == c.records_excluded - 20
        assert c.records_screened == 190
        log = (project / "reports" / "search_log.md").read_text(encoding="utf-8")
        assert "Stop rule: 5 excluded records in a row, a heuristic; applied" in log
        assert "Screening stopped after 170 records; 20 never screened" in log
        note = (project / "reports" / "prisma.md").read_text(encoding="utf-8")
        assert ("of which never screened once the stop rule was met (n = 20): 5 excluded "
                "records in a row, a heuristic.") in note
        assert review.status()["stop"]["applied"] is True
        stopped = review.db().execute(
            "SELECT record_id FROM records WHERE status_reason = 'stop rule'").fetchall()
        assert sorted(r[0] for r in stopped) == sorted(gone)
    listed = _rows(project / SCREENING / "stopped.csv")
    assert sorted(r["record_id"] for r in listed) == sorted(gone)
    # Only the records listed when the rule was met are excluded by it: one taken off the
    # list (as a record a later search brought would be missing from it) is to be screened.
    _write_rows(project / SCREENING / "stopped.csv", listed[1:])
    with Review(project) as review:
        assert review.screen().awaiting["title_abstract"] == 1


def test_a_rule_only_reported_leaves_the_records_to_screen(project: Path) -> None:
    _leave_unscreened(project, 20)
    _protocol_with(project, '[screening.stop]\nrule = "consecutive"\nconsecutive = 5\n')
    run_stages(project, ("fetch", "import_", "dedup"))
    with Review(project) as review:
        result = review.screen()
        assert result.stop is not None and result.stop.met
        assert result.awaiting["title_abstract"] == 20
        status = review.status()
        assert status["stop"]["applied"] is False
        assert status["prisma"]["records_excluded_stop_rule"] == 0


def test_the_example_reports_where_the_rule_was_first_met(project: Path) -> None:
    run_stages(project, ("fetch", "import_", "dedup", "screen"))
    with Review(project) as review:
        stop = review.status()["stop"]
        assert stop["screened"] == stop["total"] == 190
        assert stop["met"] and stop["met_since"] < 190
        review.prisma(out=project / "reports")
    log = (project / "reports" / "search_log.md").read_text(encoding="utf-8")
    assert (f"State: every record screened; the rule has held since record "
            f"{stop['met_since']}") in log
    assert "reported only, not applied" in log


# the sheets, in ranked order

def _sheet(project: Path, reviewer: str, stage: str = "ta") -> list[dict[str, str]]:
    with Review(project) as review:
        review.screening_sheet(stage, reviewer)
    return _rows(project / SCREENING / f"{stage}-{reviewer}.csv")


def test_a_new_sheet_offers_likely_includes_first(project: Path) -> None:
    run_stages(project, ("fetch", "import_", "dedup", "screen"))
    rows = _sheet(project, "carol")
    assert [r["rank"] for r in rows] == [str(i) for i in range(1, 191)]
    anna = {r["record_id"]: r["decision"] for r in _rows(project / SCREENING / "ta-anna.csv")}
    places: dict[str, list[int]] = {"include": [], "exclude": []}
    for place, row in enumerate(rows, 1):
        if anna[row["record_id"]] in places:
            places[anna[row["record_id"]]].append(place)
    mean = {k: sum(v) / len(v) for k, v in places.items()}
    assert mean["include"] < mean["exclude"] / 2


def test_the_ranked_sheet_is_the_same_every_time(project: Path) -> None:
    run_stages(project, ("fetch", "import_", "dedup", "screen"))
    first = (_sheet(project, "carol"), _sheet(project, "dave"))
    assert [r["record_id"] for r in first[0]] == [r["record_id"] for r in first[1]]


def test_reordering_keeps_what_the_reviewer_typed(project: Path) -> None:
    run_stages(project, ("fetch", "import_", "dedup", "screen"))
    rows = _sheet(project, "carol")
    rows[40]["decision"], rows[40]["note"] = "include", "typed first"
    rows[7]["decision"] = "exclude"
    rows[100]["note"] = "a note on a row not yet decided"
    rows[120]["record_note"] = "edited info column"
    _write_rows(project / SCREENING / "ta-carol.csv", rows)
    again = _sheet(project, "carol")
    # decided rows go first, as they stand (the order screened), keeping the rank they had
    assert [r["record_id"] for r in again[:2]] == [rows[7]["record_id"], rows[40]["record_id"]]
    assert again[1]["note"] == "typed first" and again[1]["rank"] == "41"
    key = {r["record_id"]: r for r in again}
    assert key[rows[100]["record_id"]]["note"] == "a note on a row not yet decided"
    assert key[rows[120]["record_id"]]["record_note"] == "edited info column"
    assert sorted(r["record_id"] for r in again) == sorted(r["record_id"] for r in rows)
    assert [r["rank"] for r in again[2:]] == [str(i) for i in range(1, 189)]


def test_an_xlsx_sheet_is_ranked_with_numbers(project: Path) -> None:
    run_stages(project, ("fetch", "import_", "dedup", "screen"))
    with Review(project) as review:
        review.screening_sheet("ta", "dora", fmt="xlsx")
    path = project / SCREENING / "ta-dora.xlsx"
    book = openpyxl.load_workbook(path)
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    sheet.cell(row=3, column=header.index("decision") + 1, value="include")
    book.save(path)
    with Review(project) as review:
        review.screening_sheet("ta", "dora", fmt="xlsx")
    again = openpyxl.load_workbook(path).worksheets[0]
    ranks = [row[header.index("rank")] for row in again.iter_rows(min_row=2, values_only=True)]
    assert ranks[0] == 2 and ranks[1:] == list(range(1, len(ranks)))


def test_a_sheet_with_cells_beyond_its_columns_is_not_rewritten(project: Path) -> None:
    run_stages(project, ("fetch", "import_", "dedup", "screen"))
    rows = _sheet(project, "carol")
    path = project / SCREENING / "ta-carol.csv"
    text = path.read_text(encoding="utf-8").splitlines()
    text[3] = text[3].replace(f"{rows[2]['record_id']},,,", f"{rows[2]['record_id']},include,,"
                              "good trial, but small,", 1)
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    before = path.read_bytes()
    with Review(project) as review, pytest.raises(InputError, match="beyond the last column"):
        review.screening_sheet("ta", "carol")
    assert path.read_bytes() == before


def test_full_text_sheets_are_not_ranked(project: Path) -> None:
    run_stages(project, ("fetch", "import_", "dedup", "screen"))
    assert "rank" not in _sheet(project, "carol", "ft")[0]
