"""What a share's process and the parent send each other (the table in analyzer.parallel).

Each goes through the share's multiprocessing connection, pickled; a share's lines, when
they pass through the parent, go through a pipe of their own as bytes.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING

from analyzer.findings.links import LinkDetector
from analyzer.findings.scans import ScanDetector
from analyzer.parallel.file_spans import FileSpan
from analyzer.parallel.placement import ShareIndex
from analyzer.timefmt import Clock

if TYPE_CHECKING:
    from analyzer.decode import DecodeStats
    from analyzer.output.summary import Summary
    from analyzer.output.text_report import TextTally
    from analyzer.udp_flows import UdpFlow


@dataclass(frozen=True)
class TextHead:
    """What the text report's head says besides the connection count: the same in every
    share (each reads every frame), sent by share 0."""

    file: str
    stats: DecodeStats
    udp: list[UdpFlow]
    application: list[str]
    origin: Clock


@dataclass(frozen=True)
class TextCounts:
    """A share's part of the text report's overview, counted as its connections ended."""

    summary: Summary  # its connections' outcomes (the overview's counts only)
    head: TextHead | None  # share 0's; None from the others


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
    text: TextCounts | None = None  # the text report's counts; None for the JSON document
    # Its connections looked at for another side of them, by the share's ids (the parent
    # renumbers them and adds them up); None with an error.
    links: LinkDetector | None = None
    span: FileSpan | None = None  # the file's (the same in every share); None with an error


@dataclass(frozen=True)
class ScanKeys:
    """Parent -> share, for the text report, once every share has sent its ShareReport: the
    file's scans and floods, by their keys (text_report.ScanNumbers), in the report's order."""

    keys: list[tuple[str | None, tuple[str, int] | None]]


@dataclass(frozen=True)
class ShareTally:
    """Share -> parent, for the text report, answering ScanKeys: what its connections add
    to the overview, and the length of each block it prints (text_report.block_length)."""

    tally: TextTally
    lengths: array[int]  # by the share's id: the block's length less its id; -1: not printed


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
