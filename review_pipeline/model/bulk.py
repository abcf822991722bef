"""Work on many small objects at once: importing, comparing and linking records."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run a block without Python's cycle collector, as it was before afterwards.

    Building tens of thousands of records, pairs and rows sets the collector off again and
    again, and each time it walks every object alive: a sixth of a dedup run. These objects
    form no cycles, so reference counting frees each one as soon as it is unused.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
