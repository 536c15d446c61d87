"""Zeek's conn_state and history, rule by rule, on hand-made conversations."""

from __future__ import annotations

import pytest
from segments import CLIENT, HANDSHAKE, SERVER, conversation

from analyzer.analysis import analyze_segments
from analyzer.connections import Connection
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
    from analyzer.findings.zeek_conn import zeek_udp_conn

    client, server = ("192.0.2.1", 5353), ("192.0.2.2", 53)
    sent = [
        Datagram(1, 10.0, 4, *client, *server, 30),
        Datagram(2, 10.5, 4, *server, *client, 100),
        Datagram(3, 11.0, 4, *client, *server, 20),
    ]
    z = zeek_udp_conn(client, server, sent)
    assert (z.conn_state, z.history, z.orig_bytes, z.resp_bytes) == ("SF", "Dd", 50, 100)
    assert (z.orig_pkts, z.resp_pkts) == (2, 1)
    assert z.duration == pytest.approx(1.0)
    assert zeek_udp_conn(client, server, sent[:1]).conn_state == "S0"
