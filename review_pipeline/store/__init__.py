"""The review database (SQLite, through sqlite-utils): the cache the stages build from the
review's files, one module per concern, so every query of a table is found in one file.

- :mod:`.schema`: the tables, their migrations, opening the database;
- :mod:`.records`: batches and records, loaded, removed, and moved between states (the only
  writer of ``records.status``);
- :mod:`.searches`: search runs and the batches they loaded;
- :mod:`.clusters`: dedup's pairs, runs, clusters and each record's link;
- :mod:`.screening`: rule verdicts, reviewers' decisions, resolutions, stage outcomes;
- :mod:`.extraction`: the forms' fields, every reviewer's cells, the final tables;
- :mod:`.audit_log`: the append-only audit log;
- :mod:`.rows`: inserting rows in bulk.

The names below (records, batches, audit) are what every stage uses, as
``store.add_batch(db, ...)``; a stage imports the module of its own tables.
"""

from review_pipeline.store.audit_log import ACTOR_SYSTEM, audit, audit_many, now
from review_pipeline.store.records import (
    add_batch,
    all_records,
    counts_by,
    find_batch,
    import_batches,
    missing_record,
    move_many,
    move_to,
    note_refused,
    per_source,
    record_from_row,
    record_ids,
    records_at,
    remove_batches,
    set_branches,
    set_reason,
    set_state,
    short_names,
    sources_loaded,
    tally,
)
from review_pipeline.store.rows import insert_rows
from review_pipeline.store.schema import (
    file_of,
    migrations,
    open_db,
    schema_version,
)

__all__ = ["ACTOR_SYSTEM", "add_batch", "all_records", "audit", "audit_many", "counts_by",
           "file_of", "find_batch", "import_batches", "insert_rows", "migrations",
           "missing_record", "move_many", "move_to", "note_refused", "now", "open_db",
           "per_source", "record_from_row", "record_ids", "records_at", "remove_batches",
           "schema_version", "set_branches", "set_reason", "set_state", "short_names",
           "sources_loaded", "tally"]
