"""Names people give things: sources, reviewers, reason codes, extraction forms and fields.

One rule for all of them, because each becomes part of a file name, a folder or a table:
lower-case letters, digits, ``-`` and ``_``, beginning with a letter or digit, at most
:data:`MAX_LENGTH` long. A name can then never climb out of the review's folder (no ``/``,
``.`` or ``..``), nor collide with SQLite's own tables.
"""

from __future__ import annotations

import re

MAX_LENGTH = 40
_NAME = re.compile(rf"^[a-z0-9][a-z0-9_-]{{0,{MAX_LENGTH - 1}}}$")
_IDENTIFIER = re.compile(rf"^[a-z][a-z0-9_]{{0,{MAX_LENGTH - 1}}}$")


def is_name(value: str) -> bool:
    """Whether ``value`` may name a source, a reviewer or a reason code."""
    return bool(_NAME.match(value))


def is_identifier(value: str) -> bool:
    """Whether ``value`` may name a form or a field: a name that is also a plain SQL
    identifier (a letter first, no ``-``), and none of SQLite's own (``sqlite_...``)."""
    return bool(_IDENTIFIER.match(value)) and not value.startswith("sqlite_")


RULE = (f"lower-case letters, digits, '-' or '_', a letter or digit first, at most "
        f"{MAX_LENGTH} characters")
"""The rule in words, for error messages."""
