"""A connection attempt held by the tracker in a few hundred bytes: its SYN and its SYN/ACK
packed into one bytes record.

A SYN flood or a scan leaves hundreds of thousands of attempts open at once, each until its
timer gives it up (connections.py: 5 s). Held as Segment objects with the tracker's full
bookkeeping, an attempt cost about 1 KB; packed, about 450 bytes, which keeps a flood of
50,000 attempts a second under 200 MB. The tracker keeps an attempt packed while it is
nothing but a SYN and, from the other end, one SYN/ACK; any other segment unpacks it into
the full bookkeeping, which then takes it as if it had never been packed (the segments are
rebuilt field for field: tests/test_held_attempt.py).
"""

from __future__ import annotations

import struct
from typing import Final

from analyzer.decode.segment import Segment, TcpOptions

# frame, time, seq, ack, sack_start, sack_end (UNSEEN is -1: signed), window, payload_len,
# ip_id, checksum, ttl, sport, dport, flags, family, payload_cut.
_RECORD: Final = struct.Struct("<QdqqqqiiiiiHHHb?")
RECORD_SIZE: Final = _RECORD.size


def can_pack(segment: Segment) -> bool:
    """Whether every field of `segment` fits a record: no tunnel, no kept payload."""
    return not segment.tunnel and not segment.payload


class HeldAttempt:
    """The SYN (from end "a") and, once it comes, the SYN/ACK (from "b") of one attempt.
    `key` is the tracker's 4-tuple key (its two addresses are the segments'), and
    `first_index` the connection's id."""

    def __init__(self, key: tuple[str, int, str, int], first_index: int, syn: Segment) -> None:
        self.key = key
        self.first_index = first_index
        self.a_is_low = syn.src == key[0] and syn.sport == key[1]
        self.data = _pack(syn)
        self.options_a = syn.options
        self.options_b: TcpOptions | None = None
        self.last_time = syn.time
        self.syn_gap = 0.0  # between its two segments, both SYNs: the tracker's syn_gap

    def add_answer(self, synack: Segment) -> None:
        self.data = self.data + _pack(synack)
        self.options_b = synack.options
        self.syn_gap = synack.time - self.last_time
        self.last_time = synack.time

    @property
    def answered(self) -> bool:
        """Whether its SYN/ACK has come (a second record)."""
        return len(self.data) > RECORD_SIZE

    def segments(self) -> list[Segment]:
        """The held segments, rebuilt."""
        key = self.key
        low, high = key[0], key[2]
        a, b = (low, high) if self.a_is_low else (high, low)
        held = [_unpack(self.data, 0, a, b, self.options_a)]
        if self.answered:
            held.append(_unpack(self.data, RECORD_SIZE, b, a, self.options_b))
        return held

    def release(self) -> None:
        """Let the record go: the tracker's timer wheel may name this attempt a while yet."""
        self.data = b""
        self.options_a = self.options_b = None


def _pack(segment: Segment) -> bytes:
    return _RECORD.pack(
        segment.frame,
        segment.time,
        segment.seq,
        segment.ack,
        segment.sack_start,
        segment.sack_end,
        segment.window,
        segment.payload_len,
        segment.ip_id,
        segment.checksum,
        segment.ttl,
        segment.sport,
        segment.dport,
        segment.flags,
        segment.family,
        segment.payload_cut,
    )


def _unpack(data: bytes, at: int, src: str, dst: str, options: TcpOptions | None) -> Segment:
    (
        frame,
        time,
        seq,
        ack,
        sack_start,
        sack_end,
        window,
        payload_len,
        ip_id,
        checksum,
        ttl,
        sport,
        dport,
        flags,
        family,
        payload_cut,
    ) = _RECORD.unpack_from(data, at)
    return Segment(
        frame,
        time,
        family,
        src,
        sport,
        dst,
        dport,
        flags,
        seq,
        ack,
        window,
        payload_len,
        options,
        "",
        ip_id,
        checksum,
        ttl,
        b"",
        payload_cut,
        sack_start,
        sack_end,
    )
