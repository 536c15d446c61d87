"""A capture of one direction only (a mirror of one link of an asymmetric path): what the
captured end's acknowledgment numbers prove of the states, and one wording for the end none
of whose packets are in the file."""

from __future__ import annotations

from segments import conversation

from analyzer.analysis import ConnectionAnalysis, analyze_segments
from analyzer.connections import Side
from analyzer.output.labels import silent_end
from analyzer.tcp_state import State

# Only the client's packets: its handshake ACK, a request, ACKs of 2,000 bytes of the
# server's, its FIN (frame 6, acknowledging what frame 5 did), then one more acknowledged.
CLIENT_ONLY = (
    (0.0, "c", "S", 1000, 0),
    (0.030, "c", "A", 1001, 5001),
    (0.031, "c", "PA", 1001, 5001, 18),
    (0.061, "c", "A", 1019, 6401),
    (0.077, "c", "A", 1019, 7001),
    (0.177, "c", "FA", 1019, 7001),
    (0.207, "c", "A", 1020, 7002),
)
# Only the server's: its SYN/ACK, 2,000 bytes acknowledging the client's 18, its FIN.
SERVER_ONLY = (
    (0.0, "s", "SA", 5000, 1001),
    (0.031, "s", "A", 5001, 1019, 1400),
    (0.047, "s", "PA", 6401, 1019, 600),
    (0.177, "s", "FA", 7001, 1020),
)


def _moves(result: ConnectionAnalysis, side: Side) -> list[tuple[str, int | None]]:
    history, frames = result.states[side], result.state_frames[side]
    return [(state.value, frame) for (_t, state), frame in zip(history, frames, strict=True)]


def test_a_fin_acknowledging_less_than_the_ends_next_segment_left_in_fin_wait_1() -> None:
    """Frame 7 acknowledges one more of the server's numbers than the FIN did: the server's
    numbers went on past what the FIN acknowledged, so no FIN of the server's was among
    them. FIN_WAIT_1 at frame 6 is certain; from frame 7 the state is unknown."""
    [result] = analyze_segments(conversation(*CLIENT_ONLY)).connections
    assert result.vantage is not None and result.vantage.point == "one_direction"
    assert _moves(result, "client")[-2:] == [("FIN_WAIT_1", 6), ("UNKNOWN", 7)]
    assert result.states["client"][-1][0] == 100.207


def test_a_fin_acknowledging_all_the_end_ever_did_cannot_tell() -> None:
    """Without frame 7 the server's FIN may be the last number frame 5 acknowledged."""
    [result] = analyze_segments(conversation(*CLIENT_ONLY[:-1])).connections
    assert _moves(result, "client")[-1] == ("UNKNOWN", 6)
    assert any("cannot be told" in note for note in result.notes)


def test_an_end_none_of_whose_packets_passed_is_not_said_to_have_sent_nothing() -> None:
    [result] = analyze_segments(conversation(*CLIENT_ONLY)).connections
    assert silent_end(result, "server") == "unknown (none of its packets captured)"
    assert not any("sent nothing" in note for note in result.notes), result.notes
    # Its state is not told: no note says what frame 1 did to it.
    assert not any("the server's state from frame" in note for note in result.notes), result.notes


def test_an_unanswered_syn_still_says_the_server_sent_nothing() -> None:
    steps = ((0.0, "c", "S", 1000, 0), (1.0, "c", "S", 1000, 0), (3.0, "c", "S", 1000, 0))
    [result] = analyze_segments(conversation(*steps)).connections
    assert silent_end(result, "server") == "unknown (sent nothing)"


def test_the_peer_acknowledging_past_isn_plus_one_shows_the_syn_ack_was_taken() -> None:
    """The server acknowledges the client's 18 bytes (frame 2): only a client that took the
    SYN/ACK sends data, so it was ESTABLISHED from frame 1; what it did from frame 2 on (its
    FIN among what frame 2 acknowledges, or not) does not show."""
    [result] = analyze_segments(conversation(*SERVER_ONLY)).connections
    assert _moves(result, "client") == [("SYN_SENT", None), ("ESTABLISHED", 1), ("UNKNOWN", 2)]
    assert result.states["client"][1][1] == State.ESTABLISHED
