"""Findings, one rule at a time, on hand-made conversations."""

from __future__ import annotations

import dataclasses

import pytest
from segments import HANDSHAKE, LOST_SYNACK, conversation

from analyzer.analysis import analyze_segments
from analyzer.decode.segment import SYN, UNSEEN, TcpOptions
from analyzer.findings.backoff import apply_schedules, classify_backoff, matching_schedules
from analyzer.findings.ecn import find_ecn_signals
from analyzer.output.json_report import connection_to_dict
from analyzer.output.labels import segment_kinds
from analyzer.output.overview_chart import outcome
from analyzer.output.summary import Summary
from analyzer.output.text_report import connection_text
from analyzer.timefmt import Clock


def analyze(*steps: tuple):
    [result] = analyze_segments(conversation(*steps)).connections
    return result


# -- handshake -----------------------------------------------------------------------------------


def test_complete_handshake_checks_the_arithmetic() -> None:
    result = analyze(*HANDSHAKE)
    h = result.handshake
    assert h.status == "complete" and h.client_isn == 100 and h.server_isn == 500
    assert [c.ok for c in h.checks] == [True, True]
    assert h.answered_syn_to_ack == pytest.approx(0.002)


def test_synack_with_a_wrong_ack_is_not_a_handshake() -> None:
    h = analyze(("c", "S", 100, 0), ("s", "SA", 500, 102), ("c", "A", 101, 501)).handshake
    assert h.status == "incomplete"
    assert h.checks[0].ok is False


def test_final_ack_with_a_wrong_ack_is_incomplete() -> None:
    assert (
        analyze(("c", "S", 100, 0), ("s", "SA", 500, 101), ("c", "A", 101, 777)).handshake.status
        == "incomplete"
    )


def test_refused_and_no_answer_and_not_seen() -> None:
    assert analyze(("c", "S", 100, 0), ("s", "RA", 0, 101)).handshake.status == "refused"
    assert analyze(("c", "S", 100, 0), (1.0, "c", "S", 100, 0)).handshake.status == "no_answer"
    assert analyze(("c", "PA", 1, 1, 5), ("s", "A", 1, 6)).handshake.status == "not_seen"


def test_rtt_excludes_syn_retransmissions() -> None:
    h = analyze(
        ("c", "S", 100, 0), (1.0, "c", "S", 100, 0), (1.010, "s", "SA", 500, 101), (1.020, "c", "A", 101, 501)
    ).handshake
    assert h.status == "complete"
    assert h.answered_syn_to_ack == pytest.approx(0.020)


def test_rtt_after_a_lost_synack_runs_from_the_copy_the_ack_answers() -> None:
    """hs_loss (segments.LOST_SYNACK): the round trip is the SYN's answer plus the ACK's
    (53 µs), not the lost copy's 1.024 s."""
    result = analyze(*LOST_SYNACK)
    h = result.handshake
    assert h.status == "complete"
    assert h.synack_to_ack == pytest.approx(0.000035)
    assert h.syn_to_synack == pytest.approx(0.000018)
    assert h.answered_syn_to_ack == pytest.approx(0.000053)
    # The copy 18 µs after the repeated SYN answered it: not the timer's second firing.
    assert [s.frame for s in h.synack_answers] == [6]
    assert result.synack_backoff.intervals == [pytest.approx(1.023832)]
    assert result.synack_backoff.pattern == "single"
    assert result.synack_backoff.describe().endswith(
        "besides, 1 sent at once in answer to the client's repeated SYN"
    )


@pytest.mark.parametrize("data_between", [False, True])
def test_a_round_trip_longer_than_the_synack_timer_is_not_the_timers(data_between: bool) -> None:
    """Captured at the server, a round trip of 1.2 s: the SYN/ACK's timer sends it again at
    1 s, the client's ACK of the first copy comes at 1.2 s (its request right after, or not),
    its duplicate ACK of the second at 2.2 s. Two ACKs for two copies: the first copy was
    answered, the RTT is 1.2 s, not the 200 ms after the timer's copy."""
    steps: list[tuple] = [
        ("c", "S", 100, 0), (0.00002, "s", "SA", 500, 101), (1.00002, "s", "SA", 500, 101),
        (1.20002, "c", "A", 101, 501),
    ]  # fmt: skip
    if data_between:
        steps.append((1.2001, "c", "PA", 101, 501, 10))
    steps.append((2.2, "c", "A", 111 if data_between else 101, 501))
    h = analyze(*steps).handshake
    assert h.answered_syn_to_ack == pytest.approx(1.20002)
    assert h.synack_to_ack == pytest.approx(1.2)


def test_synack_timer_backoff_leaves_out_answers_to_repeated_syns() -> None:
    """The SYN/ACK never reaches the client: the server's timer sends it at 1 s and 3 s
    (doubling), and answers the client's SYN sent again at 1.5 s at once."""
    result = analyze(
        ("c", "S", 100, 0),
        (0.001, "s", "SA", 500, 101),
        (1.001, "s", "SA", 500, 101),
        (1.5, "c", "S", 100, 0),
        (1.501, "s", "SA", 500, 101),
        (3.001, "s", "SA", 500, 101),
    )
    assert result.handshake.status == "incomplete"
    assert result.synack_backoff.intervals == [pytest.approx(1.0), pytest.approx(2.0)]
    assert result.synack_backoff.pattern == "exponential"
    assert result.synack_backoff.answers == 1


def test_a_synack_long_after_a_repeated_syn_is_the_timers() -> None:
    """A SYN/ACK 0.5 s after the client's repeated SYN (the first answer took 1 ms) did not
    answer it: the server rate-limits such answers; its timer sent this one."""
    result = analyze(
        ("c", "S", 100, 0),
        (0.001, "s", "SA", 500, 101),
        (0.5, "c", "S", 100, 0),
        (1.001, "s", "SA", 500, 101),
    )
    assert result.synack_backoff.intervals == [pytest.approx(1.0)]
    assert result.synack_backoff.answers == 0


def test_a_first_synack_long_after_the_syn_with_a_prompt_answer_later_is_the_timers() -> None:
    """(helper-102's x19: the server's SYN/ACKs dropped before the capture point for 2.5 s)
    SYNs at 0, 1.035, 2.059 s, then a SYN/ACK at 3.079 s: not the answer to the SYN of 2.059
    s, for the server answered the repeated SYN that followed in 61 us: its timer's copy. The
    RTT is not 1.02 s but that answer's and the ACK's; without a prompt answer, the wait
    is all the capture tells."""
    steps = [
        ("c", "S", 100, 0), (1.035, "c", "S", 100, 0), (2.059, "c", "S", 100, 0),
        (3.079079, "s", "SA", 500, 101), (3.079117, "c", "S", 100, 0), (3.079150, "c", "A", 101, 501),
        (3.079178, "s", "SA", 500, 101), (3.079191, "c", "A", 101, 501),
    ]  # fmt: skip
    h = analyze(*steps).handshake
    assert h.first_synack_late == pytest.approx(1.020079)
    assert h.syn_to_synack == pytest.approx(0.000061) and h.answered_syn_to_ack == pytest.approx(0.000132)
    assert "RTT 132 µs; the first SYN/ACK came 1.020 s after the latest SYN" in h.explain()
    h = analyze(*steps[:4], steps[5]).handshake
    assert h.first_synack_late is None and h.answered_syn_to_ack == pytest.approx(1.020150)
    # (helper-103's review) A SYN/ACK 0.998 s after the only SYN before it is no timer's copy:
    # a listener's timer fires a second after its first answer at the soonest. A slow answer.
    slow = [
        ("c", "S", 100, 0), (0.998, "s", "SA", 500, 101), (1.0, "c", "S", 100, 0), (1.0001, "c", "A", 101, 501),
        (1.040, "s", "SA", 500, 101), (1.0401, "c", "A", 101, 501),
    ]  # fmt: skip
    h = analyze(*slow).handshake
    assert h.first_synack_late is None and h.answered_syn_to_ack == pytest.approx(1.0001)


def test_a_handshake_whose_bare_ack_the_capture_lost_says_so_by_the_ip_ids() -> None:
    """(helper-104's random-loss captures) The client's bare ACK lost by the capture: its first
    data, 4.6 ms later, completes the handshake in the capture, and the RTT ran to it. Linux
    numbers a connection's IPv4 packets one by one: the data's identification two past the
    SYN's, the client's next packet one past the data's, says one packet of the client's is
    missing. Not where (helper-106) the data is one past (the ACK held for the write), the
    packet between is captured after the data, the data is not the first (the first, with the
    ACK, lost), or the client's next packet does not follow by one (a host's one counter)."""
    steps = (("c", "S", 100, 0), (0.000024, "s", "SA", 500, 101), (0.00465, "c", "PA", 101, 501, 10),
             (0.00466, "s", "A", 501, 111), (0.0047, "c", "FA", 111, 501))  # fmt: skip
    syn = 0x5DC8
    cases = (
        ("lost", steps, (syn + 2, syn + 3), True),
        ("held for the write", steps, (syn + 1, syn + 2), False),
        (
            "captured after its data",
            (*steps, (0.0048, "c", "A", 101, 501)),
            (syn + 2, syn + 3, syn + 1),
            False,
        ),
        (
            "first data lost",
            (*steps[:2], (0.00465, "c", "PA", 111, 501, 10), *steps[3:]),
            (syn + 2, syn + 3),
            False,
        ),
        ("a host's counter", steps, (syn + 2, syn + 9), False),
    )
    for name, shape, ids, missed in cases:
        segments = conversation(*shape)
        client = [s for s in segments if s.sport == 40000]
        client[0].ip_id = syn
        for segment, number in zip(client[1:], ids, strict=True):
            segment.ip_id = number
        [result] = analyze_segments(segments).connections
        h = result.handshake
        assert (h.status, h.bare_ack_uncaptured) == ("complete", missed), name
        if missed:
            assert h.answered_syn_to_ack == pytest.approx(0.00465)  # Wireshark's iRTT all the same
            assert (
                "its ACK not captured: the client's first data (frame 3, 4.626 ms after the SYN/ACK)"
                in h.explain()
            )
            assert "RTT at most 4.650 ms" in h.explain()


def test_a_fin_unacknowledged_as_the_capture_ends_is_not_said_never_acknowledged() -> None:
    """(helper-104: captures stopped during a close) The server's FIN is the capture's last
    packet: its ACK may have come after. Where the capture went on 2 s more, it never came."""
    close = (("c", "FA", 101, 501), ("s", "A", 501, 102), (0.1, "s", "FA", 501, 102))
    text = analyze(*HANDSHAKE, *close).close.explain()
    assert "not acknowledged before it ended 0 µs after (an ACK may have come later)" in text
    assert "never acknowledged" not in text
    other = conversation(*HANDSHAKE, *close, (2.1, "c", "S", 700, 0))
    other[-1].sport = 40001
    first = analyze_segments(other).connections[0]
    assert "the server's FIN (frame 6) never acknowledged" in first.close.explain()


def test_a_synack_the_capture_lost_is_no_challenge_ack() -> None:
    """(helper-104: one packet dropped from a capture, the SYN/ACK) The client's ACK of a
    server ISN+1 and its data come before the server's first captured segment, an ACK of that
    data: the client had a SYN/ACK the capture lacks; no stale connection's challenge ACK. The
    server ESTABLISHED at the client's ACK, the connection an opened one in the summary."""
    steps = (
        ("c", "S", 100, 0), ("c", "A", 101, 501), ("c", "PA", 101, 501, 10), ("s", "A", 501, 111),
        ("c", "FA", 111, 501), ("s", "FA", 501, 112), ("c", "A", 112, 502),
    )  # fmt: skip
    result = analyze(*steps)
    h = result.handshake
    assert h.challenge_ack is None and h.synack_uncaptured and h.opened_unseen
    assert h.explain().startswith(
        "handshake answered, its SYN/ACK not in the capture: the client's ACK (frame 2)"
    )
    states = [state.value for _t, state in result.states["server"]]
    assert states[:3] == ["LISTEN", "SYN_RCVD", "ESTABLISHED"] and result.state_frames["server"][:3] == [
        None,
        1,
        2,
    ]
    assert result.close.shape == "three-segment"
    # The server's first word, before any ACK of the client's, not acknowledging the SYN: a
    # challenge ACK still.
    challenged = analyze(("c", "S", 100, 0), ("s", "A", 900, 55), ("c", "R", 55, 0)).handshake
    assert challenged.challenge_ack is not None and not challenged.synack_uncaptured


def test_a_rst_ack_answering_a_segment_with_ack_in_a_capture_begun_late_is_an_abort() -> None:
    """(helper-104's backlog.late2: the capture begun after the handshake) The server's first
    captured segment is a RST/ACK answering the client's FIN: no kernel answers a segment with
    ACK for no socket so (its answer is a RST without ACK at that segment's number); a socket's
    abort. A RST without ACK there is the no-socket answer."""
    steps = [(1.0, "c", "PA", 101, 501, 10), (1.1, "c", "FA", 111, 501), (1.1001, "s", "RA", 501, 112)]
    [reset] = analyze(*steps).resets
    assert reset.cause == "abort"
    [reset] = analyze(*steps[:2], (1.1001, "s", "R", 501, 0)).resets
    assert reset.cause == "no_connection"


def test_a_synack_resent_after_a_bare_ack_at_3_s_is_a_deferring_listeners() -> None:
    """helper-100's defer2 (TCP_DEFER_ACCEPT 3 s): the client's bare ACK held, the SYN/ACK
    timer's fire at 1 s sends nothing, the one at 3 s sends it again, and the ACK to that
    makes the connection. A Windows listener would have taken the first ACK; its 3 s
    schedule fits only a SYN/ACK no bare ACK answered (lost on the way)."""
    steps = [
        ("c", "S", 100, 0), (0.0001, "s", "SA", 500, 101), (0.0002, "c", "A", 101, 501),
        (3.024, "s", "SA", 500, 101), (3.0241, "c", "A", 101, 501),
    ]  # fmt: skip
    backoff = analyze(*steps).synack_backoff
    assert backoff.after_bare_ack
    assert backoff.matches[0] == "Linux listener, TCP_DEFER_ACCEPT (3 s, then 4, 8 s ...)"
    # A capture before where the ACK was lost cannot tell it from Windows' (helper-103): both said.
    assert backoff.describe().endswith(
        "matches Linux listener, TCP_DEFER_ACCEPT (3 s, then 4, 8 s ...) or Windows 7 and older (3 s, doubling)"
    )
    # Resent again at 7 s (fires at 1, 3, 7 s), the defer time 4-7 s: 7, then 8.
    later = [*steps[:3], (7.0, "s", "SA", 500, 101), (15.0, "s", "SA", 500, 101)]
    assert analyze(*later).synack_backoff.matches == [
        "Linux listener, TCP_DEFER_ACCEPT (7 s, then 8, 16 s ...)"
    ]
    unanswered = [steps[0], steps[1], steps[3]]
    backoff = analyze(*unanswered).synack_backoff
    assert not backoff.after_bare_ack and backoff.matches == ["Windows 7 and older (3 s, doubling)"]


def test_a_handshake_begun_before_the_capture_and_acknowledged_opened_a_connection() -> None:
    """midstart (a capture begun between a SYN and its SYN/ACK, recorded): the SYN/ACK, the
    client's ACK, data and a close. Its SYN cannot be checked (still "incomplete"), but the
    connection opened: counted mid-stream, not as a handshake that failed, and not
    listed as interesting for it."""
    result = analyze(
        ("s", "SA", 500, 101), ("c", "A", 101, 501), ("c", "PA", 101, 501, 5), ("s", "A", 501, 106),
        ("c", "FA", 106, 501), ("s", "FA", 501, 107), ("c", "A", 107, 502),
    )  # fmt: skip
    h = result.handshake
    assert h.status == "incomplete" and h.opened_unseen and h.synack_acked_by.frame == 2
    assert h.explain().startswith("handshake begun before the capture: its SYN not captured")
    assert not result.interesting
    summary = Summary()
    summary.add(result)
    assert {k: n for k, n in summary.handshakes.items() if n} == {"not_seen": 1}
    assert outcome(result) == "closed"
    # Without the client's ACK it is what it was: a handshake the capture cannot tell finished.
    cut = analyze(("s", "SA", 500, 101))
    assert not cut.handshake.opened_unseen and cut.interesting and outcome(cut) == "incomplete"
    # Nor does an ACK at another sequence number, or of more than the server sent, show it.
    for seq, ack in ((777777, 501), (101, 900000000)):
        stray = analyze(("s", "SA", 500, 101), ("c", "A", seq, ack))
        assert not stray.handshake.opened_unseen and outcome(stray) == "incomplete"


# -- backoff -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("times", "pattern", "factor"),
    [
        ([0], "none", None),
        ([0, 3], "single", None),
        ([0, 1, 2, 3, 4, 5], "linear", 1.0),
        ([0, 1, 3, 7, 15], "exponential", 2.0),
        ([0, 3, 9, 21], "exponential", 2.0),
        ([0, 1, 2, 3, 4, 5, 7, 11, 19], "linear-then-exponential", 2.0),
        ([0, 1.024, 2.048, 3.072, 4.096, 5.12, 7.136, 11.232], "linear-then-exponential", 2.0),
        ([0, 0.005, 1.0], "irregular", None),
        ([0, 1, 1.5, 5], "irregular", None),
        ([0, 1.0, 0.5], "unmeasured", None),  # a clock stepped back between two SYNs
    ],
)
def test_backoff_patterns(times, pattern, factor) -> None:
    backoff = classify_backoff(times)
    assert backoff.pattern == pattern
    if factor is None:
        assert backoff.factor is None or pattern == "linear"
    else:
        assert backoff.factor == pytest.approx(factor, rel=0.05)


def test_linear_then_exponential_counts_the_linear_phase() -> None:
    backoff = classify_backoff([0, 1, 2, 3, 4, 5, 7, 11])
    assert backoff.linear_count == 5 and backoff.initial_rto == 1


# -- close ---------------------------------------------------------------------------------------


def close_of(*tail: tuple):
    return analyze(*HANDSHAKE, *tail).close


def test_four_way_close() -> None:
    close = close_of(("c", "FA", 101, 501), ("s", "A", 501, 102), ("s", "FA", 501, 102), ("c", "A", 102, 502))
    assert (close.first_fin, close.shape, close.time_wait) == ("client", "four-way", "client")


def test_a_fin_never_acknowledged_leaves_the_close_not_completed() -> None:
    """The server's FIN sent three times, never acknowledged (sv_bug-5437-02 #6): the FINs
    made a four-way shape, but the close did not complete and no end is said to hold
    TIME_WAIT; the text says which FIN."""
    fins = [("s", "FA", 501, 102)] * 3
    close = close_of(("c", "FA", 101, 501), ("s", "A", 501, 102), *fins)
    assert (close.shape, close.time_wait) == ("four-way", None)
    assert close.unacknowledged is not None and [f.frame for f in close.unacknowledged] == [6]
    assert (
        close.explain()
        == "client closed first; four-way close, not completed: the server's FIN (frame 6) never acknowledged"
    )
    done = close_of(("c", "FA", 101, 501), ("s", "A", 501, 102), *fins, ("c", "A", 102, 502))
    assert (done.unacknowledged, done.time_wait) == (None, "client")
    assert "not completed" not in done.explain()


def test_three_segment_close() -> None:
    close = close_of(("c", "FA", 101, 501), ("s", "FA", 501, 102), ("c", "A", 102, 502))
    assert (close.first_fin, close.shape, close.time_wait) == ("client", "three-segment", "client")


def test_simultaneous_close_both_hold_time_wait() -> None:
    close = close_of(("c", "FA", 101, 501), ("s", "FA", 501, 101), ("c", "A", 102, 502), ("s", "A", 502, 102))
    assert (close.shape, close.time_wait) == ("simultaneous", "both")


def test_half_close_data_flows_after_the_fin() -> None:
    close = close_of(
        ("c", "FA", 101, 501),
        ("s", "A", 501, 102),
        ("s", "PA", 501, 102, 100),
        ("c", "A", 102, 601),
        ("s", "FA", 601, 102),
        ("c", "A", 102, 602),
    )
    assert (close.first_fin, close.shape, close.time_wait) == ("client", "half-close", "client")


def test_half_close_data_the_path_put_behind_the_second_fin() -> None:
    """helper-140's jitter, captured at the client: the server's data, which acknowledges the
    client's FIN (sent after it arrived), came in behind the server's FIN: still a half-close
    (it read three-segment)."""
    close = close_of(
        ("c", "FA", 101, 501),
        ("s", "FA", 601, 102),
        ("s", "PA", 501, 102, 100),
        ("c", "A", 102, 602),
    )
    assert (close.first_fin, close.shape) == ("client", "half-close")
    # Data sent before the FIN arrived (it does not acknowledge it) is no half-close.
    before = close_of(
        ("c", "FA", 101, 501), ("s", "FA", 601, 102), ("s", "PA", 501, 101, 100), ("c", "A", 102, 602)
    )
    assert before.shape != "half-close"


def test_a_resend_of_data_sent_before_the_first_fin_is_no_half_close() -> None:
    """helper-119: the server's reply, sent before the client's FIN, resent after it (a tail
    loss probe) is no data after the FIN: three segments, as without the resend. New data
    after the FIN is a half-close."""
    resend = close_of(
        ("s", "PA", 501, 101, 2), ("c", "FA", 101, 503), ("s", "PA", 501, 101, 2), ("s", "FA", 503, 102),
        ("c", "A", 102, 504),
    )  # fmt: skip
    assert resend.shape == "three-segment"
    new = close_of(
        ("s", "PA", 501, 101, 2), ("c", "FA", 101, 503), ("s", "PA", 503, 101, 2), ("s", "FA", 505, 102),
        ("c", "A", 102, 506),
    )  # fmt: skip
    assert new.shape == "half-close"


def test_a_one_fin_close_whose_peer_sent_data_after_it_had_not_closed_before_the_capture() -> None:
    """helper-120's mqtt: begun mid-connection, the one FIN's peer "may have closed before it
    began", though it sent data after that FIN, which an end that closed cannot."""
    spoke = conversation(("c", "PA", 101, 501, 10), ("s", "PA", 501, 111, 10), ("c", "FA", 111, 511),
                         ("s", "PA", 511, 112, 4))  # fmt: skip
    [result] = analyze_segments(spoke).connections
    assert result.close.shape == "one-fin" and "may have closed before it began" not in result.close.explain()
    silent = conversation(
        ("c", "PA", 101, 501, 10), ("s", "A", 501, 111), ("c", "FA", 111, 501), ("s", "A", 501, 112)
    )
    [result] = analyze_segments(silent).connections
    assert "the server may have closed before it began" in result.close.explain()


def test_one_fin_and_reset_shapes() -> None:
    assert close_of(("c", "FA", 101, 501), ("s", "A", 501, 102)).shape == "one-fin"
    assert close_of(("c", "FA", 101, 501), ("s", "R", 501, 0)).shape == "fin-then-reset"
    reset = close_of(("c", "RA", 101, 501))
    assert (reset.shape, reset.ending, reset.reset_by) == ("reset", "reset", "client")
    assert reset.reset is not None and reset.reset.frame == 4  # the JSON's reset_frame
    assert analyze(*HANDSHAKE).close.shape == "none"


def test_fins_then_a_reset_before_the_close_completed_end_fin_then_reset() -> None:
    """FIN, ACK, FIN, then a RST for the second FIN (the first closer's socket gone): the FINs'
    shape stays four-way (the JSON's `shape`), the ending is fin-then-reset, and the text
    says the RST ended it."""
    close = close_of(("c", "FA", 101, 501), ("s", "A", 501, 102), ("s", "FA", 501, 102), ("c", "R", 102, 0))
    assert (close.shape, close.ending, close.reset_by) == ("four-way", "fin-then-reset", "client")
    assert close.reset is not None and close.reset.frame == 7
    assert "four-way" not in close.explain()
    assert "a RST from the client (frame 7) ended the connection" in close.explain()
    assert close.explain().endswith("fin-then-reset close")
    # A RST after the close completed (the second FIN acknowledged) ends nothing.
    done = close_of(
        ("c", "FA", 101, 501),
        ("s", "A", 501, 102),
        ("s", "FA", 501, 102),
        ("c", "A", 102, 502),
        ("c", "R", 102, 0),
    )
    assert (done.shape, done.ending, done.reset) == ("four-way", "four-way", None)
    # FINs crossing, the client's never acknowledged, then the client's RST (redis killed
    # mid-close): not a simultaneous close completed, nor "closed normally" in the summary.
    crossed = close_of(("c", "FA", 101, 501), ("s", "FA", 501, 101), ("c", "A", 102, 502), ("c", "R", 102, 0))
    assert (crossed.shape, crossed.ending, crossed.reset_by) == ("simultaneous", "fin-then-reset", "client")
    crossed = close_of(
        ("c", "FA", 101, 501),
        ("s", "FA", 501, 101),
        ("c", "A", 102, 502),
        ("s", "A", 502, 102),
        ("c", "R", 102, 0),
    )
    assert (crossed.ending, crossed.reset) == ("simultaneous", None)
    # One FIN, then a RST: the RST is named too.
    one = close_of(("c", "FA", 101, 501), ("s", "R", 501, 0))
    assert (one.ending, one.reset_by) == ("fin-then-reset", "server")


# -- resets --------------------------------------------------------------------------------------


def causes(*steps: tuple) -> list[tuple[str, str, str]]:
    return [(r.sender, r.state, r.cause) for r in analyze(*steps).resets]


def test_rst_causes() -> None:
    assert causes(("c", "S", 100, 0), ("s", "RA", 0, 101)) == [("server", "CLOSED", "refused")]
    assert causes(*HANDSHAKE, ("c", "RA", 101, 501)) == [("client", "ESTABLISHED", "abort")]
    assert causes(
        *HANDSHAKE, ("c", "FA", 101, 501), ("s", "A", 501, 102), ("s", "PA", 501, 102, 10), ("c", "R", 102, 0)
    ) == [("client", "FIN_WAIT_2", "data_after_close")]
    # Half closed (shutdown(SHUT_WR)): it read on after its FIN, then close() with data
    # unread: its RST/ACK acknowledges all that came, answering none of it.
    assert causes(
        *HANDSHAKE, ("c", "FA", 101, 501), ("s", "A", 501, 102), ("s", "PA", 501, 102, 10),
        ("c", "A", 102, 511), ("s", "PA", 511, 102, 10), ("c", "RA", 102, 521),
    ) == [("client", "FIN_WAIT_2", "abort")]  # fmt: skip
    # Never read on (closed): its RST/ACK acknowledging the late data answers it all the same.
    assert causes(
        *HANDSHAKE, ("c", "FA", 101, 501), ("s", "A", 501, 102), ("s", "PA", 501, 102, 10),
        ("c", "RA", 102, 511),
    ) == [("client", "FIN_WAIT_2", "data_after_close")]  # fmt: skip
    # Read on, then closed: data that came after it, unacknowledged, is answered by the RST.
    assert causes(
        *HANDSHAKE, ("c", "FA", 101, 501), ("s", "A", 501, 102), ("s", "PA", 501, 102, 10),
        ("c", "A", 102, 511), ("s", "PA", 511, 102, 10), ("c", "R", 102, 0),
    ) == [("client", "FIN_WAIT_2", "data_after_close")]  # fmt: skip
    assert causes(
        *HANDSHAKE, ("c", "FA", 101, 501), ("s", "FA", 501, 102), ("c", "A", 102, 502), ("c", "R", 102, 0)
    ) == [("client", "TIME_WAIT", "after_close")]
    assert causes(("c", "PA", 1000, 2000, 10), ("s", "R", 2000, 0)) == [("server", "CLOSED", "no_connection")]


def test_refusal_evidence_names_the_syn_and_the_rst() -> None:
    [reset] = analyze(("c", "S", 100, 0), ("s", "RA", 0, 101)).resets
    assert reset.evidence == [1, 2]
    assert "nothing listens on port 80" in reset.explanation


def test_a_rst_into_time_wait_says_it_ends_it_on_linux() -> None:
    """TIME_WAIT assassination: the peer, closed, answers a stray ACK of the TIME_WAIT end
    with RST; Linux drops the TIME_WAIT socket (tcp_rfc1337=0), RFC 1337 stacks do not."""
    result = analyze(
        *HANDSHAKE, ("c", "FA", 101, 501), ("s", "A", 501, 102), ("s", "FA", 501, 102), ("c", "A", 102, 502),
        ("c", "A", 102, 502), ("s", "R", 502, 0),
    )  # fmt: skip
    [reset] = result.resets
    assert reset.cause == "after_close"
    assert "ends the client's TIME_WAIT early" in reset.explanation and "tcp_rfc1337" in reset.explanation
    assert [state.value for _, state in result.states["client"][-2:]] == ["TIME_WAIT", "CLOSED"]
    # A RST from the TIME_WAIT end itself ends nobody's TIME_WAIT.
    [own] = analyze(
        *HANDSHAKE, ("c", "FA", 101, 501), ("s", "FA", 501, 102), ("c", "A", 102, 502), ("c", "R", 102, 0)
    ).resets
    assert "TIME_WAIT early" not in own.explanation


def test_a_refusal_after_unanswered_syns_says_the_listener_was_gone_by_then() -> None:
    """SYNs dropped by a full accept queue, then the listener closed: the last SYN refused.
    "Nothing listens" alone would say no listener was ever there."""
    [reset] = analyze(
        (0.0, "c", "S", 100, 0), (1.0, "c", "S", 100, 0), (3.0, "c", "S", 100, 0), (3.0001, "s", "RA", 0, 101)
    ).resets
    assert reset.cause == "refused"
    assert reset.explanation.startswith("nothing listened on port 80 by the last SYN (frame 3)")
    assert "the 2 SYNs before it got no answer" in reset.explanation
    assert reset.evidence == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("times", "sysctls", "expected"),
    [
        ([0, 1, 2, 3, 4, 5, 7, 11], None, ["Linux 6.5+ default / macOS / FreeBSD (1 s x5, then doubling)"]),
        ([0, 1, 3, 7], None, ["classic Linux / Windows 8+ (1 s, doubling)"]),
        ([0, 3, 9], None, ["Windows 7 and older (3 s, doubling)"]),
        ([0, 2, 3], None, []),
        (
            [0, 1, 3, 7],
            {"net.ipv4.tcp_syn_linear_timeouts": "0"},
            ["the recorded kernel settings", "classic Linux / Windows 8+ (1 s, doubling)"],
        ),
        (
            [0, 1, 3, 7],
            {"net.ipv4.tcp_syn_linear_timeouts": "4"},
            ["classic Linux / Windows 8+ (1 s, doubling)"],
        ),
    ],
)
def test_backoff_is_matched_against_known_schedules(times, sysctls, expected) -> None:
    assert matching_schedules(classify_backoff(times), sysctls) == expected


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        # classic Linux's 1 s resend not captured: 3 s is its 1 + 2 s
        ([0, 3, 7, 15], ("classic Linux / Windows 8+ (1 s, doubling)", 1, [0, 2, 3, 4])),
        # Linux 6.5+'s fourth SYN not captured, in its linear phase
        (
            [0, 1, 2, 4, 5, 7, 11],
            ("Linux 6.5+ default / macOS / FreeBSD (1 s x5, then doubling)", 1, [0, 1, 2, 4, 5, 6, 7]),
        ),
        ([0, 1, 3, 7], None),  # matched as it is: nothing missed
        ([0, 5, 6], None),  # no schedule with two missed
        ([0, 2], None),  # one interval tells too little (Linux 6.5+ with one missed)
        ([0, 3.4, 8.0], None),  # 3.4 s and 4.6 s: too far from 1 + 2 s and 4 s for that claim
        ([0, 1, 4], ("Linux 6.5+ default / macOS / FreeBSD (1 s x5, then doubling)", 2, [0, 1, 4])),
    ],
)
def test_a_backoff_with_a_transmission_not_captured_names_the_schedule_it_would_match(
    times, expected
) -> None:
    """(helper-104's random-loss captures) A SYN lost before the capture point left an
    interval that spans two of the schedule's, and the backoff matched none, unhedged."""
    backoff = classify_backoff(times)
    apply_schedules(backoff)
    found = backoff.if_missed
    assert (found and (found.schedule, found.missed, found.positions)) == expected
    if expected is not None:
        assert backoff.matches == []
        missed = "1 transmission of it is" if expected[1] == 1 else "2 transmissions of it are"
        assert (
            f"; matches {expected[0]} if {missed} not in the capture (the interval of " in backoff.describe()
        )


def test_a_refused_connect_retried_is_named_no_schedule_with_resends_missing() -> None:
    """(helper-105) SYNs at 0, 3 and 7 s, each refused by a RST/ACK: connect() called again,
    no timer's backoff, and no schedule 'if one is not in the capture'."""
    steps = [(at + dt, who, flags, seq, ack) for at in (0.0, 3.0, 7.0)
             for dt, who, flags, seq, ack in ((0.0, "c", "S", 100, 0), (0.0001, "s", "RA", 0, 101))]  # fmt: skip
    [result] = analyze_segments(conversation(*steps)).connections
    assert result.syn_backoff.after_refusals == 2
    assert result.syn_backoff.if_missed is None


def test_fast_open_synack_acknowledges_the_syn_data() -> None:
    result = analyze(("c", "S", 100, 0, 20), ("s", "SA", 500, 121), ("c", "A", 121, 501))
    assert result.handshake.status == "complete"
    assert "Fast Open" in result.handshake.checks[0].what
    assert [s.value for _t, s in result.states["client"]] == ["CLOSED", "SYN_SENT", "ESTABLISHED"]


# -- sequence analysis (Wireshark's rules) ------------------------------------------------------


def kinds(*steps: tuple) -> dict[int, list[str]]:
    return analyze(*HANDSHAKE, *steps).sequence.flags


def test_retransmission_and_spurious_retransmission() -> None:
    got = kinds(("c", "PA", 101, 501, 10), (0.3, "c", "PA", 101, 501, 10))
    assert got[5] == ["retransmission"]
    got = kinds(("c", "PA", 101, 501, 10), ("s", "A", 501, 111), (0.3, "c", "PA", 101, 501, 10))
    assert got[6] == ["spurious_retransmission", "retransmission"]


def test_an_acknowledgment_field_of_0_acknowledges_nothing() -> None:
    """A RST without ACK carries 0 in the field: packet-tcp.c takes a last ACK of 0 as none
    (tshark 4.0.17 on this exchange: no flag on frame 7; with 250 bytes past the server's ISN
    in the RST's field instead, a spurious retransmission). The server's numbers near 2^32
    put 0 ahead of its data (iperf3 -R, a client's RST at its end: every later segment was
    "spurious")."""
    isn = 4294967000
    steps = (
        ("c", "S", 100, 0),
        ("s", "SA", isn, 101),
        ("c", "A", 101, isn + 1),
        ("s", "PA", isn + 1, 101, 100),
        ("c", "A", 101, isn + 101),
    )
    got = analyze(*steps, ("c", "R", 101, 0), ("s", "PA", isn + 101, 101, 100)).sequence.flags
    assert 7 not in got
    got = analyze(*steps, ("c", "R", 101, isn + 250), ("s", "PA", isn + 101, 101, 100)).sequence.flags
    assert got[7] == ["spurious_retransmission", "retransmission"]


def test_duplicate_acks_then_fast_retransmission() -> None:
    got = kinds(
        ("c", "PA", 101, 501, 10),
        ("c", "PA", 111, 501, 10),  # the first one is lost
        ("s", "A", 501, 101),
        ("s", "A", 501, 101),
        ("s", "A", 501, 101),
        ("c", "PA", 101, 501, 10),
    )
    assert got[7] == ["duplicate_ack"] and got[8] == ["duplicate_ack"]
    assert got[9] == ["fast_retransmission", "retransmission"]


def test_keep_alive_and_its_ack_zero_window_and_gaps() -> None:
    got = kinds(("c", "A", 100, 501), ("s", "A", 501, 101))
    assert got == {4: ["keep_alive"], 5: ["keep_alive_ack"]}
    segments = conversation(*HANDSHAKE)
    zero = dataclasses.replace(segments[-1], frame=4, window=0, time=101.0, stamp=UNSEEN)
    [result] = analyze_segments([*segments, zero]).connections
    assert result.sequence.flags[4] == ["zero_window"]
    got = kinds(("c", "PA", 201, 501, 10))
    assert got[4] == ["lost_segment"]
    got = kinds(("s", "A", 501, 999))
    assert "ack_lost_segment" in got[4]


def test_an_ack_of_a_segment_missing_from_the_capture_is_flagged_once_for_its_hole() -> None:
    """Wireshark's "max seq to be acked": what was sent without a hole. A segment missing from
    the capture gives "previous segment not captured" after it and "ACKed segment that wasn't
    captured" on the ACK covering it (tshark 4.0.17 on a helper's crafted capture: frames 5
    and 6, and 28 of 28 such flags on the corpus, where the rule of the highest number seen
    gave 9); the next ACKs of a hole passed are not flagged again."""
    got = kinds(
        ("c", "PA", 101, 501, 10),
        ("s", "A", 501, 111),
        ("c", "PA", 121, 501, 10),  # 111..120 not captured
        ("s", "A", 501, 131),  # acknowledges the hole
        ("c", "PA", 131, 501, 10),
        ("s", "A", 501, 141),
    )
    assert got == {6: ["lost_segment"], 7: ["ack_lost_segment"]}
    # An ACK of data never seen, repeated (a duplicate ACK), is flagged once; the ACK after more
    # data is again (tshark 4.0.17: frames 5 and 8, frame 6 a duplicate ACK alone).
    got = kinds(
        ("c", "PA", 101, 501, 10),
        ("s", "A", 501, 121),
        ("s", "A", 501, 121),
        ("c", "PA", 121, 501, 10),
        ("s", "A", 501, 131),
    )
    assert got == {
        5: ["ack_lost_segment"],
        6: ["duplicate_ack"],
        7: ["lost_segment"],
        8: ["ack_lost_segment"],
    }
    # The hole filled late (a resend that starts at it) moves the mark on: nothing more flagged.
    got = kinds(
        ("c", "PA", 101, 501, 10),
        ("c", "PA", 121, 501, 10),
        ("c", "PA", 111, 501, 10),
        ("s", "A", 501, 131),
    )
    assert "ack_lost_segment" not in got.get(7, []) and got[5] == ["lost_segment"]


def test_a_window_update_is_the_same_ack_with_another_window() -> None:
    """tshark 4.0.17 flags [TCP Window Update] a pure ACK at the next seq with its sender's last
    ACK and a window that is neither that of its last segment nor zero; the same window again
    is a duplicate ACK."""
    segments = conversation(*HANDSHAKE, ("c", "PA", 101, 501, 10), ("s", "A", 501, 111))
    opened = dataclasses.replace(
        segments[-1], frame=6, window=30000, time=segments[-1].time + 0.5, stamp=UNSEEN
    )
    again = dataclasses.replace(opened, frame=7, time=opened.time + 0.001, stamp=UNSEEN)
    [result] = analyze_segments([*segments, opened, again]).connections
    assert result.sequence.flags == {6: ["window_update"], 7: ["duplicate_ack"]}
    assert segment_kinds(result) == {6: "window update", 7: "dup ACK"}


def test_ecn_flags_are_named_and_its_negotiation_said() -> None:
    """RFC 3168: a SYN with ECE and CWR asks for ECN, a SYN/ACK with ECE agrees; later, ECE
    echoes congestion and CWR answers it: named among the flags, and as what they are
    (findings/ecn.py), which the ladder draws after the resends (a congested bulk run may
    echo on every ACK)."""
    from analyzer.output.labels import packet_label

    segments = conversation(
        ("c", "SEC", 100, 0), ("s", "SAE", 500, 101), ("c", "A", 101, 501),
        ("c", "PA", 101, 501, 10), ("s", "AE", 501, 111), ("c", "PAC", 111, 501, 10),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    assert result.handshake.status == "complete"
    assert "; ECN agreed (the SYN asked with ECE and CWR" in result.handshake.explain()
    assert segment_kinds(result) == {
        1: "ECN asked",
        2: "ECN agreed",
        5: "congestion echo",
        6: "window reduced",
    }
    signals = find_ecn_signals(result.connection, result.handshake)
    assert signals.explain() == (
        "the server echoed congestion (ECE) on 1 segment (frame 5): packets to it were marked CE on the way; "
        "the client reduced its congestion window (CWR) 1 time (frame 6)"
    )
    assert connection_to_dict(result, Clock(0.0))["ecn_signals"] == {
        "echo_frames": {"server": [5]},
        "cwr_frames": {"client": [6]},
    }
    labels = [packet_label(s, None, None).split(" seq")[0] for s in segments]
    assert labels == ["SYN/ECE/CWR", "SYN/ACK/ECE", "ACK", "PSH/ACK", "ACK/ECE", "PSH/ACK/CWR"]
    # A classic client does not read AE: ECE without CWR agrees, whatever AE says.
    segments[1].flags |= 0x100
    [result] = analyze_segments(segments).connections
    assert result.handshake.ecn_agreed and result.handshake.ecn_negotiated == ("ECN", "ECN")
    segments[1].flags &= ~0x100
    # A SYN/ACK with ECE to a SYN that did not ask agrees to nothing.
    segments[0].flags = SYN
    [result] = analyze_segments(segments).connections
    assert segment_kinds(result) == {}
    assert "ECN" not in result.handshake.explain()
    assert not find_ecn_signals(result.connection, result.handshake)
    assert connection_to_dict(result, Clock(0.0))["ecn_signals"] is None


def test_an_ecn_setup_syn_sent_again_without_ecn_is_the_senders_fallback() -> None:
    """A path that drops SYNs with ECE and CWR: Linux sends its SYN again without them
    (tcp_ecn_fallback) and the server answers that one. The server refused nothing: it was
    not asked (the first SYN's request was read as the one the SYN/ACK answered). A SYN/ACK
    with ECE to a later SYN that still asks agrees with that one."""
    segments = conversation(
        ("c", "SEC", 100, 0), (1.0, "c", "S", 100, 0), ("s", "SA", 500, 101), ("c", "A", 101, 501)
    )
    [result] = analyze_segments(segments).connections
    said = result.handshake.explain()
    assert (
        "the one sent again (frame 2) did not: its sender fell back" in said and "did not agree" not in said
    )
    assert not result.handshake.ecn_agreed
    segments = conversation(
        ("c", "SEC", 100, 0), (1.0, "c", "SEC", 100, 0), ("s", "SAE", 500, 101), ("c", "A", 101, 501)
    )
    [result] = analyze_segments(segments).connections
    assert result.handshake.ecn_agreed and "ECN agreed" in result.handshake.explain()


# RFC 9768 Table 2: a SYN asking for Accurate ECN (AE, CWR, ECE) and each SYN/ACK's answer:
# (its flags, what was agreed, what the handshake line says of it).
ACCECN_ANSWERS = [
    ("SAC", "AccECN", "answered with CWR: the SYN arrived Not-ECT"),
    ("SACE", "AccECN", "answered with CWR and ECE: the SYN arrived marked ECT(1)"),
    ("SAN", "AccECN", "answered with AE: the SYN arrived marked ECT(0)"),
    ("SACN", "AccECN", "answered with AE and CWR: the SYN arrived marked CE: congestion on the way"),
    ("SAEN", "AccECN", "a combination kept for later use, taken as AccECN"),
    ("SAE", "ECN", "the SYN/ACK agreed to classic ECN (ECE): its sender has no AccECN"),
    ("SA", None, "the SYN asked for Accurate ECN (AE, CWR and ECE), the SYN/ACK did not agree"),
    ("SACEN", None, "the SYN/ACK reflected its flags: a server that does not know them, no ECN"),
]


@pytest.mark.parametrize(("synack", "agreed", "said"), ACCECN_ANSWERS, ids=[a[0] for a in ACCECN_ANSWERS])
def test_an_accurate_ecn_syn_and_each_answer_of_rfc_9768s_table(synack, agreed, said) -> None:
    """Apple's stacks ask for Accurate ECN: read as classic ECN, the SYN/ACK "did not agree"
    where it had, and the ACE counter on later segments (ECE set whenever its lowest bit is)
    was congestion echoed on every ACK."""
    segments = conversation(
        ("c", "SECN", 100, 0), ("s", synack, 500, 101), ("c", "AEN", 101, 501),
        ("c", "PAEN", 101, 501, 10), ("s", "AEN", 501, 111),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    assert said in result.handshake.explain()
    assert result.handshake.ecn_negotiated == ("AccECN", agreed or "")
    handshake = connection_to_dict(result, Clock(0.0))["handshake"]
    assert (handshake["ecn_asked"], handshake["ecn_agreed"]) == ("AccECN", agreed)
    kinds = segment_kinds(result)
    assert kinds[1] == "AccECN asked" and kinds.get(2) == (f"{agreed} agreed" if agreed else None)
    # Classic ECN's signals only where classic ECN was agreed: there ECE echoes congestion.
    assert result.handshake.ecn_agreed == (agreed == "ECN")
    signals = find_ecn_signals(result.connection, result.handshake)
    assert (signals is not None) == (agreed == "ECN") == ("congestion echo" in kinds.get(4, ""))


def test_an_accurate_ecn_syn_sent_again_without_its_flags_is_the_senders_fallback() -> None:
    """RFC 9768 3.1.4.1: after a second AccECN SYN goes unanswered, the client sends it
    without AE, CWR and ECE; the SYN/ACK answering that one refused nothing."""
    segments = conversation(
        ("c", "SECN", 100, 0), (1.0, "c", "SECN", 100, 0), (3.0, "c", "S", 100, 0),
        ("s", "SA", 500, 101), ("c", "A", 101, 501),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    said = result.handshake.explain()
    assert (
        "; the first SYN asked for Accurate ECN (AE, CWR and ECE), the one sent again (frame 3) did not"
        in said
    )
    assert result.handshake.ecn_negotiated == ("AccECN", "")


def test_out_of_order_is_a_segment_arriving_just_behind() -> None:
    got = kinds(("c", "PA", 111, 501, 10), (0.0041, "c", "PA", 101, 501, 10))
    assert got == {4: ["lost_segment"], 5: ["out_of_order"]}


def test_a_connection_on_a_used_4_tuple_names_the_earlier_one() -> None:
    refused_twice = conversation(
        ("c", "S", 100, 0), ("s", "RA", 0, 101), (0.5, "c", "S", 900, 0), ("s", "RA", 0, 901)
    )
    first, second = analyze_segments(refused_twice).connections
    assert (first.connection.reuses_ports_of, second.connection.reuses_ports_of) == (None, 0)


def test_a_resend_arriving_just_behind_newer_data_is_out_of_order() -> None:
    """Wireshark compares times, not copies: the 10 bytes at 101 again, 1 ms after those at
    111 and within the iRTT (2 ms), are out-of-order (tshark 4.0.17 says so of this very
    exchange); 3 ms after them, past the iRTT, a retransmission."""
    got = kinds(("c", "PA", 101, 501, 10), ("c", "PA", 111, 501, 10), ("c", "PA", 101, 501, 10))
    assert got == {6: ["out_of_order"]}
    got = kinds(("c", "PA", 101, 501, 10), ("c", "PA", 111, 501, 10), (0.0071, "c", "PA", 101, 501, 10))
    assert got == {6: ["retransmission"]}


def test_spurious_comes_before_out_of_order_and_new_data_after_a_probe_byte_is_new() -> None:
    """packet-tcp.c's order, as tshark 4.0.17 flags these very exchanges: data all acknowledged
    is a spurious retransmission even 1 ms behind newer data (within the iRTT; here its first
    5 bytes again, tshark's verdict on all 10); 10 bytes from
    one below the next expected number add data, so they are no resend at all."""
    got = kinds(
        ("c", "PA", 101, 501, 10), ("s", "A", 501, 111), ("c", "PA", 111, 501, 10), ("c", "PA", 101, 501, 5)
    )
    assert got == {7: ["spurious_retransmission", "retransmission"]}
    assert kinds(("c", "PA", 101, 501, 10), ("c", "PA", 110, 501, 10)) == {}


def test_a_fin_resent_right_behind_itself_is_a_retransmission() -> None:
    """The FIN counts in 'ends where the newest segment ended': not out-of-order."""
    got = kinds(("c", "FA", 101, 501), ("c", "FA", 101, 501))
    assert got == {5: ["retransmission"]}


def test_duplicate_acks_do_not_need_the_ack_flag() -> None:
    """packet-tcp.c reads every segment's acknowledgment field: segments with no flag at all
    (nmap's null-scan probes) repeating it are duplicate ACKs; tshark 4.0.17 flags frames 2
    and 3 of three such segments, none when the fields differ."""
    same = [("c", "", 1000, 777), (0.1, "c", "", 1000, 777), (0.2, "c", "", 1000, 777)]
    assert analyze(*same).sequence.flags == {2: ["duplicate_ack"], 3: ["duplicate_ack"]}
    differ = [("c", "", 1000, 777), (0.1, "c", "", 1000, 888), (0.2, "c", "", 1000, 999)]
    assert analyze(*differ).sequence.flags == {}


def test_the_default_picture_is_the_first_connection_the_text_calls_interesting() -> None:
    """Two complete connections; the second resent data, the first nothing: the picture drawn
    when no --connection is given is the second, as the text report lists it first."""
    from analyzer.output.selection import pick_connection
    from analyzer.output.text_report import interesting_reasons

    plain = conversation(*HANDSHAKE, ("c", "PA", 101, 501, 10), ("s", "A", 501, 111))
    resent = conversation(*HANDSHAKE, ("c", "PA", 101, 501, 10), (0.5, "c", "PA", 101, 501, 10),
                          ("s", "A", 501, 111), start=200.0)  # fmt: skip
    for segment in resent:  # another client port
        segment.sport, segment.dport = (40001 if p == 40000 else p for p in (segment.sport, segment.dport))
        segment.frame += len(plain)
    analysis = analyze_segments(plain + resent)
    first, second = analysis.connections
    assert not interesting_reasons(first) and not first.interesting
    assert interesting_reasons(second) == ["1 retransmission"] and second.interesting
    chosen, note = pick_connection(analysis, None)
    assert (
        chosen is second and note is not None and "drawing #1 (the first with a RST, a retransmission" in note
    )


def test_a_dropped_rst_resets_nothing_for_a_later_one() -> None:
    """zeek_rst-inject-rae: a RST without ACK reaches the client in SYN_SENT (dropped: it
    acknowledges nothing), then the handshake and data; the server's own RST of the working
    connection is its abort, not 'after a reset' of the dropped one."""
    segments = conversation(
        ("c", "S", 100, 0), ("s", "R", 0, 0), ("s", "SA", 500, 101), ("c", "A", 101, 501),
        ("c", "PA", 101, 501, 25), ("s", "A", 501, 126), ("s", "RA", 501, 126),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    first, second = result.resets
    assert (first.segment.frame, first.accepted) == (2, False)
    assert (second.segment.frame, second.cause) == (7, "abort")


def test_a_fin_to_an_end_whose_retransmissions_gave_up_is_answered_as_for_no_connection() -> None:
    """The client's request resent until its timer gave up silently (Linux: tcp_retries2,
    TCP_USER_TIMEOUT), then the server's FIN, then the client's RST without ACK at the FIN's
    acknowledgment number: the client had ended first; the RST ended no close."""
    resends = [(0.01 + at, "c", "PA", 101, 501, 17) for at in (0.0, 0.2, 0.6, 1.4, 3.0)]
    result = analyze(*HANDSHAKE, *resends, (5.0, "s", "FA", 501, 101), (5.0001, "c", "R", 101, 0))
    [reset] = result.resets
    assert reset.cause == "no_connection"
    assert "its 17-byte segment (frame 4) was sent 5 times" in reset.explanation
    assert reset.evidence[:6] == [4, 5, 6, 7, 8, 9]
    assert result.close.explain() == (
        "the client's connection had ended without a packet before the server closed (FIN, frame 9): "
        "the client's RST (frame 10) answered that FIN as for no connection"
    )


def test_the_sends_of_a_segment_before_a_timer_gave_up_count_its_first_before_other_data() -> None:
    """A blackholed path (helper-99's e6): the client sent its segment, two more after it, then
    the timer resent the first five times: sent 6 times, as the retransmission diagnosis
    says, counted from its first send (frame 4), not 5 from the first copy."""
    sends = [
        (0.01, "c", "A", 101, 501, 1448),
        (0.01, "c", "A", 1549, 501, 1448),
        (0.01, "c", "PA", 2997, 501, 104),
    ]
    resends = [(0.21 + at, "c", "A", 101, 501, 1448) for at in (0.0, 0.4, 1.2, 2.8, 6.0)]
    result = analyze(
        *HANDSHAKE, *sends, *resends, (26.0, "s", "PA", 501, 101, 10), (26.0001, "c", "R", 101, 0)
    )
    [reset] = result.resets
    assert reset.cause == "no_connection"
    assert (
        "its 1448-byte segment (frame 4) was sent 6 times with nothing from the server" in reset.explanation
    )
    [timeout] = [d for d in result.diagnoses if d.kind == "retransmission_timeout"]
    assert "was sent 6 times" in timeout.sentence


def test_a_rst_taken_before_any_fin_ends_the_connection_a_later_fin_does_not_close_it() -> None:
    """A firewall's RST in the client's name closes the server (frame 6); the client, unaware,
    closes later (FIN, frame 7) and the server's kernel answers it for no connection: the
    connection ended by the first RST, not by a FIN then a RST."""
    result = analyze(
        *HANDSHAKE, ("s", "PA", 501, 101, 5), ("c", "R", 101, 0), (5.0, "c", "FA", 101, 501),
        ("s", "R", 501, 0),
    )  # fmt: skip
    close = result.close
    assert (close.shape, close.ending, close.reset.frame) == ("reset", "reset", 5)
    assert close.explain() == (
        "ended by RST (frame 5, from the client) before any FIN; the client's FIN (frame 6) came after it"
    )


def test_one_fin_in_a_capture_begun_mid_connection_does_not_say_who_closed_first() -> None:
    """No handshake: the server may have sent its FIN before the capture began (the client's
    FIN then closes a half-closed connection), or not at all; the packets are the same."""
    result = analyze(
        ("c", "PA", 101, 502, 5), ("s", "A", 502, 106), ("c", "FA", 106, 502), ("s", "A", 502, 107)
    )
    assert result.close.shape == "one-fin"
    assert "which end closed first cannot be told" in result.close.explain()
    with_handshake = analyze(*HANDSHAKE, ("c", "FA", 101, 501), ("s", "A", 501, 102))
    assert with_handshake.close.explain().startswith("client closed first; one-fin close")


def test_a_server_silent_after_its_syn_ack_then_a_rst_for_no_connection_never_took_it() -> None:
    """SYN cookies and a full accept queue (listen(1), accept() 3 s late): the handshake's ACK
    dropped, the server had no socket, and the client's FIN 3 s later drew a RST for none. No
    timer ended a connection the server never had: the sentence names the accept queue."""
    result = analyze(*HANDSHAKE, (3.0, "c", "FA", 101, 501), (3.0001, "s", "R", 501, 0))
    [reset] = result.resets
    assert reset.cause == "no_connection"
    assert "its listener never took the connection" in reset.explanation
    assert "keep-alive timeout" not in reset.explanation
    # A server that had sent data after its SYN/ACK had the connection: the timers' words.
    had = analyze(
        *HANDSHAKE, (0.1, "s", "PA", 501, 101, 5), (3.0, "c", "FA", 101, 506), (3.0001, "s", "R", 506, 0)
    )
    assert "never took" not in had.resets[0].explanation


def test_data_resent_then_acknowledged_before_a_rst_for_no_connection_is_no_timer_giving_up() -> None:
    """The peer's FIN acknowledges the resent data, then the RST as for no connection (the
    client's host rebooted): no retransmission timer gave up; and a RST after a complete close
    captured out of order ends nothing."""
    result = analyze(
        *HANDSHAKE, (0.01, "c", "PA", 101, 501, 17), (0.22, "c", "PA", 101, 501, 17), (0.64, "c", "PA", 101, 501, 17),
        (5.0, "s", "FA", 501, 118), (5.0001, "c", "R", 118, 0),
    )  # fmt: skip
    [reset] = result.resets
    assert reset.cause == "no_connection" and "gave up" not in reset.explanation
    early = analyze(
        *HANDSHAKE, (0.01, "c", "PA", 101, 501, 3), (0.011, "s", "A", 501, 104), (0.01998, "s", "FA", 501, 105),
        (0.02, "c", "FA", 104, 501), (0.021, "c", "A", 105, 502), (0.03, "c", "FA", 104, 502), (0.031, "s", "R", 502, 0),
    )  # fmt: skip
    assert (early.close.shape, early.close.reset) == ("three-segment", None)


def test_a_lone_rst_ack_at_sequence_zero_refuses_a_syn_not_captured() -> None:
    """Only the server's direction captured (asymmetric routing): a connect() to a closed port
    leaves one RST/ACK at sequence number 0. It is a refusal, counted and picked as one, not a
    mid-stream connection reset for no connection; any other segment and it is not."""
    from analyzer.output.only import shown
    from analyzer.output.overview_chart import outcome

    result = analyze(("s", "RA", 0, 3573170161))
    assert (result.handshake.status, result.handshake.client_isn) == ("refused", 3573170160)
    assert result.handshake.explain().startswith(
        "refused, its SYN not in the capture: RST/ACK at sequence number 0"
    )
    assert [r.cause for r in result.resets] == ["refused"]
    assert outcome(result) == "refused" and shown(result, ["refused"])
    ongoing = analyze(("s", "A", 501, 101), ("s", "RA", 0, 101))
    assert ongoing.handshake.status == "not_seen"


def test_an_end_that_spoke_before_the_idle_timer_is_not_silent_in_the_continuation() -> None:
    """Given up as idle, then the client's RST alone: the server spoke in the connection this
    one continues, so its state is ESTABLISHED then CLOSED, not "unknown (sent nothing)"
    beside a note that took both ends as ESTABLISHED."""
    from segments import conversation

    from analyzer.analysis import analyze_segments

    segments = conversation(
        *HANDSHAKE, ("s", "PA", 501, 101, 10), ("c", "A", 101, 511), (400.0, "c", "R", 101, 0)
    )
    _first, second = analyze_segments(segments).connections
    assert second.connection.continues is not None
    assert [state.value for _t, state in second.states["server"]] == ["ESTABLISHED", "CLOSED"]
    assert not any("sent nothing" in note for note in second.notes)


def test_a_rst_to_data_in_a_capture_begun_late_may_be_a_closed_sockets() -> None:
    """helper-131's mid: the server's application closed before the capture began (its FIN
    not captured, the socket orphaned in FIN_WAIT_2); the client's data drew the RST Linux
    sends for data after close(), shaped as for no socket: both readings are said. A RST to
    a segment without data, or in a capture that holds the handshake, says no socket alone."""
    [result] = analyze_segments(conversation(("c", "PA", 101, 501, 26), ("s", "R", 501, 0))).connections
    [reset] = result.resets
    assert reset.cause == "no_connection"
    assert "closed before the capture began (its FIN not captured)" in reset.explanation
    [bare] = analyze_segments(conversation(("c", "A", 101, 501), ("s", "R", 501, 0))).connections
    assert "closed before the capture began" not in bare.resets[0].explanation


def test_a_rst_for_no_socket_names_no_state_the_sender_had_left() -> None:
    """helper-131's latesa: connect() given up at 0.5 s, the SYN/ACK at 3 s answered by the
    client's kernel for no socket: not 'from the client in SYN_SENT'."""
    steps = (("c", "S", 100, 0), (3.0, "s", "SA", 500, 101), (3.00001, "c", "R", 101, 0))
    [result] = analyze_segments(conversation(*steps)).connections
    [reset] = result.resets
    assert reset.cause == "connect_abandoned"
    assert reset.sent_by == "from the client with no socket for it (last seen in SYN_SENT)"
    # A client whose own socket gave its attempt up with a RST (no SYN/ACK came) had one.
    [cancelled] = analyze_segments(conversation(("c", "S", 100, 0), (0.0003, "c", "R", 101, 0))).connections
    assert cancelled.resets[0].cause == "connect_abandoned"
    assert cancelled.resets[0].sent_by == "from the client in SYN_SENT"


def test_a_capture_that_joined_a_syn_backoff_matches_the_schedule_from_a_later_transmission(tmp_path) -> None:
    """helper-131's mid2: tcpdump started 28 ms before a client's SYN, the client already three
    SYNs into Linux 6.5+'s schedule (1 s x5, then doubling): the intervals 1, 1, 2 s are that
    schedule's from its fourth transmission on, no SYN lost. A capture begun well before the
    first SYN it holds (more than the schedule's interval) joined nothing: no such reading."""
    from pcap_builder import tcp_packet, write_capture

    from analyzer.analysis import analyze_file
    from analyzer.output.text_report import analysis_text

    def backoff_line(lead: float) -> str:
        other = tcp_packet(4, "10.0.0.9", 50000, "10.0.0.2", 22, "A", 1, 1)
        syns = [tcp_packet(4, "10.0.0.1", 40000, "10.0.0.2", 80, "S", 1000) for _ in range(4)]
        path = write_capture(tmp_path / f"joined-{lead}.pcap", [other, *syns],
                             times=[0.0, *(lead + t for t in (0.0, 1.024, 2.048, 4.064))])  # fmt: skip
        text = analysis_text(analyze_file(str(path)))
        return next(line for line in text.splitlines() if line.strip().startswith("backoff"))

    joined = backoff_line(0.028)
    assert (
        "matches Linux 6.5+ default / macOS / FreeBSD (1 s x5, then doubling) from its retransmission 3 on"
        in joined
    )
    assert "if the capture began after the 3 before (it began 28.000 ms before the first it holds)" in joined
    assert "not in the capture" not in joined
    assert "from its retransmission" not in backoff_line(1.5)
    # The SYN as frame 1 (a capture filtered, or cut from a longer one): when it began is not known.
    syns = [tcp_packet(4, "10.0.0.1", 40000, "10.0.0.2", 80, "S", 1000) for _ in range(4)]
    alone = write_capture(tmp_path / "alone.pcap", syns, times=[0.0, 1.024, 2.048, 4.064])
    assert "from its retransmission" not in analysis_text(analyze_file(str(alone)))


def test_resent_frames_an_offload_joined_say_how_many_segments_they_carry() -> None:
    """helper-139's iperf3 with TSO on, captured at the sender: 41 frames resent where the
    kernel counted 773 segments. The text says how many segments of the SYNs' size they hold."""
    steps = (
        ("c", "PA", 101, 501, 4000), ("s", "A", 501, 101), ("c", "PA", 101, 501, 4000),
        ("c", "PA", 4101, 501, 100), ("c", "PA", 4101, 501, 100),
    )  # fmt: skip
    segments = conversation(*HANDSHAKE, *steps)
    for syn in segments[:2]:
        syn.options = TcpOptions(1000, 7, True, False)
    [result] = analyze_segments(segments).connections
    [line] = [line for line in connection_text(result, Clock(100.0)) if "  resent  " in line]
    assert "2 segments sent again" in line
    assert "the 2 carry 4,100 bytes, about 5 segments of the size the SYNs allowed" in line
    [plain] = analyze_segments(conversation(*HANDSHAKE, *steps)).connections
    assert "offloads" not in "\n".join(connection_text(plain, Clock(100.0)))


@pytest.mark.parametrize(("apart", "resent"), [(0.010, 1.030), (1.2, 1.030), (0.010, 0.2)],
                         ids=["answer-behind", "timer-again", "first-answer-late"])  # fmt: skip
def test_a_timer_copy_then_the_answer_to_the_syn_again_times_the_rtt_from_the_answer(apart, resent) -> None:
    """helper-148: the server's first SYN/ACK lost on a 20 ms path; its timer's copy came 10 ms
    after the client's SYN again, its answer to that SYN 10 ms later, both echoing the first
    SYN's TSval: the RTT was read as 10 ms, the answer as a retransmission 0.010 s on. A SYN/ACK
    sooner than a listener's timer after the SYN it echoes is that SYN's own (a client's 200 ms
    SYN timeout: a review's)."""
    steps = (("c", "S", 100, 0), (resent, "c", "S", 100, 0), (resent + 0.010, "s", "SA", 500, 101),
             (resent + 0.01003, "c", "A", 101, 501), (resent + 0.010 + apart, "s", "SA", 500, 101),
             (resent + 0.01003 + apart, "c", "A", 101, 501))  # fmt: skip
    segments = conversation(*steps)
    for segment, (ts_val, ts_ecr) in zip(
        segments, [(1000, 0), (2030, 0), (5000, 1000), (2040, 5000), (5010, 1000), (2050, 5000)], strict=True
    ):
        segment.ts_val, segment.ts_ecr = ts_val, ts_ecr
    [result] = analyze_segments(segments).connections
    behind = result.handshake.answer_behind
    if apart < 1 and resent > 1:
        assert behind is not None and behind.frame == 5
        assert result.handshake.answered_syn_to_ack == pytest.approx(0.02003, abs=1e-5)
        assert result.synack_backoff.first_uncaptured and result.synack_backoff.answers == 1
        assert "frame 3 is its timer's copy, frame 5 its answer" in result.handshake.explain()
    else:
        assert behind is None and not result.synack_backoff.first_uncaptured
