"""When title/abstract screening in ranked order may stop: a rule a review can report.

* ``hypergeometric`` (Callaghan and Müller-Hansen 2020, "Statistical stopping criteria for
  automated screening in systematic reviews", Systematic Reviews 9:273): the hypothesis is
  that recall is still below the target, that is, that at least floor(found / target) + 1
  records are relevant. The last k records screened are treated as a random sample from
  themselves and every record not yet screened; under the hypothesis those hold every
  relevant record not found before the sample, and the hypergeometric distribution gives the
  chance of seeing as few relevant records in the sample as were seen. The smallest such p
  over every k is compared with 1 - confidence: below it, the hypothesis is rejected and
  screening may stop. Ranked order only makes the last records less likely to be relevant
  than a random sample would be, so the test errs on the safe side.
* ``consecutive``: the last N records screened were all excluded; common in practice, but it
  states no recall and no confidence.

The order screened is the order of the reviewers' sheets (decided rows stay at the top in the
order they were decided; the lowest row any reviewer gave a record counts), and a record is
relevant when any reviewer included it or said maybe.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from review_pipeline.model.eligibility import STOPPED
from review_pipeline.protocol import Stop

__all__ = ["RELEVANT", "STOPPED", "StopState", "evaluate", "hypergeometric_p", "is_met",
           "lower_tail", "screening_order", "since_text", "trailing_excludes"]

RELEVANT = ("include", "maybe")
"""Decisions that count a record as relevant for the ranking and the stop rule."""
MAX_CHECKS = 200
"""At most this many points of the order are tested to find where the rule began to hold."""


@dataclass(frozen=True)
class StopState:
    rule: str
    described: str
    """The rule in words, for a methods section."""
    total: int
    """Records put to title/abstract screening."""
    screened: int
    relevant: int
    met: bool
    p: float | None
    """The hypergeometric test's p-value now (None for the consecutive rule)."""
    run: int
    """Excludes in a row at the end of the order."""
    met_since: int | None
    """While the rule holds: the records screened when it began to hold and has held since
    (None when it does not hold, or was not searched for)."""
    step: int
    """How finely ``met_since`` was searched: exactly for 1, else to within this many
    records (at most MAX_CHECKS tests)."""
    distance: str
    """How far the review is from the rule, in words."""


def hypergeometric_p(labels: Sequence[bool], total: int, recall: float) -> float:
    """The smallest p, over every sample of the last k records screened, of the hypothesis
    that recall is below ``recall``; ``labels`` are the records screened, in order (True:
    relevant), ``total`` the records to screen."""
    seen = np.asarray(labels, dtype=int)
    n = len(seen)
    if n == 0:
        return 1.0
    found = int(seen.sum())
    in_sample = np.cumsum(seen[::-1])
    # With as many relevant in the sample, a larger sample only makes p smaller: only the
    # largest sample of each count can hold the minimum (one per relevant record, not n).
    last = np.flatnonzero(np.append(in_sample[1:] != in_sample[:-1], True))
    k, in_sample = last + 1, in_sample[last]
    # Under the hypothesis at least floor(found / recall) + 1 are relevant: ``missing`` more
    # than were found, all in the urn of the sample and the records not yet screened.
    missing = math.floor(found / recall) + 1 - found
    return float(lower_tail(in_sample, k + total - n, in_sample + missing, k).min())


def lower_tail(x: np.ndarray, urn: np.ndarray, relevant: np.ndarray,
               drawn: np.ndarray) -> np.ndarray:
    """P(X <= x) for X hypergeometric: ``drawn`` from ``urn`` holding ``relevant``. Summed
    over the few ways to leave fewer than relevant - x in the undrawn rest (the records not
    yet screened), rather than the many ways to draw at most x; 0 when the urn cannot hold
    them."""
    from scipy.special import gammaln

    rest = urn - drawn
    short = relevant - x
    y = np.arange(int(short.max()) + 1)[:, None]

    def log_comb(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ok = (b >= 0) & (b <= a)
        with np.errstate(invalid="ignore"):
            value = gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1)
        return np.where(ok, value, -np.inf)

    terms = np.exp(log_comb(relevant, y) + log_comb(urn - relevant, rest - y)
                   - log_comb(urn, rest))
    below = np.where(y < short, terms, 0.0).sum(axis=0)
    return np.where(relevant > urn, 0.0, np.clip(1.0 - below, 0.0, 1.0))


def trailing_excludes(labels: Sequence[bool]) -> int:
    run = 0
    for relevant in reversed(labels):
        if relevant:
            break
        run += 1
    return run


def is_met(stop: Stop, labels: Sequence[bool], total: int) -> bool:
    if stop.rule == "consecutive":
        return trailing_excludes(labels) >= stop.consecutive
    return hypergeometric_p(labels, total, stop.recall) < 1 - stop.confidence


def evaluate(stop: Stop, labels: Sequence[bool], total: int,
             first_met: bool = True) -> StopState:
    """Where screening stands against ``stop`` after ``labels`` (the records screened, in
    order; True: relevant) of ``total``."""
    labels = list(labels)
    n, run = len(labels), trailing_excludes(labels)
    p = hypergeometric_p(labels, total, stop.recall) if stop.rule == "hypergeometric" else None
    met = is_met(stop, labels, total)
    since, step = _met_since(stop, labels, total) if met and first_met else (None, 1)
    if met:
        distance = "met"
    elif p is not None:
        distance = f"p = {p:.3f}; the rule needs p < {1 - stop.confidence:.2f}"
    else:
        distance = f"{run} excluded in a row; {stop.consecutive - run} more needed"
    return StopState(stop.rule, stop.described, total, n, sum(labels), met, p, run, since, step,
                     distance)


def since_text(met_since: int | None, step: int) -> str:
    """Where the rule began to hold, in words ("" when it does not hold)."""
    if met_since is None:
        return ""
    return f"record {met_since:,}" + (f" (to within {step})" if step > 1 else "")


def _met_since(stop: Stop, labels: list[bool], total: int) -> tuple[int, int]:
    """Where the rule, holding now, began to hold without a break: exact for the
    consecutive rule, searched backwards in steps for the test."""
    n = len(labels)
    if stop.rule == "consecutive":
        return n - trailing_excludes(labels) + stop.consecutive, 1
    step = max(1, math.ceil(n / MAX_CHECKS))
    since = n
    while since - step >= 1 and is_met(stop, labels[:since - step], total):
        since -= step
    return since, step


def screening_order(decisions: Iterable[tuple[str, str, int]], pool: Iterable[str],
                    resolved: dict[str, bool] | None = None) -> list[tuple[str, bool]]:
    """(record, relevant) of the records of ``pool`` someone has decided, in the order
    screened: by the lowest sheet line any reviewer gave the record, then by id. A record is
    relevant when a reviewer included it or said maybe, unless ``resolved`` (a conflict's
    resolution: relevant or not) says otherwise."""
    keep = set(pool)
    first: dict[str, int] = {}
    relevant: dict[str, bool] = {}
    for record_id, decision, line in decisions:
        if record_id not in keep:
            continue
        first[record_id] = min(line, first.get(record_id, line))
        relevant[record_id] = relevant.get(record_id, False) or decision in RELEVANT
    settled = resolved or {}
    return [(r, settled.get(r, relevant[r])) for r in sorted(first, key=lambda r: (first[r], r))]
