"""The review's own ranking: the order the title/abstract sheets offer records in, and where
screening stands against the protocol's stop rule. Both read the store as the last
``review screen`` left it.

The model (:mod:`.ranking`) learns from every reviewer's title/abstract decisions: a record
counts as relevant when any reviewer included it or said maybe, so that a disagreement
leans towards reading more, unless a resolution decided the conflict. Before there is an
include and an exclude to learn from, the protocol's rule verdicts order the records
(include-verdicts first, exclude-verdicts last).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlite_utils import Database

from review_pipeline import store
from review_pipeline.protocol import Protocol
from review_pipeline.stages.screen.ranking import Document, Ranker
from review_pipeline.stages.screen.stopping import (
    RELEVANT,
    StopState,
    evaluate,
    screening_order,
)
from review_pipeline.store import screening

COLD = {"include": 1.0, "exclude": -1.0}
"""A verdict's place in the cold start; no verdict (none) sits between."""


def ranking(db: Database, seed: int = 0) -> dict[str, int]:
    """Every record put to title/abstract screening -> its place (1 = read first) in the
    ranking the decisions so far give; decided records are ranked too."""
    pool = screening.title_abstract_pool(db)
    if not pool:
        return {}
    ids = [row["record_id"] for row in pool]
    rows = {record_id: i for i, record_id in enumerate(ids)}
    labels = _labels(screening.decisions_at(db, "ta"), rows)
    for record_id, decision in screening.resolutions_at(db, "ta").items():
        if record_id in rows:
            labels[rows[record_id]] = decision in RELEVANT
    ranker = Ranker([_document(row) for row in pool], seed,
                    cold=[COLD.get(row["verdict"] or "", 0.0) for row in pool])
    values = ranker.values(labels)
    return {ids[row]: place for place, row in enumerate(ranker.sort(range(len(ids)), values),
                                                         1)}


def _labels(decisions: Iterable[tuple[str, str, int]], rows: dict[str, int]) -> dict[int, bool]:
    labels: dict[int, bool] = {}
    for record_id, decision, _ in decisions:
        if record_id in rows:
            row = rows[record_id]
            labels[row] = labels.get(row, False) or decision in RELEVANT
    return labels


def _document(row: dict[str, Any]) -> Document:
    record = store.record_from_row(row)
    return Document(record.title, record.abstract, tuple(record.keywords))


def stop_state(db: Database, protocol: Protocol) -> StopState | None:
    """Where title/abstract screening stands against the protocol's stop rule (None when the
    protocol has none)."""
    stop = protocol.screening.stop
    if stop is None:
        return None
    pool = [row["record_id"] for row in screening.title_abstract_pool(db)]
    resolved = {r: d in RELEVANT for r, d in screening.resolutions_at(db, "ta").items()}
    order = screening_order(screening.decisions_at(db, "ta"), pool, resolved)
    return evaluate(stop, [relevant for _, relevant in order], len(pool))
