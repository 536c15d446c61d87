"""Forwarded copies: a capture on a router of both its sides (`tcpdump -i any` on a
forwarding host) sees each packet as it came in and, its TTL one lower, as it left, after
its outgoing queue held it; a packet the NIC coalesced on the way in (GRO) leaves in pieces
(GSO), their IPv4 identifications counting on from the packet's. Those are copies, not
resends, however long the queue held them; the sender's own resend is not (connections.py's
rule on forwarded copies).

The captures are built as a Linux router records them: the client's packets leave 30 ms
after they came (a slow uplink's queue), the server's 50 µs after; a SYN/ACK carries IPv4
identification 0, every other packet its sender's next.
"""

from __future__ import annotations

from pathlib import Path

from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from analyzer.analysis import ConnectionAnalysis, analyze_file
from analyzer.connections import FORWARD_COPY_WINDOW
from analyzer.output.text_report import analysis_text

# Explicit addresses: scapy would otherwise resolve the destination (an ARP or a neighbour
# solicitation sent out of the host) to fill in the link layer.
_MAC_A, _MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"
QUEUE = 0.03  # how long the uplink's queue holds the client's packets
CLIENT, SERVER = ("10.0.0.1", 40000), ("10.0.0.2", 80)


def _packet(when: float, forward: bool, ttl: int, ip_id: int, six: bool = False, data: int = 0, **tcp):
    (src, sport), (dst, dport) = (CLIENT, SERVER) if forward else (SERVER, CLIENT)
    if six:
        src, dst = ("2001:db8::1", "2001:db8::2") if forward else ("2001:db8::2", "2001:db8::1")
        network = IPv6(src=src, dst=dst, hlim=ttl)
    else:
        network = IP(src=src, dst=dst, ttl=ttl, id=ip_id)
    built = (
        Ether(src=_MAC_A, dst=_MAC_B)
        / network
        / TCP(sport=sport, dport=dport, window=500, **tcp)
        / (b"x" * data)
    )
    built.time = when
    return built


def _through_router(
    sent: list[tuple[float, bool, int, dict]], six: bool = False, held: tuple[float, float] = (QUEUE, 0.00005)
) -> list:
    """Each packet as it came in (TTL 64) and as it left (63), `held` (the client's, the
    server's) later: whole, or, for one with a "pieces" entry, in that many pieces of equal
    size, each with the next identification."""
    packets = []
    for when, forward, ip_id, fields in sent:
        fields = dict(fields)
        pieces = fields.pop("pieces", 1)
        packets.append(_packet(when, forward, 64, ip_id, six, **fields))
        left = when + (held[0] if forward else held[1])
        if pieces == 1:
            packets.append(_packet(left, forward, 63, ip_id, six, **fields))
            continue
        size = fields["data"] // pieces
        for piece in range(pieces):
            flags = fields["flags"] if piece == pieces - 1 else fields["flags"].replace("P", "")
            piece_fields = {**fields, "seq": fields["seq"] + piece * size, "data": size, "flags": flags}
            packets.append(_packet(left + piece * 0.00001, forward, 63, ip_id + piece, six, **piece_fields))
    packets.sort(key=lambda packet: packet.time)
    return packets


# The client's ISN 100, the server's 500: the handshake, 3,000 bytes that came in as one
# packet, 1,000 more, the server's ACK of the first, those 1,000 bytes resent by the client's
# timer (a new identification), and the close.
EXCHANGE: list[tuple[float, bool, int, dict]] = [
    (0.0, True, 100, {"flags": "S", "seq": 100}),
    (0.0302, False, 0, {"flags": "SA", "seq": 500, "ack": 101}),
    (0.0305, True, 101, {"flags": "A", "seq": 101, "ack": 501}),
    (0.031, True, 102, {"flags": "PA", "seq": 101, "ack": 501, "data": 3000, "pieces": 3}),
    (0.032, True, 105, {"flags": "PA", "seq": 3101, "ack": 501, "data": 1000}),
    (0.0615, False, 900, {"flags": "A", "seq": 501, "ack": 3101}),
    (0.3, True, 106, {"flags": "PA", "seq": 3101, "ack": 501, "data": 1000}),
    (0.3305, False, 901, {"flags": "A", "seq": 501, "ack": 4101}),
    (0.4, True, 107, {"flags": "FA", "seq": 4101, "ack": 501}),
    (0.4305, False, 902, {"flags": "FA", "seq": 501, "ack": 4102}),
    (0.431, True, 108, {"flags": "A", "seq": 4102, "ack": 502}),
]


def _analyzed(path: Path, packets: list) -> ConnectionAnalysis:
    wrpcap(str(path), packets)
    [result] = analyze_file(str(path)).connections
    return result


def _copies(result: ConnectionAnalysis) -> list[tuple[int, int]]:
    return [(copy.frame, original) for copy, original in result.connection.copies]


def _frame(packets: list, when: float, ttl: int) -> int:
    """The frame number of the packet stamped `when` with `ttl` (IPv4)."""
    return next(n for n, p in enumerate(packets, 1) if abs(float(p.time) - when) < 1e-7 and p[IP].ttl == ttl)


def test_what_a_router_sent_on_after_its_queue_held_it_is_a_copy_not_a_resend(tmp_path) -> None:
    packets = _through_router(EXCHANGE)
    result = _analyzed(tmp_path / "router.pcap", packets)
    copies = _copies(result)
    # Every packet that left (TTL 63) is a copy of the one that came in; no other packet is.
    assert sorted(copy for copy, _ in copies) == [n for n, p in enumerate(packets, 1) if p[IP].ttl == 63]
    gro = _frame(packets, 0.031, 64)
    assert [original for copy, original in copies if 0.061 <= float(packets[copy - 1].time) < 0.0613] == [
        gro
    ] * 3
    resend = _frame(packets, 0.3, 64)
    assert (_frame(packets, 0.33, 63), resend) in copies  # the resend's own copy, of the resend
    # What the connection's own analysis reads: one resend, the timer's; a clean handshake.
    assert set(result.resends) == {resend}
    assert result.handshake.status == "complete"
    assert len(result.handshake.syns) == 1 and len(result.handshake.synacks) == 1
    assert result.close.shape == "three-segment"
    # The round trip is the uplink's queue, after the router: next to the client, not at it.
    assert result.vantage is not None and result.vantage.point == "between"
    assert "the router is next to the client, its queues between" in result.vantage.evidence
    assert any("a router's both sides" in said for said in result.vantage.evidence)
    text = analysis_text(analyze_file(str(tmp_path / "router.pcap")))
    assert "resent     1 segment sent again" in text
    assert "as a router or bridge sent it on, whole or in pieces" in text


def test_over_ipv6_the_hop_limit_alone_tells_a_piece(tmp_path) -> None:
    """No identification: the whole packet is told by its checksum, a piece by its hop limit
    one lower and its data inside the packet's."""
    packets = _through_router(EXCHANGE, six=True)
    result = _analyzed(tmp_path / "router6.pcap", packets)
    lower = [n for n, p in enumerate(packets, 1) if p[IPv6].hlim == 63]
    assert sorted(copy for copy, _ in _copies(result)) == lower
    assert len(result.resends) == 1


def test_what_the_rule_does_not_take_for_a_copy(tmp_path) -> None:
    """A segment one hop lower is no copy when its identification is not the packet's (nor
    the next ones' for its piece), when it came later than FORWARD_COPY_WINDOW, or when its
    sender's own TTL never was one above it."""
    late = QUEUE + FORWARD_COPY_WINDOW + 0.5
    sent = [
        _packet(0.0, True, 64, 100, flags="S", seq=100),
        _packet(0.0002, False, 64, 0, flags="SA", seq=500, ack=101),
        _packet(0.0004, True, 64, 101, flags="A", seq=101, ack=501),
        _packet(0.001, True, 64, 102, flags="PA", seq=101, ack=501, data=3000),
        # Its middle 1,000 bytes, with an identification that is no piece's of it.
        _packet(0.031, True, 63, 150, flags="A", seq=1101, ack=501, data=1000),
        # Its last 1,000 bytes, as a piece would be, but too late.
        _packet(late, True, 63, 104, flags="PA", seq=2101, ack=501, data=1000),
        # The server's ACK, and the same bytes two hops lower.
        _packet(late + 0.1, False, 64, 900, flags="A", seq=501, ack=3101),
        _packet(late + 0.15, False, 62, 900, flags="A", seq=501, ack=3101),
    ]
    result = _analyzed(tmp_path / "not_copies.pcap", sent)
    assert _copies(result) == []
    assert [s.frame for s in result.connection.segments] == list(range(1, 9))


def test_a_fin_without_data_is_no_piece_of_the_data_before_it(tmp_path) -> None:
    """The client's FIN, the identification after its data's, seen only as it left (TTL one
    lower): its sequence number is where the data ends, as a last piece's would be, but a
    piece holds some of the packet's bytes. It is the client's next segment."""
    sent = [
        _packet(0.0, True, 64, 100, flags="S", seq=100),
        _packet(0.0002, False, 64, 0, flags="SA", seq=500, ack=101),
        _packet(0.0004, True, 64, 101, flags="A", seq=101, ack=501),
        _packet(0.001, True, 64, 102, flags="PA", seq=101, ack=501, data=1000),
        _packet(0.0012, True, 63, 103, flags="FA", seq=1101, ack=501),
        _packet(0.0014, False, 64, 900, flags="FA", seq=501, ack=1102),
    ]
    result = _analyzed(tmp_path / "fin_after_data.pcap", sent)
    assert _copies(result) == []
    assert result.close.fins is not None and result.close.fins["client"].frame == 5


def test_a_syn_ack_sent_on_late_is_a_copy_while_the_attempt_is_held_packed(tmp_path) -> None:
    """A SYN captured once (its copy not in the capture) and its SYN/ACK, unanswered, as a
    flood's attempts are held (packed): the SYN/ACK that left 30 ms after it came is its
    copy, not the server's resend; the server's resend 1 s later is one, and has its own copy."""
    synacks = [
        (0.0302, False, 0, {"flags": "SA", "seq": 500, "ack": 101}),
        (1.0302, False, 0, {"flags": "SA", "seq": 500, "ack": 101}),
    ]
    packets = [
        _packet(0.0, True, 64, 100, flags="S", seq=100),
        *_through_router(synacks, held=(QUEUE, QUEUE)),
    ]
    result = _analyzed(tmp_path / "attempt.pcap", packets)
    assert _copies(result) == [(3, 2), (5, 4)]
    assert [s.frame for s in result.handshake.synacks] == [2, 4]


def _bridged(when: float, forward: bool, ifindex: int, **tcp):
    """A frame of `tcpdump -i any` (Linux cooked capture v2) on a bridge: IPv6, the hop limit
    as sent (a bridge lowers none), the interface it was seen on."""
    from scapy.layers.l2 import CookedLinuxV2

    src, dst = ("2001:db8::1", "2001:db8::2") if forward else ("2001:db8::2", "2001:db8::1")
    sport, dport = (40000, 80) if forward else (80, 40000)
    data = tcp.pop("data", 0)
    built = (
        CookedLinuxV2(proto=0x86DD, ifindex=ifindex, lladdrtype=1, lladdrlen=6)
        / IPv6(src=src, dst=dst, hlim=64)
        / TCP(sport=sport, dport=dport, window=500, **tcp)
        / (b"x" * data)
    )
    built.time = when
    return built


def test_a_bridge_s_copies_are_told_by_the_interface(tmp_path) -> None:
    """A bridge (ports 5 and 6, the bridge itself 3): each packet seen on the port it came in
    on, on the bridge, and on the port it left by, 30 ms later for the client's (a queue),
    its hop limit untouched. Over IPv6 nothing but the interface tells a pure ACK's copy from
    the next duplicate ACK, or a late copy of data from a resend. The client's own resend,
    on the port its packets come in on, is one."""
    sent = [
        (0.0, True, {"flags": "S", "seq": 100}),
        (0.0302, False, {"flags": "SA", "seq": 500, "ack": 101}),
        (0.0305, True, {"flags": "A", "seq": 101, "ack": 501}),
        (0.031, True, {"flags": "PA", "seq": 101, "ack": 501, "data": 1000}),
        (0.0615, False, {"flags": "A", "seq": 501, "ack": 101}),  # duplicate ACKs, the same bytes
        (0.0616, False, {"flags": "A", "seq": 501, "ack": 101}),
        (0.3, True, {"flags": "PA", "seq": 101, "ack": 501, "data": 1000}),  # the resend
        (0.3305, False, {"flags": "A", "seq": 501, "ack": 1101}),
    ]
    frames = []
    for when, forward, fields in sent:
        into, out, held = (5, 6, QUEUE) if forward else (6, 5, 0.00002)
        frames += [
            _bridged(when, forward, into, **fields),
            _bridged(when + 0.000001, forward, 3, **fields),
            _bridged(when + held, forward, out, **fields),
        ]
    frames.sort(key=lambda frame: frame.time)
    path = tmp_path / "bridge.pcap"
    wrpcap(str(path), frames, linktype=276)
    [result] = analyze_file(str(path)).connections
    seen_in = [n for n, f in enumerate(frames, 1) if f.ifindex == (5 if f[TCP].sport == 40000 else 6)]
    assert [s.frame for s in result.connection.segments] == seen_in
    assert len(result.connection.copies) == 2 * len(sent)
    assert set(result.resends) == {seen_in[6]}
    assert result.sequence.counts().get("duplicate_ack", 0) == 2  # the server's two ACKs, not their copies


def test_pieces_that_keep_the_packet_s_identification_are_copies_too(tmp_path) -> None:
    """A sender whose packets' pieces all keep one IPv4 identification (a fixed ID): each
    piece that left the router is a copy of the packet, not a resend of part of it."""
    sent = [
        _packet(0.0, True, 64, 100, flags="S", seq=100),
        _packet(0.0002, False, 64, 0, flags="SA", seq=500, ack=101),
        _packet(0.0004, True, 64, 101, flags="A", seq=101, ack=501),
        _packet(0.001, True, 64, 102, flags="PA", seq=101, ack=501, data=3000),
        *(
            _packet(0.031 + n * 0.00001, True, 63, 102, flags="A", seq=101 + n * 1000, ack=501, data=1000)
            for n in range(3)
        ),
    ]
    result = _analyzed(tmp_path / "fixed_id.pcap", sent)
    assert _copies(result) == [(5, 4), (6, 4), (7, 4)]
    assert result.resends == {}


def test_a_syn_whose_timestamps_the_router_rewrote_is_still_its_copy(tmp_path) -> None:
    """A firewall that rewrites timestamps (pf's scrub shifts TSval, restores TSecr), captured
    on both its sides: the SYN and the SYN/ACK that left it are copies of those that came in,
    with other TSvals (review-56: they read as resends once SYN timestamps were kept)."""
    stamped = [
        (0.0, True, 100, {"flags": "S", "seq": 100, "options": [("Timestamp", (1000, 0))]}),
        (0.0302, False, 7, {"flags": "SA", "seq": 500, "ack": 101, "options": [("Timestamp", (5000, 1000))]}),
        (0.0305, True, 101, {"flags": "A", "seq": 101, "ack": 501}),
    ]
    packets = []
    for when, forward, ip_id, fields in stamped:
        packets.append(_packet(when, forward, 64, ip_id, **fields))
        shifted = dict(fields)
        if "options" in fields:
            val, ecr = fields["options"][0][1]
            shifted["options"] = [("Timestamp", (val + 77777, ecr))]
        packets.append(_packet(when + 0.00005, forward, 63, ip_id, **shifted))
    result = _analyzed(tmp_path / "scrubbed.pcap", packets)
    assert sorted(copy for copy, _ in _copies(result)) == [2, 4, 6]
    assert not result.resends and len(result.handshake.syns) == 1


def test_a_syn_whose_mss_the_router_clamped_is_a_copy_and_the_options_say_so(tmp_path) -> None:
    """helper-143: a router clamping the MSS (nft "maxseg size set 1200") sends each SYN on
    with another MSS option: read as the SYN and the SYN/ACK sent again 21 µs later, each
    "never taken in". A copy, whose rewritten MSS the options line tells; a SYN sent again
    with its own identification and MSS stays a SYN sent again."""
    packets = []
    for packet in _through_router(EXCHANGE):
        if packet[TCP].flags.S:
            # Linux's SYN/ACK carries IPv4 identification 0: its timestamp tells the copy.
            stamp = (7000, 0) if packet[TCP].flags.A == 0 else (9000, 7000)
            packet[TCP].options = [("MSS", 1200 if packet[IP].ttl == 63 else 1460), ("Timestamp", stamp)]
        packets.append(packet)
    result = _analyzed(tmp_path / "clamped.pcap", packets)
    assert len(result.handshake.syns) == 1 and len(result.handshake.synacks) == 1
    assert not result.syn_backoff.intervals and not result.synack_backoff.sent_again
    assert result.handshake.client_options is not None and result.handshake.server_options is not None
    assert (result.handshake.client_options["mss"], result.handshake.client_options["mss_forwarded"]) == (
        1460,
        1200,
    )
    text = analysis_text(analyze_file(str(tmp_path / "clamped.pcap")))
    assert "maximum segment size 1460 bytes, 1200 as a router sent it on (MSS clamping)" in text
    plain = _analyzed(tmp_path / "plain.pcap", _through_router(EXCHANGE))
    assert (
        plain.handshake.client_options is not None and "mss_forwarded" not in plain.handshake.client_options
    )
