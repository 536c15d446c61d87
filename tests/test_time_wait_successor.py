"""A TIME_WAIT the next connection on the same 4-tuple ends (analysis.apply_successor)."""

from __future__ import annotations

from segments import HANDSHAKE, conversation

from analyzer.analysis import analyze_segments
from analyzer.output.json_report import connection_to_dict

SERVER_CLOSES = (("s", "FA", 501, 101), ("c", "A", 101, 502), ("c", "FA", 101, 502), ("s", "A", 502, 102))
CLIENT_CLOSES = (("c", "FA", 101, 501), ("s", "A", 501, 102), ("s", "FA", 501, 102), ("c", "A", 102, 502))


def test_the_next_connection_s_syn_ends_the_server_s_time_wait() -> None:
    """The server closed first and holds TIME_WAIT; 0.2 s later the client connects again from
    the same port: the server's TIME_WAIT ends at that SYN (no frame of its own connection)."""
    first, second = analyze_segments(
        conversation(*HANDSHAKE, *SERVER_CLOSES, (0.2, "c", "S", 9000, 0), ("s", "SA", 7000, 9001))
    ).connections
    states = [state.value for _t, state in first.states["server"]]
    assert states[-2:] == ["TIME_WAIT", "CLOSED"]
    assert first.states["server"][-1][0] == second.connection.segments[0].time
    assert first.state_frames["server"][-1] is None
    assert first.close.explain().endswith(
        "the server held TIME_WAIT until the next connection's SYN on these ports (frame 8)"
    )
    assert any("TIME_WAIT ended at frame 8" in note and "RFC 6191" in note for note in first.notes)
    assert connection_to_dict(first, 0.0)["close"]["time_wait_ended_frame"] == 8
    assert connection_to_dict(second, 0.0)["close"]["time_wait_ended_frame"] is None


def test_a_client_s_own_syn_ends_its_time_wait() -> None:
    """The client closed first and holds TIME_WAIT; its own SYN from the same port (Linux's
    tcp_tw_reuse) says the timewait socket was let go."""
    first, _second = analyze_segments(
        conversation(*HANDSHAKE, *CLIENT_CLOSES, (0.5, "c", "S", 9000, 0), ("s", "SA", 7000, 9001))
    ).connections
    assert [state.value for _t, state in first.states["client"]][-2:] == ["TIME_WAIT", "CLOSED"]
    assert any("its own SYN" in note and "tcp_tw_reuse" in note for note in first.notes)


def test_a_time_wait_with_no_syn_after_it_is_held() -> None:
    """Data on the 4-tuple long after (no SYN) starts a new connection but ends no TIME_WAIT
    the packets could tell of."""
    first, _second = analyze_segments(
        conversation(*HANDSHAKE, *SERVER_CLOSES, (10.0, "c", "PA", 9000, 7000, 5))
    ).connections
    assert [state.value for _t, state in first.states["server"]][-1] == "TIME_WAIT"
    assert first.close.explain().endswith("the server holds TIME_WAIT")


def test_a_syn_long_after_the_close_ends_no_time_wait_the_result_could_tell() -> None:
    """Past CLOSE_DELAY the tracker may have let the connection go or not (it depends on other
    connections' traffic): the SYN is a new connection, and the TIME_WAIT stays as it was."""
    first, _second = analyze_segments(
        conversation(*HANDSHAKE, *CLIENT_CLOSES, (10.0, "c", "S", 9000, 0), ("s", "SA", 7000, 9001))
    ).connections
    assert [state.value for _t, state in first.states["client"]][-1] == "TIME_WAIT"
    assert first.close.time_wait_ended is None
