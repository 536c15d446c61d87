"""What a fresh-eyes review of the pictures found (issue 18 follow-ups), each checked where the
picture draws it: a timer's state change after the cut before it, FIN_WAIT_2 beginning at the
ACK of the FIN, spurious resends and D-SACKs named, skipped capture copies said, one convention
for seq and ack, one marker for a packet that got no answer, SYN backoff gaps that grow, the
state timeline's legend inside the picture."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from conftest import CAPTURES, CORPUS, NO_CORPUS
from matplotlib.colors import to_hex
from matplotlib.patches import Rectangle
from segments import HANDSHAKE, conversation

from analyzer.analysis import ConnectionAnalysis, analyze_file, analyze_segments
from analyzer.decode.segment import FIN
from analyzer.output.labels import SEQUENCE_NUMBERS
from analyzer.output.ladder_rows import timer_changes
from analyzer.output.sequence_diagram import (
    BREAK,
    BREAK_BUDGET,
    BREAK_MOST,
    BREAK_ROWS,
    CLIENT_X,
    STATE_LABEL,
    Moment,
    break_rows,
    figure,
    layout_moments,
)
from analyzer.output.state_timeline import STATE_COLORS, timeline_axis, timeline_figure
from analyzer.output.time_axis import silences
from analyzer.sidecar import Sidecar, sidecar_path_for
from analyzer.timefmt import Clock

# A capture where every packet was seen twice (a mirror port): 12 copies in its first connection.
MIRRORED = CORPUS / "pcaps" / "zeek_vnd.ms-cab-compressed-multi-conn.pcap"
# A long client address and a state the capture cannot tell (UNKNOWN, with a long legend entry).
QI = CORPUS / "pcaps" / "zeek_qi_internet_SYNACK_curl_jsonip.pcap"
FIN_WAIT_2_TIMEOUT = [CAPTURES / "fin-wait-2-timeout.pcap", CAPTURES / "fin-wait-2-timeout-ipv6.pcap"]


def _analyzed(pcap: Path, connection: int = 0) -> tuple[ConnectionAnalysis, Sidecar | None, Clock | None]:
    beside = sidecar_path_for(pcap)
    sidecar = json.loads(beside.read_text()) if beside.exists() else None
    analysis = analyze_file(str(pcap), sidecar=sidecar)
    return analysis.connections[connection], sidecar, analysis.stats.origin


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


def _labels(result: ConnectionAnalysis, origin: Clock | None = None) -> list[str]:
    fig = figure(result, None, origin)
    try:
        return [t.get_text() for t in fig.findobj(plt.Text)]
    finally:
        plt.close(fig)


def test_a_spurious_retransmission_and_a_d_sack_are_named_on_their_arrows() -> None:
    """Data resent that had been acknowledged; an ACK whose first SACK block lies below its
    ack number (RFC 2883), in the ack's relative numbers."""
    segments = conversation(
        *HANDSHAKE,
        ("c", "PA", 101, 501, 10),
        ("s", "A", 501, 111),
        (0.3, "c", "PA", 101, 501, 10),  # all of it was acknowledged: spurious
        ("s", "A", 501, 111),
    )
    segments[-1].sack_start, segments[-1].sack_end = 101, 111  # the D-SACK of the resend
    result = analyze_segments(segments).connections[0]
    assert "spurious_retransmission" in result.sequence.flags[segments[5].frame]
    labels = _labels(result)
    assert any(label.endswith("(spurious resend #1)") for label in labels)
    assert any(label.endswith("ack=11 D-SACK 1–11") for label in labels)


def test_seq_and_ack_are_relative_both_when_one_end_sent_nothing() -> None:
    """A capture of one direction: the silent end's numbers count from the first ack its peer
    sent, as Wireshark's (ack=1 there), not absolute beside a relative seq; the convention is
    stated once on the picture."""
    segments = conversation(("c", "S", 100, 0), ("c", "A", 101, 501), ("c", "PA", 101, 501, 5))
    labels = _labels(analyze_segments(segments).connections[0])
    arrows = [label for label in labels if label.startswith(("ACK ", "PSH/ACK "))]
    assert arrows == ["ACK seq=1 ack=1", "PSH/ACK seq=1 ack=1 len=5"]
    assert sum(SEQUENCE_NUMBERS in label for label in labels) == 1


def test_skipped_capture_copies_are_said_on_the_picture() -> None:
    if not MIRRORED.exists():
        pytest.skip(NO_CORPUS)
    analysis = analyze_file(str(MIRRORED))
    result = analysis.connections[0]
    assert result.connection.copy_count == 12
    header = next(label for label in _labels(result, analysis.stats.origin) if "not drawn:" in label)
    assert "not drawn: 12 frames captured again" in header and "2 (of 1)" in header and "and 6 more" in header
    without = analyze_segments(conversation(*HANDSHAKE)).connections[0]
    assert not any("not drawn" in label for label in _labels(without))


def test_cut_heights_grow_with_the_silence_so_a_backoff_shows() -> None:
    """SYNs resent at 1, 3, 7, 15 s: each cut taller than the one before, within the bound."""
    times = [0.0, 1.0, 3.0, 7.0, 15.0]
    moments = [Moment(t, t, ("pkt", n)) for n, t in enumerate(times)]
    layout = layout_moments(moments, silences([(t, t) for t in times]))
    ys = [layout.at[("pkt", n)] for n in range(len(times))]
    steps = [b - a for a, b in itertools.pairwise(ys)]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    assert [round(gap) for _y, gap, _before in layout.breaks] == [1, 2, 4, 8]  # real lengths written
    heights = break_rows([0.2, 1.0, 1e6])
    assert heights == sorted(heights) and heights[-1] <= BREAK_ROWS + BREAK_MOST
    assert sum(break_rows([300.0] * 40)) <= 40 * BREAK_ROWS + BREAK_BUDGET + 1e-9  # bounded in all


@pytest.mark.parametrize("pcap", [*FIN_WAIT_2_TIMEOUT, QI], ids=lambda p: p.stem)
def test_the_state_timeline_s_legend_and_ends_stay_inside_the_picture(pcap: Path) -> None:
    if not pcap.exists():
        pytest.skip(NO_CORPUS)
    result, sidecar, origin = _analyzed(pcap)
    fig = timeline_figure(result, sidecar, origin)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    edge = fig.bbox
    [legend] = fig.legends
    shown = {state.value for history in result.states.values() for _t, state in history}
    assert len(legend.get_texts()) == len(shown)
    boxes = [legend.get_window_extent(renderer)]
    boxes += [label.get_window_extent(renderer) for label in fig.axes[0].get_yticklabels()]
    plt.close(fig)
    for box in boxes:
        assert edge.x0 <= box.x0 and box.x1 <= edge.x1 and edge.y0 <= box.y0 and box.y1 <= edge.y1, box


def test_a_kernel_report_after_the_last_packet_stands_at_its_own_time() -> None:
    """refused: the kernel's last snapshot came 46 ms after the RST, 20 ms after close(); it
    was drawn at the axis's end, beside close(). The axis reaches it, and the marks keep
    their order and their distances in time."""
    result, sidecar, origin = _analyzed(CAPTURES / "refused.pcap")
    assert result.kernel is not None
    reports = sorted({time for time, _side in result.kernel.confirmed})
    last_packet = result.connection.segments[-1].time
    assert reports[-1] - last_packet > 0.03  # the shape this checks
    axis = timeline_axis(result, sidecar)
    xs = [axis.x(time) for time in reports]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    assert axis.bursts[-1].stop == reports[-1]
    # To scale within the burst: the gap between the reports as wide as its time says.
    scale = (axis.bursts[-1].right - axis.x(last_packet)) / (reports[-1] - last_packet)
    assert xs[-1] - xs[-2] == pytest.approx((reports[-1] - reports[-2]) * scale, rel=0.05)
    fig = timeline_figure(result, sidecar, origin)
    marks = sorted(line.get_xdata()[0] for line in fig.axes[0].get_lines() if line.get_marker() == "v")
    plt.close(fig)
    assert marks[-1] == pytest.approx(xs[-1])


def test_a_report_before_the_first_moment_is_drawn_at_the_axis_start_not_past_it() -> None:
    from analyzer.output.time_axis import TimeAxis

    axis = TimeAxis(10.0, 10.5, [(10.1, 10.4)], offset=0.04, width=0.9)
    assert axis.x(9.0) == axis.bursts[0].left == 0.04
    assert axis.x(11.0) == axis.bursts[-1].right


@pytest.mark.parametrize("pcap", [CAPTURES / "refused.pcap", *FIN_WAIT_2_TIMEOUT], ids=lambda p: p.stem)
def test_a_state_too_short_for_its_name_is_named_outside_its_bar(pcap: Path) -> None:
    """SYN_SENT's 14 µs (refused), FIN_WAIT_1's and LAST_ACK's few ms: a colour the legend
    alone named. Each bar's name is now in the picture once, in its bar or outside it joined
    by a line, and no two labels meet."""
    from test_diagram_layout import overlapping_labels

    result, sidecar, origin = _analyzed(pcap)
    fig = timeline_figure(result, sidecar, origin)
    fig.canvas.draw()
    ax = fig.axes[0]
    names = [t.get_text() for t in ax.texts]
    for side in ("client", "server"):
        for _time, state in result.states[side]:
            assert state.value in names
    # In a bar: at its row's height (1 the client's, 0 the server's).
    short = [
        t
        for t in ax.texts
        if t.get_fontsize() == pytest.approx(6.5) and t.get_position()[1] not in (0.0, 1.0)
    ]
    assert short, "some name stands outside its bar"
    for text in short:
        x, y = text.get_position()
        # Its line runs from the bar's edge to it.
        assert any(
            line.get_xdata()[-1] == pytest.approx(x) and line.get_ydata()[-1] == pytest.approx(y)
            for line in ax.get_lines()
            if len(line.get_xdata()) == 2
        ), text.get_text()
    assert overlapping_labels(fig) == []
    plt.close(fig)
    if pcap.name == "refused.pcap":
        assert [t.get_text() for t in short] == ["SYN_SENT"]


def test_schedules_that_give_the_same_times_share_one_line_drawn_over_the_measurement() -> None:
    """syn-timeout: the recorded kernel settings predict what Linux 6.5's default does: two
    lines, one hidden under the other, and both under the measured one."""
    from analyzer.output.backoff_chart import backoff_figure

    result, sidecar, _origin = _analyzed(CAPTURES / "syn-timeout.pcap")
    fig = backoff_figure(result, sidecar)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(fig)
    [joined] = [label for label in labels if " = " in label]
    assert joined.startswith("the recorded kernel settings = Linux 6.5+")
    assert len(labels) == len(set(labels)) == len(result.backoff_schedules)  # one joined, the measured added
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert lines[joined].get_zorder() > lines["measured SYNs"].get_zorder()


def test_syns_and_syn_acks_both_sent_again_are_charted_each_against_its_own_schedules() -> None:
    """A client's SYNs and a listener's SYN/ACKs both resent were one panel, both drawn against
    the SYN's schedules (Linux 6.5's 1 s x5 beside a listener's timer): now a panel each."""
    from analyzer.output.backoff_chart import backoff_figure

    steps = [(0.0, "c", "S", 100, 0), (1.0, "c", "S", 100, 0), (1.0001, "s", "SA", 500, 101),
             (2.0001, "s", "SA", 500, 101), (3.0, "c", "S", 100, 0), (3.0001, "s", "SA", 500, 101),
             (4.0001, "s", "SA", 500, 101), (7.0, "c", "S", 100, 0), (7.0001, "s", "SA", 500, 101),
             (7.0002, "c", "A", 101, 501)]  # fmt: skip
    [result] = analyze_segments(conversation(*steps)).connections
    assert result.syn_backoff.intervals == [1.0, 2.0, 4.0]
    assert [round(t, 4) for t in result.synack_backoff.intervals] == [1.0, 2.0]
    fig = backoff_figure(result)
    assert len(fig.axes) == 2  # a panel for each
    labels = [[t.get_text() for t in ax.get_legend().get_texts()] for ax in fig.axes]
    ticks = [[t.get_text() for t in ax.get_xticklabels()] for ax in fig.axes]
    plt.close(fig)
    assert labels[0][-1] == "measured SYNs" and "measured SYN/ACKs" not in labels[0]
    assert labels[1][-1] == "measured SYN/ACKs" and "measured SYNs" not in labels[1]
    assert any("6.5" in label for label in labels[0]) and not any("6.5" in label for label in labels[1])
    assert any("listener" in label for label in labels[1]) and not any(
        "listener" in label for label in labels[0]
    )
    # Each panel's transmissions under their own frames: the SYN/ACKs its timer sent (3, 4, 7).
    assert [[tick.split("\n")[1] for tick in panel] for panel in ticks] == [
        ["1", "2", "5", "8"],
        ["3", "4", "7"],
    ]


def test_a_syn_not_captured_is_drawn_hollow_where_the_schedule_it_matches_had_it_due() -> None:
    """SYNs at 0, 1, 3 and 4 s match Linux 6.5's 1 s x5 with its third not captured: the
    captured ones stand at their numbers in it (0, 1, 3, 4), over its line; the missing one is
    a hollow mark at 2 s, its tick saying so."""
    from analyzer.output.backoff_chart import backoff_figure

    steps = [(at, "c", "S", 100, 0) for at in (0.0, 1.0, 3.0, 4.0)]
    [result] = analyze_segments(conversation(*steps)).connections
    fig = backoff_figure(result)
    [ax] = fig.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    plt.close(fig)
    assert list(lines["measured SYNs"].get_xdata()) == [0, 1, 3, 4]
    hollow = lines["not captured, due on Linux 6.5+ default / macOS / FreeBSD's schedule"]
    assert (list(hollow.get_xdata()), list(hollow.get_ydata())) == ([2], [2.0])
    assert ticks == ["0\n1", "1\n2\nΔ1.000 s", "2\nnot\ncaptured", "3\n3\nΔ2.000 s from 1", "4\n4\nΔ1.000 s"]


def test_a_folded_cut_s_length_stays_inside_the_axis() -> None:
    """ppa_http_espn_fail's shape: a SYN sent again and again (here each second), its silences one
    folded cut near the axis's left end; its long text ran past the axis."""
    steps = [(0.0, "c", "S", 100, 0), (0.43, "c", "S", 100, 0)]
    steps += [(0.43 + 1.0 * n, "c", "S", 100, 0) for n in range(1, 12)]
    [result] = analyze_segments(conversation(*steps)).connections
    fig = timeline_figure(result)
    fig.canvas.draw()
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    edge = ax.get_window_extent(renderer)
    [folded] = [t for t in ax.texts if "silences, no change of state" in t.get_text()]
    box = folded.get_window_extent(renderer)
    plt.close(fig)
    assert edge.x0 <= box.x0 and box.x1 <= edge.x1


def test_kernel_reports_taken_in_a_silence_are_drawn_across_its_cut_in_order() -> None:
    """syn-timeout-linear-off: 10 snapshots over the last backoff's 8 s were all drawn at the
    cut's start, one on another. Each now stands across the cut's band in time order, and a
    longer silence has the wider band."""
    result, sidecar, origin = _analyzed(CAPTURES / "syn-timeout-linear-off.pcap")
    assert result.kernel is not None
    axis = timeline_axis(result, sidecar)
    spans = axis.cut_spans()
    reports = sorted({time for time, side in result.kernel.confirmed if side == "client"})
    inside = [t for t in reports if any(a.stop < t < b.start for a, b in itertools.pairwise(axis.bursts))]
    assert len(inside) >= 8
    xs = [axis.x(t) for t in inside]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    assert all(any(low < x < high for low, high in spans) for x in xs)
    widths = [high - low for low, high in spans]
    gaps = [gap for _x, gap, _before in axis.cut_positions()]
    assert [w for _g, w in sorted(zip(gaps, widths, strict=True))] == sorted(widths)
    fig = timeline_figure(result, sidecar, origin)
    marks = [line for line in fig.axes[0].get_lines() if line.get_marker() == "v"]
    plt.close(fig)
    assert all(mark.get_zorder() > 3 for mark in marks)  # over the cut's band


def test_a_syn_ack_backoff_is_charted_and_matched_against_the_listener_s_schedules() -> None:
    """backlog-abort #1: its SYN/ACK sent again after 1.021 s was drawn against the SYN's
    schedules (Linux 6.5's 1 s x5 applies to SYNs, not to a listener's SYN/ACK timer) and a
    corpus SYN/ACK series lying on a schedule named no match."""
    from analyzer.findings.backoff import matching_schedules
    from analyzer.output.backoff_chart import backoff_figure

    beside = sidecar_path_for(CAPTURES / "backlog-abort.pcap")
    sidecar = json.loads(beside.read_text())
    analysis = analyze_file(str(CAPTURES / "backlog-abort.pcap"), sidecar=sidecar)
    [result] = [r for r in analysis.connections if r.synack_backoff.intervals]
    assert not result.syn_backoff.intervals
    assert result.synack_backoff.matches[0] == "the recorded kernel settings"
    assert "Linux listener (tcp_synack_retries) / Windows 8+ (1 s, doubling)" in result.synack_backoff.matches
    assert not result.backoff_schedules and not any("6.5" in name for name in result.synack_schedules)
    fig = backoff_figure(result, sidecar)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    plt.close(fig)
    assert (
        "the recorded kernel settings = Linux listener (tcp_synack_retries) / Windows 8+ (1 s, doubling)"
        in labels
    )
    # Without a sidecar a listener's doubling from 3 s is Windows's.
    result.synack_backoff.intervals = [3.0, 6.0]
    assert matching_schedules(result.synack_backoff, None, synack=True) == [
        "Windows 7 and older (3 s, doubling)"
    ]


def test_a_syn_whose_answer_the_client_s_ack_proves_is_not_said_unanswered() -> None:
    """zeek_ssh.client-side-half-duplex: only the client's side captured; its ACK proves the
    SYN/ACK the capture lacks, which the subtitle says, while the SYN's arrow said "— no
    answer"."""
    steps = [("c", "S", 100, 0), ("c", "A", 101, 501), ("c", "PA", 101, 501, 20), ("c", "A", 121, 560)]
    [result] = analyze_segments(conversation(*steps)).connections
    assert result.handshake.unseen_answer is not None
    fig = figure(result)
    texts = [t.get_text() for t in fig.findobj(plt.Text)]
    plt.close(fig)
    assert not any("no answer" in text for text in texts if text.startswith("SYN"))
    assert any("handshake answered but not in the capture" in text for text in texts)
    # A SYN sent again first: the first went unanswered, only the second's answer is proven.
    resent = [(0.0, "c", "S", 100, 0), (1.0, "c", "S", 100, 0), (1.001, "c", "A", 101, 501),
              (1.002, "c", "PA", 101, 501, 20), (1.003, "c", "A", 121, 560)]  # fmt: skip
    [result] = analyze_segments(conversation(*resent)).connections
    assert result.handshake.unseen_answer is not None
    fig = figure(result)
    said = [t.get_text() for t in fig.findobj(plt.Text) if t.get_text().startswith("SYN")]
    plt.close(fig)
    assert sum("no answer" in text for text in said) == 1, said


def test_a_long_recording_s_later_snapshots_do_not_stretch_the_timeline() -> None:
    """A reviewer's case: 40 more snapshots every 0.5 s after nonblocking-connect's last
    packet, each finding the sockets gone (CLOSED, agreed): each added a cut and the axis ran
    to +20 s, the bars past its end. The axis takes each end's first report after the last
    packet; the later ones are not drawn."""
    pcap = CAPTURES / "nonblocking-connect.pcap"
    sidecar = json.loads(sidecar_path_for(pcap).read_text())
    last = sidecar["snapshots"][-1]
    sidecar["snapshots"] += [
        {**last, "time": last["time"] + 0.5 * n, "end_time": last["end_time"] + 0.5 * n, "sockets": []}
        for n in range(1, 41)
    ]
    analysis = analyze_file(str(pcap), sidecar=sidecar)
    result = analysis.connections[0]
    assert result.kernel is not None and len(result.kernel.confirmed) > 40
    axis = timeline_axis(result, sidecar)
    assert len(axis.cut_positions()) <= 4
    assert axis.bursts[-1].stop < last["time"] + 1.0
    fig = timeline_figure(result, sidecar, analysis.stats.origin)
    bars = [p for p in fig.findobj(Rectangle) if p.get_height() == pytest.approx(0.6)]
    marks = [line for line in fig.axes[0].get_lines() if line.get_marker() == "v"]
    plt.close(fig)
    assert max(p.get_x() + p.get_width() for p in bars) <= 1.0 + 1e-9
    assert all(0.0 <= mark.get_xdata()[0] <= 1.0 for mark in marks)


def test_the_time_axis_keeps_its_gaps_within_their_share_however_many_cuts() -> None:
    from analyzer.output.time_axis import GAPS_MOST, TimeAxis, cut_gaps

    for count in (3, 41, 200):
        gaps = cut_gaps([5.0] * count, 0.03, 0.89)
        assert sum(gaps) <= GAPS_MOST * 0.89 + 1e-9
    # Two instants 100 s apart: the bursts take the width, the gap stays within its share.
    axis = TimeAxis(0.0, 100.0, [(0.0, 100.0)], width=0.89, offset=0.04)
    (low, high) = axis.cut_spans()[0]
    assert high - low <= GAPS_MOST * 0.89 + 1e-9
    assert axis.bursts[-1].right == pytest.approx(0.93)


@pytest.mark.parametrize("command", ["diagram", "timeline", "backoff"])
def test_a_picture_of_a_file_without_a_sidecar_is_titled_with_the_file_s_name(
    command: str, tmp_path: Path
) -> None:
    """A corpus file's timeline was titled '#0 TCP states': saved apart, nothing said what it
    showed. Without a sidecar (no scenario's name) the file's name leads every title."""
    from conftest import run

    capture = tmp_path / "someone-elses.pcap"
    capture.write_bytes((CAPTURES / "syn-timeout.pcap").read_bytes())  # no sidecar beside it
    out = tmp_path / f"{command}.svg"
    assert run(command, str(capture), "-o", str(out)).returncode == 0
    assert "someone-elses.pcap: #0" in out.read_text()
    # With its sidecar the scenario's name leads instead.
    run(command, str(CAPTURES / "syn-timeout.pcap"), "-o", str(out))
    assert "syn-timeout: #0" in out.read_text()


def test_a_state_held_through_a_silence_is_named_in_its_cut_s_band_and_outside_names_stay_apart() -> None:
    """ppa_http_espn_fail #8's shape: the server's FIN_WAIT_2 began just before a 4.5 s silence
    and showed only as the cut's faded band; named outside on a sliver, beside FIN_WAIT_1's
    name, it read 'FIN_WAIT_1FIN_WAIT_2', and a reader took the band for FIN_WAIT_1."""
    steps = [(0.0, "c", "S", 100, 0), (0.001, "s", "SA", 500, 101), (0.002, "c", "A", 101, 501),
             (0.003, "s", "FA", 501, 101), (0.0031, "c", "A", 101, 502),
             (4.5, "c", "FA", 101, 502), (4.5001, "s", "A", 502, 102)]  # fmt: skip
    [result] = analyze_segments(conversation(*steps)).connections
    fig = timeline_figure(result)
    fig.canvas.draw()
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    [band] = [t for t in ax.texts if t.get_text().startswith("≈4.")]
    [held] = [t for t in ax.texts if t.get_text() == "FIN_WAIT_2"]
    assert held.get_position()[1] == 0.0  # on the server's row, not outside it
    assert abs(held.get_position()[0] - band.get_position()[0]) < 0.01  # over the cut
    assert held.get_zorder() > 3  # over the band's fade
    # A bar no cut crosses, named outside, has its line from its middle (a reviewer: from its
    # left edge, up to 50 px off, once the band's name came in).
    [outside_name] = [t for t in ax.texts if t.get_text() == "FIN_WAIT_1"]
    [leader] = [
        line for line in ax.get_lines()
        if len(line.get_xdata()) == 2 and (line.get_xdata()[1], line.get_ydata()[1]) == outside_name.get_position()
    ]  # fmt: skip
    [bar] = [
        p for p in ax.patches
        if isinstance(p, Rectangle) and p.get_y() == -0.3 and to_hex(p.get_facecolor()) == STATE_COLORS["FIN_WAIT_1"]
    ]  # fmt: skip
    middle = bar.get_x() + bar.get_width() / 2
    assert abs(leader.get_xdata()[0] - middle) < bar.get_width() / 4 + 1e-9
    outside = sorted(
        (t.get_window_extent(renderer) for t in ax.texts if t.get_position()[1] in (1.5, -0.5)),
        key=lambda box: (box.y0, box.x0),
    )
    plt.close(fig)
    for left, right in itertools.pairwise(outside):
        if abs(left.y0 - right.y0) < 1:  # one row of names: a space at least between two
            assert right.x0 - left.x1 >= 4, (left, right)


def test_a_resend_right_after_its_copy_says_the_interval_once() -> None:
    """syn-timeout's SYNs: 'Δ1.009 s, 1.009 s after the first' said the one interval twice; where
    the packet before is the copy it resends, the label says 'Δ1.009 s after the first'."""
    result, sidecar, origin = _analyzed(CAPTURES / "syn-timeout.pcap")
    fig = figure(result, sidecar, origin)
    labels = [t.get_text() for t in fig.axes[0].texts if t.get_text().startswith("frame ")]
    plt.close(fig)
    [second] = [label for label in labels if label.startswith("frame 2 ")]
    assert second.endswith(" after the first") and "Δ" in second and second.count(" s") == 2, second
    assert all(", " not in label.split("Δ", 1)[-1] for label in labels if "after #" in label), labels


def test_the_kernel_s_changes_on_the_timeline_stand_over_the_cuts_bands() -> None:
    """backlog-abort #1: the client's ▲ in a silence was half hidden under the cut's band,
    where the kernel's reports ▼ stood over it."""
    from analyzer.output.state_timeline import CUT_BAND

    result, sidecar, origin = _analyzed(CAPTURES / "backlog-abort.pcap", 1)
    fig = timeline_figure(result, sidecar, origin)
    ax = fig.axes[0]
    changes = [line for line in ax.get_lines() if line.get_marker() == "^"]
    bands = [patch.get_zorder() for patch in ax.patches if patch.get_gid() == CUT_BAND]
    plt.close(fig)
    assert changes and bands
    assert all(line.get_zorder() > max(bands) for line in changes)


def test_a_rst_s_cause_has_one_wording_on_the_ladder_and_in_the_report_s_table() -> None:
    """backlog-abort's RST was 'accept queue overflow' under its arrow and 'accept queue full
    (tcp_abort_on_overflow)' in the report's table: two names a reader took for two causes."""
    from analyzer.output.summary import RESETS

    result, sidecar, origin = _analyzed(CAPTURES / "backlog-abort.pcap", 1)
    [reset] = result.resets
    fig = figure(result, sidecar, origin)
    labels = " ".join(
        " ".join(t.get_text() for t in fig.axes[0].texts if t.get_text().startswith("frame ")).split()
    )
    plt.close(fig)
    assert RESETS[reset.cause].removeprefix("reset: ") in labels
    assert reset.cause.replace("_", " ") not in labels


def _texts_outside(fig: plt.Figure) -> list[str]:
    """The texts drawn past the picture's left or right edge."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width = fig.bbox.width
    return [
        text.get_text()
        for text in fig.findobj(plt.Text)
        if text.get_visible()
        and text.get_text().strip()
        and (text.get_window_extent(renderer).x0 < 0 or text.get_window_extent(renderer).x1 > width)
    ]


def test_long_addresses_and_names_stay_inside_the_pictures() -> None:
    """Two full IPv6 addresses and a long file name: the timeline's end names ran off its
    left edge, the ladder's title off both."""
    segments = conversation(*HANDSHAKE, ("c", "FA", 101, 501), ("s", "FA", 501, 102), ("c", "A", 102, 502))
    client, server = "2a00:6020:ad0b:8381:fd70:e2f9:f031:9dc4", "2a00:6020:ad0b:8380:ffff:ffff:ffff:fff0"
    for segment in segments:
        segment.family = 6
        segment.src, segment.dst = (client, server) if segment.sport == 40000 else (server, client)
    [result] = analyze_segments(segments).connections
    name = "a-much-longer-capture-file-name-from-the-field-2024-06-01-of-the-edge-router.pcapng"
    for fig in (figure(result, None, name=name), timeline_figure(result, None, name=name)):
        try:
            assert _texts_outside(fig) == []
        finally:
            plt.close(fig)
