"""Beyond one machine: the per-file function mapped over a Dask bag (the optional `dask`
extra: pip install 'handshake-analyzer[dask]')."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any

from analyzer.errors import UserError
from analyzer.output.json_report import merge_documents
from analyzer.parallel.one_file import render_file
from analyzer.parallel.options import AnalyzeOptions


def report_of(path: str, decoder: str = "fast", use_sidecar: bool = True) -> dict:
    """One file's JSON document, or {"file", "error"} for a file that cannot be read: what a
    Dask worker sends back (it may run on another machine, so no temporary file)."""
    out = io.StringIO()
    try:
        warnings = render_file(
            path, AnalyzeOptions(format="json", decoder=decoder, use_sidecar=use_sidecar), out
        ).warnings
    except UserError as error:
        return {"file": path, "error": str(error)}
    document = json.loads(out.getvalue())
    document["warnings"] = warnings
    return document


def analyze_on_dask(paths: Iterable[str], client: Any = None, decoder: str = "fast") -> dict:
    """report_of mapped over a Dask bag, one partition a file, merged in the order given
    into one document of the shape of one file's (json_report.merge_documents; a file that
    cannot be read is its {"file", "error"} among the "files"). `client`: a dask.distributed Client (its cluster runs the bag); None
    uses Dask's default scheduler. Needs the `dask` extra (pip install 'handshake-analyzer[dask]')."""
    try:
        import dask.bag as bag
    except ImportError:
        raise UserError("Dask is not installed: pip install 'handshake-analyzer[dask]'") from None
    paths = list(paths)
    files = bag.from_sequence(paths, npartitions=max(len(paths), 1)).map(report_of, decoder=decoder)
    documents = client.compute(files).result() if client is not None else files.compute()
    return merge_documents(documents)
