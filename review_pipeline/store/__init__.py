"""The review database (SQLite, through sqlite-utils): the cache the stages build from the
review's files, one module per concern, so every query of a table is found in one file.

- :mod:`.schema`: the tables, their migrations, opening the database;
- :mod:`.records`: batches and records, loaded, removed, and moved between states (the only
  writer of ``records.status``);
- :mod:`.audit`: the append-only audit log.

The names below are what stages use, as ``store.add_batch(db, ...)``.
"""

from review_pipeline.store.audit import ACTOR_SYSTEM, audit, now
from review_pipeline.store.records import (
    add_batch,
    counts_by,
    find_batch,
    insert_row,
    insert_rows,
    make_record_id,
    missing_record,
    move_to,
    note_refused,
    record_from_row,
    remove_batches,
    set_state,
)
from review_pipeline.store.schema import (
    DEFAULT_DB,
    file_of,
    migrations,
    open_db,
    schema_version,
)

__all__ = ["ACTOR_SYSTEM", "DEFAULT_DB", "add_batch", "audit", "counts_by", "file_of",
           "find_batch", "insert_row", "insert_rows", "make_record_id", "migrations",
           "missing_record", "move_to", "note_refused", "now", "open_db", "record_from_row",
           "remove_batches", "schema_version", "set_state"]
