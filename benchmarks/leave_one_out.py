"""Leave one set out: how the dedup cut-offs generalise (part of `make bench-dedup`).

The cut-offs of :class:`~review_pipeline.stages.dedup.matching.Cutoffs` are chosen from a
grid, one at a time around the shipped values, on every shared labelled set but one (see
:func:`choose`).
The set left out is then deduplicated with the chosen cut-offs and scored. Its pairs never
move a cut-off; the shipped values the choice starts from were set with every set in view,
so where the other sets are silent the figure is not fully blind. Choosing on all the sets
at once should give the shipped values.

Pairs are counted pairwise for the choice (a merge of two records the truth keeps apart is
false; in the SRA sets, which flag records without saying which go together, a pair of two
flagged records counts as true); the held-out set is scored by clusters, as the rest of the
benchmark.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.scoring import Score, pairs
from review_pipeline.stages.dedup import find_clusters, load_entries
from review_pipeline.stages.dedup.matching import (
    Cutoffs,
    Entry,
    candidate_pairs,
    decide,
    title_similarity,
)
from review_pipeline.stages.import_ import import_file
from review_pipeline.store import open_db

GRID: dict[str, tuple[float, ...]] = {
    "citation": (85, 88, 90, 92, 95),
    "doi_citation": (40, 50, 60, 70, 80),
    "one_doi": (85, 88, 90, 92, 95),
    "title_citation": (90, 92, 95, 97),
    "title_pages": (75, 80, 85, 88, 90, 92, 95),
}
"""The values tried for each cut-off; the shipped one is among them."""
FLOOR = min(min(values) for values in GRID.values())
NOISE = 2
"""True pairs a looser cut-off must gain, over all the sets it is chosen on, to be taken."""
DISPUTED = Path(__file__).resolve().parent / "disputed_gold.csv"


def disputed() -> dict[str, set[frozenset[str]]]:
    """Pairs of each set whose gold label this project disputes, with the reason in the
    file: they count neither as true nor as false when cut-offs are chosen."""
    out: dict[str, set[frozenset[str]]] = {}
    with DISPUTED.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            out.setdefault(row["set"], set()).add(frozenset((row["id_a"], row["id_b"])))
    return out


@dataclass
class Loaded:
    """One labelled set read by the import stage, with its near pairs and their truth."""

    name: str
    entries: list[Entry]
    source_id: dict[str, str]
    near: list[tuple[Entry, Entry, bool | None]] = field(default_factory=list)
    """Candidate pairs whose titles are alike enough for a cut-off to matter: (a, b, the
    truth: True, False, or None when disputed)."""


def load(name: str, table: Path, truth: Any, disputed_pairs: set[frozenset[str]],
         work: Path) -> Loaded:
    """``truth`` is a scoring callable's view: gold clusters, or the set of flagged ids."""
    db = open_db(work / f"{name}.db")
    import_file(db, table, source=name, fmt="csv")
    entries = load_entries(db)
    source_id = dict(db.execute("SELECT record_id, source_record_id FROM records").fetchall())
    db.close()
    loaded = Loaded(name, entries, source_id)
    gold = pairs(truth) if not isinstance(truth, set) else None
    for i, j in candidate_pairs(entries):
        a, b = entries[i], entries[j]
        if a.squeezed and b.squeezed and title_similarity(a, b) < FLOOR:
            continue
        ids = frozenset((source_id[a.record_id], source_id[b.record_id]))
        if ids in disputed_pairs:
            loaded.near.append((a, b, None))
        elif gold is not None:
            loaded.near.append((a, b, ids in gold))
        else:
            loaded.near.append((a, b, ids <= truth))
    return loaded


def counts(loaded: Loaded, cutoffs: Cutoffs) -> tuple[int, int]:
    """(true pairs merged, false pairs merged) under ``cutoffs``."""
    true = false = 0
    for a, b, truth in loaded.near:
        if truth is not None and decide(a, b, cutoffs=cutoffs).same:
            true += truth
            false += not truth
    return true, false


def tables(sets: Iterable[Loaded]) -> dict[str, dict[tuple[str, float], tuple[int, int]]]:
    """For each set, the counts under each value of each cut-off (the others shipped)."""
    out: dict[str, dict[tuple[str, float], tuple[int, int]]] = {}
    for loaded in sets:
        out[loaded.name] = {(name, value): counts(loaded, dataclasses.replace(
            Cutoffs(), **{name: value})) for name, values in GRID.items() for value in values}
    return out


def choose(table: dict[str, dict[tuple[str, float], tuple[int, int]]],
           using: Iterable[str]) -> Cutoffs:
    """The cut-offs chosen on the sets ``using``: per cut-off, fewest false merges; among
    those, the values that merge as many true pairs as the best but :data:`NOISE`; of these,
    the one nearest the shipped value (the stricter on a tie). A cut moves only when the
    sets show it a gain, and a gain of a pair or two is no evidence."""
    using = list(using)
    shipped = Cutoffs()
    chosen = {}
    for name, values in GRID.items():
        true = {v: sum(table[s][(name, v)][0] for s in using) for v in values}
        false = {v: sum(table[s][(name, v)][1] for s in using) for v in values}
        clean = [v for v in values if false[v] == min(false.values())]
        best = max(true[v] for v in clean)
        prior = float(getattr(shipped, name))

        def nearest(value: float, prior: float = prior) -> tuple[float, float]:
            return abs(value - prior), -value

        chosen[name] = min((v for v in clean if true[v] >= best - NOISE), key=nearest)
    return Cutoffs(**chosen)


def score_clusters(loaded: Loaded, cutoffs: Cutoffs, judge: Any) -> Score:
    found = find_clusters(loaded.entries, cutoffs=cutoffs)
    cluster_of = {loaded.source_id[r]: root for root, members in found.clusters.items()
                  for r in members}
    kept = {loaded.source_id[root] for root in found.clusters}
    result: Score = judge(cluster_of, kept)
    return result


def differs(cutoffs: Cutoffs) -> str:
    """The cut-offs that differ from the shipped ones, or "shipped"."""
    shipped = Cutoffs()
    changed = [f"{f.name} {getattr(cutoffs, f.name):g}" for f in dataclasses.fields(Cutoffs)
               if getattr(cutoffs, f.name) != getattr(shipped, f.name)]
    return ", ".join(changed) or "shipped"
