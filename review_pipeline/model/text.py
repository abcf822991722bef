"""Values written for people: in sheets, exports and the report alike."""

from __future__ import annotations

import re


def number_text(number: float) -> str:
    """A number as typed: 12 rather than 12.0, 0.1 rather than 0.1000000001's neighbours."""
    text = repr(float(number))
    return text[:-2] if text.endswith(".0") else text


def value_text(value: object) -> str:
    """A stored value as a cell shows it: empty for none, numbers as :func:`number_text`."""
    if value is None:
        return ""
    return number_text(value) if isinstance(value, float) else str(value)


def excerpt(text: str, size: int = 80) -> str:
    """The start of ``text``, for an error message that must not repeat a huge value."""
    return text if len(text) <= size else f"{text[:size]}... ({len(text):,} characters)"


_MARKDOWN = re.compile(r"([\\`*\[\]<>|#!~])")
_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
"""An underscore that can open or close emphasis (one inside a word, as in a file name,
cannot)."""


def markdown(text: str) -> str:
    """``text`` as Markdown that shows it as it is: its marks (emphasis, links, HTML, table
    bars, headings) escaped, its lines joined."""
    return _UNDERSCORE.sub(r"\\_", _MARKDOWN.sub(r"\\\1", " ".join(str(text).split())))


def code_span(text: str) -> str:
    """``text`` as inline code, fenced with more backticks than it holds."""
    text = " ".join(str(text).split())
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def code_block(text: str) -> list[str]:
    """``text`` as a fenced code block's lines, fenced with more backticks than it holds."""
    fence = "`" * max(3, max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return [fence, text, fence]
