"""RFC 9293's recovery from an old duplicate SYN (its Figure 8): the listener answers an old
SYN with a SYN/ACK that does not acknowledge the client's SYN; the client, in SYN_SENT, resets
it at its acknowledgment number and sends its SYN again; the listener, back in LISTEN, takes
that one and the handshake completes."""

from __future__ import annotations

import pytest
from segments import conversation

from analyzer.analysis import analyze_segments
from analyzer.arrivals import prove_states
from analyzer.loss_inference import lost_segments

OLD_DUPLICATE_ANSWERED = (
    (0.0, "c", "S", 100, 0),  # 1
    (0.001, "s", "SA", 300, 91),  # 2: answers an old SYN of ISN 90, not this one
    (0.002, "c", "R", 91, 0),  # 3: RST at its acknowledgment number; the client stays in SYN_SENT
    (0.0045, "c", "S", 100, 0),  # 4: the SYN again, at the timer's least
    (0.0055, "s", "SA", 400, 101),  # 5
    (0.0065, "c", "A", 101, 401),  # 6
)


@pytest.mark.parametrize("server_isn", [300, 400, 900], ids=["new-isn", "same-isn", "new-isn-below-the-old"])
def test_the_handshake_after_an_old_duplicates_synack_is_complete(server_isn: int) -> None:
    steps = list(OLD_DUPLICATE_ANSWERED)
    steps[1] = (0.001, "s", "SA", server_isn, 91)
    [result] = analyze_segments(conversation(*steps)).connections
    handshake = result.handshake
    assert handshake.status == "complete", handshake.explain()
    assert (handshake.client_isn, handshake.server_isn) == (100, 400)
    assert [s.frame for s in handshake.judged_synacks] == [5]
    assert not result.synack_backoff.intervals  # frame 2 answered another SYN: no resend
    # Back in LISTEN the server's numbers start again at its new SYN/ACK, below the old ISN or not.
    assert [s.value for _t, s in result.states["server"]][-1] == "ESTABLISHED"
    assert result.state_frames["server"][-1] == 6
    [reset] = result.resets
    assert (reset.segment.frame, reset.state, reset.cause) == (3, "SYN_SENT", "challenge_ack_answer")
    assert "old SYN/ACK" in reset.explanation


def test_the_listener_goes_back_to_listen_and_takes_the_syn_sent_again() -> None:
    [result] = analyze_segments(conversation(*OLD_DUPLICATE_ANSWERED)).connections
    server = [
        (state.value, frame)
        for (_t, state), frame in zip(result.states["server"], result.state_frames["server"], strict=True)
    ]
    assert server[:5] == [
        ("LISTEN", None),
        ("SYN_RCVD", 2),
        ("LISTEN", 3),
        ("SYN_RCVD", 4),
        ("ESTABLISHED", 6),
    ]
    client = [state.value for _t, state in result.states["client"]]
    assert client == ["CLOSED", "SYN_SENT", "ESTABLISHED"]
    assert result.states["client"][-1][0] == 100.0055


def test_the_old_duplicates_synack_was_taken_in() -> None:
    """The client's RST at its acknowledgment number answers it: it arrived."""
    steps = list(OLD_DUPLICATE_ANSWERED)
    steps[1] = (0.001, "s", "SA", 400, 91)  # the same ISN as the SYN/ACK that follows: a copy
    assert 2 not in lost_segments(conversation(*steps))


def test_the_listeners_return_to_listen_is_proven_by_its_next_synack() -> None:
    """Captured between the ends, a RST is never acknowledged; the listener's SYN/ACK to the
    SYN sent again shows it was listening again, so the RST reached it."""
    [result] = analyze_segments(conversation(*OLD_DUPLICATE_ANSWERED)).connections
    connection = result.connection
    states = {side: list(result.states[side]) for side in ("client", "server")}
    frames = {side: list(result.state_frames[side]) for side in ("client", "server")}
    proven = prove_states(connection, states, frames, "between")
    assert [s.value for _t, s in proven.states["server"]][:4] == ["LISTEN", "SYN_RCVD", "LISTEN", "SYN_RCVD"]
    assert not any("frame 3" in note for note in proven.notes.values())
