"""Risk-of-bias tools as data (``rob_tools.toml``: JBI, ROBINS-I, RoB 2, ROBINS-E): their
names, domains and judgements, and what the report draws from a tool's form: each study's
judgements, and the share of studies (or of patients) at each level per domain."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

TOOLS_FILE = Path(__file__).with_name("rob_tools.toml")
LEVELS = ("low", "some", "high", "critical", "none")
"""Judgement levels in the order bars stack them; "na" (not applicable) is left out."""
LEVEL_WORDS = {"low": "Low", "some": "Some concerns / unclear", "high": "High",
               "critical": "Critical", "none": "No information", "na": "Not applicable"}


@dataclass(frozen=True)
class Tool:
    id: str
    name: str
    reference: str
    tables: tuple[str, ...]
    domains: tuple[tuple[str, str], ...]
    """(field, label) of each domain, in the tool's order."""
    judgements: tuple[tuple[str, str], ...]
    """(value, level) of each judgement a form may hold."""
    starts_high: bool = False
    """A study judged with it starts at high certainty in GRADE."""

    def level(self, value: str | None) -> str:
        """A judgement's level ("" for an empty cell or a value the tool does not know)."""
        return next((level for v, level in self.judgements if v == value), "")


@cache
def tools(path: Path = TOOLS_FILE) -> tuple[Tool, ...]:
    with path.open("rb") as handle:
        data: dict[str, Any] = tomllib.load(handle)
    return tuple(Tool(t["id"], t["name"], t["reference"], tuple(t["tables"]),
                      tuple((f, label) for f, label in t["domains"]),
                      tuple((v, level) for v, level in t["judgements"]),
                      t.get("starts_high", False))
                 for t in data["tools"])


def tool_of(table: str) -> Tool | None:
    """The tool whose form is the extraction table ``table``, if any."""
    return next((t for t in tools() if table in t.tables), None)


def shares(tool: Tool, rows: Sequence[Mapping[str, Any]],
           weights: Mapping[str, float] | None = None) -> dict[str, dict[str, float]]:
    """Per domain, the share at each level of the studies judged on it, each study weighing
    1, or ``weights[record_id]`` when given (its patients; a study without one then weighs
    nothing). A study not judged on a domain, or judged not applicable, is left out of that
    domain's shares."""
    out: dict[str, dict[str, float]] = {}
    for field, _ in tool.domains:
        totals = dict.fromkeys(LEVELS, 0.0)
        for row in rows:
            level = tool.level(row.get(field))
            if level in totals:
                totals[level] += 1.0 if weights is None else weights.get(row["record_id"], 0.0)
        whole = sum(totals.values())
        out[field] = {level: (value / whole if whole else 0.0)
                      for level, value in totals.items()}
    return out
