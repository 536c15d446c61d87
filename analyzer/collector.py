"""The cyclic garbage collector, held back while a file is analyzed."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

# Objects allocated between two passes of the cyclic collector over the youngest generation
# (Python's default: 700).
YOUNG_COLLECTION_EVERY = 100_000


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """The analysis allocates millions of small objects (segments, steps) that live until
    their connection is over and form no reference cycles: every pass of the cyclic
    collector over them is wasted (a fifth of the time on a 1M-packet file). Collect
    rarely while a file is analyzed; reference counting still frees everything."""
    before = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
