"""The benchmark's synthetic captures double as a correctness check at scale: the analysis
must report, connection by connection, the life cycles the generator wrote."""

from __future__ import annotations

import io
import json

import pytest

from analyzer.batch import render_file
from analyzer.benchmark.synthetic import KINDS, write_capture
from analyzer.benchmark.truth import compare


@pytest.mark.parametrize(("packets", "fmt"), [(100_000, "pcap"), (20_000, "pcapng")])
def test_the_analysis_reports_every_life_cycle_the_generator_wrote(tmp_path, packets, fmt) -> None:
    path = tmp_path / f"synthetic.{fmt}"
    written = write_capture(path, packets, fmt)
    assert written >= packets
    out = io.StringIO()
    assert render_file(str(path), True, "fast", False, out) == []
    report = json.loads(out.getvalue())
    assert report["packets"] == written
    kinds, differences = compare(report, path.with_name(path.name + ".truth.jsonl"))
    assert differences == []
    assert set(kinds) >= set(KINDS) - {"port-reuse"} or fmt == "pcapng"
    assert sum(kinds.values()) == len(report["connections"])


def test_the_check_catches_a_wrong_life_cycle(tmp_path) -> None:
    path = tmp_path / "small.pcap"
    write_capture(path, 3000)
    out = io.StringIO()
    render_file(str(path), True, "fast", False, out)
    report = json.loads(out.getvalue())
    report["connections"][0]["close"]["shape"] = "simultaneous"
    del report["connections"][1]
    _kinds, differences = compare(report, path.with_name(path.name + ".truth.jsonl"))
    assert len(differences) == 2
    assert "close 'simultaneous'" in differences[0] and "not found" in differences[1]


def test_the_generator_is_deterministic(tmp_path) -> None:
    one, two = tmp_path / "one.pcap", tmp_path / "two.pcap"
    write_capture(one, 5000, seed=7)
    write_capture(two, 5000, seed=7)
    assert one.read_bytes() == two.read_bytes()
