"""Progress reporting from core functions, without tying them to a terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

Progress = Callable[[int, int], None]
"""Called with (done, total) as work advances; the CLI draws it as a bar."""

T = TypeVar("T")


def tracked(items: Iterable[T], total: int, on_progress: Progress | None,
            every: int = 500) -> Iterator[T]:
    """Yield ``items``, calling ``on_progress`` every ``every`` items and at the end."""
    done = 0
    for done, item in enumerate(items, 1):
        yield item
        if on_progress and done % every == 0:
            on_progress(done, total)
    if on_progress:
        on_progress(total, total)
