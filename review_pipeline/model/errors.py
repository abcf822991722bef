"""One family of errors, each saying what went wrong, where, and what to do about it.

The CLI prints ``str(error)`` and exits with status 1; nothing here prints or exits.
"""

from __future__ import annotations

import errno
import sqlite3


class ReviewError(Exception):
    """A problem a person can act on.

    ``what`` says what went wrong, ``where`` names the file, line, record or key,
    and ``fix`` says what to do next (often the command to run).
    """

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None) -> None:
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = f"{self.where}: {self.what}" if self.where else self.what
        if self.fix:
            text += f"\n  To fix: {self.fix}"
        return text

    def __str__(self) -> str:
        return self.message

    def one_line(self) -> str:
        """The message on one line, for a list of problems."""
        text = f"{self.where}: {self.what}" if self.where else self.what
        return f"{text} ({self.fix})" if self.fix else text


class ProtocolError(ReviewError):
    """The protocol file in queries/ is missing, malformed or inconsistent."""


class InputError(ReviewError):
    """An input file (export, snapshot, reviewer sheet) cannot be read as it stands."""


class CountMismatchError(InputError):
    """A file holds a different number of records than its parser produced."""


class StateError(ReviewError):
    """A record was asked to move between states that the review's flow does not allow."""


class StageOrderError(ReviewError):
    """A stage ran before the stage it needs."""


class FetchError(ReviewError):
    """PubMed answered with an error, or could not be used for the search."""


class DatabaseError(ReviewError):
    """The review database cannot be opened or upgraded."""


class CheckError(ReviewError):
    """A derived number failed an arithmetic check (e.g. PRISMA boxes that do not add up)."""


class AnalysisError(ReviewError):
    """A meta-analysis cannot be fitted to the studies given (too few, or degenerate)."""


class Problems(list[str]):
    """Problems found in people's files, collected so that one run reports them all, and
    raised together before anything is loaded."""

    SHOWN = 20

    def fail(self, what: str, fix: str, where: str = "",
             outcome: str = "nothing was loaded") -> None:
        """Raise the problems found in ``what``, if any, as one :class:`InputError`."""
        if self:
            shown = "\n  ".join(self[:self.SHOWN])
            more = len(self) - self.SHOWN
            raise InputError(
                f"{len(self)} problem(s) in {what}; {outcome}:\n  {shown}"
                + (f"\n  ... and {more} more" if more > 0 else ""), where=where, fix=fix)


class ResourceError(ReviewError):
    """The machine ran short: a full disk, a database another command holds too long."""


def as_review_error(exc: BaseException) -> ReviewError | None:
    """A low-level failure (the disk, the database, a parser's limits) as the error a
    person can act on; None for anything else, which is a bug to report."""
    text = str(exc)
    full = "the disk is full; the command stopped and the database keeps what it held before"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ResourceError(full, where=exc.filename or None,
                             fix="free some disk space, then run the command again")
    if isinstance(exc, sqlite3.OperationalError):
        if "disk is full" in text or "disk I/O error" in text:
            return ResourceError(full, fix="free some disk space, then run the command again")
        if "locked" in text or "busy" in text:
            return ResourceError("another command holds the review database",
                                 fix="wait for it to finish (or stop it), then run this "
                                     "command again")
    if isinstance(exc, sqlite3.DataError) or "too big" in text:
        return InputError("a value is too big to store", fix="check the input for a damaged "
                          "or oversized record; nothing of this command was kept")
    if isinstance(exc, RecursionError):
        return InputError("a record is nested too deeply to read", fix="the file is damaged "
                          "or built to harm; export it again")
    if isinstance(exc, MemoryError):
        return ResourceError("the input needs more memory than this machine has",
                             fix="check the input for a damaged or oversized record")
    return None
