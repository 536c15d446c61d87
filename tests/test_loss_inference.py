"""Loss inference: which segments never reached their receiver, and what that does to the states."""

from __future__ import annotations

import pytest
from segments import HANDSHAKE, conversation, syn_again_echoing

from analyzer.analysis import analyze_segments
from analyzer.decode.segment import SYN
from analyzer.findings.kernel_agreement import state_at
from analyzer.loss_inference import lost_segments
from analyzer.output.summary import Summary
from analyzer.tcp_state import State

# FINs dropped on the way (as a firewall rule on input does), then retransmitted.
DROPPED_FINS_THEN_RETRANSMITTED = (
    *HANDSHAKE,
    ("c", "FA", 101, 501),  # lost
    ("s", "FA", 501, 101),  # lost: it does not acknowledge the client's FIN
    (0.3, "c", "FA", 101, 501),
    ("s", "A", 502, 102),
    ("s", "FA", 501, 102),
    ("c", "A", 102, 502),
)


def test_lost_segments_are_those_sent_again_unacknowledged() -> None:
    assert lost_segments(conversation(*DROPPED_FINS_THEN_RETRANSMITTED)) == {4, 5}


def test_lost_fins_leave_both_ends_in_fin_wait_1_until_they_are_resent() -> None:
    [result] = analyze_segments(conversation(*DROPPED_FINS_THEN_RETRANSMITTED)).connections
    at = result.states
    assert state_at(at["client"], 100.0045) == State.FIN_WAIT_1
    assert state_at(at["server"], 100.0045) == State.FIN_WAIT_1
    assert [s.value for _t, s in at["client"]][-3:] == ["FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]
    assert [s.value for _t, s in at["server"]][-3:] == ["FIN_WAIT_1", "CLOSING", "TIME_WAIT"]
    assert (result.close.shape, result.close.time_wait) == ("simultaneous", "both")


def test_an_ack_the_peer_answers_with_a_retransmission_was_lost() -> None:
    segments = conversation(
        ("c", "S", 100, 0), ("s", "SA", 500, 101), ("c", "A", 101, 501), (1.0, "s", "SA", 500, 101)
    )
    assert lost_segments(segments) == {3}
    [result] = analyze_segments(segments).connections
    assert [s.value for _t, s in result.states["server"]] == ["LISTEN", "SYN_RCVD"]


def test_a_handshake_ack_answered_by_rst_was_refused() -> None:
    """Accept-queue overflow: the server never took the ACK in and resets from SYN_RCVD."""
    segments = conversation(*HANDSHAKE, ("s", "R", 501, 0))
    assert lost_segments(segments) == {3}
    [result] = analyze_segments(segments).connections
    assert [s.value for _t, s in result.states["server"]] == ["LISTEN", "SYN_RCVD", "CLOSED"]
    assert [(r.state, r.cause) for r in result.resets] == [("SYN_RCVD", "accept_queue_overflow")]


def test_a_rst_ack_after_the_handshake_is_an_abort_from_established() -> None:
    """A listener whose queue is full answers the ACK as a segment for no socket: a RST
    without ACK at the ACK's acknowledgment number (Linux's tcp_v4_send_reset). A RST/ACK
    150 µs after the handshake, or one acknowledging data the capture missed, is the
    accepted socket's abort (SO_LINGER 0 at once, an allow-list's reject): the ACK arrived."""
    for rst in (("s", "RA", 501, 101), ("s", "RA", 501, 121), ("s", "R", 777, 0)):
        segments = conversation(*HANDSHAKE, rst, gap=0.00015)
        assert lost_segments(segments) == set(), rst
        [result] = analyze_segments(segments).connections
        assert [s.value for _t, s in result.states["server"]][:3] == ["LISTEN", "SYN_RCVD", "ESTABLISHED"], (
            rst
        )
        assert [r.cause for r in result.resets] == ["abort"], rst


# The simultaneous-close scenario's tail: both ends in CLOSING, their FINs resent while the
# sandbox still drops them (each resend now acknowledging the other's FIN), then released.
CLOSING_HELD_THEN_RELEASED = (
    *HANDSHAKE,
    (0.100, "c", "FA", 101, 501),  # 4: dropped
    (0.101, "s", "FA", 501, 101),  # 5: dropped
    (0.150, "c", "FA", 101, 501),  # 6: the held FIN, delivered: server CLOSING
    (0.1501, "s", "A", 502, 102),  # 7: dropped
    (0.151, "s", "FA", 501, 101),  # 8: the held FIN, delivered: client CLOSING
    (0.1511, "c", "A", 102, 502),  # 9: dropped
    (0.300, "c", "FA", 101, 502),  # 10: resent, acknowledging: dropped
    (0.320, "s", "FA", 501, 102),  # 11: resent, acknowledging: dropped
    (0.700, "c", "FA", 101, 502),  # 12: after the release: server TIME_WAIT, silently
    (1.500, "c", "FA", 101, 502),  # 13: the client heard nothing and resends
    (1.5001, "s", "A", 502, 102),  # 14: from TIME_WAIT: client TIME_WAIT
)


def test_an_acknowledging_segment_the_peer_answers_by_resending_was_lost() -> None:
    """10 acknowledges the server's FIN, yet the server resends it (11): 10 never arrived;
    likewise 11 (the client resends at 12). 12 went unanswered, but the server had
    acknowledged that FIN before (7): its silence is Linux's CLOSING -> TIME_WAIT, not a loss."""
    assert lost_segments(conversation(*CLOSING_HELD_THEN_RELEASED)) == {4, 5, 7, 9, 10, 11}


def test_closing_is_held_on_both_ends_until_a_resent_fin_gets_through() -> None:
    [result] = analyze_segments(conversation(*CLOSING_HELD_THEN_RELEASED)).connections
    at = result.states
    for side in ("client", "server"):
        assert state_at(at[side], 100.5) == State.CLOSING
    assert state_at(at["server"], 100.8) == State.TIME_WAIT
    assert state_at(at["client"], 100.8) == State.CLOSING
    assert state_at(at["client"], 101.6) == State.TIME_WAIT


def test_a_fin_met_with_silence_twice_running_was_lost_the_first_time() -> None:
    """Seen live (simultaneous close over IPv6, kernel events beside it): both ends in
    CLOSING, every resend dropped, the client's ACKs of the server's FIN with them. After the
    release the server's FIN (14) reaches the client, in CLOSING, which takes it in silence
    (TIME_WAIT); the next copy (15) it answers from TIME_WAIT (16). Silence to 13 and again
    to 14: 13 never arrived, though the client had acknowledged that FIN before (9, 10, 12);
    the client's move is at 14."""
    segments = conversation(
        *CLOSING_HELD_THEN_RELEASED[:9],
        (0.300, "c", "FA", 101, 502),  # 10: resent, acknowledging: dropped
        (0.320, "s", "FA", 501, 102),  # 11: dropped
        (0.500, "c", "FA", 101, 502),  # 12: dropped
        (0.520, "s", "FA", 501, 102),  # 13: dropped
        (0.920, "s", "FA", 501, 102),  # 14: after the release: client TIME_WAIT, silently
        (1.720, "s", "FA", 501, 102),  # 15: answered from TIME_WAIT
        (1.7201, "c", "A", 102, 502),  # 16
    )
    lost = lost_segments(segments)
    assert {10, 11, 12, 13} <= lost and not {14, 15} & lost
    [result] = analyze_segments(segments).connections
    client = result.states["client"]
    assert [s.value for _t, s in client][-2:] == ["CLOSING", "TIME_WAIT"]
    assert client[-1][0] == segments[13].time


def test_a_resend_within_a_round_trip_may_have_crossed_the_ack() -> None:
    """Captured near the client, 50 ms from the server: the server's SYN/ACK resend left
    before the client's ACK (captured 10 ms earlier) could have reached it."""
    segments = conversation(
        (0.0, "c", "S", 100, 0), (0.1, "s", "SA", 500, 101), (0.1001, "c", "A", 101, 501),
        (0.11, "s", "SA", 500, 101),
    )  # fmt: skip
    assert lost_segments(segments) == set()


def test_resends_on_the_same_timer_tick_crossed_in_flight() -> None:
    """Seen live on loopback: both CLOSING ends' timers fired together; their FINs, each
    acknowledging the other's, crossed 42 µs apart (the handshake took 33 µs). Each end
    took the other's in silence: TIME_WAIT on both, nothing lost."""
    loopback_handshake = (
        (0.0, "c", "S", 100, 0),
        (0.000017, "s", "SA", 500, 101),
        (0.000033, "c", "A", 101, 501),
    )
    segments = conversation(
        *loopback_handshake,
        *CLOSING_HELD_THEN_RELEASED[3:-3],
        (0.7, "s", "FA", 501, 102),
        (0.700042, "c", "FA", 101, 502),
    )
    assert lost_segments(segments) == {4, 5, 7, 9, 10, 11}
    [result] = analyze_segments(segments).connections
    assert [s.value for _t, s in result.states["client"]][-2:] == ["CLOSING", "TIME_WAIT"]
    assert [s.value for _t, s in result.states["server"]][-2:] == ["CLOSING", "TIME_WAIT"]


# A BSD stack's simultaneous close (sv_http-range-multiflows, connection 3): the client's
# FIN (5) leaves before the server's (4) arrives; the ACK of that FIN comes 23 µs later and,
# the client's own FIN being unacknowledged, carries FIN again (6). Then each acknowledges.
BSD_FIN_ON_EVERY_SEGMENT = (
    (0.0, "c", "S", 100, 0),
    (0.000066, "s", "SA", 500, 101),
    (0.000082, "c", "A", 101, 501),
    (0.001251, "s", "FA", 501, 101),
    (0.001268, "c", "FA", 101, 501),
    (0.001291, "c", "FA", 101, 502),
    (0.001307, "s", "FA", 501, 102),
    (0.001329, "s", "A", 502, 102),
    (0.001345, "c", "A", 102, 502),
)


def test_a_fin_carried_again_on_the_ack_of_the_peers_fin_was_not_lost() -> None:
    """6 is no timer's resend (23 µs after 5, acknowledging what 5 did not): 5 arrived, and
    both ends went through CLOSING to TIME_WAIT, as the kernel's table has it."""
    segments = conversation(*BSD_FIN_ON_EVERY_SEGMENT)
    assert lost_segments(segments) == set()
    [result] = analyze_segments(segments).connections
    for side in ("client", "server"):
        assert [s.value for _t, s in result.states[side]][-3:] == ["FIN_WAIT_1", "CLOSING", "TIME_WAIT"]
    assert (result.close.shape, result.close.time_wait) == ("simultaneous", "both")


def test_a_fin_resent_by_its_timer_after_acknowledging_more_was_still_lost() -> None:
    """The same two FINs a retransmission timeout apart: the first copy never arrived."""
    steps = list(BSD_FIN_ON_EVERY_SEGMENT)
    steps[5] = (0.201268, "c", "FA", 101, 502)
    steps[6:] = [(0.201307, "s", "FA", 501, 102), (0.201345, "c", "A", 102, 502)]
    assert 5 in lost_segments(conversation(*steps))


def test_a_fin_resent_after_the_peers_data_is_no_answer_to_a_fin() -> None:
    """(from a review) The first SYN lost makes the crossing window over a second; the FIN
    (5) lost, the peer sends data (6), the FIN's timer resends it acknowledging that data (7):
    a resend, not an answer to a FIN of the peer's, so 5 was lost."""
    segments = conversation(
        (0.0, "c", "S", 100, 0), (1.0, "c", "S", 100, 0), (1.001, "s", "SA", 500, 101), (1.002, "c", "A", 101, 501),
        (1.100, "c", "FA", 101, 501), (1.150, "s", "PA", 501, 101, 10), (1.310, "c", "FA", 101, 511),
    )  # fmt: skip
    assert 5 in lost_segments(segments)


# flood2 of a review (a listener with listen(1), twelve connect()s, accept() late; Linux's
# tcp_abort_on_overflow=0): the listener dropped two SYNs, then the handshake's ACK and three
# copies of the request (ListenOverflows 40); the fourth got in and was acknowledged. The
# kernel's table had no socket for the connection until then.
ACCEPT_QUEUE_FULL = (
    (0.0, "c", "S", 100, 0),  # 1: dropped
    (1.008, "c", "S", 100, 0),  # 2: dropped
    (2.032, "c", "S", 100, 0),  # 3
    (2.03204, "s", "SA", 500, 101),  # 4
    (2.03208, "c", "A", 101, 501),  # 5: dropped by the listener
    (2.0325, "c", "PA", 101, 501, 8),  # 6: dropped
    (2.2437, "c", "PA", 101, 501, 8),  # 7: dropped (a tail loss probe)
    (2.4517, "c", "PA", 101, 501, 8),  # 8: dropped (the RTO)
    (2.8637, "c", "PA", 101, 501, 8),  # 9: taken: the connection made
    (2.86374, "s", "A", 501, 109),  # 10
)


def test_a_full_accept_queue_drops_the_handshakes_ack_and_the_data_after_it() -> None:
    segments = conversation(*ACCEPT_QUEUE_FULL)
    assert lost_segments(segments) == {1, 2, 5, 6, 7, 8}
    [result] = analyze_segments(segments).connections
    server = list(zip(result.states["server"], result.state_frames["server"], strict=True))
    assert [(state.value, frame) for (_t, state), frame in server] == [
        ("LISTEN", None),
        ("SYN_RCVD", 3),
        ("ESTABLISHED", 9),
    ]
    assert any("dropped by a listener whose accept queue was full" in note for note in result.notes)


def test_data_lost_once_after_the_handshake_leaves_the_ack_taken() -> None:
    """One resend is a network's ordinary loss: the ACK arrived, ESTABLISHED at it."""
    segments = conversation(
        *ACCEPT_QUEUE_FULL[2:6], (2.2437, "c", "PA", 101, 501, 8), (2.24374, "s", "A", 501, 109)
    )
    assert not lost_segments(segments)
    [result] = analyze_segments(segments).connections
    assert [s.value for _t, s in result.states["server"]] == ["LISTEN", "SYN_RCVD", "ESTABLISHED"]
    assert result.state_frames["server"][-1] == 3


def test_after_syns_the_listener_dropped_one_unanswered_resend_is_enough() -> None:
    """flood of a review, connections 9 and 10: the SYN sent three times (the listener dropping
    SYNs), then the request and one probe unanswered: the listener dropped those too."""
    once = conversation(*ACCEPT_QUEUE_FULL[:7], (2.24374, "s", "A", 501, 109))
    assert lost_segments(once) == {1, 2, 5, 6}
    [result] = analyze_segments(once).connections
    assert result.state_frames["server"][-1] == 7


def test_a_reply_with_a_d_sack_shows_a_copy_had_arrived_before() -> None:
    """The server took the first copy and its ACK was lost: its answer to a later copy carries
    a D-SACK of it (RFC 2883). No listener dropped anything: the ACK was taken, ESTABLISHED."""
    segments = conversation(*ACCEPT_QUEUE_FULL)
    segments[-1].sack_start, segments[-1].sack_end = 101, 109  # at or below its ack: a D-SACK
    assert lost_segments(segments) == {1, 2}
    [result] = analyze_segments(segments).connections
    assert result.state_frames["server"][-1] == 5


def test_a_server_silent_past_its_synack_timer_had_taken_the_handshakes_ack() -> None:
    """An MTU black hole (a review's, kept at the client): the handshake's ACK got through,
    the client's big data never did, resent for 13 s; the server never sent its SYN/ACK again,
    as a request socket (SYN_RCVD) would after 1 s: the ACK had made the connection."""
    segments = conversation(
        (0.0, "c", "S", 100, 0), (0.00005, "s", "SA", 500, 101), (0.00006, "c", "A", 101, 501),
        (0.0001, "c", "PA", 101, 501, 1448), (0.211, "c", "PA", 101, 501, 1448),
        (0.635, "c", "PA", 101, 501, 1448), (1.467, "c", "PA", 101, 501, 1448),
        (3.095, "c", "PA", 101, 501, 1448), (6.487, "c", "PA", 101, 501, 1024),
        (13.143, "c", "PA", 101, 501, 512), (13.1431, "s", "A", 501, 613),
    )  # fmt: skip
    assert not lost_segments(segments)
    [result] = analyze_segments(segments).connections
    assert result.state_frames["server"][-1] == 3  # ESTABLISHED by the handshake's ACK
    [timeout] = [d for d in result.diagnoses if d.kind == "retransmission_timeout"]
    assert "its last copies smaller (1024, 512 bytes)" in timeout.sentence


def test_a_fin_the_peer_names_in_a_duplicate_sack_after_its_resend_had_arrived() -> None:
    """A tail loss probe resends the server's last data and FIN 10 ms later; the client's
    ACK, delayed, names the data in a D-SACK: it got them twice, the first had arrived."""
    steps = (
        *((0.0, "c", "S", 100, 0), (0.0001, "s", "SA", 500, 101), (0.0002, "c", "A", 101, 501)),
        (0.002, "s", "FPA", 501, 101, 50),
        (0.0122, "s", "FPA", 501, 101, 50),
        (0.0123, "c", "A", 101, 552),
    )
    segments = conversation(*steps)
    segments[-1].sack_start, segments[-1].sack_end = 501, 551
    assert 4 not in lost_segments(segments)
    plain = conversation(*steps)  # without the D-SACK: the first copy taken as lost
    assert 4 in lost_segments(plain)
    above = conversation(*steps)  # a block above the ACK is an ordinary SACK: no proof
    above[-1].sack_start, above[-1].sack_end = 600, 700
    assert 4 in lost_segments(above)


def test_a_listener_silent_past_its_synack_timer_with_the_same_copy_answered_dropped_them() -> None:
    """A SYN cookie (a review's, listen(1) full, the clients' ACKs dropped for 3 s on the
    way in): the server kept nothing and never sent its SYN/ACK again; the copy it answers at
    last is the same as those before, not a smaller one: nothing before it was taken."""
    segments = conversation(
        (0.0, "c", "S", 100, 0), (0.00005, "s", "SA", 500, 101), (0.00006, "c", "A", 101, 501),
        (0.0001, "c", "PA", 101, 501, 100), (0.211, "c", "PA", 101, 501, 100),
        (0.635, "c", "PA", 101, 501, 100), (1.467, "c", "PA", 101, 501, 100),
        (3.095, "c", "PA", 101, 501, 100), (3.4861, "s", "A", 501, 201),
    )  # fmt: skip
    assert lost_segments(segments) == {3, 4, 5, 6, 7}


def test_a_synack_echoing_the_first_syns_timestamp_shows_that_syn_arrived() -> None:
    """A capture at the client (helper-99's e5): its SYN, then 1.028 s later the same SYN
    again, then the server's SYN/ACKs. Had the first SYN been lost, the SYN/ACK would echo
    the second's TSval; it echoes the first's: the server took the first (SYN_RCVD from
    frame 1) and its first SYN/ACK was lost before the capture. Without timestamps, or
    echoing the second, the first SYN was lost."""
    with_echo = syn_again_echoing
    assert lost_segments(with_echo(7000)) == set()
    [result] = analyze_segments(with_echo(7000)).connections
    assert state_at(result.states["server"], 100.5) == State.SYN_RCVD  # between the SYNs
    assert lost_segments(with_echo(8028)) == {1}
    assert lost_segments(with_echo(None)) == {1}
    [result] = analyze_segments(with_echo(8028)).connections
    assert state_at(result.states["server"], 100.5) == State.LISTEN
    # Only a SYN/ACK's TSecr echoes (a pure SYN's is 0), and a TSval of 0 tells nothing.
    crossing = with_echo(7000)
    crossing[2].flags = SYN
    assert lost_segments(crossing) == {1}
    zero = with_echo(0)
    assert zero[0].ts_val == 7000
    zero[0].ts_val = 0
    assert lost_segments(zero) == {1}


def test_a_synack_sent_again_is_no_answer_to_the_data_the_listener_did_not_take() -> None:
    """helper-100's synq (a firewall dropping all but SYNs at the server for 1.5 s): the ACK
    and the data dropped, the data sent again by its timer, the server's SYN/ACK sent again at
    1 s (its request still waiting) and the client's ACK of that copy dropped too, until the
    server acknowledges a copy of the data at 1.668 s. None of the client's segments before
    that copy made the connection: the server is SYN_RCVD until then, not ESTABLISHED at the
    second ACK (the kernel: ESTABLISHED at 1.668 s)."""
    steps = (
        ("c", "S", 100, 0), ("s", "SA", 500, 101), ("c", "A", 101, 501), ("c", "PA", 101, 501, 5),
        (0.21, "c", "PA", 101, 501, 5), (0.63, "c", "PA", 101, 501, 5),
        (1.028, "s", "SA", 500, 101), (1.0281, "c", "A", 101, 501),
        (1.668, "c", "PA", 101, 501, 5), (1.6681, "s", "A", 501, 106),
    )  # fmt: skip
    assert lost_segments(conversation(*steps)) == {3, 4, 5, 6, 8}
    [result] = analyze_segments(conversation(*steps)).connections
    assert result.states["server"][2] == (pytest.approx(101.668), State.ESTABLISHED)


def test_acks_a_listener_never_took_before_its_rst_for_no_socket_were_lost() -> None:
    """helper-100's ackdrop2 (tcp_synack_retries 1, the client's ACKs dropped at the server):
    the SYN/ACK sent again after the client's ACK, then nothing but the RST for no socket to
    the client's data 4 s later: both ACKs never made the connection; the server went from
    SYN_RCVD to nothing, never ESTABLISHED. Where the server had not sent its SYN/ACK again,
    the RST alone tells nothing of the ACK (the server may have gone since)."""
    ackdrop = (
        ("c", "S", 100, 0),
        ("s", "SA", 500, 101),
        ("c", "A", 101, 501),
        (1.022, "s", "SA", 500, 101),
        (1.0221, "c", "A", 101, 501),
        (4.0, "c", "PA", 101, 501, 9),
        (4.0001, "s", "R", 501, 0),
    )
    assert lost_segments(conversation(*ackdrop)) >= {3, 5}
    [result] = analyze_segments(conversation(*ackdrop)).connections
    assert State.ESTABLISHED not in [state for _t, state in result.states["server"]]
    taken = (*ackdrop[:3], *ackdrop[5:])
    assert 3 not in lost_segments(conversation(*taken))
    # The handshake line says what the states say; the JSON too.
    assert result.handshake.status == "complete" and result.handshake.ack_not_taken
    assert "but the server never took the ACK, nor a copy of it" in result.handshake.explain()
    [after] = analyze_segments(conversation(*taken)).connections
    assert not after.handshake.ack_not_taken and "never took" not in after.handshake.explain()


def test_an_ack_a_full_accept_queue_dropped_then_a_later_one_taken_times_the_handshake_there() -> None:
    """helper-142's burst (listen(1), the listener stopped): the client's ACK and request
    dropped, the SYN/ACK sent again twice, the client's ACK of the last taken: the handshake
    completed for the server there, 3 s after the SYN, not in the ACK's 2 ms (the summary
    listed it the fastest of all)."""
    late = (
        ("c", "S", 100, 0), ("s", "SA", 500, 101), ("c", "A", 101, 501), ("c", "PA", 101, 501, 4),
        (1.0, "s", "SA", 500, 101), (1.0001, "c", "A", 101, 501), (3.0, "s", "SA", 500, 101),
        (3.0001, "c", "A", 101, 501), (6.7, "c", "PA", 101, 501, 4), (6.7001, "s", "A", 501, 105),
    )  # fmt: skip
    [result] = analyze_segments(conversation(*late)).connections
    handshake = result.handshake
    assert (
        not handshake.ack_not_taken and handshake.taken_late is not None and handshake.taken_late.frame == 8
    )
    assert "but the ACK did not reach the server (lost on the way, or dropped by a listener whose accept" in (
        handshake.explain()
    )
    assert "its handshake completed only at frame 8, 3.000 s after the first SYN" in (handshake.explain())
    summary = Summary()
    summary.add(result)
    assert [seconds for seconds, *_rest in summary.slowest()] == [pytest.approx(3.0001)]
    [taken] = analyze_segments(conversation(*late[:3], (0.5, "s", "A", 501, 101))).connections
    assert taken.handshake.taken_late is None


def test_a_listener_still_holding_the_request_refused_the_segment_that_would_make_it() -> None:
    """helper-100's abortov (tcp_abort_on_overflow=1, the handshake's ACK dropped after the
    capture point, the accept queue full): the client's data 126 ms after the only SYN/ACK
    is answered by a RST as for no socket. No stack gives a request up before sending its
    SYN/ACK again: the listener still held it, the data met the full queue (the kernel freed
    it as TCP_LISTEN_OVERFLOW, its reset reason INVALID_SYN). The ACK was never taken; the
    server goes from SYN_RCVD to CLOSED at its RST. Past the SYN/ACK's first timer, with no
    resend, the connection may have been made and gone: nothing said of the ACK."""
    steps = (
        ("c", "S", 100, 0),
        ("s", "SA", 500, 101),
        ("c", "A", 101, 501),
        (0.126, "c", "PA", 101, 501, 6),
        (0.1261, "s", "R", 501, 0),
    )
    assert lost_segments(conversation(*steps)) == {3}
    [result] = analyze_segments(conversation(*steps)).connections
    assert [state for _t, state in result.states["server"]][-2:] == [State.SYN_RCVD, State.CLOSED]
    assert result.states["server"][-1][0] == pytest.approx(100.1261, abs=1e-6)
    [reset] = result.resets
    assert reset.cause == "accept_queue_overflow" and reset.state == "SYN_RCVD"
    assert "still held the connection request" in reset.explanation and "(frame 3)" in reset.explanation
    [note] = [n for n in result.notes if n.startswith("frame 4 not applied")]
    assert "refused by the listener" in note and "frame 5" in note
    assert result.handshake.ack_not_taken
    # (helper-103's review) A server that sends on after the RST was not reset by it: an
    # injected RST, not the listener's; the ACK, and the data alone, were taken.
    went_on = (*steps, (0.1262, "s", "A", 501, 107), (0.127, "s", "PA", 501, 107, 5))
    assert lost_segments(conversation(*went_on)) == set()
    [result] = analyze_segments(conversation(*went_on)).connections
    assert State.ESTABLISHED in [state for _t, state in result.states["server"]]
    assert result.resets[0].cause == "injected" and not result.handshake.ack_not_taken
    data_only = (*steps[:2], *steps[3:])
    [result] = analyze_segments(conversation(*data_only)).connections
    assert result.resets[0].cause == "accept_queue_overflow" and result.handshake.ack_not_taken
    [result] = analyze_segments(conversation(*data_only, *went_on[5:])).connections
    assert result.states["server"][-1][1] == State.ESTABLISHED and not result.handshake.ack_not_taken
    assert not [n for n in result.notes if "refused by the listener" in n]
    # The SYN/ACK sent again: still held 0.2 s after the copy, though 1.2 s after the first.
    resent = (*steps[:2], (1.0, "s", "SA", 500, 101), (1.0002, "c", "A", 101, 501),
              (1.2, "c", "PA", 101, 501, 6), (1.2001, "s", "R", 501, 0))  # fmt: skip
    [result] = analyze_segments(conversation(*resent)).connections
    assert result.resets[0].cause == "accept_queue_overflow"
    late = (*steps[:3], (1.5, "c", "PA", 101, 501, 6), (1.5001, "s", "R", 501, 0))
    assert lost_segments(conversation(*late)) == set()
    [result] = analyze_segments(conversation(*late)).connections
    assert result.resets[0].cause == "no_connection" and not result.handshake.ack_not_taken


def test_a_bare_ack_a_listener_did_not_take_names_tcp_defer_accept_too() -> None:
    """(helper-100's defer2) The SYN/ACK sent again 3 s after the client's ACK: the ACK was
    not taken; a listener with TCP_DEFER_ACCEPT holds a bare ACK so, as a full accept queue
    drops it. Data it would have taken: not said of a data segment."""
    steps = (("c", "S", 100, 0), ("s", "SA", 500, 101), ("c", "A", 101, 501), (3.02, "s", "SA", 500, 101))
    [result] = analyze_segments(conversation(*steps)).connections
    [note] = [n for n in result.notes if n.startswith("frame 3 not applied")]
    assert "a listener whose accept queue was full" in note and "TCP_DEFER_ACCEPT" in note
    with_data = (*steps[:2], ("c", "PA", 101, 501, 10), steps[3])
    [result] = analyze_segments(conversation(*with_data)).connections
    [note] = [n for n in result.notes if n.startswith("frame 3 not applied")]
    assert "a listener whose accept queue was full" in note and "TCP_DEFER_ACCEPT" not in note


def test_a_syn_copied_after_its_sender_acknowledged_the_synack_says_nothing_of_it() -> None:
    """A SYN proxy captured on both legs of one 4-tuple: the client acknowledges the proxy's
    cookie SYN/ACK (frame 3), then the proxy's SYN to the server, a copy of the client's,
    is answered by the server's SYN/ACK of another ISN (helper-116's synproxy_cookie). The
    client took frame 2: no SYN/ACK of it was lost, and it is ESTABLISHED at frame 2."""
    segments = conversation(
        ("c", "S", 100, 0), (0.0001, "s", "SA", 500, 101), (0.02, "c", "A", 101, 501),
        (0.03, "c", "S", 100, 0), (0.0302, "s", "SA", 9000, 101), (0.0303, "c", "A", 101, 9001),
    )  # fmt: skip
    assert lost_segments(segments) == set()
    [result] = analyze_segments(segments).connections
    assert state_at(result.states["client"], segments[1].time) == State.ESTABLISHED
    assert result.state_frames["client"][-1] == 2
    # The same SYN sent again before any ACK of the client's: the SYN/ACK had not arrived.
    resent = conversation(
        ("c", "S", 100, 0), (0.0001, "s", "SA", 500, 101), (1.0, "c", "S", 100, 0),
        (1.0001, "s", "SA", 500, 101), (1.0002, "c", "A", 101, 501),
    )  # fmt: skip
    assert lost_segments(resent) == {2}


def test_an_ack_its_fins_next_copy_came_too_soon_after_is_judged_by_the_copies_after() -> None:
    """helper-129's simultaneous-close under load: the sandbox delivered the held FINs after
    the client's timer had sent its FIN again, so a held copy (11) came 3.5 ms after the
    server's ACK (8) that a firewall dropped: too soon to prove the ACK lost (it may have
    crossed it). The client's timer sent its FIN again 187 ms later (12): an end whose FIN
    was acknowledged sends it no more, so the ACK never reached it: CLOSING, not FIN_WAIT_2
    (the kernel: CLOSING until a resend got through)."""
    segments = conversation(
        (0.0, "c", "S", 100, 0), (0.000017, "s", "SA", 500, 101), (0.000033, "c", "A", 101, 501),
        (0.1, "c", "FA", 101, 501),  # held
        (0.18, "s", "FA", 501, 101),  # held
        (0.308, "c", "FA", 101, 501),  # the client's timer: dropped
        (0.329, "c", "FA", 101, 501),  # 4 delivered: the server takes it, CLOSING
        (0.32905, "s", "A", 502, 102),  # dropped
        (0.3296, "s", "FA", 501, 101),  # 5 delivered: the client takes it, CLOSING
        (0.3297, "c", "A", 102, 502),  # dropped
        (0.3326, "c", "FA", 101, 501),  # 6 delivered
        (0.516, "c", "FA", 101, 502),  # the client's timer, in CLOSING: dropped
        (1.7, "c", "FA", 101, 502),
        (1.70002, "s", "A", 502, 102),
    )  # fmt: skip
    assert 8 in lost_segments(segments)
    [result] = analyze_segments(segments).connections
    assert "FIN_WAIT_2" not in [s.value for _t, s in result.states["client"]]


def test_a_synack_sent_again_long_after_the_clients_held_ack_shows_the_ack_not_taken() -> None:
    """helper-131's bl3a0 (listen(1), tcp_abort_on_overflow=0, the client's ACK and data held
    605 ms before the capture point, the accept queue full when they came): the listener sent
    its SYN/ACK again 420 ms after the ACK and data, 11 µs from the capture point. They may
    have crossed only within that leg of the path, not within the handshake's 605 ms round
    trip (which the held ACK made): the ACK and data never made the connection; the server is
    SYN_RCVD to the end (the kernel: SYN-RECV)."""
    steps = (
        ("c", "S", 100, 0), (0.000011, "s", "SA", 500, 101),
        (0.605, "c", "PA", 101, 501, 6), (0.809, "c", "PA", 101, 501, 6),
        (1.025, "s", "SA", 500, 101), (1.025013, "c", "A", 107, 501),
        (1.213, "c", "PA", 101, 501, 6), (2.045, "c", "PA", 101, 501, 6),
        (3.037, "s", "SA", 500, 101), (3.037016, "c", "A", 107, 501),
        (3.677, "c", "PA", 101, 501, 6), (7.197, "s", "SA", 500, 101),
    )  # fmt: skip
    assert {3, 4} <= lost_segments(conversation(*steps))
    [result] = analyze_segments(conversation(*steps)).connections
    assert [s.value for _t, s in result.states["server"]] == ["LISTEN", "SYN_RCVD"]
    assert result.handshake.ack_not_taken
    # Resent within that leg (10 ms at least), the SYN/ACK may have crossed the ACK: it proves nothing.
    crossed = (("c", "S", 100, 0), (0.000011, "s", "SA", 500, 101), (0.605, "c", "A", 101, 501),
               (0.609, "s", "SA", 500, 101), (0.60901, "c", "A", 101, 501))  # fmt: skip
    assert 3 not in lost_segments(conversation(*crossed))
    # At the client, its SYN sent again before the answer to the first came (a round trip of
    # 1.2 s): the listener's leg runs from the first SYN, and the SYN/ACK resent 1 s after the
    # ACK and data crossed them (the server acknowledged the data: helper-132).
    slow = (("c", "S", 100, 0), (1.0, "c", "S", 100, 0), (1.2, "s", "SA", 500, 101), (1.2001, "c", "A", 101, 501),
            (1.2002, "c", "PA", 101, 501, 10), (2.2, "s", "SA", 500, 101), (2.2001, "c", "A", 111, 501),
            (2.4003, "s", "A", 501, 111))  # fmt: skip
    assert not {4, 5} & lost_segments(conversation(*slow))


def test_a_client_s_ack_echoing_the_first_synack_proves_that_one_arrived() -> None:
    """helper-131's bl0b: the client's ACK of the first SYN/ACK dropped before the capture
    point; the listener sends its SYN/ACK again, and the client, ESTABLISHED since the first,
    answers the copy with an ACK that still echoes the first one's TSval: the first arrived (an
    ACK echoing the copy's says nothing of it)."""

    def synack_again(echoed: int) -> list:
        segments = conversation(
            ("c", "S", 100, 0), (0.000014, "s", "SA", 500, 101), (1.027, "s", "SA", 500, 101),
            (1.02701, "c", "A", 101, 501),
        )  # fmt: skip
        for segment, stamps in zip(
            segments, [(7000, 0), (90, 7000), (1117, 7000), (8027, echoed)], strict=True
        ):
            segment.ts_val, segment.ts_ecr = stamps
        return segments

    assert lost_segments(synack_again(90)) == set()
    [result] = analyze_segments(synack_again(90)).connections
    assert state_at(result.states["client"], 100.5) == State.ESTABLISHED
    assert lost_segments(synack_again(1117)) == {2}
    [result] = analyze_segments(synack_again(1117)).connections
    assert state_at(result.states["client"], 100.5) == State.SYN_SENT
