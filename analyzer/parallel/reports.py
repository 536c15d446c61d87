"""`handshake analyze`'s output: the reports of the files asked for, in the order given.
One file's goes straight to the output (made in shares when it is big: see one_file);
several are analyzed in a pool of processes, each into a temporary file, and copied out
in order. JSON lines, which are written as the connections end, keep that where they can:
the first file's lines go straight to the output (with one process, every file's, in turn)
while the pool writes the others' into temporary files."""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import TextIO, cast

from analyzer.errors import UserError
from analyzer.parallel import one_file
from analyzer.parallel.file_spans import FileSpan, Rendered, cut_captures
from analyzer.parallel.options import AnalyzeOptions


def write_reports(paths: list[str], options: AnalyzeOptions, out: TextIO, err: TextIO) -> bool:
    """Every file's report into `out`; with several, JSON documents merged into one of the
    same shape (output/json_report.MergedDocument), summaries as {"files": [...]}, the other
    forms one after another (summaries in text a blank line apart).
    A file that cannot be read is one line on `err` and leaves nothing in `out`, and the
    others' reports are still written; so is each warning. Returns whether every file was
    read."""
    if len(paths) == 1:
        return _write_one(paths[0], options, out, err) is not None
    return _write_several(paths, options, out, err)


def _write_one(path: str, options: AnalyzeOptions, out: TextIO, err: TextIO) -> FileSpan | None:
    """One file's report straight into `out`: nothing is written before the file has been
    read to its end (but JSON lines, written as the connections end), so a file that cannot
    be read leaves `out` untouched. Returns the file's span; None if it cannot be read."""
    try:
        rendered = one_file.render_file(path, options, out)
    except UserError as error:
        err.write(f"handshake: {error}\n")
        return None
    if options.json:
        out.write("\n")
    _tell_warnings(path, rendered.warnings, err)
    return rendered.span


def _write_several(paths: list[str], options: AnalyzeOptions, out: TextIO, err: TextIO) -> bool:
    """Each file analyzed by one process (options.jobs of them at once) into a temporary
    file, copied out in the order given; a progress line only while they are read one at
    a time. JSON lines are written straight to `out` by this process, file by file, where
    no file before is left to copy: the first file, and with one process every file. Last,
    a warning for the files that follow one another as parts of one capture (file_spans)."""
    one_process = dataclasses.replace(options, jobs=1, progress=options.progress and options.jobs == 1)
    streamed = options.format == "jsonl"
    direct = [streamed and (options.jobs == 1 or index == 0) for index in range(len(paths))]
    pooled = [path for path, here in zip(paths, direct, strict=True) if not here]
    futures: list[concurrent.futures.Future] = []
    if options.jobs > 1 and pooled:
        # While this process streams the first file's lines, one process fewer in the pool.
        workers = max(1, min(options.jobs - (1 if streamed else 0), len(pooled)))
        pool = concurrent.futures.ProcessPoolExecutor(max_workers=workers)
        futures = [pool.submit(render_to_file, path, one_process) for path in pooled]
        outcomes: Iterator[Outcome] = (future.result() for future in futures)
    else:
        pool = None
        outcomes = (render_to_file(path, one_process) for path in pooled)
    from analyzer.output.json_report import MergedDocument

    all_read, written = True, 0
    spans: list[FileSpan | None] = []
    merged = MergedDocument(out) if options.json and not options.summary else None
    if options.json and merged is None:
        out.write('{"files":[')
    try:
        # In file order; a file that fails leaves nothing half-written and the others count.
        for path, here in zip(paths, direct, strict=True):
            if here:
                spans.append(_write_one(path, one_process, out, err))
                all_read = spans[-1] is not None and all_read
                continue
            report, error, rendered = next(outcomes)
            spans.append(rendered.span)
            if report is None:
                err.write(f"handshake: {error}\n")
                all_read = False
                continue
            _tell_warnings(path, rendered.warnings, err)
            if written and merged is None:
                out.write(",\n" if options.json else "\n" if options.summary else "")
            try:
                with open(report) as text:
                    if merged is not None:
                        merged.add(text)
                    else:
                        shutil.copyfileobj(text, out)
            finally:
                os.unlink(report)
            written += 1
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
            # Reports the loop never got to (it was interrupted): their files go too.
            for future in futures:
                if future.done() and not future.cancelled() and future.exception() is None:
                    report = future.result()[0]
                    if report is not None and os.path.exists(report):
                        os.unlink(report)
    if merged is not None:
        merged.close()
        out.write("\n")
    elif options.json:
        out.write("]}\n")
    for warning in cut_captures(paths, spans):
        err.write(f"handshake: warning: {warning}\n")
    return all_read


def _tell_warnings(path: str, warnings: list[str], err: TextIO) -> None:
    for warning in warnings:
        err.write(f"handshake: {path}: warning: {warning}\n")


# One of several files' reports: (its temporary file, None) or (None, why it cannot be read),
# and what render_file returned besides.
Outcome = tuple[str | None, str | None, Rendered]


def render_to_file(path: str, options: AnalyzeOptions) -> Outcome:
    """render_file into a temporary file, here or in a worker process (picklable), one of
    several files' reports to put in order. A big report never sits in memory."""
    try:
        with _handed_over_by_name(".report") as out:
            rendered = one_file.render_file(path, options, out)
    except UserError as error:
        return None, str(error), Rendered([], None)
    return out.name, None, rendered


@contextlib.contextmanager
def _handed_over_by_name(suffix: str) -> Iterator[TextIO]:
    """A temporary file whose name is handed to another process or the caller, who removes
    it; removed here if making it fails or is interrupted: nothing is left behind."""
    with tempfile.NamedTemporaryFile("w", suffix=suffix, delete=False) as out:
        try:
            yield cast(TextIO, out)  # a text file, typed as the wrapper around it
        except BaseException:
            os.unlink(out.name)
            raise
