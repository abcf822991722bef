"""The extract stage: reviewers' extraction sheets, validated, compared and loaded into SQLite.

The forms are data (``fields.csv``, see :mod:`.fields`). Each reviewer keeps a copy of every
table in a folder of their own, ``extracted/extraction/<reviewer>/<table>.csv`` (or
``.xlsx``), so two people never edit one file. A study's rows of a table count once as many
reviewers as the protocol's ``[extraction] reviewers`` have filled them; a cell where the
copies differ is a disagreement, which a row of ``consensus.csv`` decides. The final tables
(one SQLite table per form, typed) hold the agreed and decided values: they are what the
report uses.

Loading is all or nothing: every sheet is checked first, every problem is reported with its
file, line, column and value, and only then is the database changed, in one transaction.
Every cell that changed since the last load is appended to the audit log with who and when,
and to ``audit.csv`` beside the sheets, so the trail survives a rebuilt database.
"""

from review_pipeline.stages.extract.fields import Field, load_fields, parse
from review_pipeline.stages.extract.stage import ExtractResult, Merged, run
from review_pipeline.stages.extract.worksheets import (
    SheetResult,
    add_to_consensus,
    compare,
    copy_from_db,
    history,
    summary,
    write_sheets,
)

__all__ = ["ExtractResult", "Field", "Merged", "SheetResult", "add_to_consensus", "compare",
           "copy_from_db", "history", "load_fields", "parse", "run", "summary", "write_sheets"]
