"""Dedup accuracy under the three counting conventions of docs/research/dedup.md, section 4.

* **record-level** (bib-dedupe, ASySD): one record kept per predicted cluster; a gold cluster
  of k records with c kept counts 1 FP and k-1 TP when c = 0, else 1 TN, k-c TP and c-1 FN.
* **traditional** (Rathbone, DedupEndNote): each record is positive when it is in a
  duplicate set, the one kept included.
* **pairwise**: record pairs in one cluster; it does not depend on which record is kept.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations


@dataclass
class Score:
    record_tp: int = 0
    record_fp: int = 0
    record_tn: int = 0
    record_fn: int = 0
    trad_tp: int = 0
    trad_fp: int = 0
    trad_tn: int = 0
    trad_fn: int = 0
    pair_tp: int = 0
    pair_fp: int = 0
    pair_fn: int = 0

    @staticmethod
    def _ratio(a: int, b: int) -> float:
        return a / (a + b) if a + b else 1.0

    @property
    def sensitivity(self) -> float:
        return self._ratio(self.record_tp, self.record_fn)

    @property
    def specificity(self) -> float:
        return self._ratio(self.record_tn, self.record_fp)

    @property
    def trad_sensitivity(self) -> float:
        return self._ratio(self.trad_tp, self.trad_fn)

    @property
    def trad_specificity(self) -> float:
        return self._ratio(self.trad_tn, self.trad_fp)

    @property
    def precision(self) -> float:
        return self._ratio(self.pair_tp, self.pair_fp)

    @property
    def recall(self) -> float:
        return self._ratio(self.pair_tp, self.pair_fn)


def pairs(clusters: Iterable[Iterable[str]]) -> set[frozenset[str]]:
    return {frozenset(p) for members in clusters for p in combinations(sorted(members), 2)}


def score(cluster_of: Mapping[str, str], kept: set[str],
          gold: Iterable[Iterable[str]]) -> tuple[Score, set[frozenset[str]],
                                                  set[frozenset[str]]]:
    """The score of predicted clusters (record → cluster id; ``kept`` the records each
    cluster keeps) against gold clusters (records not listed are singletons), with the
    false-positive and false-negative pairs."""
    gold_clusters = [set(g) for g in gold]
    listed = set().union(*gold_clusters) if gold_clusters else set()
    gold_clusters += [{r} for r in cluster_of if r not in listed]
    predicted: dict[str, set[str]] = defaultdict(set)
    for record, cluster in cluster_of.items():
        predicted[cluster].add(record)
    s = Score()
    for members in gold_clusters:
        c = len(members & kept)
        if c == 0:
            s.record_fp += 1
            s.record_tp += len(members) - 1
        else:
            s.record_tn += 1
            s.record_tp += len(members) - c
            s.record_fn += c - 1
    in_gold_set = {r for g in gold_clusters if len(g) > 1 for r in g}
    in_predicted_set = {r for p in predicted.values() if len(p) > 1 for r in p}
    for record in cluster_of:
        truth, guess = record in in_gold_set, record in in_predicted_set
        s.trad_tp += truth and guess
        s.trad_fn += truth and not guess
        s.trad_fp += guess and not truth
        s.trad_tn += not truth and not guess
    gold_pairs, found = pairs(gold_clusters), pairs(predicted.values())
    s.pair_tp = len(gold_pairs & found)
    s.pair_fp = len(found - gold_pairs)
    s.pair_fn = len(gold_pairs - found)
    return s, found - gold_pairs, gold_pairs - found
