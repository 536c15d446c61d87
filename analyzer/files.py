"""Files: written whole or not at all, and their size where it can be read."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO

from analyzer.errors import UserError

# The name of standard input where a capture file is named (`cat x.pcap | handshake analyze -`).
STDIN = "-"


def display_name(path: str) -> str | None:
    """A capture's name as a picture's title gives it: the file's, none for standard input."""
    return None if path == STDIN else Path(path).name


def cannot_write(path: Path | str, error: OSError) -> UserError:
    """The one-line error for an output that cannot be written, named as the user gave it
    (not a partial file beside it), a usage error: a read-only place, a file in its path."""
    if isinstance(error, (FileExistsError, NotADirectoryError)):
        reason = "a file stands where a folder of its path should be"
    else:
        reason = error.strerror or str(error)
    return UserError(f"{path}: cannot be written: {reason}")


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


def is_regular_file(stream: IO) -> bool:
    """Whether `stream` writes into a regular file: not a terminal, a pipe or a socket, where
    a reader waits for each line (and not a stream in memory, which has no descriptor)."""
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):
        return False
