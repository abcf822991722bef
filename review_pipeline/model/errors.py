"""One family of errors, each saying what went wrong, where, and what to do about it.

The CLI prints ``str(error)`` and exits with status 1; nothing here prints or exits.
"""

from __future__ import annotations


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


class Problems(list[str]):
    """Problems found in people's files, collected so that one run reports them all, and
    raised together before anything is loaded."""

    SHOWN = 20

    def fail(self, what: str, fix: str, where: str = "") -> None:
        """Raise the problems found in ``what``, if any, as one :class:`InputError`."""
        if self:
            shown = "\n  ".join(self[:self.SHOWN])
            more = len(self) - self.SHOWN
            raise InputError(
                f"{len(self)} problem(s) in {what}; nothing was loaded:\n  {shown}"
                + (f"\n  ... and {more} more" if more > 0 else ""), where=where, fix=fix)
