"""Many files: each analyzed by one function, here, in worker processes (`--jobs`), or
mapped over a Dask bag on a cluster (the optional `dask` extra).

`render_file` is that function: one file in, its report (text or the JSON document) out.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import io
import json
import multiprocessing
import os
import signal
import sys
import tempfile
from array import array
from collections.abc import Iterable, Iterator
from multiprocessing.connection import Connection
from typing import Any, BinaryIO, NamedTuple, TextIO

from analyzer.errors import UserError
from analyzer.interrupts import raise_interrupt
from analyzer.output.progress import ProgressLine
from analyzer.output.shares import ShareIndex, file_ids, positions, write_at, write_placed
from analyzer.output.spool import IdOrderedSpool
from analyzer.sidecar import sidecar_beside


def render_file(path: str, as_json: bool, decoder: str, use_sidecar: bool, out: TextIO,
                progress: bool = False, processes: int = 1) -> list[str]:  # fmt: skip
    """Write one file's report to `out` once the file has been read to its end; returns
    its warnings. Raises UserError for a file that cannot be read (`out` untouched).
    processes: a JSON report of a big file (SHARE_ABOVE_BYTES) is made by this many
    processes, each analyzing a share of the connections (same bytes as one process)."""
    from analyzer.analysis import stream_file
    from analyzer.output.json_report import write_document
    from analyzer.output.text_report import write_text

    sidecar = sidecar_beside(path) if use_sidecar else None
    if (
        processes > 1
        and as_json
        and decoder == "fast"
        and sidecar is None
        and _size(path) >= SHARE_ABOVE_BYTES
    ):
        return _render_in_shares(path, processes, out, progress)
    line = ProgressLine(path, _size(path), sys.stderr) if progress else None
    try:
        with fewer_collections():
            stream = stream_file(path, decoder, sidecar, line)
            (write_document if as_json else write_text)(stream, out)
    finally:
        if line is not None:
            line.done()
    return stream.stats.warnings


# The most processes `analyze` starts unless told (--jobs): every process of a big file
# reads and checks every packet header, and carries an interpreter of its own (50-100 MB),
# so past a handful the scanning and the memory grow while the analysis left to share does not.
DEFAULT_JOBS_LIMIT = 8


def default_jobs() -> int:
    """The CPUs this process may run on (its affinity, as taskset or a container sets it),
    at most DEFAULT_JOBS_LIMIT."""
    return min(len(os.sched_getaffinity(0)), DEFAULT_JOBS_LIMIT)


# Below this a file is read faster by one process than the others take to start and read it too.
SHARE_ABOVE_BYTES = 16 << 20


class ShareReport(NamedTuple):
    head: str  # the document's head and UDP flows: only from share 0 (the same in every share)
    udp: str
    warnings: list[str]
    error: str | None
    index: ShareIndex  # where its lines stand among all (see output.shares)


class Placement(NamedTuple):
    ids: array[int]  # the file's id of each of the share's connections
    where: array[int]  # by file id: where its part of the document goes
    output: int | None  # the output's descriptor, to write at those offsets; None: into the pipe


def _analyzed_share(
    path: str, index: int, count: int, progress: bool
) -> tuple[ShareReport, IdOrderedSpool | None]:
    """One process's share of a big file's JSON report (see decode.Share): every process
    reads the whole file and analyzes its share's connections, numbered among themselves
    and spooled."""
    from analyzer.analysis import stream_file
    from analyzer.decode import Share
    from analyzer.output.json_report import document_ends, spool_connections

    line = ProgressLine(path, _size(path), sys.stderr) if progress else None
    lines = ShareIndex()
    try:
        with fewer_collections():
            stream = stream_file(path, "fast", None, line, Share(index, count))
            spool = spool_connections(stream, lines)
        try:
            head, udp = document_ends(stream) if index == 0 else ("", "")
        except BaseException:
            spool.close()
            raise
    except UserError as error:
        return ShareReport("", "", [], str(error), lines), None
    finally:
        if line is not None:
            line.done()
    return ShareReport(head, udp, stream.stats.warnings, None, lines), spool


def _share_process(path: str, index: int, count: int, progress: bool, parent: Connection,
                   pipe: int, inherited: list[int]) -> None:  # fmt: skip
    """A share's process: it sends its report to `parent`, is told where its lines go
    (Placement), writes them there (into the output, or into `pipe` for the parent to
    copy), and says it is done (None). What the system refuses it on the way (OSError) it
    sends instead, for the parent to raise.
    Ctrl-C is the parent's to answer (it ends its shares with SIGTERM, which ends this one
    as an interrupt would while it analyzes). `inherited`: the other shares' pipes, closed
    here so that a share whose parent is gone meets a broken pipe instead of waiting for a
    reader."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, raise_interrupt)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPPING)
    for descriptor in inherited:
        os.close(descriptor)
    # The parent stopped (also while this one cleaned up) or is gone: it tells why.
    with contextlib.suppress(KeyboardInterrupt, EOFError, BrokenPipeError, ConnectionResetError):
        _serve_share(path, index, count, progress, parent, pipe)


def _serve_share(path: str, index: int, count: int, progress: bool, parent: Connection, pipe: int) -> None:
    spool = None
    try:
        try:
            report, spool = _analyzed_share(path, index, count, progress)
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
                write_placed(spool, report.index, placement.ids, placement.where, placement.output)
            else:
                with open(pipe, "wb", buffering=_PIPE_BYTES) as out:
                    write_placed(spool, report.index, placement.ids, placement.where, out)
        except OSError as error:
            parent.send(error)
        else:
            parent.send(None)
    finally:
        parent.close()
        if spool is not None:
            spool.close()


_STOPPING = {signal.SIGINT, signal.SIGTERM}

# What a share writes ahead of the parent's copy: Linux's pipes hold 64 KiB unless widened
# (up to fs.pipe-max-size, 1 MiB by default); a few lines at a time would have shares and
# parent take turns.
_PIPE_BYTES = 1 << 20


def _share_pipe() -> tuple[int, int]:
    """(read end, write end) of a pipe as wide as it may be made, up to _PIPE_BYTES."""
    read, write = os.pipe()
    with contextlib.suppress(OSError):
        fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    return read, write


def _placeable(out: TextIO) -> int | None:
    """`out`'s file descriptor if shares can write into it at offsets themselves: a file,
    not a pipe, a terminal, or a file opened to append (every write goes to its end)."""
    try:
        descriptor = out.fileno()
        if fcntl.fcntl(descriptor, fcntl.F_GETFL) & os.O_APPEND:
            return None
        os.lseek(descriptor, 0, os.SEEK_CUR)
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return None
    return descriptor


def _render_in_shares(path: str, count: int, out: TextIO, progress: bool) -> list[str]:
    from analyzer.output.json_report import document_frame

    context = multiprocessing.get_context("fork")
    connections: list[Connection] = []
    pipes: list[BinaryIO] = []  # each share's lines when they come through the parent
    processes = []
    finished = False
    try:
        # Blocked until both sides have their handlers: a Ctrl-C meanwhile waits, and is not lost.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING)
        try:
            for index in range(count):
                connection, share_end = context.Pipe()
                connections.append(connection)
                read, write = _share_pipe()
                pipes.append(open(read, "rb", buffering=_PIPE_BYTES))  # noqa: SIM115
                inherited = [pipe.fileno() for pipe in pipes]
                process = context.Process(
                    target=_share_process,
                    args=(path, index, count, progress and index == 0, share_end, write, inherited),
                    daemon=True,
                )
                try:
                    process.start()
                finally:
                    share_end.close()
                    os.close(write)
                processes.append(process)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        reports = [
            _received(path, index, connection, "a report") for index, connection in enumerate(connections)
        ]
        errors = [report.error for report in reports if report.error is not None]
        if errors:
            raise UserError(errors[0])
        indexes = [report.index for report in reports]
        ids, owners = file_ids(indexes)
        opening, closing = document_frame(reports[0].head, reports[0].udp)
        output = _placeable(out)
        if output is not None:
            out.flush()
            start, beginning = os.lseek(output, 0, os.SEEK_CUR), opening.encode()
            where = positions(indexes, ids, owners, start + len(beginning))
        else:
            where = positions(indexes, ids, owners, 0)
        for share, connection in enumerate(connections):
            connection.send(Placement(ids[share], where, output))
        if output is not None:
            write_at(output, beginning, start)
        else:
            out.write(opening)
            for file_id, share in enumerate(owners):
                size = where[file_id + 1] - where[file_id]
                part = pipes[share].read(size)
                if len(part) != size:
                    raise UserError(
                        f"{path}: the process analyzing share {share} stopped before its last line"
                    )
                out.write(part.decode())
        for index, connection in enumerate(connections):
            _received(path, index, connection, "its lines")
        if output is not None:
            ending = closing.encode()
            write_at(output, ending, where[-1])
            os.lseek(output, where[-1] + len(ending), os.SEEK_SET)
        else:
            out.write(closing)
        finished = True
    finally:
        # Stopped when the report will not be made; when it is, left to end (their spools
        # closed) and waited for.
        for process in processes if not finished else ():
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join()
        for connection in connections:
            connection.close()
        for pipe in pipes:
            pipe.close()
    return reports[0].warnings


def _received(path: str, index: int, connection: Connection, what: str) -> Any:
    """A share's next message; what the system refused it, raised here."""
    try:
        message = connection.recv()
    except EOFError:
        raise UserError(f"{path}: the process analyzing share {index} ended without sending {what}") from None
    if isinstance(message, OSError):
        raise message
    return message


# Objects allocated between two passes of the cyclic collector over the youngest generation
# (Python's default: 700).
YOUNG_COLLECTION_EVERY = 100_000


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """The analysis allocates millions of small objects (segments, steps) that live until
    their connection is over and form no reference cycles: every pass of the cyclic
    collector over them is wasted (a fifth of the time on a 1M-packet file). Collect
    rarely while a file is analyzed; reference counting still frees everything."""
    before = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


@contextlib.contextmanager
def _handed_over_by_name(suffix: str) -> Iterator[TextIO]:
    """A temporary file whose name is handed to another process or the caller, who removes
    it; removed here if making it fails or is interrupted: nothing is left behind."""
    with tempfile.NamedTemporaryFile("w", suffix=suffix, delete=False) as out:
        try:
            yield out
        except BaseException:
            os.unlink(out.name)
            raise


def render_to_file(path: str, as_json: bool, decoder: str, use_sidecar: bool,
                   progress: bool = False) -> tuple[str | None, str | None, list[str]]:  # fmt: skip
    """render_file into a temporary file, here or in a worker process (picklable):
    (report file, error, warnings), one of several files' reports to put in order. A big
    report never sits in memory."""
    try:
        with _handed_over_by_name(".report") as out:
            warnings = render_file(path, as_json, decoder, use_sidecar, out, progress)
    except UserError as error:
        return None, str(error), []
    return out.name, None, warnings


def report_of(path: str, decoder: str = "fast", use_sidecar: bool = True) -> dict:
    """One file's JSON document, or {"file", "error"} for a file that cannot be read: what a
    Dask worker sends back (it may run on another machine, so no temporary file)."""
    out = io.StringIO()
    try:
        warnings = render_file(path, True, decoder, use_sidecar, out)
    except UserError as error:
        return {"file": path, "error": str(error)}
    document = json.loads(out.getvalue())
    document["warnings"] = warnings
    return document


def analyze_on_dask(paths: Iterable[str], client: object | None = None, decoder: str = "fast") -> dict:
    """report_of mapped over a Dask bag, one partition a file: {"files": [document, ...]} in
    the order given. `client`: a dask.distributed Client (its cluster runs the bag); None
    uses Dask's default scheduler. Needs the `dask` extra (pip install 'handshake-analyzer[dask]')."""
    try:
        import dask.bag as bag
    except ImportError:
        raise UserError("Dask is not installed: pip install 'handshake-analyzer[dask]'") from None
    paths = list(paths)
    files = bag.from_sequence(paths, npartitions=max(len(paths), 1)).map(report_of, decoder=decoder)
    documents = client.compute(files).result() if client is not None else files.compute()
    return {"files": documents}


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
