"""`review export`: the records as CSV or RIS, for other tools."""

from __future__ import annotations

import io
import json

from sqlite_utils import Database

from review_pipeline import store
from review_pipeline.formats import ris
from review_pipeline.formats.sheets import csv_dict_writer

EXPORT_COLUMNS = (
    "record_id", "source", "source_record_id", "pmid", "doi", "title", "year", "cluster_id",
    "duplicate_of", "status", "status_reason", "dedup_rule", "branch", "source_file",
    "authors", "journal", "volume", "issue", "pages", "language", "publication_types", "kind",
)


def export_records_csv(db: Database) -> tuple[str, int]:
    """One row per record, duplicates included, with cluster and state (and how many)."""
    out = io.StringIO()
    writer = csv_dict_writer(out, EXPORT_COLUMNS)
    writer.writeheader()
    rows = store.all_records(db, EXPORT_COLUMNS)
    for row in rows:
        for key in ("authors", "publication_types"):
            row[key] = "; ".join(json.loads(row[key] or "[]"))
        writer.writerow(row)
    return out.getvalue(), len(rows)


def export_records_ris(db: Database) -> tuple[str, int]:
    """Every record as RIS (and how many), written so that importing it gives them back."""
    records = [store.record_from_row(row) for row in store.all_records(db)]
    return ris.dumps(records), len(records)
