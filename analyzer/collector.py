"""The cyclic garbage collector, held back while a file is analyzed."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

# Objects allocated between two passes of the cyclic collector over the youngest generation
# (Python's default: 700).
YOUNG_COLLECTION_EVERY = 100_000
# Passes over the two older generations, counted in passes over the one below (Python's
# default: 10 and 10). A flood or a scan holds hundreds of thousands of attempts for seconds
# each: they reach the oldest generation and every pass over it walks them all, a tenth of
# the time on a million-attempt scan, while it finds nothing to free (the same peak memory
# with the collector off).
OLDER_COLLECTIONS_EVERY = (100, 100)


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """The analysis allocates millions of small objects (segments, steps) that live until
    their connection is over and form no reference cycles: every pass of the cyclic
    collector over them is wasted (a fifth of the time on a 1M-packet file). Collect
    rarely while a file is analyzed; reference counting still frees everything."""
    before = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, *OLDER_COLLECTIONS_EVERY)
    try:
        yield
    finally:
        gc.set_threshold(*before)
