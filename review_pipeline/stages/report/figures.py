"""The risk-of-bias figures robvis made familiar: a traffic-light plot (study by domain) and
summary bars (the share of studies, or of patients, at each level per domain), as SVG."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from review_pipeline.files import write_figure
from review_pipeline.stages.report.tools import LEVEL_WORDS, LEVELS, Tool

COLOURS = {"low": "#02c100", "some": "#e2df07", "high": "#bf0000", "critical": "#820000",
           "none": "#4ea1f7", "na": "#d9d9d9", "": "#ffffff"}
SYMBOLS = {"low": "+", "some": "-", "high": "x", "critical": "!", "none": "?", "na": "",
           "": ""}


def traffic_light(tool: Tool, rows: Sequence[Mapping[str, Any]],
                  names: Mapping[str, str]) -> str:
    """One row per study, one column per domain: a coloured, marked dot per judgement."""
    studies, domains = len(rows), len(tool.domains)
    key = _wrap("; ".join(_numbered(i, label) for i, (f, label) in enumerate(tool.domains, 1)
                          if f != "overall"), 120)
    # laid out in inches: the headers, a row per study, then the legend and the key
    labels = [names.get(r["record_id"], r["record_id"]) for r in rows]
    left = 0.3 + 0.07 * max((len(label) for label in labels), default=10)
    top, row, bottom = 0.35, 0.3, 0.45 + 0.13 * (key.count("\n") + 1)
    width, height = max(left + 0.3 + 0.42 * domains, 6.0), top + row * studies + bottom
    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((left / width, bottom / height, 0.42 * domains / width,
                       row * studies / height))
    for y, judged in enumerate(rows):
        for x, (field, _) in enumerate(tool.domains):
            level = tool.level(judged.get(field)) if judged.get(field) else ""
            ax.scatter(x, y, s=150, color=COLOURS.get(level, "#ffffff"), edgecolors="#555",
                       linewidths=0.5)
            ax.text(x, y, SYMBOLS.get(level, ""), ha="center", va="center", fontsize=7,
                    color="white" if level in ("high", "critical") else "black")
    ax.set_xticks(range(domains), [f"D{i}" if f != "overall" else "Overall"
                                   for i, (f, _) in enumerate(tool.domains, 1)], fontsize=7)
    ax.xaxis.tick_top()
    ax.set_yticks(range(studies), labels, fontsize=8)
    ax.set_xlim(-0.6, domains - 0.4)
    ax.set_ylim(studies - 0.5, -0.5)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.tick_params(length=0)
    fig.legend(handles=_legend(tool), loc="lower left", fontsize=7, frameon=False, ncols=5,
               bbox_to_anchor=(0.0, (bottom - 0.3) / height))
    fig.text(0.01, 0.02 / height, key, fontsize=6.5, va="bottom", color="#333")
    return write_figure(fig, None, None, salt=f"traffic-{tool.id}")


def _numbered(i: int, label: str) -> str:
    return label if label.startswith(f"D{i} ") else f"D{i} {label}"


def summary_bars(tool: Tool, shares: Mapping[str, Mapping[str, float]], title: str) -> str:
    """One horizontal bar per domain, split by the share at each level."""
    domains = list(reversed(tool.domains))
    fig = Figure(figsize=(7.2, 0.9 + 0.32 * len(domains)))
    ax = fig.add_axes((0.36, 0.22, 0.6, 0.66))
    for y, (field, _) in enumerate(domains):
        if not any(shares[field].values()):
            ax.text(1, y, "not applicable to any study", va="center", fontsize=7,
                    color="#666")
        left = 0.0
        for level in LEVELS:
            width = shares[field][level] * 100
            if width:
                ax.barh(y, width, left=left, color=COLOURS[level], edgecolor="white",
                        height=0.7)
                if width >= 8:
                    ax.text(left + width / 2, y, f"{width:.0f}%", ha="center", va="center",
                            fontsize=7, color="white" if level in ("high", "critical")
                            else "black")
                left += width
    ax.set_yticks(range(len(domains)), [label for _, label in domains], fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel(title, fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.legend(handles=_legend(tool, LEVELS), loc="lower center", fontsize=7, frameon=False,
               ncols=5, bbox_to_anchor=(0.6, 0.0))
    return write_figure(fig, None, None, salt=f"bars-{tool.id}-{title}")


def _legend(tool: Tool, shown: Sequence[str] = (*LEVELS, "na")) -> list[Patch]:
    used = {level for _, level in tool.judgements}
    return [Patch(color=COLOURS[level], label=LEVEL_WORDS[level]) for level in shown
            if level in used]


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width))
