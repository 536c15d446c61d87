"""The streaming reader: every container and link type, against what scapy says the packets hold."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, corpus_params, run, stored_captures
from pcap_builder import FRAMINGS, handshake_packets, tcp_packet, write_capture
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import GRE, Ether
from scapy.utils import PcapReader

from analyzer.analysis import analyze_file
from analyzer.decode import (
    ACK,
    FIN,
    PSH,
    RST,
    SYN,
    Datagram,
    DecodeStats,
    Unreachable,
    read_packets,
    read_segments,
)
from analyzer.decode.tshark_reader import read_segments_tshark
from analyzer.errors import CaptureFileError
from analyzer.output.json_report import analysis_to_dict
from analyzer.output.text_report import analysis_text, head_lines


def _expected(packets: list) -> list[tuple]:
    rows = []
    for p in packets:
        tcp = p[TCP]
        rows.append((p.src, tcp.sport, p.dst, tcp.dport, int(tcp.flags), tcp.seq, tcp.ack, len(tcp.payload)))
    return rows


def _decoded(path) -> list[tuple]:
    return [
        (s.src, s.sport, s.dst, s.dport, s.flags, s.seq, s.ack, s.payload_len)
        for s in read_segments(str(path))
    ]


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("framing", sorted(FRAMINGS))
@pytest.mark.parametrize("container", ["pcap", "pcap-nano", "pcapng"])
def test_every_link_type_and_container(tmp_path, framing, family, container) -> None:
    packets = handshake_packets(family)
    path = write_capture(
        tmp_path / "x.cap", packets, framing, pcapng=container == "pcapng", nano=container == "pcap-nano"
    )
    assert _decoded(path) == _expected(packets)


def test_timestamps_keep_nanoseconds(tmp_path) -> None:
    path = write_capture(tmp_path / "x.pcap", handshake_packets(), nano=True, start=1_700_000_000.123456789)
    first = next(read_segments(str(path)))
    assert first.time == pytest.approx(1_700_000_000.123456789, abs=1e-7)
    assert first.frame == 1 and first.family == 4


def test_syn_options_are_parsed(tmp_path) -> None:
    path = write_capture(tmp_path / "x.pcap", handshake_packets())
    syn, synack, *_ = read_segments(str(path))
    assert syn.flags == SYN and synack.flags == SYN | ACK
    assert syn.options.mss == 1460 and syn.options.window_scale == 7
    assert syn.options.sack_permitted and syn.options.timestamps
    assert synack.options.mss == 1400 and synack.options.window_scale is None


def test_flags_of_data_and_close(tmp_path) -> None:
    path = write_capture(tmp_path / "x.pcap", handshake_packets())
    segments = list(read_segments(str(path)))
    assert segments[3].flags == PSH | ACK and segments[3].payload_len == 5
    assert segments[6].flags == FIN | ACK and segments[6].seq_space == 1


def test_cut_off_capture_keeps_every_complete_packet(tmp_path) -> None:
    path = write_capture(tmp_path / "x.pcap", handshake_packets())
    data = path.read_bytes()
    path.write_bytes(data[:-7])  # the last record loses its tail, as when tcpdump is killed
    stats = DecodeStats()
    segments = list(read_segments(str(path), stats))
    assert len(segments) == 9
    assert any("cut off" in w for w in stats.warnings)


def test_cut_off_pcapng_keeps_every_complete_packet(tmp_path) -> None:
    path = write_capture(tmp_path / "x.pcapng", handshake_packets(), pcapng=True)
    path.write_bytes(path.read_bytes()[:-3])
    stats = DecodeStats()
    assert len(list(read_segments(str(path), stats))) == 9
    assert any("cut off" in w for w in stats.warnings)


def test_bogus_record_length_stops_without_allocating(tmp_path) -> None:
    path = write_capture(tmp_path / "x.pcap", handshake_packets())
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 24 + 8, 0x7FFFFFFF)  # caplen of the first record
    path.write_bytes(bytes(data))
    stats = DecodeStats()
    assert list(read_segments(str(path), stats)) == []
    assert any("claims" in w for w in stats.warnings)


def test_not_a_capture(tmp_path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not a pcap\n")
    with pytest.raises(CaptureFileError, match="not a pcap or pcapng file"):
        list(read_segments(str(path)))


def test_missing_file(tmp_path) -> None:
    with pytest.raises(CaptureFileError, match="no such file"):
        list(read_segments(str(tmp_path / "absent.pcap")))


def test_unsupported_link_type_is_named(tmp_path) -> None:
    path = write_capture(tmp_path / "x.pcap", handshake_packets())
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 20, 147)  # LINKTYPE_USER0
    path.write_bytes(bytes(data))
    with pytest.raises(CaptureFileError, match="unsupported link type 147"):
        list(read_segments(str(path)))


# scapy does not dissect these link layers, so it cannot be the reference for them;
# tshark's counts (test below) still cover them.
SCAPY_CANNOT_DISSECT = {
    "zeek_nflog-http.pcap": "NFLOG",
    "zeek_redis__attr.pcap": "IPv6 behind a BSD loopback header with AF_INET6=30",
    "sv_bug-5437-02__input.pcap": "ERSPAN inside GRE",
}
SCAPY_MAX_BYTES = 1_000_000  # scapy dissects ~5k packets/s: keep make test fast
REAL_FILES = stored_captures() + corpus_params(
    lambda p: p.name not in SCAPY_CANNOT_DISSECT and p.stat().st_size < SCAPY_MAX_BYTES
)


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_agrees_with_scapy_on_real_captures(path) -> None:
    """scapy's dissectors are the reference: same TCP packets, ports, flags, seq, ack."""
    expected = []
    with PcapReader(str(path)) as reader:
        for packet in reader:
            if TCP in packet and "ICMP" not in packet.summary():
                tcp = packet[TCP]
                expected.append((tcp.sport, tcp.dport, int(tcp.flags) & 0xFF, tcp.seq, tcp.ack))
    decoded = [(s.sport, s.dport, s.flags & 0xFF, s.seq, s.ack) for s in read_segments(str(path))]
    assert decoded == expected


def _manifest(corpus) -> dict[str, dict]:
    lines = (corpus / "MANIFEST.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    return {row[0]: dict(zip(header, row, strict=False)) for row in (line.split("\t") for line in lines[1:])}


def test_counts_agree_with_tshark_on_the_corpus(corpus_dir) -> None:
    """TCP packets and SYN/FIN/RST totals per file, as tshark counted them (MANIFEST.tsv)."""
    disagreements = []
    for name, row in _manifest(corpus_dir).items():
        segments = list(read_segments(str(corpus_dir / "pcaps" / name)))
        ours = {
            "tcp_packets": len(segments),
            "syn": sum(1 for s in segments if s.flags & (SYN | ACK) == SYN),
            "synack": sum(1 for s in segments if s.flags & (SYN | ACK) == SYN | ACK),
            "fin": sum(1 for s in segments if s.flags & FIN),
            "rst": sum(1 for s in segments if s.flags & RST),
        }
        theirs = {key: int(row[key]) for key in ours}
        if ours != theirs:
            disagreements.append((name, ours, theirs))
    assert disagreements == []


# -- the tshark decoder (pyshark) ------------------------------------------------------------------

PYSHARK_MAX_BYTES = 120_000  # tshark renders ~2k packets/s through pyshark: keep make test fast
TUNNEL_CAPTURES = sorted((Path(__file__).parent / "data" / "tunnels").glob("*.pcap"))
# Their vantage reads the TTLs: both decoders must give them.
VANTAGE_CAPTURES = sorted((Path(__file__).parent / "data" / "vantage").glob("*.pcap"))
REAL_SOCKET_CAPTURES = sorted((Path(__file__).parent / "data" / "real_sockets").glob("*.pcap"))
BOTH_DECODERS = (
    stored_captures()
    + TUNNEL_CAPTURES
    + VANTAGE_CAPTURES
    + REAL_SOCKET_CAPTURES
    + [Path(__file__).parent / "data" / "handshakes" / "accecn.pcap"]
    + corpus_params(lambda p: p.stat().st_size < PYSHARK_MAX_BYTES)
)
needs_tshark = pytest.mark.skipif(
    shutil.which("tshark") is None, reason="tshark is not installed (make setup)"
)


def _fields(segments) -> list[tuple]:
    fields = ("frame", "family", "src", "sport", "dst", "dport", "flags", "seq", "ack", "window")
    more = ("payload_len", "tunnel", "ip_id", "checksum", "payload_cut", "sack_start", "sack_end")
    return [tuple(getattr(s, name) for name in fields + more) for s in segments]


@pytest.mark.slow
@needs_tshark
@pytest.mark.parametrize("path", BOTH_DECODERS, ids=lambda p: p.name)
def test_both_decoders_give_the_same_reports(path) -> None:
    """End to end, from one tshark run a file: the JSON document and the text, tunnels,
    UDP and ICMP included, byte for byte; and on our own captures the pictures too (the
    sequence diagram and the state timeline of the connection drawn by default), as SVG
    text (the corpus's would add a minute: their analyses are already held equal)."""
    fast, wireshark = analyze_file(str(path)), analyze_file(str(path), decoder="tshark")
    assert analysis_to_dict(wireshark) == analysis_to_dict(fast)
    assert analysis_text(wireshark) == analysis_text(fast)
    if path.is_relative_to(ROOT) and (fast.connections or fast.udp):
        assert _pictures(wireshark) == _pictures(fast)


def _pictures(analysis) -> list[str]:
    from analyzer.analysis import ConnectionAnalysis
    from analyzer.output.figures import figure_svg
    from analyzer.output.selection import pick_connection
    from analyzer.output.sequence_diagram import figure
    from analyzer.output.state_timeline import timeline_figure

    chosen, _note = pick_connection(analysis, None)
    pictures = [figure_svg(figure(chosen))]
    if isinstance(chosen, ConnectionAnalysis):
        pictures.append(figure_svg(timeline_figure(chosen)))
    # matplotlib dates each SVG and names its clip paths afresh in each figure: equal
    # drawings may differ only there.
    made = r'<dc:date>[^<]*</dc:date>|id="[0-9a-z]{8,}"|url\(#[0-9a-z]{8,}\)|href="#[0-9a-z]{8,}"'
    return [re.sub(made, "", svg) for svg in pictures]


@pytest.mark.slow
@needs_tshark
def test_tshark_decoder_gives_the_same_one_line_errors(tmp_path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a capture")
    with pytest.raises(CaptureFileError, match="not a pcap or pcapng file"):
        list(read_segments_tshark(str(path)))


@needs_tshark
def test_a_file_tshark_reads_nothing_of_is_a_one_line_error_with_status_2(tmp_path) -> None:
    """A link type tshark does not know: not an empty report with status 0 and a warning, but
    the error the fast reader gives for a link type it does not decode."""
    frame = bytes(handshake_packets()[0])
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 999)
    capture = tmp_path / "linktype999.pcap"
    capture.write_bytes(header + struct.pack("<IIII", 1_700_000_000, 0, len(frame), len(frame)) + frame)
    result = run("analyze", "--decoder", "tshark", str(capture))
    assert result.returncode == 2 and not result.stdout
    (line,) = result.stderr.strip().splitlines()
    # tshark's own words follow when pyshark heard them in time (not always, under load).
    assert line.startswith(f"handshake: {capture}: tshark read none of the file's 1 packet")
    assert run("analyze", str(capture)).returncode == 2


@needs_tshark
def test_a_lost_tshark_exit_status_after_every_packet_was_read_loses_nothing(monkeypatch) -> None:
    """asyncio's child watcher can lose tshark ("Unknown child process", returncode 255: seen
    once in a test run); pyshark then raises as it closes, after every packet was read."""
    import pyshark

    closing = pyshark.FileCapture.close

    def lost(self) -> None:
        closing(self)
        raise pyshark.capture.capture.TSharkCrashException(
            "TShark (pid 1) seems to have crashed (retcode: 255)."
        )

    path = str(ROOT / "captures" / "handshake.pcap")
    stats = DecodeStats()
    expected = [(s.frame, s.seq) for s in read_segments(path)]
    monkeypatch.setattr(pyshark.FileCapture, "close", lost)
    assert [(s.frame, s.seq) for s in read_segments_tshark(path, stats)] == expected
    assert stats.warnings == []


# -- UDP and ICMP ------------------------------------------------------------------------------


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("framing", ["ethernet", "sll2", "null"])
def test_udp_datagrams_and_port_unreachable(tmp_path, family, framing) -> None:
    from scapy.layers.inet import ICMP, IP, UDP
    from scapy.layers.inet6 import ICMPv6DestUnreach, IPv6

    if family == 4:
        datagram = IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=4000, dport=53) / b"query"
        refusal = IP(src="10.0.0.2", dst="10.0.0.1") / ICMP(type=3, code=3) / bytes(datagram)
    else:
        datagram = IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=4000, dport=53) / b"query"
        refusal = IPv6(src="2001:db8::2", dst="2001:db8::1") / ICMPv6DestUnreach(code=4) / bytes(datagram)
    path = write_capture(tmp_path / "u.pcap", [datagram, refusal], framing)
    stats = DecodeStats()
    sent, refused = list(read_packets(str(path), stats))
    assert isinstance(sent, Datagram) and (sent.sport, sent.dport, sent.length) == (4000, 53, 5)
    assert isinstance(refused, Unreachable) and refused.port_unreachable and refused.protocol == 17
    assert refused.quoted == (sent.src, 4000, sent.dst, 53)
    assert stats.tcp_segments == 0 and list(read_segments(str(path))) == []


def test_address_texts_stay_right_and_bounded_past_the_cache_limit(tmp_path) -> None:
    """More distinct addresses than the text cache keeps (a scan of many hosts): each
    segment still names its own, and the cache is emptied instead of growing."""
    import ipaddress

    from analyzer.decode import addresses
    from analyzer.decode.reader import read_packets as read

    count = 2 * addresses._ADDRESS_TEXT_LIMIT + 100
    records = []
    for index in range(count):
        family = 6 if index % 5 == 0 else 4
        source = ipaddress.ip_address("2001:db8::" if family == 6 else "10.0.0.0") + index * 7919
        target = ipaddress.ip_address("2001:db8:ffff::1" if family == 6 else "192.0.2.1")
        tcp = struct.pack("!HHIIBBHHH", 40000 + index % 1000, 80, index, 0, 5 << 4, 0x02, 1024, 0, 0)
        if family == 4:
            ip = struct.pack(
                "!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, source.packed, target.packed
            )
            frame = b"\x02" * 12 + b"\x08\x00" + ip + tcp
        else:
            ip = struct.pack("!IHBB16s16s", 6 << 28, len(tcp), 6, 64, source.packed, target.packed)
            frame = b"\x02" * 12 + b"\x86\xdd" + ip + tcp
        records.append(struct.pack("<IIII", 1_700_000_000, index, len(frame), len(frame)) + frame)
    capture = tmp_path / "many-hosts.pcap"
    capture.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) + b"".join(records))
    segments = list(read(str(capture)))
    assert len(segments) == count
    for index, segment in enumerate(segments):
        start = "2001:db8::" if index % 5 == 0 else "10.0.0.0"
        assert segment.src == str(ipaddress.ip_address(start) + index * 7919), index
        assert segment.dst == ("2001:db8:ffff::1" if index % 5 == 0 else "192.0.2.1")
    assert 0 < len(addresses._ADDRESS_TEXT) <= addresses._ADDRESS_TEXT_LIMIT


def _record_offsets(data: bytes) -> list[int]:
    """Where each record of a little-endian microsecond pcap file begins."""
    offsets, at = [], 24
    while at < len(data):
        offsets.append(at)
        at += 16 + struct.unpack_from("<I", data, at + 8)[0]
    return offsets


def test_a_record_longer_than_any_the_file_may_hold_stops_the_reading_there(tmp_path) -> None:
    """A damaged record length between 256 KiB and 1 MiB was read as a frame: it swallowed the
    records after it and the reading went on out of step (packets made of their bytes). As
    Wireshark, a record longer than 262,144 bytes and than the file's snapshot length ends it."""
    path = write_capture(tmp_path / "x.pcap", handshake_packets())
    data = bytearray(path.read_bytes())
    at = _record_offsets(bytes(data))[4]
    struct.pack_into("<II", data, at + 8, 300_000, 300_000)  # record 5's caplen and len
    path.write_bytes(bytes(data) + bytes(400_000))
    stats = DecodeStats()
    assert [segment.frame for segment in read_segments(str(path), stats)] == [1, 2, 3, 4]
    assert stats.frames == 4
    assert (
        "record 5 claims 300,000 bytes, more than any record of this file may hold (262,144): a "
        "damaged record header; stopped reading there (4 packets read)"
    ) in stats.warnings


def test_a_record_longer_than_the_snapshot_length_alone_is_read(tmp_path) -> None:
    """A writer that says 96 bytes and keeps 1,500 is read as Wireshark and libpcap read it."""
    packets = handshake_packets()
    path = write_capture(tmp_path / "x.pcap", packets)
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 16, 60)  # the file's snapshot length, below every frame's
    path.write_bytes(bytes(data))
    stats = DecodeStats()
    assert len(list(read_segments(str(path), stats))) == len(packets)
    assert not any("claims" in warning for warning in stats.warnings)


@pytest.mark.parametrize("snaplen", [524_288, 0xFFFFFFFF])
def test_a_record_past_262144_bytes_stops_the_reading_whatever_the_snapshot_length(tmp_path, snaplen) -> None:
    """As Wireshark: the limit is the link type's (262,144 bytes for Ethernet), not the
    snapshot length the header gives (a damaged record read on put the reading out of step)."""
    frame = _syn_frame()
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1)
    good = struct.pack("<IIII", 1, 0, len(frame), len(frame)) + frame
    damaged = struct.pack("<IIII", 2, 0, 300_000, 300_000) + frame + bytes(300_000 - len(frame))
    path = tmp_path / "big.pcap"
    path.write_bytes(header + good + damaged + good)
    stats = DecodeStats()
    assert len(list(read_segments(str(path), stats))) == 1
    assert (
        "record 2 claims 300,000 bytes, more than any record of this file may hold (262,144): a "
        "damaged record header (or a pcap variant of longer record headers, Red Hat 6.1's, SuSE 6.3's or "
        "Nokia's: --decoder tshark reads those); stopped reading there (1 packet read)"
    ) in stats.warnings


def test_a_link_type_of_bigger_frames_holds_them(tmp_path) -> None:
    """USB (Linux, 189) may hold frames past 262,144 bytes: read, not taken for damage."""
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 1 << 20, 189)
    record = struct.pack("<IIII", 1, 0, 300_000, 300_000) + bytes(300_000)
    path = tmp_path / "usb.pcap"
    path.write_bytes(header + record + record)
    from analyzer.decode.capture_file import CaptureFile

    with CaptureFile(str(path)) as capture:
        lengths = []
        while capture.next_frame():
            lengths.append(len(capture.data))
    assert lengths == [300_000, 300_000]
    assert capture.warnings == []


def test_a_record_holding_more_than_its_packet_had_is_named(tmp_path) -> None:
    path = write_capture(tmp_path / "x.pcap", handshake_packets())
    data = bytearray(path.read_bytes())
    at = _record_offsets(bytes(data))[2]
    caplen = struct.unpack_from("<I", data, at + 8)[0]
    struct.pack_into("<I", data, at + 12, caplen - 7)  # record 3's original length
    path.write_bytes(bytes(data))
    stats = DecodeStats()
    assert len(list(read_segments(str(path), stats))) == 10
    assert (
        "1 record holds more bytes than its packet had (the original length it gives: packet 3): a "
        "damaged record header, or a writer's mistake; each read as it is held"
    ) in stats.warnings


def _pcapng_block(block_type: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", block_type, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))


def _syn_frame() -> bytes:
    """An Ethernet frame of an IPv4 SYN, 10.0.0.1:40000 -> 10.0.0.2:80: 54 bytes."""
    tcp = struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, 5 << 4, 0x02, 1024, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0, bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    return b"\x02" * 12 + b"\x08\x00" + ip + tcp


def _section_and_interface() -> list[bytes]:
    """A little-endian section header, then one Ethernet interface (microseconds)."""
    return [
        _pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)),
        _pcapng_block(1, struct.pack("<HHI", 1, 0, 65535)),
    ]


def _enhanced_packet(interface: int, ticks: int, frame: bytes, caplen: int | None = None) -> bytes:
    fields = struct.pack(
        "<IIIII", interface, ticks >> 32, ticks & 0xFFFFFFFF, caplen or len(frame), len(frame)
    )
    return _pcapng_block(6, fields + frame)


def test_pcapng_packets_that_name_no_interface_or_overrun_their_block_are_skipped_with_a_warning(
    tmp_path,
) -> None:
    """Packet blocks are read in place when nothing is wrong with them; the others, read
    the careful way, are skipped with a warning, and the reading goes on after them."""
    frame = _syn_frame()  # 54 bytes: the block pads it by 2
    blocks = [
        *_section_and_interface(),
        _enhanced_packet(0, 1_000_000, frame),
        _enhanced_packet(1, 2_000_000, frame),  # interface 1 was never described
        _enhanced_packet(0, 3_000_000, frame, caplen=len(frame) + 2),  # into the padding
        _enhanced_packet(0, 4_000_000, frame, caplen=len(frame) + 6),  # into the trailer
        _enhanced_packet(0, 5_000_000, frame),
    ]
    capture = tmp_path / "odd-packets.pcapng"
    capture.write_bytes(b"".join(blocks))
    stats = DecodeStats()
    segments = list(read_packets(str(capture), stats))
    assert [segment.time for segment in segments] == [1.0, 3.0, 5.0]
    # A block left unread keeps its number, as Wireshark numbers every packet block: the
    # frames after it keep theirs (they were renumbered, 2 and 3 for packets 3 and 5).
    assert [segment.frame for segment in segments] == [1, 3, 5]
    assert stats.frames == 5
    assert "1 packet skipped, naming an interface never described (the first: packet 2)" in stats.warnings
    assert (
        "1 packet skipped, claiming more bytes than its block holds (the first: packet 4)" in stats.warnings
    )


@pytest.mark.parametrize("wrong", ["leading", "trailing"])
def test_a_pcapng_block_whose_two_lengths_disagree_stops_the_reading_there(tmp_path, wrong) -> None:
    """A leading length 8 bytes too long put the reader out of step: the next block's interface
    id read as a block type invented a Simple Packet Block 'cut to 395,796 bytes'. As Wireshark,
    a block whose trailing length is not its leading one ends the reading; the packets before
    it are read."""
    frame = _syn_frame()
    damaged = bytearray(_enhanced_packet(0, 2_000_000, frame))
    size = len(damaged)
    if wrong == "leading":
        struct.pack_into("<I", damaged, 4, size + 8)  # read to 8 bytes into the next block
        said, ends = size + 8, size  # the trailer read is the next block's leading length
    else:
        struct.pack_into("<I", damaged, size - 4, size - 8)
        said, ends = size, size - 8
    blocks = [
        *_section_and_interface(),
        _enhanced_packet(0, 1_000_000, frame),
        _enhanced_packet(0, 1_500_000, frame),
        bytes(damaged),
        *(_enhanced_packet(0, 3_000_000 + n, frame) for n in range(3)),
    ]
    capture = tmp_path / "damaged.pcapng"
    capture.write_bytes(b"".join(blocks))
    stats = DecodeStats()
    assert [segment.time for segment in read_packets(str(capture), stats)] == [1.0, 1.5]
    assert stats.warnings == [
        f"block after packet 2 says it is {said:,} bytes long and ends saying {ends:,}: a damaged "
        "block; stopped reading there (2 packets read)"
    ]


def _named_interface(name: bytes) -> bytes:
    """An Ethernet interface (microseconds) with its name (if_name)."""
    option = struct.pack("<HH", 2, len(name)) + name + b"\0" * (-len(name) % 4) + struct.pack("<HH", 0, 0)
    return _pcapng_block(1, struct.pack("<HHI", 1, 0, 65535) + option)


def _statistics(interface: int, received: int, dropped: int) -> bytes:
    """An interface statistics block as dumpcap writes it: isb_ifrecv and isb_ifdrop."""
    options = struct.pack("<HHQHHQHH", 4, 8, received, 5, 8, dropped, 0, 0)
    return _pcapng_block(5, struct.pack("<III", interface, 0, 0) + options)


def _two_interfaces(*blocks: bytes) -> bytes:
    return b"".join(
        [_pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)),
         _named_interface(b"br0"), _named_interface(b"out0"), *blocks]
    )  # fmt: skip


DECODERS = ["fast", pytest.param("tshark", marks=needs_tshark)]


@pytest.mark.parametrize("decoder", DECODERS)
def test_packets_the_capture_dropped_are_told_from_its_interface_statistics(tmp_path, decoder) -> None:
    """dumpcap writes what each interface dropped in an interface statistics block (a running
    total: the latest counts); the file lacks those packets, and the report says so."""
    frame = _syn_frame()
    capture = tmp_path / "dropped.pcapng"
    capture.write_bytes(
        _two_interfaces(
            _enhanced_packet(0, 1_000_000, frame),
            _enhanced_packet(1, 1_000_100, frame),
            _statistics(1, 900, 100),
            _statistics(0, 2, 0),
            _statistics(1, 1498, 502),
        )
    )
    analysis = analyze_file(str(capture), decoder)
    assert analysis.stats.warnings == [
        "the capture dropped 502 packets, as the file's interface statistics say (out0: 502): the file lacks "
        "them, so a gap, a handshake or close not captured, or a segment that looks lost may be the capture's "
        "doing, not the network's"
    ]
    # Two hosts' captures merged (mergecap -a): a section each, an eth0 each.
    merged = tmp_path / "merged.pcapng"
    merged.write_bytes(
        b"".join(
            [_pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)), _named_interface(b"eth0"),
             _enhanced_packet(0, 1_000_000, frame), _statistics(0, 10, 3)] * 2
        )[:-len(_statistics(0, 10, 3))] + _statistics(0, 10, 5)
    )  # fmt: skip
    (warning,) = analyze_file(str(merged), decoder).stats.warnings
    assert warning.startswith(
        "the capture dropped 8 packets, as the file's interface statistics say (eth0: 3, eth0: 5)"
    )
    quiet = tmp_path / "none-dropped.pcapng"
    quiet.write_bytes(_two_interfaces(_enhanced_packet(0, 1_000_000, frame), _statistics(0, 1, 0)))
    assert analyze_file(str(quiet), decoder).stats.warnings == []


@pytest.mark.parametrize("decoder", DECODERS)
def test_interfaces_written_out_of_time_order_are_told_to_be_sorted(tmp_path, decoder) -> None:
    """dumpcap -i a -i b writes each interface's packets in batches: each in order, their
    interleaving not. The warning says what that does and how to sort the file; a clock that
    stepped back (one interface's own frames out of order) is not sorted away."""
    frame = _syn_frame()
    batches = tmp_path / "batches.pcapng"
    batches.write_bytes(
        _two_interfaces(
            _enhanced_packet(0, 1_000_000, frame),
            _enhanced_packet(0, 1_200_000, frame),
            _enhanced_packet(1, 1_000_100, frame),  # 200 ms back: the other interface's batch
            _enhanced_packet(1, 1_200_100, frame),
        )
    )
    (warning,) = analyze_file(str(batches), decoder).stats.warnings
    assert warning.startswith("time goes backwards at 1 frame (first at frame 3, by up to 199.900 ms)")
    assert warning.endswith(
        "here several interfaces' packets were written out of time order: a packet forwarded from one to another "
        "may come before the packet it forwards and read as its retransmission, and states change in the file's "
        "order; `reordercap FILE SORTED` writes them sorted by time"
    )
    stepped = tmp_path / "stepped.pcapng"
    stepped.write_bytes(
        _two_interfaces(
            _enhanced_packet(0, 1_000_000, frame),
            _enhanced_packet(1, 1_000_100, frame),
            _enhanced_packet(0, 900_000, frame),  # its own interface's clock stepped back
        )
    )
    (warning,) = analyze_file(str(stepped), decoder).stats.warnings
    assert warning.startswith("time goes backwards at 1 frame") and "reordercap" not in warning


def test_a_resend_before_another_interface_s_frame_written_late_is_no_bad_stamp(tmp_path) -> None:
    """A SYN resent 1.024 s after the frames before it, then a frame of the other interface
    stamped earlier (written late, in its batch): no stamp gone wrong is named."""
    frame = _syn_frame()
    capture = tmp_path / "resend.pcapng"
    capture.write_bytes(
        _two_interfaces(
            _enhanced_packet(0, 1_000_000, frame),
            _enhanced_packet(0, 2_024_000, frame),
            _enhanced_packet(1, 1_500_000, frame),
            _enhanced_packet(1, 2_024_100, frame),
        )
    )
    warnings = analyze_file(str(capture)).stats.warnings
    assert not any("far ahead" in w for w in warnings), warnings
    # On one interface, the same frames are a stamp gone wrong (the next one is back).
    alone = tmp_path / "glitch.pcapng"
    alone.write_bytes(
        _two_interfaces(
            _enhanced_packet(0, 1_000_000, frame),
            _enhanced_packet(0, 2_024_000, frame),
            _enhanced_packet(0, 1_500_000, frame),
        )
    )
    assert any("1 frame stamped far ahead" in w for w in analyze_file(str(alone)).stats.warnings)


@pytest.mark.slow
@needs_tshark
@pytest.mark.parametrize("path", REAL_SOCKET_CAPTURES + TUNNEL_CAPTURES[:3], ids=lambda p: p.name)
def test_both_decoders_read_the_same_sack_blocks(path) -> None:
    """The first SACK block, as absolute sequence numbers (tshark gives them relative)."""
    from analyzer.decode.tshark_reader import read_segments_tshark

    fast = [(s.frame, s.sack_start, s.sack_end) for s in read_segments(str(path))]
    assert fast == [(s.frame, s.sack_start, s.sack_end) for s in read_segments_tshark(str(path))]
    if path.name == "tail-loss-probe.pcap":
        assert [f for f, start, _end in fast if start != -1] == [42]  # the DSACK


@pytest.mark.slow
@needs_tshark
@pytest.mark.parametrize("path", REAL_SOCKET_CAPTURES[:6], ids=lambda p: p.name)
def test_both_decoders_read_the_same_timestamps(path) -> None:
    """Every segment's TSval and TSecr (what tells which SYN a SYN/ACK answered, and which of
    an end's segments its peer had taken in): Linux puts them on every segment, and a SYN/ACK
    echoes its SYN's."""
    from analyzer.decode.tshark_reader import read_segments_tshark

    def stamps(segments: list) -> list[tuple[int, int, int]]:
        return [(s.frame, s.ts_val, s.ts_ecr) for s in segments]

    fast = stamps(read_segments(str(path)))
    assert fast == stamps(read_segments_tshark(str(path)))
    assert fast and all(val >= 0 for _frame, val, _ecr in fast)


# Option lists and the timestamps read from them: Linux's own (NOP, NOP, timestamps), a SACK
# block first, timestamps first and padded after, two timestamps options (the last counts, as
# Linux's tcp_parse_options reads them), one of the wrong length (none), and none at all.
_TIMESTAMP_LISTS = [
    ([("NOP", None), ("NOP", None), ("Timestamp", (7, 9))], (7, 9)),
    ([("NOP", None), ("NOP", None), ("SAck", (5000, 6000)), ("NOP", None), ("NOP", None), ("Timestamp", (0xFFFFFFFF, 0))], (0xFFFFFFFF, 0)),
    ([("Timestamp", (11, 12)), ("NOP", None), ("NOP", None)], (11, 12)),
    ([("Timestamp", (1, 2)), ("Timestamp", (3, 4)), ("EOL", None)], (3, 4)),
    ([("NOP", None), ("NOP", None), (8, b"\x00" * 6)], (-1, -1)),
    ([("NOP", None), ("NOP", None), ("NOP", None), ("NOP", None)], (-1, -1)),
]  # fmt: skip


@needs_tshark
def test_timestamps_are_read_from_any_option_list_by_both_decoders(tmp_path) -> None:
    from analyzer.decode.tshark_reader import read_segments_tshark

    packets = [
        Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=40000, dport=80, flags="A", seq=1, ack=1, options=options)
        for options, _expected in _TIMESTAMP_LISTS
    ]  # fmt: skip
    path = tmp_path / "timestamps.pcap"
    path.write_bytes(_pcap_of([(100 + n, 0, bytes(p)) for n, p in enumerate(packets)]))
    expected = [stamps for _options, stamps in _TIMESTAMP_LISTS]
    assert [(s.ts_val, s.ts_ecr) for s in read_segments(str(path))] == expected
    assert [(s.ts_val, s.ts_ecr) for s in read_segments_tshark(str(path))] == expected
    # Cut by the snapshot length inside the timestamps option: none, by both.
    cut = tmp_path / "cut.pcap"
    frame = bytes(packets[0])
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, len(frame) - 4, 1)
    cut.write_bytes(header + struct.pack("<IIII", 100, 0, len(frame) - 4, len(frame)) + frame[:-4])
    assert [(s.ts_val, s.ts_ecr) for s in read_segments(str(cut))] == [(-1, -1)]
    assert [(s.ts_val, s.ts_ecr) for s in read_segments_tshark(str(cut))] == [(-1, -1)]


# -- headers cut by a snapshot length ----------------------------------------------------------


def _timestamped(family: int) -> list:
    """handshake_packets with the timestamps option on every segment, as Linux sends them."""
    packets = handshake_packets(family)
    for packet in packets[2:]:
        packet[TCP].options = [("NOP", None), ("NOP", None), ("Timestamp", (7, 9))]
    return packets


@pytest.mark.parametrize(("family", "framing", "snaplen"), [
    (4, "ethernet", 54), (4, "ethernet", 55), (4, "ethernet", 56), (4, "vlan", 58), (4, "raw", 40),
    (6, "ethernet", 74), (6, "ethernet", 76),
])  # fmt: skip
def test_a_snapshot_length_inside_the_tcp_options_still_gives_every_segment(
    tmp_path, family, framing, snaplen
) -> None:
    """tcpdump -s 54 keeps Ethernet, IPv4 and the 20-byte TCP header of each frame, not its
    options (it crashed the reader: the timestamps check read past the captured bytes). Each
    segment is read in full but for its options, and a SYN's cut option list is said to be
    cut: what is not found in it is not known (null), not absent (false)."""
    packets = _timestamped(family)
    path = write_capture(tmp_path / "cut.pcap", packets, framing=framing, snaplen=snaplen)
    assert _decoded(path) == _expected(packets)
    [result] = analyze_file(str(path)).connections
    assert result.handshake.status == "complete" and result.close.shape == "four-way"
    options = result.handshake.client_options
    assert options is not None and options["cut"] is True
    assert options["sack_permitted"] is None and options["timestamps"] is None
    text = analysis_text(analyze_file(str(path)))
    assert "Traceback" not in text


@pytest.mark.slow
@needs_tshark
def test_a_pure_ack_whose_options_are_cut_is_marked_cut_by_both_decoders(tmp_path) -> None:
    """(helper-136's snap60) An ACK's SACK block and timestamps not found where the snapshot
    length cut its options may have been sent: Segment.payload_cut says so."""
    packets = _timestamped(4)
    acks = [n for n, p in enumerate(packets) if str(p[TCP].flags) == "A"]
    for snaplen, cut in ((60, True), (None, False)):
        path = write_capture(tmp_path / f"cut{snaplen}.pcap", packets, snaplen=snaplen)
        for read in (read_segments, read_segments_tshark):
            marks = [s.payload_cut for n, s in enumerate(read(str(path))) if n in acks]
            assert marks == [cut] * len(acks), (snaplen, read.__name__)


@pytest.mark.parametrize("decoder", DECODERS)
def test_an_option_cut_after_its_kind_and_length_was_sent(tmp_path, decoder) -> None:
    """tcpdump -s 66 keeps 12 bytes of the SYN's options: MSS, SACK-permitted and the first 6
    of the timestamps option. Its kind and length say it was sent (tshark says so); the
    window scale after it is not known."""
    path = write_capture(tmp_path / "cut.pcap", _timestamped(4), snaplen=66)
    options = analyze_file(str(path), decoder).connections[0].handshake.client_options
    assert options is not None and options["cut"] is True
    assert (options["mss"], options["sack_permitted"], options["timestamps"]) == (1460, True, True)
    assert options["window_scale"] is None


def test_a_whole_option_list_is_not_called_cut(tmp_path) -> None:
    path = write_capture(tmp_path / "whole.pcap", _timestamped(4))
    options = analyze_file(str(path)).connections[0].handshake.client_options
    assert options == {"mss": 1460, "window_scale": 7, "sack_permitted": True, "timestamps": True,
                       "fast_open": False, "cut": False, "mptcp": None}  # fmt: skip


@pytest.mark.slow
@needs_tshark
def test_tshark_decoder_reads_a_cut_option_list_too(tmp_path) -> None:
    path = write_capture(tmp_path / "cut.pcap", _timestamped(4), snaplen=54)
    fast, wireshark = analyze_file(str(path)), analyze_file(str(path), decoder="tshark")
    assert analysis_to_dict(wireshark) == analysis_to_dict(fast)


@pytest.mark.parametrize("snaplen", [0, 10])
def test_frames_cut_inside_their_link_header_are_counted_as_cut(tmp_path, snaplen: int) -> None:
    """tcpdump -s 10 (or a caplen of 0): nothing of IP in any frame, and a warning says so (a
    helper's shape: 12 frames read as nothing, without a word)."""
    path = write_capture(tmp_path / "cut.pcap", _timestamped(4), snaplen=snaplen)
    stats = DecodeStats()
    assert list(read_packets(str(path), stats)) == []
    assert stats.headers_cut == 10 and "10 frames skipped: cut inside their link-layer" in stats.warnings[0]


def test_frames_cut_inside_their_headers_are_counted_as_cut(tmp_path) -> None:
    """IPv6 at tcpdump -s 64: no TCP header whole in any frame. The warning names the
    snapshot length, not impossible lengths."""
    path = write_capture(tmp_path / "cut6.pcap", _timestamped(6), snaplen=64)
    stats = DecodeStats()
    assert list(read_packets(str(path), stats)) == []
    assert (stats.headers_cut, stats.headers_cut_in_tunnels, stats.malformed) == (10, 0, 0)
    assert stats.warnings == [
        "10 frames skipped: cut inside their link-layer, IP or TCP header (the capture's snapshot length kept too "
        "little of them: tcpdump -s 96 or more keeps an IPv6 TCP header)"
    ]


def _two_connections(times_of: dict[int, float], step: float = 0.01) -> list:
    """Two complete exchanges interleaved (client ports 40000 and 40001), frames `step` apart;
    `times_of`: a frame's (1-based) time in place of its own."""
    first, second = handshake_packets(), handshake_packets()
    for packet in second:
        tcp = packet[TCP]
        tcp.sport, tcp.dport = (40001, tcp.dport) if tcp.sport == 40000 else (tcp.sport, 40001)
    packets = [packet for pair in zip(first, second, strict=True) for packet in pair]
    for number, packet in enumerate(packets, 1):
        packet.id = number  # no two alike: none is a capture copy
    times = [times_of.get(number, number * step) for number in range(1, len(packets) + 1)]
    return [packets, times]


def test_one_frame_stamped_an_hour_late_gives_up_no_connection(tmp_path) -> None:
    """A NIC's timestamp glitch: frame 5 an hour ahead of its neighbours. The timers' clock
    does not follow one frame that the next does not follow (CLOCK_LEAP): both connections
    stay whole, one conversation each in tshark's, and a warning names the frame."""
    packets, times = _two_connections({5: 3600.0})
    path = write_capture(tmp_path / "glitch.pcap", packets, times=times)
    result = run("analyze", "--json", str(path))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert [c["packets"] for c in document["connections"]] == [10, 10]
    assert [c["close"]["shape"] for c in document["connections"]] == ["four-way"] * 2
    assert document["warnings"] == [
        "1 frame stamped far ahead of the frames before and after it (the first: frame 5, by up to 3599.960 s): "
        "read with the time recorded, but the connections' timers (idle, attempt) pass over it, as over one "
        "stamp gone wrong"
    ]


def test_a_quiet_gap_still_moves_the_clock(tmp_path) -> None:
    """A real silence (the frames after it agree) moves the timers as before: a SYN first
    resent after more than the attempt timeout starts a new connection, as in Zeek."""
    packets = [tcp_packet(4, "10.0.0.1", 40000, "10.0.0.2", 80, "S", 1000) for _ in range(3)]
    for number, packet in enumerate(packets, 1):
        packet.id = number
    path = write_capture(tmp_path / "gap.pcap", packets, times=[0.0, 8.0, 24.0])
    assert len(analyze_file(str(path)).connections) == 3


def test_time_going_backwards_is_warned_and_the_ladder_keeps_the_files_order(tmp_path) -> None:
    """A clock step back 10 s before the close (frames 7 to 10): one warning names it; the
    text writes those times as negative offsets (not "+-9.99"); the ladder draws the frames
    in the file's order, as Wireshark does, not sorted by their stamps."""
    from matplotlib.text import Annotation

    from analyzer.output.sequence_diagram import figure

    times = [0.0, 0.001, 0.002, 0.003, 0.004, 0.005, -9.994, -9.993, -9.992, -9.991]
    path = write_capture(tmp_path / "back.pcap", handshake_packets(), times=times)
    analysis = analyze_file(str(path))
    assert analysis.stats.warnings == [
        "time goes backwards at 4 frames (first at frame 7, by up to 9.999 s): the frames are analyzed "
        "and drawn in the file's order, as Wireshark does, with their times as recorded (a clock step, "
        "captures merged from several interfaces, or several CPUs' capture buffers: microseconds); the "
        "timers that give a connection up after a silence count on across the step from the latest time "
        "read before it"
    ]
    text = analysis_text(analysis)
    assert "+-" not in text and "FIN_WAIT_1 (-9.994 s, frame 7)" in text
    # Its span reads backwards, and says why.
    assert (
        "+0.000000 s .. -9.991000 s (its last frame stamped before its first: the clock stepped back)" in text
    )
    fig = figure(analysis.connections[0])
    try:
        starts = [a.xyann[1] for a in fig.axes[0].texts if isinstance(a, Annotation)]
        assert len(starts) == 10 and starts == sorted(starts)  # frame 1 at the top, frame 10 at the bottom
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


# -- IP fragments ------------------------------------------------------------------------------


def _fragmented(family: int, size: int, reverse: bool = False, drop_last: bool = False) -> list:
    """handshake_packets with the client's 5 bytes made 2,900 and sent in IP fragments of
    `size` bytes (in reverse order, or without the last, if asked)."""
    from scapy.layers.inet import fragment
    from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, fragment6

    packets = handshake_packets(family)
    data = packets[3]
    data[TCP].remove_payload()
    data[TCP].add_payload(b"x" * 2900)
    if family == 4:
        pieces = fragment(data.__class__(bytes(data)), fragsize=size)
    else:
        whole = data.__class__(bytes(data))
        with_header = IPv6(src=whole.src, dst=whole.dst) / IPv6ExtHdrFragment(id=77) / whole.payload
        pieces = fragment6(with_header, size)
    if drop_last:
        pieces = pieces[:-1]
    if reverse:
        pieces = pieces[::-1]
    later = handshake_packets(family)[4:]
    for packet in later:  # the server's ACKs cover the 2,900 bytes
        if packet[TCP].sport == 80:
            packet[TCP].ack += 2895
        else:
            packet[TCP].seq += 2895
    return packets[:3] + list(pieces) + later


@pytest.mark.parametrize(("family", "size", "reverse"), [(4, 1480, False), (4, 1480, True), (6, 1280, False),
                                                         (6, 1280, True)])  # fmt: skip
def test_a_segment_sent_in_ip_fragments_is_read_whole_in_its_last_fragments_frame(
    tmp_path, family, size, reverse
) -> None:
    """Read from the first fragment alone it was 1,460 bytes and the server's ACK of all
    2,900 'acknowledged data never sent'. As Wireshark: one segment, in the frame that
    completed it, nothing flagged."""
    packets = _fragmented(family, size, reverse)
    path = write_capture(tmp_path / "frag.pcap", packets)
    segments = list(read_segments(str(path)))
    assert len(segments) == 10
    [data] = [s for s in segments if s.payload_len and s.sport == 40000]
    assert data.payload_len == 2900 and data.frame == len(packets) - 6  # the last fragment's
    [result] = analyze_file(str(path)).connections
    assert result.sequence.flags == {}
    analysis = analyze_file(str(path))
    assert analysis.stats.warnings == []
    # The first line says what the frames that are no TCP segment of their own were.
    pieces = len(packets) - 9
    assert (analysis.stats.fragment_frames, analysis.stats.reassembled) == (pieces, 1)
    first_line = head_lines("frag.pcap", analysis.stats, 1, [], [], analysis.links)[0]
    assert (
        f"{len(packets)} packets (pcap), {pieces} of them IP fragments put together into 1 datagram, 10 TCP"
        in first_line
    )
    assert analysis_to_dict(analysis)["ip_fragments"] == {"frames": pieces, "datagrams": 1}


def test_a_syn_split_inside_its_tcp_header_is_read_whole(tmp_path) -> None:
    """nmap -f sends its probes in 8-byte fragments: the TCP header itself is split."""
    from scapy.layers.inet import IP, fragment

    syn = IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=40000, dport=80, flags="S", seq=1000)
    path = write_capture(tmp_path / "nmap-f.pcap", fragment(syn, fragsize=8))
    [segment] = read_segments(str(path))
    assert (segment.sport, segment.dport, segment.flags, segment.seq, segment.frame) == (
        40000,
        80,
        SYN,
        1000,
        3,
    )


def test_a_datagram_missing_a_fragment_is_left_out_and_counted(tmp_path) -> None:
    path = write_capture(tmp_path / "lost.pcap", _fragmented(4, 1480, drop_last=True))
    analysis = analyze_file(str(path))
    assert analysis.stats.warnings == [
        "1 IP datagram sent in fragments left out: a fragment missing from the capture (Wireshark leaves "
        "such a datagram unread too)"
    ]
    assert not any(s.payload_len for s in analysis.connections[0].connection.segments if s.sport == 40000)
    assert (
        "IP fragments of datagrams never made whole"
        in head_lines("lost.pcap", analysis.stats, 1, [], [], analysis.links)[0]
    )


def test_an_identification_used_again_makes_a_new_datagram(tmp_path) -> None:
    """A SYN sent in fragments and resent 1 s later in fragments of the same IP ID (crafted
    tools keep one): each time a SYN, as Wireshark reads them. A fragment duplicated after
    its datagram was whole makes nothing, and is counted as a copy, not a missing fragment."""
    from scapy.layers.inet import IP, fragment

    syn = IP(src="10.0.0.1", dst="10.0.0.2", id=0x4242) / TCP(sport=40000, dport=80, flags="S", seq=1000)
    first = fragment(syn, fragsize=8)
    again = fragment(syn, fragsize=8)
    duplicated = again[-1].copy()
    times = [0.001 * n for n in range(len(first))] + [1.0 + 0.001 * n for n in range(len(again) + 1)]
    path = write_capture(tmp_path / "same-id.pcap", [*first, *again, duplicated], times=times)
    analysis = analyze_file(str(path))
    syns = [s for s in analysis.connections[0].connection.segments if s.flags & SYN]
    assert [s.frame for s in syns] == [len(first), 2 * len(first)]
    assert analysis.stats.warnings == [
        "1 IP fragment came again after its datagram was whole, and made no datagram of their own "
        "(duplicated on the way, or captured twice): left out"
    ]


@pytest.mark.slow
@needs_tshark
def test_tshark_reads_fragments_as_we_do(tmp_path) -> None:
    for family, size in ((4, 1480), (6, 1280)):
        path = write_capture(tmp_path / f"frag{family}.pcap", _fragmented(family, size, reverse=True))
        fast, wireshark = analyze_file(str(path)), analyze_file(str(path), decoder="tshark")
        assert analysis_to_dict(wireshark) == analysis_to_dict(fast)


def test_packets_in_simple_packet_blocks_say_they_carry_no_time(tmp_path) -> None:
    """A Simple Packet Block has no timestamp: each takes the time of the packet before it,
    and a warning says so, rather than an RTT of 0 µs passing for a measurement."""
    frame = _syn_frame()
    simple = struct.pack("<I", len(frame)) + frame + b"\0" * (-len(frame) % 4)
    blocks = [
        *_section_and_interface(),
        _enhanced_packet(0, 1_000_000, frame),
        _pcapng_block(3, simple),
        _pcapng_block(3, simple),
    ]
    capture = tmp_path / "simple.pcapng"
    capture.write_bytes(b"".join(blocks))
    stats = DecodeStats()
    assert [segment.time for segment in read_packets(str(capture), stats)] == [1.0, 1.0, 1.0]
    assert stats.warnings == [
        "2 packets in Simple Packet Blocks, which carry no time: each is given the time of the packet "
        "before it (0 before any), so durations that involve them are not measured ones"
    ]


def _pcap_of(records: list[tuple[int, int, bytes]], nano: bool = False) -> bytes:
    """A little-endian pcap of Ethernet frames: (seconds, fraction, frame) each."""
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack("<IHHiIII", magic, 2, 4, 0, 0, 65535, 1)]
    for seconds, fraction, frame in records:
        out.append(struct.pack("<IIII", seconds, fraction, len(frame), len(frame)) + frame)
    return b"".join(out)


def _nflog_frame(packet: bytes, order: str) -> bytes:
    """An NFLOG frame (Linux's nfnetlink_log) of an IPv4 packet: its header, then the packet
    header TLV and the payload TLV, lengths and types in `order` ("<" or ">")."""

    def tlv(kind: int, value: bytes) -> bytes:
        return struct.pack(order + "HH", 4 + len(value), kind) + value + b"\0" * (-len(value) % 4)

    return bytes([2, 0, 0, 0]) + tlv(1, b"\x08\x00\x03\x00") + tlv(9, packet)


@needs_tshark
def test_packets_with_a_comment_are_read_by_both_decoders(tmp_path) -> None:
    """A pcapng packet comment (what Wireshark's "Packet Comment..." saves) puts a section
    before the frame's in tshark's output, which pyshark took for the frame: the packet was
    lost to the tshark decoder, its connection cut."""
    from scapy.layers.l2 import Ether

    blocks = [
        _pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)),
        _named_interface(b"eth0"),
    ]
    for number, packet in enumerate(handshake_packets()):
        frame = bytes(Ether() / packet)
        fields = struct.pack("<IIIII", 0, 0, 1_000_000 + number, len(frame), len(frame))
        padded = frame + b"\0" * (-len(frame) % 4)
        comment = b"the SYN" if number == 0 else b"and its answer" if number == 1 else b""
        option = (
            struct.pack("<HH", 1, len(comment)) + comment + b"\0" * (-len(comment) % 4) if comment else b""
        )
        blocks.append(
            _pcapng_block(6, fields + padded + option + (struct.pack("<HH", 0, 0) if option else b""))
        )
    capture = tmp_path / "commented.pcapng"
    capture.write_bytes(b"".join(blocks))
    fast, tshark = analyze_file(str(capture)), analyze_file(str(capture), "tshark")
    assert fast.stats.tcp_segments == tshark.stats.tcp_segments == 10 and not tshark.stats.warnings
    assert analysis_to_dict(tshark)["connections"] == analysis_to_dict(fast)["connections"]


@pytest.mark.parametrize("order", ["<", ">"])
def test_nflog_is_read_in_the_byte_order_of_the_host_that_wrote_it(tmp_path, order) -> None:
    """NFLOG's TLVs are in the writer's byte order: a big-endian machine's capture (a
    big-endian pcap) is read as tshark reads it, its big frames too (a length of 8 read the
    other way is 2,048, which a frame of more fits)."""
    packets = handshake_packets()
    packets[3] = packets[3].copy()
    packets[3][TCP].remove_payload()
    packets[3] = packets[3] / (b"x" * 3000)
    del packets[3][IP].len, packets[3][IP].chksum
    frames = [_nflog_frame(bytes(p), order) for p in packets]
    header = struct.pack(order + "IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 239)
    records = [
        struct.pack(order + "IIII", 1_700_000_000, i, len(f), len(f)) + f for i, f in enumerate(frames)
    ]
    capture = tmp_path / "nflog.pcap"
    capture.write_bytes(header + b"".join(records))
    analysis = analyze_file(str(capture))
    assert analysis.stats.tcp_segments == len(packets) and len(analysis.connections) == 1
    assert analysis.connections[0].close.shape == "four-way"
    assert max(s.payload_len for s in analysis.connections[0].connection.segments) == 3000


@pytest.mark.parametrize("tunnel", ["gre", "gre-inner-tcp", "vxlan"])
def test_frames_cut_inside_a_tunnel_s_headers_are_counted_as_cut(tmp_path, tunnel) -> None:
    """A snapshot length that ends inside a GRE header, or inside the Ethernet header a
    VXLAN packet carries, hides whether the frame held TCP: counted and named as cut, not
    lost without a word or taken for a UDP flow. The snapshot length the warning names keeps
    a tunnel's headers (helper-149: "-s 96" for IPv6 in GRE, which needs 98)."""
    from scapy.layers.inet import UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN

    outer = IP(src="192.168.1.1", dst="192.168.1.2")
    packets = [
        outer / GRE(proto=0x0800) / p
        if tunnel.startswith("gre")
        else outer / UDP(sport=50000, dport=4789) / VXLAN(vni=1) / Ether() / p
        for p in handshake_packets()
    ]
    # 2 bytes into GRE; 10 into the inner TCP header; 10 into the inner Ethernet header
    cut = {"gre": 36, "gre-inner-tcp": 68, "vxlan": 60}[tunnel]
    analysis = analyze_file(str(write_capture(tmp_path / "cut.pcap", packets, snaplen=cut)))
    assert analysis.stats.headers_cut == len(packets) and not analysis.udp and not analysis.connections
    assert analysis.stats.headers_cut_in_tunnels == len(packets)
    assert any(
        f"{len(packets)} frames skipped: cut inside their" in w
        and "inside a tunnel, whose headers come first: tcpdump -s 192 or more" in w
        for w in analysis.stats.warnings
    )
    # Kept whole, the same frames are read.
    assert len(analyze_file(str(write_capture(tmp_path / "whole.pcap", packets))).connections) == 1
    # A GTP echo request cut as short on GTP-U's port is no packet cut inside its headers: a
    # UDP datagram, as it is.
    echo = (
        outer / UDP(sport=2152, dport=2152) / bytes([0x32, 0x01, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0]) / (b"\0" * 40)
    )
    analysis = analyze_file(str(write_capture(tmp_path / "echo.pcap", [echo], snaplen=60)))
    assert analysis.stats.headers_cut == 0 and len(analysis.udp) == 1


ZERO_STAMPED = (
    "1 packet stamped 0 (1970-01-01, the first: packet 2), a writer with no time for them: each is "
    "given the time of the packet before it"
)


@pytest.mark.parametrize("decoder", ["fast", pytest.param("tshark", marks=needs_tshark)])
@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_a_packet_stamped_0_takes_the_time_before_it(tmp_path, kind: str, decoder: str) -> None:
    """Not 1970, which would make a SYN's backoff some -1.7e9 s; the first packet stamped 0
    is 0 (there is no time before it), and the warning names the file's first one after."""
    frame = _syn_frame()
    capture = tmp_path / f"zero.{kind}"
    if kind == "pcap":
        capture.write_bytes(_pcap_of([(1_700_000_000, 5, frame), (0, 0, frame), (1_700_000_003, 0, frame)]))
    else:
        ticks = [1_700_000_000_000_005, 0, 1_700_000_003_000_000]
        capture.write_bytes(
            b"".join([*_section_and_interface(), *(_enhanced_packet(0, t, frame) for t in ticks)])
        )
    stats = DecodeStats()
    reader = read_packets if decoder == "fast" else read_segments_tshark
    times = [segment.time for segment in reader(str(capture), stats)]
    assert times == [pytest.approx(1_700_000_000.000005)] * 2 + [1_700_000_003.0]
    assert stats.warnings == [ZERO_STAMPED]
    assert stats.backwards == 0


@pytest.mark.parametrize("nano", [False, True], ids=["usec", "nsec"])
def test_a_fraction_of_a_second_past_a_second_is_named(tmp_path, nano: bool) -> None:
    frame = _syn_frame()
    whole = 1_000_000_000 if nano else 1_000_000
    capture = tmp_path / "over.pcap"
    capture.write_bytes(_pcap_of([(100, 0, frame), (100, whole + whole // 2, frame), (102, 0, frame)], nano))
    stats = DecodeStats()
    times = [segment.time for segment in read_packets(str(capture), stats)]
    assert times == [100.0, pytest.approx(101.5), 102.0]  # read as given
    unit = "1,000,000,000 ns" if nano else "1,000,000 µs"
    assert stats.warnings == [
        f"1 packet with a fraction of a second of {unit} or more (the first: packet 2), which no capture "
        "writes: each time read as given, its seconds plus the fraction"
    ]


def test_fragments_cut_by_a_snapshot_length_still_make_their_segment(tmp_path) -> None:
    """tcpdump -s 96: every fragment cut, none missing. The segment has its whole length and
    says its payload was not all captured, as an unfragmented packet cut so would; and a
    copy of a fragment after its datagram was read makes nothing new, and is counted."""
    packets = _fragmented(4, 1480)
    packets.insert(5, packets[4].copy())  # the second fragment again, after the datagram
    path = write_capture(tmp_path / "cut.pcap", packets, snaplen=96)
    stats = DecodeStats()
    [data] = [s for s in read_packets(str(path), stats) if s.payload_len and s.sport == 40000]
    assert (data.payload_len, data.payload_cut, data.frame) == (2900, True, 5)
    assert stats.warnings == [stats.fragment_copies_warning()] and stats.fragment_copies == 1


def test_a_snapshot_length_that_cuts_payloads_is_named_in_the_first_line(tmp_path) -> None:
    """tcpdump -s 96: the report's first line says how many frames were cut to 96 bytes (by
    either decoder), the JSON names the length; a pcapng interface's snapshot length
    likewise; where no frame was cut (tcpdump's default, 262,144), nothing is said."""
    packets = handshake_packets()
    packets[3] = packets[3] / (b"x" * 300)  # the client's data, 300 bytes more: longer than 96
    cut = write_capture(tmp_path / "cut.pcap", packets, snaplen=96)
    said = (
        "; 1 frame cut to 96 bytes (the snapshot length): lengths and numbers hold, payload contents do not"
    )
    assert analysis_text(analyze_file(str(cut))).splitlines()[0].endswith(said)
    if shutil.which("tshark") is not None:
        assert analysis_text(analyze_file(str(cut), decoder="tshark")).splitlines()[0].endswith(said)
    document = json.loads(run("analyze", "--json", "--no-sidecar", str(cut)).stdout)
    assert document["snapshot_length"] == 96
    # The same record in a file whose header names 65,535: cut by the tool that wrote it, not
    # to the snapshot length (the pcap header's snaplen field, at byte 16).
    shorter = bytearray(cut.read_bytes())
    struct.pack_into("<I", shorter, 16, 65_535)
    (tmp_path / "shorter.pcap").write_bytes(bytes(shorter))
    said = "; 1 frame cut to 96 bytes: lengths and numbers hold, payload contents do not"
    assert analysis_text(analyze_file(str(tmp_path / "shorter.pcap"))).splitlines()[0].endswith(said)
    if shutil.which("tshark") is not None:
        first = analysis_text(analyze_file(str(tmp_path / "shorter.pcap"), decoder="tshark")).splitlines()[0]
        assert first.endswith(said)
    whole = write_capture(tmp_path / "whole.pcap", packets, snaplen=262_144)
    assert "snapshot length" not in analysis_text(analyze_file(str(whole))).splitlines()[0]
    # A pcapng whose interface block names 128 (its snaplen field, after link type and reserved).
    pcapng = bytearray(write_capture(tmp_path / "any.pcapng", packets, pcapng=True).read_bytes())
    at = struct.unpack_from("<I", pcapng, 4)[0]  # the section header's length: the interface block follows
    assert struct.unpack_from("<I", pcapng, at)[0] == 1
    struct.pack_into("<I", pcapng, at + 12, 128)
    (tmp_path / "cut.pcapng").write_bytes(bytes(pcapng))
    named = tmp_path / "cut.pcapng"
    assert json.loads(run("analyze", "--json", "--no-sidecar", str(named)).stdout)["snapshot_length"] == 128
    assert "snapshot length" not in analysis_text(analyze_file(str(named))).splitlines()[0]  # none is longer


def _damaged_captures(folder: Path) -> dict[str, tuple[Path, str, str]]:
    """Captures each damaged one way, with words of the one warning either decoder gives and
    the connections it still finds."""
    from scapy.layers.inet import IP

    packets = handshake_packets()
    ends = {"src": "10.0.0.1", "dst": "10.0.0.2"}
    bad_offset = IP(**ends) / TCP(sport=40000, dport=80, flags="PA", seq=1006, ack=5006, dataofs=3) / b"xy"
    datagram = IP(**ends, id=77) / TCP(sport=40000, dport=80, flags="PA", seq=1006, ack=5006) / (b"z" * 64)
    fragments = datagram.fragment(24)
    whole = write_capture(folder / "whole.pcap", packets).read_bytes()
    cut = folder / "cut.pcap"
    cut.write_bytes(whole[:-7])  # the last record cut short
    return {
        "data offset 3": (
            write_capture(folder / "offset.pcap", [*packets[:6], bad_offset]),
            "1 frame ",
            "1 connection",
        ),
        # Every TCP header cut: nothing to analyze, and said.
        "cut at 40 bytes": (
            write_capture(folder / "snap40.pcap", packets, snaplen=40),
            "10 frames",
            "0 connections",
        ),
        "cut inside the IP header": (
            write_capture(folder / "snap20.pcap", packets, snaplen=20),
            "10 frames",
            "0 connections",
        ),
        # The datagram's last fragment never captured: the others are one datagram left out.
        "a fragment missing": (
            write_capture(folder / "fragments.pcap", [*packets[:6], *fragments[:-1]]),
            "1 IP datagram sent in fragments left out",
            "1 connection",
        ),
        "the last record cut short": (cut, "cut", "1 connection"),
    }


@pytest.mark.slow
@needs_tshark
@pytest.mark.parametrize("decoder", ["fast", "tshark"])
def test_damaged_captures_give_their_packets_and_one_warning_each_with_either_decoder(
    tmp_path, decoder
) -> None:
    for what, (path, said, found) in _damaged_captures(tmp_path).items():
        done = subprocess.run(
            [sys.executable, "-m", "analyzer", "analyze", "--decoder", decoder, str(path)],
            capture_output=True, text=True, cwd=ROOT, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, (what, done.stderr)
        assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, (what, done.stderr)
        lines = done.stderr.splitlines()
        assert all(line.startswith(f"handshake: {path}: warning: ") for line in lines), (what, lines)
        assert len(lines) == 1 and said in lines[0], (what, decoder, lines)
        assert f"TCP, {found}" in done.stdout.splitlines()[0], (what, decoder, done.stdout[:300])


@pytest.mark.parametrize("decoder", ["fast", pytest.param("tshark", marks=needs_tshark)])
@pytest.mark.parametrize("routing", ["type 0", "SRv6"])
def test_a_routing_header_s_final_destination_is_the_connection_s(tmp_path, routing, decoder) -> None:
    """A packet with segments left goes to its next hop, not to the server: the ends, the
    TCP checksum and tshark's conversations use the last address the header lists
    (RFC 8200 8.1). Without it a connection captured at the client split in two, one per
    direction."""
    from scapy.layers.inet6 import IPv6, IPv6ExtHdrRouting, IPv6ExtHdrSegmentRouting

    hop, client, server = "2001:db8::99", "2001:db8::1", "2001:db8::2"
    header = (
        IPv6ExtHdrRouting(addresses=[server], segleft=1)
        if routing == "type 0"
        else IPv6ExtHdrSegmentRouting(addresses=[server, hop], segleft=1)
    )
    packets = []
    for packet in handshake_packets(6):
        if packet[IPv6].src == client:  # to the next hop, by way of the routing header
            packet = IPv6(src=client, dst=hop) / header.copy() / packet[TCP]
        packets.append(packet)
    [connection] = analyze_file(
        str(write_capture(tmp_path / "routed.pcap", packets)), decoder=decoder
    ).connections
    assert (connection.connection.client[0], connection.connection.server[0]) == (client, server)
    assert connection.handshake.status == "complete" and connection.close.shape == "four-way"


def test_pcapng_custom_blocks_take_frame_numbers_as_wireshark_gives_them(tmp_path) -> None:
    """Wireshark 4 shows each Custom Block as a frame of its own: the packets after one are
    numbered one more (tshark 4.0 here: the SYN after two Custom Blocks is its frame 4)."""
    frame = _syn_frame()
    custom = struct.pack("<I", 32473) + b"note"  # a Private Enterprise Number, then its data
    blocks = [
        *_section_and_interface(),
        _enhanced_packet(0, 1_000_000, frame),
        _pcapng_block(0x00000BAD, custom),
        _pcapng_block(0x40000BAD, custom),
        _enhanced_packet(0, 2_000_000, frame),
    ]
    capture = tmp_path / "custom.pcapng"
    capture.write_bytes(b"".join(blocks))
    stats = DecodeStats()
    assert [segment.frame for segment in read_packets(str(capture), stats)] == [1, 4]
    assert stats.frames == 4 and stats.warnings == []
    if shutil.which("tshark") is not None:
        listed = subprocess.run(
            ["tshark", "-r", str(capture), "-Y", "tcp", "-T", "fields", "-e", "frame.number"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert listed.stdout.split() == ["1", "4"]


def test_a_step_back_below_a_microsecond_is_said_in_nanoseconds() -> None:
    """Two interfaces of a pcapng stamped in nanoseconds, 400 ns apart: not "by up to 0 µs"."""
    stats = DecodeStats()
    stats.went_back(2, 4e-7, 4e-7)
    warning = stats.backwards_warning()
    assert warning is not None and "by up to 400 ns" in warning


def test_an_option_of_the_wrong_length_is_not_taken_as_linux_does_not() -> None:
    """Linux's tcp_parse_options takes MSS, window scale, SACK-permitted and timestamps only
    at their own lengths (4, 3, 2, 10); tshark says "option length should be 2" of a
    SACK-permitted of 9, and it was taken."""
    from analyzer.decode.ip_tcp import parse_options

    assert parse_options(bytes([4, 2])).sack_permitted is True
    assert parse_options(bytes([4, 9, 0, 0, 0, 0, 0, 0, 0])).sack_permitted is False
    assert (
        parse_options(bytes([3, 3, 7])).window_scale == 7
        and parse_options(bytes([3, 4, 7, 0])).window_scale is None
    )


def test_many_reasons_to_skip_frames_make_a_few_lines() -> None:
    """A helper's shape: GRE carrying 1,000 protocol values, a warning each (twice: on stderr
    and in the report). The first REASONS_SHOWN a line, the rest one line; past REASONS_KEPT
    reasons the rest are counted together."""
    from analyzer.decode.reader import REASONS_KEPT, REASONS_SHOWN

    stats = DecodeStats()
    for n in range(1000):
        for _ in range(2 if n < 3 else 1):
            stats.skip(f"GRE carrying protocol {n:#06x}")
    lines = stats.undecodable_warnings()
    assert len(lines) == REASONS_SHOWN + 1
    assert lines[0] == "2 frames skipped that may hold TCP: GRE carrying protocol 0x0000"
    assert lines[-1] == (
        f"{1003 - 6 - (REASONS_SHOWN - 3):,} more frames skipped that may hold TCP, for "
        f"{REASONS_KEPT - REASONS_SHOWN:,} or more other reasons (as GRE carrying protocol 0x0008)"
    )
    assert len(stats.undecodable) == REASONS_KEPT + 1


def _mpls_pseudowire(inner_mac: str, control_word: bool) -> list:
    """The handshake in an Ethernet pseudowire under three MPLS labels, as a provider's core
    link carries it."""
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw

    def label(value: int, bottom: int) -> bytes:
        return struct.pack(">I", (value << 12) | (bottom << 8) | 64)

    frames = []
    for packet in handshake_packets():
        inner = Ether(dst=inner_mac, src="02:aa:00:00:00:01") / packet
        stack = label(16001, 0) + label(16002, 0) + label(100, 1) + (b"\0" * 4 if control_word else b"")
        frames.append(Ether(type=0x8847) / Raw(stack + bytes(inner)))
    return frames


@pytest.mark.parametrize("inner_mac", ["00:1b:21:0a:0b:0c", "40:a6:b7:0a:0b:0c", "60:00:00:0a:0b:0c"])
@pytest.mark.parametrize("control_word", [True, False])
def test_an_ethernet_pseudowire_with_or_without_its_control_word(tmp_path, inner_mac, control_word) -> None:
    """RFC 4448 makes the control word optional: a pseudowire's first nibble is the control
    word's 0, or its inner Ethernet address's (any): the reading whose IP header holds."""
    from scapy.utils import wrpcap

    path = tmp_path / "pw.pcap"
    wrpcap(str(path), _mpls_pseudowire(inner_mac, control_word))
    stats = DecodeStats()
    assert len(list(read_segments(str(path), stats))) == len(handshake_packets())
    assert stats.warnings == []


def test_malformed_frames_are_named_by_what_is_wrong_and_where(tmp_path) -> None:
    """Each reason a frame's lengths cannot be, with its count and first frame."""
    good = handshake_packets()
    short_offset = good[2].copy()
    short_offset[TCP].dataofs = 3
    short_offset2 = short_offset.copy()
    path = write_capture(tmp_path / "bad.pcap", [*good, short_offset, short_offset2])
    stats = DecodeStats()
    assert len(list(read_segments(str(path), stats))) == len(good)
    first = len(good) + 1
    assert stats.warnings == [
        f"2 frames with impossible IP/TCP lengths skipped: TCP data offset 12 is below 20 (2 frames, the first {first})"
    ]


def test_frames_ending_in_an_ip_option_header_or_of_the_other_ip_version_are_named(tmp_path) -> None:
    """A helper's crafted frames that no count or warning held (tshark: Malformed Packet): an
    IPv6 header whose Hop-by-Hop header the frame ends before, or inside, and an IPv6 header
    under the IPv4 ethertype."""
    from scapy.layers.l2 import Ether
    from scapy.utils import PcapWriter

    good = handshake_packets()
    macs = {"src": "02:00:00:00:00:01", "dst": "02:00:00:00:00:02"}
    v6 = bytes(IPv6(src="2001:db8::a", dst="2001:db8::b", nh=0, plen=1))  # Hop-by-Hop next, 1 byte said
    wrong_version = bytearray(bytes(good[2]))
    wrong_version[0] = 0x65
    # and one whose 8-byte Hop-by-Hop header the frame ends inside (its first 4 bytes there)
    inside = bytes(IPv6(src="2001:db8::a", dst="2001:db8::b", nh=0, plen=8)) + b"\x06\x00\x01\x04"
    frames = [*(bytes(Ether(**macs) / p) for p in good), bytes(Ether(**macs, type=0x86DD)) + v6,
              bytes(Ether(**macs, type=0x86DD)) + v6 + b"\x06", bytes(Ether(**macs, type=0x0800)) + wrong_version,
              bytes(Ether(**macs, type=0x86DD)) + inside]  # fmt: skip
    path = tmp_path / "cut.pcap"
    writer = PcapWriter(str(path), linktype=1)
    for number, frame in enumerate(frames):
        packet = Ether(frame)
        packet.time = 1_700_000_000 + number
        writer.write(packet)
    writer.close()
    stats = DecodeStats()
    assert len(list(read_segments(str(path), stats))) == len(good)
    first = len(good) + 1
    assert stats.warnings == [
        "1 frame skipped that may hold TCP: IP version 6 under the IPv4 ethertype",
        "3 frames with impossible IP/TCP lengths skipped: IPv6 extension header cut short inside a whole frame "
        f"(a length field claims more) (3 frames, the first {first})",
    ]


def test_a_frame_of_no_ip_version_is_named_not_dropped(tmp_path) -> None:
    """An IP header whose version is neither 4 nor 6 (a corrupted byte): counted and named,
    never left out in silence (Wireshark: "Bogus IP version")."""
    good = handshake_packets()
    bad = bytearray(bytes(good[2]))
    bad[0] = 0x55
    path = write_capture(tmp_path / "bad.pcap", [*good, IP(bytes(bad))])
    stats = DecodeStats()
    assert len(list(read_segments(str(path), stats))) == len(good)
    assert stats.warnings == [
        f"1 frame with impossible IP/TCP lengths skipped: IP version 5, neither 4 nor 6 (frame {len(good) + 1})"
    ]


_ENDS = {4: ("192.0.2.1", 40000, "192.0.2.2", 80), 6: ("2001:db8::1", 40000, "2001:db8::2", 80)}


@pytest.mark.parametrize("family", [4, 6])
def test_an_ip_length_beyond_a_whole_frame_is_read_as_the_frame_holds(tmp_path, family: int) -> None:
    """A data segment of 18 bytes whose IP length claims 1400, in a frame no snapshot length
    cut: read with the 18 bytes it holds and named, as Wireshark does ("IPv4 total length
    exceeds packet length"), so the next segment is no retransmission; the same frame cut
    by a snapshot length is a payload cut, its length the claimed one."""
    request = tcp_packet(family, *_ENDS[family], "PA", 1001, 2001, b"x" * 18)
    after = tcp_packet(family, *_ENDS[family], "PA", 1019, 2001, b"y" * 18)
    if family == 4:
        request[IP].len = 1400
    else:
        request[IPv6].plen = 1400
    path = write_capture(
        tmp_path / "long.pcap", [IP(bytes(request)) if family == 4 else IPv6(bytes(request)), after]
    )
    stats = DecodeStats()
    first, second = read_segments(str(path), stats)
    assert (first.payload_len, first.payload_cut, second.payload_len) == (18, False, 18)
    assert len(stats.warnings) == 1 and "claims more than the frame holds" in stats.warnings[0]
    assert "(the first: frame 1)" in stats.warnings[0]
    [result] = analyze_file(str(path)).connections
    assert not result.sequence.flags and not result.resends
    # Cut by a snapshot length, the frame is no proof the length is wrong.
    cut = write_capture(tmp_path / "cut.pcap", [request], snaplen=len(bytes(request)) + 14 - 4)
    stats = DecodeStats()
    [segment] = read_segments(str(cut), stats)
    assert segment.payload_cut and segment.payload_len == 1400 - (20 if family == 4 else 0) - 20
    assert stats.warnings == []


def test_every_share_names_the_frames_whose_ip_length_runs_past_them(tmp_path) -> None:
    """With --jobs, each share reads every frame and analyzes its own connections; the file's
    warnings are one share's, so each counts such frames of every connection alike."""
    from analyzer.parallel.partition import Share

    frames = []
    for sport in range(40000, 40006):
        packet = tcp_packet(4, "192.0.2.1", sport, "192.0.2.2", 80, "PA", 1001, 2001, b"x" * 18)
        packet[IP].len = 1400
        frames.append(IP(bytes(packet)))
    path = write_capture(tmp_path / "long.pcap", frames)
    for count in (1, 2, 3):
        for index in range(count):
            stats = DecodeStats()
            list(read_packets(str(path), stats, share=Share(index, count)))
            assert stats.beyond_frame == 6 and stats.first_beyond == 1 and stats.tcp_segments == 6


def test_tcp_options_past_a_whole_frame_are_malformed_not_cut(tmp_path) -> None:
    """A snapshot length may cut a SYN's options (read as cut); in a frame no snapshot cut,
    options that run past its end are a wrong data offset."""
    syn = tcp_packet(4, "192.0.2.1", 40000, "192.0.2.2", 80, "S", 1000, 0, b"",
                     [("MSS", 1460), ("SAckOK", b""), ("WScale", 7), ("NOP", None)])  # fmt: skip
    raw = bytes(syn)[:-6]  # the last options gone from a frame no snapshot length cut
    path = write_capture(tmp_path / "short.pcap", [IP(raw)])
    stats = DecodeStats()
    assert list(read_segments(str(path), stats)) == []
    assert stats.malformed == 1 and "TCP options run past the end of a whole frame" in stats.warnings[0]


def test_a_tunnel_ends_where_its_outer_datagram_does(tmp_path) -> None:
    """Bytes after the outer IPv4 length are a trailer (Wireshark: eth.trailer), not the GRE
    payload: a TCP packet placed there is no segment."""
    inner = bytes(handshake_packets()[0])
    outer = IP(src="192.0.2.9", dst="192.0.2.10", proto=47) / GRE(proto=0x0800)
    outer[IP].len = 24
    path = write_capture(tmp_path / "gre.pcap", [IP(bytes(outer) + inner)])
    stats = DecodeStats()
    assert list(read_segments(str(path), stats)) == []
    # Within the length it is read, in its tunnel.
    whole = IP(src="192.0.2.9", dst="192.0.2.10", proto=47) / GRE(proto=0x0800) / handshake_packets()[0]
    [segment] = read_segments(str(write_capture(tmp_path / "gre2.pcap", [whole])), DecodeStats())
    assert segment.tunnel == "GRE"


def test_a_pcapng_cut_inside_its_section_header_is_no_capture(tmp_path) -> None:
    full = write_capture(tmp_path / "full.pcapng", handshake_packets(), pcapng=True)
    cut = tmp_path / "cut.pcapng"
    for length in (10, 20):  # inside its byte-order magic; inside its body
        cut.write_bytes(full.read_bytes()[:length])
        with pytest.raises(CaptureFileError, match="pcapng section header is cut off"):
            list(read_segments(str(cut), DecodeStats()))


def test_ip_under_mpls_cut_by_the_snapshot_length_is_still_read(tmp_path) -> None:
    """IPv6 straight under a label, cut by tcpdump -s 96: its payload length runs past what was
    captured, and no Ethernet reading holds either: IP it is."""
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw

    inner = (
        IPv6(src="2001:db8::1", dst="2001:db8::2") / TCP(sport=40000, dport=80, flags="PA") / (b"x" * 1000)
    )
    frame = Ether(type=0x8847) / Raw(struct.pack(">I", (100 << 12) | (1 << 8) | 64) + bytes(inner))
    frame.time = 1_700_000_000.0
    from scapy.utils import PcapWriter

    path = tmp_path / "cut.pcap"
    writer = PcapWriter(str(path), linktype=1, snaplen=96)
    whole = bytes(frame)
    writer._write_header(frame)
    writer.write_packet(whole[:96], sec=1_700_000_000, usec=0, caplen=96, wirelen=len(whole))
    writer.close()
    stats = DecodeStats()
    [segment] = list(read_segments(str(path), stats))
    assert segment.payload_len == 1000 and stats.warnings == []


def test_each_frame_of_a_pcapng_of_two_interfaces_names_its_own(tmp_path) -> None:
    """A frame stamped more than a second after the one before makes the reader look one
    frame ahead (a clock that leaps): the frame keeps its own interface, not the next one's."""
    from scapy.layers.l2 import Ether

    def block(kind: int, body: bytes) -> bytes:
        body += b"\0" * (-len(body) % 4)
        return struct.pack("<II", kind, len(body) + 12) + body + struct.pack("<I", len(body) + 12)

    packets = handshake_packets()[:3]
    frames = [(0, 0.0), (1, 2.0), (0, 2.0001)]  # (interface, seconds)
    data = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    data += block(1, struct.pack("<HHI", 1, 0, 0)) * 2  # two Ethernet interfaces, microseconds
    for packet, (interface, seconds) in zip(packets, frames, strict=True):
        frame = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / packet)
        ticks = round((1_700_000_000 + seconds) * 1e6)
        data += block(
            6,
            struct.pack("<IIIII", interface, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), len(frame)) + frame,
        )
    path = tmp_path / "two.pcapng"
    path.write_bytes(data)
    assert [s.interface for s in read_segments(str(path), DecodeStats())] == [0, 1, 0]


def _records(data: bytes) -> list[tuple[int, int, int, bytes]]:
    """A little-endian pcap's records as (seconds, fraction, wire length, bytes)."""
    records, at = [], 24
    while at < len(data):
        seconds, fraction, kept, wire = struct.unpack_from("<IIII", data, at)
        records.append((seconds, fraction, wire, data[at + 16 : at + 16 + kept]))
        at += 16 + kept
    return records


def test_the_link_type_fields_fcs_bits_and_a_modified_pcap_are_read_as_wireshark_reads_them(tmp_path) -> None:
    """The pcap header's link-type field carries the FCS's presence and length in its upper
    bits (tcpdump with FCS kept writes 0x04000001 for Ethernet); and Kuznetzov's modified
    pcap (magic 0xa1b2cd34, old Red Hat tcpdump) has 24-byte record headers. Both were
    refused ("unsupported link type 67108865", "not a pcap or pcapng file")."""
    original = (ROOT / "captures" / "refused.pcap").read_bytes()
    assert original[:4] == b"\x4d\x3c\xb2\xa1"  # nanoseconds, little-endian
    expected = [(s.frame, s.flags, s.seq) for s in read_segments(str(ROOT / "captures" / "refused.pcap"))]
    fcs_bits = tmp_path / "fcs-bits.pcap"
    fcs_bits.write_bytes(original[:20] + struct.pack("<I", 0x04000001) + original[24:])
    modified = tmp_path / "modified.pcap"
    records = b"".join(
        struct.pack("<IIIIIHBx", seconds, fraction // 1000, len(frame), wire, 1, 0x0800, 0) + frame
        for seconds, fraction, wire, frame in _records(original)
    )
    modified.write_bytes(b"\x34\xcd\xb2\xa1" + original[4:24] + records)
    for path in (fcs_bits, modified):
        assert [(s.frame, s.flags, s.seq) for s in read_segments(str(path))] == expected, path.name


@pytest.mark.parametrize("step", [0.0, 0.001], ids=["one-time", "timed"])
def test_frames_all_of_one_time_are_said_to_time_nothing(tmp_path, step) -> None:
    """helper-120: gopacket's test file, every frame of one time, read as round trips of 0 us
    "both at once (one host or one LAN)", with no word that the times say nothing."""
    path = write_capture(tmp_path / "one.pcap", handshake_packets(), step=step)
    result = run("analyze", str(path))
    said = "all 10 frames carry one time, 2023-11-14 22:13:20.000000 UTC: the clock that stamped them did not move"
    assert (said in result.stdout) == (step == 0.0)
    assert ("the clock did not move between them, no timing to read" in result.stdout) == (step == 0.0)
    # helper-145: the handshake's RTT is no measured 0 µs either.
    less = "RTT 0 µs (the file's clock did not move between them: less than its resolution)"
    assert (less in result.stdout) == (step == 0.0)


def test_an_interface_name_s_control_characters_are_written_escaped(tmp_path) -> None:
    """helper-120: a pcapng interface name holding CR LF (or a terminal's escape) reached the
    terminal raw in a warning."""
    frame = _syn_frame()
    capture = tmp_path / "named.pcapng"
    capture.write_bytes(
        b"".join(
            [_pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)),
             _named_interface(b"eth0\r\n\x1b[31m"), _enhanced_packet(0, 1_000_000, frame), _statistics(0, 10, 3)]
        )
    )  # fmt: skip
    (warning,) = analyze_file(str(capture)).stats.warnings
    assert "(eth0\\r\\n\\x1b[31m: 3)" in warning and warning.isprintable()


@pytest.mark.parametrize(("step", "on_pictures"), [(8e-6, False), (0.002, True)])
def test_a_step_back_below_a_millisecond_is_left_off_the_pictures(step, on_pictures) -> None:
    """helper-122: "time goes backwards ... by up to 8 µs" (several CPUs' buffers) took a sixth
    of every picture of a 373k-frame capture; the command's output still says it."""
    stats = DecodeStats()
    stats.went_back(2, step, step)
    warning = stats.backwards_warning()
    assert warning is not None
    stats.warnings = [warning, "the capture dropped 5 packets"]
    assert stats.picture_warnings() == ([warning] if on_pictures else []) + ["the capture dropped 5 packets"]


def test_a_frame_stamped_far_back_on_another_interface_than_the_next_is_a_step(tmp_path) -> None:
    """One frame stamped far back, the next on the clock again, is that frame's stamp's error
    (reader.py) only where the next is of its own interface: another interface's next frame
    tells nothing of its clock (helper-125: an interface 37 s behind, interleaved with one on
    time, had every attempt given up at once)."""
    frame = _syn_frame()
    blocks = [
        *_section_and_interface(),
        _pcapng_block(1, struct.pack("<HHI", 1, 0, 65535)),  # interface 1, Ethernet too
        _enhanced_packet(0, 100_000_000, frame),
        _enhanced_packet(1, 60_000_000, frame),  # interface 1's clock, 40 s behind
        _enhanced_packet(0, 100_100_000, frame),
    ]
    capture = tmp_path / "two-clocks.pcapng"
    capture.write_bytes(b"".join(blocks))
    stats = DecodeStats()
    assert len(list(read_packets(str(capture), stats))) == 3
    assert stats.timer_offset == pytest.approx(40.0)  # taken for a step, as before


@needs_tshark
def test_a_pcap_variant_of_longer_record_headers_is_named_and_tshark_reads_it(tmp_path) -> None:
    """helper-145: editcap -F nokiapcap (the standard magic, longer record headers) stopped at
    its second record as "a damaged record header", and --decoder tshark, which reads every
    packet of it, repeated that warning beside its full count."""
    variant = tmp_path / "nokia.pcap"
    editcap = shutil.which("editcap")
    assert editcap is not None, "editcap comes with tshark (wireshark-common)"
    subprocess.run(
        [editcap, "-F", "nokiapcap", str(ROOT / "captures" / "handshake.pcap"), str(variant)], check=True
    )
    fast = run("analyze", str(variant))
    assert "a pcap variant of longer record headers" in fast.stderr and "--decoder tshark" in fast.stderr
    wireshark = run("analyze", "--decoder", "tshark", str(variant))
    assert wireshark.returncode == 0, wireshark.stderr
    whole = run("analyze", str(ROOT / "captures" / "handshake.pcap"))
    assert wireshark.stdout.splitlines()[0].split(":", 1)[1] == whole.stdout.splitlines()[0].split(":", 1)[1]
    assert "record header" not in wireshark.stderr + wireshark.stdout
