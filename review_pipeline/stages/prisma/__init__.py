"""The prisma stage: the PRISMA 2020 flow (:mod:`.flow`, :mod:`.boxes`), checked, written
(:mod:`.text`), drawn (:mod:`.diagram`), and the search log (:mod:`.search_log`)."""

from review_pipeline.stages.prisma.boxes import Box, Flow, flow
from review_pipeline.stages.prisma.flow import (
    DEFAULT_OUT,
    Branch,
    PrismaCounts,
    as_template,
    check,
    checked_counts,
    counts,
)
from review_pipeline.stages.prisma.previous import Previous, read_previous
from review_pipeline.stages.prisma.search_log import SearchLog, search_log
from review_pipeline.stages.prisma.stage import FILES, PrismaResult, load_previous, run
from review_pipeline.stages.prisma.text import render_markdown, template_csv

__all__ = [
    "DEFAULT_OUT", "FILES", "Box", "Branch", "Flow", "Previous", "PrismaCounts",
    "PrismaResult", "SearchLog", "as_template", "check", "checked_counts", "counts", "flow",
    "load_previous", "read_previous", "render_markdown", "run", "search_log", "template_csv",
]
