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


class Prioritiser:
    """The review's ranking of the records put to title/abstract screening, learnt again on
    demand: from the store's decisions (those of ``apart``, a reviewer whose decisions come
    from elsewhere, left out) and resolutions, and any decisions given on top."""

    def __init__(self, db: Database, seed: int = 0, apart: str | None = None) -> None:
        pool = screening.title_abstract_pool(db)
        self.ids = [row["record_id"] for row in pool]
        self.rows = {record_id: i for i, record_id in enumerate(self.ids)}
        self.labels: dict[int, bool] = {}
        self._add((r, d) for r, d, _ in screening.decisions_at(db, "ta", apart))
        for record_id, decision in screening.resolutions_at(db, "ta").items():
            if record_id in self.rows:
                self.labels[self.rows[record_id]] = decision in RELEVANT
        self.ranker = Ranker([_document(row) for row in pool], seed,
                             cold=[COLD.get(row["verdict"] or "", 0.0) for row in pool]) \
            if pool else None

    def _add(self, decisions: Iterable[tuple[str, str]],
             labels: dict[int, bool] | None = None) -> dict[int, bool]:
        labels = self.labels if labels is None else labels
        for record_id, decision in decisions:
            if record_id in self.rows:
                row = self.rows[record_id]
                labels[row] = labels.get(row, False) or decision in RELEVANT
        return labels

    def places(self, more: Iterable[tuple[str, str]] = ()) -> dict[str, int]:
        """Every record -> its place (1 = read first), with the decisions ``more`` (record,
        decision) added to what the store holds; decided records are ranked too."""
        if self.ranker is None:
            return {}
        labels = self._add(more, dict(self.labels))
        values = self.ranker.values(labels)
        order = self.ranker.sort(range(len(self.ids)), values)
        return {self.ids[row]: place for place, row in enumerate(order, 1)}


def ranking(db: Database, seed: int = 0) -> dict[str, int]:
    """Every record put to title/abstract screening -> its place (1 = read first) in the
    ranking the decisions so far give; decided records are ranked too."""
    return Prioritiser(db, seed).places()


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
