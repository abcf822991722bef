"""dedup on bib-dedupe's 25 labelled hard-case pairs, each deduplicated alone."""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest

from review_pipeline.stages.dedup import run as dedup
from review_pipeline.stages.import_ import import_file
from review_pipeline.store import open_db

CASES = json.loads((Path(__file__).parent / "fixtures" / "dedup" / "hard_cases.json")
                   .read_text(encoding="utf-8"))["cases"]


def run_case(case: dict[str, Any]) -> bool:
    """Whether dedup puts the case's two records in one cluster, read from a CSV as the
    benchmark sets are."""
    a, b = dict(case["record_a"], ID="a"), dict(case["record_b"], ID="b")
    columns = list(dict.fromkeys([*a, *b]))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pair.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows([a, b])
        db = open_db(Path(tmp) / "r.db")
        import_file(db, path, source="case", fmt="csv")
        dedup(db, decisions_file=Path(tmp) / "none.csv", queue_file=Path(tmp) / "queue.csv")
        clusters = {r["cluster_id"] for r in db.query("SELECT cluster_id FROM records")}
        db.close()
    return len(clusters) == 1


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_a_hard_case_pair_is_decided_as_labelled(case: dict[str, Any]) -> None:
    assert run_case(case) == case["expected_duplicate"], case["note"]
