"""Many files: each analyzed by one function, here, in worker processes (`--jobs`), or
mapped over a Dask bag on a cluster (the optional `dask` extra).

`render_file` is that function: one file in, its report (text or the JSON document) out.
"""

from __future__ import annotations

import gc
import io
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TextIO

from analyzer.errors import UserError
from analyzer.sidecar import sidecar_beside


def render_file(path: str, as_json: bool, decoder: str, use_sidecar: bool, out: TextIO,
                progress: bool = False) -> list[str]:  # fmt: skip
    """Write one file's report to `out` once the file has been read to its end; returns
    its warnings. Raises UserError for a file that cannot be read (`out` untouched)."""
    from analyzer.analysis import stream_file
    from analyzer.output.json_report import write_document
    from analyzer.output.progress import ProgressLine
    from analyzer.output.text_report import write_text

    sidecar = sidecar_beside(path) if use_sidecar else None
    line = ProgressLine(path, _size(path), sys.stderr) if progress else None
    try:
        with fewer_collections():
            stream = stream_file(path, decoder, sidecar, line)
            (write_document if as_json else write_text)(stream, out)
    finally:
        if line is not None:
            line.done()
    return stream.stats.warnings


# Objects allocated between two passes of the cyclic collector over the youngest generation
# (Python's default: 700).
YOUNG_COLLECTION_EVERY = 100_000


@contextmanager
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


def render_to_file(path: str, as_json: bool, decoder: str, use_sidecar: bool,
                    progress: bool = False) -> tuple[str | None, str | None, list[str]]:  # fmt: skip
    """render_file into a temporary file, here or in a worker process (picklable):
    (report file, error, warnings). A big report never sits in memory."""
    with tempfile.NamedTemporaryFile("w", suffix=".report", delete=False) as out:
        try:
            warnings = render_file(path, as_json, decoder, use_sidecar, out, progress)
        except UserError as error:
            os.unlink(out.name)
            return None, str(error), []
        except BaseException:
            os.unlink(out.name)  # interrupted: no report file left behind
            raise
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
