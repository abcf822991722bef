"""The fetch stage: the protocol's PubMed searches, run live through E-utilities
(:mod:`.eutils`), replayed from their raw answers, or read from the offline snapshot."""

from review_pipeline.stages.fetch.stage import (
    FetchResult,
    FetchSummary,
    LiveSettings,
    latest_run,
    run,
    search_log,
    unfinished_run,
)

__all__ = ["FetchResult", "FetchSummary", "LiveSettings", "latest_run", "run", "search_log",
           "unfinished_run"]
