"""Effect sizes and their sampling variances, as metafor's ``escalc`` computes them, and the
way back from the pooling scale to the natural one.

Zero cells: by metafor's default (``add = 1/2, to = "only0"``), a study with a zero cell gets
1/2 added to each of its cells where the measure needs it: PLO and PR (events 0 or all), RR,
OR and RD (any of the four cells 0); PAS and PFT are defined at 0 and need nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from review_pipeline.model.effects import MEASURES

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Study:
    """One study's numbers for one analysis: ``events``/``total`` of a single arm (or of the
    first arm, with ``events_2``/``total_2`` the second), or an ``estimate`` with its
    ``se`` on the pooling scale (a ratio's logarithm)."""

    label: str
    events: float | None = None
    total: float | None = None
    events_2: float | None = None
    total_2: float | None = None
    estimate: float | None = None
    se: float | None = None
    group: str = ""


@dataclass(frozen=True)
class Effects:
    yi: Array
    vi: Array
    n: Array
    """Each study's sample size (both arms): the harmonic mean back-transforms PFT."""


def effects(studies: Sequence[Study], measure: str) -> Effects:
    """``yi`` and ``vi`` of each study for ``measure`` (a name of :data:`MEASURES`)."""
    with np.errstate(all="ignore"):  # a study that cannot be pooled is named by its caller
        return _effects(studies, measure)


def _effects(studies: Sequence[Study], measure: str) -> Effects:
    kind = MEASURES[measure].kind
    if kind == "generic":
        yi = np.array([s.estimate for s in studies], dtype=float)
        vi = np.array([s.se for s in studies], dtype=float) ** 2
        return Effects(yi, vi, np.full(len(studies), np.nan))
    x = np.array([s.events for s in studies], dtype=float)
    n = np.array([s.total for s in studies], dtype=float)
    if kind == "proportion":
        yi, vi = _proportion(measure, x, n)
        return Effects(yi, vi, n)
    x2 = np.array([s.events_2 for s in studies], dtype=float)
    n2 = np.array([s.total_2 for s in studies], dtype=float)
    yi, vi = _two_arms(measure, x, n, x2, n2)
    return Effects(yi, vi, n + n2)


def _proportion(measure: str, x: Array, n: Array) -> tuple[Array, Array]:
    if measure == "PAS":
        return np.arcsin(np.sqrt(x / n)), 1 / (4 * n)
    if measure == "PFT":
        return (0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1)))),
                1 / (4 * n + 2))
    zero = (x == 0) | (x == n)
    x, n = x + 0.5 * zero, n + 1.0 * zero
    if measure == "PLO":
        return np.log(x / (n - x)), 1 / x + 1 / (n - x)
    p = x / n
    return p, p * (1 - p) / n


def _two_arms(measure: str, a: Array, n1: Array, c: Array,
              n2: Array) -> tuple[Array, Array]:
    zero = (a == 0) | (a == n1) | (c == 0) | (c == n2)
    a, c = a + 0.5 * zero, c + 0.5 * zero
    n1, n2 = n1 + 1.0 * zero, n2 + 1.0 * zero
    b, d = n1 - a, n2 - c
    if measure == "RR":
        return np.log((a / n1) / (c / n2)), 1 / a - 1 / n1 + 1 / c - 1 / n2
    if measure == "OR":
        return np.log(a * d / (b * c)), 1 / a + 1 / b + 1 / c + 1 / d
    p1, p2 = a / n1, c / n2
    return p1 - p2, p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2


def back(measure: str, values: Array, n: Array, ratio: bool = False) -> Array:
    """``values`` on the pooling scale of ``measure`` taken to its natural scale; ``n`` are
    the sample sizes of the studies pooled (PFT uses their harmonic mean) and ``ratio``
    says a generic estimate is a ratio's logarithm."""
    values = np.asarray(values, dtype=float)
    if measure == "PLO":
        return 1 / (1 + np.exp(-values))
    if measure == "PAS":
        return np.where(values < 0, 0.0, np.where(values > np.pi / 2, 1.0,
                                                   np.sin(values) ** 2))
    if measure == "PFT":
        return _ipft(values, float(1 / np.mean(1 / n)))
    if measure in ("RR", "OR") or (measure == "GEN" and ratio):
        return np.exp(values)
    return values


def _ipft(t: Array, n: float) -> Array:
    """The inverse of the Freeman-Tukey transformation for sample size ``n`` (Miller 1978),
    0 and 1 beyond the values a proportion of 0 or 1 takes."""
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.sin(2 * t)
        p = 0.5 * (1 - np.sign(np.cos(2 * t)) * np.sqrt(1 - (s + (s - 1 / s) / n) ** 2))
    low, high = (_proportion("PFT", np.array([x]), np.array([n]))[0][0] for x in (0.0, n))
    return np.where(t > high, 1.0, np.where(t < low, 0.0, p))
