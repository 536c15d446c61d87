"""A segment in the file reached the capture point, not necessarily its receiver
(analyzer/arrivals.py): where the vantage is away from an end, that end's moves stand only
when its later segments acknowledge what moved it; otherwise its state is UNKNOWN."""

from __future__ import annotations

from segments import conversation

from analyzer.analysis import ConnectionAnalysis, analyze_segments
from analyzer.decode.segment import Segment
from analyzer.timefmt import Clock

# (client's TTL, server's): the client's untouched and the server's worn is the client's
# vantage; the other way round, the server's; both worn, between.
AT_CLIENT = (64, 52)
AT_SERVER = (52, 64)
BETWEEN = (59, 55)


def _client_closes(syn_to_synack: float, synack_to_ack: float) -> tuple[tuple, ...]:
    t = syn_to_synack + synack_to_ack
    return (
        (0.0, "c", "S", 100, 0),
        (syn_to_synack, "s", "SA", 500, 101),
        (t, "c", "A", 101, 501),
        (t + 0.010, "c", "FA", 101, 501),
        (t + 0.060, "s", "A", 501, 102),
        (t + 0.061, "s", "FA", 501, 102),
        (t + 0.111, "c", "A", 102, 502),
    )


CLIENT_CLOSES = _client_closes(0.050, 0.0001)  # the ACK follows the SYN/ACK at once: at the client


def _analyzed(ttls: tuple[int, int], *steps: tuple) -> ConnectionAnalysis:
    segments: list[Segment] = conversation(*steps)
    for segment in segments:
        segment.ttl = ttls[0] if segment.sport == 40000 else ttls[1]
    [result] = analyze_segments(segments).connections
    return result


def _states(result: ConnectionAnalysis) -> dict[str, list[str]]:
    return {side: [state.value for _t, state in history] for side, history in result.states.items()}


def test_at_the_client_the_servers_last_move_is_unknown() -> None:
    result = _analyzed(AT_CLIENT, *CLIENT_CLOSES)
    assert result.vantage is not None and result.vantage.point == "client"
    states = _states(result)
    assert states["client"][-1] == "TIME_WAIT"  # the server's FIN reached the client: taken at it
    assert states["server"] == ["LISTEN", "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "UNKNOWN"]
    [why] = [n for n in result.notes if "unknown" in n]
    assert "frame 7 may not have reached the server" in why
    assert "had it, the server would be in CLOSED" in why
    assert result.state_frames["server"][-1] == 7


def test_at_the_server_every_move_is_shown_by_an_acknowledgment() -> None:
    result = _analyzed(AT_SERVER, *_client_closes(0.0001, 0.050))
    assert result.vantage is not None and result.vantage.point == "server"
    states = _states(result)
    assert states["client"][-1] == "TIME_WAIT"  # its last ACK acknowledges the server's FIN
    assert states["server"][-1] == "CLOSED"
    assert not [n for n in result.notes if "unknown" in n]


def test_between_a_fin_nobody_acknowledged_leaves_its_receiver_unknown() -> None:
    result = _analyzed(BETWEEN, *_client_closes(0.020, 0.030)[:4])
    assert result.vantage is not None and result.vantage.point == "between"
    states = _states(result)
    assert states["client"][-1] == "FIN_WAIT_1"  # its own send: it left
    assert states["server"][-1] == "UNKNOWN"  # whether the FIN arrived (CLOSE_WAIT) the file cannot say


def test_a_scanner_that_resets_the_synack_is_never_established() -> None:
    result = _analyzed(
        AT_CLIENT, (0.0, "c", "S", 100, 0), (0.050, "s", "SA", 500, 101), (0.0501, "c", "R", 101, 0)
    )
    assert result.vantage is not None and result.vantage.point == "client"
    assert "SYN/ACK to RST" in result.vantage.evidence[0]
    states = _states(result)
    assert states["client"] == ["CLOSED", "SYN_SENT", "CLOSED"]
    assert "ESTABLISHED" not in states["client"]
    synack = result.steps[1]
    assert synack.receiver_after.value == "SYN_SENT"
    assert synack.dropped is not None and "no socket took it" in synack.dropped
    [reset] = result.resets
    assert reset.state == "SYN_SENT"
    assert reset.cause == "connect_abandoned"
    assert "no socket for the server's SYN/ACK (frame 2)" in reset.explanation


def test_a_silent_scanner_at_the_client_got_every_synack_and_took_none() -> None:
    result = _analyzed(
        AT_CLIENT,
        (0.0, "c", "S", 100, 0),
        (0.050, "s", "SA", 500, 101),
        (1.050, "s", "SA", 500, 101),
        (3.050, "s", "SA", 500, 101),
    )
    assert result.vantage is not None and result.vantage.point == "client"
    assert not any(step.lost for step in result.steps)  # at the client, they reached the client
    states = _states(result)
    assert states["client"] == ["CLOSED", "SYN_SENT", "UNKNOWN"]
    assert any("never acknowledged the SYN/ACK (frame 2) that reached it" in n for n in result.notes)


def test_between_a_silent_scanners_synacks_may_be_lost() -> None:
    result = _analyzed(
        BETWEEN,
        (0.0, "c", "S", 100, 0),
        (0.020, "s", "SA", 500, 101),
        (1.020, "s", "SA", 500, 101),
    )
    assert [step.lost for step in result.steps] == [False, True, False]
    assert "ESTABLISHED" not in _states(result)["client"]


def test_a_server_that_answers_after_an_injected_rst_is_not_closed() -> None:
    """zeek_rst-inject-rae: the SYN, a RST the client refuses (it does not acknowledge the
    SYN), then the server's SYN/ACK and data: the server was listening all along."""
    result = _analyzed(
        AT_SERVER,
        (0.0, "c", "S", 100, 0),
        (0.2, "s", "RA", 0, 100),
        (1.2, "s", "SA", 500, 101),
        (1.25, "c", "A", 101, 501),
        (1.251, "s", "PA", 501, 101, 20),
        (1.3, "c", "A", 101, 521),
    )
    states = _states(result)
    assert states["server"] == ["LISTEN", "SYN_RCVD", "ESTABLISHED"]
    for step in result.steps:
        if step.segment.sport == 80 and not step.segment.flags & 0x04:
            assert step.sender_before.value != "CLOSED"


def test_a_server_never_sends_a_synack_or_data_while_closed() -> None:
    """Captures that start mid-handshake or without the SYN: the SYN/ACK first; a stray RST
    first, then a handshake whose SYN was not captured."""
    cases = [
        ((0.0, "s", "SA", 500, 101), (0.05, "c", "A", 101, 501), (0.051, "s", "PA", 501, 101, 20)),
        ((0.0, "c", "R", 90, 0), (0.5, "s", "SA", 500, 101), (0.55, "c", "A", 101, 501),
         (0.551, "s", "PA", 501, 101, 20)),
    ]  # fmt: skip
    for steps in cases:
        result = _analyzed(AT_SERVER, *steps)
        for step in result.steps:
            segment = step.segment
            if segment.sport == 80 and (segment.flags & 0x12 == 0x12 or segment.payload_len):
                assert step.sender_before.value != "CLOSED", segment.frame
        assert _states(result)["server"][-1] == "ESTABLISHED"


def test_a_long_connection_folded_reads_the_vantage_as_a_whole_one() -> None:
    """At the client, the server's first FIN (resent: the client's ACK was slow) reached the
    client: not lost, whether the connection is kept whole or folded (long_connection.py)."""
    import functools

    from analyzer.analysis import analyze_connection
    from analyzer.connections import stream_connections
    from analyzer.long_connection import FoldedConnection
    from analyzer.output.json_report import connection_to_dict

    data = [(0.101 + i * 0.01, "c", "PA", 101 + 10 * i, 501, 10) for i in range(40)]
    acks = [(0.1015 + i * 0.01, "s", "A", 501, 111 + 10 * i) for i in range(40)]
    steps = [
        *_client_closes(0.050, 0.0001)[:3],
        *sorted(data + acks, key=lambda step: step[0]),
        (0.6, "s", "FA", 501, 501),
        (0.9, "s", "FA", 501, 501),
        (0.9001, "c", "A", 501, 502),
    ]

    def reports(fold: object, long_connection: int) -> list[dict]:
        segments = conversation(*steps)
        for segment in segments:
            segment.ttl = AT_CLIENT[0] if segment.sport == 40000 else AT_CLIENT[1]
        found = stream_connections(iter(segments), fold=fold, long_connection=long_connection)  # type: ignore[arg-type]
        return [connection_to_dict(analyze_connection(c), Clock(0.0)) for c in found]

    [whole] = reports(None, 1 << 30)
    [folded] = reports(functools.partial(FoldedConnection, head_steps=0, look_ahead=32), 24)
    folded["notes"] = [n for n in folded["notes"] if not n.startswith("a long connection: ")]
    assert whole["vantage"]["point"] == "client"
    first_fin = next(s for s in conversation(*steps) if s.flags & 0x01)
    close_wait = next(time for time, state in whole["states"]["client"] if state == "CLOSE_WAIT")
    assert close_wait == first_fin.time  # the first FIN, not its resend
    assert folded == whole


def test_an_end_whose_peer_is_silent_is_unknown_after_its_own_fin() -> None:
    """Only the server's packets captured (asymmetric routing): its ACK one past the data it
    had acknowledged may be of the client's FIN or of a byte; its own FIN then leaves it in
    LAST_ACK or FIN_WAIT_1, which the capture cannot tell."""
    result = _analyzed(
        AT_SERVER,
        (0.0, "s", "SA", 500, 101), (0.05, "s", "A", 501, 111), (0.06, "s", "A", 501, 112),
        (0.07, "s", "FA", 501, 112),
    )  # fmt: skip
    assert [state.value for _t, state in result.states["server"]][-1] == "UNKNOWN"
    assert any("whether its FIN had come before the server's own" in note for note in result.notes)
    # With the client's packets in the capture, its FIN says which.
    both = _analyzed(AT_SERVER, *CLIENT_CLOSES)
    assert [state.value for _t, state in both.states["server"]][3:5] == ["CLOSE_WAIT", "LAST_ACK"]
    assert not any("whether its FIN had come" in note for note in both.notes)


def test_a_fin_sent_again_after_the_last_ack_shows_the_ack_had_not_arrived() -> None:
    """At the client the last ACK passed; the server's FIN came again 5 ms after it (it
    crossed the ACK: not lost, in flight): the ACK had not reached the server then (a pure ACK
    occupies no numbers, so any later segment "acknowledges" it: none shows it arrived). The
    client's second ACK, or the first, may have since: unknown."""
    t = 0.0501
    result = _analyzed(
        AT_CLIENT, *CLIENT_CLOSES, (t + 0.116, "s", "FA", 501, 102), (t + 0.1161, "c", "A", 102, 502)
    )
    states = _states(result)
    assert states["server"] == ["LISTEN", "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "UNKNOWN"]
    assert result.state_frames["server"][-1] == 8  # LAST_ACK at least until it sent its FIN again
    [why] = [n for n in result.notes if "unknown" in n]
    assert "it sent its FIN again (frame 8) after frame 7 had acknowledged it" in why
    assert "had one, the server would be in CLOSED" in why


def test_a_handshake_ack_crossed_by_a_resent_synack_moves_the_server_at_the_next_ack() -> None:
    """Between the ends: the server sent its SYN/ACK again 10 ms after the client's ACK passed
    (crossing it), then data after the client's second ACK: established by the second as far
    as the capture shows, not by the first."""
    result = _analyzed(
        BETWEEN,
        (0.0, "c", "S", 100, 0),
        (0.020, "s", "SA", 500, 101),
        (0.050, "c", "A", 101, 501),
        (0.060, "s", "SA", 500, 101),
        (0.090, "c", "A", 101, 501),
        (0.091, "s", "PA", 501, 101, 20),
        (0.140, "c", "A", 101, 521),
    )
    states = _states(result)
    assert states["server"] == ["LISTEN", "SYN_RCVD", "ESTABLISHED"]
    assert result.state_frames["server"][-1] == 5
    assert result.states["server"][-1][0] == result.connection.segments[4].time


def test_a_later_ack_proves_what_any_later_segment_would_not() -> None:
    """Between the ends: the server's data after the client's ACK, not a resend: the ACK
    reached it (as before: its next segment went on)."""
    result = _analyzed(
        BETWEEN,
        (0.0, "c", "S", 100, 0),
        (0.020, "s", "SA", 500, 101),
        (0.050, "c", "A", 101, 501),
        (0.051, "s", "PA", 501, 101, 20),
        (0.100, "c", "A", 101, 521),
    )
    assert _states(result)["server"] == ["LISTEN", "SYN_RCVD", "ESTABLISHED"]
    assert result.state_frames["server"][-1] == 3


def test_a_one_byte_resend_is_a_resend_a_keep_alive_is_not() -> None:
    """Between the ends, the server's byte and its FIN, the client's ACK of both; then the
    server sends the byte again (crossing the ACK): the ACK had not reached it. A keep-alive
    (the byte one below the ACK's number, after its FIN had been acknowledged) goes on."""
    steps = (
        (0.0, "c", "S", 100, 0), (0.020, "s", "SA", 500, 101), (0.050, "c", "A", 101, 501),
        (0.060, "s", "PA", 501, 101, 1), (0.061, "s", "FA", 502, 101), (0.090, "c", "A", 101, 503),
    )  # fmt: skip
    resent = _analyzed(BETWEEN, *steps, (0.095, "s", "PA", 501, 101, 1), (0.125, "c", "A", 101, 503))
    assert _states(resent)["server"][-1] == "UNKNOWN"
    assert any("it sent data again (frame 7)" in note for note in resent.notes)


def _keep_alive_reset(after: float, *between: tuple) -> ConnectionAnalysis:
    """At the client: the server's FIN, the client's ACK of it (did it arrive?), then `after`
    seconds later the client's keep-alive and the server's bare RST for no connection."""
    return _analyzed(
        AT_CLIENT,
        (0.0, "c", "S", 100, 0), (0.050, "s", "SA", 500, 101), (0.0501, "c", "A", 101, 501),
        (1.0, "s", "FA", 501, 101), (1.0001, "c", "A", 101, 502), *between,
        (1.0001 + after, "c", "A", 100, 502), (1.05 + after, "s", "R", 502, 0),
    )  # fmt: skip


def test_an_unknown_end_that_sends_a_rst_is_closed_again() -> None:
    """The RST a second after the ACK: a socket the ACK never reached may not have resent its
    FIN yet, and one in FIN_WAIT_1 that the keep-alive found gone (an orphan over the
    system's limit) answers alike. The server sent that RST from no socket, whatever its state
    was: CLOSED at the RST (it stayed UNKNOWN to the end, beside a RST said to come from CLOSED)."""
    states = _states(result := _keep_alive_reset(1.0))
    assert states["server"][-2:] == ["UNKNOWN", "CLOSED"], states
    assert result.state_frames["server"][-1] == 7


def test_a_rst_long_after_an_ack_with_nothing_resent_shows_the_ack_arrived() -> None:
    """ppa_http_espn_fail #7: 45 s after the ACK of its FIN, the server's RST for no connection,
    and no FIN sent again in between (a FIN_WAIT_1 socket resends it for minutes): the ACK
    reached it, FIN_WAIT_2, and its timer ended the socket before the keep-alive came (it was
    UNKNOWN beside the diagnosis that its FIN_WAIT_2 timer ran out). A FIN sent again in
    between says the ACK had not arrived then."""
    result = _keep_alive_reset(45.0)
    assert _states(result)["server"][-3:] == ["FIN_WAIT_1", "FIN_WAIT_2", "CLOSED"]
    assert result.state_frames["server"][-2] == 5
    assert not any("unknown" in note for note in result.notes)
    resent = _keep_alive_reset(45.0, (1.005, "s", "FA", 501, 101))  # crossing the ACK
    assert _states(resent)["server"][-2:] == ["UNKNOWN", "CLOSED"]
    assert any("it sent its FIN again (frame 6) after frame 5 had acknowledged it" in n for n in resent.notes)


def _data_after_close(*tail: tuple) -> ConnectionAnalysis:
    """At the client: a request and its answer, then the server's FIN, and `tail`."""
    return _analyzed(
        AT_CLIENT,
        (0.0, "c", "S", 100, 0), (0.050, "s", "SA", 500, 101), (0.0501, "c", "A", 101, 501),
        (0.06, "c", "PA", 101, 501, 10), (0.11, "s", "PA", 501, 111, 20), (0.1101, "c", "A", 111, 521),
        (0.6, "s", "FA", 521, 111), *tail,
    )  # fmt: skip


def test_a_bare_rst_at_the_number_new_data_acknowledged_shows_the_data_arrived() -> None:
    """helper-136's ka-late: the client's ACK of the server's FIN (did it arrive?), then its next
    request, answered 50 µs later by the server's RST at that request's acknowledgment number
    without ACK: Linux's answer to data its closed socket took. The request arrived, and with it
    the acknowledgment of the FIN: FIN_WAIT_2 there (it was UNKNOWN beside a RST line that said
    the RST came from FIN_WAIT_2). helper-136's ka-cross: the request itself acknowledges the FIN."""
    late = _data_after_close(
        (0.6001, "c", "A", 111, 522), (0.65, "c", "PA", 111, 522, 10), (0.65005, "s", "R", 522, 0)
    )
    assert _states(late)["server"][-3:] == ["FIN_WAIT_1", "FIN_WAIT_2", "CLOSED"]
    assert late.state_frames["server"][-2] == 9  # the request, which carried the acknowledgment
    assert not any("unknown" in note for note in late.notes)
    crossed = _data_after_close((0.6001, "c", "PA", 111, 522, 10), (0.60015, "s", "R", 522, 0))
    assert _states(crossed)["server"][-3:] == ["FIN_WAIT_1", "FIN_WAIT_2", "CLOSED"]
    assert crossed.state_frames["server"][-2] == 8


def test_a_bare_rst_for_a_keep_alives_old_byte_says_no_socket() -> None:
    """A socket answers a keep-alive's byte (one below what it acknowledged) with an ACK: a RST
    for it came from no socket, which shows nothing of the ACK before it."""
    result = _data_after_close(
        (0.6001, "c", "A", 111, 522), (1.6, "c", "PA", 110, 522, 1), (1.60005, "s", "R", 522, 0)
    )
    assert _states(result)["server"][-2:] == ["UNKNOWN", "CLOSED"]
