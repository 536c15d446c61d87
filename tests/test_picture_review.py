"""What a fresh-eyes review of the pictures found (issue 18 follow-ups), each checked where the
picture draws it: a timer's state change after the cut before it, FIN_WAIT_2 beginning at the
ACK of the FIN, spurious resends and D-SACKs named, skipped capture copies said, one convention
for seq and ack, one marker for a packet that got no answer, SYN backoff gaps that grow, the
state timeline's legend inside the picture."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from conftest import CAPTURES

from analyzer.analysis import ConnectionAnalysis, analyze_file
from analyzer.decode.segment import FIN
from analyzer.output.ladder_rows import timer_changes
from analyzer.output.sequence_diagram import BREAK, CLIENT_X, STATE_LABEL, figure
from analyzer.output.state_timeline import timeline_axis
from analyzer.sidecar import Sidecar, sidecar_path_for

FIN_WAIT_2_TIMEOUT = [CAPTURES / "fin-wait-2-timeout.pcap", CAPTURES / "fin-wait-2-timeout-ipv6.pcap"]


def _analyzed(pcap: Path) -> tuple[ConnectionAnalysis, Sidecar | None, float]:
    beside = sidecar_path_for(pcap)
    sidecar = json.loads(beside.read_text()) if beside.exists() else None
    analysis = analyze_file(str(pcap), sidecar=sidecar)
    return analysis.connections[0], sidecar, analysis.stats.start_time


@pytest.mark.parametrize("pcap", FIN_WAIT_2_TIMEOUT, ids=lambda p: p.stem)
def test_a_timer_s_state_change_is_drawn_after_the_cut_before_it(pcap: Path) -> None:
    """The orphan timer's CLOSED (tcp_fin_timeout) comes after a silence: on the timeline and
    on the ladder it stands after that silence's cut, at its own time."""
    result, sidecar, origin = _analyzed(pcap)
    last = max(s.time for s in result.connection.segments)
    [closed] = timer_changes(result, last)
    assert result.states["client"][-1][0] == closed  # the client's CLOSED, by its timer
    axis = timeline_axis(result, sidecar)
    before = [middle for middle, _gap, start in axis.cut_positions() if start < closed]
    assert len(before) >= 2  # the delayed ACK's pause, then the wait for the timer
    assert all(middle < axis.x(closed) for middle in before)
    fig = figure(result, sidecar, origin)
    breaks = sorted(t.get_position()[1] for t in fig.findobj(plt.Text) if t.get_gid() == BREAK)
    label = max(
        t.get_position()[1]
        for t in fig.findobj(plt.Text)
        if t.get_gid() == STATE_LABEL and t.get_text() == "CLOSED" and t.get_position()[0] == CLIENT_X
    )
    plt.close(fig)
    assert len(breaks) == len(axis.cut_positions())  # the ladder cuts where the timeline does
    assert sum(y < label for y in breaks) == len(before)  # y runs down the page


@pytest.mark.parametrize("pcap", FIN_WAIT_2_TIMEOUT, ids=lambda p: p.stem)
def test_fin_wait_2_begins_at_the_ack_of_the_fin(pcap: Path) -> None:
    result, _sidecar, _origin = _analyzed(pcap)
    [diagnosis] = [d for d in result.diagnoses if d.kind == "fin_wait_2_expired"]
    [frame] = [f for f, mark in diagnosis.marks.items() if "FIN_WAIT_2 begins" in mark]
    segments = {s.frame: s for s in result.connection.segments}
    fin = next(s for s in result.connection.segments if s.flags & FIN and result.connection.from_client(s))
    ack = segments[frame]
    assert not ack.flags & FIN and not result.connection.from_client(ack)
    assert ack.ack == fin.seq_end
    # The closer moved to FIN_WAIT_2 at that very frame.
    client_frames = dict(zip(result.state_frames["client"], result.states["client"], strict=True))
    assert client_frames[frame][1].value == "FIN_WAIT_2"
