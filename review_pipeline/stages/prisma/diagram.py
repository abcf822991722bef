"""The PRISMA 2020 flow diagram drawn from the box model, as SVG and PNG.

The layout is computed here, in points, from measured text; matplotlib only draws it, so
both files come from one drawing. The SVG keeps its text as text (searchable, and each box
is a group ``box-<key>``), and carries no date, so the same counts give the same file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import FancyArrowPatch, Rectangle
from matplotlib.path import Path as MPath
from matplotlib.textpath import TextToPath

from review_pipeline.files import write_figure
from review_pipeline.stages.prisma.boxes import COLUMNS, Box, Flow

FONT = "DejaVu Sans"
"""Shipped with matplotlib, so text measures the same on every machine."""
SIZE = 8.5
NOTE_SIZE = 7.5
LINE = 11.0
PAD = 6.0
WIDTH = {"previous": 150.0, "main": 172.0, "side": 172.0}
GAP = {"side": 26.0, "column": 22.0, "level": 20.0}
MARGIN = 10.0
BAND = 20.0
"""Width of the phase labels on the left."""
HEADING_FILL = {"previous": "#d9d9d9", "databases": "#f7c95c", "other": "#d9d9d9"}
PHASE_FILL = "#9dc3e6"
WARNING = "#a61b1b"


@dataclass(frozen=True)
class Placed:
    box: Box
    x: float
    y: float
    w: float
    h: float
    lines: tuple[tuple[float, str], ...]
    """(indent, text) of each wrapped line."""


def render(flow: Flow, svg: Path | None = None, png: Path | None = None,
           dpi: int = 200) -> str:
    """Draw ``flow``; write the files asked for and return the SVG text."""
    layout = _Layout(flow)
    fig = Figure(figsize=(layout.width / 72, layout.height / 72))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0, layout.width)
    ax.set_ylim(layout.height, 0)
    ax.axis("off")
    layout.draw(ax)
    return write_figure(fig, svg, png, salt="prisma", dpi=dpi)


class _Layout:
    """Where every box, heading, phase label, arrow and note goes, in points."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.x = self._columns()
        top = MARGIN
        self.warning = (_wrap(flow.warning, self._right() - MARGIN, NOTE_SIZE + 1)
                        if flow.warning else [])
        top += len(self.warning) * LINE + (PAD if self.warning else 0)
        self.headings = {
            column: (self.x[column][0], top, self._span(column),
                     _wrap(text, self._span(column) - 2 * PAD, SIZE, bold=True))
            for column, text in flow.headings.items()}
        self.heading_h = max(len(h[3]) for h in self.headings.values()) * LINE + 2 * PAD
        self.placed: dict[str, Placed] = {}
        y = top + self.heading_h + GAP["level"]
        self.levels: dict[int, tuple[float, float]] = {}
        # a phase of one level must still fit its label, which is written upwards
        label_h = {first: _width(phase.capitalize(), SIZE, True) + 2 * PAD
                   for phase, (first, last) in flow.phases.items() if first == last}
        for level in sorted({b.level for b in flow.boxes}):
            boxes = [self._wrapped(b) for b in flow.boxes if b.level == level]
            for box, lines in boxes:
                x, w = self._place(box)
                self.placed[box.key] = Placed(box, x, y, w, len(lines) * LINE + 2 * PAD,
                                              tuple(lines))
            h = max([self.placed[b.key].h for b, _ in boxes] + [label_h.get(level, 0.0)])
            self.levels[level] = (y, h)
            y += h + GAP["level"]
        self.notes = [line for note in flow.notes
                      for line in _wrap(note, self._right() - MARGIN, NOTE_SIZE)]
        self.notes_y = y
        self.width = self._right() + MARGIN
        self.height = y + len(self.notes) * (LINE - 1) + MARGIN

    def _columns(self) -> dict[str, tuple[float, float]]:
        """Left edge of the main and side column of each column present."""
        x = MARGIN + BAND + GAP["column"] / 2
        out = {}
        for column in COLUMNS:
            if column not in self.flow.headings:
                continue
            if column == "previous":
                out[column] = (x, x)
                x += WIDTH["previous"] + GAP["column"]
            else:
                out[column] = (x, x + WIDTH["main"] + GAP["side"])
                x += WIDTH["main"] + GAP["side"] + WIDTH["side"] + GAP["column"]
        return out

    def _right(self) -> float:
        return max(x + self._span(c) for c, (x, _) in self.x.items())

    def _span(self, column: str) -> float:
        if column == "previous":
            return WIDTH["previous"]
        return WIDTH["main"] + GAP["side"] + WIDTH["side"]

    def _place(self, box: Box) -> tuple[float, float]:
        main, side = self.x[box.column]
        if box.column == "previous":
            return main, WIDTH["previous"]
        return (side, WIDTH["side"]) if box.side else (main, WIDTH["main"])

    def _wrapped(self, box: Box) -> tuple[Box, list[tuple[float, str]]]:
        _, w = self._place(box)
        lines: list[tuple[float, str]] = []
        for i, text in enumerate((box.title, *box.lines)):
            # a list under a heading ("Records removed before screening:") is indented, and
            # a sub-list ("    PubMed") once more
            indent = 10.0 * ((i > 0 and box.title.endswith(":")) + text.startswith("    "))
            lines += [(indent, part) for part in _wrap(text.strip(), w - 2 * PAD - indent, SIZE)]
        return box, lines

    def draw(self, ax: Axes) -> None:
        for i, line in enumerate(self.warning):
            _text(ax, MARGIN, MARGIN + i * LINE, line, f"warning-{i}", fontsize=NOTE_SIZE + 1,
                  color=WARNING, weight="bold")
        for column, (x, y, w, lines) in self.headings.items():
            ax.add_patch(Rectangle((x, y), w, self.heading_h, facecolor=HEADING_FILL[column],
                                   edgecolor="none", gid=f"heading-{column}"))
            for i, line in enumerate(lines):
                _text(ax, x + w / 2, y + PAD + i * LINE, line, f"heading-{column}-{i}",
                      weight="bold", ha="center")
        for phase, (first, last) in self.flow.phases.items():
            top = self.levels[first][0]
            bottom = self.levels[last][0] + self.levels[last][1]
            ax.add_patch(Rectangle((MARGIN, top), BAND, bottom - top, facecolor=PHASE_FILL,
                                   edgecolor="none", gid=f"phase-{phase}"))
            _text(ax, MARGIN + BAND / 2, (top + bottom) / 2, phase.capitalize(),
                  f"phase-{phase}-label", rotation=90, weight="bold", ha="center",
                  va="center")
        for p in self.placed.values():
            ax.add_patch(Rectangle((p.x, p.y), p.w, p.h, facecolor="white",
                                   edgecolor="black", linewidth=0.8, gid=f"box-{p.box.key}"))
            for i, (indent, line) in enumerate(p.lines):
                _text(ax, p.x + PAD + indent, p.y + PAD + i * LINE, line, f"box-{p.box.key}-{i}")
        for start, end in self.flow.arrows:
            path = MPath(self._route(self.placed[start], self.placed[end]))
            ax.add_patch(FancyArrowPatch(path=path, arrowstyle="-|>", mutation_scale=9,
                                         linewidth=0.8, color="black",
                                         gid=f"arrow-{start}-{end}"))
        for i, line in enumerate(self.notes):
            _text(ax, MARGIN, self.notes_y + i * (LINE - 1), line, f"note-{i}",
                  fontsize=NOTE_SIZE)

    @staticmethod
    def _route(a: Placed, b: Placed) -> list[tuple[float, float]]:
        """Straight down, straight across, or down then across into the side of ``b``."""
        if a.box.level == b.box.level:
            y = a.y + min(a.h, b.h) / 2
            return [(a.x + a.w, y), (b.x, y)]
        if a.x == b.x:
            return [(a.x + a.w / 2, a.y + a.h), (b.x + b.w / 2, b.y)]
        x, y = a.x + a.w / 2, b.y + b.h / 2
        return [(x, a.y + a.h), (x, y), (b.x + b.w if a.x > b.x else b.x, y)]


COUNT = re.compile(r"\(n = [\d,]+\)\S*|\S+")
"""A word, or a count such as "(n = 48)", which is never broken."""


def _text(ax: Axes, x: float, y: float, text: str, gid: str, **style: Any) -> None:
    """Text at (x, y), top-left aligned unless ``style`` says otherwise. Never parsed as
    math: labels come from the protocol, and a "$" would start matplotlib's mathtext."""
    ax.text(x, y, text, gid=gid, parse_math=False,
            **{"fontsize": SIZE, "family": FONT, "va": "top", **style})


def _wrap(text: str, width: float, size: float, bold: bool = False) -> list[str]:
    """``text`` broken at spaces into lines no wider than ``width`` points."""
    words = COUNT.findall(text)
    lines: list[str] = []
    for word in words:
        if lines and _width(f"{lines[-1]} {word}", size, bold) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def _width(text: str, size: float, bold: bool) -> float:
    prop = FontProperties(family=FONT, size=size, weight="bold" if bold else "normal")
    width: float = TextToPath().get_text_width_height_descent(text, prop, ismath=False)[0]
    return width
