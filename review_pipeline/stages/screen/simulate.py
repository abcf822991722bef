"""Simulation: replay a fully labelled set the way a reviewer would meet it in ranked order,
and measure how early the includes came.

The reviewer starts from the prior records, then always screens the top of the current
ranking. The model learns again after every decision while few are known, then after each
further 5% of the decisions made (the ranking of a few thousand records changes little from
one exclude to the next, and refitting after each would make a simulation quadratic); on the
shared sets this costs no accuracy against refitting after every record.

Metrics, as ASReview's and the screening literature's:

* WSS@95, work saved over sampling: the share of records left unread when 95% of the includes
  (rounded up) have been found, minus the 5% that random order would also save;
* recall at 10%: the share of includes found after reading the first 10% (rounded up);
* ATD, average time to discovery: the mean position of the includes, as a share of all.

The priors count as the first records screened in every metric (ASReview's own reports may
leave them out); the benchmark measures both tools' orders with these same functions.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from review_pipeline.files import write_atomic, write_figure
from review_pipeline.formats.labelled import read_labelled
from review_pipeline.model.errors import InputError
from review_pipeline.model.progress import Progress
from review_pipeline.stages.screen.ranking import Document, Ranker

REFIT_SHARE = 0.05


@dataclass(frozen=True)
class Simulation:
    order: list[int]
    """Every row, in the order screened (priors first)."""
    updates: int
    """How many times the model learnt."""
    seconds: float


def simulate(documents: Sequence[Document], included: Sequence[bool],
             priors: Sequence[int] = (), seed: int = 0,
             on_progress: Progress | None = None) -> Simulation:
    """Screen every row of ``documents`` in ranked order, learning from ``included``."""
    start = time.perf_counter()
    ranker = Ranker(documents, seed)
    decisions = {row: bool(included[row]) for row in priors}
    order, updates = list(decisions), 0
    while len(order) < len(documents):
        values = ranker.values(decisions)
        updates += 1
        batch = max(1, int(len(decisions) * REFIT_SHARE))
        for row in ranker.order(decisions, values)[:batch]:
            decisions[row] = bool(included[row])
            order.append(row)
        if on_progress:
            on_progress(len(order), len(documents))
    return Simulation(order, updates, time.perf_counter() - start)


@dataclass(frozen=True)
class Metrics:
    wss95: float
    recall10: float
    atd: float


def found(order: Sequence[int], included: Sequence[bool]) -> list[int]:
    """Includes found after each record screened (entry k: after k + 1 records)."""
    total, out = 0, []
    for row in order:
        total += bool(included[row])
        out.append(total)
    return out


def metrics(order: Sequence[int], included: Sequence[bool]) -> Metrics:
    """WSS@95, recall at 10% and ATD of a screening order of every row."""
    n, curve = len(order), found(order, included)
    total = curve[-1] if curve else 0
    if not total:
        raise ValueError("a labelled set needs at least one include to be measured")
    reach = math.ceil(0.95 * total)
    at95 = next(k for k, c in enumerate(curve, 1) if c >= reach)
    positions = [k for k, row in enumerate(order, 1) if included[row]]
    return Metrics(wss95=(n - at95) / n - 0.05,
                   recall10=curve[math.ceil(0.1 * n) - 1] / total,
                   atd=sum(positions) / len(positions) / n)


@dataclass(frozen=True)
class Replay:
    """``review simulate``: a labelled set replayed, with what it measured."""

    records: int
    includes: int
    priors: list[str]
    order: list[str]
    """Every record id in the order screened."""
    metrics: Metrics
    updates: int
    seconds: float


def replay(path: Path, *, priors: Sequence[str] = (), seed: int = 0,
           order_out: Path | None = None, curve_out: Path | None = None,
           on_progress: Progress | None = None) -> Replay:
    """Simulate screening the labelled set at ``path`` (see :mod:`..formats.labelled`) from the
    ``priors`` (record ids); write the order screened and the recall curve when asked."""
    records = read_labelled(path)
    rows = {r.record_id: i for i, r in enumerate(records)}
    unknown = [p for p in priors if p not in rows]
    if unknown:
        raise InputError(f"prior record {unknown[0]!r} is not in the set", where=str(path),
                         fix="give ids from its record_id column (or id, openalex_id, pmid)")
    included = [r.included for r in records]
    documents = [Document(r.title, r.abstract, r.keywords) for r in records]
    run = simulate(documents, included, [rows[p] for p in dict.fromkeys(priors)], seed,
                   on_progress)
    order = [records[row].record_id for row in run.order]
    if order_out:
        write_atomic(order_out, "".join(f"{line}\n" for line in ["record_id", *order])
                     .encode("utf-8"))
    if curve_out:
        draw_curve(found(run.order, included), path.stem.replace("_", " "), curve_out)
    return Replay(len(records), sum(included), list(dict.fromkeys(priors)), order,
                  metrics(run.order, included), run.updates, run.seconds)


def draw_curve(curve: Sequence[int], title: str, out: Path) -> str:
    """Recall against the share of records screened, beside random order's diagonal (SVG, or
    PNG for a .png name); returns the SVG text."""
    from matplotlib.figure import Figure

    n, total = len(curve), curve[-1]
    fig = Figure(figsize=(6.0, 4.2))
    ax = fig.add_axes((0.11, 0.13, 0.85, 0.78))
    shares = [(k + 1) / n * 100 for k in range(n)]
    ax.plot([0, *shares], [0, *(c / total * 100 for c in curve)], color="#1f4e79", lw=1.6,
            label="ranked order")
    ax.plot([0, 100], [0, 100], color="#8c8c8c", lw=1.0, ls="--", label="random order")
    reach = math.ceil(0.95 * total)
    at95 = next(k for k, c in enumerate(curve, 1) if c >= reach)
    ax.axhline(95, color="#c0c0c0", lw=0.6)
    ax.plot([at95 / n * 100], [reach / total * 100], "o", color="#a61b1b", ms=4)
    ax.annotate(f"95% of includes after {at95:,} of {n:,} records",
                (at95 / n * 100, reach / total * 100), xytext=(8, -16),
                textcoords="offset points", fontsize=8, color="#a61b1b")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 101)
    ax.set_xlabel("records screened (%)")
    ax.set_ylabel("includes found (%)")
    ax.set_title(f"{title}: {total:,} includes in {n:,} records", fontsize=10)
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    png = out.suffix.lower() == ".png"
    return write_figure(fig, None if png else out, out if png else None, salt="recall")
