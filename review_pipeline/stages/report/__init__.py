"""The report stage: one self-contained HTML page of the review; study summaries in
:mod:`.summary`."""

from review_pipeline.stages.report.stage import run, to_pdf

__all__ = ["run", "to_pdf"]
