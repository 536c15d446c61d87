"""One big file's JSON document or text report made by several processes, each analyzing
a share of its connections: the parent's side of the table in analyzer.parallel."""

from __future__ import annotations

import codecs
import contextlib
import fcntl
import multiprocessing
import os
import signal
import tempfile
from array import array
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, BinaryIO, TextIO, TypeVar

from analyzer.errors import UserError
from analyzer.interrupts import STOP_SIGNALS, current_mask
from analyzer.parallel.file_spans import Rendered
from analyzer.parallel.messages import PIPE_BYTES, Placement, ScanKeys, ShareReport, ShareTally, Written
from analyzer.parallel.options import AnalyzeOptions
from analyzer.parallel.partition import Share
from analyzer.parallel.placement import file_ids, positions, write_at
from analyzer.parallel.share_process import ShareForm, share_process

if TYPE_CHECKING:
    from analyzer.findings.links import Links
    from analyzer.findings.scans import ScanFinding


def render_in_shares(path: str, options: AnalyzeOptions, out: TextIO) -> Rendered:
    """The file's JSON document or text report into `out` (the same bytes as one process
    writes), made by options.jobs share processes (share 0 shows the progress line);
    returns its warnings and span. Raises UserError for a file that cannot be read (`out` untouched)."""
    count = options.jobs
    form = ShareForm(text=not options.json, show_all=options.show_all)
    # The temporary directory found now, once, by the parent (the shares, forked, inherit it):
    # Python finds it by writing a probe file of a random name there and removing it, and a
    # share interrupted between the two left that file behind (seen once under SIGTERM).
    tempfile.gettempdir()
    context = multiprocessing.get_context("fork")
    connections: list[Connection] = []
    pipes: list[BinaryIO] = []  # each share's lines when they come through the parent
    processes = []
    finished = False
    try:
        # Blocked until both sides have their handlers: a Ctrl-C meanwhile waits, and is not lost.
        mask = current_mask()
        try:
            signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
            for index in range(count):
                connection, share_end = context.Pipe()
                connections.append(connection)
                read, write = _share_pipe()
                pipes.append(open(read, "rb", buffering=PIPE_BYTES))  # noqa: SIM115
                inherited = [pipe.fileno() for pipe in pipes]
                process = context.Process(
                    target=share_process,
                    args=(
                        path,
                        Share(index, count),
                        form,
                        options.timeouts,
                        options.progress and index == 0,
                        share_end,
                        write,
                        inherited,
                    ),
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
            _received(path, index, connection, ShareReport, "a report")
            for index, connection in enumerate(connections)
        ]
        errors = [report.error for report in reports if report.error is not None]
        if errors:
            raise UserError(errors[0])
        # Each share counted its own connections' probes: the file's scans are their sum.
        scans = reports[0].scans
        assert scans is not None
        for report in reports[1:]:
            assert report.scans is not None
            scans.merge(report.scans)
        findings = scans.findings()
        if form.text:  # the shares tally their blocks meanwhile (a flood's: a million)
            from analyzer.output.text_report import ScanNumbers

            keys = ScanKeys(ScanNumbers.keys(findings))
            for connection in connections:
                connection.send(keys)
        indexes = [report.index for report in reports]
        ids, owners = file_ids(indexes)
        links = _file_links(reports, ids, findings)
        if form.text:
            opening, closing = _text_frame(path, reports, connections, ids, findings, links)
            between: Callable[[int], bytes] | None = _nothing_between
        else:
            opening, closing = _json_frame(reports, len(owners), findings, links)
            between = None
        output = _placeable(out)
        if output is not None:
            out.flush()
            start, beginning = os.lseek(output, 0, os.SEEK_CUR), opening.encode()
            where = positions(indexes, ids, owners, start + len(beginning), between)
        else:
            where = positions(indexes, ids, owners, 0, between)
        for share, connection in enumerate(connections):
            connection.send(Placement(ids[share], where, output))
        if output is not None:
            write_at(output, beginning, start)
        else:
            out.write(opening)
            for file_id, share in enumerate(owners):
                size = where[file_id + 1] - where[file_id]
                if not size:  # a text block folded into a scan
                    continue
                part = pipes[share].read(size)
                if len(part) != size:
                    raise UserError(
                        f"{path}: the process analyzing share {share} stopped before its last line"
                    )
                out.write(part.decode())
        for index, connection in enumerate(connections):
            _received(path, index, connection, Written, "its lines")
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
    return Rendered(reports[0].warnings, reports[0].span)


def _file_links(reports: list[ShareReport], ids: list[array[int]], scans: list[ScanFinding]) -> Links:
    """The file's links (findings/links.py): each share's, with the file's ids; the attempts
    of `scans` (the file's) left out."""
    found = None
    for report, numbers in zip(reports, ids, strict=True):
        assert report.links is not None
        report.links.renumber(numbers)
        if found is None:
            found = report.links
        else:
            found.merge(report.links)
    assert found is not None
    return found.findings(scans)


def _json_frame(
    reports: list[ShareReport], connection_count: int, findings: list[ScanFinding], links: Links
) -> tuple[str, str]:
    """What the JSON document has before its connections' lines and after them."""
    from analyzer.output.json_report import (
        document_frame,
        encoded_head,
        files_member,
        links_members,
        scan_to_dict,
    )

    head = {**reports[0].head, "scans": [scan_to_dict(scan) for scan in findings], **links_members(links)}
    files = files_member(head, connection_count, reports[0].udp_flow_count)
    return document_frame(encoded_head(head), reports[0].udp, files)


def _text_frame(
    path: str, reports: list[ShareReport], connections: list[Connection], ids: list[array[int]],
    findings: list[ScanFinding], links: Links,
) -> tuple[str, str]:  # fmt: skip
    """What the text report has before its connections' blocks and after them. The shares,
    told the file's scans (ScanKeys), answer with what their connections add to the
    overview, and the lengths of the blocks they print, which go into their indexes."""
    from analyzer.output.text_report import TextTally, head_lines, report_closing, report_opening

    tally = TextTally()
    for share, connection in enumerate(connections):
        answer = _received(path, share, connection, ShareTally, "its tally")
        tally.merge(answer.tally, ids[share])
        reports[share].index.lengths = answer.lengths
    counts = [report.text for report in reports]
    assert all(part is not None for part in counts)
    summary = counts[0].summary  # type: ignore[union-attr]
    for part in counts[1:]:
        summary.merge(part.summary)  # type: ignore[union-attr]
    head = counts[0].head  # type: ignore[union-attr]
    assert head is not None
    lines = head_lines(head.file, head.stats, summary.connections, head.udp, head.application, links)
    return report_opening(lines, summary, findings, tally, head.origin, None), report_closing(head.udp)


def _nothing_between(_file_id: int) -> bytes:
    return b""


def _share_pipe() -> tuple[int, int]:
    """(read end, write end) of a pipe as wide as it may be made, up to PIPE_BYTES."""
    read, write = os.pipe()
    with contextlib.suppress(OSError):
        fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    return read, write


def _placeable(out: TextIO) -> int | None:
    """`out`'s file descriptor if shares can write into it at offsets themselves: a file,
    not a pipe, a terminal, or a file opened to append (every write goes to its end), which
    takes UTF-8 (the shares write the bytes of UTF-8 text: into a file of another encoding
    the parent writes, through its encoder, as one process does)."""
    try:
        if codecs.lookup(out.encoding or "").name != "utf-8":
            return None
        descriptor = out.fileno()
        if fcntl.fcntl(descriptor, fcntl.F_GETFL) & os.O_APPEND:
            return None
        os.lseek(descriptor, 0, os.SEEK_CUR)
    except (OSError, ValueError, LookupError):  # io.UnsupportedOperation is both of the first two
        return None
    return descriptor


Message = TypeVar("Message")


def _received(path: str, index: int, connection: Connection, expected: type[Message], what: str) -> Message:
    """A share's next message, of the type expected; what the system refused it, raised here."""
    try:
        message = connection.recv()
    except EOFError:
        raise UserError(f"{path}: the process analyzing share {index} ended without sending {what}") from None
    if isinstance(message, OSError):
        raise message
    if not isinstance(message, expected):
        raise RuntimeError(f"share {index} sent {type(message).__name__} where {expected.__name__} was due")
    return message
