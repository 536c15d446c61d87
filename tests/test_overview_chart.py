"""The overview picture (output/overview_chart.py): a row per connection on Wireshark's clock,
coloured by outcome, every row when they fit, the rarest outcomes when they do not, in
memory that does not grow with the file."""

from __future__ import annotations

import re
import tracemalloc
from pathlib import Path

import pytest
from conftest import CAPTURES, assert_one_line_error, run
from pcap_builder import handshake_packets, tcp_packet, write_capture

from analyzer.analysis import analyze_file, stream_file
from analyzer.output.overview_chart import MAX_ROWS, OUTCOMES, Overview, outcome
from analyzer.output.summary import reset_words

CLIENT, SERVER = "10.0.0.1", "10.0.0.2"


def _mixed(path: Path, attempts: int) -> Path:
    """One complete exchange, one refused, one reset after its handshake, then `attempts`
    unanswered SYNs from as many ports: a SYN flood's shape."""
    packets = list(handshake_packets())
    packets += [
        tcp_packet(4, CLIENT, 41000, SERVER, 81, "S", 10),
        tcp_packet(4, SERVER, 81, CLIENT, 41000, "RA", 0, 11),
    ]
    packets += [
        tcp_packet(4, CLIENT, 42000, SERVER, 80, "S", 20),
        tcp_packet(4, SERVER, 80, CLIENT, 42000, "SA", 90, 21),
        tcp_packet(4, CLIENT, 42000, SERVER, 80, "A", 21, 91),
        tcp_packet(4, SERVER, 80, CLIENT, 42000, "R", 91),
    ]
    packets += [tcp_packet(4, f"10.1.{n >> 8}.{n & 255}", 50000, SERVER, 80, "S", n) for n in range(attempts)]
    return write_capture(path, packets)


def _texts(svg: Path) -> list[str]:
    return [re.sub(r"<[^>]+>", "", t) for t in re.findall(r"<text[^>]*>(.*?)</text>", svg.read_text(), re.S)]


def test_each_connection_is_a_row_in_the_colour_of_its_outcome(tmp_path) -> None:
    capture = _mixed(tmp_path / "mixed.pcap", attempts=3)
    results = analyze_file(str(capture)).connections
    outcomes = [outcome(r) for r in results]
    assert outcomes == ["closed", "refused", "reset", "no_answer", "no_answer", "no_answer"]
    out = tmp_path / "overview.svg"
    result = run("overview", str(capture), "-o", str(out))
    assert result.returncode == 0, result.stderr
    texts = " ".join(_texts(out))
    # The title says what the picture shows, and the clock, in plain words.
    assert "mixed.pcap: 6 TCP connections over time, coloured by outcome" in texts
    assert "A row per connection." in texts and "time in seconds since frame 1" in texts
    assert "#0 10.0.0.1:40000 → 10.0.0.2:80" in texts and "#5 10.1.0.2:50000 → 10.0.0.2:80" in texts
    cause = reset_words(results[2].resets[0].cause)
    assert f"RST: {cause}" in texts  # the reset row names its cause, in the table's words
    for key, count in (("closed", 1), ("refused", 1), ("reset", 1), ("no_answer", 3)):
        assert f"{OUTCOMES[key][0]}: {count}" in texts
    assert OUTCOMES["open"][0] not in texts  # no outcome in the legend that no row has
    svg = out.read_text()
    for key in ("closed", "refused", "reset", "no_answer"):
        assert OUTCOMES[key][1] in svg
    assert "seconds since frame 1 (the capture's first frame: Wireshark's clock)" in texts


def test_a_flood_shows_its_rare_outcomes_and_counts_the_rest(tmp_path) -> None:
    capture = _mixed(tmp_path / "flood.pcap", attempts=500)
    stream = stream_file(str(capture))
    overview = Overview()
    for result in stream.results:
        overview.add(result)
    rows = overview.drawn()
    assert len(rows) == MAX_ROWS and overview.connections == 503
    kinds = [row.outcome for row in rows]
    assert kinds.count("closed") == kinds.count("refused") == kinds.count("reset") == 1
    assert [row.start for row in rows] == sorted(row.start for row in rows)
    out = tmp_path / "flood.png"
    assert run("overview", str(capture), "-o", str(out)).returncode == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = tmp_path / "flood.svg"
    assert run("overview", str(capture), "-o", str(svg)).returncode == 0
    texts = " ".join(_texts(svg))
    assert "flood.pcap: 503 TCP connections over time, coloured by outcome" in texts
    assert f"{MAX_ROWS} of them drawn, a row each: the rarest outcomes first" in texts
    assert "connections begun" in texts


def test_an_overview_keeps_a_few_rows_whatever_the_file(tmp_path) -> None:
    capture = _mixed(tmp_path / "flood.pcap", attempts=3000)
    results = list(stream_file(str(capture)).results)

    def peak(count: int) -> int:
        overview = Overview()
        tracemalloc.start()
        try:
            for result in results[:count]:
                overview.add(result)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    # Each connection adds its start time (8 bytes); the rows kept stay MAX_ROWS an outcome.
    assert peak(3000) - peak(1000) < 2000 * 100


def test_wireshark_clock_and_errors(tmp_path) -> None:
    capture = CAPTURES / "backlog.pcap"
    out = tmp_path / "b.svg"
    assert run("overview", str(capture), "-o", str(out)).returncode == 0
    # The first connection begins at the first frame: its bar starts at 0 on the axis.
    stream = stream_file(str(capture))
    first = min(r.connection.first_time for r in stream.results)
    assert stream.stats.start_time == pytest.approx(first)
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(capture.read_bytes()[:24])
    assert_one_line_error(run("overview", str(empty), "-o", str(out)), "no TCP connection to draw")


def test_when_the_last_turn_is_cut_the_commonest_outcome_gives_way() -> None:
    from analyzer.output.overview_chart import Row

    overview = Overview()
    counts = {"refused": 1, "reset": 100, "incomplete": 200, "no_answer": 300, "closed": 400, "open": 500}
    ident = 0
    for kind, count in counts.items():
        for n in range(count):
            row = Row(ident, f"#{ident}", float(n), float(n) + 1, kind, "", [], [], False)
            overview.starts[kind].append(row.start)
            if len(overview.best[kind]) < MAX_ROWS:
                overview.best[kind].append((row.rank, row))
            ident += 1
    drawn = [row.outcome for row in overview.drawn()]
    # In turns, rarest first: 1 refused, then 5 a turn; the 61st row, the commonest's, is cut.
    assert len(drawn) == MAX_ROWS
    assert {kind: drawn.count(kind) for kind in counts} == {
        "refused": 1, "reset": 12, "incomplete": 12, "no_answer": 12, "closed": 12, "open": 11
    }  # fmt: skip


def test_a_dotted_leader_runs_from_a_bar_to_its_note(tmp_path) -> None:
    """The reset row's cause is written in the right margin; a short bar far to the left is
    tied to it by a dotted line on its own row, and rows without a note have none."""
    import matplotlib.pyplot as plt

    from analyzer.output.overview_chart import LEADER, overview_figure

    capture = _mixed(tmp_path / "mixed.pcap", attempts=3)
    analysis = analyze_file(str(capture))
    overview = Overview(origin=analysis.stats.start_time or 0.0, end=analysis.stats.end_time or 0.0)
    for result in analysis.connections:
        overview.add(result)
    fig = overview_figure(overview, "mixed.pcap")
    try:
        ax = fig.axes[0]
        leaders = [line for line in ax.get_lines() if line.get_gid() == LEADER]
        rows = [row for row in overview.drawn() if row.note]
        assert len(leaders) == len(rows) == 1
        xs, ys = leaders[0].get_data()
        row = overview.drawn().index(rows[0])
        assert list(ys) == [row, row]
        assert xs[0] == pytest.approx(rows[0].end - overview.origin, abs=0.02)
        assert xs[1] >= ax.get_xlim()[1] - 1e-9
    finally:
        plt.close(fig)


def test_years_of_capture_are_plain_seconds_and_the_legend_names_only_marks_drawn() -> None:
    """Two attempts three years apart: the axis said 0 to 8 with "1e7" in a corner, both bars
    slivers at its ends; and the legend listed RST and resend marks that no row carried."""
    import matplotlib.pyplot as plt

    from analyzer.output.overview_chart import Row, overview_figure

    overview = Overview(origin=0.0, end=95_000_000.0)
    for ident, start in enumerate((0.0, 94_999_999.0)):
        row = Row(ident, f"#{ident}", start, start + 1, "no_answer", "", [], [], False)
        overview.starts["no_answer"].append(row.start)
        overview.best["no_answer"].append((row.rank, row))
    overview.connections = 2
    fig = overview_figure(overview, "years.pcap")
    try:
        fig.canvas.draw()
        ax = fig.axes[0]
        ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        assert "94,999,999.0 s" in ticks and "0.0 s" in ticks, ticks
        assert ax.xaxis.get_offset_text().get_text() == ""
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
        assert legend == ["SYN never answered: 2"], legend
        # The three years between the two are cut out, their length written at the cut; each
        # bar is a burst of its own, drawn to scale (it was a sliver at each end of the axis).
        texts = [t.get_text() for t in ax.texts]
        assert any(t.startswith("≈94,999,998 s (about 3.0 years)") for t in texts), texts
        bars = [patch.get_paths()[0].get_extents() for patch in ax.collections if patch.get_paths()]
        assert len(bars) == 2 and all(bar.width > 0.05 for bar in bars), bars
    finally:
        plt.close(fig)


def test_silences_long_against_what_is_left_are_cut_too() -> None:
    """zeek_ssh.client-side-half-duplex: a burst of 6 s, three years of silence, then 16 days
    of connections with a silence of 8 days among them. Cut at the three years alone, the 6 s
    burst was drawn as wide as a day of the rest, with one tick; now the 8 days are cut too,
    each burst has room for its first and last ticks, and a cut's length is grouped."""
    from analyzer.output.overview_chart import BURST_LEAST, Row, cut_axis

    day = 86_400.0
    spans = [(0.0, 6.2), (95_798_856.0, 95_798_862.6)]
    spans += [(95_798_862.6 + 8.3 * day + n * day, 95_798_862.6 + 8.3 * day + n * day + 30) for n in range(8)]
    rows = [Row(n, f"#{n}", a, b, "no_answer", "", [], [], False) for n, (a, b) in enumerate(spans)]
    axis = cut_axis(rows, 0.0, spans[-1][1])
    assert axis is not None
    assert [round(b - a) for a, b in axis.cuts] == [95_798_850, round(8.3 * day)]
    first = axis.bursts[0]
    assert first.right - first.left >= BURST_LEAST * 0.99
    assert [label for _x, label in axis.ticks(0.0)][:2] == ["0 s", "95798860 s"]
