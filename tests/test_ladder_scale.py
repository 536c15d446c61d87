"""A ladder that scales (issue 18): bounded height for any length, bands that count what they
stand for, ranges that draw what they say, and a state timeline on the ladder's time."""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from pathlib import Path

import matplotlib.colors
import matplotlib.pyplot as plt
import pytest
from conftest import CAPTURES, CORPUS, NO_CORPUS, assert_one_line_error, run, stored_captures
from matplotlib.patches import Rectangle
from segments import HANDSHAKE, conversation
from test_diagram_layout import overlapping_labels
from test_long_connection import bulk_flow

from analyzer.analysis import ConnectionAnalysis, analyze_connection, analyze_file, analyze_segments
from analyzer.benchmark import long_flow
from analyzer.connections import LONG_CONNECTION, stream_connections
from analyzer.decode import read_segments
from analyzer.long_connection import FoldedConnection
from analyzer.output.figures import figure_svg
from analyzer.output.labels import segment_kinds
from analyzer.output.ladder_rows import FLAGGED, MAX_ROWS, Band, Packet, _entries, plan_rows
from analyzer.output.selection import pick_connection
from analyzer.output.sequence_diagram import (
    BAND_LABEL,
    BREAK_MOST,
    BREAK_ROWS,
    Moment,
    band_text,
    figure,
    layout_moments,
)
from analyzer.output.state_timeline import timeline_axis, timeline_figure
from analyzer.output.time_axis import BREAK_GAP, TimeAxis, fold_unmarked, silences
from analyzer.sidecar import sidecar_path_for
from analyzer.timefmt import between

# Its module fixture is costly: one worker runs all of it (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("ladder_scale")

DPI = 150  # figures.save_figure's
# pixels: "about 2,000", with room below each arrow that moves its receiver to a new state (a
# handful a connection: sequence_diagram.LANDING_SPACE)
HEIGHT_BOUND = 2_200

ECHO = CORPUS / "pcaps" / "zeek_echo-connections.pcap"
HTTP = CORPUS / "pcaps" / "sv_syn_retransmit_with_ts.pcap"


def _height(fig: plt.Figure) -> float:
    try:
        return fig.get_size_inches()[1] * DPI
    finally:
        plt.close(fig)


def _folded(packets: int, lose_every: int = 0) -> ConnectionAnalysis:
    [connection] = stream_connections(iter(bulk_flow(packets, lose_every)), fold=FoldedConnection)
    assert connection.folded is not None  # long enough to be folded
    return analyze_connection(connection)


def _longest(path: Path) -> ConnectionAnalysis:
    if not path.exists():
        pytest.skip(NO_CORPUS)
    return max(analyze_file(str(path)).connections, key=lambda r: len(r.connection.segments))


@pytest.fixture(scope="module")
def folded() -> ConnectionAnalysis:
    return _folded(120_000, lose_every=9_000)


def test_a_long_folded_connection_draws_within_the_bound(folded: ConnectionAnalysis) -> None:
    assert folded.connection.count > 100_000
    assert _height(figure(folded)) <= HEIGHT_BOUND


@pytest.mark.parametrize("path", [ECHO, HTTP], ids=lambda p: p.stem)
def test_a_long_real_connection_draws_within_the_bound(path: Path) -> None:
    result = _longest(path)
    assert len(result.connection.segments) > 150  # the 168-packet echo, a 254-packet HTTP
    assert _height(figure(result)) <= HEIGHT_BOUND


def _check_counts(result: ConnectionAnalysis, rows_items: list[Packet | Band], total: int) -> None:
    """Every segment stands in one row: the packets drawn and the bands' counts add up, and a
    band of a connection kept whole counts exactly the segments within its frames."""
    drawn = [item.segment.frame for item in rows_items if isinstance(item, Packet)]
    bands = [item for item in rows_items if isinstance(item, Band)]
    assert len(drawn) + sum(band.segments for band in bands) == total
    frames = [s.frame for s in result.connection.segments]
    for band in bands:
        inside = [f for f in frames if band.first <= f <= band.last]
        assert not set(inside) & set(drawn)
        if not band.let_go:
            assert band.segments == len(inside) == band.to_server + band.to_client
            by_frame = {s.frame: s for s in result.connection.segments}
            assert band.bytes == sum(by_frame[f].payload_len for f in inside)
            assert band.resends == sum(1 for f in inside if f in result.resends)
    resends_drawn = sum(1 for f in drawn if f in result.resends)
    assert resends_drawn + sum(band.resends for band in bands) == len(result.resends)
    # Wireshark's flags the bands name: every flagged segment is drawn or in a band, kept or
    # not (helper-111: a long connection's bands counted the kept ones, 664 of 14,276 dup ACKs).
    flags = result.sequence.flags
    for kind, name in FLAGGED.items():
        if kind in ("keep_alive", "zero_window_probe"):
            continue  # a keep-alive's shape into a zero window is a probe: told by its arrow
        flagged = [f for f, kinds in flags.items() if kind in kinds]
        if kind == "out_of_order":
            flagged = [f for f in flagged if f not in result.resends]
        in_bands = sum(band.flagged[name] for band in bands)
        assert in_bands + sum(1 for f in drawn if f in flagged) == len(flagged), kind


def test_band_counts_equal_the_packets_of_a_folded_connection(folded: ConnectionAnalysis) -> None:
    rows = plan_rows(folded)
    assert rows.total == folded.connection.count
    assert any(isinstance(item, Band) and item.let_go for item in rows.items)
    _check_counts(folded, rows.items, folded.connection.count)
    text = [t.get_text() for t in figure(folded).findobj(plt.Text) if t.get_gid() == BAND_LABEL]
    plt.close("all")
    bands = [item for item in rows.items if isinstance(item, Band)]
    assert [f"{band.segments:,} segments" in label for band, label in zip(bands, text, strict=True)] == [
        True
    ] * len(bands)


def test_a_folded_connection_s_bands_count_every_dup_ack() -> None:
    """Dup ACKs all through a long connection (every 50th ACK said twice): the bands count
    those of the segments the fold let go too."""
    import dataclasses

    segments = []
    for segment in bulk_flow(30_000):
        segments.append(dataclasses.replace(segment, frame=len(segments) + 1))
        if segment.src == "10.0.0.1" and not segment.payload_len and segment.frame % 50 == 0:
            again = dataclasses.replace(segment, frame=len(segments) + 1, time=segment.time + 5e-6)
            again.stamp = segment.stamp + 5_000
            segments.append(again)
    [connection] = stream_connections(iter(segments), fold=FoldedConnection)
    assert connection.folded is not None
    result = analyze_connection(connection)
    dup_acks = result.sequence.counts()["duplicate_ack"]
    assert dup_acks > 100
    rows = plan_rows(result)
    _check_counts(result, rows.items, connection.count)


@pytest.mark.parametrize("path", [ECHO, HTTP], ids=lambda p: p.stem)
def test_band_counts_equal_the_packets_of_a_whole_connection(path: Path) -> None:
    result = _longest(path)
    rows = plan_rows(result)
    assert any(isinstance(item, Band) for item in rows.items)
    assert sum(1 if isinstance(i, Packet) else 2.4 for i in rows.items) <= MAX_ROWS
    _check_counts(result, rows.items, len(result.connection.segments))


def test_a_short_connection_is_drawn_one_by_one() -> None:
    result = analyze_file(str(CAPTURES / "handshake.pcap")).connections[0]
    rows = plan_rows(result)
    assert [item.segment.frame for item in rows.items if isinstance(item, Packet)] == [
        s.frame for s in result.connection.segments
    ]


def test_frames_and_time_draw_what_they_say() -> None:
    result = _longest(HTTP)
    frames = [s.frame for s in result.connection.segments]
    rows = plan_rows(result, frames=(43, 140))
    drawn = [i.segment.frame for i in rows.items if isinstance(i, Packet)]
    assert drawn == [f for f in frames if 43 <= f <= 140]  # a range is drawn one by one
    assert rows.total == len(drawn)
    start = result.connection.segments[0].time
    times = (start + 1.0, start + 1.0002)
    rows = plan_rows(result, times=times)
    drawn = [i.segment.frame for i in rows.items if isinstance(i, Packet)]
    assert drawn == [s.frame for s in result.connection.segments if times[0] <= s.time <= times[1]]
    assert 0 < len(drawn) < len(frames)


def test_the_command_draws_a_range_and_refuses_an_empty_one(tmp_path: Path) -> None:
    if not HTTP.exists():
        pytest.skip(NO_CORPUS)
    out = tmp_path / "range.svg"
    result = run("diagram", str(HTTP), "--frames", "43-60", "-o", str(out))
    assert result.returncode == 0, result.stderr
    svg = out.read_text()
    assert 'id="pkt-43"' in svg and 'id="pkt-60"' in svg and 'id="pkt-61"' not in svg
    assert "frames 43–60" in svg
    empty = run("diagram", str(HTTP), "--time", "50..60", "-o", str(tmp_path / "none.svg"))
    assert_one_line_error(empty, "50.0..60.0 s", "no segment of connection #0")
    assert not (tmp_path / "none.svg").exists()
    assert run("diagram", str(HTTP), "--frames", "9-3", "-o", str(out)).returncode == 2


def test_a_range_deep_in_a_folded_connection_is_drawn_one_by_one(tmp_path: Path) -> None:
    """A band's hint (--frames A-B draws each) holds past the first LONG_CONNECTION segments,
    which a folded connection does not keep unless asked for."""
    pcap = tmp_path / "long.pcap"
    long_flow.write_capture(pcap, LONG_CONNECTION + 10_000)
    out = tmp_path / "range.svg"
    result = run("diagram", str(pcap), "--frames", "25000-25040", "-o", str(out))
    assert result.returncode == 0, result.stderr
    drawn = [int(f) for f in re.findall(r'id="pkt-(\d+)"', out.read_text())]
    assert drawn == list(range(25000, 25041))  # one connection: every frame is its
    origin = analyze_file(str(pcap)).stats.start_time
    assert origin is not None
    times = [s.time - origin for s in read_segments(str(pcap)) if 27000 <= s.frame <= 27010]
    window = f"{times[0] - 1e-7:.7f}..{times[-1] + 1e-7:.7f}"
    result = run("diagram", str(pcap), "--time", window, "-o", str(out))
    assert result.returncode == 0, result.stderr
    drawn = [int(f) for f in re.findall(r'id="pkt-(\d+)"', out.read_text())]
    assert drawn == list(range(27000, 27011))


def test_every_arrow_and_band_has_its_packet_id(folded: ConnectionAnalysis) -> None:
    svg = figure_svg(figure(folded))
    rows = plan_rows(folded)
    for item in rows.items:
        wanted = f"pkt-{item.segment.frame}" if isinstance(item, Packet) else f"pkt-{item.first}-{item.last}"
        assert f'id="{wanted}"' in svg


def test_time_runs_to_scale_within_a_burst_and_breaks_at_silences() -> None:
    """A 41 ms delayed ACK stands further down than a 15 µs answer; a 5 s pause is a cut."""
    moments = [Moment(t, t, ("pkt", n)) for n, t in enumerate([0.0, 0.000015, 0.041015, 5.041015])]
    cuts = silences([(m.start, m.stop) for m in moments])
    assert cuts == [(0.041015, 5.041015)]
    layout = layout_moments(moments, cuts)
    y = [layout.at[("pkt", n)] for n in range(4)]
    assert y[1] - y[0] == 1.0  # the least spacing
    assert y[2] - y[1] > 1.5
    assert [round(gap, 6) for _y, gap, _before in layout.breaks] == [5.0]
    # The 5 s pause takes far less room than its time would (200 rows), a cut's bounded height.
    assert y[3] - y[2] < 1.0 + BREAK_ROWS + BREAK_MOST


def test_named_on_their_arrows() -> None:
    """window update, zero-window probe, dup ACK, Fast Open data: by Wireshark's rules."""
    segments = conversation(
        ("c", "S", 100, 0, 10),  # a SYN with data: Fast Open
        ("s", "SA", 500, 111),
        ("c", "A", 111, 501),
        ("s", "PA", 501, 111, 100),
        ("c", "A", 111, 601),
        ("c", "A", 111, 601),  # the same ACK again: dup ACK
    )
    window = conversation(
        *HANDSHAKE,
        ("s", "PA", 501, 101, 100),
        ("c", "A", 101, 601),  # made a zero window below
        (1.0, "s", "PA", 601, 101, 1),  # a second later: a probe of one byte
        ("c", "A", 101, 601),  # room again: a window update
    )
    window[4].window = 0
    result = analyze_segments(segments).connections[0]
    kinds = segment_kinds(result)
    assert kinds[1] == "Fast Open data" and kinds[6] == "dup ACK"
    probed = analyze_segments(window).connections[0]
    frames = {s.frame: s for s in probed.connection.segments}
    kinds = segment_kinds(probed)
    probe = next(f for f, s in frames.items() if s.payload_len == 1)
    assert kinds[probe] == "zero-window probe"
    assert kinds == {probe: "zero-window probe", 7: "window update"}
    labels = [t.get_text() for t in figure(probed).findobj(plt.Text)]
    plt.close("all")
    assert any(label.startswith("zero-window probe: ") for label in labels)
    assert any(label.startswith("window update: ") for label in labels)


def test_where_state_changes_are_kept_apart_the_axis_says_it_is_not_to_scale() -> None:
    """A handshake's changes 1 ms apart, then 16 s of one state (helper-111's long flow): the
    changes are kept apart, so 0 to 5 s took 274 px and each later 5 s 200 px, unmarked. Those
    stretches are the axis's `stretched` spans, which the timeline hatches along its foot."""
    from analyzer.output.state_timeline import STRETCH_MARK, timeline_figure

    axis = TimeAxis(0.0, 16.0, [], marks=[0.0, 0.001, 0.002, 0.003, 15.9, 15.95, 16.0])
    [(left, right), (_late, end)] = axis.stretched
    assert (left, right, end) == (axis.x(0.0), pytest.approx(axis.x(0.003)), pytest.approx(axis.x(16.0)))
    beyond = (axis.x(5.0) - axis.x(0.003), axis.x(10.0) - axis.x(5.003))
    assert beyond[0] == pytest.approx(beyond[1], rel=1e-3)  # to scale between the stretches
    assert TimeAxis(0.0, 16.0, [], marks=[0.0, 4.0, 8.0, 12.0, 16.0]).stretched == []  # evenly apart
    # Data every 50 ms for 16 s: no silence to cut, one burst, its handshake kept apart.
    data = [(0.05 * n, "c", "PA", 101 + 10 * n, 501, 10) for n in range(1, 320)]
    end_seq = 101 + 10 * 320
    closing = [(16.0, "c", "FA", end_seq, 501), ("s", "FA", 501, end_seq + 1), ("c", "A", end_seq + 1, 502)]
    [result] = analyze_segments(conversation(*HANDSHAKE, *data, *closing)).connections
    fig = timeline_figure(result)
    try:
        foot = [p for p in fig.axes[0].patches if p.get_hatch() == "////" and p.get_height() == STRETCH_MARK]
        assert foot and "not to scale there" in fig.axes[0].get_xlabel().replace("\n", " ")
    finally:
        plt.close(fig)


def test_the_time_axis_is_monotone_and_cut_at_the_silences() -> None:
    axis = TimeAxis(0.0, 20.0, [(0.01, 5.0), (5.2, 19.0)])
    times = [0.0, 0.001, 0.01, 3.0, 5.0, 5.1, 5.2, 10.0, 19.0, 19.5, 20.0]
    xs = [axis.x(t) for t in times]
    assert xs == sorted(xs) and xs[0] == 0.0 and xs[-1] == pytest.approx(1.0)
    assert xs[2] < xs[3] < xs[4]  # within a cut: across its gap, in order
    # A longer silence, a wider gap (log scale, as the ladder's cut heights): 13.8 s > 4.99 s.
    (a, b), (c, d) = [(x.right, y.left) for x, y in itertools.pairwise(axis.bursts)]
    assert d - c > b - a
    assert [round(gap, 6) for _x, gap, _before in axis.cut_positions()] == [4.99, 13.8]
    ticks = sorted(axis.ticks(0.0))
    assert [float(label.split()[0]) for _x, label in ticks] == sorted(
        float(label.split()[0]) for _x, label in ticks
    )


CAPTURE_FILES = stored_captures()
# The stored captures whose picked item is a TCP connection: a UDP flow has no states to draw.
STATEFUL_FILES = [p for p in CAPTURE_FILES if not p.stem.startswith("udp")]


@pytest.mark.parametrize("pcap", [*STATEFUL_FILES, ECHO, HTTP], ids=lambda p: p.stem)
def test_timeline_positions_follow_real_time_and_the_ladder_s_pauses(pcap: Path) -> None:
    if not pcap.exists():
        pytest.skip(NO_CORPUS)
    beside = sidecar_path_for(pcap)
    sidecar = json.loads(beside.read_text()) if beside.exists() else None
    analysis = analyze_file(str(pcap), sidecar=sidecar)
    chosen, _note = pick_connection(analysis, None)
    assert isinstance(chosen, ConnectionAnalysis)
    axis = timeline_axis(chosen, sidecar)
    for history in chosen.states.values():
        xs = [axis.x(time) for time, _state in history]
        assert xs == sorted(xs)
    fig = timeline_figure(chosen, sidecar, analysis.stats.origin)
    bars = sorted(
        (p.get_y(), p.get_x()) for p in fig.findobj(Rectangle) if p.get_height() == pytest.approx(0.6)
    )
    for y in {y for y, _x in bars}:
        lefts = [x for row, x in bars if row == y]
        assert lefts == sorted(lefts)
    pauses = sorted(t.get_text()[1:] for t in fig.findobj(plt.Text) if t.get_text().startswith("≈"))
    fig.canvas.draw()
    assert overlapping_labels(fig) == []  # the states' names, the pauses, the ticks
    plt.close(fig)
    ladder = figure(chosen, sidecar, analysis.stats.origin)
    ladder_pauses = sorted(
        t.get_text()[2:-6] for t in ladder.findobj(plt.Text) if t.get_text().startswith("≈ ")
    )
    plt.close(ladder)
    assert ladder_pauses == pauses  # what the reader sees: the same lengths
    assert len(pauses) == len(axis.cut_positions())
    assert all(gap > BREAK_GAP for _x, gap, _before in axis.cut_positions())


def test_many_short_exchanges_apart_fold_into_a_band_across_silences() -> None:
    """An FTP control connection's shape (zeek_ftp__ipv6 drew 91 packets 9,050 px tall): 40
    request/reply/ACK exchanges 0.5 s apart, each too short for a band of its own. The
    handshake and the close stay drawn one by one; the exchanges become a band that runs on
    across the silences, says how many, and names the command that draws each."""
    steps: list[tuple] = list(HANDSHAKE)
    seq, ack = 101, 501
    for index in range(40):
        at = 1.0 + 0.5 * index
        steps += [(at, "c", "PA", seq, ack, 10), (at + 0.01, "s", "PA", ack, seq + 10, 20),
                  (at + 0.02, "c", "A", seq + 10, ack + 20)]  # fmt: skip
        seq, ack = seq + 10, ack + 20
    steps += [
        (25.0, "c", "FA", seq, ack),
        (25.01, "s", "FA", ack, seq + 1),
        (25.02, "c", "A", seq + 1, ack + 1),
    ]
    [result] = analyze_segments(conversation(*steps)).connections
    rows = plan_rows(result)
    drawn = [item.segment.frame for item in rows.items if isinstance(item, Packet)]
    assert drawn[:3] == [1, 2, 3] and drawn[-3:] == [124, 125, 126]
    [band] = [item for item in rows.items if isinstance(item, Band)]
    assert (band.first, band.last, band.silences) == (4, 123, 39)
    assert sum(2.4 if isinstance(i, Band) else 1 for i in rows.items) <= MAX_ROWS
    text = band_text(band, result.connection.id)
    assert (
        "39 silences over 0.1 s within" in text
        and "--connection 0 --frames 4-123 -o frames.png draws each" in text.replace("\n", " ")
    )
    assert "diagram FILE " in text  # the file not known: a placeholder
    # Known, the command can be typed as it is (quoted for the shell where it must be).
    named = band_text(band, result.connection.id, "my capture.pcap").replace("\n", " ")
    assert "handshake diagram 'my capture.pcap' --connection 0 --frames 4-123" in named
    # A long file name with hyphens stays whole on its line: the command pastes as it is.
    path = "/work/shared/corpus/pcaps/zeek_ssh.client-side-half-duplex.pcap"
    assert path in band_text(band, result.connection.id, path).split("\n")
    fig = figure(result)
    assert overlapping_labels(fig) == []
    assert _height(fig) < 2_000


def test_a_band_names_probes_of_a_zero_window_so_not_keep_alives() -> None:
    """Wireshark flags a probe one below the next byte a keep-alive; sent while the peer
    offers no room it is a zero-window probe, and the band that holds it says so."""
    steps = [("c", "PA", 101, 501, 1000), (0.2, "s", "A", 501, 1101)]
    time = 0.2
    for i in range(30):
        time += 0.2 * (1 + i % 3)
        steps += [(time, "c", "A", 1100, 501), (time + 0.001, "s", "A", 501, 1101)]
    segments = conversation(*HANDSHAKE, *steps)
    for segment in segments[4:]:
        if segment.src == segments[1].src:
            segment.window = 0
    [result] = analyze_segments(segments).connections
    flagged = sum((item.flagged for item in plan_rows(result).items if isinstance(item, Band)), Counter())
    assert flagged["window probe"] >= 20 and flagged["keep-alive"] == 0


def test_ecn_signals_are_drawn_after_the_resends_and_counted_in_bands() -> None:
    """A bulk run with ECN agreed whose every ACK echoes congestion (ECE), each reduction
    (CWR) answering: those the rows take are named on their arrows, the others counted in
    the bands that hold them, and a resend among them is drawn one by one before them."""
    steps: list[tuple] = [("c", "SEC", 100, 0), ("s", "SAE", 500, 101), ("c", "A", 101, 501)]
    seq = 101
    for i in range(300):
        flags = "PAC" if i % 2 else "PA"
        steps += [("c", flags, seq, 501, 1000), ("s", "AE", 501, seq + 1000)]
        seq += 1000
    steps += [("c", "PA", 101 + 150_000, 501, 1000)]  # a resend
    steps += [("s", "AE", 501, seq)] * 3  # dup ACKs that echo congestion: second tier still
    [result] = analyze_segments(conversation(*steps, gap=0.0002)).connections
    plan = plan_rows(result)
    drawn = {item.segment.frame for item in plan.items if isinstance(item, Packet)}
    kinds = segment_kinds(result)
    resend = len(steps) - 3
    assert resend in drawn and resend in result.resends
    assert all(kinds[f] == "dup ACK, congestion echo" for f in range(resend + 2, resend + 4))
    tiers = {entry.segment.frame: entry.tier for entry in _entries(result)}
    assert tiers[resend] == 1 and {tiers[f] for f in range(resend + 1, resend + 4)} == {2}
    echoes = [f for f, kind in kinds.items() if kind == "congestion echo"]
    reductions = [f for f, kind in kinds.items() if kind == "window reduced"]
    assert len(echoes) == 300 and len(reductions) == 150
    counted = sum((item.others for item in plan.items if isinstance(item, Band)), Counter())
    assert counted["congestion echo"] + len(set(echoes) & drawn) == 300
    assert counted["window reduction"] + len(set(reductions) & drawn) == 150
    assert counted["congestion echo"] > 0
    text = "\n".join(band_text(item, 0) for item in plan.items if isinstance(item, Band))
    assert "congestion echoes" in text and "window reductions" in text


def test_the_timeline_of_many_cut_silences_folds_them_and_keeps_its_labels_apart() -> None:
    """Probes of a zero window, ever further apart (a helper's capture's times): 16 silences
    while ESTABLISHED are one cut that says how many and that no state changed in them (a cut
    each left slivers between 16 gaps); its length above it and ticks below, none meeting
    another (measured as drawn: digits are wider than the average character)."""
    steps: list[tuple] = [(0.0, "c", "S", 100, 0), (0.0005, "s", "SA", 500, 101), (0.001, "c", "A", 101, 501)]
    for i in range(4):
        steps += [
            (0.002 + 0.001 * i, "c", "A", 101 + 1448 * i, 501, 1448),
            (0.0025 + 0.001 * i, "s", "A", 501, 1549 + 1448 * i),
        ]
    probes = [0.209, 0.617, 1.433, 3.065, 6.329, 12.857, 25.913, 52.025, 104.249]
    for time in probes:
        steps += [(time, "c", "A", 5892, 501), (time + 0.0005, "s", "A", 501, 5893)]
    steps += [(time, "c", "A", 5892, 501) for time in (208.698, 328.698, 448.698, 568.698, 688.698, 808.698)]
    steps.append((809.698, "c", "RA", 5893, 501))
    [result] = analyze_segments(conversation(*steps)).connections
    fig = timeline_figure(result, None, None)
    fig.canvas.draw()
    pauses = [t for t in fig.findobj(plt.Text) if t.get_text().startswith("≈")]
    assert [t.get_text() for t in pauses] == ["≈809.692 s: 16 silences, no change of state"]
    bars = [
        p for p in fig.axes[0].patches if isinstance(p, Rectangle) and p.get_height() == pytest.approx(0.6)
    ]
    established = [
        p.get_width() for p in bars if p.get_facecolor()[:3] == matplotlib.colors.to_rgb("#b9e3b9")
    ]
    assert established and max(established) > 0.5  # one bar across most of the width
    assert overlapping_labels(fig) == []
    # Nor touching: a digit's width at least (6 px at 100 dpi) between two on a level, and two ticks.
    renderer = fig.canvas.get_renderer()
    rows: dict[float, list] = {}
    for text in pauses:
        rows.setdefault(round(text.get_position()[1], 3), []).append(text.get_window_extent(renderer))
    ticks = [t.get_window_extent(renderer) for t in fig.axes[0].get_xticklabels() if t.get_text()]
    for boxes in [*rows.values(), ticks]:
        boxes.sort(key=lambda box: box.x0)
        assert all(b.x0 - a.x1 >= 6 for a, b in itertools.pairwise(boxes)), [
            (a.x1, b.x0) for a, b in itertools.pairwise(boxes)
        ]
    plt.close(fig)


def test_only_many_cuts_fold_and_only_runs_with_nothing_drawn_between() -> None:
    cuts = [(float(i), i + 0.5) for i in range(12)]
    assert fold_unmarked(cuts[:8], []) == (cuts[:8], {})  # few: as the ladder's
    # Marks at 3.7 (in the burst after the 4th cut) and at 9.5 (where the 10th ends: the
    # first moment after it).
    folded, held = fold_unmarked(cuts, [3.7, 9.5])
    assert folded == [(0.0, 3.5), (4.0, 9.5), (10.0, 11.5)]
    assert held == {0.0: 4, 4.0: 6, 10.0: 2}


def test_the_timeline_s_cuts_take_no_letter_out_of_a_silent_end_and_no_tick_reads_minus_zero() -> None:
    """SYNs 1 s apart never answered: the server sent nothing, its row one sentence across
    the cuts' white gaps, drawn over them; the cut lengths above the kernel's marks' row; a
    tick just before frame 1 reads 0.000 s, not -0.000 s."""
    from analyzer.output.time_axis import _seconds

    assert _seconds(-1e-7, 0.0) == "0.000 s" and _seconds(-0.05, 0.2) == "-0.050 s"
    steps = [(float(at), "c", "S", 100, 0) for at in (0, 1, 2, 3, 4)]
    [result] = analyze_segments(conversation(*steps)).connections
    fig = timeline_figure(result, None, None)
    fig.canvas.draw()
    texts = fig.axes[0].texts
    [silent] = [t for t in texts if "sent nothing" in t.get_text()]
    cuts = [
        p for p in fig.axes[0].patches if p.get_facecolor()[:3] == (1.0, 1.0, 1.0) and p.get_zorder() == 3
    ]
    assert cuts and silent.get_zorder() > max(p.get_zorder() for p in cuts)
    assert all(t.get_position()[1] >= 1.5 for t in texts if t.get_text().startswith("≈"))
    plt.close(fig)


def test_state_changes_at_one_instant_each_keep_a_sliver_of_their_own() -> None:
    """Frames stamped alike (a capture's coarse clock): FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT and
    LAST_ACK begin at one instant; each still has a bar of its own, none hidden by the next."""
    from analyzer.output.state_timeline import LEAST_BAR, STATE_COLORS

    steps = [(0.0, "c", "S", 100, 0), (0.001, "s", "SA", 500, 101), (0.002, "c", "A", 101, 501)]
    steps += [
        (1.0, "c", "FA", 101, 501),
        (1.0, "s", "A", 501, 102),
        (1.0, "s", "FA", 501, 102),
        (1.0, "c", "A", 102, 502),
    ]
    [result] = analyze_segments(conversation(*steps)).connections
    fig = timeline_figure(result, None, None)
    for y, side in ((0.7, "client"), (-0.3, "server")):
        bars = sorted(
            (p for p in fig.axes[0].patches if isinstance(p, Rectangle) and abs(p.get_y() - y) < 1e-9),
            key=lambda p: p.get_x(),
        )
        shown = [state.value for _t, state in result.states[side]]
        assert len(bars) == len(shown)
        assert all(b.get_x() - a.get_x() >= LEAST_BAR - 1e-9 for a, b in itertools.pairwise(bars))
        assert [matplotlib.colors.to_hex(b.get_facecolor()) for b in bars] == [STATE_COLORS[s] for s in shown]
    plt.close(fig)


def test_a_band_s_command_names_the_capture_as_it_was_typed(tmp_path) -> None:
    """Run from the folder the user ran the diagram from, the band's command finds the file:
    it names the path typed (captures/x.pcap), where the title names the file alone."""
    from pcap_builder import tcp_packet, write_capture

    def packet(who: str, flags: str, seq: int, ack: int, size: int = 0):
        ends = ("10.0.0.1", 40000, "10.0.0.2", 80) if who == "c" else ("10.0.0.2", 80, "10.0.0.1", 40000)
        made = tcp_packet(4, *ends, flags, seq, ack, b"x" * size)
        made["IP"].id = len(packets) + 1  # each its own packet, not a copy of the one before
        return made

    packets: list = []
    times: list[float] = []
    for at, who, flags, seq, ack in (
        (0.0, "c", "S", 100, 0),
        (0.001, "s", "SA", 500, 101),
        (0.002, "c", "A", 101, 501),
    ):
        packets.append(packet(who, flags, seq, ack))
        times.append(at)
    seq, ack = 101, 501
    for index in range(40):
        at = 1.0 + 0.5 * index
        for offset, who, flags, s, a, size in ((0, "c", "PA", seq, ack, 10), (0.01, "s", "PA", ack, seq + 10, 20),
                                               (0.02, "c", "A", seq + 10, ack + 20, 0)):  # fmt: skip
            packets.append(packet(who, flags, s, a, size))
            times.append(at + offset)
        seq, ack = seq + 10, ack + 20
    folder = tmp_path / "captures"
    folder.mkdir()
    write_capture(folder / "ftp like.pcap", packets, times=times)
    out = tmp_path / "ladder.svg"
    result = run("diagram", "captures/ftp like.pcap", "-o", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    svg = out.read_text()
    assert re.findall(r"handshake diagram [^<]*", svg) == [
        "handshake diagram 'captures/ftp like.pcap' --connection 0"
    ]
    assert "ftp like.pcap: #0" in svg  # the title: the file's name alone


def test_a_state_change_inferred_at_a_segment_is_drawn_one_by_one() -> None:
    """A capture of the client's direction only: its ACK (frame 2) of a SYN/ACK the capture
    lacks moves it to ESTABLISHED, though that step shows no change (the move is inferred
    before it): the ACK is an arrow of its own, not the start of the data's band."""
    data = [("c", "PA", 101 + 100 * i, 501, 100) for i in range(40)]
    result = analyze_segments(conversation(("c", "S", 100, 0), ("c", "A", 101, 501), *data)).connections[0]
    assert 2 in result.state_frames["client"]
    rows = plan_rows(result)
    assert any(isinstance(item, Band) for item in rows.items)
    assert 2 in [item.segment.frame for item in rows.items if isinstance(item, Packet)]


def test_the_arrow_after_segments_let_go_has_its_time_since_the_packet_before() -> None:
    """A folded upload whose last segment before the client's FIN is the server's pure ACK,
    let go: the FIN's Δ is since that ACK (it was missing)."""
    steps = [("c", "S", 100, 0), ("s", "SA", 500, 101), ("c", "A", 101, 501)]
    seq = 101
    for index in range(30_000):
        if index % 2:
            steps.append(("s", "A", 501, seq))
        else:
            steps.append(("c", "A", seq, 501, 100))
            seq += 100
    steps += [("c", "FA", seq, 501), ("s", "FA", 501, seq + 1), ("c", "A", seq + 1, 502)]
    segments = conversation(*steps, gap=1e-5)
    [connection] = stream_connections(iter(segments), fold=FoldedConnection, long_connection=20_000)
    assert connection.folded is not None
    result = analyze_connection(connection)
    fin = segments[-3]
    assert segments[-4].frame not in {s.frame for s in connection.segments}  # let go
    [arrow] = [i for i in plan_rows(result).items if isinstance(i, Packet) and i.segment.frame == fin.frame]
    assert arrow.since_previous == between(segments[-4].stamp, fin.stamp)


def test_the_timelines_tick_labels_keep_a_character_apart() -> None:
    """ "26.658200 s" and "26.768 s" nearly touched: two labels closer than a character's width
    between them keep the one given first."""
    from analyzer.output.state_timeline import CHAR, _spaced

    char = CHAR * 7 / 8
    first, second = "26.658200 s", "26.768 s"
    edge = len(first) * char / 2 + len(second) * char / 2  # the two labels just touching
    assert _spaced([(0.5, first), (0.5 + edge + 0.8 * char, second)]) == [(0.5, first)]
    assert len(_spaced([(0.5, first), (0.5 + edge + 1.2 * char, second)])) == 2


def test_a_band_reads_gaps_as_the_report_does() -> None:
    """A window probe's byte acknowledged: Wireshark flags the data after it as after a gap,
    the report's own reading does not (labels.analysis_notes), nor does the band that holds
    it (helper-112)."""
    from test_long_connection import _probed_flow

    [result] = analyze_segments(_probed_flow()).connections
    assert result.sequence.counts()["lost_segment"] == 1
    assert result.own_sequence.counts()["lost_segment"] == 0
    bands = [item for item in plan_rows(result, max_rows=9).items if isinstance(item, Band)]
    assert bands and not any(band.flagged["after a gap"] for band in bands)


def test_an_empty_range_names_the_connections_that_hold_it(tmp_path: Path) -> None:
    """helper-122: "no segment of connection #0 in that range", and no word that the frames
    asked for are #1's."""
    from pcap_builder import handshake_packets, write_capture

    first = handshake_packets()
    second = [p.copy() for p in handshake_packets()]
    for packet in second:
        packet["TCP"].sport, packet["TCP"].dport = (
            (41000, packet["TCP"].dport) if packet["TCP"].sport == 40000 else (packet["TCP"].sport, 41000)
        )
    path = write_capture(tmp_path / "two.pcap", first + second)
    empty = run("diagram", str(path), "--connection", "0", "--frames", "12-14", "-o", str(tmp_path / "x.svg"))
    assert_one_line_error(
        empty, "frames 12-14", "no segment of connection #0 in that range; #1 has segments there"
    )


def test_a_timeline_gives_a_silence_room_and_runs_to_the_capture_end_when_still_open() -> None:
    """helper-122's mqtt #1: a 150 us exchange, the client's FIN 228 ms later, acknowledged,
    then nothing for 21 s while the capture went on (another connection's packet ends it).
    The 228 ms cut took 4 % of the width beside the microseconds' 85 %, and CLOSE_WAIT, held
    to the capture's end, was a sliver at the axis's end."""
    from segments import HANDSHAKE, conversation
    from test_connections import on_port

    from analyzer.analysis import analyze_segments

    held = conversation(
        *HANDSHAKE,
        ("c", "PA", 101, 501, 10),
        ("s", "A", 501, 111),
        (0.228, "c", "FA", 111, 501),
        ("s", "A", 501, 112),
        gap=0.00005,
    )
    other = on_port(conversation(("c", "PA", 1, 1, 5)), 40001, later=21.0, frames=len(held))
    analysis = analyze_segments(held + other)
    result = next(r for r in analysis.connections if r.connection.id == 0)
    assert result.connection.capture_end is not None
    axis = timeline_axis(result)
    assert axis.bursts[-1].stop == pytest.approx(result.connection.capture_end)
    widths = [high - low for low, high in axis.cut_spans()]
    assert len(widths) == 2 and all(width >= 0.09 for width in widths), widths
    assert widths[1] > widths[0]  # 21 s, wider than 228 ms
