"""Copies that were on the wire twice (analyzer/findings/path_duplicates.py): the receiver's
duplicate SACK after the second copy shows it got both; a capture that saw one packet twice
has no such answer."""

from __future__ import annotations

from segments import HANDSHAKE, conversation

from analyzer.analysis import ConnectionAnalysis, analyze_segments
from analyzer.decode.segment import Segment
from analyzer.output.text_report import connection_text
from analyzer.timefmt import Clock


def _analyzed(steps: tuple[tuple, ...], sacks: dict[int, tuple[int, int]]) -> ConnectionAnalysis:
    """The handshake, then `steps`; `sacks`: frame -> the first SACK block of its segment.
    The client's data segments carry IPv4 identifications counting on, a copy its packet's."""
    segments: list[Segment] = conversation(*HANDSHAKE, *steps)
    ip_id = 100
    for segment in segments:
        if segment.sport == 40000:
            if segment.payload_len and segment.frame > 1 and segments[segment.frame - 2].seq == segment.seq:
                segment.ip_id = segments[segment.frame - 2].ip_id  # the same packet again
            else:
                ip_id += 1
                segment.ip_id = ip_id
        segment.checksum = segment.ip_id * 7 + segment.seq  # one packet, one checksum
        if segment.frame in sacks:
            segment.sack_start, segment.sack_end = sacks[segment.frame]
    [result] = analyze_segments(segments).connections
    return result


# 100 bytes at 101 and the same packet again 8 µs later; then 100 bytes at 201.
STEPS = (
    (0.1000, "c", "PA", 101, 501, 100),
    (0.100008, "c", "PA", 101, 501, 100),
    (0.1001, "s", "A", 501, 201),
    (0.1002, "s", "A", 501, 201),
    (0.1003, "c", "PA", 201, 501, 100),
    (0.1004, "s", "A", 501, 301),
)


def test_a_copy_its_receiver_answers_with_a_duplicate_sack_was_on_the_wire_twice() -> None:
    result = _analyzed(STEPS, {7: (101, 201)})  # the second ACK names the data got again
    assert [copy.frame for copy, _ in result.connection.copies] == [5]
    assert result.on_the_wire_twice == [(5, 7)]
    text = "\n".join(connection_text(result, Clock(0.0)))
    assert "duplicated 1 of them was on the wire twice" in text
    assert "5 (D-SACK in 7)" in text


def test_a_copy_with_no_duplicate_sack_was_captured_twice() -> None:
    result = _analyzed(STEPS, {})
    assert [copy.frame for copy, _ in result.connection.copies] == [5]
    assert result.on_the_wire_twice == []
    assert "on the wire twice" not in "\n".join(connection_text(result, Clock(0.0)))


def test_a_duplicate_sack_after_a_resend_of_the_data_is_the_resends() -> None:
    """The data sent again after the copy (a spurious resend): the D-SACK after it answers
    the resend, not the copy."""
    steps = (*STEPS[:3], (0.3, "c", "PA", 101, 501, 100), (0.3001, "s", "A", 501, 201))
    result = _analyzed(steps, {8: (101, 201)})
    assert result.on_the_wire_twice == []
