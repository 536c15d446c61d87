"""Times to the microsecond are differences of the capture's own integer stamps: a float of
epoch seconds is good to about 240 ns, and on a nanosecond capture one microsecond digit in
ten would differ from tshark's (frame.time_relative, exact)."""

from __future__ import annotations

import json
import re
import struct
import subprocess
from pathlib import Path

import pytest
from conftest import run

from analyzer.decode.capture_file import CaptureFile
from analyzer.decode.reader import DecodeStats, read_packets
from analyzer.decode.segment import ACK, RST, SYN, Segment
from analyzer.held_attempt import can_pack, pack_record, unpack_record
from analyzer.timefmt import NS, Clock, between, epoch_seconds, format_duration

START = 1796367894 * NS + 979_101_234  # frame 1's stamp
# A gap whose microseconds the floats get wrong: exactly 2.879940490 s, which is 2.879940 s
# to the microsecond; the difference of the two epoch floats writes 2.879941 s.
GAP = 2_879_940_490


def _frame(flags: int, seq: int, ack: int, sport: int = 40000, dport: int = 80) -> bytes:
    """An Ethernet frame of an IPv4 TCP segment 10.0.0.1 <-> 10.0.0.2, no payload."""
    src, dst = (
        (bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
        if sport == 40000
        else (bytes([10, 0, 0, 2]), bytes([10, 0, 0, 1]))
    )
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 1024, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, seq & 0xFFFF, 0, 64, 6, 0, src, dst)
    return b"\x02" * 12 + b"\x08\x00" + ip + tcp


HANDSHAKE = [
    _frame(SYN, 100, 0),
    _frame(SYN | ACK, 500, 101, 80, 40000),
    _frame(ACK, 101, 501),
]


def _nanosecond_pcap(path: Path, stamps: list[int], frames: list[bytes]) -> Path:
    records = [
        struct.pack("<IIII", stamp // NS, stamp % NS, len(frame), len(frame)) + frame
        for stamp, frame in zip(stamps, frames, strict=True)
    ]
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1) + b"".join(records))
    return path


def _pcapng_block(block_type: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", block_type, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))


def _pcapng(path: Path, resolution: int, offset: int, ticks: list[int], frames: list[bytes]) -> Path:
    """One Ethernet interface with if_tsresol `resolution` (the option's byte) and if_tsoffset."""
    options = struct.pack("<HHB3x", 9, 1, resolution) + struct.pack("<HHq", 14, 8, offset) + b"\0" * 4
    blocks = [
        _pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)),
        _pcapng_block(1, struct.pack("<HHI", 1, 0, 65535) + options),
    ]
    for tick, frame in zip(ticks, frames, strict=True):
        fields = struct.pack("<IIIII", 0, tick >> 32, tick & 0xFFFFFFFF, len(frame), len(frame))
        blocks.append(_pcapng_block(6, fields + frame))
    path.write_bytes(b"".join(blocks))
    return path


def test_a_clock_counts_from_stamps_exactly_where_floats_do_not() -> None:
    later = START + GAP
    clock = Clock(epoch_seconds(START), START)
    assert f"{clock.since_stamp(later):.6f}" == "2.879940"
    assert f"{epoch_seconds(later) - epoch_seconds(START):.6f}" == "2.879941"  # what floats give
    assert between(START, later) == GAP / 1e9
    assert clock.since(epoch_seconds(later)) == epoch_seconds(later) - epoch_seconds(START)
    assert Clock(1.5).stamp == 1_500_000_000  # no stamp given: the float's


def test_pcap_and_pcapng_stamps_are_read_exactly(tmp_path) -> None:
    stamps = [START, START + 1, START + GAP]
    with CaptureFile(str(_nanosecond_pcap(tmp_path / "ns.pcap", stamps, HANDSHAKE))) as capture:
        read = []
        while capture.next_frame():
            read.append((capture.stamp, capture.time))
    assert read == [(s, epoch_seconds(s)) for s in stamps]
    # Nanosecond ticks since an offset of whole seconds (if_tsoffset).
    offset = 1796367000
    ticks = [s - offset * NS for s in stamps]
    path = _pcapng(tmp_path / "ns.pcapng", 9, offset, ticks, HANDSHAKE)
    assert [stamp for stamp, _linktype, _data in CaptureFile(str(path)).frames()] == stamps
    # A binary resolution (2^-20 s): to the nanosecond below.
    path = _pcapng(
        tmp_path / "binary.pcapng", 0x80 | 20, 0, [3 << 20, (3 << 20) + 1, (5 << 20) + 7], HANDSHAKE
    )
    assert [stamp for stamp, _l, _d in CaptureFile(str(path)).frames()] == [
        3 * NS, 3 * NS + 953, 5 * NS + 6675,
    ]  # fmt: skip


def test_zero_ticks_after_an_offset_are_the_offset_not_a_missing_time(tmp_path) -> None:
    """An interface whose if_tsoffset is the capture's start may stamp its first packet 0
    ticks: tshark reads the offset's time, not 1970."""
    offset = 1_700_000_000
    path = _pcapng(tmp_path / "zero.pcapng", 9, offset, [0, 1_000, 2_000], HANDSHAKE)
    assert [stamp for stamp, _l, _d in CaptureFile(str(path)).frames()] == [
        offset * NS, offset * NS + 1_000, offset * NS + 2_000,
    ]  # fmt: skip


def test_segments_carry_their_frames_stamps_and_frame_1_its_clock(tmp_path) -> None:
    stamps = [START, START + 1, START + GAP]
    stats = DecodeStats()
    segments = [
        r for r in read_packets(str(_nanosecond_pcap(tmp_path / "ns.pcap", stamps, HANDSHAKE)), stats)
    ]
    assert [s.stamp for s in segments if isinstance(s, Segment)] == stamps
    assert stats.start_stamp == START
    origin = stats.origin
    assert origin is not None and origin.stamp == START and origin.time == epoch_seconds(START)


def test_two_pure_acks_a_nanosecond_apart_are_not_one_packet_seen_twice(tmp_path) -> None:
    """Without an IP ID (0) nothing tells a duplicate ACK from a capture copy but the time:
    1 ns apart is one float of epoch seconds, and was taken for a copy."""
    ack = _frame(ACK, 101, 501)
    ack = ack[:18] + b"\0\0" + ack[20:]  # IP ID 0, as Linux sends with DF
    stamps = [START, START + 1000, START + 2000, START + 3000, START + 3001]
    path = _nanosecond_pcap(tmp_path / "acks.pcap", stamps, [*HANDSHAKE, ack, ack])
    assert epoch_seconds(stamps[3]) == epoch_seconds(stamps[4])  # the floats cannot tell them
    document = json.loads(run("analyze", "--json", "--no-sidecar", str(path)).stdout)
    [connection] = document["connections"]
    assert connection["packets"] == 5 and connection["capture_copies"]["count"] == 0


def test_relative_times_in_the_text_json_and_ladder_are_the_stamps(tmp_path) -> None:
    stamps = [START, START + 35_000, START + GAP]
    path = _nanosecond_pcap(tmp_path / "gap.pcap", stamps, HANDSHAKE)
    text = run("analyze", "--no-sidecar", str(path)).stdout
    assert "+0.000000 s .. +2.879940 s" in text, text
    document = json.loads(run("analyze", "--json", "--no-sidecar", str(path)).stdout)
    [connection] = document["connections"]
    assert connection["last_time_relative"] == GAP / 1e9
    assert connection["handshake"]["synack_times_relative"] == [35e-6]
    assert connection["handshake"]["syn_to_synack"] == 35e-6
    assert connection["handshake"]["rtt"] == GAP / 1e9
    svg = tmp_path / "gap.svg"
    run("diagram", str(path), "-o", str(svg))
    labels = re.findall(r"frame 3  ([+\d.]+ s)", svg.read_text())
    assert labels == ["+2.879940 s"], labels


def test_records_hold_the_stamp_and_give_back_the_same_segment() -> None:
    segment = Segment(7, epoch_seconds(START + GAP), 4, "10.0.0.1", 40000, "10.0.0.2", 80, SYN, 100, 0, 1024, 0,
                      None, ip_id=9, checksum=3, ttl=64, stamp=START + GAP)  # fmt: skip
    assert can_pack(segment)
    assert unpack_record(pack_record(segment), 0, "10.0.0.1", "10.0.0.2", None) == segment
    # A time that is not its stamp's (made by hand) is kept whole, not packed.
    segment.time += 1e-6
    assert not can_pack(segment)


def test_tshark_reader_reads_the_same_stamps(tmp_path) -> None:
    pytest.importorskip("pyshark")
    if subprocess.run(["which", "tshark"], capture_output=True).returncode:
        pytest.skip("tshark is not installed")
    from analyzer.decode.tshark_reader import read_segments_tshark

    stamps = [START, START + 1, START + GAP]
    path = _nanosecond_pcap(tmp_path / "ns.pcap", stamps, HANDSHAKE)
    segments = list(read_segments_tshark(str(path)))
    assert [(s.stamp, s.time) for s in segments] == [(s, epoch_seconds(s)) for s in stamps]


def test_state_changes_a_packet_made_are_at_its_stamp(tmp_path) -> None:
    """The client is ESTABLISHED at the SYN/ACK, 16.501 µs after frame 1: 17 µs, where the
    floats' difference says 16; in the text, the JSON and the report alike."""
    stamps = [START, START + 16_501, START + 33_000]
    path = _nanosecond_pcap(tmp_path / "states.pcap", stamps, HANDSHAKE)
    assert f"{epoch_seconds(stamps[1]) - epoch_seconds(START):.6f}" == "0.000016"  # what floats give
    text = run("analyze", "--no-sidecar", str(path)).stdout
    assert "ESTABLISHED (+17 µs, frame 2)" in text, text
    document = json.loads(run("analyze", "--json", "--no-sidecar", str(path)).stdout)
    [connection] = document["connections"]
    [change] = [c for c in connection["state_changes"] if c["end"] == "client" and c["frame"] == 2]
    assert change["time_relative"] == 16_501e-9
    run("report", str(path), "-o", str(tmp_path / "report"))
    assert "ESTABLISHED (0.000017\u00a0s, frame 2)" in (tmp_path / "report" / "index.html").read_text()


def test_times_count_from_the_first_frame_with_a_time(tmp_path) -> None:
    """A pcapng whose first block is a Custom Block (a frame number, no time): every output
    counts from the first packet, as tshark does, not from 1970 nor each connection's start."""
    options = struct.pack("<HHB3x", 9, 1, 9) + b"\0" * 4
    custom = _pcapng_block(0x00000BAD, struct.pack("<I", 32473) + b"data")
    blocks = [
        _pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)),
        _pcapng_block(1, struct.pack("<HHI", 1, 0, 65535) + options),
        custom,
    ]
    for stamp, frame in zip([START, START + 35_000, START + GAP], HANDSHAKE, strict=True):
        fields = struct.pack("<IIIII", 0, stamp >> 32, stamp & 0xFFFFFFFF, len(frame), len(frame))
        blocks.append(_pcapng_block(6, fields + frame))
    path = tmp_path / "custom-first.pcapng"
    path.write_bytes(b"".join(blocks))
    document = json.loads(run("analyze", "--json", "--no-sidecar", str(path)).stdout)
    assert document["capture_start"] == epoch_seconds(START)
    [connection] = document["connections"]
    assert connection["first_time_relative"] == 0.0 and connection["last_time_relative"] == GAP / 1e9
    text = run("analyze", "--no-sidecar", str(path)).stdout
    assert "+0.000000 s .. +2.879940 s" in text, text


@pytest.mark.parametrize("micros", [523_433.5, 16.5, 2_879_940.5, 999.5, 1_000_000.5])
def test_a_time_exactly_between_two_microseconds_is_written_alike_everywhere(micros: float) -> None:
    """Six decimals (packet details, the report, the text) and format_duration (the ladder
    under a second) round the same value the same way."""
    from analyzer.timefmt import format_duration, since_to_the_microsecond, to_the_microsecond

    seconds = micros / 1e6
    digits = to_the_microsecond(seconds).replace(".", "").lstrip("0")
    assert format_duration(seconds).split()[0].replace(".", "").lstrip("0") == digits.rstrip("0") or (
        since_to_the_microsecond(seconds).lstrip("+").split()[0].replace(".", "").lstrip("0") == digits
    )
    assert since_to_the_microsecond(seconds + 1.0).startswith(f"+{to_the_microsecond(seconds + 1.0)}")


@pytest.mark.parametrize("seconds", [0, 1, (1 << 30) - 1, 1 << 30, 1796367894, (1 << 32) - 1, -5, -(1 << 31)])
def test_whole_seconds_become_stamps_exactly(seconds: int) -> None:
    from analyzer.timefmt import seconds_stamp

    assert seconds_stamp(seconds) == seconds * NS


def test_an_odd_first_stamp_and_interfaces_with_their_own_offsets_keep_every_stamp(tmp_path) -> None:
    """Frame 1 stamped 1 s after 1970 (a device before its clock was set), then 2026; and a
    pcapng whose second interface counts from an if_tsoffset: each frame's stamp as written."""
    stamps = [1 * NS + 5_000, START, START + GAP]
    with CaptureFile(str(_nanosecond_pcap(tmp_path / "odd.pcap", stamps, HANDSHAKE))) as capture:
        read = []
        while capture.next_frame():
            read.append(capture.stamp)
    assert read == stamps
    offset = 1796367000
    interfaces = [
        _pcapng_block(1, struct.pack("<HHI", 1, 0, 65535) + struct.pack("<HHB3x", 9, 1, 9) + b"\0" * 4),
        _pcapng_block(
            1,
            struct.pack("<HHI", 1, 0, 65535)
            + struct.pack("<HHB3x", 9, 1, 6)
            + struct.pack("<HHq", 14, 8, offset)
            + b"\0" * 4,
        ),
    ]
    packets = []
    for interface, tick, frame in (
        (0, START, HANDSHAKE[0]),
        (1, 894_979_101, HANDSHAKE[1]),
        (0, START + GAP, HANDSHAKE[2]),
    ):
        fields = struct.pack("<IIIII", interface, tick >> 32, tick & 0xFFFFFFFF, len(frame), len(frame))
        packets.append(_pcapng_block(6, fields + frame))
    path = tmp_path / "two.pcapng"
    path.write_bytes(
        _pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)) + b"".join(interfaces + packets)
    )
    assert [stamp for stamp, _l, _d in CaptureFile(str(path)).frames()] == [
        START, (offset + 894) * NS + 979_101_000, START + GAP,
    ]  # fmt: skip


def _float_misses(low: int, high: int) -> int:
    """A gap in [low, high) ns after START whose duration, written, differs as a difference of
    the two epoch floats."""
    return next(
        gap
        for gap in range(low, high)
        if format_duration(gap / 1e9) != format_duration(epoch_seconds(START + gap) - epoch_seconds(START))
    )


def test_a_step_back_within_one_float_is_told_and_measured_in_nanoseconds(tmp_path) -> None:
    """Frames 90 ns apart can have one float of epoch seconds: the step back was not seen (or
    measured as the floats' 238 ns)."""
    later = next(
        s for s in range(START + GAP, START + GAP + 1000) if epoch_seconds(s) == epoch_seconds(s - 90)
    )
    stamps = [START, later, later - 90]
    stats = DecodeStats()
    list(read_packets(str(_nanosecond_pcap(tmp_path / "back.pcap", stamps, HANDSHAKE)), stats))
    warning = stats.backwards_warning()
    assert warning is not None and "at 1 frame (first at frame 3, by up to 90 ns)" in warning, warning


def test_a_refusal_times_its_gap_by_stamps(tmp_path) -> None:
    gap = _float_misses(40_000, 60_000)
    refused = [_frame(SYN, 100, 0), _frame(RST | ACK, 0, 101, 80, 40000)]
    path = _nanosecond_pcap(tmp_path / "refused.pcap", [START, START + gap], refused)
    text = run("analyze", "--no-sidecar", str(path)).stdout
    assert f"RST/ACK from the server {format_duration(gap / 1e9)} after the SYN" in text, text


def test_a_synack_stamped_before_its_syn_within_one_float_is_out_of_order(tmp_path) -> None:
    """The SYN/ACK captured 90 ns before the SYN it answers (two CPUs' buffers), one float
    apart or none: the stamps say which came first, and no negative SYN-to-SYN/ACK time."""
    synack = next(s for s in range(START, START + 1000) if epoch_seconds(s) == epoch_seconds(s + 90))
    frames = [HANDSHAKE[1], HANDSHAKE[0], HANDSHAKE[2]]
    path = _nanosecond_pcap(tmp_path / "reordered.pcap", [synack, synack + 90, synack + 50_000], frames)
    document = json.loads(run("analyze", "--json", "--no-sidecar", str(path)).stdout)
    [connection] = document["connections"]
    handshake = connection["handshake"]
    assert handshake["status"] == "complete"
    assert handshake["syn_to_synack"] is None, handshake
    text = run("analyze", "--no-sidecar", str(path)).stdout
    assert "the SYN/ACK was captured before the SYN: out of order in the capture" in text, text


def test_an_ends_state_before_its_first_packet_is_at_that_packets_stamp(tmp_path) -> None:
    """CLOSED and LISTEN, which no frame made, are at the first packet's time: in the JSON at
    its stamp, not as the floats' 16.45 µs (float noise: 1.6450881958007812e-05)."""
    other = _frame(SYN, 7, 0, dport=81)  # frame 1: another connection's
    stamps = [START, START + 16_501, START + 33_000, START + 50_000]
    path = _nanosecond_pcap(tmp_path / "second.pcap", stamps, [other, *HANDSHAKE])
    document = json.loads(run("analyze", "--json", "--no-sidecar", str(path)).stdout)
    [connection] = [c for c in document["connections"] if c["server"]["port"] == 80]
    before = [c for c in connection["state_changes"] if c["frame"] is None]
    assert {c["state"] for c in before} == {"CLOSED", "LISTEN"}
    assert [c["time_relative"] for c in before] == [16_501e-9, 16_501e-9], before


def test_a_moment_no_packet_is_at_counts_to_the_microsecond() -> None:
    """A timer's move (TIME_WAIT's end) is a float of epoch seconds, good to a quarter of a
    microsecond: its distance from frame 1 is given to the microsecond, not with the float's
    noise (the JSON said 2.183746099472046); a packet's moment stays exact."""
    from analyzer.timefmt import Clock, epoch_seconds

    origin = Clock(stamp=1_700_000_000_123_456_789, time=epoch_seconds(1_700_000_000_123_456_789))
    stamps = {7: 1_700_000_002_307_202_123}
    assert origin.since_moment(origin.time + 2.183746, None, {}) == 2.183746
    assert origin.since_moment(epoch_seconds(stamps[7]), 7, stamps) == 2.183745334
