"""Lists in a sentence, shortened: a line of a report stays a line however many items a
capture gives it (3,000 SYNs of one attempt, the frames of a note)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

SHOWN: Final = 12  # the items a sentence names before "and N more"


def shortened(items: Sequence[str], shown: int = SHOWN) -> str:
    """ "a, b, c"; past `shown` items, the first of them and "and 2,988 more"."""
    if len(items) <= shown:
        return ", ".join(items)
    return ", ".join(items[:shown]) + f" and {len(items) - shown:,} more"
