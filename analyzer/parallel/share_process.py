"""One share's process: it analyzes its share of a big file and writes its lines where the
parent says (the share's side of the table in analyzer.parallel)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from array import array
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

from analyzer.collector import fewer_collections
from analyzer.connections import Timeouts
from analyzer.errors import UserError
from analyzer.interrupts import STOP_SIGNALS, raise_interrupt
from analyzer.output.progress import ProgressLine
from analyzer.output.spool import IdOrderedSpool
from analyzer.parallel.file_spans import FileSpan
from analyzer.parallel.messages import (
    PIPE_BYTES,
    Placement,
    ScanKeys,
    ShareReport,
    ShareTally,
    TextCounts,
    TextHead,
    Written,
)
from analyzer.parallel.partition import Share
from analyzer.parallel.placement import (
    Parts,
    ShareIndex,
    ShareLines,
    placed_blocks,
    placed_parts,
    write_placed,
)
from analyzer.timefmt import Clock

if TYPE_CHECKING:
    from analyzer.output.text_report import TextReport


@dataclass(frozen=True)
class ShareForm:
    """What the shares make: the JSON document's lines, or the text report's blocks (with
    --all: those of the scans' probes too)."""

    text: bool = False
    show_all: bool = False


def share_process(path: str, share: Share, form: ShareForm, timeouts: Timeouts, progress: bool,
                  parent: Connection, pipe: int, inherited: list[int]) -> None:  # fmt: skip
    """A share's process (started with STOP_SIGNALS blocked by the parent, unblocked here
    once its handlers are set): it sends its ShareReport to `parent`, for the text report
    answers ScanKeys with its ShareTally, is told where its lines go (Placement), writes
    them there (into the output, or into `pipe` for the parent to copy), and says it is
    done (Written). What the system refuses it on the way (OSError) it sends instead, for
    the parent to raise.
    Ctrl-C is the parent's to answer (it ends its shares with SIGTERM, which ends this one
    as an interrupt would while it analyzes). `inherited`: the other shares' pipes, closed
    here so that a share whose parent is gone meets a broken pipe instead of waiting for a
    reader."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, raise_interrupt)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    for descriptor in inherited:
        os.close(descriptor)
    # The parent stopped (also while this one cleaned up) or is gone: it tells why.
    with contextlib.suppress(KeyboardInterrupt, EOFError, BrokenPipeError, ConnectionResetError):
        _serve(path, share, form, timeouts, progress, parent, pipe)


def _serve(
    path: str,
    share: Share,
    form: ShareForm,
    timeouts: Timeouts,
    progress: bool,
    parent: Connection,
    pipe: int,
) -> None:
    spool: IdOrderedSpool | None = None
    text: TextReport | None = None
    noted: ShareLines | ShareIndex
    try:
        try:
            if form.text:
                report, text, noted = _analyzed_text(path, share, form, timeouts, progress)
                spool = text.blocks if report.error is None else None
            else:
                report, noted, spool = _analyzed(path, share, timeouts, progress)
        except OSError as error:  # the system refused something (a full disk under the spool)
            parent.send(error)
            return
        finally:
            # From here nothing needs undoing (the spool is a file without a name): stopped,
            # the process just ends, wherever it is, without a word.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        parent.send(report)
        if spool is None:
            return
        if text is not None:
            assert isinstance(noted, ShareIndex)
            try:
                lengths = _tallied(text, noted, parent)
            except OSError as error:  # reading its spool back
                parent.send(error)
                return
        placement: Placement = parent.recv()
        parts: Parts
        if text is not None:
            parts = lambda blocks: placed_blocks(blocks, lengths, placement.ids, placement.where)  # noqa: E731
        else:
            assert isinstance(noted, ShareLines)
            lines = noted
            parts = lambda items: placed_parts(items, lines, placement.ids, placement.where)  # noqa: E731
        try:
            if placement.output is not None:
                write_placed(spool, parts, placement.output)
            else:
                with open(pipe, "wb", buffering=PIPE_BYTES) as out:
                    write_placed(spool, parts, out)
        except OSError as error:
            parent.send(error)
        else:
            parent.send(Written())
    finally:
        parent.close()
        if text is not None:
            text.close()
        elif spool is not None:
            spool.close()


def _analyzed(
    path: str, share: Share, timeouts: Timeouts, progress: bool
) -> tuple[ShareReport, ShareLines, IdOrderedSpool | None]:
    """The share's report, what it noted of its lines, and the lines: the process reads
    the whole file and analyzes its share's connections, numbered among themselves and
    spooled."""
    from analyzer.analysis import stream_file
    from analyzer.output.json_report import document_ends, spool_connections

    line = ProgressLine.for_file(path, sys.stderr) if progress else None
    noted = ShareLines()
    try:
        with fewer_collections():
            stream = stream_file(path, "fast", None, line, share, timeouts)
            spool = spool_connections(stream, noted)
        try:
            head, udp, udp_count = document_ends(stream) if share.index == 0 else ({}, "", 0)
        except BaseException:
            spool.close()
            raise
    except UserError as error:
        return ShareReport({}, "", 0, [], str(error), noted.index, None), noted, None
    finally:
        if line is not None:
            line.done()
    return (
        ShareReport(
            head,
            udp,
            udp_count,
            stream.stats.warnings,
            None,
            noted.index,
            stream.scans,
            None,
            stream.links,
            FileSpan.of(stream.stats),
        ),
        noted,
        spool,
    )


def _analyzed_text(
    path: str, share: Share, form: ShareForm, timeouts: Timeouts, progress: bool
) -> tuple[ShareReport, TextReport, ShareIndex]:
    """The share's report and its part of the text report (its connections' blocks, by
    its own ids, and counts): the process reads the whole file and analyzes its share's
    connections, numbered among themselves."""
    from analyzer.analysis import stream_file
    from analyzer.output.text_report import TextReport, add_stream

    line = ProgressLine.for_file(path, sys.stderr) if progress else None
    firsts = ShareIndex()
    text = TextReport(None, form.show_all)
    try:
        with fewer_collections():
            stream = stream_file(path, "fast", None, line, share, timeouts)
            add_stream(text, stream, firsts)
        head = None
        if share.index == 0:
            udp = stream.udp()
            # Frame 1's time, which one process counts from: the first TCP segment may be
            # another share's, and this one's stream has then no origin.
            origin = stream.stats.origin or stream.origin or Clock()
            head = TextHead(stream.file, stream.stats, udp, stream.application(udp), origin)
    except UserError as error:
        text.close()
        return ShareReport({}, "", 0, [], str(error), firsts, None), text, firsts
    except BaseException:
        text.close()
        raise
    finally:
        if line is not None:
            line.done()
    counts = TextCounts(text.summary, head)
    report = ShareReport(
        {},
        "",
        0,
        stream.stats.warnings,
        None,
        firsts,
        stream.scans,
        counts,
        stream.links,
        FileSpan.of(stream.stats),
    )
    return report, text, firsts


def _tallied(text: TextReport, firsts: ShareIndex, parent: Connection) -> array[int]:
    """Told the file's scans and floods (ScanKeys), the share sends what its connections add
    to the overview and the length of each block it prints (ShareTally); returns those."""
    from analyzer.output.text_report import ScanNumbers, block_length

    keys: ScanKeys = parent.recv()
    numbers = ScanNumbers(keys.keys)
    lengths = array("q", [-1]) * len(firsts.firsts)
    for ident, length in text.blocks.id_lengths():
        if text.printed(ident, numbers):
            lengths[ident] = block_length(length, ident)
    parent.send(ShareTally(text.tally(numbers), lengths))
    return lengths
