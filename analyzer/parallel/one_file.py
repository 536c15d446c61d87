"""One file in, its report (text or the JSON document) out: in this process, or, for the
JSON report of a big file, in shares (see analyzer.parallel)."""

from __future__ import annotations

import sys
from typing import TextIO

from analyzer.collector import fewer_collections
from analyzer.files import size_or_zero
from analyzer.output.progress import ProgressLine
from analyzer.parallel.in_shares import render_in_shares
from analyzer.parallel.options import AnalyzeOptions
from analyzer.sidecar import sidecar_beside

# Below this a file is read faster by one process than the others take to start and read it too.
SHARE_ABOVE_BYTES = 16 << 20


def render_file(path: str, options: AnalyzeOptions, out: TextIO) -> list[str]:
    """Write one file's report to `out` once the file has been read to its end; returns
    its warnings. Raises UserError for a file that cannot be read (`out` untouched).
    With options.jobs above 1, the JSON report of a big file (SHARE_ABOVE_BYTES), read by
    the built-in decoder without a sidecar, is made by that many processes, each
    analyzing a share of the connections (the same bytes as one process)."""
    from analyzer.analysis import stream_file
    from analyzer.output.json_report import write_document
    from analyzer.output.text_report import write_text

    sidecar = sidecar_beside(path) if options.use_sidecar else None
    if options.jobs > 1 and options.json and options.decoder == "fast" and sidecar is None and _big(path):
        return render_in_shares(path, options, out)
    line = ProgressLine.for_file(path, sys.stderr) if options.progress else None
    try:
        with fewer_collections():
            stream = stream_file(path, options.decoder, sidecar, line, timeouts=options.timeouts)
            (write_document if options.json else write_text)(stream, out)
    finally:
        if line is not None:
            line.done()
    return stream.stats.warnings


def _big(path: str) -> bool:
    return size_or_zero(path) >= SHARE_ABOVE_BYTES
