"""Where a review keeps its files, relative to its folder: the defaults that the stages and
the command line share, written once. It imports nothing, so that the command line can name
its defaults without loading the stages.
"""

from __future__ import annotations

from pathlib import Path

PROTOCOL = Path("queries/protocol.toml")
DB = Path("data/review.db")
"""The database: a cache that `make clean && make all` rebuilds from the files."""
RAW = Path("raw")
"""PubMed's answers, kept by fetch and replayed offline."""
REPORTS = Path("reports")

DEDUP_DECISIONS = Path("extracted/dedup/decisions.csv")
DEDUP_QUEUE = Path("extracted/dedup/queue.csv")
OVERLAP = REPORTS / "overlap.csv"

SCREENING = Path("extracted/screening")
RESOLUTIONS = "resolutions.csv"
STOPPED = "stopped.csv"
"""In the screening folder: the records the stop rule excluded unscreened when it was met and
applied; only these are excluded by it, so records a later search brings are screened."""

EXTRACTION = Path("extracted/extraction")
FIELDS = "fields.csv"
CONSENSUS = "consensus.csv"
AUDIT = "audit.csv"
STUDY_REPORTS = "reports.csv"
"""In the extraction folder: the study each companion report belongs to, and the cohort
each study draws on."""

GRADE = Path("extracted/synthesis/grade.csv")
"""Reviewers' GRADE judgements the report cannot compute: indirectness, publication bias."""
SYNTHESIS = REPORTS / "synthesis.json"
FOREST = REPORTS / "forest"
"""The forest plots, one SVG and one PNG per analysis."""


def quarantine(db: Path) -> Path:
    """Where the records an import refused (``--skip-bad``) are kept, with their text:
    beside the database ``db``."""
    return db.parent / "quarantine"
