"""Progress reporting from core functions, without tying them to a terminal."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar


class Progress(Protocol):
    """Called with (done, total) as work advances, and a short note on the state of the
    work when there is one; the CLI draws it as a bar."""

    def __call__(self, done: int, total: int, note: str = "") -> None: ...


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
