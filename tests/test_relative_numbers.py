"""The relative seq and ack on every label are Wireshark's, frame for frame (tshark's
tcp.seq and tcp.ack): on captures that hold the handshake and on ones begun mid-stream,
where each side's base comes from its first segment or from the first ACK of it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import CAPTURES
from pcap_builder import tcp_packet, write_capture

from analyzer.analysis import analyze_file
from analyzer.decode.segment import ACK
from analyzer.output.labels import SequenceBases, analysis_notes, packet_label
from analyzer.output.mermaid import connection_mermaid

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark (make setup)")


def tshark_numbers(pcap: Path) -> dict[int, tuple[int, int | None]]:
    """frame -> (relative seq, relative ack or None without the ACK flag), as tshark says."""
    out = subprocess.run(
        ["tshark", "-n", "-r", str(pcap), "-Y", "tcp", "-T", "fields",
         "-e", "frame.number", "-e", "tcp.seq", "-e", "tcp.ack", "-e", "tcp.flags.ack"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    numbers = {}
    for line in out.splitlines():
        frame, seq, ack, has_ack = line.split("\t")
        numbers[int(frame)] = (int(seq), int(ack) if has_ack in ("1", "True") else None)
    return numbers


def our_numbers(pcap: Path) -> dict[int, tuple[int, int | None]]:
    numbers = {}
    for result in analyze_file(str(pcap)).connections:
        bases = SequenceBases(result)
        for segment in result.connection.segments:
            sender = result.connection.sender(segment)
            peer = "server" if sender == "client" else "client"
            words = dict(
                part.split("=")
                for part in packet_label(
                    segment, bases.seq_base(sender, segment), bases.ack_base(peer, segment)
                ).split()
                if "=" in part
            )
            numbers[segment.frame] = (int(words["seq"]), int(words["ack"]) if segment.flags & ACK else None)
    return numbers


def mid_stream(path: Path) -> Path:
    """Begun mid-stream: the server's ACK first (it sets the client's base from its ack), then
    client data, a resend from below that base, then more."""
    c, s = "10.0.0.1", "10.0.0.2"
    return write_capture(path, [
        tcp_packet(4, s, 80, c, 40000, "A", 900_000, 5_000_000),
        tcp_packet(4, c, 40000, s, 80, "PA", 5_000_000, 900_000, b"x" * 100),
        tcp_packet(4, c, 40000, s, 80, "PA", 4_999_000, 900_000, b"y" * 1000),
        tcp_packet(4, s, 80, c, 40000, "PA", 900_000, 5_000_100, b"z" * 10),
        tcp_packet(4, c, 40000, s, 80, "FA", 5_000_100, 900_010),
        tcp_packet(4, s, 80, c, 40000, "RA", 900_010, 5_000_101),
    ])  # fmt: skip


@needs_tshark
def test_a_capture_begun_mid_stream_numbers_as_wireshark(tmp_path: Path) -> None:
    pcap = mid_stream(tmp_path / "mid.pcap")
    ours, theirs = our_numbers(pcap), tshark_numbers(pcap)
    assert ours == theirs
    # The first segments read 1, not 0 (the client's base from the server's ack in frame 1);
    # data from before a base wraps, in Wireshark too.
    assert ours[1] == (1, 1) and ours[2] == (1, 1) and ours[3] == (2**32 - 999, 1)


@needs_tshark
@pytest.mark.parametrize(
    "name", ["handshake.pcap", "refused.pcap", "simultaneous-close-ipv6.pcap", "keepalive.pcap"]
)
def test_stored_captures_number_as_wireshark(name: str) -> None:
    pcap = CAPTURES / name
    assert our_numbers(pcap) == tshark_numbers(pcap)


def test_wiresharks_analysis_flags_are_said_under_their_arrows(tmp_path: Path) -> None:
    """Data after a gap, then the missing data (out of order: it comes 1 ms later, too soon
    for a resend): each named in the ladder's words, in the Mermaid text as under the drawn
    arrows."""
    c, s = "10.0.0.1", "10.0.0.2"
    packets = [
        tcp_packet(4, s, 80, c, 40000, "A", 1_000, 5_000),
        tcp_packet(4, s, 80, c, 40000, "PA", 1_100, 5_000, b"b" * 100),  # 1..100 not captured
        tcp_packet(4, s, 80, c, 40000, "PA", 1_000, 5_000, b"a" * 100),
        tcp_packet(4, c, 40000, s, 80, "A", 5_000, 1_200),
    ]
    pcap = write_capture(tmp_path / "gap.pcap", packets)
    [result] = analyze_file(str(pcap)).connections
    notes = analysis_notes(result)
    assert result.sequence.flags[2] == ["lost_segment"] and notes[2] == "after a gap"
    assert "out_of_order" in result.sequence.flags[3] and notes[3] == "out of order"
    text = connection_mermaid(result)
    assert re.search(r"seq=101 ack=1 len=100 frame 2 \+\S+ \S+ \(after a gap\)\n", text)
    assert re.search(r"seq=1 ack=1 len=100 frame 3 \+\S+ \S+ \(out of order\)\n", text)


@needs_tshark
def test_a_syn_sets_its_sides_base_over_a_guess_made_before_it(tmp_path: Path) -> None:
    """A RST injected ahead of the server's SYN/ACK (zeek_rst-inject-rae): the server's numbers
    count from its ISN, as in tshark, not from the injected RST's seq."""
    c, s = "10.0.0.1", "10.0.0.2"
    pcap = write_capture(tmp_path / "injected.pcap", [
        tcp_packet(4, c, 40000, s, 80, "S", 7_000),
        tcp_packet(4, s, 80, c, 40000, "R", 0),
        tcp_packet(4, s, 80, c, 40000, "SA", 900_000, 7_001),
        tcp_packet(4, c, 40000, s, 80, "A", 7_001, 900_001),
        tcp_packet(4, c, 40000, s, 80, "PA", 7_001, 900_001, b"x" * 25),
        tcp_packet(4, s, 80, c, 40000, "A", 900_001, 7_026),
    ])  # fmt: skip
    ours, theirs = our_numbers(pcap), tshark_numbers(pcap)
    assert ours[3] == (0, 1) and ours[6] == (1, 26)
    # The RST before the SYN/ACK reads as tshark's guess at that moment; every other frame the same.
    assert {f: n for f, n in ours.items() if f != 2} == {f: n for f, n in theirs.items() if f != 2}
