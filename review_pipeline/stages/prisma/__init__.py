"""The prisma stage: the PRISMA 2020 flow (:mod:`.flow`, :mod:`.boxes`), checked, written
(:mod:`.text`), drawn (:mod:`.diagram`), and the search log (:mod:`.search_log`)."""

from review_pipeline.stages.prisma.boxes import flow
from review_pipeline.stages.prisma.flow import (
    DEFAULT_OUT,
    Branch,
    PrismaCounts,
    as_template,
    check,
    checked_counts,
    counts,
)
from review_pipeline.stages.prisma.search_log import SearchLog, search_log
from review_pipeline.stages.prisma.stage import FILES, PrismaResult, load_previous, run

__all__ = ["DEFAULT_OUT", "FILES", "Branch", "PrismaCounts", "PrismaResult", "SearchLog",
           "as_template", "check", "checked_counts", "counts", "flow", "load_previous", "run",
           "search_log"]
