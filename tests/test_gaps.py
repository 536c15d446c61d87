"""What filled a gap in a sender's numbers (analyzer/findings/gaps.py): the packet first sent,
late (reordered: in the capture, not lost), a resend, or nothing; and the report's words."""

from __future__ import annotations

import pytest
from segments import HANDSHAKE, conversation

from analyzer.analysis import ConnectionAnalysis, analyze_segments
from analyzer.decode.segment import UNSEEN
from analyzer.output.text_report import connection_text
from analyzer.timefmt import Clock


def _analyzed(steps: tuple[tuple, ...], ids: list[int] | None, rtt: float = 0.050) -> ConnectionAnalysis:
    """The handshake (a round trip of `rtt`), then the client's `steps`; `ids`: the IPv4
    identifications of the client's data segments in order (None: IPv6-like, none)."""
    handshake = ((0.0, *HANDSHAKE[0]), (rtt, *HANDSHAKE[1]), (rtt + 0.0001, *HANDSHAKE[2]))
    segments = conversation(*handshake, *steps)
    data = [s for s in segments if s.payload_len]
    for segment, ip_id in zip(data, ids or [UNSEEN] * len(data), strict=True):
        segment.ip_id = ip_id
    [result] = analyze_segments(segments).connections
    return result


# Three segments of 100 bytes at 101, 201, 301: the one at 201 comes last.
REORDERED = (
    (0.1000, "c", "PA", 101, 501, 100),
    (0.1001, "c", "PA", 301, 501, 100),
    (0.1002, "c", "PA", 201, 501, 100),
)
# The one at 201 never came; the client sends it again after three duplicate ACKs.
RESENT = (
    (0.1000, "c", "PA", 101, 501, 100),
    (0.1001, "c", "PA", 301, 501, 100),
    (0.1500, "s", "A", 501, 201),
    (0.1501, "s", "A", 501, 201),
    (0.1502, "s", "A", 501, 201),
    (0.1503, "c", "PA", 201, 501, 100),
)


def test_the_packet_first_sent_filling_a_gap_by_its_identification_is_reordering() -> None:
    result = _analyzed(REORDERED, [10, 12, 11])
    assert result.gaps is not None
    assert result.gaps.reordered == [(5, 6)] and not result.gaps.resent and not result.gaps.unfilled
    text = format_text_of(result)
    assert "reordered  1 gap in a sender's numbers filled later by the packet first sent" in text
    assert "6 (after 5)" in text
    assert "packets not in the capture" not in text  # Wireshark flags the gap; nothing is missing


def test_a_resend_filling_a_gap_by_its_identification_is_a_loss_before_the_capture() -> None:
    result = _analyzed(RESENT, [10, 12, 13])
    assert result.gaps is not None and result.gaps.resent == [(5, 9)] and not result.gaps.reordered
    text = format_text_of(result)
    assert "packets not in the capture: 1 segment follows a gap" in text
    assert "reordered" not in text


def test_a_packet_first_sent_after_its_resend_makes_the_gap_reordering() -> None:
    """A path that delays a packet longer than its sender waits (RACK: a few milliseconds)
    delivers the resend first, then the original (helper-99's e1: 42 of 47 gaps read as lost
    before the capture where its forwarder dropped none): the original's smaller
    identification, coming after the resend, makes the gap reordering, filled by it."""
    late_original = (*RESENT, (0.1600, "c", "PA", 201, 501, 100))
    result = _analyzed(late_original, [10, 12, 13, 11])
    assert result.gaps is not None
    assert result.gaps.reordered == [(5, 10)] and not result.gaps.resent
    text = format_text_of(result)
    assert "packets not in the capture" not in text
    assert "10 (after 5)" in text
    # A third copy sent after the flagged segment changes nothing: the resend filled it.
    again = _analyzed(late_original, [10, 12, 13, 14])
    assert again.gaps is not None and again.gaps.resent == [(5, 9)] and not again.gaps.reordered


def test_a_later_copy_refiles_a_gap_only_where_the_identifications_count_on() -> None:
    """Random identifications (macOS, OpenBSD, a NAT's scrub) put a later copy "before" the
    flagged segment half the time: the gap the late segment filled within 2 ms stays
    reordering when a spurious resend of it comes 300 ms later (review-56's finding 1: it
    was refiled as a loss)."""
    late_copy = (*REORDERED, (0.4, "c", "PA", 201, 501, 100))
    random_ids = _analyzed(late_copy, [40000, 12000, 12500, 11000])
    assert random_ids.gaps is not None and random_ids.gaps.reordered == [(5, 6)]
    assert not random_ids.gaps.resent


def test_without_identifications_the_time_decides() -> None:
    quick = _analyzed(REORDERED, None)
    assert quick.gaps is not None and quick.gaps.reordered == [(5, 6)]
    late = _analyzed(RESENT, None)  # 50 ms after the gap, the round trip 50 ms: a resend
    assert late.gaps is not None and late.gaps.resent == [(5, 9)]
    # Identifications too far apart to be one counter's say nothing: the time decides.
    far = _analyzed(REORDERED, [10, 30000, 60000])
    assert far.gaps is not None and far.gaps.reordered == [(5, 6)]


def test_a_gap_never_filled_is_unfilled() -> None:
    result = _analyzed(RESENT[:2], [10, 12])
    assert result.gaps is not None and result.gaps.unfilled == [5]
    assert not result.gaps.reordered and not result.gaps.resent


def test_no_gap_no_finding() -> None:
    result = _analyzed(((0.1, "c", "PA", 101, 501, 100), (0.1001, "c", "PA", 201, 501, 100)), [10, 11])
    assert result.gaps is None


def format_text_of(result: ConnectionAnalysis) -> str:
    return "\n".join(connection_text(result, Clock(0.0)))


def test_identifications_decide_before_the_time() -> None:
    # Delayed 30 ms on the way (later than the time alone would take for reordering).
    slow = _analyzed(
        tuple((t + (0.03 if step[3] == 201 else 0), *step[1:]) for step in REORDERED for t in [step[0]]),
        [10, 12, 11],
    )
    assert slow.gaps is not None and slow.gaps.reordered == [(5, 6)]
    # A resend 1 ms after the gap (sooner than the time alone would take for a resend).
    quick = (
        (0.1000, "c", "PA", 101, 501, 100),
        (0.1001, "c", "PA", 301, 501, 100),
        (0.1011, "c", "PA", 201, 501, 100),
    )
    resent = _analyzed(quick, [10, 12, 13])
    assert resent.gaps is not None and resent.gaps.resent == [(5, 6)]


def test_a_long_connection_files_its_gaps_as_they_come() -> None:
    """Folded (long_connection.py: most segments let go), the gaps are those of the whole."""
    import functools

    from analyzer.analysis import analyze_connection
    from analyzer.connections import stream_connections
    from analyzer.long_connection import FoldedConnection

    data = [(0.1 + i * 0.001, "c", "PA", 101 + 100 * i, 501, 100) for i in range(60)]
    data[40], data[41] = (data[40][0], *data[41][1:]), (data[41][0], *data[40][1:])  # reordered
    data[50] = (0.2, *data[50][1:])  # the one at 5101 comes 50 ms late: a resend
    data.sort(key=lambda step: step[0])

    def gaps(fold: object, long_connection: int) -> object:
        handshake = ((0.0, *HANDSHAKE[0]), (0.05, *HANDSHAKE[1]), (0.0501, *HANDSHAKE[2]))
        segments = conversation(*handshake, *data)
        for segment in segments:
            if segment.payload_len:  # counted on in the order sent; the resend's later
                segment.ip_id = 999 if segment.seq == 5101 else 100 + (segment.seq - 101) // 100
        [connection] = stream_connections(iter(segments), fold=fold, long_connection=long_connection)  # type: ignore[arg-type]
        return analyze_connection(connection).gaps

    whole = gaps(None, 1 << 30)
    folded = gaps(functools.partial(FoldedConnection, head_steps=0, look_ahead=32), 24)
    assert whole is not None and len(whole.reordered) == 1 and len(whole.resent) == 1
    assert folded == whole


def test_the_time_rule_takes_half_the_round_trip() -> None:
    """A round trip of 4 ms: a filler 1 ms after the gap is the first send, 3 ms after a
    resend (half the round trip is 2 ms, under REORDER_MOST)."""
    for late, kind in ((0.001, "reordered"), (0.003, "resent")):
        steps = ((0.1000, "c", "PA", 101, 501, 100), (0.1001, "c", "PA", 301, 501, 100),
                 (0.1001 + late, "c", "PA", 201, 501, 100))  # fmt: skip
        result = _analyzed(steps, None, rtt=0.004)
        assert result.gaps is not None and getattr(result.gaps, kind) == [(5, 6)], (late, result.gaps)


def test_without_a_round_trip_the_time_calls_nothing_reordered() -> None:
    """No handshake captured: a resend on a LAN comes within a millisecond, so the time
    alone calls no filler the first send."""
    segments = conversation(*REORDERED)
    [result] = analyze_segments(segments).connections
    assert result.gaps is not None and result.gaps.resent == [(2, 3)] and not result.gaps.reordered


def test_random_identifications_tell_nothing() -> None:
    """A sender whose identifications jump about (random, not a counter): the filler's
    smaller one says nothing; the time decides (a resend 50 ms later)."""
    steps = tuple((0.1 + i * 0.0001, "c", "PA", 101 + 100 * i, 501, 100) for i in range(6) if i != 3)
    steps += ((0.1505, "c", "PA", 401, 501, 100),)
    result = _analyzed(steps, [40000, 1200, 52000, 9000, 30000, 8990])
    assert result.gaps is not None and result.gaps.resent == [(7, 9)] and not result.gaps.reordered
    counted = _analyzed(steps, [100, 101, 102, 104, 105, 103])  # a counter's: 103 was sent first
    assert counted.gaps is not None and counted.gaps.reordered == [(7, 9)]


def test_gaps_never_filled_beyond_the_pending_bound_are_unfilled(monkeypatch: pytest.MonkeyPatch) -> None:
    import analyzer.findings.gaps as gaps

    monkeypatch.setattr(gaps, "PENDING_MOST", 2)
    tracker = gaps.GapTracker()
    for frame in range(4):  # 100 bytes each, a gap of 100 before every one
        segment = conversation((0.1 + frame * 0.001, "c", "PA", 101 + 200 * frame, 501, 100))[0]
        segment.frame = frame + 1
        tracker.feed(segment, True, frame > 0)
    result = tracker.result(0.05)
    assert result is not None and result.unfilled == [2, 3, 4] and not result.reordered


def test_data_filed_after_its_ack_stamped_before_it_was_not_missed() -> None:
    """(helper-104's swapped files) The server's ACK of the client's data filed before that
    data, which is stamped 50 us before it (two CPUs' capture buffers): Wireshark flags the
    ACK for data not captured; the data is the next frame. Stamped after its ACK (a late
    interface's clock: decode/interface_clocks.py), or never filed, it stays missed. Whole or
    folded, the same."""
    import functools

    from analyzer.analysis import analyze_connection
    from analyzer.connections import stream_connections
    from analyzer.long_connection import FoldedConnection

    for data_at, filed in ((0.09995, [(4, 5)]), (0.1001, [])):
        steps = ((0.1, "s", "A", 501, 201), (data_at, "c", "PA", 101, 501, 100), (0.2, "c", "FA", 201, 501))
        result = _analyzed(steps, [10])
        assert "ack_lost_segment" in result.sequence.flags[4]
        assert (result.gaps.filed_late if result.gaps is not None else []) == filed
        text = format_text_of(result)
        if filed:
            assert "reordered  1 segment filed after the ACK that acknowledges it, stamped before it" in text
            assert "5 (after 4)" in text and "data it never saw" not in text
        else:
            assert "1 segment acknowledges data it never saw" in text
    handshake = ((0.0, *HANDSHAKE[0]), (0.05, *HANDSHAKE[1]), (0.0501, *HANDSHAKE[2]))
    steps = [(0.1 + i * 0.001, "c", "PA", 101 + 100 * i, 501, 100) for i in range(40)]
    steps.insert(20, (0.1205, "s", "A", 501, 2201))  # the ACK of 2101..2200, filed before it
    steps[21] = (0.1195, *steps[21][1:])

    def gaps(fold: object, long_connection: int) -> object:
        [connection] = stream_connections(
            iter(conversation(*handshake, *steps)), fold=fold, long_connection=long_connection
        )  # type: ignore[arg-type]
        return analyze_connection(connection).gaps

    whole = gaps(None, 1 << 30)
    assert whole is not None and whole.filed_late == [(24, 25)]
    assert gaps(functools.partial(FoldedConnection, head_steps=0, look_ahead=8), 12) == whole


def test_a_late_packet_first_sent_is_no_retransmission_in_the_lists() -> None:
    """Wireshark flags the late original a retransmission (it came an iRTT after the highest):
    the interesting connections' line and --only retransmissions went by that flag, beside a
    block that said the packet was delayed, not sent again (a mirror port's reordered copies)."""
    from analyzer.output.only import retransmitted
    from analyzer.output.text_report import interesting_reasons

    late = (
        (0.1000, "c", "PA", 101, 501, 100),
        (0.1001, "c", "PA", 301, 501, 100),
        (0.1050, "c", "PA", 201, 501, 100),
    )
    result = _analyzed(late, [10, 12, 11], rtt=0.0005)
    assert result.gaps is not None and result.gaps.reordered == [(5, 6)]
    assert "retransmission" in result.sequence.flags[6]
    assert interesting_reasons(result) == [] and not retransmitted(result)
    resent = _analyzed(RESENT, [10, 12, 13])
    assert "retransmission" in resent.sequence.flags[9]
    assert interesting_reasons(resent) == ["1 retransmission"] and retransmitted(resent)


# At the client, the server's segment at 601 lost before the capture point, its fast
# retransmission 0.8 ms after the next: a slow SYN/ACK (30 ms) puts it within half the round
# trip, and with no identification the time alone files it reordered (helper-109).
FAST_RESENT = (
    (0.0, "c", "S", 100, 0), (0.030, "s", "SA", 500, 101), (0.0301, "c", "A", 101, 501),
    (0.031, "c", "PA", 101, 501, 50),
    (0.0320, "s", "A", 501, 151, 100),
    (0.0322, "s", "A", 701, 151, 100), (0.03221, "c", "A", 151, 601),
    (0.0324, "s", "A", 801, 151, 100), (0.03241, "c", "A", 151, 601),
    (0.0326, "s", "A", 901, 151, 100), (0.03261, "c", "A", 151, 601),
    (0.0330, "s", "A", 601, 151, 100), (0.03301, "c", "A", 151, 1001),
)  # fmt: skip


def test_a_gap_only_its_time_files_reordered_keeps_its_retransmission_in_the_lists() -> None:
    from analyzer.output.only import retransmitted
    from analyzer.output.text_report import interesting_reasons

    [result] = analyze_segments(conversation(*FAST_RESENT)).connections
    assert result.gaps is not None and result.gaps.reordered == [(6, 12)] and result.gaps.timed == [12]
    assert interesting_reasons(result) == ["1 retransmission"] and retransmitted(result)


def test_our_resends_count_in_the_lists_whatever_wireshark_calls_them() -> None:
    """At the sender, a segment resent within the iRTT while new data goes out: Wireshark
    flags it out of order only; the resend finder has it. Both lists say so (--only
    retransmissions took it, the interesting connections did not)."""
    from analyzer.output.only import retransmitted
    from analyzer.output.text_report import interesting_reasons

    steps: list[tuple] = [
        (0.0, "c", "S", 100, 0),
        (0.00001, "s", "SA", 500, 101),
        (0.020, "c", "A", 101, 501),
    ]
    steps += [(0.022 + 0.001 * n, "s", "A", 501 + 100 * n, 101, 100) for n in range(10)]
    steps += [
        (0.042, "c", "A", 101, 601),
        (0.043, "s", "A", 1501, 101, 100),
        (0.044, "s", "A", 601, 101, 100),
    ]
    steps += [(0.064, "c", "A", 101, 1601)]
    [result] = analyze_segments(conversation(*steps)).connections
    assert result.sequence.flags == {16: ["out_of_order"]} and 16 in result.resends
    assert interesting_reasons(result) == ["1 retransmission"] and retransmitted(result)


def test_a_capture_begun_while_an_end_probes_misses_nothing() -> None:
    """helper-131's mid2: the capture begins mid-connection while the client sends keep-alives
    (no data, one below its next number) and the server acknowledges one past them: Wireshark
    flags the first ACK and the client's FIN after a gap ("ACKed segment that wasn't
    captured", "previous segment not captured"), and the ACK of the FIN too; nothing is missing."""
    from segments import conversation

    from analyzer.analysis import analyze_segments
    from analyzer.output.text_report import analysis_text

    probes = (
        ("c", "A", 99, 500), ("s", "A", 500, 100),
        (1.0, "c", "A", 99, 500), (1.00001, "s", "A", 500, 100),
        (2.0, "c", "FA", 100, 500), (2.00001, "s", "A", 500, 101),
    )  # fmt: skip
    analysis = analyze_segments(conversation(*probes))
    [result] = analysis.connections
    assert result.gaps is not None
    assert sorted(result.gaps.probe_acks + result.gaps.after_probes) == [2, 5, 6]
    assert result.gaps.as_dict()["after_probes"] == [2, 5, 6]
    text = analysis_text(analysis)
    assert (
        "frames 2, 5, 6 flagged by Wireshark after a gap only because the capture began while an end probed"
        in text
    )
    assert "packets not in the capture" not in text
    # Wireshark flags no keep-alive (it has no next number of the client's yet): ours does.
    [keep_alive] = [d for d in result.diagnoses if d.kind == "keep_alive"]
    assert keep_alive.sentence.startswith("keep-alive: the client probed 2 times, every 1.000 s; 2 answered")
    # Answered with a zero window, they are window probes: no keep-alive.
    zero = conversation(*probes)
    zero[1].window = zero[3].window = 0
    [result_zero] = analyze_segments(zero).connections
    assert not [d for d in result_zero.diagnoses if d.kind == "keep_alive"]
    # Bare segments 175 ms apart (an OS fingerprinting scan's pace), even answered one past
    # them: sooner than any keep-alive timer, no keep-alive.
    scan = conversation(("c", "A", 99, 500), ("s", "A", 500, 100), (0.175, "c", "A", 99, 500),
                        (0.1751, "s", "A", 500, 100))  # fmt: skip
    [result_scan] = analyze_segments(scan).connections
    assert not [d for d in result_scan.diagnoses if d.kind == "keep_alive"]
    # Nor bare segments seconds apart that nothing answers: nothing shows them one below.
    quiet = conversation(("c", "A", 99, 500), (1.5, "c", "A", 99, 500), (3.0, "c", "A", 99, 500))
    [result_quiet] = analyze_segments(quiet).connections
    assert not [d for d in result_quiet.diagnoses if d.kind == "keep_alive"]
    # helper-133's middl: a downloading client's pure ACKs at its next number (the server's
    # data acknowledged), one of its segments missed: the server's ACK of it and the client's
    # next segment after the gap are missed packets, not probes.
    missed = conversation(
        ("s", "A", 500, 100, 100), ("c", "A", 100, 600), ("s", "A", 600, 100, 100), ("c", "A", 100, 700),
        ("s", "A", 700, 110), ("c", "PA", 110, 700, 10), ("s", "A", 700, 120),
    )  # fmt: skip
    missed_analysis = analyze_segments(missed)
    [result_missed] = missed_analysis.connections
    assert result_missed.gaps is None or not (
        result_missed.gaps.probe_acks or result_missed.gaps.after_probes
    )
    assert "packets not in the capture" in analysis_text(missed_analysis)
    # Pure ACKs 50 ms apart (an interactive end's, helper-134's g2key), then one byte missed:
    # sooner than any probe timer, no probes.
    typed = conversation(("c", "A", 99, 500), (0.05, "c", "A", 99, 500), (0.1, "s", "A", 500, 100),
                         (0.2, "c", "PA", 100, 500, 1), (0.21, "s", "A", 500, 101))  # fmt: skip
    [result_typed] = analyze_segments(typed).connections
    assert result_typed.gaps is None or not (result_typed.gaps.probe_acks or result_typed.gaps.after_probes)
    # One bare segment alone may be a pure ACK before data the capture missed: no such reading.
    once = analyze_segments(conversation(*probes[:2], *probes[4:]))
    [result] = once.connections
    assert result.gaps is None or not (result.gaps.probe_acks or result.gaps.after_probes)
    assert "packets not in the capture" in analysis_text(once)


def test_a_delayed_original_is_drawn_as_sent_once_whatever_wireshark_calls_it() -> None:
    """helper-135's dl: after three duplicate ACKs, the packet first sent fills the gap (its
    identification before the segment's after the gap): Wireshark calls it a fast
    retransmission by its time; the diagram draws it as the report reads it, sent once."""
    from analyzer.output.labels import analysis_notes, flagged_resends, resent_frames

    delayed = _analyzed(RESENT, [10, 12, 11])
    assert delayed.gaps is not None and delayed.gaps.reordered == [(5, 9)]
    assert "fast_retransmission" in delayed.sequence.flags[9]
    assert 9 not in flagged_resends(delayed) and 9 not in resent_frames(delayed)
    assert analysis_notes(delayed)[9] == "the first copy, delayed (Wireshark: fast retransmission)"
    resent = _analyzed(RESENT, [10, 12, 13])
    assert 9 in flagged_resends(resent) and analysis_notes(resent)[9] == "fast retransmission"


def test_every_segment_of_a_gap_of_several_is_filed() -> None:
    """helper-140's receiver capture: a gap of three segments (201, 301, 401) the sender resent
    one after another. Each resend is one (it read 1 of 3: only the gap's first number was
    watched); one piece of the rest missed too leaves the next resend filing the rest."""
    gap = (
        (0.1000, "c", "PA", 101, 501, 100),
        (0.1001, "c", "PA", 501, 501, 100),
        (0.1500, "s", "A", 501, 201),
        (0.1503, "c", "PA", 201, 501, 100),
        (0.1504, "c", "PA", 301, 501, 100),
        (0.1505, "c", "PA", 401, 501, 100),
    )
    result = _analyzed(gap, [10, 14, 15, 16, 17])
    assert result.gaps is not None and result.gaps.resent == [(5, 7), (5, 8), (5, 9)]
    assert "3 segments that filled a gap" in format_text_of(result)
    holed = _analyzed(tuple(step for step in gap if step[3] != 301), [10, 14, 15, 17])
    assert holed.gaps is not None and holed.gaps.resent == [(5, 7), (5, 8)] and not holed.gaps.unfilled


def test_the_rest_of_a_gap_begun_is_not_unfilled_past_the_pending_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import analyzer.findings.gaps as gaps

    monkeypatch.setattr(gaps, "PENDING_MOST", 1)
    tracker = gaps.GapTracker()
    # 101; a gap of 200 before 401 (flagged 2); its first half resent (3); a gap before 701 (4).
    steps = ((101, 100, False), (401, 100, True), (201, 100, False), (701, 100, True))
    for frame, (seq, length, after_gap) in enumerate(steps, 1):
        segment = conversation((0.1 + frame * 0.001, "c", "PA", seq, 501, length))[0]
        segment.frame = frame
        tracker.feed(segment, True, after_gap)
    result = tracker.result(0.05)
    assert result is not None and result.unfilled == [4]
    assert [flagged for flagged, _ in result.reordered + result.resent] == [2]


def test_a_gap_of_several_segments_first_sent_late_is_one_gap_with_nothing_missed() -> None:
    """helper-142's FTP download: one gap, filled by ten packets first sent, read "-9 segments
    follow a gap" (ten fillers taken off one flagged segment) and "10 gaps"."""
    late = (
        (0.1000, "c", "PA", 101, 501, 100),
        (0.1001, "c", "PA", 501, 501, 100),
        (0.1002, "c", "PA", 201, 501, 100),
        (0.1003, "c", "PA", 301, 501, 100),
        (0.1004, "c", "PA", 401, 501, 100),
    )
    result = _analyzed(late, [10, 14, 11, 12, 13])
    assert result.gaps is not None and result.gaps.reordered == [(5, 6), (5, 7), (5, 8)]
    text = format_text_of(result)
    assert "packets not in the capture" not in text
    assert (
        "reordered  1 gap in a sender's numbers filled later by the packets first sent (3 segments;" in text
    )
