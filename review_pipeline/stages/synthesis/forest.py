"""Forest and funnel plots of an analysis, as SVG and PNG.

A forest plot has a row per study (its numbers, a square sized by its weight and its 95%
CI), a diamond per pooled estimate with the prediction interval as a bar beneath it, the
heterogeneity line, and for subgroups a block each and the test for their differences.
The layout is in points and drawn on one axes, so the SVG keeps its text as text.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Polygon, Rectangle
from matplotlib.ticker import MaxNLocator

from review_pipeline.files import write_figure
from review_pipeline.model.effects import MEASURES, METHODS
from review_pipeline.stages.synthesis.analysis import Analysis, Pooled
from review_pipeline.stages.synthesis.models import Z

FONT = "DejaVu Sans"
SIZE = 8.0
ROW = 15.0
COLUMNS = {"study": 10.0, "numbers": 215.0, "plot": 305.0, "estimate": 570.0,
           "weight": 715.0}
PLOT_WIDTH = 245.0
WIDTH = 765.0
INK, MUTED, ACCENT = "#1b1b1b", "#6b6b6b", "#1f4e79"
_LOG_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)


def forest(analysis: Analysis, title: str, svg: Path | None = None,
           png: Path | None = None) -> str:
    """Draw the forest plot of ``analysis``; write the files asked for, return the SVG."""
    rows = _rows(analysis)
    height = ROW * (len(rows) + 6)
    fig = Figure(figsize=(WIDTH / 72, height / 72))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0, WIDTH)
    ax.set_ylim(height, 0)
    ax.axis("off")
    scale = _Scale(analysis)
    _text(ax, COLUMNS["study"], ROW, title, weight="bold", size=SIZE + 1.5)
    y = 2.2 * ROW
    for key, text in (("study", "Study"), ("numbers", _numbers_heading(analysis)),
                      ("estimate", f"{MEASURES[analysis.measure].title} [95% CI]"),
                      ("weight", "Weight" if analysis.method != "GLMM" else "")):
        _text(ax, COLUMNS[key], y, text, weight="bold")
    ax.plot([COLUMNS["study"], WIDTH - 10], [y + 5, y + 5], color=INK, lw=0.6)
    y += ROW
    for draw in rows:
        draw(ax, y, scale)
        y += ROW
    scale.axis(ax, y, MEASURES[analysis.measure].title)
    return write_figure(fig, svg, png, salt="forest")


Row = Callable[[Axes, float, "_Scale"], None]


def _rows(analysis: Analysis) -> list[Row]:
    rows: list[Row] = []
    for (group, study_rows), block in zip(analysis.blocks(),
                                          analysis.subgroups or (analysis,), strict=True):
        if analysis.subgroups:
            rows.append(_heading(group))
        rows.extend(_study_row(row, analysis) for row in study_rows)
        if analysis.subgroups:
            rows.extend(_pooled_rows(block, "Subtotal"))
            rows.append(lambda ax, y, s: None)
    rows.extend(_pooled_rows(analysis, "Overall" if analysis.subgroups else "Pooled"))
    if analysis.subgroup_test:
        t = analysis.subgroup_test
        rows.append(lambda ax, y, s: _text(
            ax, COLUMNS["study"], y, f"Test for subgroup differences: Q = {t.statistic:.2f}, "
            f"df = {t.df:g}, {_p(t.p)}", color=MUTED))
    return rows


def _pooled_rows(analysis: Analysis, label: str) -> list[Row]:
    p = analysis.pooled
    model = ("Equal effects" if analysis.method == "EE" else
             "Binomial-normal" if analysis.method == "GLMM" else
             f"Random effects ({analysis.method}{', HK' if analysis.knha else ''})")
    title = label if label == "Subtotal" else f"{label}: {model}"
    rows: list[Row] = [lambda ax, y, s: _diamond(ax, y, s, p, title)]
    if p.pi_low is not None and p.pi_high is not None and p.k > 1:
        low, high = p.pi_low, p.pi_high
        rows.append(lambda ax, y, s: _interval(ax, y, s, low, high, "Prediction interval"))
    if p.k > 1:
        rows.append(lambda ax, y, s: _text(
            ax, COLUMNS["study"] + 8, y, f"Heterogeneity: tau\u00b2 = {p.tau2:.3g}; "
            f"I\u00b2 = {p.i2:.0f}%; Q = {p.q:.2f} (df = {p.k - 1}, {_p(p.q_p)})",
            color=MUTED, size=SIZE - 0.5))
    return rows


def _heading(text: str) -> Row:
    def draw(ax: Axes, y: float, scale: _Scale) -> None:
        _text(ax, COLUMNS["study"], y, text, weight="bold")
    return draw


def _study_row(row: dict[str, Any], analysis: Analysis) -> Row:
    def draw(ax: Axes, y: float, scale: _Scale) -> None:
        _study(ax, y, scale, row, analysis)
    return draw


def _study(ax: Axes, y: float, scale: _Scale, row: dict[str, Any],
           analysis: Analysis) -> None:
    _text(ax, COLUMNS["study"], y, _short(str(row["study"]), 36))
    _text(ax, COLUMNS["numbers"], y, _counts(row, analysis.measure))
    low, estimate, high = (float(row[k]) for k in ("ci_low", "estimate", "ci_high"))
    scale.line(ax, y, low, high)
    weight = row["weight"]
    share = weight / float(np.nanmax(analysis.fit.weights)) if weight else 0.3
    side = 3.0 + 6.0 * math.sqrt(share)
    x = scale.x(estimate)
    if scale.inside(estimate):
        ax.add_patch(Rectangle((x - side / 2, y - side / 2), side, side, color=ACCENT, lw=0))
    _text(ax, COLUMNS["estimate"], y, _interval_text(estimate, low, high))
    if weight is not None:
        _text(ax, COLUMNS["weight"], y, f"{weight:.1f}%")


def _diamond(ax: Axes, y: float, scale: _Scale, p: Pooled, label: str) -> None:
    _text(ax, COLUMNS["study"], y, label, weight="bold")
    _text(ax, COLUMNS["numbers"], y, f"k = {p.k}", weight="bold")
    left, mid, right = (scale.x(v) for v in (p.ci_low, p.estimate, p.ci_high))
    ax.add_patch(Polygon([(left, y), (mid, y - 5), (right, y), (mid, y + 5)], closed=True,
                         color=INK, lw=0))
    _text(ax, COLUMNS["estimate"], y, _interval_text(p.estimate, p.ci_low, p.ci_high),
          weight="bold")


def _interval(ax: Axes, y: float, scale: _Scale, low: float, high: float,
              label: str) -> None:
    _text(ax, COLUMNS["study"] + 8, y, label, color=MUTED, size=SIZE - 0.5)
    scale.line(ax, y, low, high, color=MUTED, ends=True)
    _text(ax, COLUMNS["estimate"], y, f"[{_number(low)}, {_number(high)}]", color=MUTED)


class _Scale:
    """Where a value on the natural scale goes across the plot column: logarithmic for
    ratios, linear otherwise; the range covers the intervals, within sensible limits."""

    def __init__(self, analysis: Analysis) -> None:
        measure = analysis.measure
        self.log = measure in ("RR", "OR") or (measure == "GEN" and analysis.ratio)
        self.proportion = MEASURES[measure].kind == "proportion"
        blocks = (analysis, *analysis.subgroups)
        values = [v for b in blocks for r in b.study_rows() for v in (r["ci_low"],
                                                                      r["ci_high"])]
        values += [v for b in blocks for v in (b.pooled.pi_low, b.pooled.pi_high,
                                               b.pooled.ci_low, b.pooled.ci_high) if v]
        finite = [float(v) for v in values if v is not None and math.isfinite(v)]
        if self.log:
            finite = [v for v in finite if v > 0] or [1.0]
            low, high = max(min(finite), 0.01), min(max(finite), 100.0)
            low, high = min(low, 1.0), max(high, 1.0)
            self.low, self.high = math.log(low) - 0.1, math.log(high) + 0.1
            self.reference: float | None = 1.0
        elif self.proportion:
            self.low, self.high = 0.0, 1.0
            self.reference = None
        else:
            low, high = min([*finite, 0.0]), max([*finite, 0.0])
            pad = (high - low) * 0.05 or 1.0
            self.low, self.high = low - pad, high + pad
            self.reference = 0.0

    def _t(self, value: float) -> float:
        return math.log(value) if self.log else value

    def inside(self, value: float) -> bool:
        if self.log and value <= 0:
            return False
        return self.low <= self._t(value) <= self.high

    def x(self, value: float) -> float:
        if self.log and value <= 0:
            return COLUMNS["plot"]
        t = min(max(self._t(value), self.low), self.high)
        return COLUMNS["plot"] + (t - self.low) / (self.high - self.low) * PLOT_WIDTH

    def line(self, ax: Axes, y: float, low: float, high: float, color: str = INK,
             ends: bool = False) -> None:
        left, right = self.x(low), self.x(high)
        ax.plot([left, right], [y, y], color=color, lw=0.9, solid_capstyle="butt")
        if ends:
            ax.plot([left, left, math.nan, right, right], [y - 3, y + 3, math.nan, y - 3, y + 3],
                    color=color, lw=0.9)

    def axis(self, ax: Axes, y: float, title: str) -> None:
        top = 3.2 * ROW
        if self.reference is not None:
            ax.plot([self.x(self.reference)] * 2, [top, y], color=MUTED, lw=0.6,
                    linestyle=(0, (3, 2)))
        ax.plot([COLUMNS["plot"], COLUMNS["plot"] + PLOT_WIDTH], [y, y], color=INK, lw=0.6)
        if self.log:
            ticks = [t for t in _LOG_TICKS if self.low <= math.log(t) <= self.high]
        else:
            ticks = [float(t) for t in MaxNLocator(6).tick_values(self.low, self.high)
                     if self.low <= t <= self.high]
        for tick in ticks:
            x = self.x(tick)
            ax.plot([x, x], [y, y + 3], color=INK, lw=0.6)
            _text(ax, x, y + 10, _number(tick, 2), size=SIZE - 1, ha="center")
        _text(ax, COLUMNS["plot"] + PLOT_WIDTH / 2, y + 22, title, size=SIZE - 0.5,
              ha="center", color=MUTED)


def funnel(analysis: Analysis, title: str, svg: Path | None = None,
           png: Path | None = None) -> str:
    """The funnel plot: each study's effect (on the pooling scale) against its standard
    error, with the pooled estimate and its pseudo 95% limits."""
    fig = Figure(figsize=(5.5, 4.5))
    ax = fig.add_axes((0.14, 0.12, 0.82, 0.8))
    yi, se = analysis.effects.yi, np.sqrt(analysis.effects.vi)
    top = float(se.max()) * 1.05
    mu = analysis.pooled.mu
    edge = [mu - Z * top, mu, mu + Z * top]
    ax.fill(edge, [top, 0, top], color="#eef2f7", lw=0)
    ax.plot(edge, [top, 0, top], color=MUTED, lw=0.7,
            linestyle=(0, (3, 2)))
    ax.plot([mu, mu], [0, top], color=INK, lw=0.8)
    ax.scatter(yi, se, s=18, color=ACCENT, zorder=3)
    ax.set_ylim(top, 0)
    ax.set_xlabel(MEASURES[analysis.measure].scale, fontsize=SIZE, family=FONT)
    ax.set_ylabel("Standard error", fontsize=SIZE, family=FONT)
    ax.set_title(title, fontsize=SIZE + 1, family=FONT)
    ax.tick_params(labelsize=SIZE - 1)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return write_figure(fig, svg, png, salt="funnel")


def model_text(analysis: Analysis) -> str:
    """The model in words, for a caption."""
    text = f"{METHODS[analysis.method]}; {MEASURES[analysis.measure].scale} scale"
    return text + ("; Hartung-Knapp confidence intervals" if analysis.knha else "")


def _text(ax: Axes, x: float, y: float, text: str, weight: str = "normal",
          size: float = SIZE, color: str = INK, ha: str = "left") -> None:
    ax.text(x, y, text, fontsize=size, family=FONT, weight=weight, color=color, ha=ha,
            va="center")


def _numbers_heading(analysis: Analysis) -> str:
    kind = MEASURES[analysis.measure].kind
    return {"proportion": "Events/Total", "two_arms": "Arm 1      Arm 2"}.get(kind, "SE")


def _counts(row: dict[str, Any], measure: str) -> str:
    kind = MEASURES[measure].kind
    if kind == "proportion":
        return f"{_int(row['events'])}/{_int(row['total'])}"
    if kind == "two_arms":
        return (f"{_int(row['events_1'])}/{_int(row['total_1'])}   "
                f"{_int(row['events_2'])}/{_int(row['total_2'])}")
    return f"{row['se']:.3f}"


def _int(value: float) -> str:
    return f"{float(value):g}"


def _interval_text(estimate: float, low: float, high: float) -> str:
    return f"{_number(estimate)} [{_number(low)}, {_number(high)}]"


def _number(value: float, digits: int = 2) -> str:
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.{digits}f}"


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _short(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "\u2026"
