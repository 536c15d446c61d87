"""When each file's frames begin and end: files given together that follow one another, as
the parts of one capture that tcpdump wrote in turn (-C: a new file every so many bytes;
-G: every so many seconds; dumpcap's ring buffer), are told apart from captures of their
own.

Each file is analyzed alone (several at once, in any order), so a connection that was open
when one part ended reads as unfinished there and as begun mid-stream in the next. Nothing
in the files names their order or says they belong together; what does is the time: the
next part's first frame comes right after the last frame of the one before, with the same
format and snapshot length. That is also what two captures started one after the other
look like, so the warning says what follows if they are one capture, and how to join them
(mergecap -a, Wireshark's, keeps the frames in the order of the files given).
"""

from __future__ import annotations

import itertools
import shlex
from dataclasses import dataclass
from typing import Final, NamedTuple

from analyzer.decode import DecodeStats
from analyzer.timefmt import format_duration

# The longest silence between two parts of one capture this reads as a cut: a rotation
# writes the next frame as it comes, so the gap is one silence between two frames. Past a
# minute, files one after the other are as likely separate captures.
JOINED_WITHIN: Final = 60.0


@dataclass(frozen=True)
class FileSpan:
    """A file's first and latest frame time (None: no frame), its format and snapshot
    length (a rotation keeps both)."""

    start: float | None
    end: float | None
    format: str
    snaplen: int

    @classmethod
    def of(cls, stats: DecodeStats) -> FileSpan:
        return cls(stats.start_time, stats.end_time, stats.format, stats.snaplen)


class Rendered(NamedTuple):
    """What one file's report leaves besides its output: its warnings, and its span."""

    warnings: list[str]
    span: FileSpan | None


def cut_captures(paths: list[str], spans: list[FileSpan | None]) -> list[str]:
    """A warning for each run of two or more of the files (by path, with their spans: None
    for a file that could not be read) that follow one another as the parts of one capture
    (see the module docstring); the run in the order of time, whatever order they were given
    in."""
    timed = sorted(
        (span.start, span.end, index)
        for index, span in enumerate(spans)
        if span is not None and span.start is not None and span.end is not None
    )
    runs: list[list[tuple[float, float, int]]] = []
    for part in timed:
        if runs and _follows(spans[runs[-1][-1][2]], spans[part[2]], part[0] - runs[-1][-1][1]):
            runs[-1].append(part)
        else:
            runs.append([part])
    return [_warning(paths, run) for run in runs if len(run) > 1]


def _follows(before: FileSpan | None, after: FileSpan | None, gap: float) -> bool:
    """Whether `after`, which begins `gap` seconds after the last frame of `before`, is the
    next part of the same capture."""
    return (
        before is not None
        and after is not None
        and before.format == after.format
        and before.snaplen == after.snaplen
        and 0.0 <= gap <= JOINED_WITHIN
    )


def _warning(paths: list[str], parts: list[tuple[float, float, int]]) -> str:
    """parts: (first frame time, latest frame time, index in `paths`) of each, in time order."""
    widest = max(after[0] - before[1] for before, after in itertools.pairwise(parts))
    run = [paths[index] for _start, _end, index in parts]
    first, last = run[0], run[-1]
    which, begins = (
        (
            f"{first} and {last}",
            f"the second begins {format_duration(widest)} after the last frame of the first",
        )
        if len(run) == 2
        else (
            f"these {len(run)} files, from {first} to {last},",
            f"each begins at most {format_duration(widest)} after the last frame of the one before",
        )
    )
    command = shlex.join(["mergecap", "-a", "-w", "joined.pcapng", *run])
    return (
        f"{which} follow one another ({begins}; the same format and snapshot length): if they are "
        "one capture written in parts (tcpdump -C or -G), a connection open across a cut reads as "
        "unfinished in one part and begun mid-stream in the next; join them first, in this order: "
        f"{command}"
    )
