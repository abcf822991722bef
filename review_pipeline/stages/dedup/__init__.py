"""The dedup stage: records of one report linked, never deleted; rules in :mod:`.matching`,
clusters, the reviewer's queue and decisions in :mod:`.stage`."""

from review_pipeline.stages.dedup.matching import Policy
from review_pipeline.stages.dedup.stage import (
    DEFAULT_PREFERENCE,
    DedupResult,
    Explanation,
    Overlap,
    PairDecision,
    choose_kept,
    explain,
    find_clusters,
    load_entries,
    overlap,
    overlap_csv,
    run,
    split,
)

__all__ = ["DEFAULT_PREFERENCE", "DedupResult", "Explanation", "Overlap", "PairDecision",
           "Policy", "choose_kept", "explain", "find_clusters", "load_entries", "overlap",
           "overlap_csv", "run", "split"]
