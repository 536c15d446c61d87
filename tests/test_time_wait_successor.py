"""A TIME_WAIT the next connection on the same 4-tuple ends (analysis.apply_successor)."""

from __future__ import annotations

from segments import HANDSHAKE, conversation

from analyzer.analysis import analyze_segments
from analyzer.output.json_report import connection_to_dict
from analyzer.timefmt import Clock

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
    assert connection_to_dict(first, Clock(0.0))["close"]["time_wait_ended_frame"] == 8
    assert connection_to_dict(second, Clock(0.0))["close"]["time_wait_ended_frame"] is None


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


def test_a_note_s_time_counts_from_frame_1_as_the_report_s_times_do(tmp_path) -> None:
    """A helper's backlog run: "closed its socket in SYN_SENT, +10.507 s" beside the state
    line's "CLOSED (+10.610 s)": the note counted from the connection's first packet, the
    report from frame 1. Here a connection that begins 3 s into the file: the TIME_WAIT its
    successor ends is said at the successor's SYN's time since frame 1."""
    from pcap_builder import tcp_packet, write_capture

    from analyzer.analysis import analyze_file

    c, s = "10.0.0.1", "10.0.0.2"
    other = tcp_packet(4, "10.0.0.9", 5555, s, 22, "S", 1)
    steps = [(c, 40000, s, 80, "S", 100, 0), (s, 80, c, 40000, "SA", 500, 101), (c, 40000, s, 80, "A", 101, 501),
             (s, 80, c, 40000, "FA", 501, 101), (c, 40000, s, 80, "A", 101, 502),
             (c, 40000, s, 80, "FA", 101, 502), (s, 80, c, 40000, "A", 502, 102),
             (c, 40000, s, 80, "S", 9000, 0), (s, 80, c, 40000, "SA", 7000, 9001)]  # fmt: skip
    packets = [other, *(tcp_packet(4, *step) for step in steps)]
    times = [0.0, 3.0, 3.001, 3.002, 3.01, 3.011, 3.012, 3.013, 3.5, 3.501]
    path = write_capture(tmp_path / "later.pcap", packets, times=times)
    analysis = analyze_file(str(path))
    [first] = [r for r in analysis.connections if r.connection.server[1] == 80 and r.close.time_wait_ended]
    assert any("TIME_WAIT ended at frame 9 (+3.500 s)" in note for note in first.notes), first.notes


def test_a_syn_sent_again_after_a_challenge_ack_it_reset_is_no_backoff() -> None:
    """A helper's run: the client reconnected from its port to a server still in TIME_WAIT
    with a lower ISN; the timewait socket answered with a challenge ACK, the client reset it
    and sent its SYN again 12 ms later (Linux re-arms its timer to the least): the report
    called that a backoff, "single; matches Linux 6.5+"."""
    steps = [*HANDSHAKE, *SERVER_CLOSES, (0.5, "c", "S", 50, 0), (0.5001, "s", "A", 502, 102),
             (0.5002, "c", "R", 102, 0), (0.512, "c", "S", 50, 0), (0.5121, "s", "SA", 9000, 51),
             (0.5122, "c", "A", 51, 9001)]  # fmt: skip
    _first, second = analyze_segments(conversation(*steps)).connections
    backoff = second.syn_backoff
    assert backoff.after_challenges == 1
    assert (
        "sent after the client reset an answer that did not acknowledge the SYN before" in backoff.describe()
    )
    assert "matches" not in backoff.describe()
    # A SYN sent again by its timer, no challenge between: a backoff as before.
    steps = [
        (0.0, "c", "S", 50, 0),
        (1.0, "c", "S", 50, 0),
        (1.0001, "s", "SA", 9000, 51),
        (1.0002, "c", "A", 51, 9001),
    ]
    [plain] = analyze_segments(conversation(*steps)).connections
    assert plain.syn_backoff.after_challenges == 0 and "matches" in plain.syn_backoff.describe()
    # Challenged after a retransmission by the timer: Linux keeps the backoff (it re-arms
    # the timer only while none was sent), the SYN 2 s later is the backoff's.
    steps = [(0.0, "c", "S", 50, 0), (1.0, "c", "S", 50, 0), (1.0001, "s", "A", 502, 102), (1.0002, "c", "R", 102, 0),
             (3.0, "c", "S", 50, 0), (3.0001, "s", "SA", 9000, 51), (3.0002, "c", "A", 51, 9001)]  # fmt: skip
    [later] = analyze_segments(conversation(*steps)).connections
    assert later.syn_backoff.after_challenges == 0
