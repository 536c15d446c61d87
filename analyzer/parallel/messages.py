"""What a share's process and the parent send each other (the table in analyzer.parallel).

Each goes through the share's multiprocessing connection, pickled; a share's lines, when
they pass through the parent, go through a pipe of their own as bytes.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

from analyzer.findings.scans import ScanDetector
from analyzer.parallel.placement import ShareIndex


@dataclass(frozen=True)
class ShareReport:
    """Share -> parent, once the share has read the file: its part of what the document says."""

    head: dict  # the document's head (its scans the share's own) and UDP flows: only from
    udp: str  # share 0 (the same in every share)
    udp_flow_count: int
    warnings: list[str]
    error: str | None  # the file cannot be read (a UserError's line); then nothing else is sent
    index: ShareIndex  # where its lines stand among all (see placement)
    scans: ScanDetector | None  # its connections' probes counted, for the parent to add up


@dataclass(frozen=True)
class Placement:
    """Parent -> share, once every share has sent its ShareReport: where its lines go."""

    ids: array[int]  # the file's id of each of the share's connections
    where: array[int]  # by file id: where its part of the document goes
    output: int | None  # the output's descriptor, to write at those offsets; None: into the pipe


@dataclass(frozen=True)
class Written:
    """Share -> parent, last: all its lines are where the Placement said."""


# What a share writes ahead of the parent's copy: Linux's pipes hold 64 KiB unless widened
# (up to fs.pipe-max-size, 1 MiB by default); a few lines at a time would have shares and
# parent take turns.
PIPE_BYTES = 1 << 20
