"""Tunnels, link types and capture copies: TCP is found wherever it travels, the tunnel is
named, what cannot be read is counted by name, and the same packet captured twice is a copy.

The captures in tests/data/tunnels are made by make_tunnel_captures.py, each holding one
short conversation; EXPECTED.tsv holds tshark's count of its TCP packets, measured then.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run
from pcap_builder import write_capture
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import GRE, Ether
from scapy.packet import Packet
from scapy.utils import PcapReader, wrpcap

from analyzer.analysis import analyze_file
from analyzer.decode import DecodeStats, read_packets, read_segments
from analyzer.decode.segment import Segment

TUNNELS = Path(__file__).parent / "data" / "tunnels"
INNER = {("10.1.0.1", "10.2.0.2"), ("2001:db8:1::1", "2001:db8:2::2")}

# The tunnel each file's connection is named with; "" where only the link layer differs.
TUNNEL_NAMES = {
    "ipip.pcap": "IPv4-in-IPv4",
    "sixin4.pcap": "IPv6-in-IPv4",
    "fourin6.pcap": "IPv4-in-IPv6",
    "sixin6.pcap": "IPv6-in-IPv6",
    "gre.pcap": "GRE",
    "gre-ipv6-outer.pcap": "GRE",
    "gre-teb.pcap": "GRE",
    "erspan1.pcap": "ERSPAN",
    "erspan2.pcap": "ERSPAN",
    "erspan3.pcap": "ERSPAN",
    "gre-in-udp.pcap": "GRE-in-UDP",
    "pptp-gre.pcap": "GRE",
    "vxlan.pcap": "VXLAN",
    "vxlan-ipv6.pcap": "VXLAN",
    "geneve.pcap": "GENEVE",
    "teredo.pcap": "Teredo",
    "ayiya.pcap": "AYIYA",
    "gtpu.pcap": "GTP-U",
    "l2tp.pcap": "L2TP",
    "nested.pcap": "GRE > VXLAN",
    "direct-and-gre.pcap": "GRE",
    "lisp.pcap": "LISP",
    "mpls-in-udp.pcap": "MPLS-in-UDP",
}


def _expected_rows() -> list:
    lines = (TUNNELS / "EXPECTED.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    rows = [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]
    return [pytest.param(row, id=row["file"]) for row in rows]


@pytest.mark.parametrize("row", _expected_rows())
def test_every_encapsulation_gives_tsharks_tcp_packets(row) -> None:
    path = TUNNELS / row["file"]
    stats = DecodeStats()
    segments = list(read_segments(str(path), stats))
    assert len(segments) == int(row["tshark_tcp_packets"])
    assert stats.warnings == [] and stats.malformed == 0
    assert {tuple(sorted((s.src, s.dst))) for s in segments} <= {tuple(sorted(pair)) for pair in INNER}
    assert {s.sport for s in segments} | {s.dport for s in segments} == {40000, 80}
    expected = TUNNEL_NAMES.get(row["file"], "")
    assert {s.tunnel for s in segments} - {""} == ({expected} if expected else set())


def test_encrypted_macsec_frames_are_counted_as_what_may_hold_tcp(tmp_path) -> None:
    """802.1AE with its E bit set: the payload is ciphertext. Named in a warning, as ESP is,
    where integrity-only MACsec (macsec.pcap) is read."""
    sectag = bytes([0x2C, 0]) + (1).to_bytes(4, "big") + bytes(8)  # SC and E set, then an SCI
    frames = [Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", type=0x88E5) / (sectag + bytes(60))]
    path = tmp_path / "macsec-encrypted.pcap"
    wrpcap(str(path), frames)
    stats = DecodeStats()
    assert list(read_segments(str(path), stats)) == []
    assert stats.undecodable == {"MACsec (802.1AE) encrypted frames": 1}


@pytest.mark.parametrize("name", sorted(TUNNEL_NAMES))
def test_the_connection_names_its_tunnel_in_json_and_text(name) -> None:
    result = run("analyze", "--json", str(TUNNELS / name))
    assert result.returncode == 0, result.stderr
    [connection] = json.loads(result.stdout)["connections"]
    assert connection["tunnels"] == [TUNNEL_NAMES[name]]
    assert connection["handshake"]["status"] == "complete"
    assert connection["close"]["shape"] == "three-segment"
    text = run("analyze", str(TUNNELS / name)).stdout
    assert f"tunnel     inside {TUNNEL_NAMES[name]}" in text


def test_the_same_packets_directly_and_in_gre_are_copies_not_resends() -> None:
    """Every packet of one conversation, captured on the wire and again 20 µs later inside
    GRE: one connection, exactly as it is without the copies, and nothing resent or lost."""
    result = run("analyze", "--json", str(TUNNELS / "direct-and-gre.pcap"))
    [connection] = json.loads(result.stdout)["connections"]
    plain = json.loads(run("analyze", "--json", str(TUNNELS / "gre.pcap")).stdout)["connections"][0]
    assert connection["packets"] == 20
    assert connection["capture_copies"] == {
        "count": 10,
        "frames": [[copy, copy - 1] for copy in range(2, 21, 2)],
        "on_the_wire_twice": [],
    }
    assert connection["untunnelled_too"] is True
    assert connection["sequence"] == {"counts": {}, "frames": {}, "gaps": None}
    assert not [note for note in connection["notes"] if "not applied" in note]
    assert connection["backoff"]["intervals"] == []
    assert [state for _, state in connection["states"]["client"]] == [
        state for _, state in plain["states"]["client"]
    ]
    assert connection["compatibility"]["zeek"] != plain["compatibility"]["zeek"]  # Zeek sees every frame


def _conversation(times: list[float], tcp_fields: list[dict], ip_ids: list[int]) -> list:
    packets = []
    for when, fields, ip_id in zip(times, tcp_fields, ip_ids, strict=True):
        forward = fields.pop("forward", True)
        src, dst = ("10.0.0.1", "10.0.0.2") if forward else ("10.0.0.2", "10.0.0.1")
        sport, dport = (40000, 80) if forward else (80, 40000)
        packet = (
            Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            / IP(src=src, dst=dst, id=ip_id)
            / TCP(sport=sport, dport=dport, **fields)
        )
        packet.time = when
        packets.append(packet)
    return packets


def _handshake_fields() -> tuple[dict, dict, dict]:
    """The TCP fields of a SYN, its SYN/ACK and the ACK, for _conversation (copy each: it
    takes "forward" out)."""
    return (
        {"flags": "S", "seq": 100},
        {"flags": "SA", "seq": 500, "ack": 101, "forward": False},
        {"flags": "A", "seq": 101, "ack": 501},
    )


def _copy_frames(path: Path) -> list[list[int]]:
    [result] = analyze_file(str(path)).connections
    return [[copy.frame, original] for copy, original in result.connection.copies]


def test_a_resend_is_no_copy_though_its_bytes_are_the_same(tmp_path) -> None:
    """The SYN sent again after 1 s (Windows keeps its IP ID), and a RST answering each of
    two copies of a segment (Linux's RSTs carry IP ID 0) 100 µs apart, are the same bytes
    but not the same packet; the SYN captured again 30 µs later is. The second copy of the
    segment, its IP ID the same, came after the first's RST: that answer proves the network
    delivered it twice, not that the capture saw it twice."""
    syn = {"flags": "S", "seq": 100}
    rst = {"flags": "R", "seq": 500, "forward": False}
    data = {"flags": "PA", "seq": 101, "ack": 7}
    packets = _conversation(
        [0.0, 0.00003, 1.0, 1.5, 1.5001, 1.5002, 1.5003],
        [dict(syn), dict(syn), dict(syn), dict(data), dict(rst), dict(data), dict(rst)],
        [7, 7, 7, 8, 0, 8, 0],
    )
    wrpcap(str(tmp_path / "resends.pcap"), packets)
    assert _copy_frames(tmp_path / "resends.pcap") == [[2, 1]]


def test_copies_with_the_other_ends_answer_between_them_are_copies(tmp_path) -> None:
    """A mirror of two switch ports: each packet once on each, 100 µs apart, and the other
    end's answer (50 µs) between the two copies of what it answers. The IPv4 identification,
    which counts on with every packet an end sends, says they are the same packet; without
    one (0) the same bytes after the other end spoke may be a second answer, and are not."""
    syn, synack, ack = _handshake_fields()
    packets = _conversation(
        [0.0, 0.0001, 0.01, 0.01005, 0.0101, 0.01015],
        [dict(syn), dict(syn), dict(synack), dict(ack), dict(synack), dict(ack)],
        [7, 7, 40, 8, 40, 8],
    )
    wrpcap(str(tmp_path / "mirrored.pcap"), packets)
    assert _copy_frames(tmp_path / "mirrored.pcap") == [[2, 1], [5, 3], [6, 4]]
    unnumbered = _conversation(
        [0.0, 0.0001, 0.01, 0.01005, 0.0101],
        [dict(syn), dict(syn), dict(synack), dict(ack), dict(synack)],
        [7, 7, 0, 8, 0],
    )
    wrpcap(str(tmp_path / "unnumbered.pcap"), unnumbered)
    assert _copy_frames(tmp_path / "unnumbered.pcap") == [[2, 1]]


def test_a_pure_ack_without_ip_id_is_a_copy_only_at_the_same_instant(tmp_path) -> None:
    """Duplicate ACKs with IP ID 0 are the same bytes each time: 1 µs apart they are three
    ACKs; stamped at the very same microsecond (zeek_ssh-dups), the capture saw one twice."""
    syn, synack, ack = _handshake_fields()
    packets = _conversation(
        [0.0, 0.0001, 0.0002, 0.0002, 0.000201, 0.000202],
        [dict(syn), dict(synack), dict(ack), dict(ack), dict(ack), dict(ack)],
        [7, 0, 0, 0, 0, 0],
    )
    wrpcap(str(tmp_path / "acks.pcap"), packets)
    assert _copy_frames(tmp_path / "acks.pcap") == [[4, 3]]


def test_what_tells_a_resend_where_no_ip_id_does(tmp_path) -> None:
    """With IP ID 0 (or over IPv6): a SYN with the timestamps option captured again 3 ms
    later is a copy (a SYN resent carries another TSval, and none is resent that soon),
    one without it a resend; a duplicate ACK with a SACK block captured again 30 us later is
    a copy (the next duplicate ACK's blocks differ), two without one are two ACKs."""
    stamped = {"flags": "S", "seq": 100, "options": [("Timestamp", (7, 0))]}
    bare = {"flags": "S", "seq": 100}
    synack = {"flags": "SA", "seq": 500, "ack": 101, "forward": False}
    data = {"flags": "PA", "seq": 501, "ack": 101, "forward": False}
    sacked = {"flags": "A", "seq": 101, "ack": 501, "options": [("SAck", (1501, 2501))]}
    plain = {"flags": "A", "seq": 101, "ack": 501}
    for syn, ack, copies in ((stamped, sacked, [[2, 1], [7, 6]]), (bare, plain, [])):
        packets = _conversation(
            [0.0, 0.003, 0.01, 0.011, 0.012, 0.013, 0.01303],
            [dict(syn), dict(syn), dict(synack), dict(plain), dict(data), dict(ack), dict(ack)],
            [0] * 7,
        )
        packets[4][TCP].remove_payload()
        packets[4] = packets[4] / (b"x" * 100)
        packets[4].time = 0.012
        wrpcap(str(tmp_path / "unnumbered.pcap"), packets)
        assert _copy_frames(tmp_path / "unnumbered.pcap") == copies


def test_duplicate_acks_whose_checksum_the_sender_left_to_the_nic_are_no_copies(tmp_path) -> None:
    """Captured on the sending host (loopback, or any NIC that computes checksums), a TCP
    checksum holds only the pseudo-header's sum: the same for every pure ACK of a connection.
    Three duplicate ACKs back to back, their SACK blocks growing: three ACKs, not copies; the
    same ACK stamped again 20 us later is one."""
    syn, synack, ack = _handshake_fields()
    sacked = [
        {"flags": "A", "seq": 101, "ack": 501, "chksum": 0x34, "options": [("SAck", (1501, end))]}
        for end in (2501, 3501, 4501, 4501)
    ]
    packets = _conversation(
        [0.0, 0.0001, 0.0002, 0.01, 0.01001, 0.01002, 0.01004],
        [dict(syn), dict(synack), dict(ack), *sacked],
        [0] * 7,
    )
    wrpcap(str(tmp_path / "dupacks.pcap"), packets)
    assert _copy_frames(tmp_path / "dupacks.pcap") == [[7, 6]]


def test_a_router_s_ingress_and_egress_copies_are_told_by_the_hop_limit(tmp_path) -> None:
    """A capture on a router: each packet on the way in (hop limit 64) and out (63), 50 µs
    apart. Over IPv6 nothing else tells a pure ACK's copy from the next duplicate ACK; the
    hop limit one lower does: every packet, the two duplicate ACKs 1 ms apart too, has one copy."""
    from scapy.layers.inet6 import IPv6

    def packet(when: float, hops: int, forward: bool, **fields):
        src, dst = ("2001:db8::1", "2001:db8::2") if forward else ("2001:db8::2", "2001:db8::1")
        sport, dport = (40000, 80) if forward else (80, 40000)
        built = (
            Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            / IPv6(src=src, dst=dst, hlim=hops)
            / TCP(sport=sport, dport=dport, **fields)
        )
        built.time = when
        return built

    packets = []
    for when, forward, fields in (
        (0.0, True, {"flags": "S", "seq": 100}),
        (0.001, False, {"flags": "SA", "seq": 500, "ack": 101}),
        (0.002, True, {"flags": "A", "seq": 101, "ack": 501}),
        (0.010, True, {"flags": "A", "seq": 101, "ack": 501}),
        (0.011, True, {"flags": "A", "seq": 101, "ack": 501}),
    ):
        packets += [packet(when, 64, forward, **fields), packet(when + 0.00005, 63, forward, **fields)]
    wrpcap(str(tmp_path / "router.pcap"), packets)
    assert _copy_frames(tmp_path / "router.pcap") == [[2, 1], [4, 3], [6, 5], [8, 7], [10, 9]]


def test_what_may_hold_tcp_but_cannot_be_read_is_counted_by_name(tmp_path) -> None:
    inner = IP(src="10.1.0.1", dst="10.2.0.2") / TCP(sport=40000, dport=80, flags="S")
    frames = [
        inner,
        IP(src="192.0.2.1", dst="192.0.2.2", proto=50) / (b"\x00" * 40),  # ESP
        IP(src="192.0.2.1", dst="192.0.2.2") / GRE(proto=0x88CC) / (b"\x00" * 40),
        IP(src="192.0.2.1", dst="192.0.2.2") / GRE(proto=0x88CC) / (b"\x00" * 40),
    ]
    nested = inner
    for _ in range(12):
        nested = IP(src="192.0.2.1", dst="192.0.2.2") / nested
    frames.append(nested)
    path = write_capture(tmp_path / "mixed.pcap", frames)
    result = run("analyze", str(path))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "may hold TCP" in line]
    assert any("2 frames" in line and "GRE carrying protocol 0x88cc" in line for line in warnings), warnings
    assert any("1 frame skipped" in line and "IPsec ESP (encrypted)" in line for line in warnings), warnings
    assert any("tunnels inside each other" in line for line in warnings), warnings
    assert "1 connection" in result.stdout


def test_encrypted_wifi_frames_are_counted_not_dropped_silently(tmp_path) -> None:
    from scapy.layers.dot11 import Dot11, Dot11QoS
    from scapy.layers.l2 import LLC, SNAP

    inner = IP(src="10.1.0.1", dst="10.2.0.2") / TCP(sport=40000, dport=80, flags="S")
    clear = Dot11(type=2, subtype=8, FCfield="to_DS") / Dot11QoS() / LLC() / SNAP() / inner
    sealed = Dot11(type=2, subtype=8, FCfield="to_DS+protected") / Dot11QoS() / (b"\x00" * 60)
    wrpcap(str(tmp_path / "wifi.pcap"), [clear, sealed, sealed], linktype=105)
    stats = DecodeStats()
    assert len(list(read_segments(str(tmp_path / "wifi.pcap"), stats))) == 1
    assert stats.undecodable == {"802.11 protected (encrypted) data frames": 2}


@pytest.mark.parametrize("name", sorted(p.name for p in TUNNELS.glob("*.pcap")))
def test_every_cut_of_a_tunnelled_frame_is_read_or_counted(tmp_path, name) -> None:
    """Each frame of the file cut at every length: no exception escapes the decoder, and
    what is cut inside the headers is counted (malformed) or skipped, never mis-read."""
    reader = PcapReader(str(TUNNELS / name))
    linktype = reader.linktype
    first = bytes(next(iter(reader)))
    reader.close()
    cuts = [first[:length] for length in range(len(first))]
    path = tmp_path / "cut.pcap"
    wrpcap(str(path), cuts, linktype=linktype)
    stats = DecodeStats()
    records = list(read_packets(str(path), stats))
    segments = [r for r in records if isinstance(r, Segment)]
    assert all(s.sport in (40000, 80) and s.flags == 0x02 for s in segments)
    assert stats.frames == len(cuts)


def test_without_an_ip_id_the_same_segment_2_ms_later_is_a_resend(tmp_path) -> None:
    """IPv6 or IP ID 0, no timestamps: a resend is the same bytes. A tail loss probe waits
    more than 2 ms; a mirror's copy comes within microseconds: 300 µs is a copy, 3 ms a resend."""
    data = {"flags": "PA", "seq": 101, "ack": 7}
    packets = _conversation([0.0, 0.0003, 0.0033], [dict(data), dict(data), dict(data)], [0, 0, 0])
    wrpcap(str(tmp_path / "unnumbered-resend.pcap"), [_with_payload(p) for p in packets])
    assert _copy_frames(tmp_path / "unnumbered-resend.pcap") == [[2, 1]]
    numbered = _conversation([0.0, 0.0033], [dict(data), dict(data)], [9, 9])
    wrpcap(str(tmp_path / "numbered.pcap"), [_with_payload(p) for p in numbered])
    assert _copy_frames(tmp_path / "numbered.pcap") == [[2, 1]]


def _with_payload(packet: Packet) -> Packet:
    stamped = packet / (b"x" * 10)
    stamped.time = packet.time
    return stamped


def _teredo_on(port: int, client: str, origin: bool = False, extra: bytes = b"", udp: bool = False) -> list:
    """A handshake from `client` inside UDP to or from `port`, as a relay carries Teredo
    (optionally after an origin indication; `extra`: bytes after the IPv6 packet; `udp`: the
    IPv6 packets carry UDP, not TCP)."""
    from scapy.layers.inet import UDP
    from scapy.layers.inet6 import IPv6

    server = "2001:db8:2::2"
    steps = [(client, server, 40000, 80, "S", 100, 0), (server, client, 80, 40000, "SA", 500, 101),
             (client, server, 40000, 80, "A", 101, 501)]  # fmt: skip
    packets = []
    for src, dst, sport, dport, flags, seq, ack in steps:
        transport = (
            UDP(sport=sport, dport=dport)
            if udp
            else TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack)
        )
        inner = bytes(IPv6(src=src, dst=dst) / transport)
        payload = (bytes(8) if origin else b"") + inner + extra
        outward = src == client
        packets.append(
            IP(
                src="192.168.2.16" if outward else "83.170.1.38",
                dst="83.170.1.38" if outward else "192.168.2.16",
            )
            / UDP(sport=3797 if outward else port, dport=port if outward else 3797)
            / payload
        )
    return packets


@pytest.mark.parametrize("origin", [False, True], ids=["bare", "origin-indication"])
def test_teredo_on_a_relays_port_is_found_by_what_it_holds(tmp_path, origin: bool) -> None:
    """Zeek's Teredo.pcap (helper-123): a relay on UDP 32900, not 3544. An IPv6 packet that
    fills the datagram, carries TCP and has a Teredo address (2001:0::/32) is read, as Zeek
    reads it; tshark's heuristic is off by default."""
    path = write_capture(tmp_path / "teredo-32900.pcap", _teredo_on(32900, "2001:0:4137:9e50::1", origin))
    segments = list(read_segments(str(path)))
    assert [(s.sport, s.dport, s.tunnel) for s in segments] == [(40000, 80, "Teredo"), (80, 40000, "Teredo"),
                                                                 (40000, 80, "Teredo")]  # fmt: skip


@pytest.mark.parametrize(
    ("client", "extra", "udp"),
    [
        ("2001:db8:1::1", b"", False),
        ("2001:0:4137:9e50::1", b"\x00", False),
        ("2001:0:4137:9e50::1", b"", True),
    ],
    ids=["no-teredo-address", "datagram-longer-than-the-packet", "no-tcp-inside"],
)
def test_udp_that_only_looks_like_teredo_on_another_port_is_udp(
    tmp_path, client: str, extra: bytes, udp: bool
) -> None:
    path = write_capture(tmp_path / "not-teredo.pcap", _teredo_on(32900, client, extra=extra, udp=udp))
    stats = DecodeStats()
    assert list(read_segments(str(path), stats)) == []
    [flow] = analyze_file(str(path)).udp
    assert flow.datagram_count == 3 and flow.client == ("192.168.2.16", 3797)  # the carrier's, as it is
