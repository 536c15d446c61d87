"""One share's process: it analyzes its share of a big file and writes its lines where the
parent says (the share's side of the table in analyzer.parallel)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from multiprocessing.connection import Connection

from analyzer.collector import fewer_collections
from analyzer.connections import Timeouts
from analyzer.errors import UserError
from analyzer.interrupts import STOP_SIGNALS, raise_interrupt
from analyzer.output.progress import ProgressLine
from analyzer.output.spool import IdOrderedSpool
from analyzer.parallel.messages import PIPE_BYTES, Placement, ShareReport, Written
from analyzer.parallel.partition import Share
from analyzer.parallel.placement import ShareLines, write_placed


def share_process(path: str, share: Share, timeouts: Timeouts, progress: bool, parent: Connection,
                  pipe: int, inherited: list[int]) -> None:  # fmt: skip
    """A share's process (started with STOP_SIGNALS blocked by the parent, unblocked here
    once its handlers are set): it sends its ShareReport to `parent`, is told where its lines go (Placement), writes them there (into the output,
    or into `pipe` for the parent to copy), and says it is done (Written). What the system
    refuses it on the way (OSError) it sends instead, for the parent to raise.
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
        _serve(path, share, timeouts, progress, parent, pipe)


def _serve(
    path: str, share: Share, timeouts: Timeouts, progress: bool, parent: Connection, pipe: int
) -> None:
    spool = None
    try:
        try:
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
        placement: Placement = parent.recv()
        try:
            if placement.output is not None:
                write_placed(spool, noted, placement.ids, placement.where, placement.output)
            else:
                with open(pipe, "wb", buffering=PIPE_BYTES) as out:
                    write_placed(spool, noted, placement.ids, placement.where, out)
        except OSError as error:
            parent.send(error)
        else:
            parent.send(Written())
    finally:
        parent.close()
        if spool is not None:
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
        ShareReport(head, udp, udp_count, stream.stats.warnings, None, noted.index, stream.scans),
        noted,
        spool,
    )
