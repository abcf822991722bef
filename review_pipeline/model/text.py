"""Values written for people: in sheets, exports and the report alike."""

from __future__ import annotations


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
