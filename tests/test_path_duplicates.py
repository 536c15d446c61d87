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
    sent: dict[int, Segment] = {}  # the client's latest data segment at each number
    for segment in segments:
        if segment.sport == 40000:
            before = sent.get(segment.seq)
            if segment.payload_len and before is not None and segment.time - before.time < 0.001:
                segment.ip_id = before.ip_id  # the same packet again
            else:
                ip_id += 1
                segment.ip_id = ip_id
            if segment.payload_len:
                sent[segment.seq] = segment
        # One packet, one checksum (the server's each its own: timestamps differ).
        segment.checksum = segment.ip_id * 7 + segment.seq if segment.sport == 40000 else segment.frame
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
    assert "copies     1 frame seen again, left out" in text  # not only the capture's own copy


def test_a_copy_with_no_duplicate_sack_was_captured_twice() -> None:
    result = _analyzed(STEPS, {})
    assert [copy.frame for copy, _ in result.connection.copies] == [5]
    assert result.on_the_wire_twice == []
    text = "\n".join(connection_text(result, Clock(0.0)))
    assert "on the wire twice" not in text
    assert "copies     1 frame captured again, left out" in text


def test_a_duplicate_sack_after_a_resend_of_the_data_is_the_resends() -> None:
    """The data sent again after the copy (a spurious resend): the D-SACK after it answers
    the resend, not the copy."""
    steps = (*STEPS[:3], (0.3, "c", "PA", 101, 501, 100), (0.3001, "s", "A", 501, 201))
    result = _analyzed(steps, {8: (101, 201)})
    assert result.on_the_wire_twice == []


# The data at 101 never captured; the packet at 201, above the hole, and the same packet
# again 8 µs later.
ABOVE = (
    (0.1000, "c", "PA", 201, 501, 100),
    (0.10001, "s", "A", 501, 101),
    (0.100018, "c", "PA", 201, 501, 100),
    (0.1001, "s", "A", 501, 101),
)


def test_a_duplicate_sack_above_the_acknowledgment_names_the_copy_alone() -> None:
    """RFC 2883 4.2: out of order data got twice is named in a first block above the ACK,
    that data alone, which the receiver had selectively acknowledged already."""
    result = _analyzed(ABOVE, {5: (201, 301), 7: (201, 301)})
    assert [copy.frame for copy, _ in result.connection.copies] == [6]
    assert result.on_the_wire_twice == [(6, 7)]


def test_an_ordinary_sack_block_is_no_duplicate_sack() -> None:
    """Above the ACK, a block the copy's data is only part of (new data merged in), or one
    the receiver names for the first time, is an ordinary SACK: the receiver got it once."""
    merged = _analyzed(ABOVE, {5: (201, 301), 7: (201, 401)})
    assert merged.on_the_wire_twice == []
    first_named = _analyzed(ABOVE, {7: (201, 301)})
    assert first_named.on_the_wire_twice == []


def test_the_copied_packet_must_be_the_first_to_carry_its_data() -> None:
    """A spurious resend captured twice: the receiver's D-SACK answers the resend (it had
    the first send), not a path that duplicated it."""
    steps = (
        (0.1000, "c", "PA", 101, 501, 100),
        (0.3000, "c", "PA", 101, 501, 100),
        (0.300008, "c", "PA", 101, 501, 100),
        (0.3001, "s", "A", 501, 201),
    )
    result = _analyzed(steps, {7: (101, 201)})
    assert [copy.frame for copy, _ in result.connection.copies] == [6]
    assert result.on_the_wire_twice == []


def _burst(again_after: float) -> tuple[tuple, ...]:
    """Twelve segments of 100 bytes from 101, 10 µs apart, the server's ACK of each; then the
    second of them again `again_after` seconds after it, and the server's D-SACK of it."""
    steps: list[tuple] = []
    for index in range(12):
        at = 0.1 + index * 0.00001
        steps += [
            (at, "c", "PA", 101 + 100 * index, 501, 100),
            (at + 0.000005, "s", "A", 501, 201 + 100 * index),
        ]
    again = 0.10001 + again_after
    return (*steps, (again, "c", "PA", 201, 501, 100), (again + 0.00001, "s", "A", 501, 1301))


def test_a_copy_the_path_delivered_behind_a_fast_senders_segments_is_found() -> None:
    """helper-140's duplicating path, captured at the receiver: the second copy of a packet 0.5
    ms later, behind dozens of segments (8 were looked back at): 18 of its 19 copies were read
    as resends. The same identification within 5 ms is the same packet."""
    duplicated = _analyzed(_burst(0.0005), {29: (201, 301)})
    assert [copy.frame for copy, _ in duplicated.connection.copies] == [28]
    assert duplicated.on_the_wire_twice == [(28, 29)]
    # Sent again 2 ms later: the helper gives it a new identification, a resend.
    resent = _analyzed(_burst(0.002), {29: (201, 301)})
    assert resent.connection.copies == []
