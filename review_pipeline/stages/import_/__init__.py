"""The import stage: the database exports the protocol lists, read by
:mod:`review_pipeline.formats` and held in the review exactly as listed."""

from review_pipeline.stages.import_.stage import ImportResult, ImportSummary, import_file, run

__all__ = ["ImportResult", "ImportSummary", "import_file", "run"]
