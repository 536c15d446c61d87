"""The streamed reports (each connection written out once it is over) say exactly what the
whole-file analysis says, in the same order, on every stored capture and corpus file."""

from __future__ import annotations

import io
import json

import pytest
from conftest import corpus_params, stored_captures

from analyzer.analysis import analyze_file, stream_file
from analyzer.output import spool
from analyzer.output.json_report import analysis_to_dict, write_document
from analyzer.output.text_report import analysis_text, write_text
from analyzer.sidecar import load_sidecar, sidecar_path_for

FILES = [*stored_captures(), *corpus_params(lambda p: p.stat().st_size < 2_000_000)]


@pytest.mark.parametrize("pcap", FILES, ids=lambda p: p.name)
def test_streamed_json_and_text_equal_the_whole_analysis(pcap, monkeypatch) -> None:
    monkeypatch.setattr(spool, "SPOOL_BYTES", 4096)  # most files spill to disk on the way
    path = sidecar_path_for(pcap)
    sidecar = load_sidecar(path) if path.exists() else None
    whole = analyze_file(str(pcap), sidecar=sidecar)
    streamed_json, streamed_text = io.StringIO(), io.StringIO()
    write_document(stream_file(str(pcap), sidecar=sidecar), streamed_json)
    write_text(stream_file(str(pcap), sidecar=sidecar), streamed_text)
    assert json.loads(streamed_json.getvalue()) == json.loads(json.dumps(analysis_to_dict(whole)))
    assert streamed_text.getvalue() == analysis_text(whole)


def test_reading_a_spool_back_holds_one_connection_at_a_time(monkeypatch, tmp_path) -> None:
    """Compiled, a generator expression would turn into a list of the whole report."""
    import tracemalloc

    monkeypatch.setattr(spool, "SPOOL_BYTES", 1 << 20)
    kept = spool.IdOrderedSpool()
    line = "x" * 10_000
    for ident in reversed(range(800)):  # 8 MB, on disk past the first megabyte
        kept.add(ident, line.encode())
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        with open(tmp_path / "report", "w") as out:
            for text in kept:
                out.write(text)
        for _ident, text in kept.items():
            out = text
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        kept.close()
    assert (tmp_path / "report").stat().st_size == 800 * len(line)
    assert peak < 200_000


def test_a_spool_on_disk_gives_back_every_text_in_id_order_also_after_more_was_added(monkeypatch) -> None:
    monkeypatch.setattr(spool, "SPOOL_BYTES", 1000)
    kept = spool.IdOrderedSpool()
    texts = {ident: f"{ident}:" + "y" * (ident * 37 % 900) for ident in range(300)}
    try:
        added = [ident for ident in sorted(texts, key=lambda ident: (ident * 7919) % 300) if ident < 200]
        for ident in added:  # out of order
            kept.add(ident, texts[ident].encode())
        assert list(kept.items()) == [(ident, texts[ident]) for ident in range(200)]
        assert list(kept.stored_items()) == [(ident, texts[ident].encode()) for ident in added]
        for ident in range(200, 300):
            kept.add(ident, texts[ident].encode())
        assert list(kept) == [texts[ident] for ident in range(300)]
    finally:
        kept.close()
