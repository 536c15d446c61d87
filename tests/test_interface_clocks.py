"""A pcapng of two interfaces whose clocks disagree (decode/interface_clocks.py): a tap that
splits a link's two directions onto two capture ports, one stamping late, merged by time."""

from __future__ import annotations

import io
import json
import struct
from dataclasses import replace
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from analyzer.decode import DecodeStats, read_packets
from analyzer.decode.interface_clocks import ClockCheck
from analyzer.decode.segment import Segment
from analyzer.parallel import one_file
from analyzer.parallel.options import AnalyzeOptions

# One exchange, the time of each step on the wire: (seconds, sender, flags, seq, ack, bytes).
EXCHANGE = (
    (0.000000, "c", "S", 100, 0, 0),
    (0.000200, "s", "SA", 500, 101, 0),
    (0.000230, "c", "A", 101, 501, 0),
    (0.000300, "c", "PA", 101, 501, 20),
    (0.000500, "s", "A", 501, 121, 0),
    (0.000600, "s", "PA", 501, 121, 100),
    (0.000630, "c", "A", 121, 601, 0),
    (0.000700, "c", "FA", 121, 601, 0),
    (0.000900, "s", "FA", 601, 122, 0),
    (0.000930, "c", "A", 122, 602, 0),
)


def _block(kind: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", kind, len(body) + 12) + body + struct.pack("<I", len(body) + 12)


def _interface(name: str) -> bytes:
    option = name.encode()
    option = struct.pack("<HH", 2, len(option)) + option + b"\0" * (-len(option) % 4)
    return _block(1, struct.pack("<HHI", 1, 0, 0) + option + struct.pack("<HH", 0, 0))


def split_tap(path: Path, late: float, connections: int = 3, both: bool = False, server_on: int = 1) -> Path:
    """`connections` exchanges 10 ms apart, the client's packets captured on interface 0
    ("to-server"), the server's on interface `server_on` ("to-client" is 1), stamped `late`
    seconds late; with `both`, every packet on both (two capture points), the second copy
    `late`. Written in time order, as mergecap writes them."""
    frames = []
    for number in range(connections):
        start = number * 0.010
        for seconds, sender, flags, seq, ack, length in EXCHANGE:
            client, server = ("10.0.0.1", 40000 + number), ("10.0.0.2", 80)
            src, dst = (client, server) if sender == "c" else (server, client)
            packet = Ether() / IP(src=src[0], dst=dst[0]) / TCP(
                sport=src[1], dport=dst[1], flags=flags, seq=seq, ack=ack
            ) / (b"x" * length)  # fmt: skip
            frame = bytes(packet)
            if both:
                frames += [(start + seconds, 0, frame), (start + seconds + late, 1, frame)]
            else:
                interface = 0 if sender == "c" else server_on
                frames.append((start + seconds + (late if sender == "s" else 0.0), interface, frame))
    frames.sort(key=lambda f: f[0])
    data = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    data += _interface("to-server") + _interface("to-client")
    for seconds, interface, frame in frames:
        ticks = round((1_700_000_000 + seconds) * 1e6)
        fields = struct.pack("<IIIII", interface, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), len(frame))
        data += _block(6, fields + frame)
    path.write_bytes(data)
    return path


def _check(path: Path) -> ClockCheck:
    check = ClockCheck()
    for record in read_packets(str(path)):
        if type(record) is Segment:
            check.feed(record, record.interface)
    return check


def test_an_interface_stamping_2_ms_late_is_told_with_bounds_that_hold_its_offset(tmp_path) -> None:
    check = _check(split_tap(tmp_path / "late.pcapng", 0.002))
    late = check._pairs[(1, 0)]
    early = check._pairs[(0, 1)]
    # Every ACK of the server's segments came ahead of them: the client's 3 a connection.
    assert (late.evidence, len(late.connections)) == (9, 3)
    assert late.low <= 0.002 <= -early.low
    # Bounded by the ACKs that came 30 us after a segment, and the answers 200 us after one.
    assert (late.low, -early.low) == (pytest.approx(0.00197, abs=1e-9), pytest.approx(0.0022, abs=1e-9))


def test_the_warning_names_the_late_interface_and_what_it_does_to_the_analysis(tmp_path) -> None:
    stats = DecodeStats()
    list(read_packets(str(split_tap(tmp_path / "late.pcapng", 0.002)), stats))
    [said] = [w for w in stats.warnings if "clock" in w]
    assert said.startswith(
        "interface 1 (to-client) stamps its packets 1.970 ms to 2.200 ms later than interface 0 (to-server)'s clock:"
        " 9 acknowledgments, in 3 connections"
    )
    assert "reads as missed by the capture, then resent" in said


def test_agreeing_clocks_and_two_capture_points_say_nothing(tmp_path) -> None:
    """Nor does one interface whose packets came out of time order (several CPUs' buffers):
    an interface's clock is not late against itself."""
    shapes = (("same", 0.0, False, 1), ("late5us", 0.000005, False, 1), ("points", 0.002, True, 1),
              ("one", 0.002, False, 0))  # fmt: skip
    for name, late, both, server_on in shapes:
        stats = DecodeStats()
        list(
            read_packets(
                str(split_tap(tmp_path / f"{name}.pcapng", late, both=both, server_on=server_on)), stats
            )
        )
        assert not [w for w in stats.warnings if "clock" in w], name


def test_shares_tell_it_as_one_process_does(monkeypatch, tmp_path) -> None:
    """Share 0 reads every connection for it while it checks, and keeps only its own."""
    path = split_tap(tmp_path / "late.pcapng", 0.002, connections=8)
    options = AnalyzeOptions(format="json", use_sidecar=False)
    alone = io.StringIO()
    warned = one_file.render_file(str(path), options, alone).warnings
    monkeypatch.setattr(one_file, "SHARE_ABOVE_BYTES", 0)
    shared = io.StringIO()
    rendered = one_file.render_file(str(path), replace(options, jobs=2), shared)
    assert shared.getvalue() == alone.getvalue()
    assert rendered.warnings == warned and any("to-client" in w for w in warned)
    assert len(json.loads(alone.getvalue())["connections"]) == 8
