"""Where a record stands in the review's flow, and the moves between states."""

from __future__ import annotations

from collections import deque
from enum import StrEnum
from functools import cache

from review_pipeline.model.errors import StateError


class State(StrEnum):
    """Where a record stands in the review's flow (PRISMA 2020's boxes)."""

    IDENTIFIED = "identified"
    """Found by a search or an import; not yet deduplicated."""
    DUPLICATE = "duplicate"
    """Another record of the same report is kept instead (``duplicate_of`` names it)."""
    INELIGIBLE = "ineligible"
    """Removed before screening by an automatic eligibility rule, without a human look."""
    SCREENED = "screened"
    """Kept after deduplication and put to title/abstract screening."""
    EXCLUDED_TA = "excluded_ta"
    """Excluded at title/abstract screening."""
    SOUGHT = "sought"
    """Passed title/abstract screening (or came from other methods); full text sought."""
    NOT_RETRIEVED = "not_retrieved"
    """Full text could not be obtained."""
    ASSESSED = "assessed"
    """Full text retrieved and being assessed for eligibility."""
    EXCLUDED_FT = "excluded_ft"
    """Excluded at full text, with one reason code."""
    INCLUDED = "included"
    """Included in the review."""


S = State
FORWARD: dict[State, frozenset[State]] = {
    S.IDENTIFIED: frozenset({S.DUPLICATE, S.INELIGIBLE, S.SCREENED, S.SOUGHT}),
    S.SCREENED: frozenset({S.EXCLUDED_TA, S.SOUGHT}),
    S.SOUGHT: frozenset({S.NOT_RETRIEVED, S.ASSESSED}),
    S.ASSESSED: frozenset({S.EXCLUDED_FT, S.INCLUDED}),
}
"""The moves PRISMA's flow makes: the one table every stage's states derive from."""

TRANSITIONS: dict[State, frozenset[State]] = {
    state: FORWARD.get(state, frozenset())
    | frozenset(old for old, news in FORWARD.items() if state in news)
    for state in State
}
"""Allowed moves: each forward move, and its undo for when a decision is revised (a
reviewer changes a sheet, a cluster is split), so a record can always be brought to the
state its current decisions give, one allowed step at a time."""


def onward(state: State) -> tuple[State, ...]:
    """``state`` and every state a record reaches from it by forward moves, in the order
    of :class:`State`: the records a stage has seen, whatever happened to them since."""
    reached = {state}
    queue = [state]
    while queue:
        for nxt in FORWARD.get(queue.pop(), frozenset()):
            if nxt not in reached:
                reached.add(nxt)
                queue.append(nxt)
    return tuple(s for s in State if s in reached)


STAGES = {"ta": "title/abstract", "ft": "full text"}
"""The screening stages, as a sheet's name begins (``ta-<reviewer>.csv``)."""
STAGE_ENTRY = {"ta": State.SCREENED, "ft": State.SOUGHT}
"""The state in which a record is put to each screening stage."""


def path_between(old: State, new: State) -> list[State]:
    """The shortest chain of allowed moves from ``old`` to ``new`` (empty when equal)."""
    return list(_path(old, new))


@cache
def _path(old: State, new: State) -> tuple[State, ...]:
    # A dedup run asks for the same few paths once per record.
    previous: dict[State, State] = {}
    queue = deque([old])
    while queue:
        state = queue.popleft()
        if state == new:
            chain = []
            while state != old:
                chain.append(state)
                state = previous[state]
            return tuple(chain[::-1])
        for nxt in sorted(TRANSITIONS[state]):
            if nxt not in previous and nxt != old:
                previous[nxt] = state
                queue.append(nxt)
    raise StateError(f"no allowed path from {old} to {new}", where="model.state.TRANSITIONS")
