"""Files: written whole or not at all, and their size where it can be read."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO, Final

from analyzer.errors import UserError

# The name of standard input where a capture file is named (`cat x.pcap | handshake analyze -`).
STDIN = "-"


def display_name(path: str) -> str | None:
    """A capture's name as a picture's title gives it: the file's, none for standard input."""
    return None if path == STDIN else Path(path).name


# Why a path the user named cannot be written: its fault (status 2), where any other error
# (a full disk) is the system's (status 1, as the reports' writers have it).
_PATH_ERRORS: Final = (
    FileNotFoundError,
    FileExistsError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
)


def cannot_write(path: Path | str, error: OSError) -> Exception:
    """The error for an output that cannot be written, named as the user gave it (not a
    partial file beside it): a usage error where the path is at fault (no such folder, a
    file in its way, read-only), else the system's error with that name."""
    if not isinstance(error, _PATH_ERRORS) and error.errno != errno.EROFS:
        return OSError(error.errno, error.strerror, str(path))
    if isinstance(error, (FileExistsError, NotADirectoryError)):
        reason = "a file stands where a folder of its path should be"
    else:
        reason = error.strerror or str(error)
    return UserError(f"{path}: cannot be written: {reason}")


def write_atomically(target: Path, write: Callable[[Path], object], partial_suffix: str = "") -> None:
    """`write` fills a file beside `target` (its name, ".partial" and `partial_suffix`), which
    then replaces it in one rename: a reader sees the old file or the new one, never half of
    one, and an interruption (Ctrl-C included) leaves no partial file behind."""
    partial = target.with_name(target.name + ".partial" + partial_suffix)
    try:
        write(partial)
        partial.replace(target)
    finally:
        with contextlib.suppress(OSError):  # none made where the path itself was at fault
            partial.unlink(missing_ok=True)


def write_output(
    target: Path, write: Callable[[Path], object], partial_suffix: str = "", named: Path | None = None
) -> None:
    """An output the user named (a figure, a report's page): its folders made, written with
    write_atomically; where it cannot be, an error naming `named` (the folder a report was
    asked for), else `target` (cannot_write)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, write, partial_suffix)
    except OSError as error:
        raise cannot_write(named or target, error) from None


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
