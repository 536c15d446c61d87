"""What a segment's TSecr proves (RFC 7323 4.3): an end echoes the TSval of the latest
segment it took in, so a TSecr older than a pure ACK captured well before shows that ACK never
reached it (helper-131's ka2in: keep-alive answers dropped by a firewall after the capture
point, then the keep-alive timer's RST)."""

from __future__ import annotations

from segments import HANDSHAKE, conversation

from analyzer.analysis import analyze_segments
from analyzer.decode.segment import UNSEEN, echoes_older
from analyzer.loss_inference import lost_segments

# The client probes four times a second apart; the server answers each at once; the client
# resets the connection a second after the last probe.
KEEP_ALIVES = (
    *HANDSHAKE,
    (0.010, "c", "PA", 101, 501, 5),
    (0.011, "s", "A", 501, 106),
    (1.10000, "c", "A", 105, 501),
    (1.10001, "s", "A", 501, 106),
    (2.10000, "c", "A", 105, 501),
    (2.10001, "s", "A", 501, 106),
    (3.10000, "c", "A", 105, 501),
    (3.10001, "s", "A", 501, 106),
    (4.10000, "c", "A", 105, 501),
    (4.10001, "s", "A", 501, 106),
    (5.10000, "c", "RA", 106, 501),
)
ANSWERS = [7, 9, 11, 13]  # the server's answers to the probes, by frame


def keep_alives(taken: int, rst_at: float = 5.1):
    """KEEP_ALIVES with timestamps (each end's clock a millisecond a tick, Linux's), the
    client taking in only the first `taken` answers: what it sends later echoes the latest
    of them."""
    segments = conversation(*KEEP_ALIVES)
    segments[-1].time = 100.0 + rst_at
    echo = 0
    answers_seen = 0
    for segment in segments:
        by_client = segment.sport == 40000
        segment.ts_val = int(segment.time * 1000) + (7_000_000 if by_client else 9_000_000)
        if by_client:
            segment.ts_ecr = echo
        else:
            segment.ts_ecr = segments[0].ts_val
            if segment.frame not in ANSWERS or answers_seen < taken:
                echo = segment.ts_val
                answers_seen += segment.frame in ANSWERS
    return segments


def _keep_alive(segments):
    [result] = analyze_segments(segments).connections
    [diagnosis] = [d for d in result.diagnoses if d.kind == "keep_alive"]
    return diagnosis


def test_a_tsecr_older_than_a_pure_ack_s_tsval_proves_it_never_arrived() -> None:
    segments = keep_alives(taken=1)
    rst, first, second = segments[-1], segments[6], segments[8]
    assert echoes_older(rst, second) and not echoes_older(rst, first)
    # Data or a FIN moves the echo only where it is in order: no proof from them here.
    data = segments[3]
    assert not echoes_older(segments[5], data)
    # Without timestamps, or a TSval of 0, nothing is proven.
    second.ts_val = 0
    assert not echoes_older(rst, second)
    second.ts_val = UNSEEN
    assert not echoes_older(rst, second)
    # Out of order (not at the acknowledgment number its receiver had sent): no proof.
    assert echoes_older(rst, segments[10])
    segments[10].seq = 502
    assert not echoes_older(rst, segments[10])


def test_keep_alive_answers_the_prober_never_took_in_make_its_rst_the_keep_alive_timer_s() -> None:
    segments = keep_alives(taken=1)
    assert lost_segments(segments) == {9, 11, 13}
    [result] = analyze_segments(segments).connections
    assert "none of them reached" in _keep_alive(keep_alives(taken=0)).sentence
    [reset] = result.resets
    assert reset.cause == "keep_alive_timeout"
    assert "the server's answers, frames 9, 11, 13, were captured but never reached it" in reset.explanation
    assert "echoes frame 7's timestamp" in reset.explanation
    diagnosis = _keep_alive(segments)
    assert "4 answered, but the last 3 answers never reached the client" in diagnosis.sentence
    assert diagnosis.marks[7] == "keep-alive answered" and diagnosis.marks[9] == "answer never arrived"


def test_answers_the_prober_took_in_leave_the_rst_an_abort() -> None:
    segments = keep_alives(taken=4)
    assert lost_segments(segments) == set()
    [result] = analyze_segments(segments).connections
    [reset] = result.resets
    assert reset.cause == "abort" and "never reached" not in reset.explanation
    [diagnosis] = [d for d in result.diagnoses if d.kind == "keep_alive"]
    assert "never reached" not in diagnosis.sentence and "4 answered" in diagnosis.sentence


def test_an_answer_that_may_have_been_in_flight_when_the_rst_left_is_no_proof() -> None:
    """The last answer within the crossing window (the handshake's round trip) of the RST:
    the RST may have left before it arrived."""
    segments = keep_alives(taken=1, rst_at=4.100011)
    lost = lost_segments(segments)
    assert 13 not in lost and {9, 11} <= lost
    [result] = analyze_segments(segments).connections
    assert "never reached" not in result.resets[0].explanation


def test_a_data_sender_s_burst_a_round_trip_on_proves_nothing_of_the_acks_it_crossed() -> None:
    """zeek_missing-syn, captured near the client 183 ms from the server: the client's two
    ACKs a tick apart; the server's burst a round trip later echoes the first in its first two
    segments and the second in the next two (each ACK answered as it came). The burst came a
    round trip after the second ACK, as after the first: no proof it missed it."""
    segments = conversation(
        ("c", "S", 100, 0),
        (0.183, "s", "SA", 500, 101),
        (0.1831, "c", "A", 101, 501),
        (0.367, "s", "A", 501, 101, 1000),
        (0.3671, "s", "A", 1501, 101, 1000),
        (0.369, "c", "A", 101, 1501),
        (0.3691, "c", "A", 101, 2501),
        (0.552, "s", "A", 2501, 101, 1000),
        (0.5521, "s", "A", 3501, 101, 1000),
        (0.5522, "s", "A", 4501, 101, 1000),
    )
    # (TSval, TSecr) each, both clocks 1 ms a tick.
    stamps = [(100, 0), (5183, 100), (283, 5183), (5367, 283), (5367, 283), (469, 5367), (470, 5367),
              (5552, 469), (5552, 469), (5552, 470)]  # fmt: skip
    for segment, (val, ecr) in zip(segments, stamps, strict=True):
        segment.ts_val, segment.ts_ecr = val, ecr
    assert echoes_older(segments[7], segments[6])  # the burst's first echoes the first ACK
    assert lost_segments(segments) == set()


def test_an_rto_s_copies_acknowledged_on_the_wire_but_never_taken_in_say_so() -> None:
    """helper-131's utoin: each copy of the client's data acknowledged at once on the wire (a
    duplicate SACK of it), every ACK dropped after the capture point: the client's copies go
    on echoing the TSval of the server's ACK before them."""
    steps = [*HANDSHAKE, (0.010, "c", "PA", 101, 501, 100), (0.0101, "s", "A", 501, 201)]
    times = [0.2, 0.4, 0.8, 1.6, 3.2]
    for at in times:
        steps += [(at, "c", "PA", 101, 501, 100), (at + 0.00002, "s", "A", 501, 201)]
    segments = conversation(*steps)
    for segment in segments:
        by_client = segment.sport == 40000
        segment.ts_val = int(segment.time * 1000) + (7_000_000 if by_client else 9_000_000)
        segment.ts_ecr = segments[1].ts_val if by_client else segments[0].ts_val
    for segment in segments[5:]:  # the client took nothing in after the first ACK of its data
        if segment.sport == 40000:
            segment.ts_ecr = segments[4].ts_val
        else:
            segment.sack_start, segment.sack_end = 101, 201
    acks = [s.frame for s in segments[5:] if s.sport == 80]
    assert lost_segments(segments) == set(acks[:-1])  # the last has nothing after it to judge it
    [result] = analyze_segments(segments).connections
    [rto] = [d for d in result.diagnoses if d.kind == "retransmission_timeout"]
    assert (
        f"the server acknowledged it (frames {', '.join(map(str, acks[:-1]))}), but those ACKs never reached the client"
        in rto.sentence
    )


def test_an_ack_that_came_while_its_receiver_s_delayed_ack_waited_moves_no_echo() -> None:
    """helper-133's delack (real Linux on loopback): the client's 10 bytes, then its window
    update 5 ms later; the server's delayed ACK 36 ms on echoes the data's TSval, not the
    update's: RFC 7323 4.3 moves the echo only for a segment at or below what the receiver had
    acknowledged (Linux's rcv_wup), and the server had not yet acknowledged the data. No loss."""
    segments = conversation(*HANDSHAKE, (0.010, "c", "PA", 101, 501, 10), (0.015, "c", "A", 111, 501),
                            (0.051, "s", "A", 501, 111))  # fmt: skip
    stamps = [(100, 0), (900, 100), (101, 900), (110, 900), (115, 900), (951, 110)]
    for segment, (val, ecr) in zip(segments, stamps, strict=True):
        segment.ts_val, segment.ts_ecr = val, ecr
    assert echoes_older(segments[5], segments[4])
    assert lost_segments(segments) == set()


def test_a_later_echo_of_the_ack_itself_proves_it_arrived() -> None:
    """helper-133's laterecho: the receiver's next segment echoes an older TSval (it left
    before the ACK arrived: a queue on the path held it), a later one echoes the ACK's own:
    it arrived. Here the keep-alive timer's RST echoes the last answer."""
    segments = keep_alives(taken=1)
    segments[-1].ts_ecr = segments[12].ts_val
    assert lost_segments(segments) == set()
    [result] = analyze_segments(segments).connections
    assert result.resets[0].cause != "keep_alive_timeout"


def test_a_segment_held_on_the_path_judges_no_ack_and_any_later_echo_counts() -> None:
    """helper-134's l3reorder: the client's ACK (frame 5); the server's next segment echoes an
    older TSval, the one after echoes the ACK's own (it arrived), then a segment held on the
    path (its TSval older than the one before it) echoes an older one still: no loss, neither of
    frame 5 nor of the client's ACK before the held segment (frame 8)."""
    segments = conversation(
        ("c", "S", 1000, 0), (0.001, "s", "SA", 5000, 1001), (0.002, "c", "A", 1001, 5001),
        (1.0, "s", "PA", 5001, 1001, 100), (1.001, "c", "A", 1001, 5101), (1.2, "s", "PA", 5101, 1001, 100),
        (1.3, "s", "PA", 5201, 1001, 100), (1.301, "c", "A", 1001, 5301), (1.4, "s", "PA", 5301, 1001, 100),
    )  # fmt: skip
    stamps = [(1000000, 0), (50001000, 1000000), (1002000, 50001000), (51000000, 1002000), (2000999, 51000000),
              (51000000, 1002000), (51300000, 2000999), (2301000, 51300000), (51000000, 1002000)]  # fmt: skip
    for segment, (val, ecr) in zip(segments, stamps, strict=True):
        segment.ts_val, segment.ts_ecr = val, ecr
    assert lost_segments(segments) == set()
