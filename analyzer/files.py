"""Files: written whole or not at all, and their size where it can be read."""

from __future__ import annotations

import os
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


def size_or_zero(path: str) -> int:
    """A file's size, 0 where it cannot be read (reading it will say what is wrong)."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
