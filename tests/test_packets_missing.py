"""Captures that lost packets (a busy host's tcpdump, a mirror port over its rate, a file
filtered to SYN, FIN and RST): a segment that starts past all its sender was seen to send
and acknowledges what the capture never showed the peer sending is Wireshark's "previous
segment not captured" and "ACKed unseen segment", not an ACK of data never sent."""

from __future__ import annotations

from segments import HANDSHAKE, conversation

from analyzer.analysis import analyze_segments

SYN, SYNACK = HANDSHAKE[0], HANDSHAKE[1]


def _states(result, side: str) -> list[str]:
    return [state.value for _time, state in result.states[side]]


def test_the_handshakes_ack_and_the_first_exchange_lost_from_the_capture() -> None:
    """The client's ACK, its request and the server's answer were not captured: its next
    request acknowledges the answer (ack 501 + 300)."""
    segments = conversation(
        SYN, SYNACK, ("c", "PA", 181, 801, 80), ("s", "A", 801, 261), ("c", "FA", 261, 801),
        ("s", "FA", 801, 262), ("c", "A", 262, 802),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    handshake = result.handshake
    assert handshake.status == "complete" and handshake.final_unseen
    assert handshake.answered_syn_to_ack is None  # its ACK's time is not in the capture
    assert "its ACK not captured: the client's frame 3 acknowledges" in handshake.explain()
    assert not any("never sent" in note for note in result.notes)
    assert _states(result, "server") == [
        "LISTEN",
        "SYN_RCVD",
        "ESTABLISHED",
        "CLOSE_WAIT",
        "LAST_ACK",
        "CLOSED",
    ]
    assert result.state_frames["server"][2] == 3
    assert _states(result, "client")[-1] == "TIME_WAIT"


def test_a_capture_of_only_syn_fin_and_rst() -> None:
    """`tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0`: each FIN starts past all its sender
    was seen to send, and acknowledges what the other sent unseen."""
    segments = conversation(SYN, SYNACK, ("c", "FA", 266, 876), ("s", "FA", 876, 267))
    [result] = analyze_segments(segments).connections
    assert (result.handshake.status, result.handshake.final_unseen) == ("complete", True)
    assert _states(result, "server") == ["LISTEN", "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK"]
    assert result.close.first_fin == "client"


def test_an_ack_of_data_never_sent_without_a_gap_still_fails_the_check() -> None:
    """The client's ACK starts where it should (ISN+1) and nothing shows the capture lost a
    packet: an ACK of data the server never sent is not taken for one."""
    segments = conversation(SYN, SYNACK, ("c", "A", 101, 900), ("s", "A", 501, 101))
    [result] = analyze_segments(segments).connections
    assert result.handshake.status == "incomplete" and not result.handshake.final_unseen
    assert any("never sent" in note for note in result.notes)
    # Past 2**30 is no gap: a number no sender reaches between two captured segments.
    far = conversation(SYN, SYNACK, ("c", "PA", 101 + (1 << 30), 501 + (1 << 30), 10))
    [result] = analyze_segments(far).connections
    assert result.handshake.status == "incomplete"


def test_a_server_that_refuses_an_ack_of_data_it_never_sent_is_no_gap() -> None:
    """RFC 9293 3.10.7.4: a server in SYN_RCVD answers an ACK of data it never sent with
    <SEQ=SEG.ACK><CTL=RST>; later server numbers reaching that far prove no lost packets
    while the ACK itself starts where the client should."""
    for answer in (("s", "R", 900, 0), ("s", "PA", 900, 101, 10)):
        segments = conversation(SYN, SYNACK, ("c", "A", 101, 900), answer)
        [result] = analyze_segments(segments).connections
        assert result.handshake.status == "incomplete", answer
        assert any("never sent" in note for note in result.notes)


def test_a_gap_bounds_both_numbers() -> None:
    """A segment one byte past its sender's numbers whose ACK is 2**31 ahead: out of place."""
    segments = conversation(SYN, SYNACK, ("c", "PA", 102, 501 + (1 << 31) - 10, 10))
    [result] = analyze_segments(segments).connections
    assert result.handshake.status == "incomplete"
    assert any("never sent" in note for note in result.notes)


def test_data_after_close_is_answered_by_the_socket_itself() -> None:
    """The client closed (its FIN), the server's data crossed it: Linux answers with a RST
    without ACK at that data's acknowledgment number, from the FIN_WAIT_1 socket: data after
    close, not a connection that had ended without a packet."""
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 10), ("s", "A", 501, 111), ("c", "FA", 111, 501),
        ("s", "PA", 501, 111, 100), ("c", "R", 111, 0),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    assert not any("found no connection" in note for note in result.notes)
    assert None not in result.state_frames["client"][1:]


def test_the_text_says_in_words_what_wiresharks_gap_flags_say_of_the_capture() -> None:
    from analyzer.output.text_report import connection_text
    from analyzer.timefmt import Clock

    segments = conversation(
        SYN, SYNACK, ("c", "PA", 181, 801, 80), ("s", "A", 801, 261), ("c", "FA", 261, 801),
        ("s", "FA", 801, 262), ("c", "A", 262, 802),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    flags = result.sequence.counts()
    assert flags["lost_segment"] and flags["ack_lost_segment"], flags
    [line] = [line for line in connection_text(result, Clock(100.0)) if line.startswith("  capture    ")]
    assert (
        f"packets not in the capture: {flags['lost_segment']} segments follow a gap in the sender's numbers"
        in line
    )
    # How much in bytes (helper-147: 357 segments after a gap were 276 MB never captured).
    assert result.gaps.unfilled_bytes == 80 and "80 bytes in the gaps never filled" in line
    assert (
        f"{flags['ack_lost_segment']} segments acknowledge data it never saw, which reached the receiver"
        in line
    )
    whole = conversation(*HANDSHAKE, ("c", "PA", 101, 501, 10), ("s", "A", 501, 111))
    [result] = analyze_segments(whole).connections
    assert not [line for line in connection_text(result, Clock(100.0)) if line.startswith("  capture    ")]


def test_the_text_counts_resends_by_our_numbering_beside_wiresharks_flags() -> None:
    """At a sender in SACK recovery Wireshark flags most resends out-of-order (a review's 5 %
    loss: 757 resends, the kernel's TcpRetransSegs, read "retransmission 28, out of order
    729"): the text says how many segments were sent again, a SYN's left to its backoff."""
    from analyzer.output.text_report import connection_text
    from analyzer.timefmt import Clock

    segments = conversation(
        ("c", "S", 100, 0), (1.0, "c", "S", 100, 0), (1.001, "s", "SA", 500, 101), (1.002, "c", "A", 101, 501),
        (1.003, "c", "PA", 101, 501, 10), (1.004, "c", "PA", 111, 501, 10), (1.0045, "c", "PA", 101, 501, 10),
        (1.3, "c", "PA", 111, 501, 10), (1.31, "s", "A", 501, 121),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    assert result.sequence.counts()["out_of_order"] == 1
    [line] = [line for line in connection_text(result, Clock(100.0)) if line.startswith("  resent     ")]
    assert line.startswith("  resent     2 segments sent again"), line
