"""The dedup benchmark's three counting conventions, on a case worked by hand."""

from __future__ import annotations

from benchmarks.scoring import score


def test_the_three_conventions_count_as_the_research_note_says() -> None:
    # Gold: {a, b, c} and {d, e} are duplicates, f stands alone. Predicted: {a, b} keeping
    # a, {c}, and {d, e, f} keeping f (so the d/e publication lost every copy).
    cluster_of = {"a": "1", "b": "1", "c": "2", "d": "3", "e": "3", "f": "3"}
    s, false_pairs, missed = score(cluster_of, {"a", "c", "f"},
                                   [["a", "b", "c"], ["d", "e"]])
    # record-level: abc keeps 2 (1 TN, 1 TP, 1 FN); de keeps none (1 FP, 1 TP); f (1 TN)
    assert (s.record_tp, s.record_fn, s.record_fp, s.record_tn) == (2, 1, 1, 2)
    # traditional: a, b, d, e found; c missed; f wrongly in a set
    assert (s.trad_tp, s.trad_fn, s.trad_fp, s.trad_tn) == (4, 1, 1, 0)
    assert (s.pair_tp, s.pair_fp, s.pair_fn) == (2, 2, 2)
    assert false_pairs == {frozenset("df"), frozenset("ef")}
    assert missed == {frozenset("ac"), frozenset("bc")}
    assert round(s.sensitivity, 3) == 0.667 and s.precision == 0.5
