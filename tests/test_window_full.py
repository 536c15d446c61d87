"""Wireshark's [TCP Window Full] (findings/retransmissions.py): data up to the right edge of
the window the peer offered last, scaled as both SYNs said. Each case's frames are tshark
4.0.17's for the same packets; where tshark is installed the test asks it again."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from pcap_builder import tcp_packet, write_capture
from scapy.layers.inet import IP, TCP

from analyzer.analysis import analyze_file

CLIENT, SERVER = "10.0.0.1", "10.0.0.2"


def _packet(
    who: str, flags: str, seq: int, ack: int, length: int = 0, window: int = 65535, scale: int | None = None
):
    src, sport, dst, dport = (CLIENT, 40000, SERVER, 80) if who == "c" else (SERVER, 80, CLIENT, 40000)
    options = [("WScale", scale)] if scale is not None else None
    packet = tcp_packet(4, src, sport, dst, dport, flags, seq, ack, b"x" * length, options=options)
    packet[TCP].window = window
    return packet


P = _packet
HANDSHAKE = [P("c", "S", 100, 0), P("s", "SA", 500, 101, window=1000), P("c", "A", 101, 501)]
# name: (packets, the frames tshark flags)
CASES = {
    "both SYNs scale by 7: a window of 2 holds 256 bytes": (
        [P("c", "S", 100, 0, scale=7), P("s", "SA", 500, 101, window=1000, scale=7), P("c", "A", 101, 501),
         P("s", "A", 501, 101, window=2), P("c", "PA", 101, 501, 256), P("c", "PA", 357, 501, 10)],
        [5],
    ),
    "neither SYN scales": ([*HANDSHAKE, P("s", "A", 501, 101, window=300), P("c", "PA", 101, 501, 300)], [5]),
    "one SYN without the option: nothing scales": (
        [P("c", "S", 100, 0, scale=7), P("s", "SA", 500, 101, window=1000), P("c", "A", 101, 501),
         P("s", "A", 501, 101, window=300), P("c", "PA", 101, 501, 300)],
        [5],
    ),
    "no SYN: the scale is unknown": ([P("s", "A", 501, 101, window=300), P("c", "PA", 101, 501, 300)], []),
    "a SYN/ACK alone with the option: unknown": (
        [P("s", "SA", 500, 101, window=1000, scale=7), P("c", "A", 101, 501), P("s", "A", 501, 101, window=300),
         P("c", "PA", 101, 501, 300)],
        [],
    ),
    "a SYN/ACK alone without it: nothing scales": (
        [P("s", "SA", 500, 101, window=1000), P("c", "A", 101, 501), P("s", "A", 501, 101, window=300),
         P("c", "PA", 101, 501, 300)],
        [4],
    ),
    "a SYN/ACK's window is never scaled": (
        [P("c", "S", 100, 0, scale=7), P("s", "SA", 500, 101, window=200, scale=7), P("c", "PA", 101, 501, 200)],
        [3],
    ),
    "a FIN is never window full": (
        [*HANDSHAKE, P("s", "A", 501, 101, window=300), P("c", "FPA", 101, 501, 300)],
        [],
    ),
    "a resend to the edge is full again": (
        [*HANDSHAKE, P("s", "A", 501, 101, window=300), P("c", "PA", 101, 501, 300), P("c", "PA", 101, 501, 300)],
        [5, 6],
    ),
    "the server's data against the client's scale of 2": (
        [P("c", "S", 100, 0, scale=2), P("s", "SA", 500, 101, window=1000, scale=7), P("c", "A", 101, 501, window=100),
         P("s", "PA", 501, 101, 400), P("c", "A", 101, 501, window=100), P("s", "PA", 501, 101, 400)],
        [4, 6],
    ),
    "the first SYN's scale holds, a resend's without the option aside": (
        [P("c", "S", 100, 0, scale=7), P("c", "S", 100, 0), P("s", "SA", 500, 101, window=1000, scale=7),
         P("c", "A", 101, 501), P("s", "A", 501, 101, window=300), P("c", "PA", 101, 501, 300)],
        [],
    ),
    "a RST's acknowledgment field and window count as the last": (
        [*HANDSHAKE, P("s", "A", 501, 101, window=300), P("s", "R", 501, 0, window=0), P("c", "PA", 101, 501, 300)],
        [],
    ),
}  # fmt: skip


def _capture(tmp_path: Path, packets: list) -> Path:
    for number, packet in enumerate(packets, start=1):
        packet[IP].id = number  # a resend is no capture's copy
    return write_capture(tmp_path / "window.pcap", packets, times=[0.001 * i for i in range(len(packets))])


def _ours(path: Path) -> list[int]:
    analysis = analyze_file(str(path))
    flagged = (
        frame
        for r in analysis.connections
        for frame, kinds in r.sequence.flags.items()
        if "window_full" in kinds
    )
    return sorted(flagged)


@pytest.mark.parametrize("case", list(CASES))
def test_window_full_as_tshark_flags_it(tmp_path: Path, case: str) -> None:
    packets, frames = CASES[case]
    assert _ours(_capture(tmp_path, packets)) == frames


@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark (make setup)")
@pytest.mark.parametrize("case", list(CASES))
def test_tshark_still_flags_these_frames(tmp_path: Path, case: str) -> None:
    packets, frames = CASES[case]
    path = _capture(tmp_path, packets)
    fields = [
        "tshark",
        "-r",
        str(path),
        "-Y",
        "tcp.analysis.window_full",
        "-T",
        "fields",
        "-e",
        "frame.number",
    ]
    found = subprocess.run(fields, capture_output=True, text=True, check=True, timeout=60).stdout.split()
    assert [int(frame) for frame in found] == frames
