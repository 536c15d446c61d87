"""A progress line on a terminal for analyses that take more than a moment."""

from __future__ import annotations

import time
from typing import TextIO

from analyzer.files import size_or_zero

QUIET_SECONDS = 2.0  # analyses shorter than this print nothing


class ProgressLine:
    """Called with (frames read, bytes read); rewrites one line: packets, MB/s, percent, ETA."""

    def __init__(self, path: str, total_bytes: int, out: TextIO) -> None:
        self.path, self.total, self.out = path, total_bytes, out
        self.start = time.monotonic()
        self.shown = False

    @classmethod
    def for_file(cls, path: str, out: TextIO) -> ProgressLine:
        """The line for reading the file at `path` (one whose size cannot be read: no
        percentage; reading it will say what is wrong)."""
        return cls(path, size_or_zero(path), out)

    def __call__(self, frames: int, position: int) -> None:
        elapsed = time.monotonic() - self.start
        if elapsed < QUIET_SECONDS or not position:
            return
        rate = position / elapsed
        left = max(self.total - position, 0) / rate
        share = 100 * position / self.total if self.total else 100
        self.out.write(
            f"\r{self.path}: {frames:,} packets, {rate / 1e6:.1f} MB/s, {share:.0f}%, about {left:.0f} s left  "
        )
        self.out.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            self.out.write("\r\033[K")
            self.out.flush()
