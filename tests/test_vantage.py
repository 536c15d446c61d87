"""Where a connection was captured (findings/vantage.py): from the handshake's timing and the
TTLs, each case on a conversation whose capture point is known."""

from __future__ import annotations

import pytest
from conftest import corpus_params
from segments import conversation

from analyzer.analysis import analyze_file, analyze_segments


def _captured(syn_to_synack: float, synack_to_ack: float, client_ttl: int, server_ttl: int,
              client: str = "192.0.2.1") -> tuple[str, list[str]]:  # fmt: skip
    segments = conversation(
        (0.0, "c", "S", 100, 0),
        (syn_to_synack, "s", "SA", 500, 101),
        (syn_to_synack + synack_to_ack, "c", "A", 101, 501),
        (syn_to_synack + synack_to_ack + 0.001, "c", "PA", 101, 501, 10),
    )
    for segment in segments:
        from_client = segment.sport == 40000
        segment.ttl = client_ttl if from_client else server_ttl
        if client != "192.0.2.1":
            if from_client:
                segment.src = client
            else:
                segment.dst = client
    [result] = analyze_segments(segments).connections
    assert result.vantage is not None
    return result.vantage.point, result.vantage.evidence


def test_at_the_client_the_ack_follows_the_synack_at_once() -> None:
    point, evidence = _captured(0.050, 0.0001, 64, 52)
    assert point == "client"
    assert evidence == [
        "SYN to SYN/ACK 50.000 ms, SYN/ACK to ACK 100 µs: the ACK followed at once",
        "TTL 64 from the client, 52 from the server: the client's as sent, the server's lowered by routers",
    ]


def test_a_segment_larger_than_the_receiver_allows_was_captured_on_a_host() -> None:
    """A veth or NIC with offloads on (TSO, GRO): 7,240 bytes in one packet where the server's
    SYN/ACK allowed 1,460. No such packet crossed a wire: said, whatever the timing says; a
    segment within the MSS says nothing."""
    from analyzer.decode.segment import TcpOptions

    segments = conversation(
        ("c", "S", 100, 0), ("s", "SA", 500, 101), ("c", "A", 101, 501), ("c", "PA", 101, 501, 7240)
    )
    segments[0].options = TcpOptions(mss=1460)
    segments[1].options = TcpOptions(mss=1460)
    [result] = analyze_segments(segments).connections
    assert result.vantage is not None
    assert result.vantage.evidence[-1] == (
        "frame 4 carries 7,240 bytes of data, more than the 1,460 the server's SYN allows a segment: taken on a "
        "host, the client's before its NIC cut it (TSO) or the server's after its NIC joined segments (GRO)"
    )
    segments[3].payload_len = 1460
    [within] = analyze_segments(segments).connections
    assert within.vantage is not None and not any("NIC" in said for said in within.vantage.evidence)


def test_at_the_server_the_synack_follows_the_syn_at_once() -> None:
    point, _ = _captured(0.0002, 0.080, 49, 128)
    assert point == "server"


def test_between_both_legs_take_time_and_both_ttls_are_worn() -> None:
    point, _ = _captured(0.020, 0.030, 60, 55)
    assert point == "between"


def test_legs_of_0_and_1_microsecond_are_both_at_once_not_the_server() -> None:
    """sv_syn_retransmit_with_ts: SYN/ACK 0 µs after the SYN, ACK 1 µs later (0 < 1/4 of 1)."""
    point, evidence = _captured(0.0, 0.000001, 64, 64)
    assert point == "unknown"
    assert evidence[0].endswith("both at once (one host or one LAN)")


def test_the_timing_decides_when_the_ttls_disagree() -> None:
    point, evidence = _captured(0.050, 0.0001, 63, 128)  # a capture on the client's router
    assert point == "client"
    assert evidence[-1] == "the timing is taken over the TTLs, which point at the server (or next to it)"


def test_without_a_handshake_the_ttls_tell() -> None:
    segments = conversation(("c", "PA", 101, 501, 10), ("s", "A", 501, 111))
    segments[0].ttl, segments[1].ttl = 57, 64
    [result] = analyze_segments(segments).connections
    assert result.vantage is not None and result.vantage.point == "server"


def test_a_rst_injected_on_the_way_does_not_move_the_capture_point() -> None:
    """A box 4 hops from the capture forges the server's RST: its TTL is the box's. The
    server's own packets still say where the capture was; a RST is read only from an end
    that sent nothing else (a closed port's answer)."""
    segments = conversation(
        ("c", "PA", 101, 501, 10), ("s", "A", 501, 111), ("s", "RA", 501, 111), ("c", "R", 111, 0)
    )
    for segment, ttl in zip(segments, (57, 64, 60, 57), strict=True):
        segment.ttl = ttl
    [result] = analyze_segments(segments).connections
    assert result.vantage is not None and result.vantage.point == "server"
    assert result.vantage.evidence == [
        "TTL 57 from the client, 64 from the server: the server's as sent, the client's lowered by routers"
    ]
    refused = conversation(("c", "S", 100, 0), ("s", "RA", 0, 101))
    refused[0].ttl, refused[1].ttl = 57, 64
    [result] = analyze_segments(refused).connections
    assert result.vantage is not None and "64 from the server" in result.vantage.evidence[-1]


def test_loopback_is_one_host_and_one_side_alone_is_one_direction() -> None:
    point, _ = _captured(0.0001, 0.0001, 64, 64, client="192.0.2.2")
    assert point == "one_host"
    # The client acknowledges what the server sent: the server spoke, out of the capture's sight.
    [result] = analyze_segments(conversation(("c", "S", 100, 0), ("c", "A", 101, 5001))).connections
    assert result.vantage is not None and result.vantage.point == "one_direction"
    # On one host too (helper-104: loopback captured with a filter on one direction), where
    # the end in the capture answered the other: a client that acknowledged after its SYN, a
    # server's SYN/ACK, acknowledgments that moved on. Not (helper-106) unanswered SYNs, a lone
    # RST or FIN where an unfiltered capture began or ended, nor a socket connected to itself.
    shapes = (
        ((("c", "S", 100, 0), ("c", "A", 101, 5001)), "one_direction"),
        ((("s", "SA", 500, 101), ("s", "PA", 501, 101, 10)), "one_direction"),
        ((("c", "PA", 101, 501, 5), ("c", "A", 106, 601)), "one_direction"),
        ((("c", "S", 100, 0), (1.0, "c", "S", 100, 0)), "one_host"),
        ((("c", "R", 101, 0),), "one_host"),
        ((("s", "FA", 501, 101),), "one_host"),
    )
    for steps, point in shapes:
        segments = conversation(*steps)
        for segment in segments:
            segment.src, segment.dst = "127.0.0.1", "127.0.0.1"
        [result] = analyze_segments(segments).connections
        assert result.vantage is not None and result.vantage.point == point, steps
    assert result.vantage.evidence == ["both ends have the same or loopback addresses"]
    itself = conversation(("c", "S", 100, 0), ("c", "SA", 100, 101), ("c", "A", 101, 101))
    for segment in itself:
        segment.src, segment.dst, segment.sport, segment.dport = "127.0.0.1", "127.0.0.1", 5000, 5000
    [result] = analyze_segments(itself).connections
    assert result.connection.to_itself and result.vantage is not None and result.vantage.point == "one_host"


def test_a_second_leg_that_ends_at_the_clients_data_places_the_capture_only_at_the_client() -> None:
    """(helper-106) The client's bare ACK not captured (handshake.bare_ack_uncaptured): the
    SYN/ACK's leg runs to its first data, 50 ms later, a bound. A SYN/ACK 100 us after the SYN
    said 'at the server' by it; a SYN/ACK 40 ms after the SYN and data 100 us after it still
    place the capture at the client."""
    for to_synack, to_data, point in ((0.0001, 0.05, None), (0.04, 0.0001, "client")):
        steps = (("c", "S", 100, 0), (to_synack, "s", "SA", 500, 101),
                 (to_synack + to_data, "c", "PA", 101, 501, 10), (to_synack + to_data + 0.0001, "s", "A", 501, 111),
                 (to_synack + to_data + 0.0002, "c", "FA", 111, 501))  # fmt: skip
        segments = conversation(*steps)
        for segment, number in zip(
            [segments[0], segments[2], segments[4]], (0x100, 0x102, 0x103), strict=True
        ):
            segment.ip_id = number
        [result] = analyze_segments(segments).connections
        assert result.handshake.bare_ack_uncaptured and result.vantage is not None
        timing = result.vantage.evidence[0]
        assert "SYN/ACK to the client's first data (its bare ACK not captured)" in timing
        if point is None:
            assert timing.endswith(": the second leg is at most that, so the timing places nothing")
            assert result.vantage.point != "server"
        else:
            assert result.vantage.point == point


def test_unanswered_syns_alone_do_not_say_one_direction() -> None:
    """A connect() to a silent host leaves only SYNs wherever it was captured: nothing shows
    that the server spoke, so nothing shows that a direction went unseen."""
    [result] = analyze_segments(conversation(("c", "S", 100, 0), (1.0, "c", "S", 100, 0))).connections
    assert result.vantage is not None and result.vantage.point == "unknown"
    assert result.vantage.evidence == [
        "only the client's SYNs, unanswered: a capture that saw one direction and a server that never "
        "answered look alike"
    ]


@pytest.mark.parametrize("flags", ["F", "", "FPU"])
def test_unanswered_fin_null_and_xmas_probes_do_not_say_one_direction(flags: str) -> None:
    """nmap's FIN, NULL and Xmas probes: an open port drops them in silence (RFC 9293
    3.10.7.2), so an unanswered one shows nothing of a direction unseen (helper-113: "where
    only one direction passed" while the target's RSTs to the other probes passed the same
    point). Lone ACKs still do: a live connection's, captured one way."""
    [result] = analyze_segments(conversation(("c", flags, 100, 0))).connections
    assert result.vantage is not None and result.vantage.point == "unknown"
    assert "an open port drops them in silence" in result.vantage.evidence[0]
    [lone] = analyze_segments(conversation(("c", "A", 100, 500), ("c", "A", 100, 500))).connections
    assert lone.vantage is not None and lone.vantage.point == "one_direction"
    # Nor does a lone RST (Zeek's single-rst.pcap): nothing answers one.
    [reset] = analyze_segments(conversation(("c", "R", 100, 0))).connections
    assert reset.vantage is not None and reset.vantage.evidence == [
        "only the client's RSTs: nothing answers a RST, wherever it is captured"
    ]


@pytest.mark.parametrize("path", corpus_params(lambda p: "client-side" in p.name or "one-sided" in p.name),
                         ids=lambda p: p.name)  # fmt: skip
def test_captures_of_one_side_say_so(path) -> None:
    """Zeek's one-sided captures: every connection with packets of one end only says so."""
    results = analyze_file(str(path)).connections
    one_sided = [r for r in results if len({r.connection.from_client(s) for s in r.connection.segments}) == 1]
    assert one_sided
    assert all(r.vantage is not None and r.vantage.point == "one_direction" for r in one_sided)


def test_a_leg_under_a_twentieth_of_the_round_trip_places_the_capture_at_its_end() -> None:
    """zeek_fin_retransmission: 305 ms to the SYN/ACK, 2.2 ms on to the ACK (over the 1 ms of
    an answer at once, far under the other leg): next to the client, as its TTL says too;
    10 ms against 30 ms stays between the ends."""
    point, evidence = _captured(0.305, 0.0022, 64, 232)
    assert point == "client" and "the rest of the round trip is the server's side" in evidence[0]
    assert _captured(0.0022, 0.305, 49, 128)[0] == "server"
    assert _captured(0.010, 0.030, 60, 60)[0] == "between"


def test_a_resent_syns_answer_is_timed_from_that_syn() -> None:
    """helper-144, at the server: a SYN a TIME_WAIT answered with an old ACK (reset by the
    client), the SYN again 1.033 s later, the listener's SYN/ACK 46 µs after it, the client's
    RST 18 µs after that. The first leg is the answered SYN's, 46 µs: both at once, no
    capture "at the client" read from a 1 s leg that was the client's timer."""
    segments = conversation(
        (0.0, "c", "S", 100, 0),
        (0.000032, "s", "A", 900, 5000),
        (0.000043, "c", "R", 5000, 0),
        (1.033142, "c", "S", 100, 0),
        (1.033188, "s", "SA", 500, 101),
        (1.033206, "c", "R", 101, 0),
    )
    for segment in segments:
        segment.ttl = 64
    [result] = analyze_segments(segments).connections
    assert result.vantage is not None
    assert result.vantage.point == "unknown", result.vantage.evidence
    assert result.vantage.evidence[0].startswith("SYN to SYN/ACK 46 µs, SYN/ACK to RST 18 µs")
