"""Beyond one machine: the per-file function mapped over a Dask bag on a local cluster of
worker processes gives the documents one process gives, in the order asked."""

from __future__ import annotations

import io
import json

import pytest
from conftest import CAPTURES

from analyzer.parallel.on_dask import analyze_on_dask
from analyzer.parallel.one_file import render_file
from analyzer.parallel.options import AnalyzeOptions

distributed = pytest.importorskip(
    "distributed", reason="the dask extra is not installed (make setup installs it)"
)

FILES = [str(CAPTURES / f"{name}.pcap") for name in ("refused", "handshake-ipv6", "syn-timeout", "udp")]


@pytest.mark.slow
def test_a_local_dask_cluster_gives_what_one_process_gives(tmp_path) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"\x00" * 64)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        merged = analyze_on_dask([*FILES, str(bad)], client)
    *entries, failed = merged["files"]
    connections, udp = [], []
    for path, entry in zip(FILES, entries, strict=True):
        out = io.StringIO()
        render_file(path, AnalyzeOptions(format="json"), out)
        document = json.loads(out.getvalue())
        assert entry == document["files"][0]
        connections += document["connections"]
        udp += document["udp"]
    # One shape: the files' connections and flows one after another, as one file's are.
    assert merged["connections"] == connections and merged["udp"] == udp
    assert failed["file"] == str(bad) and "not a pcap" in failed["error"]
