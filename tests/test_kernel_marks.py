"""The kernel's own word on the ladder (issue 19, pictures): where the recorder ran, each
RST is marked with the reason the kernel gave for it and each packet the kernel freed
undelivered with why; the marks keep clear of every other label and line."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from conftest import CAPTURES, ROOT
from test_diagram_layout import lines_through_texts, overlapping_labels

from analyzer.analysis import analyze_file
from analyzer.output.sequence_diagram import figure
from analyzer.sidecar import load_sidecar, sidecar_path_for

RECORDED = sorted(
    p
    for p in [*(ROOT / "tests" / "data" / "kernel_account").glob("*.pcap"), *CAPTURES.glob("*.pcap")]
    if sidecar_path_for(p).exists() and load_sidecar(sidecar_path_for(p)).get("kernel_events")
)


def _texts(fig: plt.Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(plt.Text)]


@pytest.mark.parametrize("pcap", RECORDED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_each_rst_and_drop_drawn_says_the_kernels_reason(pcap) -> None:
    sidecar = load_sidecar(sidecar_path_for(pcap))
    analysis = analyze_file(str(pcap), sidecar=sidecar)
    for result in analysis.connections:
        events = result.kernel.events if result.kernel is not None else None
        assert events is not None
        fig = figure(result, sidecar, analysis.stats.start_time)
        fig.canvas.draw()
        texts = "\n".join(_texts(fig)).replace("\n  ", " ")
        for reset in events.resets:
            if reset.kernel_reason:
                assert f"kernel: {reset.kernel_reason}" in texts, (reset.frame, reset.kernel_reason)
        for drop in events.drops:
            if drop.frame is not None:
                assert f"kernel dropped it: {drop.reason}" in texts, (drop.frame, drop.reason)
        # The marks keep clear (a long wrapped call of a program's log may still meet the
        # next call: a known limit of the margins, not these marks').
        mine = [
            pair for pair in overlapping_labels(fig) + lines_through_texts(fig) if "kernel" in " ".join(pair)
        ]
        assert mine == []
        plt.close(fig)


def test_the_marks_are_there_to_be_seen() -> None:
    """Not every recording has a RST or a drop: these do (the test above would pass on none)."""
    reasons = set()
    for name in ("fin-wait-2-timeout", "keepalive"):
        pcap = CAPTURES / f"{name}.pcap"
        for result in analyze_file(str(pcap), sidecar=load_sidecar(sidecar_path_for(pcap))).connections:
            assert result.kernel is not None and result.kernel.events is not None
            reasons |= {r.kernel_reason for r in result.kernel.events.resets}
    assert {"NO_SOCKET", "TCP_KEEPALIVE_TIMEOUT"} <= reasons
