"""Zeek's conn_state and history, rule by rule, on hand-made conversations."""

from __future__ import annotations

import struct

import pytest
from pcap_builder import handshake_packets, write_capture
from segments import CLIENT, HANDSHAKE, SERVER, conversation

from analyzer.analysis import analyze_file, analyze_segments
from analyzer.connections import Connection
from analyzer.decode.segment import Segment
from analyzer.findings.zeek_conn import ZeekConn, zeek_conn

FOUR_WAY = (("c", "FA", 101, 501), ("s", "A", 501, 102), ("s", "FA", 501, 102), ("c", "A", 102, 502))
# The same close after the client sent 5 bytes and the server 7.
FOUR_WAY_AFTER = (("c", "FA", 106, 508), ("s", "A", 508, 107), ("s", "FA", 508, 107), ("c", "A", 107, 509))


def zeek(*steps: tuple) -> tuple[str, str]:
    [result] = analyze_segments(conversation(*steps)).connections
    z = zeek_conn(result.connection)
    return z.history, z.conn_state


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ((*HANDSHAKE, ("c", "PA", 101, 501, 5), ("s", "A", 501, 106)), ("ShADa", "S1")),
        ((*HANDSHAKE, *FOUR_WAY), ("ShAFaf", "SF")),
        ((("c", "S", 100, 0), ("s", "RA", 0, 101)), ("Sr", "REJ")),
        ((("c", "S", 100, 0), (1.0, "c", "S", 100, 0)), ("S", "S0")),
        ((("c", "S", 100, 0), ("c", "R", 101, 0)), ("SR", "RSTOS0")),
        ((("c", "S", 100, 0), ("s", "A", 0, 101), ("c", "FA", 101, 1), ("c", "R", 102, 0)), ("SaFR", "OTH")),
        ((*HANDSHAKE, ("c", "RA", 101, 501)), ("ShAR", "RSTO")),
        ((*HANDSHAKE, ("s", "RA", 501, 101)), ("ShAr", "RSTR")),
        ((("s", "SA", 500, 101), ("c", "A", 101, 501), ("s", "FA", 501, 101)), ("^hAf", "S3")),
        ((("c", "PA", 1, 1, 5), ("s", "A", 1, 6)), ("Da", "OTH")),
    ],
)
def test_conn_state_and_history(steps, expected) -> None:
    assert zeek(*steps) == expected


def test_a_rst_after_a_fin_is_a_normal_close_once_the_peer_closes() -> None:
    """irc-starttls in Zeek's tests: F, then R, then the peer's f: still SF."""
    history, state = zeek(*HANDSHAKE, ("c", "FA", 101, 501), ("c", "R", 102, 0), ("s", "FA", 501, 102))
    assert (history, state) == ("ShAFRf", "SF")


def test_retransmitted_data_and_new_syns_repeat_their_letters() -> None:
    history, _ = zeek(*HANDSHAKE, ("c", "PA", 101, 501, 5), (0.5, "c", "PA", 101, 501, 5))
    assert history == "ShADT"
    # The analyzer itself splits there (a new ISN, a new connection); Zeek's rule, asked
    # directly about one 4-tuple, marks the second SYN again.
    segments = conversation(("c", "S", 100, 0), ("c", "S", 7000, 0))
    assert zeek_conn(Connection(0, 4, CLIENT, SERVER, segments)).history == "SS"


def conn(*steps: tuple) -> ZeekConn:
    [result] = analyze_segments(conversation(*steps)).connections
    return zeek_conn(result.connection)


def test_bytes_come_from_sequence_numbers_retransmissions_once() -> None:
    data = ("c", "PA", 101, 501, 5)
    z = conn(*HANDSHAKE, data, (0.5, *data), ("s", "PA", 501, 106, 7), ("c", "A", 106, 508), *FOUR_WAY_AFTER)
    assert (z.orig_bytes, z.resp_bytes) == (5, 7)  # the client's payloads add up to 10
    assert (z.orig_pkts, z.resp_pkts) == (7, 4)


def test_bytes_the_capture_missed_count_as_zeek_counts_them() -> None:
    # 5 bytes, then 5 more after a hole of 5: the span is 15 bytes.
    assert conn(*HANDSHAKE, ("c", "PA", 101, 501, 5), ("c", "PA", 111, 501, 5)).orig_bytes == 15
    # The server acknowledges 20 bytes of which the capture saw 5: Zeek takes the ACK's word.
    assert conn(*HANDSHAKE, ("c", "PA", 101, 501, 5), ("s", "A", 501, 121)).orig_bytes == 20
    # ... but not a RST's.
    assert conn(*HANDSHAKE, ("c", "PA", 101, 501, 5), ("s", "RA", 501, 9000)).orig_bytes == 5


def test_a_side_without_its_syn_starts_one_before_its_first_segment() -> None:
    z = conn(("c", "PA", 1, 1, 5), ("s", "A", 1, 6), ("c", "PA", 6, 1, 3))
    assert (z.orig_bytes, z.resp_bytes, z.orig_pkts, z.resp_pkts) == (8, 0, 2, 1)


def test_the_duration_stops_once_both_sides_have_closed() -> None:
    z = conn(*HANDSHAKE, (0.1, "c", "FA", 101, 501), (0.2, "s", "FA", 501, 102), (0.7, "c", "A", 102, 502))
    assert z.duration == pytest.approx(0.2)  # not 0.7: the last ACK comes after both FINs
    assert conn(("c", "S", 100, 0)).duration == 0


def test_udp_in_zeek_terms() -> None:
    from analyzer.decode.segment import Datagram

    client, server = ("192.0.2.1", 5353), ("192.0.2.2", 53)
    sent = [
        Datagram(1, 10.0, 4, *client, *server, 30),
        Datagram(2, 10.5, 4, *server, *client, 100),
        Datagram(3, 11.0, 4, *client, *server, 20),
    ]
    z = _udp_zeek(sent)
    assert (z.conn_state, z.history, z.orig_bytes, z.resp_bytes) == ("SF", "Dd", 50, 100)
    assert (z.orig_pkts, z.resp_pkts) == (2, 1)
    assert z.duration == pytest.approx(1.0)
    assert _udp_zeek(sent[:1]).conn_state == "S0"


def _udp_zeek(datagrams: list) -> ZeekConn:
    from analyzer.udp_flows import group_udp_flows

    [flow] = group_udp_flows(datagrams)
    assert flow.zeek is not None
    return flow.zeek


def on_ports(client_port: int, server_port: int, *steps: tuple, cut: tuple[int, ...] = ()) -> ZeekConn:
    """Zeek's view of one 4-tuple, the client on `client_port`; `cut`: frames whose payload
    the capture cut short."""
    segments = []
    for s in conversation(*steps):
        sport, dport = (client_port, server_port) if s.sport == CLIENT[1] else (server_port, client_port)
        fields = (s.frame, s.time, 4, s.src, sport, s.dst, dport, s.flags, s.seq, s.ack, s.window)
        segments.append(Segment(*fields, s.payload_len, None, payload_cut=s.frame in cut))
    return zeek_conn(Connection(0, 4, (CLIENT[0], client_port), (SERVER[0], server_port), segments))


MID_STREAM = (("s", "PA", 501, 101, 7), ("c", "A", 101, 508))


def test_a_first_packet_from_a_likely_server_port_flips_the_roles() -> None:
    """WantConnection: the server's data seen first, from port 80 to an ephemeral port."""
    z = on_ports(40000, 80, *MID_STREAM)
    assert (z.history, z.orig, z.resp) == ("^dA", ("192.0.2.1", 40000), ("192.0.2.2", 80))
    # Neither port a likely server port: the first sender stays the originator.
    z = on_ports(40000, 5000, *MID_STREAM)
    assert (z.history, z.orig) == ("Da", ("192.0.2.2", 5000))
    # Both are: only towards the higher port, and never on a SYN/ACK.
    assert on_ports(8080, 80, *MID_STREAM).history == "^dA"
    assert on_ports(22, 80, *MID_STREAM).history == "Da"
    assert on_ports(8080, 80, ("s", "SA", 500, 101), ("c", "R", 101, 0)).history == "Hr"


def test_a_syn_ack_first_flips_only_when_an_ack_or_data_follows() -> None:
    """CheckHistory: a stealth scan's SYN/ACK answered by RST keeps its sender as the
    originator; an ACK after it makes the SYN/ACK's sender the responder ('^h')."""
    scan = on_ports(40000, 5000, ("s", "SA", 500, 101), ("c", "R", 101, 0))
    assert (scan.history, scan.conn_state, scan.orig) == ("Hr", "REJ", ("192.0.2.2", 5000))
    z = on_ports(40000, 5000, ("s", "SA", 500, 101), ("c", "A", 101, 501), ("s", "FA", 501, 101))
    assert (z.history, z.orig) == ("^hAf", ("192.0.2.1", 40000))
    # The client becomes the originator without a SYN (PARTIAL), the server keeps SYN_ACK_SENT.
    assert z.conn_state == "SHR"
    # From port 80 the first packet already flipped the roles: the ACK establishes the client.
    assert (
        on_ports(40000, 80, ("s", "SA", 500, 101), ("c", "A", 101, 501), ("s", "FA", 501, 101)).conn_state
        == "S3"
    )


def test_a_syn_seen_after_its_syn_ack_flips_the_roles() -> None:
    """UpdateInactiveState's SYN/SYN-ACK reversal (Zeek's handshake-reorder trace, with no
    likely server port): 'Hs^', both ends established."""
    z = on_ports(40000, 5000, ("s", "SA", 500, 101), ("c", "S", 100, 0), ("c", "A", 101, 501),
                 ("c", "PA", 101, 501, 5), ("s", "A", 501, 106))  # fmt: skip
    assert (z.history, z.conn_state, z.orig) == ("Hs^ADa", "S1", ("192.0.2.1", 40000))


def test_content_gaps_are_holes_below_an_acknowledgment() -> None:
    data, later = ("c", "PA", 101, 501, 5), ("c", "PA", 111, 501, 5)
    # The server acknowledges 15 bytes of which the capture saw 10: one gap, G (the originator's).
    assert on_ports(40000, 5000, *HANDSHAKE, data, later, ("s", "A", 501, 116)).history == "ShADaG"
    # The hole filled (out of order) before the ACK: no gap.
    filled = ("c", "PA", 106, 501, 5)
    assert on_ports(40000, 5000, *HANDSHAKE, data, later, filled, ("s", "A", 501, 116)).history == "ShADTa"
    # An ACK of the FIN alone covers no data: no gap.
    closing = (*HANDSHAKE, data, ("c", "FA", 106, 501), ("s", "A", 501, 107))
    assert on_ports(40000, 5000, *closing).history == "ShADFa"
    # Data the capture cut short is never reassembled: its ACK reveals a gap.
    assert on_ports(40000, 5000, *HANDSHAKE, data, ("s", "A", 501, 106), cut=(4,)).history == "ShADaG"


def test_content_gaps_count_only_between_established_ends() -> None:
    # A partial connection (no SYN seen): Zeek does not trust its gaps.
    steps = (("c", "PA", 1, 1, 5), ("s", "A", 1, 6), ("c", "PA", 11, 1, 5), ("s", "A", 1, 16))
    assert on_ports(40000, 5000, *steps).history == "Da"
    # A RST's acknowledgment comes after the RST moved its sender's state: no gap.
    steps = (*HANDSHAKE, ("c", "PA", 101, 501, 5), ("s", "RA", 501, 9000))
    assert on_ports(40000, 5000, *steps).history == "ShADr"


def test_content_gaps_mark_the_history_at_the_1st_10th_100th() -> None:
    steps = [*HANDSHAKE]
    for n in range(12):  # 5 bytes seen, 5 missed, then acknowledged: 12 gaps
        seq = 101 + 10 * n
        steps += [("c", "PA", seq, 501, 5), ("s", "A", 501, seq + 10)]
    assert on_ports(40000, 5000, *steps).history == "ShADaGG"


def test_a_capture_cut_short_by_its_snapshot_length_shows_content_gaps(tmp_path) -> None:
    """zeek_retransmit-fast009's shape: only the headers captured, so Zeek reassembles
    nothing and every acknowledged payload is a gap ('G' and 'g')."""
    full = write_capture(tmp_path / "full.pcap", handshake_packets())
    raw = full.read_bytes()
    cut, at = bytearray(raw[:24]), 24
    while at < len(raw):  # each record: ts_sec, ts_usec, incl_len, orig_len, then the bytes
        sec, usec, incl, orig = struct.unpack("<IIII", raw[at : at + 16])
        kept = min(incl, 54)  # Ethernet, IPv4 and a TCP header without options
        cut += struct.pack("<IIII", sec, usec, kept, orig) + raw[at + 16 : at + 16 + kept]
        at += 16 + incl
    short = tmp_path / "short.pcap"
    short.write_bytes(bytes(cut))
    [whole] = analyze_file(str(full)).connections
    [result] = analyze_file(str(short)).connections
    assert whole.compatibility.zeek.history == "ShADadFf"
    # The data cut, and the SYNs' options (a pure ACK's too: Segment.payload_cut).
    assert [s.frame for s in result.connection.segments if s.payload_cut] == [1, 2, 4, 6]
    assert result.compatibility.zeek.history == "ShADaGdFgf"


def test_a_udp_flow_first_seen_from_a_likely_server_port_flips() -> None:
    """UDPAnalyzer::WantConnection: a DNS answer seen without its query."""
    from analyzer.decode.segment import Datagram

    server, client = ("192.0.2.2", 53), ("192.0.2.1", 40000)
    answer = [Datagram(1, 10.0, 4, *server, *client, 100)]
    z = _udp_zeek(answer)
    assert (z.orig, z.history, z.conn_state, z.resp_bytes) == (client, "^d", "SHR", 100)
    # The query after all: the client's first letter after the answer's.
    z = _udp_zeek([*answer, Datagram(2, 10.1, 4, *client, *server, 30)])
    assert (z.orig, z.history, z.conn_state, z.orig_bytes, z.orig_pkts) == (client, "^dD", "SF", 30, 1)
    # Both ports likely servers (mDNS to DNS): no flip.
    mdns = ("192.0.2.1", 5353)
    z = _udp_zeek([Datagram(1, 10.0, 4, *server, *mdns, 100)])
    assert (z.orig, z.history, z.conn_state) == (server, "D", "S0")
