"""The table-driven state machine, one table for both ends, on hand-made conversations."""

from __future__ import annotations

import pytest
from segments import HANDSHAKE, conversation

from analyzer.analysis import analyze_segments
from analyzer.decode.segment import ACK, RST, TcpOptions
from analyzer.tcp_state import TABLE, ConnectionMachine, Event, State


def states(*steps: tuple) -> dict[str, list[str]]:
    [result] = analyze_segments(conversation(*steps)).connections
    return {side: [state.value for _t, state in history] for side, history in result.states.items()}


def test_every_state_has_a_row_and_rows_name_only_states() -> None:
    # UNKNOWN is what the capture cannot tell (arrivals.py), not a state the table moves to or from.
    assert set(TABLE) == set(State) - {State.UNKNOWN}
    for row in TABLE.values():
        assert set(row) <= set(Event)
        assert set(row.values()) <= set(State) - {State.UNKNOWN}


def test_the_seed_tables_client_closes_first() -> None:
    got = states(
        *HANDSHAKE,
        ("c", "FA", 101, 501),
        ("s", "A", 501, 102),
        ("s", "FA", 501, 102),
        ("c", "A", 102, 502),
    )
    assert got["client"] == ["CLOSED", "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]
    assert got["server"] == ["LISTEN", "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"]


def test_server_closes_first_and_holds_time_wait() -> None:
    got = states(*HANDSHAKE, ("s", "FA", 501, 101), ("c", "FA", 101, 502), ("s", "A", 502, 102))
    assert got["server"][-1] == "TIME_WAIT" and got["client"][-1] == "CLOSED"
    # The client's FIN/ACK acknowledged the server's FIN, so the server skips FIN_WAIT_2's wait.
    assert got["server"][-3:] == ["FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]


def test_simultaneous_close_goes_through_closing_on_both_sides() -> None:
    got = states(
        *HANDSHAKE, ("c", "FA", 101, 501), ("s", "FA", 501, 101), ("c", "A", 102, 502), ("s", "A", 502, 102)
    )
    assert got["client"][-3:] == ["FIN_WAIT_1", "CLOSING", "TIME_WAIT"]
    assert got["server"][-3:] == ["FIN_WAIT_1", "CLOSING", "TIME_WAIT"]


def test_simultaneous_open() -> None:
    got = states(("c", "S", 100, 0), ("s", "S", 500, 0), ("c", "SA", 100, 501), ("s", "SA", 500, 101))
    assert got["client"] == ["CLOSED", "SYN_SENT", "SYN_RCVD", "ESTABLISHED"]
    assert got["server"][-1] == "ESTABLISHED"


def test_refused_server_was_closed_all_along() -> None:
    got = states(("c", "S", 100, 0), ("s", "RA", 0, 101))
    assert got == {"client": ["CLOSED", "SYN_SENT", "CLOSED"], "server": ["CLOSED"]}


def test_capture_starting_mid_connection() -> None:
    got = states(
        ("c", "PA", 1000, 2000, 10), ("s", "FA", 2000, 1010), ("c", "FA", 1010, 2001), ("s", "A", 2001, 1011)
    )
    assert got["client"] == ["ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"]
    assert got["server"] == ["ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]


def test_rst_that_does_not_ack_the_syn_is_ignored_in_syn_sent() -> None:
    [result] = analyze_segments(conversation(("c", "S", 100, 0), ("s", "RA", 0, 999))).connections
    assert [s.value for _t, s in result.states["client"]] == ["CLOSED", "SYN_SENT"]
    assert any("not applied to the receiver" in note for note in result.notes)


def test_rst_far_outside_the_window_does_not_close() -> None:
    got = states(*HANDSHAKE, ("s", "R", 500 + 2**31 - 1, 0))
    assert got["client"][-1] == "ESTABLISHED"


def test_ack_of_unsent_data_does_not_move_the_state() -> None:
    got = states(*HANDSHAKE, ("c", "FA", 101, 501), ("s", "A", 501, 999))
    assert got["client"][-1] == "FIN_WAIT_1"


def test_a_fin_crossing_the_peers_retracts_the_close_wait_the_capture_order_suggested() -> None:
    """The server's FIN (5) does not acknowledge the client's (4): it left before that FIN
    arrived, so the server went ESTABLISHED -> FIN_WAIT_1 -> CLOSING, both at frame 5."""
    [result] = analyze_segments(
        conversation(
            *HANDSHAKE,
            ("c", "FA", 101, 501),
            ("s", "FA", 501, 101),
            ("c", "A", 102, 502),
            ("s", "A", 502, 102),
        )
    ).connections
    server = [state.value for _t, state in result.states["server"]]
    assert server == ["LISTEN", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1", "CLOSING", "TIME_WAIT"]
    assert result.state_frames["server"] == [None, 1, 3, 5, 5, 6]


def test_a_segment_answered_for_no_connection_after_its_receivers_abort_never_moved_it() -> None:
    # The server shuts down (FIN) and aborts (RST); the client's ACK of that FIN, captured
    # before the RST, came in after the abort: the server's RST without ACK at its
    # acknowledgment number answers it for no connection (curl POSTing to python's
    # http.server, tests/data/kernel_account/: the kernel's FIN_WAIT1 -> CLOSE, no FIN_WAIT2).
    steps = (
        *HANDSHAKE,
        ("s", "FA", 501, 101),
        ("c", "A", 101, 502),
        ("s", "RA", 502, 101),
        ("s", "R", 502, 0),
    )
    [result] = analyze_segments(conversation(*steps)).connections
    assert [s.value for _t, s in result.states["server"]] == [
        "LISTEN",
        "SYN_RCVD",
        "ESTABLISHED",
        "FIN_WAIT_1",
        "CLOSED",
    ]
    assert result.state_frames["server"][-1] == 6
    ack = result.steps[4]
    assert (ack.receiver_before, ack.receiver_after) == (State.FIN_WAIT_1, State.FIN_WAIT_1)
    assert ack.dropped and "came in after the connection was reset (frame 6" in ack.dropped
    assert [(r.state, r.cause) for r in result.resets] == [("FIN_WAIT_1", "abort"), ("CLOSED", "after_reset")]
    # Without that second RST nothing proves it: the ACK moved the server as captured.
    [result] = analyze_segments(conversation(*steps[:-1])).connections
    assert [s.value for _t, s in result.states["server"]][-2:] == ["FIN_WAIT_2", "CLOSED"]


def _states(result, side: str) -> list[str]:
    return [state.value for _time, state in result.states[side]]


def test_a_rst_past_all_its_sender_sent_is_challenged_not_taken() -> None:
    """RFC 5961 3.2 (Linux, the BSDs, Windows): a RST in the window but not at RCV.NXT is
    answered by a challenge ACK; one past all its sender sent cannot be at RCV.NXT. Seen with
    a RST made 100 bytes past the client's next number: the server's challenge ACK, then
    data both ways and a normal close."""
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 3), ("s", "A", 501, 104),
        ("c", "R", 204, 0), ("s", "A", 501, 104),  # the RST, the challenge ACK
        ("c", "PA", 104, 501, 6), ("s", "A", 501, 110),
        ("c", "FA", 110, 501), ("s", "FA", 501, 111), ("c", "A", 111, 502),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    [reset] = result.resets
    assert not reset.accepted and "RFC 5961" in reset.explanation and "100 bytes past" in reset.explanation
    assert _states(result, "server")[-3:] == ["CLOSE_WAIT", "LAST_ACK", "CLOSED"]
    assert result.close.reset is None and result.close.first_fin == "client"
    assert _states(result, "client")[-1] == "TIME_WAIT"


@pytest.mark.parametrize(
    ("client_scale", "server_scale", "ahead", "challenged"),
    [
        (7, 7, 50_000_000, False), (7, 7, 5_000_000, True), (None, 7, 5_000_000, False),
        (7, None, 5_000_000, False), (7, "cut", 50_000_000, True),
    ],
)  # fmt: skip
def test_a_rst_is_judged_against_the_window_the_syns_agreed(
    client_scale, server_scale, ahead, challenged
) -> None:
    """The window the RST's receiver offers (65,535) is scaled by its SYN's shift when both
    SYNs offered one (RFC 7323 2.2), and taken as it is when either did not: a RST past it
    is dropped (RFC 5961 3.2), and past all its sender sent too it is not the sender's own
    (injected); one inside it but past all its sender sent is challenged. Only where a
    SYN's options are not all seen is the largest scale (14) assumed."""
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 3), ("s", "A", 501, 104), ("c", "R", 104 + ahead, 0),
    )  # fmt: skip

    def offered(scale) -> TcpOptions:
        return TcpOptions(mss=1460, cut=True) if scale == "cut" else TcpOptions(mss=1460, window_scale=scale)

    segments[0].options, segments[1].options = offered(client_scale), offered(server_scale)
    [result] = analyze_segments(segments).connections
    [reset] = result.resets
    assert not reset.accepted
    assert (f"{ahead} bytes past what the server had acknowledged" in reset.explanation) != challenged
    assert (reset.cause == "injected") != challenged
    assert ("challenge ACK" in reset.explanation) == challenged


def test_a_rst_at_what_the_receiver_acknowledged_is_taken_though_its_sender_sent_more() -> None:
    """RCV.NXT is at least what the receiver acknowledged: a sender whose data never arrived
    (a zero window, a black hole) aborts at the receiver's ACK, below its own SND.MAX. Seen
    with SO_LINGER {1, 0} behind a zero window and with TCP_USER_TIMEOUT: the receiver's
    recv() raised ECONNRESET."""
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 9), ("s", "A", 501, 110),
        ("c", "PA", 110, 501, 4096), ("c", "PA", 110, 501, 4096),  # never acknowledged
        ("c", "RA", 110, 501),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    [reset] = result.resets
    assert reset.accepted, reset.explanation
    assert _states(result, "server")[-1] == "CLOSED"


def test_an_end_that_goes_on_sending_after_the_peers_rst_never_took_it() -> None:
    """A firewall in front of the server drops the client's keep-alive RST: the capture
    has it, the server does not, and sends its data 200 ms later (answered by a RST without
    ACK: no socket on the client). Data that leaves within one round trip of the RST may
    have crossed it in flight, and proves nothing."""
    crossing = conversation(
        *HANDSHAKE, ("c", "RA", 101, 501), ("s", "PA", 501, 101, 5), ("c", "R", 101, 0), gap=0.0001
    )
    [result] = analyze_segments(crossing).connections
    assert result.resets[0].accepted and _states(result, "server")[-1] == "CLOSED"
    late = conversation(*HANDSHAKE, ("c", "RA", 101, 501), (0.3, "s", "PA", 501, 101, 5), ("c", "R", 101, 0))
    [result] = analyze_segments(late).connections
    first, second = result.resets
    assert not first.accepted and "went on sending (frame 5" in first.explanation
    assert _states(result, "server") == ["LISTEN", "SYN_RCVD", "ESTABLISHED", "CLOSED"]
    assert result.state_frames["server"][-1] == 6  # the client's answer, not its keep-alive RST
    assert second.cause == "after_reset" and "frame 4" in second.explanation


def test_a_challenge_ack_shows_the_rst_before_it_was_not_taken() -> None:
    """The client aborts while its last data is lost: its RST, at its SND.NXT past the server's
    RCV.NXT, draws the server's ACK at 101 again (RFC 5961's challenge ACK), which the
    client's kernel answers with a RST at 101: that one resets the server, soon as it came."""
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 100), ("c", "RA", 201, 501), ("s", "A", 501, 101), ("c", "R", 101, 0),
        gap=0.005,
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    first, second = result.resets
    assert not first.accepted and "a challenge ACK (RFC 5961 3.2)" in first.explanation
    assert second.accepted and result.state_frames["server"][-1] == 7
    [step] = [step for step in result.steps if step.segment.frame == 7]
    assert (step.receiver_before.value, step.receiver_after.value) == ("ESTABLISHED", "CLOSED")
    assert result.close.shape == "reset" and result.close.reset is not None and result.close.reset.frame == 7
    # An ACK that crossed the RST acknowledges what came since: it proves nothing.
    crossing = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 100), ("c", "RA", 201, 501), ("s", "A", 501, 201), ("c", "R", 201, 0),
        gap=0.005,
    )  # fmt: skip
    [result] = analyze_segments(crossing).connections
    assert result.resets[0].accepted and result.state_frames["server"][-1] == 5


def test_an_ack_at_the_rsts_own_number_is_no_challenge_ack() -> None:
    """A RST at its receiver's RCV.NXT (all the data before it acknowledged) draws no challenge
    ACK: the receiver's bare ACK at that same number after it crossed it. Read as a challenge,
    the explanation said the ACK was 'short of the RST's 201' at 201, and the RST not taken."""
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 100), ("s", "A", 501, 201), ("c", "R", 201, 0), ("s", "A", 501, 201),
        gap=0.005,
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    [reset] = result.resets
    assert reset.accepted and "challenge ACK" not in reset.explanation


def test_an_end_that_acknowledges_data_sent_after_the_peers_rst_never_took_it() -> None:
    """A RST in the client's name at the server's RCV.NXT, then the client's data behind it
    on the same path, which the server acknowledges within a few milliseconds: a server the
    RST had reset would have answered that data with RST. Not taken, however soon."""
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 5), ("s", "A", 501, 106), ("c", "R", 106, 0),
        ("s", "PA", 501, 106, 11), ("c", "A", 106, 512), ("c", "PA", 106, 512, 4), ("s", "A", 512, 110),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    [reset] = result.resets
    assert not reset.accepted and "data its sender sent after it (frame 9)" in reset.explanation
    assert _states(result, "server") == ["LISTEN", "SYN_RCVD", "ESTABLISHED"]
    # Its data alone, 10 ms after the RST, proves nothing: it may have crossed the RST.
    crossing = segments[:7]
    [result] = analyze_segments(crossing).connections
    assert result.resets[0].accepted


def test_a_rst_whose_sender_goes_on_sending_was_not_its_own() -> None:
    """An injected RST in the client's name at the server's RCV.NXT: the server takes it,
    the client, which never sent it, goes on sending (answered by the server's RST)."""
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 3), ("s", "A", 501, 104),
        ("c", "R", 104, 0), (0.5, "c", "PA", 104, 501, 6), ("s", "R", 501, 0),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    first = result.resets[0]
    assert first.accepted and (first.cause, first.evidence) == ("injected", [7, 6])
    assert any("RST of frame 6 did not come from its sender's socket" in note for note in result.notes)
    # No move a table does not make: the data after it leaves an ESTABLISHED client.
    assert [(s.sender_before.value, s.sender_after.value) for s in result.steps if s.segment.frame == 7] == [
        ("ESTABLISHED", "ESTABLISHED")
    ]
    assert _states(result, "client")[-1] == "CLOSED" and result.state_frames["client"][-1] == 8
    assert _states(result, "server")[-1] == "CLOSED" and result.state_frames["server"][-1] == 6


def test_a_rst_made_nearer_the_capture_point_than_its_sender_does_not_move_it() -> None:
    """A firewall between the ends rejects the client's data with a RST in the server's name
    (nft reject with tcp reset): its TTL 64 is above every packet the server sent (63, a hop
    away), or, in a capture that names interfaces, it was seen only on the client's side.
    The client takes it; the server never sent it and stays ESTABLISHED. A RST with the
    server's own TTL, on the server's interface, is the server's."""
    steps = (
        *HANDSHAKE,
        ("c", "PA", 101, 501, 3),
        ("s", "A", 501, 104),
        ("c", "PA", 104, 501, 3),
        ("s", "R", 501, 0),
    )

    def analyzed(rst_ttl: int, rst_interface: int) -> object:
        segments = conversation(*steps)
        for segment in segments:
            from_server = segment.sport == 80
            segment.ttl = 63 if from_server else 64
            segment.interface = 2 if from_server else 1
        segments[-1].ttl, segments[-1].interface = rst_ttl, rst_interface
        [result] = analyze_segments(segments).connections
        return result

    for rst_ttl, rst_interface, why in (
        (64, 2, "its TTL 64 is above"),
        (63, 1, "captured on an interface none of"),
    ):
        result = analyzed(rst_ttl, rst_interface)
        [reset] = result.resets
        assert reset.cause == "injected" and why in reset.explanation
        assert _states(result, "server")[-1] == "ESTABLISHED"
        assert _states(result, "client")[-1] == "CLOSED"
    [own] = analyzed(63, 2).resets
    assert own.cause != "injected"


@pytest.mark.parametrize("told_by", ["ttl", "interface"])
def test_a_firewalls_rst_to_the_first_request_is_not_a_full_accept_queue(told_by: str) -> None:
    """helper-143: a router rejects the client's request with a RST in the server's name
    (nft reject with tcp reset), captured at the client. The server's only other packet is
    its SYN/ACK (TTL 63, a hop away), the RST's TTL 64: made nearer, injected, not the
    listener's RST for a full accept queue; nothing says the handshake's ACK was lost, the
    server's state after it is unknown (captured at the client), never CLOSED by that RST.
    A SYN scanner's crafted SYN TTL is no measure: its kernel's RST stays its own."""
    segments = conversation(*HANDSHAKE, ("c", "PA", 101, 501, 79), ("s", "R", 501, 0), gap=0.00005)
    for segment in segments:
        segment.ttl = 63 if segment.sport == 80 else 64
        segment.interface = 2 if segment.sport == 80 else 1
    if told_by == "ttl":
        segments[-1].ttl = 64
    else:  # helper-143's router, -i any: its reject left on the client's side only
        segments[-1].interface = 1
    [result] = analyze_segments(segments).connections
    [reset] = result.resets
    why = "its TTL 64 is above" if told_by == "ttl" else "captured on an interface none of"
    assert reset.cause == "injected" and why in reset.explanation
    assert result.handshake.status == "complete" and not result.handshake.ack_not_taken
    assert result.handshake.taken_late is None
    assert _states(result, "server")[-1] == "UNKNOWN" and result.state_frames["server"][-1] == 3
    scan = conversation(("c", "S", 100, 0), ("s", "SA", 500, 101), ("c", "R", 101, 0))
    for segment, ttl in zip(scan, (42, 64, 64), strict=True):
        segment.ttl = ttl
    [scanned] = analyze_segments(scan).connections
    assert scanned.resets[0].cause != "injected"


def test_an_injectors_several_rsts_are_all_not_their_senders_own() -> None:
    """An injector sends a few RSTs in the client's name at other numbers (each past what
    the client sent: challenged, not taken); the client goes on sending and closes: none was
    its socket's, the second no more than the first, and the client never was CLOSED."""
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 5), ("s", "A", 501, 106),
        ("c", "R", 1106, 0), ("c", "R", 2106, 0), ("c", "R", 3106, 0), ("s", "A", 501, 106),
        (0.01, "c", "PA", 106, 501, 4), ("s", "A", 501, 110),
        ("c", "FA", 110, 501), ("s", "FA", 501, 111), ("c", "A", 111, 502),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    assert [(r.cause, r.state) for r in result.resets] == [("injected", "ESTABLISHED")] * 3
    assert [r.evidence for r in result.resets] == [[10, 6], [10, 7], [10, 8]]
    assert any("RSTs of frames 6, 7, 8 did not come from their sender's socket" in n for n in result.notes)
    assert "CLOSED" not in _states(result, "client")[1:-1]
    assert _states(result, "client")[-1] == "TIME_WAIT"
    assert result.close.reset is None and result.close.first_fin == "client"


def test_a_rst_without_ack_at_the_peers_acknowledgment_is_an_answer_for_no_connection() -> None:
    """The client gave up on its data (a retransmission timeout: no packet), then the
    server's data finds no socket: RST without ACK at that segment's acknowledgment number."""
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 9), ("c", "PA", 101, 501, 9), ("c", "PA", 101, 501, 9),
        (3.0, "s", "PA", 501, 101, 9), ("c", "R", 101, 0),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    [reset] = result.resets
    assert reset.cause == "no_connection" and "frame 7" in reset.explanation and reset.accepted
    # The client had no connection when it sent it: CLOSED since the server's data came at
    # the latest (no frame: nothing marked that moment), which found none.
    assert reset.state == "CLOSED"
    assert _states(result, "client")[-2:] == ["ESTABLISHED", "CLOSED"]
    assert result.state_frames["client"][-1] is None
    assert any(
        "frame 7 not applied to the receiver: found no connection: its receiver's had ended" in note
        for note in result.notes
    )
    assert _states(result, "server")[-1] == "CLOSED" and result.state_frames["server"][-1] == 8
    # With ACK it is a live socket's answer: an abort, from ESTABLISHED.
    aborted = [*segments[:-1], *conversation(("c", "RA", 101, 510), start=segments[-1].time)]
    aborted[-1].frame = 8
    [result] = analyze_segments(aborted).connections
    assert (result.resets[0].cause, result.resets[0].state) == ("abort", "ESTABLISHED")


def test_a_rst_without_ack_seconds_after_the_peers_last_segment_answers_nothing() -> None:
    """A BSD or macOS server aborting an idle connection sends RST without ACK at its next
    sequence number, the client's last acknowledgment: five seconds after that ACK it is no
    kernel's answer to it (helper-116's bsd_bare_rst_abort). The server aborted from
    ESTABLISHED, at the RST, and the client's ACK was taken."""
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 9), ("s", "PA", 501, 110, 9), ("c", "A", 110, 510),
        (5.0, "s", "R", 510, 0),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    [reset] = result.resets
    assert (reset.cause, reset.state) == ("abort", "ESTABLISHED")
    assert _states(result, "server")[-2:] == ["ESTABLISHED", "CLOSED"]
    assert result.state_frames["server"][-1] == 7
    assert not any("not applied to the receiver" in note for note in result.notes)
    # Within a round trip it is that answer: the server's socket had ended unseen.
    answered = [*segments[:-1], *conversation(("s", "R", 510, 0), start=segments[-2].time + 0.02)]
    answered[-1].frame = 7
    [result] = analyze_segments(answered).connections
    assert (result.resets[0].cause, result.resets[0].state) == ("no_connection", "CLOSED")


def test_a_fin_answered_as_for_no_connection_moved_its_receiver_nowhere() -> None:
    """The server's FIN finds no socket at the client (ended unseen), which answers with RST
    at its acknowledgment number: the FIN never put the client in CLOSE_WAIT; CLOSED since
    that FIN came, and the note says it was not applied."""
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 9), ("s", "A", 501, 110), (30.0, "s", "FA", 501, 110), ("c", "R", 110, 0),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    assert _states(result, "client")[-2:] == ["ESTABLISHED", "CLOSED"]
    assert "CLOSE_WAIT" not in _states(result, "client")
    assert result.state_frames["client"][-1] is None
    assert any("frame 6 not applied to the receiver: found no connection" in note for note in result.notes)
    # Had the client gone on sending, the RST was not its socket's: the FIN moved it after all.
    went_on = [*segments, *conversation((31.0, "c", "PA", 110, 502, 5), ("s", "A", 502, 115))]
    for number, segment in enumerate(went_on, start=1):
        segment.frame = number
    [result] = analyze_segments(went_on).connections
    assert [(r.cause, r.state) for r in result.resets] == [("injected", "CLOSE_WAIT")]
    assert _states(result, "client")[3:] == ["CLOSE_WAIT"] and result.state_frames["client"][3] == 6


def test_data_in_flight_after_a_rst_within_the_longest_round_trip_proves_nothing() -> None:
    """A download cancelled mid-transfer, captured near the client: the server's data sent
    before the RST reached it arrives up to a queue's round trip later (80 ms from data to
    its ACK here, where the capture holds no handshake to time)."""
    steps = [
        ("c", "A", 1000, 5000),
        (0.08, "s", "A", 5000, 1000, 1448),
        ("c", "A", 1000, 6448),
        (0.081, "c", "RA", 1000, 6448),
    ]
    steps += [(0.082 + 0.012 * n, "s", "A", 6448 + 1448 * n, 1000, 1448) for n in range(6)]
    [result] = analyze_segments(conversation(*steps)).connections
    assert result.resets[0].accepted and result.resets[0].cause == "abort"
    assert _states(result, "server")[-1] == "CLOSED"


def test_a_challenge_ack_before_the_syn_does_not_bound_the_new_connection() -> None:
    """The stale connection's challenge ACK, before the SYN that starts the server's sequence
    space again, says nothing of the new connection's RCV.NXT."""
    segments = conversation(
        ("c", "S", 100, 0), ("s", "A", 7000, 900000), ("c", "R", 900000, 0), (0.012, "c", "S", 100, 0),
        ("s", "SA", 500, 101), ("c", "A", 101, 501), ("c", "PA", 101, 501, 10), ("s", "A", 501, 111),
        ("c", "RA", 111, 501),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    assert result.resets[-1].accepted and _states(result, "server")[-1] == "CLOSED"


def test_a_rst_at_the_fin_s_own_number_resets_an_end_that_took_the_fin() -> None:
    """Linux takes a RST one below RCV.NXT in CLOSE_WAIT, LAST_ACK and CLOSING
    (tcp_reset_check): the peer that sent its FIN and then aborts, at the FIN's number."""
    segments = conversation(
        *HANDSHAKE, ("c", "FA", 101, 501), ("s", "A", 501, 102), ("c", "R", 101, 0),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    assert result.resets[0].accepted and _states(result, "server")[-1] == "CLOSED"


def test_the_longest_round_trip_timed_widens_what_may_have_crossed_a_rst() -> None:
    """The client's data acknowledged 300 ms later (a slow path, or a queue): the server's
    data 250 ms after the client's RST may have left before the RST arrived."""
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 10), (0.3, "s", "A", 501, 111), (0.31, "c", "RA", 111, 501),
        (0.56, "s", "PA", 501, 111, 5),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    assert result.resets[0].accepted and _states(result, "server")[-1] == "CLOSED"


def test_a_fin_beyond_a_hole_waits_for_the_data_before_it() -> None:
    """The server's 1,000 bytes are lost before the capture point, its FIN is not: the client
    queues the FIN out of order (its dup ACK does not acknowledge it) and moves to CLOSE_WAIT
    only when the resend fills the hole (a helper's s09d; tshark: "previous segment not
    captured", then the dup ACK)."""
    [result] = analyze_segments(
        conversation(
            *HANDSHAKE,
            ("c", "PA", 101, 501, 9),
            ("s", "FA", 1501, 110),
            ("c", "A", 110, 501),
            (0.2, "s", "PA", 501, 110, 1000),
            ("c", "A", 110, 1502),
            ("c", "FA", 110, 1502),
            ("s", "A", 1502, 111),
        )
    ).connections
    client = list(zip(result.states["client"], result.state_frames["client"], strict=True))
    assert [(state.value, frame) for (_t, state), frame in client][3:] == [
        ("CLOSE_WAIT", 7), ("LAST_ACK", 9), ("CLOSED", 10)
    ]  # fmt: skip


def test_a_fin_beyond_a_hole_filled_unseen_is_taken_when_it_is_acknowledged() -> None:
    """The data before the FIN never shows in the capture, but the receiver's ACK covers the
    FIN: the hole was filled unseen; the receiver is in CLOSE_WAIT from that ACK on."""
    found = states(*HANDSHAKE, ("s", "FA", 1501, 101), ("c", "A", 101, 501), ("c", "A", 101, 1502),
                   ("c", "FA", 101, 1502), ("s", "A", 1502, 102))  # fmt: skip
    assert found["client"][-3:] == ["CLOSE_WAIT", "LAST_ACK", "CLOSED"]
    [result] = analyze_segments(
        conversation(*HANDSHAKE, ("s", "FA", 1501, 101), ("c", "A", 101, 501), ("c", "A", 101, 1502))
    ).connections
    assert result.state_frames["client"][-1] == 6 and result.states["client"][-1][1].value == "CLOSE_WAIT"


def _moves(result, side: str) -> list[tuple[str, int | None]]:
    pairs = zip(result.states[side], result.state_frames[side], strict=True)
    return [(state.value, frame) for (_t, state), frame in pairs]


def test_a_fin_behind_data_lost_beyond_the_capture_point_waits_for_the_resend() -> None:
    """The capture saw the server's 1,000 bytes and its FIN; the bytes were lost after it. The
    client's ACK 300 ms on still stops at 501: it queued the FIN out of order, and takes it
    with the resend (redis killed at the server; tcpdump at the server's side)."""
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 9), ("s", "A", 501, 110), ("s", "PA", 501, 110, 1000),
        ("s", "FA", 1501, 110), (0.3, "c", "A", 110, 501), (0.5, "s", "PA", 501, 110, 1000),
        ("c", "A", 110, 1502), ("c", "FA", 110, 1502), ("s", "A", 1502, 111),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    assert _moves(result, "client")[3:] == [("CLOSE_WAIT", 9), ("LAST_ACK", 11), ("CLOSED", 12)]
    assert "the FIN of frame 7 did not reach its receiver in sequence: its frame 8" in result.notes[-1]


def test_a_sack_block_holding_the_fin_proves_it_came_beyond_a_hole_at_once() -> None:
    """The client's dup ACK, 1 ms after the FIN, SACKs the FIN: it arrived out of order."""
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 9), ("s", "A", 501, 110), ("s", "PA", 501, 110, 1000),
        ("s", "FA", 1501, 110), ("c", "A", 110, 501), (0.3, "s", "PA", 501, 110, 1000), ("c", "A", 110, 1502),
    )  # fmt: skip
    segments[7].sack_start, segments[7].sack_end = 1501, 1502
    [result] = analyze_segments(segments).connections
    assert _moves(result, "client")[-1] == ("CLOSE_WAIT", 9)
    assert "selectively acknowledges it" in result.notes[-1]


def test_a_fin_held_beyond_a_hole_is_said_once_however_many_acks_show_it() -> None:
    """The 1,000 bytes before the FIN, in two segments, both lost beyond the capture point:
    the dup ACK SACKs the FIN, and so does the one after the second half is resent (the
    first half still missing). One note, naming the first."""
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 9), ("s", "A", 501, 110), ("s", "PA", 501, 110, 500),
        ("s", "PA", 1001, 110, 500), ("s", "FA", 1501, 110), ("c", "A", 110, 501),
        (0.3, "s", "PA", 1001, 110, 500), ("c", "A", 110, 501), (0.6, "s", "PA", 501, 110, 500),
        ("c", "A", 110, 1502),
    )  # fmt: skip
    segments[8].sack_start, segments[8].sack_end = 1501, 1502
    segments[10].sack_start, segments[10].sack_end = 1001, 1502
    [result] = analyze_segments(segments).connections
    said = [note for note in result.notes if note.startswith("the FIN of frame 8 did not reach")]
    assert len(said) == 1 and "its frame 9 selectively acknowledges it" in said[0]


def test_an_ack_that_may_have_left_before_the_fin_arrived_retracts_nothing() -> None:
    """The same dup ACK without SACK, 1 ms after the FIN (the handshake took 2 ms): it may have
    left before the FIN arrived, so the FIN is taken where the capture saw it."""
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 9), ("s", "A", 501, 110), ("s", "PA", 501, 110, 1000),
        ("s", "FA", 1501, 110), ("c", "A", 110, 501), ("c", "A", 110, 1502),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    assert _moves(result, "client")[-1] == ("CLOSE_WAIT", 7) and not result.notes


def test_an_ack_a_slower_round_trip_brings_after_the_fin_retracts_nothing() -> None:
    """The round trip was timed at 20 ms, then the path slows (Wi-Fi, a queue): the client's
    ACK of data before the FIN comes 35 ms after it, sent before the FIN arrived. Less than
    200 ms is no proof: the FIN is taken where the capture saw it (a reviewer's repro)."""
    segments = conversation(
        *HANDSHAKE, (0.010, "c", "PA", 101, 501, 100), (0.030, "s", "A", 501, 201),
        (0.031, "s", "PA", 501, 201, 1000), (0.051, "c", "A", 201, 1501), (0.200, "s", "PA", 1501, 201, 1000),
        (0.2001, "s", "PA", 2501, 201, 1000), (0.2002, "s", "FA", 3501, 201), (0.235, "c", "A", 201, 2501),
        (0.236, "c", "A", 201, 3502), (0.237, "c", "FA", 201, 3502), (0.257, "s", "A", 3502, 202),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    assert _moves(result, "client")[3] == ("CLOSE_WAIT", 10) and not result.notes


def test_a_fin_sent_long_after_the_peers_below_it_did_not_cross_it() -> None:
    """The client closes a second after the server's FIN, acknowledging only up to the data
    lost before it: no crossing (a FIN sent a second later was not in flight), but the server's
    FIN waiting in the client's queue, taken with the resend: the client goes FIN_WAIT_1, then
    at the resend (which acknowledges its FIN too) FIN_WAIT_2 and TIME_WAIT."""
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 9), ("s", "PA", 501, 110, 1000), ("s", "FA", 1501, 110),
        (1.0, "c", "FA", 110, 501), (1.2, "s", "PA", 501, 111, 1000), ("c", "A", 111, 1502),
        ("s", "A", 1502, 111),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    assert _moves(result, "client")[3:] == [("FIN_WAIT_1", 7), ("FIN_WAIT_2", 8), ("TIME_WAIT", 8)]
    assert _moves(result, "server")[3:] == [("FIN_WAIT_1", 6), ("CLOSING", 7), ("TIME_WAIT", 9)]


def test_a_fin_in_sequence_moves_its_receiver_at_once() -> None:
    found = states(*HANDSHAKE, ("s", "PA", 501, 101, 10), ("s", "FA", 511, 101), ("c", "A", 101, 512))
    assert found["client"][-1] == "CLOSE_WAIT"
    [result] = analyze_segments(
        conversation(*HANDSHAKE, ("s", "PA", 501, 101, 10), ("s", "FA", 511, 101))
    ).connections
    assert result.state_frames["client"][-1] == 5


def test_a_fin_scans_probe_is_applied_to_neither_end_and_closes_nothing() -> None:
    """nmap -sF / -sX / -sN: a FIN (with PSH and URG: Xmas; no flags at all: NULL) without
    ACK to a port, a closed one answering RST/ACK. No connection was there to close, and no
    handshake to miss."""
    for flags, scan in (
        ("F", "a FIN scan's probe (FIN without ACK)"),
        ("FPU", "an Xmas scan's probe (FIN, PSH and URG)"),
        ("", "a NULL scan's probe (no flags)"),
    ):
        [result] = analyze_segments(conversation(("c", flags, 777, 0), ("s", "RA", 0, 778))).connections
        assert result.steps[0].probe
        assert result.steps[0].dropped == f"{scan} from an end with no connection, applied to neither end"
        assert result.close.shape == "none" and result.close.fins is None
        assert [(r.cause, r.state) for r in result.resets] == [("no_connection", "CLOSED")]
        assert f"capture starts with {scan}" in " ".join(result.notes)
        assert result.handshake.explain() == (
            f"no handshake: the connection begins with {scan}, frame 1, and holds no SYN: a scan, not a connection"
        )


def test_rsts_answering_probes_at_random_acks_are_not_forged() -> None:
    """nmap -O sends its ACK probes from one 4-tuple, each at a random acknowledgment number;
    a port with no connection answers each with a RST at that number. Each RST is at what its
    receiver last acknowledged, its RCV.NXT then: none is "injected" for lying below an earlier
    probe's number."""
    [result] = analyze_segments(
        conversation(
            ("c", "A", 1000, 900_000_000),
            ("s", "R", 900_000_000, 0),
            (2.0, "c", "A", 1000, 300_000_000),
            ("s", "R", 300_000_000, 0),
        )
    ).connections
    assert [step.off_acked for step in result.steps] == [0, 0, 0, 0]
    assert "injected" not in [reset.cause for reset in result.resets]
    assert result.steps[3].dropped is None and result.resets[1].accepted
    # The same RST at an earlier probe's number, below the latest: still far off.
    [result] = analyze_segments(
        conversation(
            ("c", "A", 1000, 900_000_000),
            ("s", "R", 900_000_000, 0),
            (2.0, "c", "A", 1000, 950_000_000),
            ("s", "R", 900_000_000, 0),
        )
    ).connections
    assert result.steps[3].off_acked == -50_000_000


@pytest.mark.parametrize(("after", "cause"), [(0.00001, "abort"), (2.0, "injected")])
def test_a_rst_right_after_the_peers_rst_answers_nothing(after: float, cause: str) -> None:
    """No TCP answers a RST (RFC 9293 3.10.7): one from the other end right after it left
    before that RST came (both ends aborting, the RSTs crossing) or is not that end's (an
    injector resetting both); long after, past any crossing, it is not its own."""
    segments = conversation(*HANDSHAKE, ("c", "PA", 101, 501, 300), ("s", "RA", 501, 401))
    segments += conversation(("c", "RA", 401, 501), start=segments[-1].time + after)
    segments[-1].frame = len(segments)
    [result] = analyze_segments(segments).connections
    first, second = result.resets
    assert second.cause == cause and second.evidence == [first.segment.frame, second.segment.frame]
    assert (
        "no TCP answers" in second.explanation and "answered the server's segment" not in second.explanation
    )


def test_keep_alives_on_an_idle_connection_captured_midway_are_answered_not_unsent() -> None:
    """Linux's keep-alive is empty, at SND.NXT-1; its answer acknowledges SND.NXT: a capture
    begun on the idle connection never saw that number sent, and the answer is no ACK of
    data never sent. A second ACK one further is still one."""
    probes = []
    for i in range(3):
        probes += [(75.0 * i, "c", "A", 1000, 5000), (75.0 * i + 0.01, "s", "A", 5000, 1001)]
    [result] = analyze_segments(conversation(*probes)).connections
    assert not any("never sent" in note for note in result.notes), result.notes
    [result] = analyze_segments(conversation(*probes, (300.0, "s", "A", 5000, 1002))).connections
    assert any(
        "frame 7 not applied to the receiver: acknowledges data the receiver was not seen to send" in n
        for n in result.notes
    )


def test_a_rst_at_the_ack_of_the_peers_data_before_its_rst_answers_that_data() -> None:
    """The server's data, then its abort; the client, which had no connection left, answers
    the data with a RST without ACK at its acknowledgment number, a round trip later: an
    answer to that data (after_reset), not a RST crossing the server's."""
    segments = conversation(*HANDSHAKE, ("s", "PA", 501, 101, 100), ("s", "RA", 601, 101))
    segments += conversation(("c", "R", 101, 0), start=segments[-1].time + 0.03)
    segments[-1].frame = len(segments)
    [result] = analyze_segments(segments).connections
    assert [r.cause for r in result.resets] == ["abort", "after_reset"]


# -- captured before what it answers ---------------------------------------------------------------


def _analysis(*steps: tuple):
    [result] = analyze_segments(conversation(*steps)).connections
    return result


def test_a_fin_ack_captured_before_the_fin_it_acknowledges_is_a_three_segment_close() -> None:
    """A mirror port saw the server's FIN/ACK 20 µs before the client's FIN it acknowledges:
    sent after that FIN arrived. The client closed first, a three-segment close; both ends'
    moves at the FIN's capture time; the FIN/ACK is no ACK of data never sent."""
    result = _analysis(
        *HANDSHAKE, (0.01, "c", "PA", 101, 501, 3), (0.011, "s", "A", 501, 104),
        (0.01998, "s", "FA", 501, 105), (0.02, "c", "FA", 104, 501), (0.021, "c", "A", 105, 502),
    )  # fmt: skip
    assert (result.close.first_fin, result.close.shape) == ("client", "three-segment")
    assert _states(result, "client")[-3:] == ["FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]
    assert _states(result, "server")[-3:] == ["CLOSE_WAIT", "LAST_ACK", "CLOSED"]
    assert result.state_frames["server"][-3:] == [7, 6, 8]
    assert [t for t, _s in result.states["client"][-2:]] == [result.connection.segments[6].time] * 2
    early = result.steps[5]
    assert (early.dropped, early.answers_later) == (None, 7)
    assert not [note for note in result.notes if "never sent" in note]


def test_an_ack_captured_before_the_data_it_acknowledges_is_taken() -> None:
    result = _analysis(*HANDSHAKE, (0.01, "s", "A", 501, 111), (0.01002, "c", "PA", 101, 501, 10))
    assert result.steps[3].dropped is None and result.steps[3].answers_later == 5
    assert not [note for note in result.notes if "never sent" in note]


def test_an_acknowledgment_long_before_the_data_is_not_reordered() -> None:
    """200 ms apart no mirror port reorders: the ACK of data never seen stays dropped."""
    result = _analysis(*HANDSHAKE, (0.01, "s", "A", 501, 111), (0.21, "c", "PA", 101, 501, 10))
    assert result.steps[3].answers_later == -1
    assert any("never sent" in note for note in result.notes)


def test_a_rst_past_all_its_sender_sent_and_the_peers_window_is_not_its_own() -> None:
    """The server sent nothing past its SYN/ACK; a RST in its name 123,456 bytes on, past
    the 8 KB window the client offered (no scaling), cannot carry its SND.NXT: injected, and
    the server stays ESTABLISHED (it was called the server's abort, the server CLOSED). Within
    the window it may be the server's own (data the capture lost): taken."""
    for seq, cause, state in (
        (501 + 123_456, "injected", State.ESTABLISHED),
        (501 + 4_000, "abort", State.CLOSED),
    ):
        segments = conversation(
            *HANDSHAKE, ("c", "PA", 101, 501, 12), ("s", "A", 501, 113), ("s", "R", seq, 0)
        )
        segments[0].options, segments[1].options = TcpOptions(mss=1460), TcpOptions(mss=1460)
        for segment in segments:
            segment.window = 8192
        [result] = analyze_segments(segments).connections
        assert [r.cause for r in result.resets] == [cause], result.resets
        assert result.states["server"][-1][1] == state


def test_a_rst_without_ack_to_a_syn_is_not_the_servers() -> None:
    """A closed port answers a SYN with RST/ACK (RFC 9293 3.10.7.1); a RST without ACK, and
    then the server's SYN/ACK to the SYN sent again, is someone else's in its name: injected,
    the server LISTEN all along (it was 'no_connection', the server CLOSED, then LISTEN)."""
    segments = conversation(("c", "S", 100, 0), ("s", "R", 0, 0), (1.0, "c", "S", 100, 0),
                            (1.001, "s", "SA", 500, 101), (1.002, "c", "A", 101, 501))  # fmt: skip
    [result] = analyze_segments(segments).connections
    assert [r.cause for r in result.resets] == ["injected"], result.resets
    assert [state for _time, state in result.states["server"]][:2] == [State.LISTEN, State.SYN_RCVD]
    assert result.handshake.status == "complete"
    # A RST/ACK is a closed port's answer: refused, the server CLOSED.
    refused = conversation(("c", "S", 100, 0), ("s", "RA", 0, 101))
    [result] = analyze_segments(refused).connections
    assert [r.cause for r in result.resets] != ["injected"] and result.states["server"][0][1] == State.CLOSED


def test_a_syn_ack_after_the_peers_rst_takes_back_only_its_own_requests() -> None:
    """tfo10 (helper-126): the client's RST closed the server; a SYN/ACK its listener sent
    again later, where the server had answered with two ISNs (two requests), is no sign that
    the RST was not taken (it was taken back, and written into the RST's sender_after: the
    diagram drew an arrow taken that moved no one). Where every SYN/ACK carries one ISN, the
    request sent it again: the RST never reached it, and its step says so. A RST the end
    sent itself is not its socket's either way."""
    # Established on the second request's ISN; the first's SYN/ACK comes again.
    two = (("c", "S", 100, 0), ("s", "SA", 500, 101), ("c", "S", 100, 0), ("s", "SA", 900, 101),
           ("c", "A", 101, 901))  # fmt: skip
    [result] = analyze_segments(
        conversation(*two, ("c", "R", 101, 0), (1.0, "s", "SA", 500, 101))
    ).connections
    rst = result.steps[5]
    assert (rst.sender_after.value, rst.receiver_after.value, rst.dropped) == ("CLOSED", "CLOSED", None)
    [result] = analyze_segments(
        conversation(*HANDSHAKE, ("c", "R", 101, 0), (1.0, "s", "SA", 500, 101))
    ).connections
    rst = result.steps[3]
    # Where it was when it sent that SYN/ACK again: the handshake's ACK had not reached it.
    assert (rst.sender_after.value, rst.receiver_after.value) == ("CLOSED", "SYN_RCVD")
    assert rst.dropped == "its SYN/ACK sent again after it (frame 5): it never took it in"
    assert 4 in result.state_frames["client"] and 4 not in result.state_frames["server"]
    [result] = analyze_segments(
        conversation(*HANDSHAKE, ("s", "R", 501, 0), (1.0, "s", "SA", 500, 101))
    ).connections
    rst = result.steps[3]
    assert rst.sender_after.value != "CLOSED" and 4 not in result.state_frames["server"]


def test_a_lost_syn_of_a_simultaneous_open_names_no_listener() -> None:
    """helper-131's simo: both ends' first SYNs lost, then sent again and crossing. Neither
    receiver was a listener: the note names no listener's full queue (it did for the first
    SYN, its receiver taken for a listener until its own SYN came); a SYN lost on its way to
    a listener still names one."""
    steps = (
        ("c", "S", 100, 0), (0.000067, "s", "S", 500, 0), (1.027, "c", "S", 100, 0), (1.02701, "s", "S", 500, 0),
        (1.02702, "s", "SA", 500, 101), (1.02703, "c", "SA", 100, 501), (1.0271, "c", "A", 101, 501),
    )  # fmt: skip
    [result] = analyze_segments(conversation(*steps)).connections
    assert result.handshake.variant == "simultaneous-open"
    lost = [note for note in result.notes if "never taken in" in note]
    assert lost and not any("listener" in note for note in lost)
    [listened] = analyze_segments(
        conversation(("c", "S", 100, 0), (1.0, "c", "S", 100, 0), *HANDSHAKE[1:])
    ).connections
    assert any("a SYN also dropped by a listener whose queue was full" in note for note in listened.notes)


def test_a_rst_the_same_as_those_that_never_reached_the_server_may_not_have_either() -> None:
    """helper-135's rej: a firewall reset the client and drops the client's kernel's answers
    to the server's resends, the same RST each time: the server goes on resending after
    each. The last one, with nothing after it, may have been dropped too: the server's state
    from it on is unknown, not CLOSED."""
    segments = conversation(
        *HANDSHAKE, ("c", "RA", 101, 501), (1.0, "s", "PA", 501, 101, 9), (1.0001, "c", "R", 101, 0),
        (1.21, "s", "PA", 501, 101, 9), (1.2101, "c", "R", 101, 0),
        (1.63, "s", "PA", 501, 101, 9), (1.6301, "c", "R", 101, 0),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    assert _states(result, "server") == ["LISTEN", "SYN_RCVD", "ESTABLISHED", "UNKNOWN"]
    assert result.state_frames["server"][-1] == 10
    assert (
        "the server's state from frame 10 on is unknown: that RST is the same as frames 6, 8 (the client's, of "
        "the same numbers, flags, window and TTL), none of which reached the server"
    ) in " ".join(result.notes)
    # One that differs from them resets it, as any RST the capture shows at its receiver:
    # with another TTL (the others injected in the client's name, helper-137), or with ACK.
    for twin in segments[5], segments[7]:
        twin.ttl = 40
    segments[-1].ttl = 60
    [result] = analyze_segments(segments).connections
    assert _states(result, "server")[-1] == "CLOSED"
    segments[5].ttl = segments[7].ttl = 60
    [result] = analyze_segments(segments).connections
    assert _states(result, "server")[-1] == "UNKNOWN"
    segments[-1].flags |= ACK
    segments[-1].ack = 510
    [result] = analyze_segments(segments).connections
    assert _states(result, "server")[-1] == "CLOSED"


# helper-143: a firewall rejects the server's last 104 bytes (an ICMP error to the server);
# the client, closed, gets the server's FIN past them and resets (Linux's TCPAbortOnData).
_ABORT_ON_DATA = (
    *HANDSHAKE,
    ("c", "PA", 101, 501, 6),
    ("s", "A", 501, 107),
    ("s", "A", 501, 107, 1448),
    ("s", "PA", 1949, 107, 104),
    ("c", "A", 107, 1949),
    ("c", "FA", 107, 1949),
    ("s", "FA", 2053, 108),
    ("c", "R", 108, 0),
)


def _client_fed(steps: tuple, lost: int):
    """The client's end once the machine has taken `steps`, frame `lost` not taken (as loss
    inference says of it)."""
    segments = conversation(*steps)
    machine = ConnectionMachine(segments[0], segments[1])
    for segment in segments:
        machine.feed(segment, segment.frame == lost)
    machine.settle()
    return machine.ends[("192.0.2.1", 40000)]


def test_a_fin_past_data_never_taken_waits_and_the_closed_ends_rst_is_abort_on_data() -> None:
    """The server's 104 bytes never taken (not applied: lost beyond the capture point, the
    loss inference's word), its FIN past them: beyond a hole, the client stays in FIN_WAIT_2
    (not TIME_WAIT, where no socket sends a RST); its RST is data_after_close naming the data
    its application lost. Seen at the client, the data not captured at all: the same."""
    client = _client_fed(_ABORT_ON_DATA, lost=7)
    assert [state.value for _time, state in client.history][-2:] == ["FIN_WAIT_2", "CLOSED"]
    at_client = [s for s in conversation(*_ABORT_ON_DATA) if s.frame != 7]
    [result] = analyze_segments(at_client).connections
    [reset] = result.resets
    assert (reset.cause, reset.state) == ("data_after_close", "FIN_WAIT_2")
    assert (
        "the server's FIN (frame 10) came past data the client never took (104 bytes before it"
        in reset.explanation
    )


def test_data_never_taken_then_resent_leaves_no_hole_before_the_fin() -> None:
    """The hole of data not taken (Endpoint.lost_from) is filled by its resend: the FIN after
    it is taken in order and the closing end reaches TIME_WAIT."""
    steps = (
        *HANDSHAKE,
        ("c", "FA", 101, 501),
        ("s", "PA", 501, 102, 104),
        (0.3, "s", "PA", 501, 102, 104),
        ("s", "FA", 605, 102),
        ("c", "A", 102, 606),
    )
    client = _client_fed(steps, lost=5)
    assert client.history[-1][1] == State.TIME_WAIT and client.frames[-1] == 7  # at the FIN, in order


def test_a_burst_answered_by_rsts_alike_keeps_every_rst_and_says_them_once() -> None:
    """helper-148: an iperf3 server gone, each of the client's segments in flight drew a RST
    alike to the byte (its sequence number the segments' acknowledgment, the IPv4
    identification 0), back to back at the client: 4,816 of 4,945 were left out as capture
    copies. Every one is its sender's; the report says a run of them in one line."""
    from analyzer.output.text_report import _reset_lines
    from analyzer.timefmt import Clock

    burst = [("c", "PA", 101 + 100 * i, 502, 100) for i in range(4)]
    steps = (*HANDSHAKE, ("s", "FA", 501, 101), ("c", "A", 101, 502), *burst, *[("s", "R", 502, 0)] * 4)
    segments = conversation(*steps, gap=0.00001)
    for number, segment in enumerate(segments):
        segment.checksum = (segment.flags * 7 + segment.seq + segment.ack) & 0xFFFF
        segment.ip_id = 0 if segment.flags & RST else 100 + number
    [result] = analyze_segments(segments).connections
    assert result.connection.copy_count == 0
    assert [r.segment.frame for r in result.resets] == [10, 11, 12, 13]
    lines = _reset_lines(result, Clock(segments[0].time))
    assert len(lines) == 2 and lines[0].startswith("  RST        frame 10, ")
    assert (
        lines[1].startswith("  RST        3 alike, frames 11, 12, 13, +0.000")
        and "from the server in CLOSED" in lines[1]
    )


@pytest.mark.parametrize(
    "ip_ids", [(6,), (8,), (5, 6)], ids=["sent-before-the-rst", "sent-after-it", "two-delayed"]
)
def test_a_segment_sent_before_an_ends_rst_and_delayed_is_no_sign_of_another_sender(ip_ids) -> None:
    """helper-148: the server's ACK, sent before its RST and delayed 5 ms on the path (its
    IPv4 identification before the highest of the server's before the RST), came after the
    RST: that RST was called injected ("the server went on sending after it"). Two delayed
    (a review's): the first must not lower what the second is read against."""
    steps = (*HANDSHAKE, ("c", "PA", 101, 501, 10), ("s", "A", 501, 111), ("s", "A", 501, 111),
             ("s", "RA", 501, 111), *[("s", "A", 501, 111)] * len(ip_ids))  # fmt: skip
    segments = conversation(*steps)
    for segment, number in zip(segments[4:], (4, 7, 0, *ip_ids), strict=True):
        segment.ip_id = number
    segments[4].window = 1000  # the ACKs told apart: a window update
    [result] = analyze_segments(segments).connections
    [reset, *_] = result.resets
    assert (reset.cause == "injected") == (ip_ids == (8,)), reset.explanation


def test_rsts_after_a_reset_name_the_rst_that_ended_the_connection() -> None:
    """Each RST after the connection was reset names the RST that ended it, not the latest
    RST before it: a run of them reads alike, and the report says it once (helper-148)."""
    steps = (*HANDSHAKE, ("c", "RA", 101, 501), ("s", "PA", 501, 101, 5), ("c", "R", 101, 0),
             ("s", "PA", 506, 101, 5), ("c", "R", 101, 0))  # fmt: skip
    [result] = analyze_segments(conversation(*steps, gap=0.0001)).connections
    later = [r for r in result.resets if r.cause == "after_reset"]
    assert len(later) == 2 and all("already reset (frame 4)" in r.explanation for r in later)


@pytest.mark.parametrize(
    "rst", ["R", "RA", "R-after-an-ack"], ids=["answering-the-request", "abort-on-close", "taken"]
)
def test_a_request_that_crossed_the_servers_fin_is_data_after_close(rst) -> None:
    """helper-148's nginx keep-alive race, captured at the client: the second request left
    before the server's FIN came (the FIN does not acknowledge it), and the server's RST
    without ACK at the request's acknowledgment number answers it (TCPAbortOnData 10 of 10,
    where the report said close() with data unread for 4). A RST/ACK past the FIN is the
    abort on close."""
    steps = (*HANDSHAKE, ("c", "PA", 101, 501, 37), ("s", "PA", 501, 138, 100), ("c", "A", 138, 601),
             ("c", "PA", 138, 601, 37), ("s", "FA", 601, 138),
             *([("s", "A", 602, 175)] if rst == "R-after-an-ack" else []),
             ("s", "RA", 602, 138) if rst == "RA" else ("s", "R", 601, 0))  # fmt: skip
    [result] = analyze_segments(conversation(*steps)).connections
    [reset] = result.resets
    assert (reset.cause == "data_after_close") == (rst == "R"), reset.explanation
    assert ("frame 7 crossed the server's FIN" in reset.explanation) == (rst == "R")


@pytest.mark.parametrize("acknowledged", ["no", "by-an-ack", "by-the-rst"])
def test_data_after_the_fin_never_acknowledged_then_the_peers_fin_is_data_after_close(acknowledged) -> None:
    """helper-148's ssh server killed: its orphan in FIN_WAIT_2 got the client's last 60
    bytes, then the client's FIN, and reset (TCPAbortOnData): "after_close" only where the
    server had taken the data (acknowledged it, or its RST/ACK does: a review's)."""
    taken = [("s", "A", 502, 161)] if acknowledged == "by-an-ack" else []
    rst = ("s", "RA", 502, 162) if acknowledged == "by-the-rst" else ("s", "R", 502, 0)
    steps = (*HANDSHAKE, ("s", "FA", 501, 101), ("c", "A", 101, 502), ("c", "PA", 101, 502, 60), *taken,
             ("c", "FA", 161, 502), rst)  # fmt: skip
    [result] = analyze_segments(conversation(*steps)).connections
    [reset] = result.resets
    assert reset.cause == ("data_after_close" if acknowledged == "no" else "after_close"), reset.explanation


@pytest.mark.parametrize(("resends", "size"), [(2, 4), (4, 4), (4, 1448)])
def test_a_handshake_ack_and_data_never_answered_to_the_end_were_not_taken(resends, size) -> None:
    """helper-150's full accept queue with SYN cookies: the cookie's ACK and the data after it
    dropped, nothing kept, no SYN/ACK again, never a word from the server while the client's
    timer backs off: 171 connections were shown ESTABLISHED and complete (TcpPassiveOpens:
    29 of 200). Two unanswered resends say no more than a lossy path; a full-sized segment
    lost again and again may be an MTU black hole's, the ACK taken (a review's)."""
    times = [0.01 + 0.2 * (2**n - 1) for n in range(resends + 1)]
    steps = (*HANDSHAKE, *[(t, "c", "PA", 101, 501, size) for t in times])
    [result] = analyze_segments(conversation(*steps)).connections
    taken = resends == 2 or size > 1000
    assert result.handshake.ack_not_taken == (not taken)
    assert ("ESTABLISHED" in _states(result, "server")) == taken


def test_rsts_after_the_one_that_answered_crossed_data_answer_what_came_since() -> None:
    """helper-151's i1_p8: after the RST that answered data crossing the server's FIN, the
    closed socket's RSTs answer the client's later segments: each was read as answering the
    same crossed data (963 of them), where they come after the reset."""
    steps = (*HANDSHAKE, ("c", "PA", 101, 501, 37), ("s", "PA", 501, 138, 100), ("c", "A", 138, 601),
             ("c", "PA", 138, 601, 37), ("c", "PA", 175, 601, 37), ("s", "FA", 601, 138), ("s", "R", 601, 0),
             ("s", "R", 601, 0))  # fmt: skip
    [result] = analyze_segments(conversation(*steps)).connections
    first, second = result.resets
    assert "crossed" in first.explanation and "crossed" not in second.explanation, second.explanation
