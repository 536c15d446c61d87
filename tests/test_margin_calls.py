"""The socket calls in the ladder's margins: a call wrapped over several lines keeps clear of
the next one in its margin (sequence_diagram.layout_moments reserves the rows)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from test_diagram_layout import overlapping_labels

from analyzer.analysis import analyze_file
from analyzer.output.sequence_diagram import Moment, figure, layout_moments
from analyzer.sidecar import sidecar_path_for

RECORDINGS = sorted((Path(__file__).parent / "data" / "kernel_account").glob("*.pcap"))


def test_a_wrapped_call_pushes_the_next_one_in_its_margin_down() -> None:
    """Two calls 1 µs apart, three lines each, in one margin: their rows lie at least their
    half heights apart; in two margins they may share the least spacing."""
    half = 0.5  # three lines
    same = layout_moments(
        [
            Moment(1.0, 1.0, ("call", 0, "start"), half=half, margin="client"),
            Moment(1.000001, 1.000001, ("call", 1, "start"), half=half, margin="client"),
        ],
        [],
    )
    assert same.at[("call", 1, "start")] - same.at[("call", 0, "start")] >= 2 * half
    apart = layout_moments(
        [
            Moment(1.0, 1.0, ("call", 0, "start"), half=half, margin="client"),
            Moment(1.000001, 1.000001, ("call", 1, "start"), half=half, margin="server"),
        ],
        [],
    )
    assert apart.at[("call", 1, "start")] - apart.at[("call", 0, "start")] < 2 * half


@pytest.mark.slow
@pytest.mark.parametrize("pcap", RECORDINGS, ids=[p.stem for p in RECORDINGS])
def test_no_call_runs_into_another(pcap: Path) -> None:
    """The recordings with a call log (curl POSTing to python's http.server: sends of 64 KiB
    of zeros, each wrapped over three lines, one after another)."""
    sidecar = json.loads(sidecar_path_for(pcap).read_text())
    analysis = analyze_file(str(pcap), sidecar=sidecar)
    for result in analysis.connections[:3]:
        fig = figure(result, sidecar, analysis.stats.origin)
        try:
            assert overlapping_labels(fig) == [], result.connection.id
        finally:
            plt.close(fig)
