"""One file in, its report (text, the JSON document, JSON lines, a Zeek conn.log) or its
summary out: in this process, or, for the JSON document or the text report of a big file,
in shares (see analyzer.parallel)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from analyzer.collector import fewer_collections
from analyzer.files import is_regular_file, size_or_zero
from analyzer.output.progress import ProgressLine
from analyzer.parallel.file_spans import FileSpan, Rendered
from analyzer.parallel.in_shares import render_in_shares
from analyzer.parallel.options import AnalyzeOptions
from analyzer.sidecar import sidecar_beside

if TYPE_CHECKING:
    from analyzer.analysis import FileStream

# Below this a file is read faster by one process than the others take to start and read it too.
SHARE_ABOVE_BYTES = 16 << 20


def render_file(path: str, options: AnalyzeOptions, out: TextIO) -> Rendered:
    """Write one file's report or summary to `out`; returns its warnings and span. Raises UserError
    for a file that cannot be read (`out` untouched).

    Every form but JSON lines is written once the file has been read to its end; JSON lines
    are written as the connections end (a file that fails part way keeps the lines written).
    With options.jobs above 1, the JSON document or the text report of a big file
    (SHARE_ABOVE_BYTES), read by the built-in decoder without a sidecar, is made by that
    many processes, each analyzing a share of the connections (the same bytes as one
    process). JSON lines never are: a share numbers its connections only once the whole
    file has been read, and the lines are to come out before that, from one process; nor
    is a report of only some connections (--only: one process writes fewer lines), nor a
    summary (its table of the busiest sources, bounded, is not one process's once added up)."""
    from analyzer.analysis import stream_file

    sidecar = sidecar_beside(path) if options.use_sidecar else None
    if (
        options.jobs > 1
        and options.format in ("json", "text")
        and not options.summary
        and options.only is None
        and options.decoder == "fast"
        and sidecar is None
        and _big(path)
    ):
        return render_in_shares(path, options, out)
    line = ProgressLine.for_file(path, sys.stderr) if options.progress else None
    try:
        with fewer_collections():
            stream = stream_file(path, options.decoder, sidecar, line, timeouts=options.timeouts)
            _write(stream, options, out)
    finally:
        if line is not None:
            line.done()
    return Rendered(stream.stats.warnings, FileSpan.of(stream.stats))


def _write(stream: FileStream, options: AnalyzeOptions, out: TextIO) -> None:
    only = list(options.only) if options.only is not None else None
    if options.summary:
        from analyzer.output.summary import write_summary

        write_summary(stream, out, as_json=options.json)
    elif options.format == "json":
        from analyzer.output.json_report import write_document

        write_document(stream, out, only)
    elif options.format == "jsonl":
        from analyzer.output.jsonl_report import write_lines

        write_lines(stream, out, flush=not is_regular_file(out), only=only)
    elif options.format == "conn":
        from analyzer.output.conn_log import write_conn_log

        write_conn_log(stream, out, only)
    else:
        from analyzer.output.text_report import write_text

        write_text(stream, out, only, options.show_all)


def _big(path: str) -> bool:
    return size_or_zero(path) >= SHARE_ABOVE_BYTES
