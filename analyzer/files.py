"""Files written whole or not at all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def write_atomically(target: Path, write: Callable[[Path], object]) -> None:
    """`write` fills a file beside `target`, which then replaces it in one rename: a reader
    sees the old file or the new one, never half of one, and an interruption (Ctrl-C
    included) leaves no partial file behind."""
    partial = target.with_name(target.name + ".partial")
    try:
        write(partial)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
