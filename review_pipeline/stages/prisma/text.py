"""The flow as text: ``prisma.md`` for people, ``prisma.csv`` for the PRISMA2020 R package."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from review_pipeline.formats.sheets import csv_writer
from review_pipeline.model.text import markdown as _md
from review_pipeline.stages.prisma.boxes import PHASES, Flow
from review_pipeline.stages.prisma.flow import PrismaCounts, as_template


def render_markdown(flow: Flow, title: str) -> str:
    """The diagram's boxes as nested lists, phase by phase, with its notes."""
    lines = [f"# PRISMA 2020 flow: {_md(title)}", ""]
    if flow.warning:
        lines += [f"> **{_md(flow.warning)}**", ""]
    for phase in PHASES:
        first, last = flow.phases[phase]
        lines += [f"## {phase.capitalize()}", ""]
        for column, heading in flow.headings.items():
            boxes = [b for b in flow.boxes if b.column == column and first <= b.level <= last]
            if boxes:
                lines += [f"### {heading}", ""]
            for box in sorted(boxes, key=lambda b: (b.level, b.side)):
                lines.append(f"- {_md(box.title)}")
                lines += [f"  {'  ' if line.startswith(' ') else ''}- {_md(line.strip())}"
                          for line in box.lines]
            lines += [""] if boxes else []
    lines += [f"{_md(note)}  " for note in flow.notes]
    return "\n".join(lines) + "\n"




TEMPLATE = Path(__file__).with_name("PRISMA.csv")
"""The PRISMA2020 R package's ``PRISMA.csv`` (MIT licence, see PRISMA2020-LICENSE.txt),
unmodified: the layout ``prisma.csv`` fills."""


def template_csv(c: PrismaCounts, template: Path = TEMPLATE) -> str:
    """The PRISMA2020 template with its ``n`` column filled from ``c``: same rows, same
    ``data`` names and columns, so the R package or its Shiny app reads it unchanged.
    Lists (databases, reasons) take the template's ``label, n; label, n`` form."""
    t = as_template(c)

    def pairs(items: list[dict[str, Any]]) -> str:
        # the R package splits on ";" and ","; keep them out of the labels
        return "; ".join(f"{_plain(i['label'])}, {i['n']}" for i in items)

    values: dict[str, object] = {
        **{k: v for k, v in t.items() if isinstance(v, int) and not isinstance(v, bool)},
        "database_specific_results": pairs(t["database_specific_results"]),
        "register_specific_results": pairs(t["register_specific_results"]),
        "dbr_excluded": pairs(t["dbr_excluded"]),
        "other_excluded": pairs(t["other_excluded"]),
    }
    with template.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    data, n = header.index("data"), header.index("n")
    for row in rows[1:]:
        if row[data] in values:
            row[n] = str(values[row[data]])
    out = io.StringIO()
    csv_writer(out).writerows(rows)
    return out.getvalue()


def _plain(label: str) -> str:
    return label.replace(";", " ").replace(",", " ").strip()
