"""The text report's clock is Wireshark's: seconds since frame 1, whatever frame 1 is; and
each state change and RST names its frame."""

from __future__ import annotations

import re
import subprocess

import pytest
from conftest import CAPTURES, run
from pcap_builder import handshake_packets, write_capture
from scapy.layers.inet import IP, UDP

from analyzer.timefmt import format_duration


def test_times_count_from_frame_1_even_when_it_is_not_tcp(tmp_path) -> None:
    packets = [IP(src="10.0.0.9", dst="10.0.0.2") / UDP(sport=53, dport=5353) / b"x", *handshake_packets()]
    capture = write_capture(tmp_path / "udp-first.pcap", packets, step=0.25)
    text = run("analyze", str(capture)).stdout
    assert "times: +seconds since frame 1, as Wireshark's" in text.splitlines()[0]
    # The SYN is frame 2, 0.25 s after the datagram; the last ACK frame 11.
    assert "10 packets, +0.250000 s .. +2.500000 s" in text
    assert "SYN_SENT (+250.000 ms, frame 2)" in text and "ESTABLISHED (+500.000 ms, frame 3)" in text


def test_every_state_change_and_rst_names_its_frame_as_tshark_numbers_them() -> None:
    capture = CAPTURES / "linger-reset.pcap"
    text = run("analyze", "--no-sidecar", str(capture)).stdout
    [rst] = re.findall(r"^  RST        frame (\d+), \+([\d.]+) s", text, re.M)
    states = re.findall(r"\(\+[^,()]+, frame (\d+)\)", text)
    assert states, text
    fields = subprocess.run(
        ["tshark", "-r", str(capture), "-T", "fields", "-e", "frame.number", "-e", "frame.time_relative",
         "-e", "tcp.flags.reset"],
        capture_output=True, text=True,
    )  # fmt: skip
    if fields.returncode != 0:
        pytest.skip(f"tshark is needed to number the frames: {fields.stderr.strip()}")
    rows = [line.split("\t") for line in fields.stdout.splitlines()]
    resets = [(number, float(time)) for number, time, flag in rows if flag in ("1", "True")]
    assert [number for number, _time in resets] == [rst[0]]
    assert float(rst[1]) == pytest.approx(resets[0][1], abs=1e-6)
    assert all(1 <= int(frame) <= len(rows) for frame in states)


def test_mermaid_counts_from_frame_1_too_and_names_each_frame(tmp_path) -> None:
    packets = [IP(src="10.0.0.9", dst="10.0.0.2") / UDP(sport=53, dport=5353) / b"x", *handshake_packets()]
    capture = write_capture(tmp_path / "udp-first.pcap", packets, step=0.25)
    result = run("diagram", str(capture), "--connection", "0", "--format", "mermaid")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "since frame 1 of the capture" in lines[1] and lines[1].strip().startswith("%%")
    arrows = [line for line in lines if "->>" in line]
    # The SYN is frame 2, 0.25 s after the datagram that is frame 1.
    assert arrows[0].endswith("frame 2 +250.000 ms") and "SYN" in arrows[0]
    assert len(arrows) == 10 and arrows[-1].endswith("frame 11 +2.500 s")


def test_a_duration_takes_the_unit_of_its_rounded_figure() -> None:
    """A float's 1 ms (the difference of two timestamps a millisecond apart) reads 1.000 ms."""
    assert format_duration(1700000000.001 - 1700000000.0) == "1.000 ms"
    assert format_duration(0.0009994) == "999 µs"
    assert format_duration(0.9999996) == "1.000 s"
    assert format_duration(0.9999994) == "999.999 ms"
    assert format_duration(-0.0009999) == "-1.000 ms"
    assert format_duration(0.0009995) == "1.000 ms"  # rounded once: not "0.999 ms"
    assert format_duration(0.0) == "0 µs" and format_duration(float("inf")) == "inf s"
    # Written without format specs (they cost the compiled code microseconds): the figures of
    # the format's formula, a millisecond's half up or down as the float falls.
    for micros in [
        *range(1_000_000, 1_003_001),
        *range(59_999_000, 60_001_500, 7),
        1_000_500,
        2_000_500,
        7_000_500,
    ]:
        assert format_duration(micros / 1e6) == f"{round(micros / 1e6, 3):.3f} s"
        assert format_duration(-micros / 1e6) == f"-{round(micros / 1e6, 3):.3f} s"
    for micros in range(1_000, 1_000_000, 13):
        assert format_duration(micros / 1e6) == f"{micros // 1000}.{micros % 1000:03d} ms"
    assert [format_duration(m / 1e6) for m in (1_000_500, 2_000_500, 4_000_500)] == [
        "1.000 s",
        "2.001 s",
        "4.000 s",
    ]
    # A clock stepped by years: the size, not milliseconds nobody reads.
    assert format_duration(99_999.9994) == "99999.999 s"
    assert format_duration(-1.7e9) == "-1,700,000,000 s (about 53.9 years)"
    assert format_duration(3e5) == "300,000 s (about 3.5 days)"


def test_a_frame_time_on_the_ladder_is_written_to_the_microsecond_as_wireshark_writes_it() -> None:
    """tshark's 1.000004 is not '+1.000 s' under the arrow, nor its 0.012300 '+12.300 ms': a
    reader looks the frame up by it."""
    from analyzer.timefmt import since_to_the_microsecond

    assert since_to_the_microsecond(1.0000042) == "+1.000004 s"
    assert since_to_the_microsecond(-2.5) == "-2.500000 s"
    assert since_to_the_microsecond(0.0123) == "+0.012300 s"
    assert since_to_the_microsecond(0.0) == "+0.000000 s"
    # Days into a capture (a port mirror's long flow), still as Wireshark's Time column.
    assert since_to_the_microsecond(227_602.625227) == "+227602.625227 s"
    assert since_to_the_microsecond(95_798_862.628838) == "+95798862.628838 s"
    from conftest import CAPTURES

    from analyzer.analysis import analyze_file
    from analyzer.output.sequence_diagram import sequence_figure

    analysis = analyze_file(str(CAPTURES / "syn-timeout.pcap"))
    [result] = analysis.connections
    origin = analysis.stats.origin
    assert origin is not None
    figure = sequence_figure(result, origin=origin)
    texts = [t.get_text() for t in figure.axes[0].texts]
    second = result.connection.segments[1]
    assert any(f"frame 2  +{(second.stamp - origin.stamp) / 1e9:.6f} s" in t for t in texts), texts


def _labels_saying(result, words: str) -> list[str]:
    """The texts of the connection's ladder that hold `words`."""
    import matplotlib.pyplot as plt

    from analyzer.output.sequence_diagram import sequence_figure

    figure = sequence_figure(result, origin=result.connection.start_clock)
    try:
        return [t.get_text() for t in figure.axes[0].texts if words in t.get_text()]
    finally:
        plt.close(figure)


def test_a_refusal_its_receiver_did_not_take_says_so_under_its_arrow() -> None:
    """Windows sends its refused SYN again after each RST/ACK (zeek_pop3): the client stays in
    SYN_SENT, which the ladder said nowhere, so its lifeline's missing CLOSED read as a slip."""
    from segments import conversation

    from analyzer.analysis import analyze_segments

    segments = conversation(
        ("c", "S", 100, 0), ("s", "RA", 0, 101), (0.5, "c", "S", 100, 0), ("s", "RA", 0, 101)
    )
    [result] = analyze_segments(segments).connections
    said = _labels_saying(result, "stays in SYN_SENT: it retries the connect()")
    assert len(said) == 1 and said[0].startswith("frame 2 "), said


def test_an_unknown_state_names_the_packet_that_may_not_have_arrived() -> None:
    """zeek_socks: the server's FIN, the client's ACK of it, then the client's FIN resent and
    never acknowledged: did the ACK reach the server? Its arrow says so, where the server's
    lifeline turns UNKNOWN (the key alone said "a segment", not which)."""
    from segments import HANDSHAKE, conversation

    from analyzer.analysis import State, analyze_segments

    segments = conversation(
        *HANDSHAKE, ("s", "FA", 501, 101), ("c", "A", 101, 502), ("c", "FA", 101, 502),
        (1.0, "c", "FA", 101, 502), (3.0, "c", "FA", 101, 502),
    )  # fmt: skip
    for segment in segments:  # captured at the client: the server's packets came through routers
        segment.ttl = 64 if segment.sport == segments[0].sport else 50
    [result] = analyze_segments(segments).connections
    assert [state for _t, state in result.states["server"]][-1] == State.UNKNOWN
    said = _labels_saying(result, "may not have reached the server")
    assert len(said) == 1 and said[0].startswith("frame 5 "), said
