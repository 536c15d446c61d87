"""Handshake variants, each recognized as what it is: simultaneous open and split handshakes,
SYN/ACKs of several ISNs, RFC 5961's challenge ACK, and flags no TCP sends. Hand-made
conversations, the corpus's split handshakes, and a challenge ACK made with scapy
(tests/data/handshakes/make_challenge_ack.py) and one recorded from Linux
(record_challenge_ack.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pcap_builder import handshake_packets, tcp_packet, write_capture
from scapy.layers.inet import IP
from segments import HANDSHAKE, LOST_SYNACK, conversation, syn_again_echoing

from analyzer.analysis import analyze_file, analyze_segments
from analyzer.connections import group_connections
from analyzer.decode.segment import Segment, TcpOptions
from analyzer.output.json_report import connection_to_dict
from analyzer.output.labels import segment_kinds, unanswered_probes
from analyzer.timefmt import NS, Clock

DATA = Path(__file__).parent / "data" / "handshakes"


def analyze(*steps: tuple):
    [result] = analyze_segments(conversation(*steps)).connections
    return result


def states(result) -> dict[str, list[str]]:
    return {side: [state.value for _t, state in history] for side, history in result.states.items()}


# -- simultaneous open and split handshakes ------------------------------------------------------

SPLIT_4WAY = (("c", "S", 100, 0), ("s", "S", 500, 0), ("c", "SA", 100, 501), ("s", "A", 501, 101))


def test_a_split_handshake_is_complete_and_both_ends_open_simultaneously() -> None:
    """The server answers the SYN with a SYN of its own, the client that with a SYN/ACK, the
    server with an ACK: both SYNs acknowledged. The server's SYN left before the client's
    arrived as far as its states tell (it never acknowledged it first): SYN_SENT, SYN_RCVD."""
    result = analyze(*SPLIT_4WAY, ("c", "PA", 101, 501, 4), ("s", "A", 501, 105))
    h = result.handshake
    assert (h.status, h.variant) == ("complete", "split")
    assert (h.client_isn, h.server_isn) == (100, 500)
    assert [(c.what, c.ok) for c in h.checks] == [
        ("the client's SYN/ACK acknowledges the server ISN+1", True),
        ("the server's ACK acknowledges the client ISN+1", True),
    ]
    assert h.final_ack is not None and h.final_ack.frame == 4
    assert h.answered_syn_to_ack == pytest.approx(0.003)
    assert h.explain().startswith("split handshake complete")
    assert states(result) == {
        "client": ["CLOSED", "SYN_SENT", "SYN_RCVD", "ESTABLISHED"],
        "server": ["LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED"],
    }
    # The client's SYN reached the server (its SYN/ACK repeats it, it was not resent): not lost.
    assert result.notes == []
    as_json = connection_to_dict(result, Clock(0.0))["handshake"]
    assert (as_json["status"], as_json["variant"], as_json["synack_times"]) == ("complete", "split", [])


def test_a_peer_syn_far_later_than_its_round_trip_is_a_simultaneous_open_whose_first_syn_was_lost() -> None:
    """helper-115's k_simopen, recorded from Linux: two bound sockets, neither listening, each
    connects to the other; the first SYN dropped after the capture point, the second 100 ms
    later, the SYN/ACK and ACK 31 µs after that. The split handshake's shape, but no answer:
    the first SYN never arrived (nothing listened: it would have been refused), the peer
    connected on its own, CLOSED -> SYN_SENT -> ESTABLISHED, as the kernel's own events say;
    the RTT is its handshake's. Within the round trip it is a split handshake (above)."""
    result = analyze(
        ("c", "S", 100, 0), (0.100198, "s", "S", 500, 0), (0.100212, "c", "SA", 100, 501),
        (0.100229, "s", "A", 501, 101), ("c", "PA", 101, 501, 4), ("s", "A", 501, 105),
    )  # fmt: skip
    h = result.handshake
    assert (h.status, h.variant) == ("complete", "simultaneous-open")
    assert [syn.frame for syn in h.syns_lost] == [1]
    assert h.answered_syn_to_ack == pytest.approx(0.000031)
    assert "the client's SYN (ISN 100, frame 1) never reached the server" in h.explain()
    assert states(result) == {
        "client": ["CLOSED", "SYN_SENT", "SYN_RCVD", "ESTABLISHED"],
        "server": ["CLOSED", "SYN_SENT", "ESTABLISHED"],
    }
    assert [note.split(":")[0] for note in result.notes] == ["frame 1 not applied to the receiver"]
    # A split handshake's server slow to answer, 15 ms on a LAN of 1 ms (helper-117), is one.
    slow = analyze(
        ("c", "S", 100, 0), (0.015, "s", "S", 500, 0), (0.016, "c", "SA", 100, 501), (0.0161, "s", "A", 501, 101),
    )  # fmt: skip
    assert (slow.handshake.variant, slow.handshake.syns_lost) == ("split", [])
    # helper-144's simul: the peer's first SYN lost too, sent again by its timer a second later,
    # and that one answered: the round trip is from the SYN answered, the open the same.
    resent = analyze(
        ("c", "S", 100, 0), (0.100198, "s", "S", 500, 0), (1.130, "s", "S", 500, 0),
        (1.130020, "c", "SA", 100, 501), (1.130041, "s", "A", 501, 101),
    )  # fmt: skip
    assert (resent.handshake.variant, [s.frame for s in resent.handshake.syns_lost]) == (
        "simultaneous-open",
        [1],
    )
    assert resent.handshake.answered_syn_to_ack == pytest.approx(0.000041)
    assert states(resent)["server"] == ["CLOSED", "SYN_SENT", "ESTABLISHED"]  # never listening


def test_a_five_way_split_handshake_takes_the_servers_first_ack_as_nothing() -> None:
    """sv_split-handshake-5whs's shape: the server first sends an ACK of the client's SYN from
    a sequence number of no SYN of its own; the client in SYN_SENT drops it (RFC 9293
    3.10.7.3: an acceptable ACK without SYN), and the handshake goes on as a 4-way split."""
    result = analyze(
        ("c", "S", 100, 0),
        ("s", "A", 300, 101),
        ("s", "S", 500, 0),
        ("c", "SA", 100, 501),
        ("s", "A", 501, 101),
    )
    assert (result.handshake.status, result.handshake.variant) == ("complete", "split")
    assert states(result)["client"] == ["CLOSED", "SYN_SENT", "SYN_RCVD", "ESTABLISHED"]
    assert states(result)["server"] == ["LISTEN", "SYN_RCVD", "ESTABLISHED"]
    assert result.notes == [
        "frame 2 not applied to the receiver: an ACK without SYN in SYN_SENT (dropped, RFC 9293 3.10.7.3)"
    ]
    # Its ACK comes before the server's ISN: drawn absolute (and said so), not 2**32 - 200.
    from analyzer.output.labels import SequenceBases, packet_label

    bases = SequenceBases(result).first
    ack = result.connection.segments[1]
    assert packet_label(ack, bases["server"], bases["client"]) == "ACK seq=300 ack=101 (absolute)"


def test_a_simultaneous_open_is_complete() -> None:
    result = analyze(("c", "S", 100, 0), ("s", "S", 500, 0), ("c", "SA", 100, 501), ("s", "SA", 500, 101))
    h = result.handshake
    assert (h.status, h.variant) == ("complete", "simultaneous-open")
    assert [c.what for c in h.checks] == [
        "the client's SYN/ACK acknowledges the server ISN+1",
        "the server's SYN/ACK acknowledges the client ISN+1",
    ]
    # Both ends connected (a socket that listens sends no SYN), each went through SYN_RCVD.
    assert states(result)["server"] == ["CLOSED", "SYN_SENT", "SYN_RCVD", "ESTABLISHED"]
    assert states(result)["client"] == ["CLOSED", "SYN_SENT", "SYN_RCVD", "ESTABLISHED"]
    assert connection_to_dict(result, Clock(0.0))["handshake"]["variant"] == "simultaneous-open"


def test_syns_that_crossed_before_the_capture_saw_them_are_a_simultaneous_open() -> None:
    """Two sockets connecting to each other, their SYNs resent by their timers at once (a
    firewall had dropped the first ones): the capture sees them 15 µs apart, the second's
    sender already holding the first SYN (it answers it with a SYN/ACK of the same ISN).
    Its SYN was not lost: the peer's SYN/ACK acknowledges it."""
    result = analyze(
        ("c", "S", 100, 0), ("s", "S", 500, 0), ("s", "SA", 500, 101), ("c", "SA", 100, 501),
        ("c", "A", 101, 501), ("s", "A", 501, 101),
    )  # fmt: skip
    assert (result.handshake.status, result.handshake.variant) == ("complete", "simultaneous-open")
    assert states(result)["server"] == ["CLOSED", "SYN_SENT", "SYN_RCVD", "ESTABLISHED"]
    assert states(result)["client"] == ["CLOSED", "SYN_SENT", "SYN_RCVD", "ESTABLISHED"]
    assert not any("never taken in" in note for note in result.notes), result.notes


def test_a_simultaneous_open_s_synacks_answer_the_syns_and_are_no_retransmissions() -> None:
    """simopen, recorded from two sockets connecting to each other: each end's SYN/ACK is its
    SYN again (the same seq), sent at once in answer to the peer's SYN, not by a timer; each
    end's ACK of the other's SYN/ACK is Wireshark's window update (the SYN/ACK's window is
    unscaled), named for what it does."""
    segments = conversation(
        ("c", "S", 100, 0), ("s", "S", 500, 0), ("c", "SA", 100, 501), ("s", "SA", 500, 101),
        ("c", "A", 101, 501), ("s", "A", 501, 101),
    )  # fmt: skip
    for index in range(4):  # 65495, unscaled in a SYN; 64 (x1024) after
        s = segments[index]
        segments[index] = Segment(s.frame, s.time, 4, s.src, s.sport, s.dst, s.dport, s.flags, s.seq, s.ack,
                                  65495, 0, None)  # fmt: skip
    for index in (4, 5):
        s = segments[index]
        segments[index] = Segment(s.frame, s.time, 4, s.src, s.sport, s.dst, s.dport, s.flags, s.seq, s.ack,
                                  64, 0, None)  # fmt: skip
    [result] = analyze_segments(segments).connections
    assert result.handshake.answer_copies == {3: 2, 4: 1}
    assert result.resends == {}
    kinds = segment_kinds(result)
    assert kinds[3] == "answers frame 2's SYN" and kinds[4] == "answers frame 1's SYN"
    assert result.sequence.flags[5] == ["window_update"]
    assert kinds[5] == kinds[6] == "window update, ends the open"


def test_a_timer_s_copies_around_an_answer_are_numbered_among_themselves() -> None:
    """Both first SYNs dropped and resent by their timers: each end's SYN resent is
    retransmission #1; the SYN/ACKs answer the peer's latest SYN and are none."""
    result = analyze(
        (0.0, "c", "S", 100, 0), (0.000009, "s", "S", 500, 0), (1.028979, "s", "S", 500, 0),
        (1.028993, "c", "S", 100, 0), (1.028996, "c", "SA", 100, 501), (1.029015, "s", "SA", 500, 101),
        (1.029017, "s", "A", 501, 101), (1.029019, "c", "A", 101, 501),
    )  # fmt: skip
    assert result.handshake.answer_copies == {5: 3, 6: 4}
    assert result.resends == {3: (1, 100_000_009_000), 4: (1, 100 * NS)}


def test_a_repeated_syn_answered_after_its_sender_s_next_packet_is_not_unanswered() -> None:
    """hs_loss (segments.LOST_SYNACK): the client's SYN sent again as the resent SYN/ACK
    arrives, its ACK next, the server's answer to the repeated SYN after that: the SYN was
    answered."""
    result = analyze(*LOST_SYNACK)
    kinds = segment_kinds(result)
    assert kinds[6] == "answers frame 4's SYN"
    assert 6 not in result.resends and result.resends[3][0] == 1
    assert unanswered_probes(result, kinds) == set()


def test_a_simultaneous_open_s_round_trip_runs_from_the_syns_that_met() -> None:
    """Both first SYNs dropped (a firewall), both resent 1 s later: each end's SYN/ACK answers
    the other's resent SYN, so the round trip runs from the client's last SYN (22 µs), not
    from its first (1.029 s, a timer's wait)."""
    result = analyze(
        (0.0, "c", "S", 100, 0), (0.000009, "s", "S", 500, 0), (1.028979, "s", "S", 500, 0),
        (1.028993, "c", "S", 100, 0), (1.028996, "c", "SA", 100, 501), (1.029015, "s", "SA", 500, 101),
        (1.029017, "s", "A", 501, 101), (1.029019, "c", "A", 101, 501),
    )  # fmt: skip
    h = result.handshake
    assert (h.status, h.variant) == ("complete", "simultaneous-open")
    assert h.answered_syn_to_ack == pytest.approx(0.000022)
    assert "RTT 22 µs" in h.explain()


def test_a_split_handshake_the_client_never_answers_is_incomplete() -> None:
    h = analyze(("c", "S", 100, 0), ("s", "S", 500, 0)).handshake
    assert (h.status, h.variant) == ("incomplete", "split")
    assert "a SYN of its own, which the client never acknowledged" in h.explain()
    wrong = analyze(
        ("c", "S", 100, 0), ("s", "S", 500, 0), ("c", "SA", 100, 501), ("s", "A", 501, 999)
    ).handshake
    assert wrong.status == "incomplete" and [c.ok for c in wrong.checks] == [True, False]


def test_a_three_way_handshake_says_so() -> None:
    assert analyze(*HANDSHAKE).handshake.variant == "three-way"
    assert analyze(("c", "S", 100, 0), ("s", "RA", 0, 101)).handshake.variant is None


@pytest.mark.parametrize("name", ["sv_split-handshake-4whs.pcap", "sv_split-handshake-5whs.pcap"])
def test_the_corpus_split_handshakes_are_complete(corpus_dir, name) -> None:
    [result] = analyze_file(str(corpus_dir / "pcaps" / name)).connections
    assert (result.handshake.status, result.handshake.variant) == ("complete", "split")
    assert (result.handshake.client_isn, result.handshake.server_isn) == (1000, 3000)
    assert all(history[-2][1].value == "ESTABLISHED" for history in result.states.values())
    assert not any("lost" in note for note in result.notes)


# -- SYN/ACKs of several ISNs ------------------------------------------------------------------

# The server answers the first SYN with ISN 500, the resent SYN with ISN 9000, and the client
# acknowledges the second; later the first ISN's SYN/ACK comes again, from whatever sent it.
NEW_ISN = (
    ("c", "S", 100, 0),
    ("s", "SA", 500, 101),
    (1.0, "c", "S", 100, 0),
    (1.010, "s", "SA", 9000, 101),
    (1.020, "c", "A", 101, 9001),
    (1.030, "c", "PA", 101, 9001, 10),
    (1.040, "s", "A", 9001, 111),
    (2.0, "s", "SA", 500, 101),
)


def test_synacks_of_another_isn_are_kept_and_the_acknowledged_one_judged() -> None:
    result = analyze(*NEW_ISN)
    h = result.handshake
    assert (h.status, h.variant, h.server_isn, h.other_server_isns) == ("complete", "three-way", 9000, [500])
    assert [s.frame for s in h.synacks] == [2, 4, 8]
    assert [c.ok for c in h.checks] == [True, True]
    assert h.answered_syn_to_ack == pytest.approx(0.020)
    assert "carried 2 ISNs (9000, 500): judged on 9000" in h.explain()
    assert len(connection_to_dict(result, Clock(0.0))["handshake"]["synack_times"]) == 3
    # The SYN/ACK backoff is one sender's: the judged ISN's SYN/ACKs (one here).
    assert result.synack_backoff.intervals == []


def test_the_other_isns_synacks_have_a_backoff_of_their_own() -> None:
    """tfo10: the server's first request's SYN/ACKs, sent again by its timer after the
    handshake completed on another ISN, were in no backoff, chart or line. Each other ISN
    has its own (its timer's SYN/ACKs; one sent at once in answer to a repeated SYN is not)."""
    from analyzer.output.backoff_chart import backoff_figure
    from analyzer.output.text_report import connection_text

    result = analyze(*NEW_ISN)
    [other] = result.other_synacks
    assert (other.isn, [s.frame for s in other.sent]) == (500, [2, 8])
    assert other.backoff.intervals == pytest.approx([1.999])
    assert other.backoff.answers == 0
    assert "SYN/ACK    of ISN 500 (another request's): 1 retransmission at intervals 1.999 s" in "\n".join(
        connection_text(result, Clock(100.0))
    )
    [entry] = connection_to_dict(result, Clock(100.0))["other_synack_backoffs"]
    assert (entry["server_isn"], entry["frames"], entry["intervals"]) == (
        500,
        [2, 8],
        other.backoff.intervals,
    )
    assert [one.label for one in result.charted_backoffs()] == [
        "SYN",
        "SYN/ACK of ISN 500 (another request's)",
    ]
    figure = backoff_figure(result)
    assert [ax.get_title().startswith("SYN/ACK of ISN 500") for ax in figure.axes if ax.get_visible()] == [
        False,
        True,
    ]
    # Its copy sent at once in answer to the client's repeated SYN is no timer's.
    answered = analyze(*NEW_ISN[:3], (1.001, "s", "SA", 500, 101), *NEW_ISN[3:])
    [other] = answered.other_synacks
    assert ([s.frame for s in other.sent], other.backoff.answers) == ([2, 9], 1)


def test_an_ack_in_one_isns_space_does_not_acknowledge_a_synack_of_another() -> None:
    """The late SYN/ACK of ISN 500 (frame 8) is no resend of ISN 9000's: the client's ACKs of
    9001 did arrive (the server acknowledged the data), and the server is ESTABLISHED."""
    result = analyze(*NEW_ISN)
    assert states(result)["server"] == ["LISTEN", "SYN_RCVD", "ESTABLISHED"]
    # Only the first SYN/ACK was lost: the client sent its SYN again without acknowledging it.
    assert result.notes == [
        "frame 2 not applied to the receiver: never taken in by the receiver (lost: sent again or answered by "
        "a resend, or its receiver's later segments echo older timestamps; or refused)"
    ]


# -- RFC 5961's challenge ACK ------------------------------------------------------------------

# A stale connection holds the ports: the server answers the SYN with its old ACK (seq 7000,
# ack 5000), the client answers that with RST seq 5000 and sends the SYN again 2 ms later.
CHALLENGED = (
    ("c", "S", 100, 0),
    ("s", "A", 7000, 5000),
    ("c", "R", 5000, 0),
    (0.003, "c", "S", 100, 0),
    ("s", "SA", 500, 101),
    ("c", "A", 101, 501),
)


def test_the_syn_resent_after_a_challenge_ack_stays_in_its_connection() -> None:
    assert len(group_connections(conversation(*CHALLENGED))) == 1
    # A RST that does not answer the ACK (another sequence number) still ends the attempt.
    other = (*CHALLENGED[:2], ("c", "R", 4000, 0), *CHALLENGED[3:])
    assert len(group_connections(conversation(*other))) == 2


def test_the_rst_answering_a_challenge_ack_leaves_the_client_in_syn_sent() -> None:
    result = analyze(*CHALLENGED)
    assert states(result) == {
        "client": ["CLOSED", "SYN_SENT", "ESTABLISHED"],
        "server": ["LISTEN", "SYN_RCVD", "ESTABLISHED"],
    }
    [reset] = result.resets
    assert (reset.sender, reset.state, reset.cause, reset.accepted) == (
        "client",
        "SYN_SENT",
        "challenge_ack_answer",
        True,
    )
    assert reset.explanation.startswith("RST answering the server's challenge ACK (frame 2, RFC 5961)")
    assert reset.evidence == [1, 2, 3]
    assert result.handshake.status == "complete"
    assert result.close.shape == "none"
    assert result.notes == [
        "frame 1 not applied to the receiver: answered by a challenge ACK (frame 2, RFC 5961): a connection still "
        "open on these ports took it, not the listener",
        "frame 2 not applied to the receiver: an ACK in SYN_SENT that does not acknowledge the SYN (answered with "
        "RST, RFC 9293 3.10.7.3)",
    ]


def test_a_stale_connection_s_challenge_ack_is_no_packet_the_capture_missed() -> None:
    """Wireshark's rules read the stale connection's ACK and the RST that reset it as this
    connection's: the ACK acknowledges data not captured, the SYN/ACK follows a gap, the server's
    data below its furthest number is resent. The flags stay Wireshark's; what the report says
    of the capture and of resends leaves them out (helper-108: all 2,000 reused ports said the
    capture missed packets, half had '3 retransmissions')."""
    from analyzer.output.only import other_retransmissions
    from analyzer.output.text_report import connection_text, interesting_reasons

    exchange = (("c", "PA", 101, 501, 10), ("s", "PA", 501, 111, 20), ("c", "A", 111, 521))
    # The new server ISN below the stale connection's numbers: its data reads as resent.
    result = analyze(*CHALLENGED[:4], ("s", "SA", 500, 101), ("c", "A", 101, 501), *exchange)
    assert result.sequence.flags[2] == ["ack_lost_segment"]
    assert "retransmission" in result.sequence.flags[8]
    assert result.own_sequence.flags == {4: ["retransmission"]}  # the SYN sent again
    text = "\n".join(connection_text(result, Clock()))
    assert "not in the capture" not in text
    assert other_retransmissions(result) == 0
    assert interesting_reasons(result) == ["RST from the client: challenge_ack_answer", "SYN sent 2 times"]
    # On the ladder: no gap labels on them, and both in the stale connection's numbers, as
    # they are (helper-111: the ACK absolute, the RST at its number relative, unlike).
    from analyzer.output.labels import analysis_notes
    from analyzer.output.mermaid import connection_mermaid

    assert 2 not in analysis_notes(result)
    ladder = connection_mermaid(result)
    assert "ACK seq=7000 ack=5000 (absolute) frame 2" in ladder
    assert "RST seq=5000 (absolute) frame 3" in ladder


def test_a_challenge_ack_alone_leaves_the_handshake_incomplete_and_says_why() -> None:
    h = analyze(*CHALLENGED[:3]).handshake
    assert h.status == "incomplete"
    assert "an ACK that does not acknowledge it (frame 2): a challenge ACK (RFC 5961)" in h.explain()


@pytest.mark.parametrize("name", ["challenge-ack.pcap", "challenge-ack-linux.pcap"])
def test_a_reconnect_to_a_stale_connection_is_one_connection_after_it(name) -> None:
    """The stale connection, then the SYN, the challenge ACK, the RST, the SYN again 2 ms
    (crafted) or 12 ms (Linux, TCP_TIMEOUT_MIN) later, and a handshake and close."""
    stale, fresh = analyze_file(str(DATA / name)).connections
    assert fresh.connection.reuses_ports_of == stale.connection.id
    assert len(fresh.connection.segments) == 11
    assert [r.cause for r in fresh.resets] == ["challenge_ack_answer"]
    assert (fresh.handshake.status, fresh.handshake.variant) == ("complete", "three-way")
    assert len(fresh.handshake.syns) == 2
    assert states(fresh)["client"][:3] == ["CLOSED", "SYN_SENT", "ESTABLISHED"]
    assert states(fresh)["server"][:3] == ["LISTEN", "SYN_RCVD", "ESTABLISHED"]
    assert fresh.close.shape == "three-segment"
    assert connection_to_dict(fresh, Clock(0.0))["resets"][0]["cause"] == "challenge_ack_answer"
    # That RST reset the stale connection: the server's end CLOSED at it, the close a reset
    # (it said "no close seen", the server ESTABLISHED to the end).
    rst = fresh.connection.segments[2]
    assert (
        stale.connection.reset_by_next is rst
        and stale.connection.succeeded_by is fresh.connection.segments[0]
    )
    assert (stale.close.shape, stale.close.reset, stale.close.reset_by) == ("reset", rst, "client")
    assert stale.states["server"][-1] == (rst.time, "CLOSED") and stale.state_frames["server"][-1] is None
    assert states(stale)["client"][-1] == "ESTABLISHED"  # its end went unseen: nothing says when
    assert f"the next connection's on these ports (frame {rst.frame})" in stale.close.explain()
    [reset] = stale.resets
    assert (reset.segment, reset.sender, reset.cause) == (rst, "client", "challenge_ack_answer")
    assert "which reset the server's end" in reset.explanation
    assert connection_to_dict(stale, Clock(0.0))["close"]["reset_frame"] == rst.frame


# An established connection, then a SYN from the client's port with another ISN, the
# server's challenge ACK, and (the rest) what followed.
STALE_THEN_SYN = (
    *HANDSHAKE,
    ("c", "PA", 101, 501, 10),
    ("s", "A", 501, 111),
    (1.0, "c", "S", 9000, 0),
    ("s", "A", 501, 111),
)


def test_a_chain_of_syns_each_finding_the_one_before_open_loses_none() -> None:
    """helper-114: each attempt held back the one its SYN found open, and lost it when a SYN
    found it in turn (10 SYNs with new ISNs on one pair of ports: 2 connections)."""
    segments = conversation(*((0.5 * n, "c", "S", 1000 * (n + 1), 0) for n in range(10)))
    results = analyze_segments(segments).connections
    assert [r.connection.id for r in results] == list(range(10))
    assert [len(r.connection.segments) for r in results] == [1] * 10
    from analyzer.connections import stream_connections

    streamed = sorted(stream_connections(segments), key=lambda c: c.id)
    assert [c.segments[0].frame for c in streamed] == list(range(1, 11))


@pytest.mark.parametrize(
    ("then", "reset"),
    [
        ((("c", "R", 111, 0), (1.003, "c", "S", 9000, 0), ("s", "SA", 700, 9001)), True),
        # No RST: the SYN was not a connecting socket's (made, or sent by another host); the
        # old connection went on.
        ((("c", "PA", 111, 501, 10), ("s", "A", 501, 121)), False),
        # A RST at another number answers nothing of the challenge ACK's.
        ((("c", "R", 5000, 0),), False),
        # The server's data fits its connection whoever sent the SYN: it shows nothing, and the
        # RST after it answers the challenge ACK (helper-118).
        ((("s", "PA", 501, 111, 20), ("c", "R", 111, 0)), True),
    ],
    ids=["rst-answers", "goes-on", "rst-elsewhere", "server-data-then-rst"],
)
def test_only_the_rst_answering_a_challenge_ack_resets_the_connection_the_syn_found(then, reset) -> None:
    """The tracker holds the connection a SYN displaced until that attempt's answers tell
    (connections._displace), in one process or streamed in any order."""
    segments = conversation(*STALE_THEN_SYN, *then)
    old, new = analyze_segments(segments).connections
    assert (old.connection.reset_by_next is not None) == reset
    assert (old.close.shape == "reset") == reset and bool(old.resets) == reset
    assert (states(old)["server"][-1] == "CLOSED") == reset
    assert new.connection.reuses_ports_of == old.connection.id
    # Where the old one went on in its own numbers, what came after the challenge ACK is its
    # (helper-110's syn_injected_est: the rest of the connection, four-way close included, was
    # read as the attempt's, its client in SYN_SENT throughout); the attempt is its SYN and that ACK.
    went_on = then[0][2:4] == (111, 501)
    assert len(old.connection.segments) == 5 + 2 * went_on
    assert len(new.connection.segments) == 2 + len(then) * (not went_on)
    assert (new.connection.went_on_at, new.handshake.went_on_at) == ((8, 8) if went_on else (-1, -1))
    assert (
        "which went on after it (frame 8): the SYN was not its client's" in new.handshake.explain()
    ) == went_on


def test_a_connection_a_syn_held_back_keeps_its_own_timers() -> None:
    """helper-118: held back by a SYN's attempt (connections._displace), a connection had no
    timer. The attempt given up released it unmarked, and its segment 400 s later continued
    nothing; at the file's end it had no capture_end. Now it is current again once the
    attempt is given up (no RST said it was over), and marked at the end as what is open is."""
    later = conversation(*STALE_THEN_SYN, (400.0, "c", "PA", 111, 501, 10), ("s", "A", 501, 121))
    old, attempt, goes_on = analyze_segments(later).connections
    assert old.connection.expired == "idle" and old.connection.succeeded_by is None
    assert attempt.connection.reuses_ports_of == old.connection.id and len(attempt.connection.segments) == 2
    assert "it continues the connection of frame 1, given up as idle" in goes_on.handshake.explain()
    old, attempt = analyze_segments(conversation(*STALE_THEN_SYN)).connections
    assert old.connection.capture_end is not None
    assert old.connection.capture_end == attempt.connection.capture_end


def test_a_connection_going_on_after_a_syn_s_challenge_ack_heard_its_server() -> None:
    """helper-118: a capture of the client's side only until then; the SYN's challenge ACK is
    the server's first segment. Once the connection went on (the client's FIN), it had not
    heard its server (the partial close's timer: given up 3 s later), and the server's FIN
    4.5 s later began a connection of its own. The challenge ACK says the server holds it."""
    segments = conversation(
        ("c", "S", 100, 0), ("c", "A", 101, 501), ("c", "PA", 101, 501, 10),
        (1.0, "c", "S", 3_000_000_000, 0), ("s", "A", 501, 111), ("c", "FA", 111, 501),
        (4.5, "s", "FA", 501, 112), ("c", "A", 112, 502),
    )  # fmt: skip
    old, attempt = analyze_segments(segments).connections
    assert old.connection.expired is None and old.close.shape == "three-segment"
    assert [s.frame for s in attempt.connection.segments] == [4, 5] and attempt.connection.went_on_at == 6


@pytest.mark.parametrize("every", [1, 4096], ids=["swept-before-the-syn", "given-up-at-the-syn"])
@pytest.mark.parametrize("fits", [True, False], ids=["its-numbers", "other-numbers"])
def test_a_challenge_ack_from_a_connection_given_up_as_idle_names_it(fits, every, monkeypatch) -> None:
    """helper-113's NAT reuse: a NAT gives a quiet connection's port to another host after its
    own idle timeout (AWS's 350 s), past ours (300 s): the stale connection was given up, and
    the RST that resets it was told only as the new connection's. It names the connection
    whose numbers the challenge ACK carries, whether the tracker's look gave it up before the
    SYN came (the SYN is then held packed: the memory goes with it) or the SYN did."""
    from analyzer import connections

    monkeypatch.setattr(connections, "SWEEP_EVERY", every)
    ack = (501, 111) if fits else (2_000_000_000, 3_000_000_000)
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 10), ("s", "A", 501, 111),
        (350.0, "c", "S", 9000, 0), ("s", "A", *ack), ("c", "R", ack[1], 0),
        (1.0, "c", "S", 9000, 0), ("s", "SA", 700, 9001), ("c", "A", 9001, 701),
    )  # fmt: skip
    # Another connection's SYN at 440 s: a segment after the timeout, before the SYN, for the
    # look to come (SWEEP_EVERY 1: after each segment) before the SYN.
    other = Segment(6, 540.0, 4, "192.0.2.1", 40001, "192.0.2.2", 80, 2, 5, 0, 65535, 0, None)
    for later in segments[5:]:
        later.frame += 1
    segments.insert(5, other)
    old, _other, new = analyze_segments(segments).connections
    assert old.connection.expired == "idle" and _other.connection.segments == [other]
    [reset] = new.resets
    assert reset.cause == "challenge_ack_answer"
    assert (
        "(the connection of frame 1, given up here as idle: 349.997 s without a segment" in reset.explanation
    ) == fits


def test_an_ack_at_the_syn_s_own_number_shows_no_syn_ack_came() -> None:
    """helper-120's MPTCP captures: an ACK at the client's ISN, ack 0, a microsecond after its
    SYN. A client that had a SYN/ACK sends past its SYN; this one stayed in SYN_SENT (a RST
    without ACK does not end it, its SYN comes again), not ESTABLISHED from frame 2."""
    segments = conversation(
        ("c", "S", 1000, 0), (0.000002, "c", "A", 1000, 0), (0.05, "s", "R", 0, 0),
        (1.0, "c", "S", 1000, 0), ("s", "SA", 5000, 1001), ("c", "A", 1001, 5001),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    assert states(result)["client"] == ["CLOSED", "SYN_SENT", "ESTABLISHED"]
    assert result.state_frames["client"][-1] == 5
    [lone] = analyze_segments(segments[:2]).connections
    assert lone.handshake.status == "no_answer" and lone.handshake.server_isn is None


def test_a_stale_connection_whose_client_had_closed_says_so() -> None:
    """helper-121: the client of the connection given up as idle had sent its FIN, and the
    server acknowledged it (its CLOSE_WAIT held): "let it go without a packet: a restart" was
    not what the packets show; its FIN_WAIT_2 timer was."""
    segments = conversation(
        *HANDSHAKE, ("c", "FA", 101, 501), ("s", "A", 501, 102),
        (350.0, "c", "S", 9000, 0), ("s", "A", 501, 102), ("c", "R", 102, 0),
        (1.0, "c", "S", 9000, 0), ("s", "SA", 700, 9001), ("c", "A", 9001, 701),
    )  # fmt: skip
    _old, new = analyze_segments(segments).connections
    [reset] = new.resets
    assert (
        "its client had closed (its FIN, frame 4) and let it go at its FIN_WAIT_2 timeout"
        in reset.explanation
    )


def test_a_reconnect_with_the_same_isn_is_a_new_connection() -> None:
    """A stack whose ISN is fixed (an embedded one) reboots and connects from the same port
    with the same ISN: after its data, that SYN is no retransmission (no stack resends its SYN
    once it sent data) but a new connection, whose challenge ACK and RST read as when the ISN
    differs, and the first connection's data is no loss."""
    segments = conversation(
        ("c", "S", 6509, 0), ("s", "SA", 5000, 6510), ("c", "A", 6510, 5001),
        ("c", "PA", 6510, 5001, 7), ("s", "PA", 5001, 6517, 7), ("c", "A", 6517, 5008),
        (20.0, "c", "S", 6509, 0), ("s", "A", 5008, 6517), ("c", "R", 6517, 0),
        (1.0, "c", "S", 6509, 0), ("s", "SA", 90000, 6510), ("c", "A", 6510, 90001),
    )  # fmt: skip
    stale, fresh = analyze_segments(segments).connections
    assert len(stale.connection.segments) == 6 and not any(step.lost for step in stale.steps)
    assert [r.cause for r in fresh.resets] == ["challenge_ack_answer"]
    assert fresh.handshake.status == "complete" and len(fresh.handshake.syns) == 2
    assert states(fresh)["client"] == ["CLOSED", "SYN_SENT", "ESTABLISHED"]


# -- Fast Open and impossible flags ----------------------------------------------------------------


def test_data_on_the_syn_still_counts_in_a_split_handshake() -> None:
    result = analyze(("c", "S", 100, 0, 20), ("s", "S", 500, 0), ("c", "SA", 100, 501), ("s", "A", 501, 121))
    assert (result.handshake.status, result.handshake.variant) == ("complete", "split")
    assert "Fast Open" in result.handshake.checks[1].what


def test_a_syn_with_fin_neither_starts_a_connection_nor_moves_a_state() -> None:
    segments = conversation(*HANDSHAKE, ("c", "SF", 7777, 0), ("c", "PA", 101, 501, 5), ("s", "A", 501, 106))
    [connection] = group_connections(segments)
    assert len(connection.segments) == 6
    [result] = analyze_segments(segments).connections
    assert states(result) == {
        "client": ["CLOSED", "SYN_SENT", "ESTABLISHED"],
        "server": ["LISTEN", "SYN_RCVD", "ESTABLISHED"],
    }
    assert result.close.shape == "none"
    assert (
        "frame 4: SYN with FIN, an impossible flag combination (a scan or a crafted packet); applied to neither end"
        in (result.notes)
    )


def test_a_syn_with_rst_ends_nothing_and_is_named() -> None:
    segments = conversation(*HANDSHAKE, ("c", "SR", 101, 0), ("c", "PA", 101, 501, 5), ("s", "A", 501, 106))
    [result] = analyze_segments(segments).connections
    assert states(result)["client"][-1] == "ESTABLISHED"
    [reset] = result.resets
    assert (reset.cause, reset.accepted) == ("impossible_flags", False)
    assert any(
        note.startswith("frame 4: SYN with RST, an impossible flag combination") for note in result.notes
    )


def test_a_probe_of_impossible_flags_is_no_opening_syn() -> None:
    """A SYN/FIN probe and then a SYN of another sequence number on the same ports: one
    connection, the real SYN its opening one."""
    segments = conversation(
        ("c", "SF", 7777, 0), ("c", "S", 100, 0), ("s", "SA", 500, 101), ("c", "A", 101, 501)
    )
    [result] = analyze_segments(segments).connections
    assert (result.handshake.status, result.handshake.client_isn) == ("complete", 100)
    assert (
        analyze(("c", "SF", 7777, 0), (0.1, "c", "SF", 7777, 0))
        .handshake.explain()
        .startswith("no handshake")
    )


def _fast_open(tmp_path, data: bytes, acknowledged: bool, cookie: bytes | None, kind: int = 34,
               given: bytes = b"\x01" * 8) -> dict:  # fmt: skip
    """A SYN with the Fast Open option (kind 34, or 254 with the experiment's id before the
    cookie; None: without it) and `data`; the SYN/ACK acknowledges the data or the SYN
    alone, and gives the cookie `given`."""
    c, s = "10.0.0.1", "10.0.0.2"
    tfo = [(kind, cookie if kind == 34 else b"\xf9\x89" + cookie)] if cookie is not None else []
    ack = 1001 + (len(data) if acknowledged else 0)
    packets = [
        tcp_packet(4, c, 40000, s, 80, "S", 1000, payload=data, options=tfo),
        tcp_packet(4, s, 80, c, 40000, "SA", 5000, ack, options=[(34, given)]),
        tcp_packet(4, c, 40000, s, 80, "A", ack, 5001),
    ]
    if data and not acknowledged:
        packets.append(tcp_packet(4, c, 40000, s, 80, "PA", 1001, 5001, payload=data))
    capture = write_capture(tmp_path / "tfo.pcap", packets)
    [result] = analyze_file(str(capture)).connections
    return {"json": connection_to_dict(result, Clock(0.0))["handshake"], "text": result.handshake.explain()}


def test_fast_open_data_taken_with_the_syn(tmp_path) -> None:
    found = _fast_open(tmp_path, b"GET / HTTP/1.1\r\n\r\n", acknowledged=True, cookie=b"\x02" * 8)
    assert found["json"]["status"] == "complete"
    assert found["json"]["fast_open"] == {
        "syn_data": 18, "syn_cookie_option": True, "syn_cookie_bytes": 8, "synack_cookie": True, "accepted": True
    }  # fmt: skip
    assert "SYN/ACK (ISN 5000, ack ISN+1+18)" in found["text"]
    assert (
        "Fast Open: the SYN carried a cookie (8 bytes) and 18 bytes, acknowledged by the SYN/ACK"
        in found["text"]
    )


def test_the_ack_after_a_fast_open_answer_acknowledges_it_too(tmp_path) -> None:
    """The server answers the SYN's data before the client's ACK (Fast Open's first flight):
    the ACK acknowledges the answer too, and says so (helper-110's tfo_ok)."""
    c, s = "10.0.0.1", "10.0.0.2"
    request = b"GET / HTTP/1.1\r\n\r\n"
    packets = [
        tcp_packet(4, c, 40000, s, 80, "S", 1000, payload=request, options=[(34, b"\x02" * 8)]),
        tcp_packet(4, s, 80, c, 40000, "SA", 5000, 1019),
        tcp_packet(4, s, 80, c, 40000, "PA", 5001, 1019, payload=b"x" * 24),
        tcp_packet(4, c, 40000, s, 80, "A", 1019, 5025),
    ]
    [result] = analyze_file(str(write_capture(tmp_path / "answer.pcap", packets))).connections
    assert (
        "SYN/ACK (ISN 5000, ack ISN+1+18), ACK acknowledging ISN+1 and the 24 bytes the server sent after it"
        in result.handshake.explain()
    )


def test_fast_open_data_the_server_ignored(tmp_path) -> None:
    found = _fast_open(tmp_path, b"GET / HTTP/1.1\r\n\r\n", acknowledged=False, cookie=b"\x02" * 8)
    assert found["json"]["status"] == "complete" and found["json"]["fast_open"]["accepted"] is False
    assert (
        "not acknowledged by the SYN/ACK (the server took the SYN alone: the data is sent again)"
        in found["text"]
    )


def test_a_fast_open_cookie_request(tmp_path) -> None:
    found = _fast_open(tmp_path, b"", acknowledged=False, cookie=b"")
    assert found["json"]["fast_open"] == {
        "syn_data": 0, "syn_cookie_option": True, "syn_cookie_bytes": 0, "synack_cookie": True, "accepted": None
    }  # fmt: skip
    assert found["text"].endswith("Fast Open: the SYN asked for a cookie; the SYN/ACK gave one")


@pytest.mark.parametrize("kind", [34, 254], ids=["kind 34", "experimental 254"])
def test_a_fast_open_cookie_is_not_a_request(tmp_path, kind: int) -> None:
    """A cookie of 4 to 16 bytes in the option (RFC 7413; kind 254 with 0xF989 before it, as
    before the option had its kind) is presented, not asked for: with data and without."""
    found = _fast_open(tmp_path, b"", acknowledged=False, cookie=b"\x02" * 16, kind=kind)
    assert found["json"]["fast_open"]["syn_cookie_bytes"] == 16
    assert found["text"].endswith(
        "Fast Open: the SYN presented a cookie (16 bytes) but carried no data; the SYN/ACK gave a new one"
    )
    found = _fast_open(tmp_path, b"hi", acknowledged=True, cookie=b"\x02" * 4, kind=kind)
    assert found["json"]["fast_open"]["syn_cookie_bytes"] == 4
    assert "Fast Open: the SYN carried a cookie (4 bytes) and 2 bytes, acknowledged" in found["text"]


def test_data_with_a_cookie_request_and_an_empty_synack_option(tmp_path) -> None:
    """Data beside a request (an empty option) waits: no cookie, nothing a server takes early;
    an empty option in the SYN/ACK gives no cookie."""
    found = _fast_open(tmp_path, b"hello", acknowledged=False, cookie=b"", given=b"")
    assert found["json"]["fast_open"]["syn_cookie_bytes"] == 0
    assert found["json"]["fast_open"]["synack_cookie"] is False
    assert "Fast Open: the SYN asked for a cookie and carried 5 bytes, not acknowledged" in found["text"]


@pytest.mark.parametrize("counted", [True, False, 5], ids=["ack ISN+1+len", "ack ISN+1", "ack ISN+1+5"])
def test_a_syn_with_data_refused(tmp_path, counted: bool | int) -> None:
    """Linux's RST to a SYN with data acknowledges the data too (RFC 9293 3.10.7.1:
    SEG.SEQ+SEG.LEN), and a client takes any ACK from ISN+1 to all it sent: refused, the
    client CLOSED, whichever the RST carries."""
    c, s = "10.0.0.1", "10.0.0.2"
    ack = 1001 + (counted if counted is not True else 18)
    packets = [
        tcp_packet(
            4, c, 40000, s, 80, "S", 1000, payload=b"GET / HTTP/1.1\r\n\r\n", options=[(34, b"\x02" * 8)]
        ),
        tcp_packet(4, s, 80, c, 40000, "RA", 0, ack),
    ]
    [result] = analyze_file(str(write_capture(tmp_path / "refused.pcap", packets))).connections
    assert result.handshake.status == "refused"
    assert all(check.ok for check in result.handshake.checks)
    words = {True: " and the SYN's 18 bytes (Fast Open)", False: "", 5: " and 5 of the SYN's 18 bytes"}
    assert result.handshake.checks[-1].what == "RST/ACK acknowledges the client ISN+1" + words[counted]
    assert [state.value for _time, state in result.states["client"]] == ["CLOSED", "SYN_SENT", "CLOSED"]
    assert [r.cause for r in result.resets] == ["refused"]


def test_no_fast_open_no_field(tmp_path) -> None:
    capture = write_capture(tmp_path / "plain.pcap", handshake_packets())
    [result] = analyze_file(str(capture)).connections
    assert result.handshake.fast_open is None and "Fast Open" not in result.handshake.explain()


def test_a_synack_captured_before_its_syn_still_completes_the_handshake() -> None:
    """zeek_handshake-reorder: the SYN/ACK is frame 1, the SYN it acknowledges frame 2, the
    ACK frame 3. Complete, said to be the capture's order; no RTT can be taken from it."""
    segments = conversation(("s", "SA", 500, 101), ("c", "S", 100, 0), ("c", "A", 101, 501))
    [result] = analyze_segments(segments).connections
    handshake = result.handshake
    assert (handshake.status, handshake.reordered, handshake.answered_syn_to_ack) == ("complete", True, None)
    assert "RTT unknown (the SYN/ACK was captured before the SYN" in handshake.explain()
    # Nor does the ladder write "no answer" beside the SYN.
    assert unanswered_probes(result, segment_kinds(result)) == set()
    in_order = analyze_segments(conversation(*HANDSHAKE)).connections[0].handshake
    assert (in_order.status, in_order.reordered) == ("complete", False) and in_order.answered_syn_to_ack


def test_a_capture_of_the_clients_direction_only_shows_the_answers_it_acknowledges() -> None:
    """zeek_ssh.client-side-half-duplex: only the client's packets. Its ACK of the server's
    ISN+1 shows a SYN/ACK reached it unseen: ESTABLISHED there, not stuck in SYN_SENT while it
    sends data and a FIN; the handshake is not 'no answer'; and no FIN is said to be never
    acknowledged by a side that is not in the capture."""
    segments = conversation(
        ("c", "S", 100, 0), ("c", "A", 101, 501), ("c", "PA", 101, 501, 20), ("c", "A", 121, 900),
        ("c", "FA", 121, 900),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    handshake = result.handshake
    assert (handshake.status, handshake.server_isn) == ("incomplete", 500)
    assert handshake.unseen_answer is not None and handshake.unseen_answer.frame == 2
    assert "the client's ACK (frame 2) acknowledges a server ISN 500+1" in handshake.explain()
    states = [state.value for _time, state in result.states["client"]]
    # After its FIN: FIN_WAIT_1, or LAST_ACK had the server's FIN come among the acknowledged.
    assert states == ["CLOSED", "SYN_SENT", "ESTABLISHED", "UNKNOWN"]
    assert result.state_frames["client"][2] == 2
    assert result.close.unacknowledged is None and "never acknowledged" not in result.close.explain()
    # Its FIN is the only one captured: the server's would show only in acknowledgments.
    assert result.close.first_fin is None and result.close.unseen == "server"
    assert result.close.explain().startswith("the client's FIN (frame 5) is the only one in the capture")


def test_a_capture_of_the_servers_direction_only_shows_the_client_got_past_the_handshake() -> None:
    """zeek_one-sided-2745: only the server's packets. Its ACK of the client's data shows the
    client's ACK of its SYN/ACK came unseen: ESTABLISHED there."""
    segments = conversation(("s", "SA", 500, 101), ("s", "A", 501, 153), ("s", "FA", 501, 154))
    [result] = analyze_segments(segments).connections
    states = [state.value for _time, state in result.states["server"]]
    assert states[:2] == ["SYN_RCVD", "ESTABLISHED"] and result.state_frames["server"][1] == 2
    # Nothing is said of the client that only its missing packets could show: not that it never
    # acknowledged the SYN/ACK, nor that the server acknowledges what it never sent, nor who
    # closed first.
    handshake = result.handshake
    assert (
        handshake.client_unseen and handshake.completed_by is not None and handshake.completed_by.frame == 2
    )
    assert handshake.explain() == (
        "handshake seen only in its SYN/ACK: no packet of the client's was captured, yet the SYN/ACK "
        "(frame 1) acknowledges a client ISN 100+1 and the server's frame 2 acknowledges more from the "
        "client, which only a completed handshake allows: the client's packets did not pass the capture point"
    )
    notes = " | ".join(result.notes)
    # The server acknowledging more than the client's ISN+1 shows the client took the SYN/ACK:
    # ESTABLISHED from it, unknown from that ACK on (its FIN may be among what it acknowledges).
    assert [s.value for _t, s in result.states["client"]] == ["SYN_SENT", "ESTABLISHED", "UNKNOWN"]
    assert result.state_frames["client"] == [None, 1, 2]
    assert "shows it took the SYN/ACK (frame 1)" in notes
    assert "never acknowledged" not in notes and "never sent" not in notes
    assert "acknowledges what the receiver sent, none of which is in the capture" in notes
    assert result.close.first_fin is None and result.close.unseen == "client"
    assert result.close.explain().startswith("the server's FIN (frame 3) is the only one in the capture")
    # A SYN/ACK alone (backscatter of a spoofed SYN) shows no completion, nor does the server's
    # data acknowledging nothing more (with Fast Open a server sends data in SYN_RCVD).
    for only in ((("s", "SA", 500, 101),), (("s", "SA", 500, 101), ("s", "PA", 501, 101, 100))):
        [alone] = analyze_segments(conversation(*only)).connections
        assert alone.handshake.client_unseen and alone.handshake.completed_by is None
        assert "which only a completed handshake allows" not in alone.handshake.explain()
    # Its FIN then its RST: still not who closed first.
    [reset] = analyze_segments(
        conversation(("s", "SA", 500, 101), ("s", "A", 501, 111), ("s", "FA", 501, 112), ("s", "R", 502, 0))
    ).connections
    assert reset.close.first_fin is None and reset.close.ending == "fin-then-reset"
    assert reset.close.explain() == (
        "the server's FIN (frame 3) is the only one in the capture: none of the client's packets are, so "
        "whether it closed too, and which end closed first, cannot be told; a RST from the server (frame 4) "
        "ended the connection"
    )


def test_an_ack_that_also_acknowledges_what_the_server_sent_after_its_syn_ack_completes_it() -> None:
    """Fast Open: the server answers the SYN's data before the handshake completes; the
    client's first ACK the capture holds (its first was dropped) acknowledges that answer
    and the server's FIN as well. Not more than the server sent, though."""
    steps = (
        ("c", "S", 100, 0, 5), ("s", "SA", 500, 106), ("s", "PA", 501, 106, 3), ("s", "FA", 504, 106),
        ("c", "FA", 106, 505),
    )  # fmt: skip
    h = analyze(*steps).handshake
    assert h.status == "complete", h.explain()
    assert h.checks[-1].what.startswith(
        "ACK acknowledges the server ISN+1 and the 3 bytes and the FIN the server sent"
    )
    beyond = analyze(*steps[:-1], ("c", "FA", 106, 506)).handshake
    assert beyond.status == "incomplete" and not beyond.checks[-1].ok
    part = analyze(*steps[:-1], ("c", "A", 106, 503)).handshake  # 2 of the 3 bytes
    assert part.checks[-1].what.startswith("ACK acknowledges the server ISN+1 and the 2 bytes the server")


def test_a_socket_connected_to_itself_is_one_end_through_a_simultaneous_open_and_close() -> None:
    """bind(P), connect(P) on Linux: the SYN comes back to its own socket (SYN_SENT ->
    SYN_RCVD), so does its SYN/ACK (-> ESTABLISHED), and at the end its FIN (-> CLOSING).
    Recorded in a namespace: 7 packets, one socket. It was read as a client whose server's
    packets were never captured, its SYN lost."""
    from analyzer.decode.segment import Segment

    end = ("127.0.0.1", 7001)
    flags = {"S": 0x02, "SA": 0x12, "A": 0x10, "PA": 0x18, "FA": 0x11}
    packets = [("S", 100, 0, 0), ("SA", 100, 101, 0), ("A", 101, 101, 0), ("PA", 101, 101, 4), ("A", 105, 105, 0),
               ("FA", 105, 105, 0), ("A", 106, 106, 0)]  # fmt: skip
    segments = [
        Segment(n, 100.0 + n / 1000, 4, *end, *end, flags[f], seq, ack, 65535, length, None)
        for n, (f, seq, ack, length) in enumerate(packets, start=1)
    ]
    [result] = analyze_segments(segments).connections
    assert (
        result.handshake.status == "complete" and "a socket connected to itself" in result.handshake.explain()
    )
    assert states(result)["client"] == [
        "CLOSED", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1", "CLOSING", "TIME_WAIT",
    ]  # fmt: skip
    assert result.close.shape == "simultaneous" and "with one socket" in result.close.explain()
    assert not any("never taken in" in n or "sent nothing" in n for n in result.notes), result.notes
    # Its SYN/ACK answers its own SYN (tcp_send_synack), sent once: no resend of the SYN, as the
    # kernel says (no retransmit event), though Wireshark flags it for repeating the SYN's number.
    assert result.handshake.answer_copies == {2: 1} and 2 not in result.resends


def test_data_in_a_syn_without_the_fast_open_option_says_so(tmp_path) -> None:
    """Fast Open without a cookie (Linux's tcp_fastopen 0x4 client) sends no option; a SYN
    made by hand neither: not said to be Fast Open as if the option were there."""
    found = _fast_open(tmp_path, b"hello", acknowledged=False, cookie=None)
    assert found["json"]["fast_open"]["syn_cookie_option"] is False
    assert "the SYN carried 5 bytes without a Fast Open option" in found["text"]
    assert "Fast Open: the SYN carried" not in found["text"]


def test_a_copy_of_the_syn_after_the_handshakes_ack_is_no_retransmission() -> None:
    """A network's late duplicate of the SYN, 30 ms after the client's ACK: the client,
    ESTABLISHED, sent no SYN; the server answers it with a challenge ACK. One SYN, no backoff."""
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 9), (0.033, "c", "S", 100, 0), ("s", "A", 501, 110)
    )
    [result] = analyze_segments(segments).connections
    assert [s.frame for s in result.handshake.syns] == [1]
    assert [s.frame for s in result.handshake.late_syns] == [5]
    assert result.syn_backoff.intervals == []
    assert (
        "a copy of the SYN came after the handshake's ACK (frame 5, 31.000 ms after it)"
        in result.handshake.explain()
    )
    handshake = connection_to_dict(result, Clock(100.0))["handshake"]
    assert handshake["late_syn_frames"] == [5] and len(handshake["syn_times"]) == 1


def test_a_synack_carrying_data_is_acknowledged_with_it() -> None:
    """RFC 9293 lets a SYN/ACK carry data: the client's ACK covers ISN+1 and those bytes."""
    segments = conversation(("c", "S", 100, 0), ("s", "SA", 500, 101, 30), ("c", "A", 101, 531))
    [result] = analyze_segments(segments).connections
    assert result.handshake.status == "complete", result.handshake.explain()
    assert [c.ok for c in result.handshake.checks] == [True, True]
    assert "the 30 bytes the SYN/ACK carried" in result.handshake.checks[-1].what


@pytest.mark.parametrize("synack_offers", [True, False])
def test_the_options_shown_are_those_of_the_syn_the_synack_answers(synack_offers: bool) -> None:
    """macOS drops window scaling, SACK and timestamps from its later SYN retries; a server
    offers them only to a SYN that offered them, so a SYN/ACK with them answers the first
    SYN, and one without them the last (the options and the round trip are that SYN's)."""
    full = TcpOptions(mss=1460, window_scale=6, sack_permitted=True, timestamps=True)
    bare = TcpOptions(mss=1460)
    segments = conversation(
        (0.0, "c", "S", 100, 0), (1.0, "c", "S", 100, 0), (3.0, "c", "S", 100, 0),
        (3.5, "s", "SA", 500, 101), (3.6, "c", "A", 101, 501),
    )  # fmt: skip
    segments[0].options = full
    segments[1].options = segments[2].options = bare
    segments[3].options = TcpOptions(mss=1400, window_scale=7, sack_permitted=True) if synack_offers else bare
    [result] = analyze_segments(segments).connections
    h = result.handshake
    assert h.status == "complete"
    assert h.client_options == (full if synack_offers else bare).as_dict()
    assert h.syn_to_synack == pytest.approx(3.5 if synack_offers else 0.5)


@pytest.mark.parametrize("pack", [True, False])
def test_a_syn_sent_again_after_its_refusal_is_one_connection(tmp_path, pack: bool, monkeypatch) -> None:
    """Windows answers a RST to its SYN by sending the same SYN (the same ISN) again, twice,
    0.5 s apart, before connect() fails: one connect(), refused three times (tshark: one
    stream), the client in SYN_SENT throughout; not three connections. A SYN of another ISN
    after a refusal is another connect()."""
    import analyzer.connections as connections

    if not pack:
        monkeypatch.setattr(connections, "MAX_PACKED_RECORDS", 10**6)  # no attempt held packed
    c, s = "10.0.0.5", "10.0.0.2"
    packets, times = [], []
    for attempt in range(3):
        packets += [
            tcp_packet(4, c, 50100, s, 3389, "S", 424242),
            tcp_packet(4, s, 3389, c, 50100, "RA", 0, 424243),
        ]
        times += [0.5 * attempt, 0.5 * attempt + 0.0003]
    packets += [tcp_packet(4, c, 50100, s, 3389, "S", 9000), tcp_packet(4, s, 3389, c, 50100, "RA", 0, 9001)]
    times += [1.6, 1.6003]
    for number, packet in enumerate(packets):
        packet[IP].id = number + 1
    path = write_capture(tmp_path / "refused-again.pcap", packets, times=times)
    path_start = 1_700_000_000.0
    first, other = analyze_file(str(path)).connections
    assert [s.frame for s in first.connection.segments] == [1, 2, 3, 4, 5, 6]
    assert [s.frame for s in other.connection.segments] == [7, 8]
    h = first.handshake
    assert h.status == "refused" and len(h.refusals) == 3 and h.explain().startswith("refused 3 times")
    assert [r.cause for r in first.resets] == ["refused"] * 3
    assert "sent its SYN again (frame 3) after the RST/ACK of frame 2" in first.resets[1].explanation
    assert states(first)["client"] == ["CLOSED", "SYN_SENT", "CLOSED"]
    assert first.compatibility.zeek.conn_state == "REJ"
    assert (
        first.syn_backoff.after_refusals == 2
        and "not a retransmission timer's" in first.syn_backoff.describe()
    )
    assert [t for t, _state in first.states["client"]] == [path_start, path_start, path_start + 1.0003]
    assert not any("never taken in" in note for note in first.notes)  # each SYN arrived: refused
    assert states(other)["client"] == ["CLOSED", "SYN_SENT", "CLOSED"]


def test_a_syn_refused_then_accepted_when_sent_again() -> None:
    """The listener came up between the client's SYNs: the first refused, the same SYN
    accepted 0.5 s later. One connection, complete, that says the refusal; Zeek's view is
    its last connection's (Zeek starts one at the SYN after a RST): S1, not REJ."""
    result = analyze(
        ("c", "S", 100, 0), ("s", "RA", 0, 101), (0.5, "c", "S", 100, 0), ("s", "SA", 500, 101),
        ("c", "A", 101, 501), ("c", "PA", 101, 501, 5), ("s", "A", 501, 106),
    )  # fmt: skip
    h = result.handshake
    assert h.status == "complete" and [r.frame for r in h.refusals] == [2]
    assert "the server refused the SYN first (RST/ACK, frame 2) and accepted it sent again" in h.explain()
    assert [r.cause for r in result.resets] == ["refused"]
    assert result.compatibility.zeek.conn_state == "S1"
    assert states(result)["client"] == ["CLOSED", "SYN_SENT", "ESTABLISHED"]
    # Nothing listened when it refused: CLOSED, then listening by a call no packet shows.
    assert states(result)["server"] == ["CLOSED", "LISTEN", "SYN_RCVD", "ESTABLISHED"]
    # The SYN sent again found the listener: SYN_RCVD from its arrival (frame 3), not from
    # the SYN/ACK that answers it; the ladder's step of that SYN says so too.
    assert result.state_frames["server"] == [None, None, 3, 5]
    syn_again = result.steps[2]
    assert (syn_again.receiver_before.value, syn_again.receiver_after.value) == ("LISTEN", "SYN_RCVD")
    # The refusal comes before the server's ISN: its label is absolute (and says so), not 2**32 - 500.
    from analyzer.output.labels import SequenceBases, packet_label

    bases = SequenceBases(result).first
    assert (
        packet_label(result.resets[0].segment, bases["server"], bases["client"])
        == "RST/ACK seq=0 ack=101 (absolute)"
    )


def test_a_synack_echoing_an_earlier_syns_timestamp_names_the_answer_lost() -> None:
    """At the client (helper-99's e5): SYN, the same SYN 1.028 s later, then the SYN/ACK,
    whose TSecr is the first SYN's TSval: the server had the first SYN, its first answer was
    lost before the capture. Echoing the second SYN's, or without timestamps, nothing is said."""

    def handshake(echoed: int | None) -> dict:
        [result] = analyze_segments(syn_again_echoing(echoed)).connections
        return connection_to_dict(result, Clock(0.0))["handshake"]

    lost_answer = handshake(7000)
    assert lost_answer["echoed_syn_frame"] == 1 and lost_answer["status"] == "complete"
    assert "the SYN/ACK echoes the timestamp of the SYN of frame 1 (RFC 7323)" in lost_answer["explanation"]
    for answered_second in (handshake(8028), handshake(None)):
        assert answered_second["echoed_syn_frame"] is None
        assert "echoes" not in answered_second["explanation"]


def test_accurate_ecn_negotiations_read_from_the_wire() -> None:
    """make_accecn.py's four answers to an AccECN SYN: AE, the flag beside the data offset, is
    read with the others (tshark's decoder too: test_decode holds both to the same reports)."""
    from analyzer.decode import read_segments
    from analyzer.decode.segment import AE, CWR, ECE, SYN, flag_names

    syn = next(read_segments(str(DATA / "accecn.pcap")))
    assert syn.flags == SYN | ECE | CWR | AE and flag_names(syn.flags) == "SYN/ECE/CWR/AE"
    results = analyze_file(str(DATA / "accecn.pcap")).connections
    assert [r.handshake.ecn_negotiated for r in results] == [
        ("AccECN", "AccECN"), ("AccECN", "AccECN"), ("AccECN", "ECN"), ("AccECN", ""),
    ]  # fmt: skip
    assert "the SYN arrived marked CE" in results[0].handshake.explain()
    # The ACE counter on the AccECN connections' segments echoes nothing.
    assert [r.ecn is not None for r in results] == [False, False, True, False]


def test_a_lone_ack_answered_for_no_connection_says_it_may_be_an_ack_scans_probe() -> None:
    """nmap -sA (helper-113, helper-115): a bare ACK answered by RST without ACK at its
    acknowledgment number read 'handshake not captured (the capture starts after it)'. A
    lone ACK with data answered so is no probe (a connection its receiver no longer had)."""
    probe = analyze(("c", "A", 100, 900), ("s", "R", 900, 0))
    assert probe.handshake.ack_probe
    assert probe.handshake.explain().startswith(
        "no handshake in the capture: a lone ACK answered by RST for no connection: an ACK scan's probe"
    )
    data = analyze(("c", "PA", 100, 900, 10), ("s", "R", 900, 0))
    assert not data.handshake.ack_probe
    assert data.handshake.explain() == "handshake not captured (the capture starts after it)"


def test_one_syn_refused_by_two_rsts_says_so_without_failing() -> None:
    """helper-138's merges: the server-side capture's copy of the RST/ACK, its TTL one higher
    and 5 ms late, is no copy the rules find: two refusals of one SYN. The text crashed (it
    looked for the SYN sent again after the first)."""
    segments = conversation((0.0, "c", "S", 100, 0), (0.0001, "s", "RA", 0, 101), (0.005, "s", "RA", 0, 101))
    [result] = analyze_segments(segments).connections
    h = result.handshake
    assert h.status == "refused" and len(h.refusals) == 2
    assert h.explain() == (
        "refused: RST/ACK from the server 100 µs after the SYN; 2 RST/ACKs for 1 SYN, some with no "
        "SYN sent again after them (the same RST/ACK seen twice)"
    )


def _attempt_then_another(*syn_times: float, ttl: int = 64) -> str:
    """SYNs from port 40000 at `syn_times`, none answered; another connection 3 s after the last."""
    attempt = conversation(*[(at, "c", "S", 100, 0) for at in syn_times])
    last = syn_times[-1]
    other = conversation((last + 3.0, "c", "S", 900, 0), (last + 3.001, "s", "SA", 5000, 901))
    for segment in other:
        if segment.sport == 40000:
            segment.sport = 40001
        else:
            segment.dport = 40001
    for number, segment in enumerate(attempt + other, 1):
        segment.frame, segment.ttl = number, ttl
    return analyze_segments(attempt + other).connections[0].handshake.explain()


def test_an_attempt_not_sent_again_while_the_capture_went_on_was_given_up() -> None:
    """helper-142's curl with Happy Eyeballs: its IPv6 SYN unanswered, the IPv4 address tried
    200 ms later and that socket closed: no SYN again in the 3 s the capture went on, where a
    Linux-like client resends within 1 s. Where it may still have been waiting (a Windows TTL,
    SYNs a tool spaced 0.2 s apart, or a backoff whose next is not yet due), nothing is said."""
    assert "the client gave the attempt up" in _attempt_then_another(0.0)
    assert "the client gave the attempt up" in _attempt_then_another(0.0, 1.0)
    assert "gave the attempt up" not in _attempt_then_another(0.0, ttl=128)
    assert "gave the attempt up" not in _attempt_then_another(0.0, 0.2)
    assert "gave the attempt up" not in _attempt_then_another(0.0, 1.0, 3.0, 7.0)
