"""The ladder is read by people: no label may overlap another (measured on the rendered text)."""

from __future__ import annotations

import json
from itertools import combinations

import matplotlib.pyplot as plt
import pytest
from conftest import corpus_params, stored_captures

from analyzer.analysis import analyze_file
from analyzer.output.selection import pick_connection
from analyzer.output.sequence_diagram import figure
from analyzer.sidecar import sidecar_path_for

CAPTURES = stored_captures()
# Boxes that merely touch are fine; a pixel of shared area is not.
TOLERANCE = 1.0


def overlapping_labels(fig: plt.Figure) -> list[tuple[str, str]]:
    renderer = fig.canvas.get_renderer()
    boxes = []
    for text in fig.findobj(plt.Text):
        if text.get_visible() and text.get_text().strip():
            box = text.get_window_extent(renderer)
            boxes.append((text.get_text(), box.x0, box.y0, box.x1, box.y1))
    overlaps = []
    for (a, ax0, ay0, ax1, ay1), (b, bx0, by0, bx1, by1) in combinations(boxes, 2):
        width = min(ax1, bx1) - max(ax0, bx0)
        height = min(ay1, by1) - max(ay0, by0)
        if width > TOLERANCE and height > TOLERANCE:
            overlaps.append((a, b))
    return overlaps


@pytest.mark.slow
@pytest.mark.parametrize("pcap", CAPTURES, ids=[p.stem for p in CAPTURES])
def test_no_label_overlaps_another(pcap) -> None:
    sidecar = json.loads(sidecar_path_for(pcap).read_text())
    analysis = analyze_file(str(pcap), sidecar=sidecar)
    chosen, _note = pick_connection(analysis, None)
    fig = figure(chosen, sidecar)
    try:
        assert overlapping_labels(fig) == []
    finally:
        plt.close(fig)


def test_the_check_finds_an_overlap() -> None:
    fig = plt.figure()
    fig.text(0.5, 0.5, "one label")
    fig.text(0.51, 0.5, "another label")
    try:
        assert overlapping_labels(fig) == [("one label", "another label")]
    finally:
        plt.close(fig)


CORPUS_FILES = corpus_params(lambda p: p.stat().st_size < 400_000 and "bug-5437" not in p.name)


@pytest.mark.slow
@pytest.mark.parametrize("pcap", CORPUS_FILES)
def test_no_overlap_on_captures_nobody_here_made(pcap) -> None:
    """Duplicated packets with one timestamp, long summaries, many retransmissions."""
    chosen, _note = pick_connection(analyze_file(str(pcap)), None)
    fig = figure(chosen, None)
    try:
        assert overlapping_labels(fig) == []
    finally:
        plt.close(fig)
