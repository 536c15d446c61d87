"""Copies that were on the wire twice: a path that duplicated a packet (a bridge, a link
layer's retry, a misconfigured mirror in the path itself), told from a capture that saw one
packet twice by its receiver: a receiver that got both answers the second with a duplicate
SACK (RFC 2883: a first SACK block below its cumulative acknowledgment naming the data it
got again; or, for data above it, naming that data alone, which it had selectively
acknowledged already). connections.py leaves both kinds out of the analysis alike (the receiver drops
the second, its state unchanged); this says which were real.

The D-SACK must be among its receiver's first segments after the copy, cover its data, and
come before the sender carries that data again; and the packet copied must be the first to
carry it: a D-SACK after a spurious resend, one copy of it captured twice, is the resend's.
"""

from __future__ import annotations

from bisect import bisect_right

from analyzer.connections import Connection
from analyzer.decode.segment import UNSEEN, Segment, duplicate_sack, frame_of, seq_diff

# How many segments after a copy its receiver's D-SACK is looked for.
ANSWER_WITHIN = 64
# How many of the receiver's segments after a copy may come before its D-SACK (the ACKs of
# what arrived with it).
ANSWERS_READ = 4
# How many segments before the packet copied an earlier carrier of its data is looked for.
EARLIER_WITHIN = 1_024


def on_the_wire_twice(connection: Connection) -> list[tuple[int, int]]:
    """(copy's frame, the frame of its receiver's D-SACK) for each copy of data its receiver
    shows it got twice."""
    segments = connection.segments
    found: list[tuple[int, int]] = []
    if not any(s.sack_start != UNSEEN for s in segments):
        return found  # no SACK block at all: no D-SACK either
    for copy, original in connection.copies:
        if not copy.payload_len:
            continue
        start = bisect_right(segments, copy.frame, key=frame_of)
        sender_is_client = connection.from_client(copy)
        first = bisect_right(segments, original, key=frame_of)
        answer = None
        answers = 0
        for later in segments[start : start + ANSWER_WITHIN]:
            if connection.from_client(later) == sender_is_client:
                if later.payload_len and _overlaps(later, copy):
                    break  # the data sent again: a D-SACK after it may be its
                continue
            if _dsack_covers(later, copy, segments, first, start, sender_is_client, connection):
                answer = later
                break
            answers += 1
            if answers >= ANSWERS_READ:
                break
        if answer is not None and not _sent_before(segments, original, copy, sender_is_client, connection):
            found.append((copy.frame, answer.frame))
    return found


def _dsack_covers(
    answer: Segment,
    copy: Segment,
    segments: list[Segment],
    first: int,
    start: int,
    sender_is_client: bool,
    connection: Connection,
) -> bool:
    """Whether `answer`'s first SACK block is a duplicate SACK that covers `copy`'s data:
    below its cumulative acknowledgment; or above it (RFC 2883 4.2, out of order data got
    twice), exactly the copy's data, which the receiver had selectively acknowledged between
    the packet copied (segments[first:]) and the copy (segments[:start]): a SACK block's first
    after an arrival is the block that holds it, and a receiver that got the copy once would
    have named a new block."""
    if duplicate_sack(answer):
        return _sacked(answer, copy)
    if answer.sack_start == UNSEEN or answer.sack_start != copy.seq or answer.sack_end != copy.seq_end:
        return False
    return any(
        connection.from_client(s) != sender_is_client and _sacked(s, copy) for s in segments[first:start]
    )


def _sacked(segment: Segment, copy: Segment) -> bool:
    """Whether `segment`'s first SACK block holds all of `copy`'s data."""
    return segment.sack_start != UNSEEN and seq_diff(segment.sack_start, copy.seq) <= 0 <= seq_diff(
        segment.sack_end, copy.seq_end
    )


def _sent_before(
    segments: list[Segment], original: int, copy: Segment, sender_is_client: bool, connection: Connection
) -> bool:
    """Whether a segment of the sender's before the packet copied carried some of its data."""
    end = bisect_right(segments, original - 1, key=frame_of)
    for earlier in segments[max(0, end - EARLIER_WITHIN) : end]:
        if (
            earlier.payload_len
            and connection.from_client(earlier) == sender_is_client
            and _overlaps(earlier, copy)
        ):
            return True
    return False


def _overlaps(segment: Segment, copy: Segment) -> bool:
    """Whether `segment` carries some of `copy`'s data."""
    return seq_diff(segment.seq, copy.seq_end) < 0 < seq_diff(segment.seq_end, copy.seq)
