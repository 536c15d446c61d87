"""Resends: which segments are copies of one their sender sent before, and which copy each is.

Rule: a segment that carries data, a SYN or a FIN is a copy of an earlier one from the same
sender with the same sequence number and the same SYN and FIN flags, and, for data alone, the
same length. A SYN or FIN is the same SYN or FIN whatever data rides with it: Linux resends a
Fast Open SYN that went unanswered without its data. The ACK flag is not compared (an end's
SYN/ACK after its own SYN repeats that SYN: simultaneous open) and neither is RST.

Three rules read the copies: loss inference (a SYN or FIN sent again was lost),
Wireshark's out-of-order (a segment seen for the first time) and the ladder (the n-th
resend, drawn dashed with the time since the copy before). Zeek's retransmitted-data count
is not about copies and keeps its own rule (findings/zeek_conn.py): any data below the
highest sequence number seen, a hole filled late included.
"""

from __future__ import annotations

from typing import Final

from analyzer.decode.segment import FIN, SYN, Segment

_CONTROL: Final = SYN | FIN


def earlier_copies(segments: list[Segment]) -> dict[int, int]:
    """Index (in `segments`) of every copy -> index of the copy just before it."""
    earlier: dict[int, int] = {}
    if not segments:
        return earlier
    latest: dict[int, int] = {}  # copy key -> index of its latest copy
    first_src, first_port = segments[0].src, segments[0].sport
    for index, segment in enumerate(segments):
        control = segment.flags & _CONTROL
        length = segment.payload_len
        if not (control or length):
            continue
        sender = 1 if segment.sport == first_port and segment.src == first_src else 0
        # One int: the sender, SYN/FIN, the sequence number, then the length (data alone):
        # under 2**62 for any real segment, so that compiled it stays unboxed.
        key = segment.seq << 3 | control << 1 | sender
        if not control:
            key |= length << 35
        before = latest.get(key, -1)
        if before >= 0:
            earlier[index] = before
        latest[key] = index
    return earlier


def numbered_resends(segments: list[Segment], earlier: dict[int, int]) -> dict[int, tuple[int, float]]:
    """Frame of the n-th resend of a segment -> (n, when the copy before it was sent): what
    the ladder draws dashed, with the interval a reader wants beside it."""
    numbers: dict[int, int] = {}  # index -> n
    resends: dict[int, tuple[int, float]] = {}
    for index, before in earlier.items():  # in index order: a copy's predecessor comes first
        number = numbers.get(before, 0) + 1
        numbers[index] = number
        resends[segments[index].frame] = (number, segments[before].time)
    return resends
