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

from analyzer.decode import DecodeStats, interface_clocks, read_packets
from analyzer.decode.interface_clocks import ClockCheck
from analyzer.decode.segment import Segment
from analyzer.parallel import one_file
from analyzer.parallel.options import AnalyzeOptions
from analyzer.timefmt import format_duration

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


def section(
    late: float | list[float],
    connections: int = 3,
    both: bool = False,
    server_on: int = 1,
    names: tuple[str, ...] = ("to-server", "to-client"),
    start: float = 0.0,
    flood: int = 0,
) -> bytes:
    """A pcapng section: `connections` exchanges 10 ms apart from `start`, the client's packets
    captured on interface 0, the server's on interface `server_on`, stamped `late` seconds late
    (or each connection its own); with `both`, every packet on both (two capture points), the
    second copy `late`. Before them, `flood` SYNs from sources of their own, each answered.
    Written in time order, as mergecap writes them."""
    frames = []
    for number in range(flood):
        syn = Ether() / IP(src=f"10.1.{number // 250}.{number % 250 + 1}", dst="10.0.0.2") / TCP(
            sport=1024 + number, dport=80, flags="S", seq=7
        )  # fmt: skip
        answer = Ether() / IP(src="10.0.0.2", dst=syn[IP].src) / TCP(
            sport=80, dport=1024 + number, flags="SA", seq=9, ack=8
        )  # fmt: skip
        frames += [(start + number * 1e-5, 0, bytes(syn)), (start + number * 1e-5 + 5e-6, 1, bytes(answer))]
    start += flood * 1e-5
    for number in range(connections):
        begin = start + number * 0.010
        offset = late[number] if isinstance(late, list) else late
        for seconds, sender, flags, seq, ack, length in EXCHANGE:
            client, server = ("10.0.0.1", 40000 + number + round(start * 1000)), ("10.0.0.2", 80)
            src, dst = (client, server) if sender == "c" else (server, client)
            packet = Ether() / IP(src=src[0], dst=dst[0]) / TCP(
                sport=src[1], dport=dst[1], flags=flags, seq=seq, ack=ack
            ) / (b"x" * length)  # fmt: skip
            frame = bytes(packet)
            if both:
                frames += [(begin + seconds, 0, frame), (begin + seconds + offset, 1, frame)]
            else:
                interface = 0 if sender == "c" else server_on
                frames.append((begin + seconds + (offset if sender == "s" else 0.0), interface, frame))
    return pcapng_section(frames, names)


def pcapng_section(frames: list[tuple[float, int, bytes]], names: tuple[str, ...]) -> bytes:
    """A pcapng section of interfaces `names` holding `frames` (seconds, interface, bytes),
    written in time order, as mergecap writes them."""
    data = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    data += b"".join(_interface(name) for name in names)
    for seconds, interface, frame in sorted(frames, key=lambda f: f[0]):
        ticks = round((1_700_000_000 + seconds) * 1e6)
        fields = struct.pack("<IIIII", interface, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), len(frame))
        data += _block(6, fields + frame)
    return data


def split_tap(path: Path, late: float | list[float], **shape: object) -> Path:
    """One section (`section`'s shape) in a file."""
    path.write_bytes(section(late, **shape))  # type: ignore[arg-type]
    return path


def _check(path: Path) -> ClockCheck:
    check = ClockCheck()
    for record in read_packets(str(path)):
        if type(record) is Segment:
            check.feed(record, 0, record.interface)
    return check


def _clock_warnings(path: Path) -> list[str]:
    stats = DecodeStats()
    list(read_packets(str(path), stats))
    return [w for w in stats.warnings if "clock" in w]


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
    [said] = _clock_warnings(split_tap(tmp_path / "late.pcapng", 0.002))
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


def test_each_section_s_interfaces_are_its_own(tmp_path) -> None:
    """(helper-105) A pcapng section numbers its interfaces anew: section 1's interface 1,
    2 ms late, is not section 2's interface 1 (other names, clocks that agree), which made a
    'drifting' offset of the two, named with section 2's names."""
    path = tmp_path / "sections.pcapng"
    path.write_bytes(section(0.002) + section(0.0, names=("eth-a", "eth-b"), start=1.0))
    [said] = _clock_warnings(path)
    assert said.startswith(
        "section 1's interface 1 (to-client) stamps its packets 1.970 ms to 2.200 ms later than "
        "section 1's interface 0 (to-server)'s clock: 9 acknowledgments"
    )


def test_offsets_of_seconds_and_after_a_flood_are_told(monkeypatch, tmp_path) -> None:
    """(helper-105) 150 ms went untold (ACKs further ahead than 100 ms were no evidence), and
    past FLOW_LIMIT attempts of a flood no connection was followed: the first followed longest
    is now dropped for the next."""
    for late in (0.150, 2.0):
        [said] = _clock_warnings(split_tap(tmp_path / "far.pcapng", late))
        assert f"{format_duration(late - 0.00003)} to {format_duration(late + 0.0002)} later" in said
    monkeypatch.setattr(interface_clocks, "FLOW_LIMIT", 50)
    [said] = _clock_warnings(split_tap(tmp_path / "flood.pcapng", 0.002, flood=200))
    assert "9 acknowledgments, in 3 connections" in said


def test_an_offset_that_changes_sign_is_one_warning(tmp_path) -> None:
    """(helper-105) Each interface late by turns: one line for the pair, not two that each
    say the other is 'less than 0 us later'."""
    [said] = _clock_warnings(
        split_tap(tmp_path / "both.pcapng", [-0.003, -0.003, 0.003, 0.003], connections=4)
    )
    assert said.startswith(
        "interface 0 (to-server) stamps its packets up to 2.800 ms later than interface 1 (to-client)'s clock "
        "at times, and up to 2.970 ms earlier at others (the offset changes: a clock drifts or steps): "
        "12 acknowledgments, in 4 connections"
    )
