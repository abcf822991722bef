"""The prisma stage: the PRISMA 2020 flow derived from record states, checked, written and
drawn; and the search log (PRISMA-S).

Every number comes from the data; none is typed. The arithmetic of the flow is checked
before anything is written, and a failed check names the boxes and records involved.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from review_pipeline.files import write_atomic
from review_pipeline.protocol import Protocol
from review_pipeline.stages.prisma.boxes import flow
from review_pipeline.stages.prisma.flow import (
    DEFAULT_OUT,
    PrismaCounts,
    as_template,
    checked_counts,
)
from review_pipeline.stages.prisma.previous import Previous, read_previous
from review_pipeline.stages.prisma.search_log import render_markdown as log_markdown
from review_pipeline.stages.prisma.search_log import search_log
from review_pipeline.stages.prisma.text import render_markdown, template_csv

FILES = ("prisma.json", "prisma.csv", "prisma.md", "prisma.svg", "prisma.png",
         "search_log.md")


@dataclass
class PrismaResult:
    counts: PrismaCounts
    files: list[Path]


def load_previous(protocol: Protocol) -> Previous | None:
    """The previous version's included reports, when the protocol names them."""
    path = protocol.update.previous_version
    return read_previous(path) if path else None


def run(db: Database, protocol: Protocol, out_dir: Path = DEFAULT_OUT) -> PrismaResult:
    """Check the counts, then write to ``out_dir``: ``prisma.json``, ``prisma.csv`` (the
    PRISMA2020 template, filled), ``prisma.md``, the diagram as ``prisma.svg`` and
    ``prisma.png``, and ``search_log.md``."""
    from review_pipeline.stages.prisma import diagram

    c = checked_counts(db, protocol, load_previous(protocol))
    f = flow(c, protocol.review.notice)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / name for name in FILES}
    texts = {"prisma.json": json.dumps(as_template(c), indent=2) + "\n",
             "prisma.csv": template_csv(c),
             "prisma.md": render_markdown(f, protocol.review.title),
             "search_log.md": log_markdown(search_log(db, protocol), protocol)}
    for name, text in texts.items():
        write_atomic(paths[name], text.encode("utf-8"))
    diagram.render(f, paths["prisma.svg"], paths["prisma.png"])
    return PrismaResult(c, list(paths.values()))
